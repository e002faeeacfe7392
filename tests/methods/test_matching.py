"""Selection on observables (evaluation.methods.matching): known answers, properties, bad input.

Known answers come from a simulated panel whose selection is on observables only
(`simulated_panel`), from statsmodels itself (the logit), from closed forms (the
standardised mean difference, the weighted DiD, Crump et al.'s threshold for uniform
scores) and from exact balance under a saturated propensity model.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy.optimize import brentq
from scipy.special import expit

from evaluation.methods.errors import DesignError
from evaluation.methods.estimators import twfe
from evaluation.methods.matching import (
    SeparationError,
    balance_table,
    crump_threshold,
    design_matrix,
    ipw_weights,
    matched_did,
    nearest_neighbour_match,
    plot_love,
    propensity_score,
    trim_common_support,
)

YEARS = np.arange(2012, 2020)
START = 2016


def simulated_panel(seed: int, n: int = 1500):
    """Firm-year panel with selection on observables only.

    x1 ~ N(0, 1), x2 = "b" with probability 0.4 else "a";
    P(treated) = expit(-1 + 1.2 x1 + 0.8 [x2 = b]);
    log y_it = a_i + (0.04 x1 + 0.03 [x2 = b]) (t - 2012) + tau_i D_it + N(0, 0.05^2),
    tau_i = 0.10 + 0.03 x1, D_it = treated_i [t >= 2016].
    Treated firms have higher x1, hence steeper trends: the unadjusted DiD is biased by
    about 0.04 x (mean x1 gap, about 1) x 4 years = 0.16; conditional on x parallel
    trends hold. Returns (panel, covariates, treated, tau) with firm-level frames indexed
    by firm_id.
    """
    rng = np.random.default_rng(seed)
    ids = np.array([f"S{i:05d}" for i in range(n)])
    x1 = rng.normal(size=n)
    x2 = np.where(rng.random(n) < 0.4, "b", "a")
    treated = (rng.random(n) < expit(-1 + 1.2 * x1 + 0.8 * (x2 == "b"))).astype(int)
    alpha = rng.normal(size=n)
    tau = 0.10 + 0.03 * x1
    i = np.repeat(np.arange(n), len(YEARS))
    year = np.tile(YEARS, n)
    post = (year >= START).astype(int)
    y = (alpha[i] + (0.04 * x1[i] + 0.03 * (x2[i] == "b")) * (year - YEARS[0])
         + tau[i] * post * treated[i] + rng.normal(0, 0.05, len(i)))
    panel = pd.DataFrame({"firm_id": ids[i], "year": year, "funded": treated[i], "post": post,
                          "treat": post * treated[i], "log_turnover_eur": y})
    index = pd.Index(ids, name="firm_id")
    covariates = pd.DataFrame({"x1": x1, "x2": x2}, index=index)
    return panel, covariates, pd.Series(treated, index=index), pd.Series(tau, index=index)


@pytest.fixture(scope="module")
def sim():
    return simulated_panel(seed=0)


@pytest.fixture(scope="module")
def sim_ps(sim):
    _, covariates, treated, _ = sim
    return propensity_score(covariates, treated)


# --------------------------------------------------------------------------- known answers


def test_naive_did_biased_matched_and_ipw_recover_the_truth(sim, sim_ps):
    panel, _, treated, tau = sim
    att = tau[treated == 1].mean()
    naive = matched_did(panel, "log_turnover_eur").table.loc["treat"]
    assert naive["estimate"] - att > 0.1 and not naive["ci_low"] <= att <= naive["ci_high"]

    match = nearest_neighbour_match(sim_ps.score, treated)
    matched_treated = match.pairs["treated"].unique()
    att_matched = tau[matched_treated].mean()  # estimand: ATT of the matched treated
    nn = matched_did(panel, "log_turnover_eur", match.weights)
    row = nn.table.loc["treat"]
    assert row["ci_low"] <= att_matched <= row["ci_high"]
    assert abs(row["estimate"] - att_matched) < 0.02
    assert nn.estimator == "matched_did" and nn.extra["n_treated_firms"] == len(matched_treated)

    ipw = matched_did(panel, "log_turnover_eur", ipw_weights(sim_ps.score, treated)).table.loc["treat"]
    assert ipw["ci_low"] <= att <= ipw["ci_high"]
    assert abs(ipw["estimate"] - att) < 0.02


def test_weighted_did_equals_difference_of_weighted_mean_changes(sim, sim_ps):
    """Balanced panel, common start, firm weights: the weighted TWFE coefficient is the
    weighted mean of (post mean - pre mean) of the treated minus that of the controls."""
    panel, _, treated, _ = sim
    w = ipw_weights(sim_ps.score, treated)
    change = panel.groupby(["firm_id", "post"])["log_turnover_eur"].mean().unstack()
    change = change[1] - change[0]
    by_group = [np.average(change[treated == g], weights=w[treated == g]) for g in (1, 0)]
    estimate = matched_did(panel, "log_turnover_eur", w).table.loc["treat", "estimate"]
    assert estimate == pytest.approx(by_group[0] - by_group[1], abs=1e-10)
    unweighted = matched_did(panel, "log_turnover_eur", vcov="CR2").table.loc["treat"]
    direct = twfe(panel, "log_turnover_eur", ["treat"], "firm_id", "year", vcov="CR2").table.loc["treat"]
    pd.testing.assert_series_equal(unweighted, direct)


def test_propensity_logit_equals_statsmodels_formula(sim, sim_ps):
    _, covariates, treated, _ = sim
    direct = smf.logit("t ~ x1 + C(x2)", data=covariates.assign(t=treated)).fit(disp=0)
    assert sim_ps.fit.llf == pytest.approx(direct.llf, rel=1e-10)
    np.testing.assert_allclose(sim_ps.score.to_numpy(), direct.predict(covariates).to_numpy(), rtol=1e-8)
    mapped = direct.params.rename({"Intercept": "const", "C(x2)[T.b]": "x2=b"})
    np.testing.assert_allclose(sim_ps.params[mapped.index], mapped, rtol=1e-8)
    direct_bse = direct.bse.set_axis(mapped.index)
    np.testing.assert_allclose(sim_ps.bse[mapped.index], direct_bse, rtol=1e-6)
    assert list(design_matrix(covariates).columns) == ["const", "x1", "x2=b"]


def test_smd_and_variance_ratio_by_hand():
    cov = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 6.0]}, index=list("abcde"))
    treated = pd.Series([1, 1, 0, 0, 0], index=cov.index)
    # treated: mean 1.5, var 0.5; controls: mean 13/3, var 7/3; pooled sd sqrt((0.5 + 7/3) / 2)
    after = pd.Series({"a": 1.0, "b": 1.0, "c": 2.0, "d": 1.0})  # e gets weight 0
    table = balance_table(cov, treated, weights_after=after).loc["x"]
    sd = np.sqrt((0.5 + 7 / 3) / 2)
    assert table["smd_before"] == pytest.approx((1.5 - 13 / 3) / sd)
    assert table["vr_before"] == pytest.approx(0.5 / (7 / 3))
    # weighted control mean (2*3 + 4) / 3; weighted variance with sum w / ((sum w)^2 - sum w^2)
    mean_c = 10 / 3
    var_c = 3 / (9 - 5) * (2 * (3 - mean_c) ** 2 + (4 - mean_c) ** 2)
    assert table["smd_after"] == pytest.approx((1.5 - mean_c) / sd)
    assert table["vr_after"] == pytest.approx(0.5 / var_c)


def test_ipw_att_balances_exactly_under_a_saturated_model():
    """With one categorical covariate the logit is saturated, so e/(1-e) equals the ratio
    of treated to control counts in each cell and the weighted control shares equal the
    treated shares exactly."""
    rng = np.random.default_rng(3)
    levels = rng.choice(["p", "q", "r", "s"], size=400, p=[0.4, 0.3, 0.2, 0.1])
    cov = pd.DataFrame({"cell": levels}, index=pd.Index([f"F{i}" for i in range(400)], name="firm_id"))
    treated = pd.Series((rng.random(400) < np.select([levels == "p", levels == "q"], [0.2, 0.5], 0.7)).astype(int),
                        index=cov.index)
    ps = propensity_score(cov, treated)
    w = ipw_weights(ps.score, treated)
    assert w[treated == 0].sum() == pytest.approx(treated.sum())
    table = balance_table(cov, treated, weights_after=w)
    assert table["smd_before"].abs().max() > 0.2
    assert table["smd_after"].abs().max() < 1e-10
    ate = ipw_weights(ps.score, treated, estimand="ATE")
    assert ate[treated == 1].sum() == pytest.approx(400) and ate[treated == 0].sum() == pytest.approx(400)


def test_crump_threshold_for_uniform_scores():
    """e ~ U(0, 1): the optimal a solves 1/(a(1-a)) = 2 E[g | a <= e <= 1-a]
    = 4 log((1-a)/a) / (1-2a) (Crump et al. 2009, Theorem 1 with g = 1/(e(1-e)))."""
    a_exact = brentq(lambda a: 1 / (a * (1 - a)) - 4 * np.log((1 - a) / a) / (1 - 2 * a), 1e-4, 0.49)
    scores = pd.Series((np.arange(200_000) + 0.5) / 200_000)
    assert crump_threshold(scores) == pytest.approx(a_exact, abs=2e-3)
    assert crump_threshold(pd.Series([0.4, 0.5, 0.6])) == 0.0  # max g <= 2 mean g: no trimming


def test_trimming_rules():
    score = pd.Series([0.05, 0.2, 0.5, 0.7, 0.3, 0.6, 0.97], index=list("abcdefg"))
    treated = pd.Series([0, 0, 0, 0, 1, 1, 1], index=score.index)
    keep = trim_common_support(score, treated)  # overlap [max(0.3, 0.05), min(0.97, 0.7)]
    assert list(keep[keep].index) == ["c", "d", "e", "f"]
    keep = trim_common_support(score, treated, rule="crump", threshold=0.1)
    assert list(keep[~keep].index) == ["a", "g"]


def test_matching_with_replacement_by_hand():
    lin = pd.Series({"t1": 0.0, "t2": 1.0, "c1": 0.1, "c2": 0.95, "c3": 1.05, "c4": 5.0})
    score = pd.Series(expit(lin), index=lin.index)
    treated = pd.Series({"t1": 1, "t2": 1, "c1": 0, "c2": 0, "c3": 0, "c4": 0})
    m = nearest_neighbour_match(score, treated, caliper=None)
    # t1 -> c1; t2 is equidistant from c2 and c3: both kept, half weight each
    assert m.pairs[["treated", "control"]].values.tolist() == [["t1", "c1"], ["t2", "c2"], ["t2", "c3"]]
    assert m.weights.to_dict() == pytest.approx({"c1": 1.0, "c2": 0.5, "c3": 0.5, "t1": 1.0, "t2": 1.0})
    assert m.pairs["distance"].to_numpy() == pytest.approx([0.1, 0.05, 0.05])
    m2 = nearest_neighbour_match(score, treated, caliper=None, ratio=2)
    assert m2.pairs.groupby("treated")["control"].apply(list).to_dict() == {"t1": ["c1", "c2"], "t2": ["c2", "c3"]}
    # a caliper of 0.2 sd of the logit: sd pooled = sqrt((0.5 + var(c)) / 2)
    sd = np.sqrt((lin[["t1", "t2"]].var() + lin[["c1", "c2", "c3", "c4"]].var()) / 2)
    assert nearest_neighbour_match(score, treated).caliper == pytest.approx(0.2 * sd)


# --------------------------------------------------------------------------- properties


def _relabel(frame_or_series, mapping):
    out = frame_or_series.copy()
    out.index = out.index.map(mapping).rename(frame_or_series.index.name)
    return out


def test_permuting_and_relabelling_firms_changes_nothing(sim, sim_ps):
    panel, covariates, treated, _ = sim
    rng = np.random.default_rng(11)
    mapping = dict(zip(covariates.index, rng.permutation([f"Z{k}" for k in range(len(covariates))])))
    order = rng.permutation(len(covariates))
    cov2 = _relabel(covariates, mapping).iloc[order]
    treated2 = _relabel(treated, mapping).iloc[rng.permutation(len(treated))]
    ps2 = propensity_score(cov2, treated2)
    np.testing.assert_allclose(_relabel(sim_ps.score, mapping).sort_index(), ps2.score.sort_index(), rtol=1e-9)

    m1 = nearest_neighbour_match(sim_ps.score, treated)
    m2 = nearest_neighbour_match(ps2.score, treated2)
    pairs1 = {(mapping[t], mapping[c]) for t, c in zip(m1.pairs["treated"], m1.pairs["control"])}
    assert pairs1 == set(zip(m2.pairs["treated"], m2.pairs["control"]))
    pd.testing.assert_series_equal(_relabel(m1.weights, mapping).sort_index(), m2.weights, check_exact=False)

    b1 = balance_table(covariates, treated, weights_after=m1.weights)
    b2 = balance_table(cov2, treated2, weights_after=m2.weights)
    pd.testing.assert_frame_equal(b1, b2)

    panel2 = panel.assign(firm_id=panel["firm_id"].map(mapping)).sample(frac=1.0, random_state=5)
    e1 = matched_did(panel, "log_turnover_eur", m1.weights).table
    e2 = matched_did(panel2, "log_turnover_eur", m2.weights).table
    pd.testing.assert_frame_equal(e1, e2, check_exact=False, rtol=1e-9)


def test_matching_without_replacement_is_reproducible(sim, sim_ps):
    _, _, treated, _ = sim
    a = nearest_neighbour_match(sim_ps.score, treated, replace=False, seed=7)
    b = nearest_neighbour_match(sim_ps.score.sample(frac=1.0, random_state=1), treated, replace=False, seed=7)
    pd.testing.assert_frame_equal(a.pairs, b.pairs)
    assert a.pairs["control"].is_unique  # each control used at most once
    assert len(a.pairs) + len(a.unmatched) == treated.sum()


def test_love_plot():
    _, covariates, treated, _ = simulated_panel(seed=1, n=300)
    ps = propensity_score(covariates, treated)
    table = balance_table(covariates, treated, weights_after=ipw_weights(ps.score, treated))
    fig = plot_love(table)
    ax = fig.axes[0]
    assert len(ax.collections) == 2 and len(ax.get_yticklabels()) == len(table) == 3
    assert {t.get_text() for t in ax.get_yticklabels()} == {"x1", "x2=a", "x2=b"}
    matplotlib.pyplot.close(fig)


# --------------------------------------------------------------------------- bad input


def _two_groups(n=40, seed=0):
    rng = np.random.default_rng(seed)
    index = pd.Index([f"F{i:03d}" for i in range(n)], name="firm_id")
    treated = pd.Series(np.tile([0, 1], n // 2), index=index)
    return rng, index, treated


def test_separation_by_a_level_is_named():
    rng, index, treated = _two_groups()
    cell = np.where(treated == 1, rng.choice(["p", "q"], len(index)), rng.choice(["p", "q", "r"], len(index)))
    cell[0] = "r"  # ensure level r exists, held by controls only (index 0 is a control)
    cov = pd.DataFrame({"cell": cell, "x": rng.normal(size=len(index))}, index=index)
    with pytest.raises(SeparationError, match="'cell=r' is held only by control firms") as err:
        propensity_score(cov, treated)
    assert err.value.covariate == "cell=r"


def test_separation_by_a_numeric_covariate_is_named():
    rng, index, treated = _two_groups()
    size = np.where(treated == 1, 5.0, 1.0) + rng.random(len(index))
    cov = pd.DataFrame({"x": rng.normal(size=len(index)), "size": size}, index=index)
    with pytest.raises(SeparationError, match="'size' ranges") as err:
        propensity_score(cov, treated)
    assert err.value.covariate == "size"


def test_separation_by_a_combination_is_caught():
    """Neither covariate separates alone, but treated = [x1 + x2 > 0] exactly."""
    rng = np.random.default_rng(2)
    index = pd.Index([f"F{i:03d}" for i in range(200)], name="firm_id")
    cov = pd.DataFrame({"x1": rng.normal(size=200), "x2": rng.normal(size=200)}, index=index)
    treated = (cov["x1"] + cov["x2"] > 0).astype(int)
    with pytest.raises(SeparationError, match="quasi-perfect separation") as err:
        propensity_score(cov, treated)
    assert err.value.covariate in ("x1", "x2")


def test_missing_constant_and_bad_treatment_are_refused():
    rng, index, treated = _two_groups()
    cov = pd.DataFrame({"x": rng.normal(size=len(index))}, index=index)
    with pytest.raises(DesignError, match=r"missing covariate values \('x': 1 treated and 0 control"):
        propensity_score(cov.assign(x=cov["x"].where(cov.index != "F001")), treated)
    with pytest.raises(DesignError, match="'k' is constant"):
        propensity_score(cov.assign(k=1.0), treated)
    with pytest.raises(DesignError, match="no control firms"):
        propensity_score(cov, treated * 0 + 1)
    with pytest.raises(DesignError, match="0/1"):
        propensity_score(cov, treated * 2)
    with pytest.raises(DesignError, match="no value for 1 firm"):
        propensity_score(cov, treated.drop("F005"))


def test_trimming_that_empties_a_group_is_an_error():
    rng, index, treated = _two_groups()
    score = pd.Series(np.where(treated == 1, 0.9, 0.1) + rng.uniform(-0.05, 0.05, len(index)), index=index)
    with pytest.raises(DesignError, match=r"trimming \(minmax\) left no treated firms"):
        trim_common_support(score, treated)
    with pytest.raises(DesignError, match=r"trimming \(crump\) left no control firms"):
        trim_common_support(score.where(treated == 0, 0.5), treated, rule="crump", threshold=0.2)
    with pytest.raises(DesignError, match="unknown trimming rule"):
        trim_common_support(score, treated, rule="tails")


def test_matching_with_no_control_in_the_caliper_is_an_error():
    rng, index, treated = _two_groups()
    score = pd.Series(rng.uniform(0.2, 0.8, len(index)), index=index)
    with pytest.raises(DesignError, match="no control within the caliper"):
        nearest_neighbour_match(score, treated, caliper=1e-12)
    with pytest.raises(DesignError, match="strictly between 0 and 1"):
        nearest_neighbour_match(score.where(score.index != "F000", 1.0), treated)


def test_matched_did_without_controls_is_an_error(sim):
    panel, _, treated, _ = sim
    only_treated = pd.Series(1.0, index=treated[treated == 1].index)
    with pytest.raises(DesignError, match="no control firm"):
        matched_did(panel, "log_turnover_eur", only_treated)
