"""Inference against outside references: R clubSandwich (CR2), statsmodels (iid, HC1,
CR1), a brute-force wild cluster bootstrap, and a small Monte Carlo of coverage."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from evaluation.methods.estimators import DID_TERM, did_2x2, twfe
from evaluation.methods.inference import FewClustersWarning, wild_cluster_bootstrap

REFERENCE = Path(__file__).parent / "reference"
sys.path.insert(0, str(Path(__file__).parent / "montecarlo"))
from coverage import simulate_coverage  # noqa: E402


@pytest.fixture(scope="module")
def panel():
    return pd.read_csv(REFERENCE / "simulated_panel.csv")


def clubsandwich(model):
    table = pd.read_csv(REFERENCE / "clubsandwich_cr2.csv")
    return table[table["model"] == model].set_index("term")


@pytest.mark.parametrize(
    "model, fit",
    [
        ("firm_fe_cluster_firm", lambda jt, p: twfe(jt, "lscrap", ["d88", "d89", "grant", "grant_1"], "fcode",
                                                   "year", time_effects=False, vcov="CR2")),
        ("twfe_cluster_pole", lambda jt, p: twfe(p, "y", ["x", "treat"], "firm", "year", vcov="CR2",
                                                cluster="pole")),
        ("twfe_cluster_firm", lambda jt, p: twfe(p, "y", ["x", "treat"], "firm", "year", vcov="CR2")),
    ],
)
def test_cr2_and_satterthwaite_df_equal_clubsandwich(model, fit, panel):
    """Source: tests/methods/r/clubsandwich_cr2.R (clubSandwich 0.5.8, lm with unit [+ year]
    dummies, vcovCR type CR2, coef_test Satterthwaite); printed with full precision."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # jtrain's missing lscrap rows
        result = fit(pd.read_csv(REFERENCE / "jtrain.csv"), panel)
    reference = clubsandwich(model)
    ours = result.table.loc[reference.index]
    np.testing.assert_allclose(ours["estimate"], reference["estimate"], rtol=1e-10)
    np.testing.assert_allclose(ours["se"], reference["se"], rtol=1e-10)
    np.testing.assert_allclose(ours["df"], reference["df"], rtol=1e-10)
    np.testing.assert_allclose(ours["p"], reference["p"], rtol=1e-8)


@pytest.mark.parametrize("vcov, statsmodels_fit", [
    ("iid", {}),
    ("HC1", {"cov_type": "HC1", "use_t": True}),
    # statsmodels' cluster default: G/(G-1)(N-1)/(N-K) and t(G-1), i.e. Stata's CR1.
    ("CR1", {"cov_type": "cluster", "use_t": True}),
])
def test_did_2x2_inference_equals_statsmodels(panel, vcov, statsmodels_fit):
    data = panel.assign(treated=(panel["cohort"] > 0).astype(int), post=(panel["year"] >= 2003).astype(int))
    if vcov == "CR1":
        statsmodels_fit = {**statsmodels_fit, "cov_kwds": {"groups": data["firm"]}}
    ours = did_2x2(data, "y", "treated", "post", vcov=vcov, cluster="firm" if vcov == "CR1" else None)
    theirs = smf.ols("y ~ treated * post", data).fit(**statsmodels_fit)
    row = ours.table.loc[DID_TERM]
    assert row["estimate"] == pytest.approx(theirs.params["treated:post"], rel=1e-10)
    assert row["se"] == pytest.approx(theirs.bse["treated:post"], rel=1e-10)
    assert row["p"] == pytest.approx(theirs.pvalues["treated:post"], rel=1e-8)


def brute_force_wcr_p(result, term, signs):
    """Re-estimate every bootstrap sample explicitly (the textbook WCR algorithm)."""
    design = result.linear_design()
    X, y, g = design.X, design.y, design.clusters
    j = design.names.index(term)
    others = np.delete(X, j, axis=1)
    restricted = np.linalg.lstsq(others, y, rcond=None)[0]
    fitted, resid = others @ restricted, y - others @ restricted

    def t_stat(outcome):
        coef = np.linalg.lstsq(X, outcome, rcond=None)[0]
        bread = np.linalg.inv(X.T @ X)
        scores = pd.DataFrame(X * (outcome - X @ coef)[:, None]).groupby(g).sum().to_numpy()
        V = bread @ scores.T @ scores @ bread * design.cr1_factor()
        return coef[j] / np.sqrt(V[j, j])

    observed = t_stat(y)
    stars = np.array([t_stat(fitted + resid * v[g]) for v in signs.T])
    return np.mean(np.abs(stars) >= abs(observed) - 1e-12)


def test_wild_bootstrap_equals_brute_force_and_inverts(panel):
    data = panel[panel["pole"] <= 6]  # 6 clusters: all 64 Rademacher sign vectors
    with pytest.warns(FewClustersWarning):
        result = twfe(data, "y", ["x", "treat"], "firm", "year", cluster="pole")
    boot = wild_cluster_bootstrap(result, "treat", B=999, weights="rademacher", seed=1)
    assert boot.enumerated and boot.B == 64
    signs = 1.0 - 2.0 * ((np.arange(64)[None, :] >> np.arange(6)[:, None]) & 1)
    assert boot.p == pytest.approx(brute_force_wcr_p(result, "treat", signs), abs=1e-12)
    # Test inversion: nulls just inside the interval are not rejected, just outside are.
    width = boot.ci_high - boot.ci_low
    for edge, outward in ((boot.ci_low, -1), (boot.ci_high, 1)):
        inside = wild_cluster_bootstrap(result, "treat", B=999, null=edge - outward * 1e-4 * width).p
        outside = wild_cluster_bootstrap(result, "treat", B=999, null=edge + outward * 1e-4 * width).p
        assert inside > boot.alpha >= outside


def test_wild_bootstrap_is_reproducible(panel):
    with pytest.warns(FewClustersWarning):
        result = twfe(panel, "y", ["x", "treat"], "firm", "year", cluster="pole")
    first = wild_cluster_bootstrap(result, "x", B=999, weights="webb", seed=42)
    assert first == wild_cluster_bootstrap(result, "x", B=999, weights="webb", seed=42)
    assert first.ci_low < first.estimate < first.ci_high and first.p < 0.05
    assert not first.enumerated and first.n_clusters == 7
    with pytest.raises(ValueError, match="'rademacher' or 'webb'"):
        wild_cluster_bootstrap(result, "x", weights="mammen")
    with pytest.raises(ValueError, match="term 'z' not in the model"):
        wild_cluster_bootstrap(result, "z")


@pytest.mark.parametrize("n_clusters", [7, 30])
def test_small_monte_carlo_coverage(n_clusters):
    """200 replications (seeded, so deterministic); the Monte Carlo SE of a 95% coverage
    is 1.5 points, hence the wide band. The full run: tests/methods/montecarlo/RESULTS.md."""
    cover = simulate_coverage(n_clusters, reps=200, seed=11 + n_clusters, B=199)
    assert 0.90 <= cover["CR2"] <= 0.995
    assert 0.90 <= cover["WCR (webb)"] <= 0.995
