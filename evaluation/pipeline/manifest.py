"""Data manifests: the sha256 of a data folder's files, kept in a JSON file.

``data/manifest.json`` records the synthetic default data; CI keeps one for the data
of its last render. ``python -m evaluation manifest DIR --check OLD --write NEW`` says
which files were added, removed or changed since ``OLD`` and records ``DIR`` in ``NEW``.
A manifest is a JSON object::

    {"description": "...",               # free text, kept when a manifest is rewritten
     "seed": 20170601,                    # dataset.json's generator seed, when it has one
     "files": {"firms.csv": "<sha256>", ...},
     "data_sha256": "<combined hash>"}

``files`` covers exactly the files the study's data hash covers
(:func:`evaluation.data.contract.data_file_digests`) and ``data_sha256`` is that hash
(:func:`evaluation.data.contract.combined_hash`), the one the report stamps.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluation.data.contract import ContractError, Failure, combined_hash, data_file_digests

__all__ = [
    "ManifestError", "Changes", "make_manifest", "read_manifest", "compare", "replaced_manifest", "write_manifest",
]

DEFAULT_DESCRIPTION = "sha256 of the files of a study data folder (python -m evaluation manifest)"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ManifestError(ValueError):
    """A manifest cannot be read, or cannot be written where asked (bad usage)."""


@dataclass(frozen=True)
class Changes:
    """File names added, removed and changed between an old and a new manifest."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def lines(self) -> list[str]:
        """One line per file, ``"  changed  panel.csv"``, changed first."""
        return [
            f"  {kind:<8} {name}"
            for kind, names in (("changed", self.changed), ("added", self.added), ("removed", self.removed))
            for name in names
        ]


def make_manifest(data_dir: str | Path, description: str = DEFAULT_DESCRIPTION) -> dict[str, Any]:
    """The manifest of ``data_dir``; :class:`ContractError` if the folder is missing."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise ContractError(Failure(str(data_dir), (), "directory exists", note="data directory is missing"))
    files = data_file_digests(data_dir)
    manifest: dict[str, Any] = {"description": description}
    seed = _generator_seed(data_dir / "dataset.json")
    if seed is not None:
        manifest["seed"] = seed
    manifest["files"] = files
    manifest["data_sha256"] = combined_hash(files)
    return manifest


def _generator_seed(path: Path) -> int | None:
    try:
        meta = json.loads(path.read_text(encoding="utf-8-sig"))  # the contract accepts a byte-order mark
    except (OSError, ValueError):
        return None
    seed = meta.get("seed") if isinstance(meta, dict) else None
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else None


def read_manifest(path: str | Path) -> dict[str, Any]:
    """Read and check a manifest; :class:`ManifestError` names what is wrong."""
    path = Path(path)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{path}: manifest not found") from None
    except (OSError, ValueError) as exc:
        raise ManifestError(f"{path}: not a readable JSON manifest ({exc})") from None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not all(
        isinstance(name, str) and isinstance(digest, str) and _SHA256.match(digest) for name, digest in files.items()
    ):
        raise ManifestError(f'{path}: not a data manifest (needs "files": {{name: sha256 hex digest}})')
    return manifest


def compare(old: dict[str, Any], new: dict[str, Any]) -> Changes:
    """Which files of ``new`` were added, removed or changed relative to ``old``."""
    before, after = old["files"], new["files"]
    return Changes(
        added=tuple(sorted(set(after) - set(before))),
        removed=tuple(sorted(set(before) - set(after))),
        changed=tuple(sorted(n for n in set(before) & set(after) if before[n] != after[n])),
    )


def replaced_manifest(path: str | Path) -> dict[str, Any] | None:
    """The manifest that writing to ``path`` would replace (``None`` if there is none);
    :class:`ManifestError` if ``path`` cannot take a manifest: its folder is missing,
    or it holds something else, which is never overwritten."""
    path = Path(path)
    if not path.parent.is_dir():
        raise ManifestError(f"{path}: folder {path.parent} does not exist")
    if not path.exists():
        return None
    try:
        return read_manifest(path)
    except ManifestError as exc:
        raise ManifestError(f"{exc}; refusing to overwrite it") from None


def write_manifest(manifest: dict[str, Any], path: str | Path) -> None:
    """Write ``manifest`` to ``path`` atomically: a temporary file beside it, then a rename.

    Refuses (:class:`ManifestError`) when the folder of ``path`` does not exist or when
    ``path`` exists and is not a manifest, so a mistyped path overwrites nothing.
    """
    path = Path(path)
    replaced_manifest(path)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask()
    text = json.dumps(manifest, indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
