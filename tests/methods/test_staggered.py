"""Staggered-adoption estimators against R ``did``, brute force and their own identities.

References (copied into tests/methods/reference/, see its README):
* ``r_did_2.5.0_mpdta_attgt.csv`` / ``..._aggte.csv``: R did 2.5.0 on mpdta, ``lemp``,
  no covariates, ``est_method="dr"``, never-treated and not-yet-treated controls,
  varying base period, analytic standard errors (``bstrap=FALSE``).
* ``moderndid_0.2.0_mpdta_lpop_attgt.csv``: moderndid 0.2.0 (a Python port of R did)
  on mpdta with ``xformla=~lpop``, every ``est_method`` and control group, analytic SEs.
  A cross-check of the covariate paths, not R itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
import pytest

from evaluation.methods.estimators import (
    aggte,
    att_gt,
    bacon,
    imputation,
    plot_staggered_event_study,
    sun_abraham,
    twfe,
)
from evaluation.methods.estimators.staggered import StaggeredWarning, UnbalancedPanelWarning

REFERENCE = Path(__file__).parent / "reference"
CONTROL = {"mpdta_nev_dr": "never", "mpdta_nyt_dr": "not_yet"}


@pytest.fixture(scope="module")
def mpdta():
    return pd.read_csv(REFERENCE / "mpdta.csv")


def fit(mpdta, **kw):
    return att_gt(mpdta, "lemp", "year", "countyreal", "first.treat", **kw)


def staggered_panel(n=400, T=8, seed=3, never_share=0.3):
    """Balanced panel, cohorts 3, 5, 7 and never treated, heterogeneous dynamic effects."""
    rng = np.random.default_rng(seed)
    g = rng.choice([0, 3, 5, 7], size=n, p=[never_share, (1 - never_share) / 3, (1 - never_share) / 3,
                                             (1 - never_share) / 3])
    x = rng.normal(size=n)
    unit = np.repeat(np.arange(n), T)
    t = np.tile(np.arange(1, T + 1), n)
    gg, xx = np.repeat(g, T), np.repeat(x, T)
    effect = np.where((gg > 0) & (t >= gg), 1.0 + 0.5 * (t - gg) + 0.2 * (gg == 3), 0.0)
    y = np.repeat(rng.normal(size=n), T) + 0.3 * t + 0.2 * xx * t + effect + rng.normal(size=n * T)
    return pd.DataFrame({"unit": unit, "t": t, "y": y, "g": gg, "x": xx, "pole": unit % 9})


# --------------------------------------------------------------------------- R did parity


@pytest.mark.parametrize("scenario", list(CONTROL))
def test_att_gt_equals_r_did_on_mpdta(mpdta, scenario):
    ref = pd.read_csv(REFERENCE / "r_did_2.5.0_mpdta_attgt.csv").query("scenario == @scenario")
    res = fit(mpdta, control=CONTROL[scenario])
    table = res.table.set_index(["group", "time"])
    ref = ref.set_index(["group", "t"])
    assert len(table) == len(ref)
    np.testing.assert_allclose(table.loc[ref.index, "att"], ref["att"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(table.loc[ref.index, "se"], ref["se"], rtol=1e-6)  # requirement: 1%


@pytest.mark.parametrize("scenario", list(CONTROL))
@pytest.mark.parametrize("kind", ["simple", "group", "dynamic", "calendar"])
def test_aggte_equals_r_did_on_mpdta(mpdta, scenario, kind):
    ref = pd.read_csv(REFERENCE / "r_did_2.5.0_mpdta_aggte.csv").query("scenario == @scenario and type == @kind")
    agg = aggte(fit(mpdta, control=CONTROL[scenario]), kind)
    assert agg.overall_att == pytest.approx(ref["overall_att"].iloc[0], abs=1e-8)
    assert agg.overall_se == pytest.approx(ref["overall_se"].iloc[0], rel=1e-6)
    if kind != "simple":
        np.testing.assert_allclose(agg.table["key"].astype(float), ref["egt"])
        np.testing.assert_allclose(agg.table["att"], ref["att_egt"], rtol=0, atol=1e-8)
        np.testing.assert_allclose(agg.table["se"], ref["se_egt"], rtol=1e-6)


def test_pretest_equals_r_did_printout(mpdta):
    # R did's README/vignette, att_gt(lemp, first.treat, xformla=~1, mpdta) summary:
    # "P-value for pre-test of parallel trends assumption: 0.16812" (R rounds to 5 digits).
    res = fit(mpdta)
    assert res.pretest["df"] == 5
    assert round(res.pretest["p"], 5) == 0.16812


@pytest.mark.parametrize("method", ["dr", "ipw", "reg"])
@pytest.mark.parametrize("control", ["nevertreated", "notyettreated"])
def test_covariates_agree_with_moderndid(mpdta, method, control):
    ref = pd.read_csv(REFERENCE / "moderndid_0.2.0_mpdta_lpop_attgt.csv")
    ref = ref[(ref["method"] == method) & (ref["control"] == control)].set_index(["group", "time"])
    res = fit(mpdta, covariates=["lpop"], method=method,
              control="never" if control == "nevertreated" else "not_yet")
    table = res.table.set_index(["group", "time"]).loc[ref.index]
    np.testing.assert_allclose(table["att"], ref["att"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(table["se"], ref["se"], rtol=1e-6)


# --------------------------------------------------------------------------- properties


def test_methods_coincide_without_covariates(mpdta):
    # Without covariates the propensity score and the regression are constants: dr = ipw = reg.
    base = fit(mpdta, method="dr").table
    for method in ("ipw", "reg"):
        other = fit(mpdta, method=method).table
        np.testing.assert_allclose(other["att"], base["att"], atol=1e-12)
        np.testing.assert_allclose(other["se"], base["se"], rtol=1e-10)


def test_dr_is_unbiased_and_covers_in_simulation():
    # Small Monte Carlo: covariate-dependent trends and selection; true ATT(3,3) = 1.2.
    hits, estimates = 0, []
    for seed in range(60):
        panel = staggered_panel(n=300, T=5, seed=seed)
        row = att_gt(panel, "y", "t", "unit", "g", covariates=["x"]).table.loc["ATT(3,3)"]
        estimates.append(row["att"])
        hits += row["ci_low"] <= 1.2 <= row["ci_high"]
    assert abs(np.mean(estimates) - 1.2) < 0.05
    assert hits >= 52  # 95% nominal; P(hits < 52 | p=0.95, n=60) < 0.01


def test_universal_base_period_and_sun_abraham(mpdta):
    res = fit(mpdta, base_period="universal")
    assert (res.table.query("time == group - 1")["att"] == 0).all()
    dyn = aggte(res, "dynamic").table.set_index("key")
    sa = sun_abraham(mpdta, "lemp", "countyreal", "year", "first.treat")
    # Saturated cohort x period TWFE with never-treated controls = CS with a universal base period.
    for term, row in sa.table.iterrows():
        assert row["estimate"] == pytest.approx(dyn.loc[int(term[2:]), "att"], abs=1e-10)
    assert "e=-1" not in sa.table.index


def test_multiplier_bootstrap_is_seeded_and_uniform(mpdta):
    a = fit(mpdta, n_boot=999, seed=11)
    b = fit(mpdta, n_boot=999, seed=11)
    pd.testing.assert_frame_equal(a.table, b.table)
    analytic = fit(mpdta).table
    assert np.allclose(a.table["se"], analytic["se"], rtol=0.15)
    assert a.extra["crit"] > 1.96
    assert ((a.table["ci_high"] - a.table["ci_low"]) > (analytic["ci_high"] - analytic["ci_low"])).all()
    agg = aggte(a, "dynamic", n_boot=999, seed=2)
    assert (agg.table["ci_high"] - agg.table["ci_low"] >= agg.table["ci_high_pointwise"]
            - agg.table["ci_low_pointwise"] - 1e-12).all()


def test_multiplier_signs_are_the_seeds_bytes():
    """The seed's meaning: the signs are ``default_rng(seed)``'s uniform bytes drawn
    ``BOOT_CHUNK`` rows at a time (drawn faster as 64-bit words where the sizes allow)."""
    from evaluation.methods.estimators.staggered.inference import BOOT_CHUNK, _multiplier_signs

    for n_rows in (1, 7, BOOT_CHUNK, BOOT_CHUNK + 3, 2 * BOOT_CHUNK + 1001):
        for n_boot in (1, 9, 999, 1000):
            rng = np.random.default_rng(3)
            nbytes = (n_boot + 7) // 8
            expected = [rng.integers(0, 256, size=(min(BOOT_CHUNK, n_rows - start), nbytes), dtype=np.uint8)
                        for start in range(0, n_rows, BOOT_CHUNK)]
            got = [signs for _, signs in _multiplier_signs(n_rows, n_boot, 3)]
            assert len(got) == len(expected)
            for a, b in zip(got, expected):
                np.testing.assert_array_equal(a, b)


def test_multiplier_draws_skip_zeros_but_equal_the_dense_product():
    """Draws from rows grouped by nonzero columns (rare patterns together, blocks of rows
    in any order, clusters) equal (1/n) V' psi computed densely in float64 from the same signs."""
    from evaluation.methods.estimators.staggered.inference import (
        SampleInfluence,
        _multiplier_draws,
        _multiplier_signs,
    )

    rng = np.random.default_rng(0)
    n, k, n_boot = 20_000, 7, 99
    IF = SampleInfluence(n, k)
    cohort = rng.integers(0, 4, n)
    for g in range(1, 4):  # each cohort's columns on its units and the never treated (cohort 0)
        rows = np.flatnonzero((cohort == g) | (cohort == 0))
        IF.add(rows, [2 * g - 2, 2 * g - 1][::-1], rng.normal(size=(rows.size, 2)))
    scattered = np.sort(rng.choice(n, 300, replace=False))  # few rows: a rare pattern
    IF.add(scattered, [6], rng.normal(size=(scattered.size, 1)))
    dense = IF.dense()
    dense[rng.choice(n, 400, replace=False)] = 0.0  # rows that are zero everywhere: a pattern of its own
    zeroed = SampleInfluence(n, k)
    zeroed.add(np.arange(n), range(k), dense)
    for cluster in (None, rng.integers(0, 5_000, n)):
        for matrix in (IF, zeroed):
            full = matrix.dense()
            psi = full if cluster is None else np.stack([np.bincount(cluster, weights=c) for c in full.T], 1)
            signs = np.concatenate([s for _, s in _multiplier_signs(psi.shape[0], n_boot, 8)])
            v = 2.0 * np.unpackbits(signs, axis=1, count=n_boot) - 1.0
            expected = v.T @ psi / n
            got = _multiplier_draws(matrix, cluster, n_boot, 8)
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6 * np.abs(expected).max())
            assert not np.allclose(got, _multiplier_draws(matrix, cluster, n_boot, 9))


def test_aggte_reuses_att_gt_draws_with_the_same_seed():
    """aggte after a bootstrapped att_gt with the same seed combines att_gt's draws; they
    are the draws it would make itself (equal up to float32 rounding), not new ones."""
    panel = staggered_panel(n=3000, seed=8)
    panel["wt"] = 0.5 + (panel["unit"] % 7) / 4  # sampling weights, constant within units
    kw = dict(y="y", time="t", unit="unit", cohort="g", covariates=["x"])
    for extra in ({}, {"cluster": "pole"}, {"control": "not_yet"}, {"weights": "wt"}):
        boot = att_gt(panel, n_boot=199, seed=5, **kw, **extra)
        assert boot.multiplier is not None and boot.multiplier.shares.shape == (199, 3)
        plain = att_gt(panel, **kw, **extra)
        for kind in ("simple", "group", "dynamic", "calendar"):
            reused, drawn = aggte(boot, kind, n_boot=199, seed=5), aggte(plain, kind, n_boot=199, seed=5)
            np.testing.assert_allclose(reused.table["se"], drawn.table["se"], rtol=1e-5)
            assert reused.overall_se == pytest.approx(drawn.overall_se, rel=1e-5)
            assert reused.extra["crit"] == pytest.approx(drawn.extra["crit"], rel=1e-5)
            other = aggte(boot, kind, n_boot=199, seed=6)
            assert not np.allclose(other.table["se"], drawn.table["se"], rtol=1e-3)


def test_cluster_at_unit_level_equals_unclustered(mpdta):
    plain = fit(mpdta).table
    clustered = fit(mpdta, cluster="countyreal").table
    np.testing.assert_allclose(clustered["se"], plain["se"], rtol=1e-12)
    coarse = fit(mpdta.assign(state=mpdta["countyreal"] // 1000), cluster="state")
    assert not np.allclose(coarse.table["se"], plain["se"])


def test_unbalanced_rule_drops_incomplete_units(mpdta):
    dropped = mpdta[~((mpdta["countyreal"] == 8001) & (mpdta["year"] == 2005))]
    with pytest.warns(UnbalancedPanelWarning, match="dropped 1 of 500 units"):
        res = fit(dropped)
    expected = fit(mpdta[mpdta["countyreal"] != 8001])
    pd.testing.assert_frame_equal(res.table, expected.table)
    assert res.extra["dropped_units"] == {"unbalanced": 1}


def test_cohort_conventions(mpdta):
    base = fit(mpdta).table
    missing = mpdta.assign(**{"first.treat": mpdta["first.treat"].replace(0, np.nan)})
    pd.testing.assert_frame_equal(fit(missing).table, base)
    late = mpdta.assign(**{"first.treat": mpdta["first.treat"].replace(0, 2050)})
    pd.testing.assert_frame_equal(fit(late).table, base)
    early = mpdta.copy()
    early.loc[early["countyreal"] == 8001, "first.treat"] = 2003
    with pytest.warns(StaggeredWarning, match="first period"):
        fit(early)


def test_result_serialises_deterministically(mpdta):
    res = fit(mpdta)
    a, b = json.dumps(res.to_dict(), sort_keys=True), json.dumps(fit(mpdta).to_dict(), sort_keys=True)
    assert a == b
    assert res.influence.shape == (500, 12)
    agg = aggte(res, "group")
    assert json.loads(json.dumps(agg.to_dict()))["overall_att"] == pytest.approx(agg.overall_att)


def test_bad_input(mpdta):
    with pytest.raises(ValueError, match="control"):
        fit(mpdta, control="later")
    with pytest.raises(ValueError, match="method"):
        fit(mpdta, method="ols")
    varying = mpdta.copy()
    varying.loc[(varying["countyreal"] == 8001) & (varying["year"] == 2004), "first.treat"] = 2006
    with pytest.raises(ValueError, match="constant within a unit.*8001"):
        fit(varying)
    with pytest.raises(ValueError, match="never-treated"):
        fit(mpdta[mpdta["first.treat"] > 0])
    with pytest.raises(ValueError, match="duplicate"):
        fit(pd.concat([mpdta, mpdta.head(1)]))
    with pytest.raises(ValueError, match="kind"):
        aggte(fit(mpdta), "weekly")


def test_plot(mpdta):
    agg = aggte(fit(mpdta, n_boot=199, seed=1), "dynamic", n_boot=199, seed=1)
    ax = plot_staggered_event_study(agg)
    assert len(ax.collections) >= 1  # the uniform band
    plot_staggered_event_study(sun_abraham(mpdta, "lemp", "countyreal", "year", "first.treat"))


# --------------------------------------------------------------------------- Bacon, BJS


def test_bacon_weighted_sum_equals_twfe():
    panel = staggered_panel(n=240, T=7, seed=5)
    panel["D"] = ((panel["g"] > 0) & (panel["t"] >= panel["g"])).astype(float)
    decomposition = bacon(panel, "y", "unit", "t", "g")
    coefficient = twfe(panel, "y", ["D"], "unit", "t").table.loc["D", "estimate"]
    weights, estimates = decomposition.table["weight"], decomposition.table["estimate"]
    assert weights.sum() == pytest.approx(1.0, abs=1e-12)
    assert (weights > 0).all()
    assert float((weights * estimates).sum()) == pytest.approx(coefficient, abs=1e-10)
    assert set(decomposition.table["type"]) == {"treated vs never", "earlier vs later", "later vs earlier"}


def test_bacon_with_always_treated_units():
    panel = staggered_panel(n=240, T=7, seed=6)
    panel.loc[panel["unit"] % 10 == 0, "g"] = 1  # treated from the first period on
    panel["D"] = ((panel["g"] > 0) & (panel["t"] >= panel["g"])).astype(float)
    decomposition = bacon(panel, "y", "unit", "t", "g")
    coefficient = twfe(panel, "y", ["D"], "unit", "t").table.loc["D", "estimate"]
    assert decomposition.extra["twfe"] == pytest.approx(coefficient, abs=1e-10)


def test_imputation_equals_brute_force():
    panel = staggered_panel(n=60, T=6, seed=8)
    panel = panel.drop(index=[5, 17, 40])  # unbalanced is allowed
    res = imputation(panel, "y", "unit", "t", "g", horizons=[0, 1, 2])
    # Brute force: OLS with explicit unit and period dummies on untreated observations.
    treated = ((panel["g"] > 0) & (panel["t"] >= panel["g"])).to_numpy()
    Z = np.column_stack([pd.get_dummies(panel["unit"]).to_numpy(float),
                         pd.get_dummies(panel["t"]).to_numpy(float)[:, 1:]])
    Z0, Z1 = Z[~treated], Z[treated]
    y = panel["y"].to_numpy()
    beta = np.linalg.lstsq(Z0, y[~treated], rcond=None)[0]
    tau = y[treated] - Z1 @ beta
    assert res.table.loc["ATT", "estimate"] == pytest.approx(tau.mean(), abs=1e-10)
    e = (panel["t"] - panel["g"]).to_numpy()[treated]
    assert res.table.loc["e=1", "estimate"] == pytest.approx(tau[e == 1].mean(), abs=1e-10)
    # Conservative variance with the implied weights v0 = -Z0 (Z0'Z0)^+ Z1' w1.
    w1 = np.full(treated.sum(), 1 / treated.sum())
    v0 = -Z0 @ np.linalg.pinv(Z0.T @ Z0) @ Z1.T @ w1
    resid0 = y[~treated] - Z0 @ beta
    frame = panel.loc[treated, ["g", "t"]].assign(tau=tau)
    tau_tilde = tau - frame.groupby(["g", "t"])["tau"].transform("mean").to_numpy()
    units = panel["unit"].to_numpy()
    score = pd.Series(np.concatenate([v0 * resid0, w1 * tau_tilde]),
                      index=np.concatenate([units[~treated], units[treated]])).groupby(level=0).sum()
    assert res.table.loc["ATT", "se"] == pytest.approx(np.sqrt((score**2).sum()), rel=1e-10)
