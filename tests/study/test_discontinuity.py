"""Regression discontinuity at the funding threshold (``evaluation.study.discontinuity``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.data.contract import load_study_data
from evaluation.methods.errors import DesignError
from evaluation.study import discontinuity as dc
from evaluation.study.design import load_truth


def _projects(rng, n=200, jump=0.3, slope=0.02, noise=0.1, line="A"):
    x = np.round(rng.uniform(-20, 20, n), 2)
    return pd.DataFrame({"line": line, "project_id": [f"{line}-{i}" for i in range(n)], "x": x,
                         "funded": (x >= 0).astype(int), "firms": 2,
                         "y": slope * x + jump * (x >= 0) + rng.normal(scale=noise, size=n)})


def test_known_jump_is_covered_by_the_robust_interval():
    """Local linear data with a jump of 0.3: estimates centre on it and the robust 95%
    interval covers it in most of 40 samples (rdrobust's own guarantee is asymptotic)."""
    rng = np.random.default_rng(5)
    results = [dc.jump(_projects(rng), "y") for _ in range(40)]
    est = np.array([r["estimate"] for r in results])
    covered = np.mean([r["ci_low"] <= 0.3 <= r["ci_high"] for r in results])
    assert abs(est.mean() - 0.3) < 0.03
    assert covered >= 0.85
    assert all(r["design"] == "sharp" and r["projects_left"] >= dc.MIN_PROJECTS_SIDE for r in results)
    assert results[0]["mde80"] == pytest.approx(2.8016 * results[0]["se"], rel=1e-3)


def test_no_jump_no_detection_and_continuity_check_passes():
    rng = np.random.default_rng(6)
    ps = [dc.jump(_projects(rng, jump=0.0), "y")["p"] for _ in range(30)]
    assert np.mean(np.array(ps) < 0.05) <= 0.15


def test_too_few_projects_on_one_side_is_not_estimable():
    frame = _projects(np.random.default_rng(1))
    few = pd.concat([frame[frame["x"] >= 0], frame[frame["x"] < 0].head(dc.MIN_PROJECTS_SIDE - 1)])
    with pytest.raises(DesignError, match="at least 10 distinct scores on each side"):
        dc.jump(few, "y", what="Linea B")
    with pytest.raises(DesignError, match="Linea B"):
        dc.density_test(few, "Linea B")


def test_broken_rule_makes_the_design_fuzzy_and_gap_widens_the_window():
    rng = np.random.default_rng(2)
    frame = _projects(rng, n=300)
    flip = frame.index[(frame["x"] > 0) & (frame["x"] < 3)][:3]
    frame.loc[flip, "funded"] = 0
    assert dc.jump(frame, "y")["design"] == "fuzzy"
    gap = _projects(rng)
    gap = gap[gap["x"].abs() > 4]  # no score near the threshold, as in the synthetic data
    res = dc.jump(gap, "y")
    assert res["h"] > 4 and res["projects_left"] >= dc.MIN_PROJECTS_SIDE


def test_synthetic_data_support_rd_and_the_estimate_covers_the_truth(default_data):
    """The generator's scores depend on firm quality only, and outcomes on quality through
    the firm effect, so the change and the pre-call levels are continuous at the
    threshold; the robust interval for the change covers the truth near the cutoff."""
    data, truth = load_study_data(default_data), load_truth(default_data)
    frame = dc.project_frame(data, "A", 60.0, ["turnover_eur"], truth)
    assert len(frame) == 113 and frame["firms"].sum() == len(data.applications.query("line == 'A'"))
    assert ((frame["x"] >= 0) == (frame["funded"] == 1)).all()
    table, missed = dc.rd_table(frame, ["turnover_eur"], "Linea A")
    change = table[table["measure"] == dc.MEASURES["change"]].iloc[0]
    assert change["ci_low"] <= change["truth"] <= change["ci_high"]
    pre = table[table["measure"] == dc.MEASURES["pre"]].iloc[0]
    assert pre["p"] > 0.05
    assert dc.density_test(frame, "Linea A")["p"] > 0.05
    sens = dc.bandwidth_sensitivity(frame, "turnover_eur", "Linea A")
    assert list(sens["factor"]) == [0.5, 0.75, 1.0, 1.5, 2.0]
