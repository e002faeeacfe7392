"""The benchmarks' own virtualenvs for peer libraries (never project dependencies)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def peer_python(venv: Path, packages: list[str]) -> Path:
    """The Python of ``venv``, created with ``packages`` installed if it does not exist."""
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *packages], check=True)
    return python
