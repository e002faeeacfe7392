"""TWFE speed and peak memory: evaluation.methods.estimators.twfe vs pyfixest vs linearmodels.

Model: y ~ x1 + x2 with unit and period effects, standard errors clustered by unit
(CR1 here, CRV1 in pyfixest, clustered in linearmodels). Each engine runs in its own
subprocess on the same simulated panel (saved once as .npz), so peak memory (max RSS)
is per engine; "data" is the RSS after loading the data, before estimating.

The peers are not project dependencies: they live in ``benchmarks/.venv``, which
this script creates on first use (pip, PyPI). Run from the repository root with the
project's interpreter:

    .venv/bin/python benchmarks/twfe_benchmark.py --units 1000000 --periods 10
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from peers import peer_python  # benchmarks/peers.py (this folder is on sys.path when run as a script)

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


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def run_engine(engine: str, data_path: str) -> dict:
    """Executed in the child process: load, estimate, report."""
    import pandas as pd

    arrays = np.load(data_path)
    frame = pd.DataFrame({k: arrays[k] for k in arrays.files})
    rss_data = max_rss_mb()
    start = time.perf_counter()
    if engine == "evaluation":
        sys.path.insert(0, str(HERE.parent))
        from evaluation.methods.estimators import twfe

        result = twfe(frame, y="y", regressors=["x1", "x2"], unit="unit", time="period", vcov="CR1")
        coef, se = result.table["estimate"], result.table["se"]
        version = "project"
    elif engine == "pyfixest":
        import pyfixest as pf

        fit = pf.feols("y ~ x1 + x2 | unit + period", data=frame, vcov={"CRV1": "unit"})
        coef, se, version = fit.coef(), fit.se(), pf.__version__
    elif engine == "linearmodels":
        import linearmodels
        from linearmodels.panel import PanelOLS

        panel = frame.set_index(["unit", "period"])
        fit = PanelOLS(panel["y"], panel[["x1", "x2"]], entity_effects=True, time_effects=True).fit(
            cov_type="clustered", cluster_entity=True
        )
        coef, se, version = fit.params, fit.std_errors, linearmodels.__version__
    seconds = time.perf_counter() - start
    return {
        "engine": engine,
        "version": version,
        "seconds": seconds,
        "rss_data_mb": rss_data,
        "peak_rss_mb": max_rss_mb(),
        "coef_x1": float(coef["x1"]),
        "se_x1": float(se["x1"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=1_000_000)
    parser.add_argument("--periods", type=int, default=10)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_engine(args.run, args.data)))
        return
    interpreters = {"evaluation": Path(sys.executable), "pyfixest": peer_python(PEER_VENV, PEERS), "linearmodels": peer_python(PEER_VENV, PEERS)}
    with tempfile.TemporaryDirectory() as tmp:
        data_path = Path(tmp) / "panel.npz"
        simulate(args.units, args.periods, data_path)
        rows = []
        for engine, python in interpreters.items():
            out = subprocess.run(
                [str(python), __file__, "--run", engine, "--data", str(data_path)],
                capture_output=True, text=True,
            )
            if out.returncode:
                rows.append({"engine": engine, "error": out.stderr.strip().splitlines()[-1]})
            else:
                rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"TWFE, {args.units:,} units x {args.periods} periods = {args.units * args.periods:,} rows; "
          f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print("| engine | version | seconds | peak RSS (MB) | RSS after loading data (MB) | coef x1 | CR1 se x1 |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for row in rows:
        if "error" in row:
            print(f"| {row['engine']} | failed: {row['error']} | | | | | |")
        else:
            print(f"| {row['engine']} | {row['version']} | {row['seconds']:.1f} | {row['peak_rss_mb']:.0f} | "
                  f"{row['rss_data_mb']:.0f} | {row['coef_x1']:.6f} | {row['se_x1']:.6f} |")


if __name__ == "__main__":
    main()
