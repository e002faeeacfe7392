"""Notebook runs: every (notebook, parameter set) of the study through papermill.

Each run executes in a temporary folder under ``<build>/runs/`` and is moved into
place only when the notebook finished, so a failed run leaves nothing behind but a
copy of the failed notebook in ``<build>/failed/`` for inspection. A run is skipped
when its cache key (notebook bytes, parameters, data hash, library code, kernel) is
unchanged.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from evaluation.pipeline import kernels
from evaluation.pipeline.config import NotebookConfig, ParameterSet, StudyConfig, run_id
from evaluation.pipeline.folders import KEY_FILE, data_cache_dir, replace_dir

PACKAGE_DIR = Path(__file__).resolve().parents[1]


class RunFailed(RuntimeError):
    """A notebook failed; the message names notebook, parameter set, cell and error."""


@dataclass(frozen=True)
class Run:
    id: str
    notebook: NotebookConfig
    parameter_set: ParameterSet
    folder: Path
    key: str

    @property
    def results(self) -> dict:
        return json.loads((self.folder / "results.json").read_text(encoding="utf-8"))


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def code_fingerprint() -> str:
    """sha256 over the library's Python sources, so a code change invalidates the cache."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def run_key(notebook: NotebookConfig, parameter_set: ParameterSet, data_hash: str, code: str, kernel: str) -> str:
    payload = {
        "notebook": sha256_bytes(notebook.path.read_bytes()),
        "parameters": parameter_set.parameters,
        "data": data_hash,
        "code": code,
        "kernel": kernel,
    }
    return sha256_bytes(json.dumps(payload, sort_keys=True).encode())


def plan_runs(config: StudyConfig, data_hash: str) -> list[Run]:
    code = code_fingerprint()
    runs_dir = config.execution.build_dir / "runs"
    return [
        Run(
            id=run_id(nb, ps),
            notebook=nb,
            parameter_set=ps,
            folder=runs_dir / run_id(nb, ps),
            key=run_key(nb, ps, data_hash, code, config.execution.kernel),
        )
        for nb, ps in config.runs()
    ]


def is_cached(run: Run) -> bool:
    key_file = run.folder / KEY_FILE
    return key_file.exists() and key_file.read_text() == run.key and (run.folder / "results.json").exists()


def execute(run: Run, config: StudyConfig) -> None:
    """Execute one notebook with papermill into a temporary folder, then move it into place."""
    from papermill.exceptions import PapermillExecutionError

    run.folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{run.id}-", dir=run.folder.parent))
    executed = work / run.notebook.path.name
    parameters = {
        **run.parameter_set.parameters,
        "data_dir": str(config.data.dir),
        "output_dir": str(work),
        "data_cache": str(data_cache_dir(config)),
    }
    try:
        _execute_notebook(run, executed, parameters, config)
        if not (work / "results.json").exists():
            raise RunFailed(
                f"notebook {_display(run.notebook.path)}, parameter set {run.parameter_set.name!r}: "
                f"finished without writing results.json"
            )
    except PapermillExecutionError as err:
        failed = _keep_failed(run, executed, config)
        raise RunFailed(
            f"notebook {_display(run.notebook.path)}, parameter set {run.parameter_set.name!r} "
            f"failed in {_cell_position(run.notebook.path, err.source)}: {err.ename}: {err.evalue}\n"
            f"The executed notebook is kept at {failed}"
        ) from None
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    else:
        (work / KEY_FILE).write_text(run.key)
        replace_dir(work, run.folder)
    finally:
        if work.exists() and work != run.folder:
            shutil.rmtree(work, ignore_errors=True)


KERNEL_START_ATTEMPTS = 2
"""A kernel that fails to start is started once more. jupyter_client picks a kernel's ports by
binding free ones and releasing them, so two kernels starting at once (on two Dask workers, or
beside another program) can take the same port: the kernel then dies with ``ZMQError: Address
already in use``, which reaches us as ``RuntimeError: Kernel died before replying to kernel_info``."""


def _execute_notebook(run: Run, executed: Path, parameters: dict, config: StudyConfig) -> None:
    """papermill's execution of one run. A ``RuntimeError`` raised before the kernel is ready
    (nbclient's ``on_notebook_start`` hook, called before any cell runs) is a failed kernel start:
    retried up to ``KERNEL_START_ATTEMPTS`` in all, with a line on stderr; after that a ``RunFailed``
    naming the run. Any error once the kernel is ready is not retried."""
    import papermill

    for attempt in range(1, KERNEL_START_ATTEMPTS + 1):
        ready: list[bool] = []
        try:
            papermill.execute_notebook(
                str(run.notebook.path),
                str(executed),
                parameters=parameters,
                kernel_name=config.execution.kernel,
                execution_timeout=config.execution.timeout_seconds,
                cwd=str(run.notebook.path.parent),
                progress_bar=False,
                log_output=False,
                on_notebook_start=lambda **_: ready.append(True),
                kernel_manager_class=kernels.ForkedKernelManager,
            )
            return
        except RuntimeError as err:
            if ready:
                raise
            if attempt == KERNEL_START_ATTEMPTS:
                raise RunFailed(
                    f"notebook {_display(run.notebook.path)}, parameter set {run.parameter_set.name!r}: "
                    f"the kernel failed to start {attempt} times, last with {type(err).__name__}: {err}"
                ) from None
            print(f"Run {run.id}: the kernel failed to start ({type(err).__name__}: {err}); "
                  f"starting it again (attempt {attempt + 1} of {KERNEL_START_ATTEMPTS}).", file=sys.stderr, flush=True)


def _cell_position(notebook: Path, source: str) -> str:
    """Where a failing cell sits in the source notebook (1-based, as Jupyter shows it)."""
    import nbformat

    cells = nbformat.read(notebook, as_version=4).cells
    first_line = source.strip().splitlines()[0] if source.strip() else ""
    for number, cell in enumerate(cells, start=1):
        if cell.cell_type == "code" and cell.source.strip() == source.strip():
            return f"cell {number} of {len(cells)} (`{first_line[:60]}`)"
    return f"the cell starting `{first_line[:60]}`"


def _keep_failed(run: Run, executed: Path, config: StudyConfig) -> Path:
    failed_dir = config.execution.build_dir / "failed"
    failed_dir.mkdir(parents=True, exist_ok=True)
    target = failed_dir / f"{run.id}.ipynb"
    if executed.exists():
        shutil.copyfile(executed, target)
    return target


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@contextlib.contextmanager
def workers(runs: int, jobs: int, scheduler: str | None, kernel: str):
    """Where ``runs`` runs execute: ``None`` (this process) when there are none, or one at a
    time (``jobs == 1`` or a single run) and no scheduler is given; else a Dask ``Client`` of a
    ``LocalCluster`` of ``min(jobs, runs)`` single-threaded worker processes, or of the
    scheduler at ``scheduler`` (whose workers must see this folder).

    Entered before the data are validated: each process that will run notebooks starts its
    kernel zygote at once (:func:`evaluation.pipeline.kernels.warm`), which imports the library
    on the other core while this one validates."""
    if runs == 0:
        yield None
        return
    if min(jobs, runs) == 1 and scheduler is None:
        kernels.warm(kernel)
        yield None
        return
    import dask
    from dask.distributed import Client, LocalCluster

    with contextlib.ExitStack() as stack:
        if scheduler is None:
            # Workers that may have children, so that they can fork kernels (evaluation.pipeline.kernels),
            # and are given a run only when they are free: a run queued behind a long one on a busy
            # worker waits there until work stealing moves it, about a second later.
            stack.enter_context(dask.config.set({"distributed.worker.daemon": False,
                                                 "distributed.scheduler.worker-saturation": 1.0}))
            scheduler = stack.enter_context(
                LocalCluster(n_workers=min(jobs, runs), threads_per_worker=1, processes=True, dashboard_address=None)
            )
        client = stack.enter_context(Client(scheduler))
        client.run(kernels.warm, kernel)  # returns at once: the zygotes import in their own processes
        yield client


def longest_first(todo: list[Run]) -> list[Run]:
    """The runs in the order the workers take them: first those never executed (their length is
    unknown), in grid order, then the others longest first by their last execution's duration
    (papermill's record in the executed notebook), so that a long run does not start last and
    keep one worker busy while the others idle. The order changes no result (:func:`execute_all`)."""
    durations = {run.id: _last_duration(run) for run in todo}
    return sorted(todo, key=lambda run: (durations[run.id] is not None, -(durations[run.id] or 0.0)))


def _last_duration(run: Run) -> float | None:
    try:
        notebook = json.loads((run.folder / run.notebook.path.name).read_text(encoding="utf-8"))
        return float(notebook["metadata"]["papermill"]["duration"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def execute_all(todo: list[Run], config: StudyConfig, client) -> None:
    """Execute the runs: in this process when ``client`` is ``None``, else as tasks on the
    Dask ``client`` (:func:`workers`).

    Every run that can finish does; then one ``RunFailed`` names every failed run, in
    grid order, each with its notebook, parameter set, cell and error. Results do not
    depend on the order runs finish in: each run writes its own folder and the report
    reads them in grid order.
    """
    bar = tqdm(total=len(todo), desc="notebooks", unit="run", disable=not todo, file=sys.stderr)
    failures: dict[str, BaseException] = {}
    with bar:
        if client is None:
            for run in todo:
                bar.set_postfix_str(run.id)
                try:
                    execute(run, config)
                except RunFailed as err:
                    failures[run.id] = err
                bar.update()
        elif todo:
            from dask.distributed import as_completed

            futures = {client.submit(execute, run, config, key=f"run-{run.id}-{run.key[:12]}", pure=False): run
                       for run in longest_first(todo)}
            for future in as_completed(futures):
                run = futures[future]
                if future.status == "error":
                    failures[run.id] = future.exception()
                bar.set_postfix_str(run.id)
                bar.update()
    failed = [failures[run.id] for run in todo if run.id in failures]
    if len(failed) == 1:
        raise failed[0]
    if failed:
        raise RunFailed(f"{len(failed)} of {len(todo)} notebook runs failed:\n"
                        + "\n".join(f"{number}. {err}" for number, err in enumerate(failed, start=1)))
