"""Kernels forked from a zygote (evaluation.pipeline.kernels): which kernels are forked, and
that a forked kernel starts every run from the same state, where and with what Jupyter asks."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import subprocess
import sys

import nbformat
import papermill
import pytest
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.provisioning import LocalProvisioner

from evaluation.pipeline.kernels import ForkedKernelManager, ForkedProvisioner, ReadyClient, can_fork

KERNEL = "poli-eval"  # installed by the Makefile
PLAIN = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]


def spec(argv, env=None) -> KernelSpec:
    return KernelSpec(argv=argv, env=env or {}, display_name="test", language="python")


def test_only_this_interpreters_own_ipykernel_is_forked(tmp_path):
    assert can_fork(spec(PLAIN))
    assert can_fork(spec([sys.executable, "-Xfrozen_modules=off", *PLAIN[1:]]))  # as `ipykernel install` writes it
    assert can_fork(KernelSpecManager().get_kernel_spec(KERNEL))
    assert not can_fork(spec(["/nonexistent/bin/python", *PLAIN[1:]]))  # another interpreter
    assert not can_fork(spec(PLAIN, env={"OMP_NUM_THREADS": "1"}))  # the spec sets variables
    assert not can_fork(spec([*PLAIN, "--matplotlib=inline"]))  # extra arguments
    assert not can_fork(spec([sys.executable, "-m", "another_kernel", "-f", "{connection_file}"]))
    other_env = tmp_path / "other-venv" / "bin"  # another environment's python links to the same base interpreter
    other_env.mkdir(parents=True)
    (other_env / "python").symlink_to(os.path.realpath(sys.executable))
    assert not can_fork(spec([str(other_env / "python"), *PLAIN[1:]]))


def _can_fork_here(queue):
    queue.put(can_fork(spec(PLAIN)))


def test_a_daemonic_process_starts_kernels_as_usual():
    """multiprocessing forbids a daemonic process children (a Dask worker started by another
    program may be one): such a process must not try to fork."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_can_fork_here, args=(queue,), daemon=True)
    child.start()
    child.join(30)
    assert queue.get(timeout=5) is False


@pytest.mark.parametrize(("argv", "extra", "expected"), [(PLAIN, [], ForkedProvisioner), ([*PLAIN, "--debug"], [], LocalProvisioner),
                                                      (PLAIN, ["--debug"], LocalProvisioner)])
def test_the_manager_picks_the_provisioner(argv, extra, expected):
    km = ForkedKernelManager(kernel_name=KERNEL)
    km._kernel_spec = spec(argv)

    async def prepare():
        try:
            await km.pre_start_kernel(extra_arguments=extra)  # writes the connection file, does not start a kernel
            return type(km.provisioner)
        finally:
            await km.cleanup_resources()

    assert asyncio.run(prepare()) is expected
    assert isinstance(km.client(), ReadyClient)


def notebook(path, *sources: str):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)
    return path


STATE = """\
import builtins, json, os, sys
preloaded = "evaluation.study.impact" in sys.modules
from evaluation.study import labels
print(json.dumps({"pid": os.getpid(), "ppid": os.getppid(), "preloaded": preloaded, "cwd": os.getcwd(),
                  "mark": os.environ.get("POLI_TEST_MARK"), "label": labels.OUTCOMES["turnover_eur"],
                  "leaked": hasattr(builtins, "leaked"), "backend": __import__("matplotlib").get_backend(),
                  "MPLBACKEND": os.environ.get("MPLBACKEND")}))
labels.OUTCOMES["turnover_eur"] = "changed by this run"
builtins.leaked = True
"""


def run_state(tmp_path, name: str) -> dict:
    out = tmp_path / f"{name}.out.ipynb"
    papermill.execute_notebook(str(notebook(tmp_path / f"{name}.ipynb", STATE)), str(out), kernel_name=KERNEL,
                               cwd=str(tmp_path), progress_bar=False, kernel_manager_class=ForkedKernelManager)
    return json.loads(nbformat.read(out, as_version=4).cells[0].outputs[0]["text"])


def test_each_run_starts_from_the_zygotes_state(tmp_path, monkeypatch):
    """Two runs in a row: both kernels are forked from one zygote that has imported the
    library; the second sees nothing the first changed (a module's dictionary, builtins),
    runs in the folder it is given and sees the environment of its own start."""
    first = run_state(tmp_path, "first")
    monkeypatch.setenv("POLI_TEST_MARK", "set after the first run")
    second = run_state(tmp_path, "second")
    for run in (first, second):
        assert run["preloaded"] and run["ppid"] != os.getpid()
        assert run["cwd"] == str(tmp_path)
        assert run["label"] != "changed by this run" and not run["leaked"]
        assert run["backend"] == run["MPLBACKEND"]  # ipykernel's inline backend, as in a kernel Jupyter starts
    assert first["ppid"] == second["ppid"] and first["pid"] != second["pid"]
    assert first["mark"] is None and second["mark"] == "set after the first run"


def test_a_timed_out_kernel_is_stopped(tmp_path):
    """A cell past its timeout: papermill fails the run and the forked kernel is gone."""
    path = notebook(tmp_path / "slow.ipynb", "import os; print(os.getpid())", "import time; time.sleep(120)")
    out = tmp_path / "slow.out.ipynb"
    with pytest.raises(Exception, match="(?i)timed out|timeout"):
        papermill.execute_notebook(str(path), str(out), kernel_name=KERNEL, execution_timeout=2, progress_bar=False,
                                   kernel_manager_class=ForkedKernelManager)
    pid = int(nbformat.read(out, as_version=4).cells[0].outputs[0]["text"])
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_the_zygote_preloads_every_module_the_notebooks_import():
    """A module missing from PRELOAD is imported by each kernel again (slower, same results):
    every ``evaluation`` module a notebook imports is loaded by importing PRELOAD."""
    import re
    from pathlib import Path

    from evaluation.pipeline.kernels import PRELOAD

    imported = set()
    for path in sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            for package, names in re.findall(r"^from (evaluation[\w.]*) import ([\w, ]+)", cell.source, flags=re.M):
                imported |= {package} | {f"{package}.{n.split()[0]}" for n in names.split(",")}  # "x as y" -> x
            imported |= set(re.findall(r"^import (evaluation[\w.]*)", cell.source, flags=re.M))
    assert "evaluation.study.impact" in imported
    # `from package import name` names a module or an object of the package: only modules count.
    code = f"""
import importlib, sys
for m in {list(PRELOAD)!r}:
    importlib.import_module(m)
loaded = set(sys.modules)
for m in {sorted(imported)!r}:
    try:
        importlib.import_module(m)
    except ImportError:
        continue
    if m not in loaded:
        print(m)
"""
    missing = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert not missing


def test_warm_starts_the_zygote_at_once():
    """The runner calls ``warm`` in each worker before validating the data, so that the zygote
    imports the library meanwhile: the zygote's process exists as soon as ``warm`` returns."""
    def zygote_after_warm(kernel: str) -> str:
        code = (f"import psutil; from evaluation.pipeline import kernels; kernels.warm({kernel!r}); "
                "print(any('multiprocessing.forkserver' in ' '.join(c.cmdline()) for c in psutil.Process().children()))")
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()

    assert zygote_after_warm("poli-eval") == "True"
    assert zygote_after_warm("no-such-kernel") == "False"  # a worker without the kernel: its runs will say so


def test_the_zygote_says_nothing_on_stderr(tmp_path):
    """Importing ipykernel's debugger in a Python without ``-Xfrozen_modules=off`` prints a
    warning; the zygote starts with it off (ZYGOTE_ENV), so a study prints no such line."""
    code = ("from evaluation.pipeline import kernels; kernels.warm('poli-eval'); "
            "import time; time.sleep(0.1); kernels._zygote().Process(target=time.sleep, args=(0,)).start()")
    err = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stderr
    assert "Debugger warning" not in err and "frozen modules" not in err
    assert "PYDEVD_DISABLE_FILE_VALIDATION" not in subprocess.run(
        [sys.executable, "-c", "import os; from evaluation.pipeline import kernels; kernels.warm('poli-eval'); print(dict(os.environ))"],
        capture_output=True, text=True, check=True).stdout  # the caller's environment is left as it was


BLAS_THREADS = """\
import ctypes, numpy as np
np.ones((50, 50)) @ np.ones((50, 50))  # loads numpy's BLAS
pools = []
for path in sorted({line.split()[-1] for line in open("/proc/self/maps") if "openblas" in line.lower() and ".so" in line}):
    lib = ctypes.CDLL(path)
    names = [n for n in ("openblas_get_num_threads64_", "openblas_get_num_threads", "scipy_openblas_get_num_threads64_",
                         "scipy_openblas_get_num_threads") if hasattr(lib, n)]
    pools += [getattr(lib, names[0])()] if names else []
print(pools)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps to find the BLAS library")
def test_a_forked_kernel_has_one_blas_thread(tmp_path):
    """ZYGOTE_ENV gives every forked kernel a single BLAS thread, whatever this process has."""
    out = tmp_path / "blas.out.ipynb"
    papermill.execute_notebook(str(notebook(tmp_path / "blas.ipynb", BLAS_THREADS)), str(out), kernel_name=KERNEL,
                               progress_bar=False, kernel_manager_class=ForkedKernelManager)
    pools = json.loads(nbformat.read(out, as_version=4).cells[0].outputs[0]["text"])
    assert pools and set(pools) == {1}


def test_a_kernel_dies_with_the_process_that_started_it(tmp_path):
    """A worker killed outright (SIGKILL: no clean-up) leaves no kernel behind: its zygote
    exits, and the kernel, which polls the zygote, exits too."""
    import signal

    import psutil

    script = tmp_path / "starter.py"
    script.write_text(
        "import asyncio, time\n"
        "from evaluation.pipeline.kernels import ForkedKernelManager\n"
        "km = ForkedKernelManager(kernel_name='poli-eval')\n"
        "asyncio.run(km.start_kernel())\n"
        "print(km.provisioner.pid, flush=True)\n"
        "time.sleep(120)\n")
    starter = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        kernel = psutil.Process(int(starter.stdout.readline()))
        zygote = kernel.parent()
        assert "forkserver" in " ".join(zygote.cmdline())
        starter.send_signal(signal.SIGKILL)
        starter.wait(10)
        gone, alive = psutil.wait_procs([kernel, zygote], timeout=15)
        assert not alive, alive
    finally:
        starter.kill()
        starter.wait(10)


def test_a_script_without_a_main_guard_is_not_run_again_by_its_kernels(tmp_path):
    """multiprocessing runs the caller's main script again in each child it starts; the
    forked kernel does not (its output would show the script's line twice)."""
    nb = notebook(tmp_path / "hello.ipynb", "print('cell ran')")
    script = tmp_path / "unguarded.py"
    script.write_text(
        "import papermill\n"
        "from evaluation.pipeline.kernels import ForkedKernelManager\n"
        "print('script ran', flush=True)\n"
        f"papermill.execute_notebook({str(nb)!r}, {str(tmp_path / 'hello.out.ipynb')!r}, kernel_name='poli-eval',\n"
        "                          progress_bar=False, kernel_manager_class=ForkedKernelManager)\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("script ran") == 1
    assert "cell ran" in nbformat.read(tmp_path / "hello.out.ipynb", as_version=4).cells[0].outputs[0]["text"]
