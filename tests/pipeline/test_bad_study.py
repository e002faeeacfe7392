"""Bad study files, bad command lines and folders the study may not write: each exits 2
with one sentence naming the key or path, no traceback, and not one file changed,
inside the project or out. Then the faults: a concurrent run, temporary folders left
by a killed run, a kill mid-run, a full disk and a refused write."""

from __future__ import annotations

import fcntl
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from small_study import make_study  # tests/pipeline/small_study.py

from evaluation.pipeline import cli
from evaluation.pipeline.folders import KEY_FILE, LOCK_FILE, MARKER

ROOT = Path(__file__).resolve().parents[2]


def tree(*folders: Path) -> dict[str, str]:
    """sha256 of every file under ``folders`` (and the names of empty folders)."""
    state = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                state[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
            elif path.is_dir() and not any(path.iterdir()):
                state[str(path)] = "empty folder"
    return state


@pytest.fixture
def project(tmp_path, default_data):
    """A small study in ``tmp_path/project`` and a folder of the user's beside it."""
    root = tmp_path / "project"
    root.mkdir()
    make_study(root, default_data)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.docx").write_bytes(b"four years of work")
    return root


def set_key(project: Path, section: str, key: str, value: str) -> None:
    """Add ``key: value`` to the one-line mapping ``section: {...}`` of study.yml."""
    study = project / "study.yml"
    lines = study.read_text().splitlines()
    for i, line in enumerate(lines):
        if line.startswith(f"{section}: {{"):
            lines[i] = line[:-1] + f", {key}: {value}}}"
            break
    else:
        lines.insert(1, f"{section}: {{{key}: {value}}}")
    study.write_text("\n".join(lines) + "\n")


def replace_text(project: Path, old: str, new: str) -> None:
    study = project / "study.yml"
    text = study.read_text()
    assert old in text, old
    study.write_text(text.replace(old, new))


def user_folder(project: Path) -> Path:
    return project.parent / "mine"


def home_like(project: Path) -> str:
    return str(Path.home())


# (id, change to the project, extra CLI arguments, words the message must contain)
CASES = [
    ("output-is-project", lambda p: set_key(p, "report", "output_dir", "."), [], ["report.output_dir", "project folder"]),
    ("output-is-parent", lambda p: set_key(p, "report", "output_dir", ".."), [], ["report.output_dir", "project folder"]),
    ("output-is-root", lambda p: set_key(p, "report", "output_dir", "/"), [], ["report.output_dir", "root folder"]),
    ("output-is-home", lambda p: set_key(p, "report", "output_dir", home_like(p)), [], ["report.output_dir", "home folder"]),
    ("output-is-etc", lambda p: set_key(p, "report", "output_dir", "/etc"), [], ["report.output_dir", "outside the project"]),
    ("output-is-etc-allowed", lambda p: set_key(p, "report", "output_dir", "/etc"), ["--allow-outside"],
     ["report.output_dir", "not a report the study wrote"]),
    ("output-is-user-folder", lambda p: set_key(p, "report", "output_dir", str(user_folder(p))), [],
     ["report.output_dir", "outside the project"]),
    ("output-is-user-folder-allowed", lambda p: set_key(p, "report", "output_dir", str(user_folder(p))),
     ["--allow-outside"], ["report.output_dir", "not a report the study wrote"]),
    ("output-is-folder-with-files", lambda p: ((p / "notes").mkdir(), (p / "notes" / "a.txt").write_text("mine"),
                                              set_key(p, "report", "output_dir", "notes")), [],
     ["report.output_dir", "not a report the study wrote"]),
    ("output-is-notebooks", lambda p: set_key(p, "report", "output_dir", "notebooks"), [], ["notebooks' folder"]),
    ("output-is-report-source", lambda p: set_key(p, "report", "output_dir", "reports"), [], ["report's source folder"]),
    ("output-is-data", lambda p: set_key(p, "report", "output_dir", str(_data_dir(p))), ["--allow-outside"],
     ["report.output_dir", "data folder"]),
    ("output-is-a-file", lambda p: ((p / "out.txt").write_text("mine"), set_key(p, "report", "output_dir", "out.txt")), [],
     ["report.output_dir", "is a file"]),
    ("output-parent-is-a-file", lambda p: ((p / "out.txt").write_text("mine"),
                                          set_key(p, "report", "output_dir", "out.txt/report")), [],
     ["report.output_dir", "is a file"]),
    ("output-inside-build", lambda p: set_key(p, "report", "output_dir", "build/report"), [], ["overlap"]),
    ("build-is-project", lambda p: set_key(p, "execution", "build_dir", "."), [], ["execution.build_dir", "project folder"]),
    ("build-is-root", lambda p: set_key(p, "execution", "build_dir", "/"), [], ["execution.build_dir", "root folder"]),
    ("build-is-outside", lambda p: set_key(p, "execution", "build_dir", str(p.parent / "elsewhere")), [],
     ["execution.build_dir", "outside the project", "--allow-outside"]),
    ("build-is-user-folder-allowed", lambda p: set_key(p, "execution", "build_dir", str(user_folder(p))),
     ["--allow-outside"], ["execution.build_dir", "not made by the study", "thesis.docx"]),
    ("build-is-a-file", lambda p: ((p / "build").write_text("mine"),), [], ["execution.build_dir", "is a file"]),
    ("build-has-user-files", lambda p: ((p / "build").mkdir(), (p / "build" / "notes.txt").write_text("mine")), [],
     ["execution.build_dir", "not made by the study", "notes.txt"]),
    ("synthetic-data-outside", lambda p: replace_text(p, f"data: {{dir: {_data_dir(p)}}}",
                                                      f"data: {{dir: {p.parent / 'generated'}, generate_synthetic: true}}"),
     [], ["data.dir", "outside the project"]),
    ("jobs-negative", None, ["--jobs", "-1"], ["--jobs", "-1 is not between 1 and 256"]),
    ("jobs-zero", None, ["--jobs", "0"], ["--jobs", "0 is not between 1 and 256"]),
    ("jobs-huge", None, ["--jobs", "100000"], ["--jobs", "not between 1 and 256"]),
    ("jobs-word", None, ["--jobs", "two"], ["--jobs", "'two' is not a whole number"]),
    ("jobs-in-yaml-zero", lambda p: set_key(p, "execution", "jobs", "0"), [], ["execution.jobs", "greater than or equal to 1"]),
    ("yaml-bomb", lambda p: replace_text(p, "title: Small", 'title: Small\nx: &a ["lol", "lol"]\ny: &b [*a, *a, *a]'), [],
     ["anchors and aliases", "line 2"]),
    ("yaml-bomb-in-parameter", lambda p: replace_text(p, "parameters: {factor: 2}", "parameters: {factor: &f 2, other: *f}"),
     [], ["anchors and aliases"]),
    ("duplicate-top-key", lambda p: replace_text(p, "title: Small", "title: Small\ntitle: Other"), [],
     ["key 'title' appears twice", "line 2"]),
    ("duplicate-nested-key", lambda p: replace_text(p, "kernel: poli-eval,", "kernel: poli-eval, kernel: python3,"), [],
     ["key 'kernel' appears twice"]),
    ("python-tag", lambda p: replace_text(p, "title: Small", "title: !!python/object/apply:os.system ['true']"), [],
     ["not valid YAML"]),
    ("non-utf8", lambda p: (p / "study.yml").write_bytes((p / "study.yml").read_bytes().replace(b"Small", b"Sm\xe4ll")), [],
     ["line 1 is not UTF-8", "0xe4"]),
    ("too-large", lambda p: (p / "study.yml").write_text((p / "study.yml").read_text() + "#" * 1_100_000 + "\n"), [],
     ["more than the 1,000,000"]),
    ("empty-file", lambda p: (p / "study.yml").write_text(""), [], ["expected a mapping at the top level"]),
    ("top-level-list", lambda p: (p / "study.yml").write_text("- a\n- b\n"), [], ["expected a mapping", "list"]),
    ("unknown-key", lambda p: replace_text(p, "title: Small", "title: Small\ncolour: blue"), [], ["colour", "Extra inputs"]),
    ("wrong-type", lambda p: set_key(p, "execution", "timeout_seconds_", "1") or replace_text(
        p, "timeout_seconds: 120", "timeout_seconds: ten"), [], ["execution.timeout_seconds"]),
    ("reserved-parameter", lambda p: replace_text(p, "parameters: {factor: 2}", "parameters: {factor: 2, output_dir: x}"), [],
     ["set by the runner"]),
    ("unknown-parameter", lambda p: replace_text(p, "parameters: {factor: 2}", "parameters: {factr: 2}"), [],
     ["unknown parameter 'factr'"]),
    ("parameter-type", lambda p: replace_text(p, "parameters: {factor: 2}", "parameters: {factor: two}"), [],
     ["parameter 'factor' should be int"]),
    ("notebook-missing", lambda p: (p / "notebooks" / "ok.ipynb").unlink(), [], ["ok.ipynb does not exist"]),
    ("notebook-is-folder", lambda p: ((p / "notebooks" / "ok.ipynb").unlink(), (p / "notebooks" / "ok.ipynb").mkdir()), [],
     ["ok.ipynb is a folder"]),
    ("notebook-not-json", lambda p: (p / "notebooks" / "ok.ipynb").write_text("print('hello')\n"), [],
     ["cannot be read as a Jupyter notebook"]),
    ("notebook-json-not-notebook", lambda p: (p / "notebooks" / "ok.ipynb").write_text('{"cells": 3}'), [],
     ["cannot be read as a Jupyter notebook"]),
    ("unknown-kernel", lambda p: replace_text(p, "kernel: poli-eval", "kernel: no-such-kernel"), [],
     ["execution.kernel", "'no-such-kernel' is installed"]),
    ("report-source-missing", lambda p: (p / "reports" / "report.qmd").unlink(), [], ["report.source", "is not a file"]),
    ("report-source-folder", lambda p: ((p / "reports" / "report.qmd").unlink(), (p / "reports" / "report.qmd").mkdir()), [],
     ["report.source", "is not a file"]),
]


def run_cli(args: list[str]) -> int:
    """``python -m evaluation ARGS`` in process: its exit code (argparse exits itself)."""
    try:
        return cli.main(args)
    except SystemExit as exit_:
        return exit_.code


def _data_dir(project: Path) -> Path:
    text = (project / "study.yml").read_text(errors="replace")
    return Path(text.split("data: {dir: ", 1)[1].split("}", 1)[0].split(",")[0])


@pytest.mark.parametrize("change, extra, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_study_exits_2_and_touches_nothing(project, change, extra, words, capsys):
    if change is not None:
        change(project)
    data = _data_dir(project) if "data: {dir: " in (project / "study.yml").read_text(errors="replace") else None
    watched = [project.parent] + ([data] if data and not data.is_relative_to(project.parent) else [])
    before = tree(*watched)
    code = run_cli(["study", str(project / "study.yml"), *extra])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    for word in words:
        assert word in err, (word, err)
    assert sum("error:" in line for line in err.splitlines()) == 1, err  # one sentence (argparse adds its usage)
    assert tree(*watched) == before, "a refused study must not write anything"


def test_study_file_is_a_folder_or_missing(tmp_path, capsys):
    (tmp_path / "study.yml").mkdir()
    assert cli.main(["study", str(tmp_path / "study.yml")]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert cli.main(["study", str(tmp_path / "nothing.yml")]) == 2
    assert "study file not found" in capsys.readouterr().err


def test_generate_refuses_a_negative_seed(tmp_path, capsys):
    assert run_cli(["generate", str(tmp_path / "d"), "--seed", "-1"]) == 2
    assert "not between 0" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


# ---------------------------------------------------------------- faults


def test_second_study_on_the_same_build_folder_stops_with_a_clear_message(project, capsys):
    build = project / "build"
    build.mkdir()
    (build / MARKER).write_text("")
    with open(build / LOCK_FILE, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        code = cli.main(["study", str(project / "study.yml")])
    err = capsys.readouterr().err
    assert code == 2 and "another study is running" in err and str(build) in err
    assert not (project / "reports" / "_output").exists()


def test_temporary_folders_of_a_killed_run_are_removed_and_the_study_finishes(project, capsys):
    build = project / "build"
    (build / "runs" / ".count_double-abc123").mkdir(parents=True)
    (build / "runs" / ".count_double-abc123" / "half.ipynb").write_text("{")
    (build / ".report-xyz").mkdir()
    assert cli.main(["study", str(project / "study.yml")]) == 0
    assert "left by an interrupted run" in capsys.readouterr().out
    assert not list((build / "runs").glob(".*")) and not list(build.glob(".report-*"))
    assert (project / "reports" / "_output" / "report.html").is_file()
    assert (build / MARKER).is_file()


def test_a_study_killed_mid_run_leaves_no_half_written_output_and_resumes(project):
    """SIGKILL while the notebook runs: no report folder, only a temporary run folder,
    which the next run removes before finishing."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "evaluation", "study", str(project / "study.yml")], cwd=project,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    runs = project / "build" / "runs"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (runs.is_dir() and list(runs.glob(".count_double-*"))):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert list(runs.glob(".count_double-*")), "the run should have been inside its temporary folder"
    assert not (runs / "count_double").exists() and not (project / "reports" / "_output").exists()
    done = subprocess.run([sys.executable, "-m", "evaluation", "study", str(project / "study.yml")], cwd=project, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert not list(runs.glob(".*")) and (runs / "count_double" / KEY_FILE).is_file()


@pytest.mark.parametrize("fault, words", [
    (OSError(28, "No space left on device"), "No space left on device"),
    (PermissionError(13, "Permission denied"), "Permission denied"),
])
def test_a_full_disk_or_a_refused_write_exits_2_and_keeps_the_last_report(project, monkeypatch, capsys, fault, words):
    assert cli.main(["study", str(project / "study.yml")]) == 0
    out = project / "reports" / "_output"
    before = tree(out)
    make_study(project, _data_dir(project), factor=3)  # a change, so the report is rebuilt

    def refuse(*args, **kwargs):
        raise fault

    monkeypatch.setattr("evaluation.pipeline.folders.shutil.move", refuse)
    code = cli.main(["study", str(project / "study.yml")])
    err = capsys.readouterr().err
    assert code == 2 and words in err and "Traceback" not in err
    assert tree(out) == before, "the last good report stays as it was"
    assert not list((project / "build").glob(".report-*")), "no staging folder left behind"


def test_replace_dir_refuses_a_foreign_folder_and_a_kill_between_its_moves_is_undone(tmp_path):
    from evaluation.pipeline.folders import FolderError, replace_dir, restore_interrupted

    new, target = tmp_path / "new", tmp_path / "report"
    new.mkdir()
    (new / KEY_FILE).write_text("2")
    target.mkdir()
    (target / "mine.txt").write_text("mine")
    with pytest.raises(FolderError, match="not written by the study"):
        replace_dir(new, target)
    assert (target / "mine.txt").read_text() == "mine" and new.is_dir()
    (target / "mine.txt").unlink()
    (target / KEY_FILE).write_text("1")
    target.rename(tmp_path / ".report.old")  # killed after the first move, before the second
    assert restore_interrupted(target) and (target / KEY_FILE).read_text() == "1"
    assert not restore_interrupted(target)
    replace_dir(new, target)
    assert (target / KEY_FILE).read_text() == "2" and not (tmp_path / ".report.old").exists()
