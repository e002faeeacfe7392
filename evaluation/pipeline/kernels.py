"""Notebook kernels forked from a process that has already imported the study's libraries.

Starting a Jupyter kernel and importing the scientific stack and :mod:`evaluation` in it
costs about 2 s of CPU, the same in every run: on the default data it was half of the
study's time. So, when the study's kernel is this Python's own ipykernel, each run's kernel
is forked from a *zygote*: a process, started once per worker by :mod:`multiprocessing`'s
``forkserver``, that has imported :data:`PRELOAD` and nothing else. A forked kernel starts
with those modules loaded and runs no code of any other notebook: every run still begins
from the same state, so its results do not depend on which runs came before it or where.

Any other kernel (another interpreter or environment, extra arguments, its own environment
variables), a platform without ``fork``, or a daemonic worker process (which may not have
children) starts the kernel as a fresh process, as Jupyter does.

jupyter_client launches kernels through a *provisioner*; :class:`ForkedKernelManager`
gives its kernels a :class:`ForkedProvisioner` when :func:`can_fork` says so.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import os
import sys
import time
import types
import uuid
from pathlib import Path
from queue import Empty
from typing import Any

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner
from traitlets import default

from evaluation.pipeline.zygote_env import KERNEL_ENV

PRELOAD = (
    "evaluation.pipeline.zygote_start",  # first: the environment, before numpy's BLAS starts
    "ipykernel.kernelapp",
    "ipykernel.debugger",
    "IPython.core.completerlib",
    "IPython.core.debugger",
    "IPython.extensions.storemagic",
    "sqlite3",
    "matplotlib.pyplot",
    "seaborn",
    "evaluation.data.contract",
    "evaluation.methods.power",
    "evaluation.pipeline.outputs",
    "evaluation.study.analysis",
    "evaluation.study.discontinuity",
    "evaluation.study.dose",
    "evaluation.study.impact",
    "evaluation.study.observatory",
    "evaluation.study.overview",
    "evaluation.study.pilots",
    "evaluation.study.rd",
    "evaluation.study.robustness",
)
"""What the zygote imports: its environment, the kernel and every module the notebooks import."""

IPYKERNEL_ARGV = ["-m", "ipykernel_launcher", "-f", "{connection_file}"]
"""The command line of a kernel spec made by ``python -m ipykernel install``, after the
interpreter and its flag ``-Xfrozen_modules=off`` (which only lets the debugger step into the
standard library's frozen modules; a forked kernel has the study interpreter's setting)."""


def can_fork(kernel_spec) -> bool:
    """Whether the kernel of ``kernel_spec`` is this interpreter's ipykernel with nothing
    added, and this process may fork kernels."""
    argv = list(kernel_spec.argv)
    return (
        sys.platform == "linux"  # elsewhere untried: macOS's system frameworks are not safe to fork
        and not multiprocessing.current_process().daemon
        and not kernel_spec.env
        and [a for a in argv[1:] if a != "-Xfrozen_modules=off"] == IPYKERNEL_ARGV
        and _same_interpreter(argv[0])
    )


def _same_interpreter(path: str) -> bool:
    """``path`` names this interpreter in this environment. Symlinks are not followed: every
    virtual environment's ``python`` links to the same base interpreter."""
    return Path(path).absolute() == Path(sys.executable).absolute()


_context = None


def _zygote():
    """This process's forkserver, preloading :data:`PRELOAD` (started now if it is not running)."""
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(list(PRELOAD))
    multiprocessing.forkserver.ensure_running()
    return _context


def warm(kernel: str) -> None:
    """Start this process's zygote now if the kernel named ``kernel`` is to be forked: it
    imports :data:`PRELOAD` in its own process while this one goes on."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(kernel)
    except NoSuchKernel:
        return  # not on this worker (of another scheduler): its runs will say so
    if can_fork(spec):
        _zygote()


def _serve_kernel(connection_file: str, cwd: str | None, env: dict[str, str]) -> None:
    """The forked kernel: in its own session (so that signals to its process group reach it
    and its children only, as for a kernel Jupyter starts), in ``cwd``, with ``env``."""
    # multiprocessing gives each child the write end of the zygote's "parent alive" pipe; the
    # zygote exits when every holder has closed it, and a kernel polls the zygote (below), so
    # a kernel keeping it would keep both alive after its worker died.
    server = multiprocessing.forkserver._forkserver
    if getattr(server, "_forkserver_alive_fd", None) is not None:
        os.close(server._forkserver_alive_fd)
        server._forkserver_alive_fd = None
    os.setsid()
    if cwd:
        os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    from ipykernel.kernelapp import IPKernelApp

    # Its parent is the zygote, which exits with the worker that started it: the kernel
    # polls it and exits with it, as a kernel Jupyter starts polls its launcher.
    app = IPKernelApp.instance(parent_handle=os.getppid())
    app.initialize(["-f", connection_file])
    # matplotlib took its backend from the zygote's environment; take it from the kernel's, as
    # an import in the kernel would (ipykernel sets MPLBACKEND to its inline backend)
    import matplotlib

    if os.environ.get("MPLBACKEND"):
        matplotlib.rcParams["backend"] = os.environ["MPLBACKEND"]
    app.start()


class _ForkedProcess:
    """The part of ``subprocess.Popen`` that :class:`LocalProvisioner` uses, for a
    :class:`multiprocessing.Process`."""

    stdin = stdout = stderr = None

    def __init__(self, process: multiprocessing.Process):
        self._process = process
        self.pid = process.pid

    def poll(self) -> int | None:
        return None if self._process.is_alive() else self._process.exitcode

    def wait(self, timeout: float | None = None) -> int | None:
        self._process.join(timeout)
        return self._process.exitcode

    def send_signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def terminate(self) -> None:
        self._process.terminate()

    def kill(self) -> None:
        self._process.kill()


class ForkedProvisioner(LocalProvisioner):
    """Launches the kernel by forking the zygote instead of running the kernel spec's command."""

    async def launch_kernel(self, cmd: list[str], **kwargs: Any):
        env = kwargs.get("env") or dict(os.environ)
        cwd = kwargs.get("cwd")
        process = _zygote().Process(target=_serve_kernel, args=(self.parent.connection_file, cwd, env),
                                    name=f"kernel {self.kernel_id}")
        # multiprocessing would have the child run the caller's main script again (as
        # ``__mp_main__``, as it does for spawned processes); a kernel needs none of it
        main = sys.modules["__main__"]
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            process.start()
        finally:
            sys.modules["__main__"] = main
        self.process = _ForkedProcess(process)
        self.pid = self.pgid = process.pid  # the kernel leads its own process group (os.setsid)
        self.cwd = cwd or Path.cwd()
        return self.connection_info


class ReadyClient(AsyncKernelClient):
    """jupyter_client's kernel client, ready as soon as the kernel has answered ``kernel_info``
    and IOPub has delivered a message (so its subscription is live), as jupyter_client checks;
    it then also waits for 0.2 s of IOPub silence to drop what the kernel printed while starting,
    which nbclient does not need: it reads only the messages of its own requests."""

    async def _wait_until_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            self.kernel_info()
            try:
                reply = await self.shell_channel.get_msg(timeout=1)
            except Empty:
                reply = None
            if reply is not None and reply["msg_type"] == "kernel_info_reply":
                try:
                    await self.iopub_channel.get_msg(timeout=0.2)
                except Empty:
                    pass  # IOPub not connected yet: ask again
                else:
                    self._handle_kernel_info_reply(reply)
                    return
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout} seconds")

    wait_for_ready = _wait_until_ready


class ForkedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels are forked (:class:`ForkedProvisioner`) when
    :func:`can_fork` allows it and no extra arguments are given, and started as usual
    otherwise, in both cases with :data:`~evaluation.pipeline.zygote_env.KERNEL_ENV`; its
    clients are :class:`ReadyClient`."""

    @default("client_factory")
    def _ready_client(self):
        return ReadyClient

    async def _async_pre_start_kernel(self, **kw: Any):
        kw["env"] = {**kw.get("env", os.environ), **KERNEL_ENV}  # forked or not, the same arithmetic
        if self.provisioner is None and can_fork(self.kernel_spec) and not kw.get("extra_arguments"):
            self.kernel_id = self.kernel_id or kw.pop("kernel_id", None) or str(uuid.uuid4())
            self.provisioner = ForkedProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)
        return await super()._async_pre_start_kernel(**kw)

    pre_start_kernel = _async_pre_start_kernel  # AsyncKernelManager's public name for it
