"""Unbalanced-panel att_gt: evaluation.methods.estimators.att_gt against moderndid (a Python port of R did).

Data: ``tests/methods/reference/mpdta.csv`` with a deterministic 15% of its rows dropped
(``numpy.random.default_rng(20240607).random(n) < 0.15``), so units have gaps, late
entries and early exits. Both sides estimate every ATT(g,t) with the unbalanced-panel
estimator (R did's ``allow_unbalanced_panel = TRUE``): ``est_method`` dr, ipw and reg;
never-treated and not-yet-treated comparison units; without covariates and with
``lpop``; varying base period; analytic standard errors.

The peer is called with ``panel=False, allow_unbalanced_panel=True`` and ``idname``: R
did turns ``panel=TRUE, allow_unbalanced_panel=TRUE`` on an unbalanced panel into exactly
that internally (``panel <- FALSE``, ``true_repeated_cross_sections <- FALSE``: the
repeated-cross-section 2x2s with influence functions summed by id). moderndid 0.2.0
keeps ``panel=True`` in that case and then fails (its unbalanced path reads the balanced
panel's outcome tensor, which it did not build), so the equivalent call is used.

moderndid is not a project dependency: it lives in its own virtualenv (default
``/tmp/peer-venvs/moderndid``, created on first use with ``benchmarks/peers.py``). The
peer's numbers are written to ``tests/methods/reference/moderndid_<version>_mpdta_unbalanced_attgt.csv``
(the reference of ``tests/methods/test_staggered_unbalanced.py``), and the largest absolute
differences to ours are printed. Run from the repository root with the project's interpreter:

    .venv/bin/python benchmarks/unbalanced_parity.py [--venv /tmp/peer-venvs/moderndid]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from peers import peer_python  # benchmarks/peers.py (this folder is on sys.path when run as a script)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REFERENCE = ROOT / "tests" / "reference"
PEER = "moderndid==0.2.0"
DROP_SEED, DROP_SHARE = 20240607, 0.15
METHODS = ["dr", "ipw", "reg"]
CONTROLS = {"nevertreated": "never", "notyettreated": "not_yet"}
COVARIATES = {"none": None, "lpop": "lpop"}


def unbalanced_mpdta() -> pd.DataFrame:
    """mpdta without a deterministic random 15% of its rows (same rule as the test)."""
    mpdta = pd.read_csv(REFERENCE / "mpdta.csv")
    drop = np.random.default_rng(DROP_SEED).random(len(mpdta)) < DROP_SHARE
    return mpdta[~drop].reset_index(drop=True)


PEER_SCRIPT = r"""
import json, sys, warnings
import pandas as pd
import moderndid

warnings.simplefilter("ignore")
data = pd.read_csv(sys.argv[1])
rows = []
for method in ("dr", "ipw", "reg"):
    for control in ("nevertreated", "notyettreated"):
        for cov in ("none", "lpop"):
            res = moderndid.att_gt(data, yname="lemp", tname="year", idname="countyreal",
                                   gname="first.treat", xformla=None if cov == "none" else "~lpop",
                                   control_group=control, est_method=method, panel=False,
                                   allow_unbalanced_panel=True, boot=False)
            for g, t, a, s in zip(res.groups, res.times, res.att_gt, res.se_gt):
                rows.append(dict(method=method, control=control, covariates=cov, group=int(g),
                                 time=int(t), att=float(a), se=float(s)))
json.dump({"version": moderndid.__version__, "rows": rows}, open(sys.argv[2], "w"))
"""


def run_peer(python: Path, data: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    with tempfile.TemporaryDirectory() as tmp:
        data_path, out_path = Path(tmp) / "data.csv", Path(tmp) / "out.json"
        data.to_csv(data_path, index=False)
        subprocess.run([str(python), "-c", PEER_SCRIPT, str(data_path), str(out_path)], check=True)
        out = json.loads(out_path.read_text())
    return out["version"], pd.DataFrame(out["rows"])


def ours(data: pd.DataFrame) -> pd.DataFrame:
    sys.path.insert(0, str(ROOT))
    from evaluation.methods.estimators import att_gt

    rows = []
    for method in METHODS:
        for control, ours_control in CONTROLS.items():
            for cov, column in COVARIATES.items():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    res = att_gt(data, "lemp", "year", "countyreal", "first.treat",
                                 covariates=[column] if column else None, control=ours_control,
                                 method=method, allow_unbalanced_panel=True)
                table = res.table
                rows += [dict(method=method, control=control, covariates=cov, group=int(g), time=int(t),
                              att=float(a), se=float(s))
                         for g, t, a, s in zip(table["group"], table["time"], table["att"], table["se"])]
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=Path("/tmp/peer-venvs/moderndid"))
    args = parser.parse_args()
    data = unbalanced_mpdta()
    print(f"unbalanced mpdta: {len(data)} of 2500 rows, {data['countyreal'].nunique()} counties")
    version, peer = run_peer(peer_python(args.venv, [PEER]), data)
    target = REFERENCE / f"moderndid_{version}_mpdta_unbalanced_attgt.csv"
    peer.to_csv(target, index=False, float_format="%.17g")
    print(f"wrote {target.relative_to(ROOT)} ({len(peer)} rows)")
    key = ["method", "control", "covariates", "group", "time"]
    both = ours(data).merge(peer, on=key, suffixes=("", "_peer"), how="outer", indicator=True)
    if (both["_merge"] != "both").any():
        print("cells reported by one side only:\n", both[both["_merge"] != "both"][key + ["_merge"]])
    both = both[both["_merge"] == "both"]
    both["d_att"] = (both["att"] - both["att_peer"]).abs()
    both["rel_se"] = (both["se"] / both["se_peer"] - 1).abs()
    summary = both.groupby(["method", "control", "covariates"])[["d_att", "rel_se"]].max()
    print(summary.to_string(float_format=lambda v: f"{v:.2e}"))
    print(f"max |att - peer| = {both['d_att'].max():.2e}; max |se/peer - 1| = {both['rel_se'].max():.2e}")


if __name__ == "__main__":
    main()
