"""Writing the synthetic data: the files' bytes in fixed formats, the folder replaced
atomically (never half-written, never over a folder it did not make), ``generate`` and
the command line ``python -m evaluation.data.synthetic OUT_DIR``."""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.data.synthetic.parameters import (
    DEFAULT_NONMEMBERS,
    DEFAULT_SEED,
    FORMER_GENERATORS,
    GENERATOR,
    OUTCOMES,
)
from evaluation.data.synthetic.simulation import SyntheticData, simulate


def _csv_bytes(df: pd.DataFrame, float_format: str | None = None) -> bytes:
    buf = io.StringIO()
    df.to_csv(buf, index=False, lineterminator="\n", float_format=float_format)
    return buf.getvalue().encode("utf-8")


def _format(data: SyntheticData) -> dict[str, bytes]:
    """The files' bytes: fixed formats (amounts, outcomes and scores with 2 decimals,
    effects with 6), ``true``/``false``, ISO dates, empty for missing."""
    f = data.firms.copy()
    f["member_since"] = [str(int(v)) if v >= 0 else "" for v in f["member_since"]]
    a = data.applications.copy()
    a["funded"] = np.where(a["funded"], "true", "false")
    for c in ("score", "investment_eur", "grant_eur"):
        a[c] = a[c].astype(float)
    for c in ("start_date", "end_date"):
        a[c] = pd.to_datetime(a[c]).dt.strftime("%Y-%m-%d")
    p = data.panel.astype({c: float for c in OUTCOMES})
    t = data.truth.astype({"effect_log": float})
    meta = json.dumps(data.dataset, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return {
        "dataset.json": meta.encode("utf-8"),
        "firms.csv": _csv_bytes(f),
        "applications.csv": _csv_bytes(a, "%.2f"),
        "panel.csv": _csv_bytes(p, "%.2f"),
        "truth.csv": _csv_bytes(t, "%.6f"),
    }


def _replaceable(path: Path) -> bool:
    """An existing folder may be replaced only if empty or an earlier synthetic output."""
    if not any(path.iterdir()):
        return True
    meta = path / "dataset.json"
    try:
        d = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(d, dict) and d.get("synthetic") is True and d.get("generator") in (GENERATOR, *FORMER_GENERATORS)


def _check_target(out_dir: Path) -> None:
    if out_dir.exists() and (not out_dir.is_dir() or not _replaceable(out_dir)):
        raise FileExistsError(
            f"{out_dir} exists and is not an earlier synthetic data folder; not replacing it"
        )


def _write_atomically(out_dir: Path, files: dict[str, bytes]) -> None:
    out_dir = Path(os.path.abspath(out_dir))
    parent = out_dir.parent
    parent.mkdir(parents=True, exist_ok=True)
    _check_target(out_dir)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=parent))
    try:
        for name, payload in files.items():
            with open(tmp / name, "wb") as fh:
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, 0o755)
        if out_dir.exists():
            old = parent / f".{out_dir.name}.old-{uuid.uuid4().hex}"
            os.rename(out_dir, old)
            try:
                os.rename(tmp, out_dir)
            except OSError:
                os.rename(old, out_dir)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def generate(
    out_dir: str | Path,
    seed: int = DEFAULT_SEED,
    first_year: int = 2012,
    last_year: int = 2022,
    n_nonmembers: int = DEFAULT_NONMEMBERS,
) -> dict[str, Path]:
    """Write ``dataset.json``, ``firms.csv``, ``applications.csv``, ``panel.csv`` and
    ``truth.csv`` to ``out_dir`` (replaced atomically; an existing folder is replaced
    only if it is empty or an earlier synthetic output). Returns file name -> path."""
    out_dir = Path(out_dir)
    _check_target(out_dir)
    data = simulate(seed, first_year, last_year, n_nonmembers)
    files = _format(data)
    _write_atomically(out_dir, files)
    return {name: out_dir / name for name in files}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m evaluation.data.synthetic",
        description="Write the synthetic default data (calibrated to the published programme figures).",
    )
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--first-year", type=int, default=2012)
    ap.add_argument("--last-year", type=int, default=2022)
    ap.add_argument("--n-nonmembers", type=int, default=DEFAULT_NONMEMBERS)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    paths = generate(args.out_dir, args.seed, args.first_year, args.last_year, args.n_nonmembers)
    dt = time.perf_counter() - t0
    for name, path in paths.items():
        print(f"{path}  ({path.stat().st_size:,} bytes)")
    print(f"synthetic data written in {dt:.2f} s (seed {args.seed})", file=sys.stderr)
    return 0
