"""Write-then-move helpers: outputs appear whole or not at all."""

from __future__ import annotations

import shutil
from pathlib import Path

KEY_FILE = ".cache_key"
"""Written last into a finished run or report folder: the cache key it was made from."""


def replace_dir(new: Path, target: Path) -> None:
    """Move the finished folder ``new`` to ``target``, replacing any previous one.

    The previous folder is renamed aside first and deleted only after the move, so at
    no point is ``target`` a mixture of old and new files.
    """
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    shutil.move(str(new), str(target))
    shutil.rmtree(old, ignore_errors=True)
