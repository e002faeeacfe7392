"""att_gt(..., allow_unbalanced_panel=True): R did's unbalanced-panel estimator.

References (tests/methods/reference/, see its README):
* ``moderndid_0.2.0_mpdta_unbalanced_attgt.csv``: moderndid 0.2.0 (a Python port of R did)
  on mpdta without a deterministic 15% of its rows (``unbalanced_mpdta`` below), every
  ``est_method`` and control group, without covariates and with ``lpop``, analytic SEs;
  made by ``benchmarks/unbalanced_parity.py``.

Convention of the Monte Carlo: the estimand is the "simple" aggregate of R did's ``aggte``
with the population cohort shares (ATT(g,t) weighted by P(G = g) over post-treatment
cells); the interval is the analytic one, whose influence function includes the
estimation of the shares.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluation.methods.estimators import aggte, att_gt
from evaluation.methods.estimators.staggered import StaggeredWarning
from evaluation.methods.estimators.staggered.group_time import _unbalanced_cells
from evaluation.methods.estimators.staggered.preparation import _prepare_unbalanced

REFERENCE = Path(__file__).parent / "reference"
DROP_SEED, DROP_SHARE = 20240607, 0.15  # as benchmarks/unbalanced_parity.py


@pytest.fixture(scope="module")
def mpdta():
    return pd.read_csv(REFERENCE / "mpdta.csv")


@pytest.fixture(scope="module")
def unbalanced(mpdta):
    drop = np.random.default_rng(DROP_SEED).random(len(mpdta)) < DROP_SHARE
    out = mpdta[~drop].reset_index(drop=True)
    assert len(out) == 2108  # the sample of the reference file
    return out


def fit(data, **kw):
    kw.setdefault("allow_unbalanced_panel", True)
    return att_gt(data, "lemp", "year", "countyreal", "first.treat", **kw)


def simulated(seed: int, n: int = 400, T: int = 6) -> pd.DataFrame:
    """Unbalanced staggered panel with a known ATT(g,t) = 1 + 0.5 (t - g).

    Cohorts 3 and 5 (30% each) and never treated (40%); the covariate x is shifted by
    cohort (selection on x) and shifts trends (0.4 x t), so only the conditional parallel
    trends hold; unit levels depend on x. Units enter in period 1-3, exit in period
    T-2..T, and miss 10% of the remaining periods at random (missing completely at random).
    """
    rng = np.random.default_rng(seed)
    g = rng.choice([0, 3, 5], size=n, p=[0.4, 0.3, 0.3])
    x = rng.normal(size=n) + 0.5 * (g == 3) - 0.5 * (g == 5)
    level = rng.normal(size=n) + x
    entry = rng.choice([1, 2, 3], size=n, p=[0.6, 0.2, 0.2])
    exit_ = rng.choice([T, T - 1, T - 2], size=n, p=[0.6, 0.2, 0.2])
    unit, t = np.repeat(np.arange(n), T), np.tile(np.arange(1, T + 1), n)
    gg, xx = np.repeat(g, T), np.repeat(x, T)
    effect = np.where((gg > 0) & (t >= gg), 1.0 + 0.5 * (t - gg), 0.0)
    y = np.repeat(level, T) + 0.3 * t + 0.4 * xx * t + effect + rng.normal(size=n * T)
    seen = (t >= np.repeat(entry, T)) & (t <= np.repeat(exit_, T)) & (rng.random(n * T) > 0.1)
    return pd.DataFrame({"unit": unit, "t": t, "y": y, "g": gg, "x": xx})[seen]


# Simple aggregate with population shares: cells (3,3..6) and (5,5..6), equal shares.
TRUE_SIMPLE = (1.0 + 1.5 + 2.0 + 2.5 + 1.0 + 1.5) / 6


# --------------------------------------------------------------------------- known truth


def test_unbiased_and_covers_in_simulation():
    estimates, ses, hits = [], [], 0
    for seed in range(200):
        panel = simulated(seed)
        res = att_gt(panel, "y", "t", "unit", "g", covariates=["x"], allow_unbalanced_panel=True)
        agg = aggte(res, "simple")
        estimates.append(agg.overall_att)
        ses.append(agg.overall_se)
        hits += abs(agg.overall_att - TRUE_SIMPLE) <= 1.959964 * agg.overall_se
    estimates, ses = np.array(estimates), np.array(ses)
    mc_se = estimates.std(ddof=1) / np.sqrt(len(estimates))
    assert abs(estimates.mean() - TRUE_SIMPLE) < 3 * mc_se
    assert 0.85 < ses.mean() / estimates.std(ddof=1) < 1.15  # analytic SE ~ sampling sd
    assert 180 <= hits <= 199  # 95% nominal; P(outside | p = 0.95, n = 200) < 0.002


def test_simulated_panel_is_unbalanced_and_uses_every_unit():
    panel = simulated(0)
    res = att_gt(panel, "y", "t", "unit", "g", covariates=["x"], allow_unbalanced_panel=True)
    assert res.extra["panel_estimator"].startswith("unbalanced")
    assert res.extra["n_units"] == panel["unit"].nunique()
    assert res.nobs == len(panel)
    assert res.influence.shape == (panel["unit"].nunique(), len(res.table))


# --------------------------------------------------------------------------- R's balanced rule


def test_balanced_panel_runs_the_panel_estimator(mpdta):
    # R did >= 2.2: "You have a balanced panel. Setting allow_unbalanced_panel = FALSE."
    for kw in ({}, {"covariates": ["lpop"], "method": "ipw", "control": "not_yet"},
               {"base_period": "universal", "method": "reg"}):
        panel = fit(mpdta, allow_unbalanced_panel=False, **kw)
        flagged = fit(mpdta, **kw)
        pd.testing.assert_frame_equal(flagged.table, panel.table, check_exact=True)
        np.testing.assert_array_equal(flagged.influence, panel.influence)
        assert flagged.extra["panel_estimator"].startswith("balanced panel")
    assert "panel_estimator" not in panel.extra  # the default result is unchanged


def test_balance_is_checked_after_dropping_first_period_cohorts(mpdta):
    # As R: units treated in the first period are dropped before the balance check, so a
    # gap in one of them leaves a balanced panel.
    early = mpdta.copy()
    early.loc[early["countyreal"] == 8001, "first.treat"] = 2003
    early = early[~((early["countyreal"] == 8001) & (early["year"] == 2005))]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fit(early)
    assert [w.category for w in caught] == [StaggeredWarning]  # no UnbalancedPanelWarning
    assert res.extra["panel_estimator"].startswith("balanced panel")
    assert res.extra["dropped_units"] == {"treated_first_period": 1}
    expected = fit(mpdta[mpdta["countyreal"] != 8001], allow_unbalanced_panel=False)
    pd.testing.assert_frame_equal(res.table, expected.table)


def test_unbalanced_path_on_a_balanced_panel_equals_the_panel_estimator_without_covariates(mpdta):
    # Without covariates the repeated-cross-section 2x2 on a balanced panel is the panel 2x2,
    # and the per-observation influence function summed within units is the panel one: a
    # check of the n/N scaling and of the aggregation by unit.
    for method in ("dr", "ipw", "reg"):
        for control in ("never", "not_yet"):
            long = _prepare_unbalanced(mpdta, "lemp", "year", "countyreal", "first.treat",
                                       None, control, 0, None, None, force_long=True)
            rows, IF = _unbalanced_cells(long, method, control, "varying", 0)
            panel = fit(mpdta, allow_unbalanced_panel=False, method=method, control=control)
            np.testing.assert_allclose([r[2] for r in rows], panel.table["att"], rtol=0, atol=1e-13)
            np.testing.assert_allclose(IF, panel.influence, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- peer parity


@pytest.mark.parametrize("method", ["dr", "ipw", "reg"])
@pytest.mark.parametrize("control", ["nevertreated", "notyettreated"])
@pytest.mark.parametrize("covariates", ["none", "lpop"])
def test_agrees_with_moderndid(unbalanced, method, control, covariates):
    ref = pd.read_csv(REFERENCE / "moderndid_0.2.0_mpdta_unbalanced_attgt.csv")
    ref = ref[(ref["method"] == method) & (ref["control"] == control) & (ref["covariates"] == covariates)]
    res = fit(unbalanced, method=method, control="never" if control == "nevertreated" else "not_yet",
              covariates=None if covariates == "none" else ["lpop"])
    assert res.extra["panel_estimator"].startswith("unbalanced")
    table = res.table.set_index(["group", "time"])
    ref = ref.set_index(["group", "time"])
    assert len(table) == len(ref)
    np.testing.assert_allclose(table.loc[ref.index, "att"], ref["att"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(table.loc[ref.index, "se"], ref["se"], rtol=1e-6)


# --------------------------------------------------------------------------- properties


@pytest.fixture(scope="module")
def base(unbalanced):
    return fit(unbalanced, covariates=["lpop"], control="not_yet")


def test_invariant_to_relabelling_units(unbalanced, base):
    ids = unbalanced["countyreal"].unique()
    relabel = dict(zip(ids, np.random.default_rng(1).permutation(len(ids)) + 10_000))
    shuffled = unbalanced.assign(countyreal=unbalanced["countyreal"].map(relabel)).sample(frac=1, random_state=2)
    res = fit(shuffled, covariates=["lpop"], control="not_yet")
    np.testing.assert_allclose(res.table["att"], base.table["att"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.table["se"], base.table["se"], rtol=1e-10)
    assert aggte(res, "dynamic").overall_se == pytest.approx(aggte(base, "dynamic").overall_se, rel=1e-10)


def test_invariant_to_a_constant_and_equivariant_to_scale(unbalanced, base):
    shifted = fit(unbalanced.assign(lemp=unbalanced["lemp"] + 5.0), covariates=["lpop"], control="not_yet")
    np.testing.assert_allclose(shifted.table["att"], base.table["att"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(shifted.table["se"], base.table["se"], rtol=1e-8)
    scaled = fit(unbalanced.assign(lemp=unbalanced["lemp"] * -3.0), covariates=["lpop"], control="not_yet")
    np.testing.assert_allclose(scaled.table["att"], -3.0 * base.table["att"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(scaled.table["se"], 3.0 * base.table["se"], rtol=1e-8)


def test_aggregation_bootstrap_cluster_and_pretest_work_unchanged(unbalanced, base):
    assert base.influence.shape == (unbalanced["countyreal"].nunique(), len(base.table))
    for kind in ("simple", "group", "dynamic", "calendar"):
        agg = aggte(base, kind)
        assert np.isfinite(agg.overall_att) and agg.overall_se > 0
    boot = fit(unbalanced, n_boot=499, seed=3)
    again = fit(unbalanced, n_boot=499, seed=3)
    pd.testing.assert_frame_equal(boot.table, again.table)
    assert np.allclose(boot.table["se"], fit(unbalanced).table["se"], rtol=0.2)
    by_unit = fit(unbalanced, cluster="countyreal")
    np.testing.assert_allclose(by_unit.table["se"], fit(unbalanced).table["se"], rtol=1e-12)
    assert base.pretest["df"] == 5 and 0 <= base.pretest["p"] <= 1


def test_unit_weights(unbalanced):
    plain = fit(unbalanced, covariates=["lpop"])
    doubled = fit(unbalanced.assign(w=2.0), covariates=["lpop"], weights="w")
    np.testing.assert_allclose(doubled.table["att"], plain.table["att"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(doubled.table["se"], plain.table["se"], rtol=1e-10)
    varying = unbalanced.assign(w=1.0 + (unbalanced["year"] == 2005))
    with pytest.raises(ValueError, match="constant within a unit"):
        fit(varying, weights="w")


def test_cell_without_observations_is_nan_and_aggregates_skip_it(unbalanced):
    # No county of the 2006 cohort observed in 2005: its cells with base or current period
    # 2005 have no group observations (R did: NA with a warning).
    gap = unbalanced[~((unbalanced["first.treat"] == 2006) & (unbalanced["year"] == 2005))]
    with pytest.warns(StaggeredWarning, match="no units of the group"):
        res = fit(gap)
    missing = res.table[res.table["att"].isna()]
    assert set(zip(missing["group"], missing["time"])) == {(2006, 2005), (2006, 2006), (2006, 2007)}
    assert np.isfinite(aggte(res, "simple").overall_att)
