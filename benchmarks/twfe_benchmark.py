"""TWFE speed and peak memory: evaluation.methods.estimators.twfe vs pyfixest vs linearmodels.

Model: y ~ x1 + x2 with unit and period effects, standard errors clustered by unit
(CR1 here, CRV1 in pyfixest, clustered in linearmodels). Each engine runs in its own
subprocess on the same simulated panel (saved once as .npz), with a time limit and a
memory watchdog; each first fits the first 1,000 units untimed (imports, JIT compilation). Peak memory is the process's peak RSS during the
estimation (``/proc/self/clear_refs`` resets the high-water mark after loading), shown
next to the size of the input data frame; "x ours" is an engine's time over ours.

The peers are not project dependencies: they live in ``benchmarks/.venv``, which
this script creates on first use (pip, PyPI). Run from the repository root with the
project's interpreter:

    .venv/bin/python benchmarks/twfe_benchmark.py --units 1000000 --periods 10 --threads 1
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from peers import peer_python, run_guarded  # benchmarks/peers.py (this folder is on sys.path when run as a script)

HERE = Path(__file__).resolve().parent
PEER_VENV = HERE / ".venv"
PEERS = ["pyfixest", "linearmodels", "pandas", "numpy", "scipy"]


def simulate(units: int, periods: int, path: Path, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    n = units * periods
    unit = np.repeat(np.arange(units), periods)
    period = np.tile(np.arange(periods), units)
    x1 = rng.normal(size=n) + rng.normal(size=units)[unit]
    x2 = rng.normal(size=n) + 0.1 * period
    y = 0.5 * x1 - 0.25 * x2 + rng.normal(size=units)[unit] + 0.2 * period + rng.normal(size=n)
    np.savez(path, unit=unit, period=period, x1=x1, x2=x2, y=y)


def rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def fit(engine: str, frame):
    """(coefficients, standard errors, version) of one engine."""
    if engine == "evaluation":
        sys.path.insert(0, str(HERE.parent))
        from evaluation.methods.estimators import twfe

        result = twfe(frame, y="y", regressors=["x1", "x2"], unit="unit", time="period", vcov="CR1")
        return result.table["estimate"], result.table["se"], "project"
    if engine == "pyfixest":
        import pyfixest as pf

        result = pf.feols("y ~ x1 + x2 | unit + period", data=frame, vcov={"CRV1": "unit"})
        return result.coef(), result.se(), pf.__version__
    import linearmodels
    from linearmodels.panel import PanelOLS

    panel = frame.set_index(["unit", "period"])
    result = PanelOLS(panel["y"], panel[["x1", "x2"]], entity_effects=True, time_effects=True).fit(
        cov_type="clustered", cluster_entity=True)
    return result.params, result.std_errors, linearmodels.__version__


def run_engine(engine: str, data_path: str) -> dict:
    """Executed in the child process: load, estimate, report."""
    import pandas as pd

    arrays = np.load(data_path)
    frame = pd.DataFrame({k: arrays[k] for k in arrays.files})
    del arrays
    frame_mb = frame.memory_usage(deep=True).sum() / 2**20
    fit(engine, frame[frame["unit"] < 1000])  # warm-up, untimed: lazy imports, JIT compilation
    gc.collect()
    rss_data = rss_mb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak RSS
    start = time.perf_counter()
    coef, se, version = fit(engine, frame)
    seconds = time.perf_counter() - start
    return {
        "engine": engine,
        "version": version,
        "seconds": seconds,
        "peak_mb": rss_mb("VmHWM"),
        "data_mb": rss_data,
        "frame_mb": frame_mb,
        "coef": {k: float(coef[k]) for k in ("x1", "x2")},
        "se": {k: float(se[k]) for k in ("x1", "x2")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=1_000_000)
    parser.add_argument("--periods", type=int, default=10)
    parser.add_argument("--engines", nargs="+", default=["evaluation", "pyfixest", "linearmodels"])
    parser.add_argument("--repeat", type=int, default=1, help="runs of each engine, interleaved")
    parser.add_argument("--threads", type=int, default=None,
                        help="thread count (BLAS, OpenMP, numba, rayon) for every engine; default: theirs")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    parser.add_argument("--max-rss-gb", type=float, default=12.0, help="memory watchdog, per run")
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_engine(args.run, args.data)))
        return
    interpreters = {"evaluation": Path(sys.executable), "pyfixest": peer_python(PEER_VENV, PEERS),
                    "linearmodels": peer_python(PEER_VENV, PEERS)}
    interpreters = {k: v for k, v in interpreters.items() if k in args.engines}
    with tempfile.TemporaryDirectory() as tmp:
        data_path = Path(tmp) / "panel.npz"
        simulate(args.units, args.periods, data_path)
        rows = []
        for _ in range(args.repeat):
            for engine, python in interpreters.items():
                stdout, stderr, error = run_guarded([str(python), __file__, "--run", engine, "--data", str(data_path)],
                                                    args.timeout, args.max_rss_gb * 1024, args.threads)
                lines = stdout.strip().splitlines()
                if error or not lines:
                    rows.append({"engine": engine, "error": error or (stderr.strip().splitlines() or ["?"])[-1][:160]})
                else:
                    rows.append(json.loads(lines[-1]))
                print(json.dumps(rows[-1]), flush=True)
    ours = [r for r in rows if r["engine"] == "evaluation" and "error" not in r]
    best = min(r["seconds"] for r in ours) if ours else float("nan")
    print()
    print(f"TWFE, {args.units:,} units x {args.periods} periods = {args.units * args.periods:,} rows; "
          f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"threads per engine: {args.threads or 'default'}")
    print()
    print("| engine | version | seconds | x ours | peak RSS (MB) | RSS with data (MB) | data frame (MB) | "
          "peak / frame | coef x1 | CR1 se x1 | max abs diff coef, se vs ours |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        if "error" in row:
            print(f"| {row['engine']} | {row['error']} | | | | | | | | | |")
            continue
        diff = float("nan")
        if ours:
            diff = max(max(abs(row[key][k] - ours[0][key][k]) for k in ("x1", "x2")) for key in ("coef", "se"))
        print(f"| {row['engine']} | {row['version']} | {row['seconds']:.2f} | {row['seconds'] / best:.1f} | "
              f"{row['peak_mb']:.0f} | {row['data_mb']:.0f} | {row['frame_mb']:.0f} | "
              f"{row['peak_mb'] / row['frame_mb']:.2f} | {row['coef']['x1']:.6f} | {row['se']['x1']:.6f} | "
              f"{diff:.1e} |")


if __name__ == "__main__":
    main()
