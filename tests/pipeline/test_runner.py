"""The runner end to end on a small study: execution, cache hits, a failing notebook,
and bad data, each leaving the last good report untouched."""

from __future__ import annotations

import json

import pytest
from small_study import make_study, snapshot  # tests/pipeline/small_study.py

from evaluation.data.cache import contract_fingerprint, entry_dir
from evaluation.data.contract import load_study_data
from evaluation.pipeline import cli
from evaluation.pipeline.runner import run_study
from evaluation.pipeline.runs import RunFailed


def test_runs_caches_and_reports(tmp_path, default_data, capsys):
    study = make_study(tmp_path, default_data)
    out = run_study(study)
    results = json.loads((out / "results.json").read_text())
    n_firms = results["runs"]["count_double"]["headline"]["firms"]
    rows_in_firms_csv = len((default_data / "firms.csv").read_text().splitlines()) - 1
    assert n_firms == 2 * rows_in_firms_csv  # the parameter factor=2 reached the notebook
    html = (out / "report.html").read_text()
    assert f"Firms counted twice: {n_firms:,}." in html
    assert "Synthetic data." in html
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF")
    executed = tmp_path / "build" / "runs" / "count_double" / "ok.ipynb"
    assert executed.exists()
    # The runner validated the data once and cached them; the notebook read the cache.
    assert "validated here: False" in executed.read_text()
    assert [p.name for p in (tmp_path / "build" / "data_cache").iterdir()] == [
        entry_dir("", load_study_data(default_data).data_hash, contract_fingerprint()).name]
    capsys.readouterr()

    # An unchanged re-run executes nothing and leaves the report as it was.
    before = snapshot(out)
    run_study(study)
    said = capsys.readouterr().out
    assert "1 unchanged (cached), 0 to execute" in said
    assert "Report unchanged" in said
    assert snapshot(out) == before

    # A changed parameter executes that run again and re-renders.
    make_study(tmp_path, default_data, factor=3)
    run_study(study)
    said = capsys.readouterr().out
    assert "0 unchanged (cached), 1 to execute" in said
    results = json.loads((out / "results.json").read_text())
    assert results["runs"]["count_double"]["headline"]["firms"] == 3 * rows_in_firms_csv


def test_a_failing_notebook_names_notebook_parameters_cell_and_error(tmp_path, default_data, capsys):
    study = make_study(tmp_path, default_data)
    out = run_study(study)
    before = snapshot(out)

    make_study(tmp_path, default_data, failing=True)
    with pytest.raises(RunFailed) as err:
        run_study(study, force=True, jobs=2)  # two runs on a Dask LocalCluster: the error crosses processes
    message = str(err.value)
    assert "fail.ipynb" in message
    assert "'always'" in message
    assert "cell 3 of 3 (`raise ValueError" in message
    assert "ValueError: boom: the estimate is undefined" in message
    assert snapshot(out) == before, "the last good report must stay untouched"
    assert not (tmp_path / "build" / "runs" / "broken_always").exists(), "no half-written run folder"
    assert (tmp_path / "build" / "failed" / "broken_always.ipynb").exists()

    # Through the command line: one message on stderr and a non-zero exit.
    capsys.readouterr()
    assert cli.main(["study", str(study)]) == 4
    assert "boom" in capsys.readouterr().err


def test_every_failing_run_is_named(tmp_path, default_data):
    study = make_study(tmp_path, default_data, failing=2)
    with pytest.raises(RunFailed) as err:
        run_study(study, jobs=1)
    message = str(err.value)
    assert message.startswith("2 of 3 notebook runs failed")
    assert "'always'" in message and "'again'" in message
    assert message.count("ValueError: boom") == 2


def test_bad_data_stop_the_run_before_any_notebook(tmp_path, default_data, data_copy, capsys):
    study = make_study(tmp_path, default_data)
    out = run_study(study)
    before = snapshot(out)

    panel = data_copy / "panel.csv"
    lines = panel.read_text().splitlines(keepends=True)
    lines.insert(5, lines[4])  # duplicate one firm-year
    panel.write_text("".join(lines))
    make_study(tmp_path, data_copy)
    capsys.readouterr()
    assert cli.main(["study", str(study)]) == 3
    err = capsys.readouterr().err
    assert "panel.csv" in err and "firm_id" in err
    assert snapshot(out) == before


def test_runs_on_an_existing_dask_scheduler(tmp_path, default_data):
    from dask.distributed import LocalCluster

    study = make_study(tmp_path, default_data)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        out = run_study(study, scheduler=cluster.scheduler_address)
    results = json.loads((out / "results.json").read_text())
    rows_in_firms_csv = len((default_data / "firms.csv").read_text().splitlines()) - 1
    assert results["runs"]["count_double"]["headline"]["firms"] == 2 * rows_in_firms_csv
    assert (tmp_path / "build" / "runs" / "count_double" / "ok.ipynb").exists()


def test_a_kernel_that_fails_to_start_is_started_again(tmp_path, default_data, monkeypatch, capsys):
    """The first kernel is given a control port already in use (what jupyter_client's port race
    does to two kernels starting at once): it dies with ZMQError: Address already in use before
    any cell runs; the run starts a second kernel, says so, and succeeds."""
    import socket

    import nbclient

    study = make_study(tmp_path, default_data)
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    created = []
    original = nbclient.NotebookClient.create_kernel_manager

    def first_on_a_taken_port(self):
        km = original(self)
        if not created:
            km.cache_ports = False
            km.ip = "127.0.0.1"
            km.control_port = taken.getsockname()[1]
        created.append(km)
        return km

    monkeypatch.setattr(nbclient.NotebookClient, "create_kernel_manager", first_on_a_taken_port)
    try:
        out = run_study(study, jobs=1)
    finally:
        taken.close()
    assert len(created) == 2
    said = capsys.readouterr().err
    assert "Run count_double: the kernel failed to start (RuntimeError: Kernel died before replying to kernel_info)" in said
    assert "starting it again (attempt 2 of 2)" in said
    results = json.loads((out / "results.json").read_text())
    rows_in_firms_csv = len((default_data / "firms.csv").read_text().splitlines()) - 1
    assert results["runs"]["count_double"]["headline"]["firms"] == 2 * rows_in_firms_csv


def test_only_a_failed_kernel_start_is_retried(tmp_path, default_data, monkeypatch):
    """Two failed starts give a RunFailed naming the run; an error once the kernel is ready
    (here raised right after nbclient's on_notebook_start hook) is not retried."""
    import papermill

    study = make_study(tmp_path, default_data)
    calls = []

    def never_starts(*args, **kwargs):
        calls.append(kwargs)
        raise RuntimeError("Kernel died before replying to kernel_info")

    monkeypatch.setattr(papermill, "execute_notebook", never_starts)
    with pytest.raises(RunFailed) as err:
        run_study(study, jobs=1)
    assert len(calls) == 2
    assert "ok.ipynb" in str(err.value) and "the kernel failed to start 2 times" in str(err.value)
    assert not (tmp_path / "build" / "runs" / "count_double").exists()

    calls.clear()

    def dies_after_start(*args, **kwargs):
        calls.append(kwargs)
        kwargs["on_notebook_start"](notebook=None)
        raise RuntimeError("Kernel died")

    monkeypatch.setattr(papermill, "execute_notebook", dies_after_start)
    with pytest.raises(RuntimeError, match="Kernel died$"):
        run_study(study, jobs=1)
    assert len(calls) == 1


def test_runs_go_to_the_workers_unknown_first_then_longest_first(tmp_path):
    """Runs never executed keep grid order at the front; the others follow by their last
    duration (papermill's record in the executed notebook), longest first."""
    from types import SimpleNamespace

    from evaluation.pipeline.runs import longest_first

    def run(name, duration):
        folder = tmp_path / name
        if duration is not None:
            folder.mkdir()
            (folder / "nb.ipynb").write_text(json.dumps({"metadata": {"papermill": {"duration": duration}}}))
        return SimpleNamespace(id=name, folder=folder, notebook=SimpleNamespace(path=tmp_path / "nb.ipynb"))

    grid = [run("short", 1.5), run("new_a", None), run("long", 9.0), run("new_b", None), run("middle", 4.0)]
    assert [r.id for r in longest_first(grid)] == ["new_a", "new_b", "long", "middle", "short"]
