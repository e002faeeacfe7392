"""The folders the study writes, and the rules that keep it out of everyone else's.

The study writes only into folders it owns: the build folder (``execution.build_dir``)
and the report folder (``report.output_dir``) of study.yml, and the synthetic data
folder it generates. A folder is the study's when it carries :data:`MARKER` (written
when the study created it) or, for a finished run or report, :data:`KEY_FILE`; a missing
or empty folder is claimed. Anything else is refused before a file is touched
(:class:`FolderError`, exit 2), as is a path outside the project folder (the study
file's folder) unless the user passes ``--allow-outside``, and always ``/``, the home
folder, the project folder itself or a folder holding the project's sources.

Finished folders replace old ones in one move (:func:`replace_dir`), one study runs
at a time in a build folder (:func:`study_lock`), and temporary folders a killed run
left behind are removed at the next run (:func:`remove_stale`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from pathlib import Path

from evaluation.pipeline.config import ConfigError, StudyConfig

KEY_FILE = ".cache_key"
"""Written last into a finished run or report folder: the cache key it was made from."""
MARKER = ".poli-evaluation"
"""Written into the build folder when the study creates it: the study may write there."""
LOCK_FILE = ".lock"
"""In the build folder: held (``flock``) by the running study, released when it ends or dies."""
STAGING_PREFIXES = (".report-",)
"""Temporary folders of the report in the build folder; runs use ``runs/.<run id>-*``."""
DATA_CACHE = "data_cache"
"""In the build folder: the validated data of the study (:mod:`evaluation.data.cache`)."""
LEGACY_BUILD_ENTRIES = {"runs", "failed"}
"""A build folder of earlier versions (no marker yet) holds only these."""


class FolderError(ConfigError):
    """A folder of study.yml may not be written: the message names the key and the path."""


def replace_dir(new: Path, target: Path) -> None:
    """Move the finished folder ``new`` to ``target``, replacing any previous one.

    ``target`` must be missing or a finished folder of the study (:data:`KEY_FILE`).
    The previous folder is renamed aside first and deleted only after the move, so at
    no point is ``target`` a mixture of old and new files (a kill between the two moves
    is undone by :func:`restore_interrupted`).
    """
    if target.exists() and not (target / KEY_FILE).is_file():
        raise FolderError(f"{target} exists and was not written by the study; it is left as it is. "
                          "Remove it or choose another folder.")
    restore_interrupted(target)
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    shutil.move(str(new), str(target))
    shutil.rmtree(old, ignore_errors=True)


def restore_interrupted(target: Path) -> bool:
    """Put back the previous ``target`` that :func:`replace_dir` had renamed aside when a
    kill stopped it before the new folder arrived; True if it did."""
    old = target.with_name(f".{target.name}.old")
    if old.is_dir() and not target.exists():
        old.rename(target)
        return True
    return False


def _protected(config: StudyConfig, project: Path) -> dict[Path, str]:
    """Folders the study must never replace or write into wholesale, with what they are."""
    places = {Path("/"): "the root folder", Path.home().resolve(): "your home folder",
              project: "the project folder (where the study file is)",
              config.report.source.parent.resolve(): "the report's source folder",
              config.data.dir.resolve(): "the data folder"}
    for notebook in config.notebooks:
        places.setdefault(notebook.path.parent.resolve(), "the notebooks' folder")
    return places


def check_folders(config: StudyConfig, project: Path, allow_outside: bool = False) -> None:
    """Refuse, before anything is written, every folder of ``config`` the study may not
    write: see the module docstring. ``project`` is the study file's folder."""
    project = project.resolve()
    written = {"execution.build_dir": config.execution.build_dir, "report.output_dir": config.report.output_dir}
    if config.data.generate_synthetic and not config.data.dir.exists():
        written["data.dir"] = config.data.dir
    protected = _protected(config, project)
    for key, path in written.items():
        resolved = path.resolve()
        for place, what in protected.items():
            if key == "data.dir" and what == "the data folder":
                continue
            if resolved == place or resolved in place.parents:
                raise FolderError(f"{key}: {path} is {what} or holds it; the study would overwrite it. "
                                  "Choose a new folder inside the project, e.g. build/ or reports/_output/.")
        if key != "data.dir" and resolved.is_relative_to(config.data.dir.resolve()):
            raise FolderError(f"{key}: {path} lies inside the data folder; choose a folder outside it.")
        if not allow_outside and not resolved.is_relative_to(project):
            raise FolderError(f"{key}: {path} is outside the project folder {project}; to write there, "
                              "run with --allow-outside.")
        blocking = next((p for p in [resolved, *resolved.parents] if p.exists() and not p.is_dir()), None)
        if blocking is not None:
            raise FolderError(f"{key}: {blocking} is a file, not a folder, so {path} cannot be written. "
                              "Move the file or choose another folder.")
    out, build = config.report.output_dir.resolve(), config.execution.build_dir.resolve()
    if out == build or out.is_relative_to(build) or build.is_relative_to(out):
        raise FolderError(f"report.output_dir ({config.report.output_dir}) and execution.build_dir "
                          f"({config.execution.build_dir}) overlap; give them separate folders.")
    out = config.report.output_dir
    if out.is_dir() and any(out.iterdir()) and not (out / KEY_FILE).is_file():
        raise FolderError(f"report.output_dir: {out} exists and is not a report the study wrote (no {KEY_FILE}); "
                          "it is left as it is. Choose another folder or empty it.")
    build = config.execution.build_dir
    if build.is_dir() and not (build / MARKER).is_file():
        foreign = sorted(p.name for p in build.iterdir()
                         if p.name not in LEGACY_BUILD_ENTRIES | {LOCK_FILE} and not p.name.startswith(STAGING_PREFIXES))
        if foreign:
            raise FolderError(f"execution.build_dir: {build} exists and was not made by the study (no {MARKER}; "
                              f"it holds {', '.join(foreign[:3])}{' ...' if len(foreign) > 3 else ''}). "
                              "Choose another folder or empty it.")


@contextlib.contextmanager
def study_lock(build: Path):
    """Claim ``build`` (write :data:`MARKER`) and hold its lock while the study runs.

    A second study on the same build folder stops at once with a :class:`FolderError`
    (exit 2); the lock is the kernel's, so a killed run releases it."""
    build.mkdir(parents=True, exist_ok=True)
    (build / MARKER).write_text("Made by python -m evaluation: the study may replace what is in this folder.\n")
    handle = os.open(build / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderError(f"another study is running in {build} (it holds {build / LOCK_FILE}); "
                              "wait for it to finish, or give this one another execution.build_dir.") from None
        yield
    finally:
        os.close(handle)


def data_cache_dir(config: StudyConfig) -> Path:
    """Where the study caches its validated data; the notebooks' parameter ``data_cache``."""
    return config.execution.build_dir / DATA_CACHE


def remove_stale(build: Path) -> list[Path]:
    """Remove the temporary folders runs and reports killed mid-way left in ``build``
    (call it holding :func:`study_lock`, so none is in use); returns them."""
    stale = [p for p in (build / "runs").glob(".*") if p.is_dir()] if (build / "runs").is_dir() else []
    stale += [p for prefix in STAGING_PREFIXES for p in build.glob(f"{prefix}*") if p.is_dir()]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return stale
