"""Dose-response (continuous-treatment DiD): evaluation.methods.dose_response against
diff-diff's ContinuousDiD, on the same data: estimate agreement and time.

Data: (1) the default synthetic data's Linea A and Linea B (unsuccessful applicants as
dose 0, grant intensity in percent of pre-call turnover as dose, the long difference of
log turnover), (2) generated firms (``--units``, a concave dose-response, doses uniform on
[0.1, 1], a third of the units at dose 0). diff-diff takes a panel: each firm becomes two
periods (1: the pre-call mean of the log outcome, 2: the post-start mean), first treated
in period 2 if funded, never (0) if not, so its 2x2 is exactly our long difference.

Both sides use the same sieve, fixed (no cross-validation: diff-diff has none): a cubic
B-spline on the dose itself (diff-diff has no log scale) with ``--knots`` interior knots
at quantiles of the treated doses, no covariates (unconditional parallel trends), the same
dose grid (``dvals``), analytic standard errors (diff-diff ``n_bootstrap=0``; ours are
influence-function ones, by unit, times ``sqrt(G / (G - 1))``, which diff-diff does not apply:
the standard errors differ by that factor, about 1 + 1/(2G)). Reported: the largest absolute difference of ATT(d),
ACRT(d) and their standard errors over the grid, of the overall ATT and ACRT and theirs,
and the fit times (median of ``--repeat`` runs, in-process, after one warm-up) with their
ratio.

diff-diff is not a project dependency: it lives in ``benchmarks/.venv-dose``, created on
first use (``benchmarks/peers.py``; needs PyPI). Run from the repository root:

    PYTHONPATH=$PWD .venv/bin/python benchmarks/dose_response_benchmark.py [--units 1000 10000 100000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from peers import peer_python  # benchmarks/peers.py (this folder is on sys.path when run as a script)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEER_VENV = HERE / ".venv-dose"
PEERS = ["diff-diff", "pandas", "numpy"]

PEER_SCRIPT = r"""
import json, sys, time, warnings
import numpy as np, pandas as pd
import diff_diff
from diff_diff import ContinuousDiD
warnings.simplefilter("ignore")
frame = pd.read_csv(sys.argv[1])
spec = json.loads(sys.argv[2])
panel = pd.concat([
    pd.DataFrame({"unit": frame["unit"], "time": 1, "y": frame["pre"], "first_treat": np.where(frame["dose"] > 0, 2, 0), "dose": frame["dose"]}),
    pd.DataFrame({"unit": frame["unit"], "time": 2, "y": frame["post"], "first_treat": np.where(frame["dose"] > 0, 2, 0), "dose": frame["dose"]}),
], ignore_index=True)
def fit():
    model = ContinuousDiD(degree=3, num_knots=spec["knots"], dvals=np.array(spec["grid"]), n_bootstrap=0)
    return model.fit(panel, outcome="y", unit="unit", time="time", first_treat="first_treat", dose="dose")
fit()
times = []
for _ in range(spec["repeat"]):
    t0 = time.perf_counter(); r = fit(); times.append(time.perf_counter() - t0)
print(json.dumps({"version": diff_diff.__version__, "seconds": float(np.median(times)),
                  "att": list(map(float, r.dose_response_att.effects)), "att_se": list(map(float, r.dose_response_att.se)),
                  "acrt": list(map(float, r.dose_response_acrt.effects)), "acrt_se": list(map(float, r.dose_response_acrt.se)),
                  "att_o": float(r.overall_att), "att_o_se": float(r.overall_att_se),
                  "acrt_o": float(r.overall_acrt), "acrt_o_se": float(r.overall_acrt_se)}))
"""


def default_frames() -> dict[str, pd.DataFrame]:
    """Linea A and B of the default data: unit, dose (percent), pre and post mean log turnover."""
    from evaluation.data.contract import load_study_data
    from evaluation.study import dose as dr

    data = load_study_data(ROOT / "data" / "default")
    out = {}
    for line in ("A", "B"):
        frame, _ = dr.firm_frame(data, line, ["turnover_eur"])
        frame = frame.dropna(subset=["dose", "change_turnover_eur"])
        out[f"Linea {line} (default data)"] = pd.DataFrame({"unit": frame["firm_id"], "dose": frame["dose"], "pre": 0.0,
                                                            "post": frame["change_turnover_eur"]})
    return out


def generated(units: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    treated = rng.uniform(size=units) < 2 / 3
    dose = np.where(treated, rng.uniform(0.1, 1.0, units), 0.0)
    pre = rng.normal(0, 1, units)
    post = pre + 0.3 + np.where(treated, 0.3 * dose / (dose + 0.2), 0.0) + rng.normal(0, 0.5, units)
    return pd.DataFrame({"unit": np.arange(units), "dose": dose, "pre": pre, "post": post})


def ours(frame: pd.DataFrame, knots: int, grid: np.ndarray, repeat: int) -> dict:
    from evaluation.methods.dose_response import dose_response

    data = frame.assign(dy=frame["post"] - frame["pre"])

    def fit():
        return dose_response(data, "dose", "dy", knots=knots, grid=grid, bootstrap=0)

    fit()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = fit()
        times.append(time.perf_counter() - t0)
    agg = r.aggregate.set_index("measure")
    return {"seconds": float(np.median(times)), "att": r.curve["att"].to_numpy(), "att_se": r.curve["att_se"].to_numpy(),
            "acrt": r.curve["acrt"].to_numpy(), "acrt_se": r.curve["acrt_se"].to_numpy(),
            "att_o": agg.loc["ATT^o", "estimate"], "att_o_se": agg.loc["ATT^o", "se"],
            "acrt_o": agg.loc["ACRT^o", "estimate"], "acrt_o_se": agg.loc["ACRT^o", "se"]}


def peer(python: Path, frame: pd.DataFrame, knots: int, grid: np.ndarray, repeat: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
        frame.to_csv(f, index=False)
    spec = json.dumps({"knots": knots, "grid": list(map(float, grid)), "repeat": repeat})
    done = subprocess.run([str(python), "-c", PEER_SCRIPT, f.name, spec], capture_output=True, text=True)
    Path(f.name).unlink()
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(name: str, frame: pd.DataFrame, knots: int, python: Path, repeat: int) -> dict:
    doses = frame.loc[frame["dose"] > 0, "dose"]
    grid = np.linspace(*np.quantile(doses, (0.1, 0.9)), 25)
    a, b = ours(frame, knots, grid, repeat), peer(python, frame, knots, grid, repeat)
    row = {"data": name, "units": len(frame), "knots": knots}
    for key in ("att", "att_se", "acrt", "acrt_se"):
        row[f"max abs diff {key}(d)"] = float(np.max(np.abs(np.asarray(a[key]) - np.asarray(b[key]))))
    for key in ("att_o", "att_o_se", "acrt_o", "acrt_o_se"):
        row[f"abs diff {key}"] = float(abs(a[key] - b[key]))
    row["ours, s"], row["diff-diff, s"] = a["seconds"], b["seconds"]
    row["time ratio (diff-diff / ours)"] = b["seconds"] / a["seconds"]
    row["diff-diff version"] = b["version"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, nargs="*", default=[1000, 10000, 100000])
    parser.add_argument("--knots", type=int, nargs="*", default=[0, 2])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    python = peer_python(PEER_VENV, PEERS)
    sets = default_frames() if (ROOT / "data" / "default").exists() else {}
    sets.update({f"generated, {n:,} units": generated(n) for n in args.units})
    rows = [compare(name, frame, k, python, args.repeat) for name, frame in sets.items() for k in args.knots]
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    cells = [[f"{v:,}" if isinstance(v, (int, np.integer)) else f"{v:.3g}" if isinstance(v, float) else str(v) for v in row]
             for row in table.itertuples(index=False)]
    print("| " + " | ".join(table.columns) + " |\n|" + "---|" * len(table.columns), file=sys.stderr)
    print("\n".join("| " + " | ".join(row) + " |" for row in cells), file=sys.stderr)


if __name__ == "__main__":
    main()
