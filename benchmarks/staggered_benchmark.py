"""att_gt + aggte speed and peak memory: evaluation.methods.estimators vs the Python peers.

Model: Callaway-Sant'Anna ATT(g,t), doubly robust (DRDID's ``drdid_panel``), one
time-invariant covariate ``x``, never-treated controls, varying base period, then the
simple aggregation (``aggte(..., "simple")``; diff-diff computes it inside ``fit``);
analytic standard errors, and again with 999 multiplier-bootstrap draws (in both steps).
Simulated balanced panel, periods 1..10, never treated and the cohorts of ``--cohorts``
(default six: 3..8), selection and trends on ``x``.

Each (engine, size, bootstrap) runs in its own subprocess on the same data (saved
once as .npz), with a time limit and a memory watchdog (``--max-rss-gb``); with
``--repeat N`` each runs N times (fresh processes) and the median run is reported.
Peak memory is the process's peak RSS during the estimation (``/proc/self/clear_refs``
resets the high-water mark after loading), shown next to the size of the input data frame. Estimates are compared with ours (max
absolute difference over the ATT(g,t) both report).

The peers (moderndid, diff-diff, csdid, differences) are not project dependencies:
they live in ``benchmarks/.venv-staggered``, created by this script on first use
(pip, PyPI). Run from the repository root with the project's interpreter:

    .venv/bin/python benchmarks/staggered_benchmark.py --units 200000 1000000 --threads 1
"""

from __future__ import annotations

import argparse
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
PEER_VENV = HERE / ".venv-staggered"
PEERS = ["moderndid", "diff-diff", "csdid", "differences"]
ENGINES = ["evaluation", "diff-diff", "csdid", "moderndid"]  # differences: --engines
PERIODS = 10


def simulate(units: int, path: Path, cohorts: list[int], seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=units)
    slopes = np.linspace(1, -1, len(cohorts))  # selection on x, from positive to negative
    logits = np.column_stack([np.zeros(units)] + [0.3 * k * x for k in slopes])
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    cohort = np.array([0, *cohorts])[(probs.cumsum(1) < rng.uniform(size=(units, 1))).sum(1)]
    unit = np.repeat(np.arange(units), PERIODS)
    period = np.tile(np.arange(1, PERIODS + 1), units)
    g, xx = np.repeat(cohort, PERIODS), np.repeat(x, PERIODS)
    effect = np.where((g > 0) & (period >= g), 1.0 + 0.1 * (period - g), 0.0)
    y = np.repeat(rng.normal(size=units), PERIODS) + 0.1 * period + 0.2 * xx * period + effect
    y += rng.normal(size=units * PERIODS)
    np.savez(path, unit=unit, period=period, y=y, cohort=g, x=xx)


def rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_engine(engine: str, data_path: str, n_boot: int) -> dict:
    """Executed in the child process: load, estimate, report."""
    import gc
    import warnings

    import pandas as pd

    warnings.simplefilter("ignore")
    arrays = np.load(data_path)
    frame = pd.DataFrame({k: arrays[k] for k in arrays.files})
    del arrays
    gc.collect()
    frame_mb = frame.memory_usage(deep=True).sum() / 2**20
    _import(engine)  # imports are not timed
    gc.collect()
    rss_data = rss_mb("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak RSS
    except OSError:
        pass
    start = time.perf_counter()
    boot = n_boot > 0
    if engine == "evaluation":
        sys.path.insert(0, str(HERE.parent))
        from evaluation.methods.estimators import aggte, att_gt

        res = att_gt(frame, "y", "period", "unit", "cohort", covariates=["x"], method="dr",
                     n_boot=n_boot, seed=1)
        overall = aggte(res, "simple", n_boot=n_boot, seed=1).overall_att
        table = res.table
        est = {(int(g), int(t)): float(a) for g, t, a in zip(table["group"], table["time"], table["att"])}
        version = "project"
    elif engine == "moderndid":
        import moderndid

        res = moderndid.att_gt(frame, yname="y", tname="period", idname="unit", gname="cohort",
                               xformla="~x", est_method="dr", boot=boot, biters=max(n_boot, 1),
                               random_state=1)
        overall = moderndid.aggte(res, type="simple", boot=boot, biters=max(n_boot, 1), random_state=1).overall_att
        est = {(int(g), int(t)): float(a) for g, t, a in zip(res.groups, res.times, res.att_gt)}
        version = moderndid.__version__
    elif engine == "diff-diff":
        import diff_diff

        model = diff_diff.CallawaySantAnna(estimation_method="dr", n_bootstrap=n_boot, seed=1)
        res = model.fit(frame, outcome="y", unit="unit", time="period", first_treat="cohort", covariates=["x"])
        overall = res.overall_att  # the simple aggregation, computed by fit
        est = {(int(g), int(t)): float(v["effect"]) for (g, t), v in res.group_time_effects.items()}
        version = diff_diff.__version__
    elif engine == "csdid":
        from importlib.metadata import version as v

        from csdid.att_gt import ATTgt

        model = ATTgt(yname="y", tname="period", idname="unit", gname="cohort", data=frame, xformla="y~x",
                      biters=max(n_boot, 1))
        res = model.fit(est_method="dr", bstrap=boot)
        agg = res.aggte(typec="simple", bstrap=boot, biters=max(n_boot, 1))
        overall = agg.atte["overall_att"] if hasattr(agg, "atte") else float("nan")
        out = res.results
        est = {(int(g), int(t)): float(a) for g, t, a in zip(out["group"], out["year"], out["att"])}
        version = v("csdid")
    elif engine == "differences":
        from importlib.metadata import version as v

        import differences

        frame["cohort"] = frame["cohort"].where(frame["cohort"] > 0)  # differences: NaN = never treated
        model = differences.ATTgt(data=frame.set_index(["unit", "period"]), cohort_column="cohort")
        out = model.fit(formula="y ~ x", est_method="dr", boot_iterations=n_boot, random_state=1,
                        progress_bar=False)
        table = out.to_pandas()
        att = table.xs("ATT", axis=1, level=-1).iloc[:, 0] if table.columns.nlevels > 1 else table["ATT"]
        att = att.reset_index()
        est = {(int(g), int(t)): float(a) for g, t, a in zip(att["cohort"], att["time"], att.iloc[:, -1])}
        overall = float("nan")  # (aggregation not timed for differences)
        version = v("differences")
    else:
        raise ValueError(engine)
    seconds = time.perf_counter() - start
    return {"engine": engine, "version": version, "seconds": seconds, "peak_mb": rss_mb("VmHWM"),
            "data_mb": rss_data, "frame_mb": frame_mb, "overall": float(overall),
            "estimates": {f"{g},{t}": a for (g, t), a in est.items()}}


def _import(engine: str) -> None:
    if engine == "evaluation":
        sys.path.insert(0, str(HERE.parent))
        import evaluation.methods.estimators  # noqa: F401
    else:
        import importlib

        importlib.import_module({"diff-diff": "diff_diff", "csdid": "csdid.att_gt"}.get(engine, engine))


def child(engine: str, data_path: str, n_boot: int, args) -> dict:
    python = sys.executable if engine == "evaluation" else str(peer_python(PEER_VENV, PEERS))
    code = (f"import sys; sys.path.insert(0, {str(HERE)!r}); import json, staggered_benchmark as b; "
            f"print('RESULT' + json.dumps(b.run_engine({engine!r}, {data_path!r}, {n_boot})))")
    stdout, stderr, error = run_guarded([python, "-c", code], args.timeout, args.max_rss_gb * 1024, args.threads)
    if error:
        return {"engine": engine, "error": error}
    for line in stdout.splitlines():
        if line.startswith("RESULT"):
            return json.loads(line[6:])
    tail = (stderr or stdout).strip().splitlines()[-1:] or ["no output"]
    return {"engine": engine, "error": tail[0][:160]}


def median_run(engine: str, data_path: str, n_boot: int, args) -> dict:
    """``args.repeat`` runs in fresh processes: the run with the median time, with all the times."""
    results = []
    for _ in range(args.repeat):
        result = child(engine, data_path, n_boot, args)
        if "error" in result:
            return result
        results.append(result)
    results.sort(key=lambda r: r["seconds"])
    return dict(results[len(results) // 2], runs=[round(r["seconds"], 2) for r in results])


def compare(ours: dict, theirs: dict) -> float:
    common = set(ours) & set(theirs)
    if not common:
        return float("nan")
    return max(abs(ours[k] - theirs[k]) for k in common)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--cohorts", type=int, nargs="+", default=[3, 4, 5, 6, 7, 8],
                        help="first treated periods (1..10) besides the never treated")
    parser.add_argument("--engines", nargs="+", default=ENGINES)
    parser.add_argument("--boot", type=int, default=999)
    parser.add_argument("--timeout", type=float, default=240.0,
                        help="seconds per run; a peer that exceeds it is reported as such")
    parser.add_argument("--max-rss-gb", type=float, default=12.0, help="memory watchdog, per run")
    parser.add_argument("--threads", type=int, default=None,
                        help="thread count (BLAS, OpenMP, numba, rayon) for every engine; default: theirs")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each (engine, size, draws), each in a fresh process; the median is reported")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    rows = []
    skipped: set[str] = set()  # peers that timed out or hit the watchdog are not run again
    with tempfile.TemporaryDirectory() as tmp:
        for units in args.units:
            path = Path(tmp) / f"panel_{units}.npz"
            simulate(units, path, args.cohorts)
            for n_boot in (0, args.boot):
                reference = None
                for engine in args.engines:
                    if engine in skipped:
                        result = {"engine": engine, "error": "skipped (stopped in an earlier run)"}
                    else:
                        result = median_run(engine, str(path), n_boot, args)
                        if result.get("error", "").startswith(("timeout", "stopped")):
                            skipped.add(engine)
                    result.update(units=units, n_boot=n_boot)
                    if engine == "evaluation" and "estimates" in result:
                        reference = result
                    if reference is not None and "estimates" in result:
                        result["max_abs_diff"] = compare(reference["estimates"], result["estimates"])
                        result["overall_diff"] = abs(result["overall"] - reference["overall"])
                        result["ratio"] = result["seconds"] / reference["seconds"]
                        result["n_cells"] = len(result["estimates"])
                    rows.append(result)
                    print(json.dumps({k: v for k, v in result.items() if k != "estimates"}), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    print()
    print(f"att_gt (dr, 1 covariate) + aggte simple, {PERIODS} periods, cohorts {args.cohorts} and never treated; "
          f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"threads per engine: {args.threads or 'default'}")
    print()
    print("| units | draws | engine | version | seconds | x ours | peak RSS (MB) | RSS with data (MB) | "
          "data frame (MB) | peak / frame | ATT(g,t) | max abs diff ATT(g,t) | abs diff simple ATT |")
    print("|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        if "error" in r:
            print(f"| {r['units']:,} | {r['n_boot']} | {r['engine']} | | {r['error']} | | | | | | | | |")
            continue
        print(f"| {r['units']:,} | {r['n_boot']} | {r['engine']} | {r['version']} | {r['seconds']:.2f} | "
              f"{r.get('ratio', float('nan')):.1f} | {r['peak_mb']:.0f} | {r['data_mb']:.0f} | {r['frame_mb']:.0f} | "
              f"{r['peak_mb'] / r['frame_mb']:.2f} | {r.get('n_cells', '')} | "
              f"{r.get('max_abs_diff', float('nan')):.1e} | {r.get('overall_diff', float('nan')):.1e} |")
    print()
    for units in args.units:
        ours = {r["n_boot"]: r for r in rows if r["engine"] == "evaluation" and r["units"] == units and "seconds" in r}
        if 0 in ours and args.boot in ours:
            print(f"ours at {units:,} units: {args.boot} draws take {ours[args.boot]['seconds'] / ours[0]['seconds']:.2f}x "
                  f"the analytic time (seconds of each run: analytic {ours[0]['runs']}, draws {ours[args.boot]['runs']})")


if __name__ == "__main__":
    main()
