"""The benchmarks' own virtualenvs for peer libraries (never project dependencies), and the
guarded run of one engine in a child process (time limit, memory watchdog, thread count)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
                    "RAYON_NUM_THREADS", "POLARS_MAX_THREADS")


def peer_python(venv: Path, packages: list[str]) -> Path:
    """The Python of ``venv``, created with ``packages`` installed if it does not exist."""
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *packages], check=True)
    return python


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_guarded(cmd: list[str], timeout: float, max_rss_mb: float, threads: int | None = None):
    """Run ``cmd``; returns ``(stdout, stderr, error)`` with ``error`` None, ``"timeout after
    N s"`` or ``"stopped above N MB"`` (the watchdog polls the child's RSS every 0.1 s and
    kills it above ``max_rss_mb``, protecting a shared machine). ``threads`` sets the usual
    thread-count variables (BLAS, OpenMP, numba, rayon, polars) for the child."""
    env = dict(os.environ)
    if threads:
        env.update({name: str(threads) for name in THREAD_VARIABLES})
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=env)
        start, error = time.monotonic(), None
        while proc.poll() is None:
            if time.monotonic() - start > timeout:
                error = f"timeout after {timeout:.0f} s"
            elif _rss_mb(proc.pid) > max_rss_mb:
                error = f"stopped above {max_rss_mb / 1024:.0f} GB after {time.monotonic() - start:.0f} s"
            if error:
                proc.kill()
                proc.wait()
                break
            time.sleep(0.1)
        out.seek(0)
        err.seek(0)
        return out.read(), err.read(), error
