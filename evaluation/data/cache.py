"""A cache of validated study data: the typed frames of :func:`~evaluation.data.contract.load_study_data`,
written once per study into the build folder by the runner
(:func:`~evaluation.data.contract.cache_study_data`) and read by every notebook run
(``load_study_data(data_dir, cache=data_cache)``) instead of validating the data again.

An entry is a folder ``<root>/<key>/`` where ``key`` is derived from the data hash
(sha256 of the data files) and :func:`contract_fingerprint` (the contract's code and the
versions of the libraries that type the frames), so a changed file or a changed contract
never meets a stale entry. The folder holds one ``.npy`` file per column, read with
``allow_pickle=False`` (a cache is data, never code: no pickle), and ``cache.json`` with
the dtypes, the row counts, ``dataset.json``'s content, the data hash and the
fingerprint. Columns are stored as

- text (pandas ``str``): integer codes (``-1`` missing) into the sorted distinct values,
  fixed-width unicode;
- ``int64``, ``float64``, ``bool``: the values;
- nullable ``Int64``: the values (0 where missing) and the missing mask;
- ``datetime64[ns]``: the int64 nanoseconds.

An entry is written into a temporary folder and renamed into place, so an interrupted
write never leaves half an entry. :func:`read_cache` hashes the files now in the data
folder (sha256 is cheap next to validation) and uses the entry only when that hash and
the fingerprint match the entry's; otherwise it returns ``None`` and the caller validates.
This module knows frames, not the contract (which imports it): the caller hashes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["contract_fingerprint", "entry_dir", "write_cache", "read_cache"]

FORMAT = 1
"""Version of the entry layout; part of the fingerprint."""
TABLES = ("firms", "applications", "panel")
_DATA_DIR = Path(__file__).resolve().parent
_CODE = ("contract.py", "programme.py", "cache.py")
"""The sources that decide what a validated frame holds (and how it is cached)."""
_LIBRARIES = ("numpy", "pandas", "pandera")
META = "cache.json"


def contract_fingerprint() -> str:
    """sha256 over the contract's sources, the cache format and the versions of numpy,
    pandas and pandera."""
    digest = hashlib.sha256(f"format {FORMAT}\n".encode())
    for name in _CODE:
        digest.update(name.encode() + b"\n" + (_DATA_DIR / name).read_bytes())
    for lib in _LIBRARIES:
        digest.update(f"{lib} {metadata.version(lib)}\n".encode())
    return digest.hexdigest()


def entry_dir(root: str | Path, data_hash: str, fingerprint: str) -> Path:
    """The entry of data with ``data_hash`` under contract ``fingerprint``."""
    return Path(root) / hashlib.sha256(f"{data_hash}\n{fingerprint}".encode()).hexdigest()[:32]


class _NotCacheable(ValueError):
    """A frame the format cannot hold exactly (never the case for a validated frame)."""


def _string_dtype_ok(dtype: Any) -> bool:
    return isinstance(dtype, pd.StringDtype) and dtype.storage == "python" and dtype.na_value is np.nan


def _encode(s: pd.Series) -> tuple[str, dict[str, np.ndarray]]:
    dtype = s.dtype
    if _string_dtype_ok(dtype):
        codes, uniques = pd.factorize(s, sort=True, use_na_sentinel=True)
        values = np.asarray(uniques, dtype=object)
        text = np.array(values.tolist() or [""], dtype=str)[: len(values)]
        if text.tolist() != values.tolist():  # fixed-width unicode drops trailing NULs
            raise _NotCacheable(s.name)
        return "str", {"codes": codes.astype(np.int64), "values": text}
    if isinstance(dtype, pd.Int64Dtype):
        mask = s.isna().to_numpy()
        return "Int64", {"values": s.fillna(0).to_numpy(dtype=np.int64), "mask": mask}
    if dtype == np.dtype("datetime64[ns]"):
        values = s.to_numpy()
        if np.isnat(values).any():
            raise _NotCacheable(s.name)
        return "datetime64[ns]", {"values": values.view(np.int64)}
    if dtype in (np.dtype("int64"), np.dtype("float64"), np.dtype("bool")):
        return str(dtype), {"values": s.to_numpy()}
    raise _NotCacheable(f"{s.name}: {dtype}")


def _decode(kind: str, arrays: dict[str, np.ndarray], name: str) -> pd.Series:
    if kind == "str":
        codes, values = arrays["codes"], arrays["values"].astype(object)
        objects = np.append(values, np.nan)[codes]  # code -1 picks the appended NaN
        return pd.Series(objects, dtype=pd.StringDtype("python", na_value=np.nan), name=name)
    if kind == "Int64":
        return pd.Series(pd.arrays.IntegerArray(arrays["values"], arrays["mask"]), name=name)
    if kind == "datetime64[ns]":
        return pd.Series(arrays["values"].view("datetime64[ns]"), name=name)
    if kind in ("int64", "float64", "bool"):
        return pd.Series(arrays["values"], dtype=kind, name=name)
    raise ValueError(f"unknown column kind {kind!r}")


def write_cache(root: str | Path, data_hash: str, frames: dict[str, pd.DataFrame], dataset: dict[str, Any]) -> Path | None:
    """Write the validated ``frames`` (by table name) and ``dataset`` of the data with
    ``data_hash`` as an entry under ``root``; remove every other entry there. Returns the
    entry, or ``None`` when a frame cannot be held exactly (the notebooks then validate)."""
    root = Path(root)
    fingerprint = contract_fingerprint()
    target = entry_dir(root, data_hash, fingerprint)
    root.mkdir(parents=True, exist_ok=True)
    for old in root.iterdir():  # earlier data, earlier contracts, interrupted writes
        if old != target:
            shutil.rmtree(old) if old.is_dir() else old.unlink()
    if (target / META).is_file():
        return target
    work = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
    try:
        tables = {}
        for table in TABLES:
            frame = frames[table]
            if not isinstance(frame.index, pd.RangeIndex) or frame.index.start != 0 or frame.index.step != 1:
                raise _NotCacheable(f"{table}: index")
            columns = []
            for number, column in enumerate(frame.columns):
                kind, arrays = _encode(frame[column])
                for part, array in arrays.items():
                    np.save(work / f"{table}.{number}.{part}.npy", array, allow_pickle=False)
                columns.append({"name": column, "kind": kind})
            tables[table] = {"rows": len(frame), "columns": columns}
        meta = {"format": FORMAT, "data_hash": data_hash, "fingerprint": fingerprint,
                "dataset": dataset, "tables": tables}
        (work / META).write_text(json.dumps(meta, indent=1, allow_nan=True), encoding="utf-8")
        work.rename(target)
    except _NotCacheable:
        return None
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return target


def read_cache(root: str | Path, data_hash: str) -> tuple[dict[str, pd.DataFrame], dict[str, Any]] | None:
    """The cached frames (by table name) and dataset of the data with ``data_hash`` (the
    caller hashes the files now in the data folder), or ``None`` when ``root`` holds no
    intact entry for them under the current contract."""
    fingerprint = contract_fingerprint()
    entry = entry_dir(root, data_hash, fingerprint)
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError, IndexError):  # no entry, or a damaged one
        meta = json.loads((entry / META).read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT or meta.get("data_hash") != data_hash or meta.get("fingerprint") != fingerprint:
            return None
        frames = {}
        for table in TABLES:
            spec = meta["tables"][table]
            columns = {}
            for number, column in enumerate(spec["columns"]):
                parts = ("codes", "values") if column["kind"] == "str" else (
                    ("values", "mask") if column["kind"] == "Int64" else ("values",))
                arrays = {p: np.load(entry / f"{table}.{number}.{p}.npy", allow_pickle=False) for p in parts}
                if any(a.shape != (spec["rows"],) for p, a in arrays.items() if p != "values" or column["kind"] != "str"):
                    return None
                columns[column["name"]] = _decode(column["kind"], arrays, column["name"])
            frames[table] = pd.DataFrame(columns)
        return frames, meta["dataset"]
    return None
