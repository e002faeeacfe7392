"""Study runner: data -> every notebook run (:mod:`evaluation.pipeline.runs`) -> report.

The report is re-rendered only when a run or a report source changed.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from evaluation.data.contract import StudyData, cache_study_data, combined_hash, data_file_digests, load_study_data
from evaluation.pipeline import report
from evaluation.pipeline.config import StudyConfig, check_notebook_parameters, load_config
from evaluation.pipeline.folders import check_folders, data_cache_dir, remove_stale, restore_interrupted, study_lock
from evaluation.pipeline.runs import Run, execute_all, is_cached, plan_runs, workers


def ensure_data(config: StudyConfig, before: dict[str, str]) -> StudyData:
    """Validate and hash the data, and cache the validated frames for the notebooks
    (:mod:`evaluation.data.cache`; call it holding :func:`study_lock`). ``before``: the
    files' digests (:func:`data_file_digests`) taken before."""
    data = load_study_data(config.data.dir)
    if data.sha256 == before:  # the bytes validated (which load_study_data hashes) are the files hashed before
        cache_study_data(data, data_cache_dir(config))
    return data


def generate_if_missing(config: StudyConfig) -> None:
    """Generate the synthetic default data if asked and the folder is missing."""
    if not config.data.dir.exists() and config.data.generate_synthetic:
        from evaluation.data.synthetic import generate

        print(f"Generating synthetic default data into {config.data.dir} (seed {config.data.seed}) ...", flush=True)
        generate(config.data.dir, seed=config.data.seed)


def run_study(config_path: str | Path, force: bool = False, jobs: int | None = None, scheduler: str | None = None,
              allow_outside: bool = False) -> Path:
    """Run the whole study and render the report; returns the report folder.

    ``jobs`` and ``scheduler`` override ``execution.jobs`` and ``execution.scheduler``
    of the study file; ``allow_outside`` lets its folders lie outside the project
    (:mod:`evaluation.pipeline.folders`). Every check runs before a file is written.
    Raises ``ConfigError`` (``FolderError``), ``ContractError`` or ``RunFailed`` with a
    message for the user.
    """
    config = load_config(config_path)
    check_notebook_parameters(config, config_path)
    check_folders(config, Path(config_path).resolve().parent, allow_outside)
    with study_lock(config.execution.build_dir):
        for stale in remove_stale(config.execution.build_dir):
            print(f"Removed {stale}, left by an interrupted run.", flush=True)
        if restore_interrupted(config.report.output_dir):
            print(f"Restored the last report in {config.report.output_dir}, set aside by an interrupted run.", flush=True)
        generate_if_missing(config)
        # The runs to execute follow from the files' hash; the workers start (and import the
        # library for their kernels) while the data are validated.
        digests = data_file_digests(config.data.dir)
        _, planned = _to_execute(config, combined_hash(digests), force)
        with workers(len(planned), jobs or config.execution.jobs, scheduler or config.execution.scheduler,
                     config.execution.kernel) as client:
            data = ensure_data(config, before=digests)
            # The notebooks read the cached frames; the runner needs only the hashes and dataset.json,
            # so it lets its copy of the frames go (about 1 GB at 100,000 firms, for the whole run).
            data = replace(data, firms=data.firms.head(0), applications=data.applications.head(0), panel=data.panel.head(0))
            runs, todo = _to_execute(config, data.data_hash, force)  # again if a file changed since it was hashed
            print(f"{len(runs)} runs in the grid, {len(runs) - len(todo)} unchanged (cached), {len(todo)} to execute.",
                  flush=True)
            execute_all(todo, config, client)
        return report.build(config, data, runs, force=force)


def _to_execute(config: StudyConfig, data_hash: str, force: bool) -> tuple[list[Run], list[Run]]:
    """The grid's runs, and those to execute: all with ``force``, else those not cached."""
    runs = plan_runs(config, data_hash)
    return runs, [r for r in runs if force or not is_cached(r)]
