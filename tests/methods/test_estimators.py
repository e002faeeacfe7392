"""Estimators against outside references, their invariances and their bad-input errors.

References (copied into tests/methods/reference/, see its README):
* Wooldridge (2010/2013), Example 14.1, jtrain: firm fixed effects, classical within
  SE (``se_usual``, t(N - N_firms - K)) and firm-clustered SE without small-sample
  factor (``se_arellano`` = our CR0), printed to 6 decimals -> tolerance 1e-6.
* HonestDiD README's event study on the Medicaid (ehec) panel, fixest's
  ``feols(dins ~ i(year, D, ref = 2013) | stfips + year, cluster = ~stfips)``.
* linearmodels' PanelOLS for two-way fixed-effect point estimates.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
import pytest
from linearmodels.panel import PanelOLS

from evaluation.methods.estimators import DID_TERM, _panel, did_2x2, event_study, plot_event_study, twfe
from evaluation.methods.estimators._panel import MissingValuesWarning
from evaluation.methods.inference import FewClustersWarning

REFERENCE = Path(__file__).parent / "reference"
JTRAIN_TERMS = ["d88", "d89", "grant", "grant_1"]


@pytest.fixture(scope="module")
def jtrain():
    return pd.read_csv(REFERENCE / "jtrain.csv")


@pytest.fixture(scope="module")
def example_14_1():
    return pd.read_csv(REFERENCE / "jtrain_example_14_1.csv", index_col="term")


@pytest.fixture(scope="module")
def panel():
    """Simulated unbalanced panel (70 firms in 7 poles, 2000-2005), made by tests/methods/r/."""
    return pd.read_csv(REFERENCE / "simulated_panel.csv")


def jtrain_fit(jtrain, vcov):
    with pytest.warns(MissingValuesWarning, match="309"):  # lscrap is missing for 309 rows
        return twfe(jtrain, y="lscrap", regressors=JTRAIN_TERMS, unit="fcode", time="year",
                    time_effects=False, vcov=vcov)


def test_twfe_reproduces_wooldridge_example_14_1(jtrain, example_14_1):
    usual = jtrain_fit(jtrain, "iid")
    assert usual.nobs == 162 and usual.table["df"].iloc[0] == 162 - 54 - 4
    np.testing.assert_allclose(usual.table["estimate"], example_14_1["coef"], atol=1e-6)
    np.testing.assert_allclose(usual.table["se"], example_14_1["se_usual"], atol=1e-6)
    arellano = jtrain_fit(jtrain, "CR0")
    assert arellano.n_clusters == 54
    np.testing.assert_allclose(arellano.table["se"], example_14_1["se_arellano"], atol=1e-6)


def test_twfe_point_estimates_equal_linearmodels(panel):
    ours = twfe(panel, "y", ["x", "treat"], "firm", "year")
    indexed = panel.set_index(["firm", "year"])
    theirs = PanelOLS(indexed["y"], indexed[["x", "treat"]], entity_effects=True, time_effects=True).fit()
    np.testing.assert_allclose(ours.table["estimate"], theirs.params[["x", "treat"]], rtol=1e-9)
    weighted = twfe(panel, "y", ["x", "treat"], "firm", "year", weights="w")
    theirs_w = PanelOLS(indexed["y"], indexed[["x", "treat"]], entity_effects=True, time_effects=True,
                        weights=indexed["w"]).fit()
    np.testing.assert_allclose(weighted.table["estimate"], theirs_w.params[["x", "treat"]], rtol=1e-7)


@pytest.mark.parametrize("vcov", ["iid", "HC1", "CR1"])
@pytest.mark.parametrize("weights", [None, "w"])
@pytest.mark.parametrize("balanced", [False, True])
@pytest.mark.filterwarnings("ignore:CR1 with 29 clusters")  # the balanced subset
def test_partialled_period_effects_equal_explicit_dummies(panel, vcov, weights, balanced):
    """twfe partials the period effects out (exactly, also unbalanced/weighted): same table
    as OLS on the design with explicit period dummies that the result builds lazily."""
    if balanced:
        panel = panel[panel.groupby("firm")["year"].transform("size") == panel["year"].nunique()]
    result = twfe(panel, "y", ["x", "treat"], "firm", "year", vcov=vcov, weights=weights)
    dummies = result.linear_design()
    assert dummies.names[:2] == ["x", "treat"] and len(dummies.names) == 2 + panel["year"].nunique() - 1
    explicit = _panel.estimate(dummies, ["x", "treat"], vcov, "twfe", "y", "firm", 0.05, {})
    pd.testing.assert_frame_equal(result.table, explicit.table, rtol=1e-10, atol=1e-12)


def test_did_2x2_equals_difference_of_cell_means(panel):
    data = panel.assign(treated=(panel["cohort"] > 0).astype(int), post=panel["year"] >= 2003)
    with pytest.warns(FewClustersWarning):
        result = did_2x2(data, "y", "treated", "post", cluster="pole")
    mean = data.groupby(["treated", "post"])["y"].mean()
    by_hand = (mean[1, True] - mean[1, False]) - (mean[0, True] - mean[0, False])
    assert result.table.loc[DID_TERM, "estimate"] == pytest.approx(by_hand, abs=1e-12)
    cells = result.extra["cells"]
    assert cells["treated_post"]["mean"] == pytest.approx(mean[1, True])
    assert sum(cell["n"] for cell in cells.values()) == result.nobs == len(data)
    assert result.vcov_type == "CR1" and result.n_clusters == 7
    assert did_2x2(data, "y", "treated", "post").vcov_type == "HC1"


def ehec_event_study(vcov="CR1"):
    data = pd.read_csv(REFERENCE / "ehec_pre2016.csv")
    # HonestDiD's D marks the 2014 cohort; later cohorts are untreated before 2016.
    data["cohort"] = np.where(data["yexp2"] == 2014, 2014, 0)
    return event_study(data, "dins", "stfips", "year", "cohort", leads=6, lags=1, reference=-1, vcov=vcov)


def test_event_study_reproduces_fixest_on_ehec():
    result = ehec_event_study()
    beta = pd.read_csv(REFERENCE / "honestdid_ehec_betahat.csv")["estimate"].to_numpy()
    sigma = pd.read_csv(REFERENCE / "honestdid_ehec_sigma.csv", index_col=0).to_numpy()
    assert list(result.table.index) == ["e=-6", "e=-5", "e=-4", "e=-3", "e=-2", "e=0", "e=1"]
    np.testing.assert_allclose(result.table["estimate"], beta, atol=1e-12)
    # CR1 factor G/(G-1) * (N-1)/(N-K) with K = 15: 7 event dummies, 7 year dummies and
    # one parameter for the state effects nested in the state clusters (fixest's
    # fixef.K = "nested", Stata's xtreg, fe constant).
    n = result.nobs
    assert (n, result.n_clusters) == (344, 43)
    np.testing.assert_allclose(result.vcov.to_numpy(), sigma, rtol=1e-9)
    assert (result.table["df"] == 42).all()  # t(G-1), as fixest's t.df = "min"


def test_event_study_bins_end_points():
    rng = np.random.default_rng(3)
    rows = [(u, t, 2004 if u < 20 else 0) for u in range(40) for t in range(2000, 2010)]
    data = pd.DataFrame(rows, columns=["unit", "time", "cohort"])
    data["y"] = rng.normal(size=len(data)) + np.where(
        (data["cohort"] > 0) & (data["time"] >= data["cohort"]), 2.0, 0.0)
    result = event_study(data, "y", "unit", "time", "cohort", leads=2, lags=2)
    assert list(result.table.index) == ["e=-2", "e=0", "e=1", "e=2"]
    assert result.extra["binned"] == {"e=-2": "e<=-2", "e=2": "e>=2"}
    # e <= -2 pools the pre-periods 2000-2002, all untreated: near zero; e >= 2 near 2.
    assert abs(result.table.loc["e=-2", "estimate"]) < 0.5
    assert result.table.loc["e=2", "estimate"] == pytest.approx(2.0, abs=0.5)
    ax = plot_event_study(result)
    assert ax.get_xlabel().startswith("periods relative")
    matplotlib.pyplot.close("all")


def test_to_dict_is_json_and_deterministic(panel):
    first = twfe(panel, "y", ["x", "treat"], "firm", "year", vcov="CR2", cluster="pole").to_dict()
    second = twfe(panel, "y", ["x", "treat"], "firm", "year", vcov="CR2", cluster="pole").to_dict()
    assert json.dumps(first, sort_keys=False) == json.dumps(second, sort_keys=False)
    assert first["terms"]["treat"]["se"] > 0 and first["n_clusters"] == 7
    assert "treat" in twfe(panel, "y", ["x", "treat"], "firm", "year").summary()


@pytest.mark.parametrize("vcov", ["iid", "HC1", "CR1", "CR2"])
def test_invariances(panel, vcov):
    """Shifting y, relabelling units or permuting rows changes neither estimates nor SEs."""
    base = twfe(panel, "y", ["x", "treat"], "firm", "year", vcov=vcov).table
    shifted = twfe(panel.assign(y=panel["y"] + 1000.0), "y", ["x", "treat"], "firm", "year", vcov=vcov).table
    relabelled = panel.assign(firm=panel["firm"].map(lambda f: f"firm-{(f * 37) % 101}"))
    relabel = twfe(relabelled, "y", ["x", "treat"], "firm", "year", vcov=vcov).table
    permuted = twfe(panel.sample(frac=1.0, random_state=5), "y", ["x", "treat"], "firm", "year", vcov=vcov).table
    for other in (shifted, relabel, permuted):
        pd.testing.assert_frame_equal(base, other, rtol=1e-8, atol=1e-10)


def test_bad_input_gives_clear_errors(panel):
    fit = lambda data, regressors, **kw: twfe(data, "y", regressors, "firm", "year", **kw)  # noqa: E731
    with pytest.raises(ValueError, match=r"\['x2'\] are collinear"):
        fit(panel.assign(x2=2 * panel["x"] + panel["treat"]), ["x", "treat", "x2"])
    with pytest.raises(ValueError, match=r"\['pole'\] have no variation within units"):
        fit(panel, ["x", "pole"])
    with pytest.raises(ValueError, match=r"\['d'\] are collinear with the other regressors and the fixed"):
        fit(panel.assign(d=(panel["year"] >= 2003).astype(float)), ["x", "d"])  # a time effect
    with pytest.raises(ValueError, match=r"duplicate \('firm', 'year'\) pairs, e.g. \(1, 2000\)"):
        fit(pd.concat([panel, panel.iloc[:1]]), ["x"])
    with pytest.raises(ValueError, match="at least 2 clusters"):
        fit(panel.assign(one=1), ["x"], cluster="one")
    with pytest.raises(ValueError, match=r"column\(s\) \['nope'\] not in the data"):
        fit(panel, ["nope"])
    with pytest.raises(ValueError, match="'w' must be positive"):
        fit(panel.assign(w=panel["w"] - 1), ["x"], weights="w")
    with pytest.warns(MissingValuesWarning, match="'x': 1"):
        result = fit(panel.assign(x=panel["x"].where(panel.index != 3)), ["x"])
    assert result.nobs == len(panel) - 1
    with pytest.warns(FewClustersWarning, match="7 clusters"):
        fit(panel, ["x"], cluster="pole")
    with pytest.raises(ValueError, match="unit effects nested in clusters"):
        fit(panel, ["x"], vcov="CR2", cluster="year")
    with pytest.raises(ValueError, match="CR2' with weights"):
        fit(panel, ["x"], vcov="CR2", weights="w")


def test_did_and_event_study_bad_input(panel):
    data = panel.assign(treated=1, post=(panel["year"] >= 2003).astype(int))
    with pytest.raises(ValueError, match="'treated' has no variation"):
        did_2x2(data, "y", "treated", "post")
    with pytest.raises(ValueError, match="'post' must be 0/1"):
        did_2x2(data.assign(treated=panel["firm"] % 2, post=panel["year"]), "y", "treated", "post")
    moving = panel.assign(cohort=np.where(panel["year"] > 2002, 2003, panel["cohort"]))
    with pytest.raises(ValueError, match="'cohort' must be constant within a unit"):
        event_study(moving, "y", "firm", "year", "cohort", leads=2, lags=1)
    with pytest.raises(ValueError, match="reference"):
        event_study(panel, "y", "firm", "year", "cohort", leads=2, lags=1, reference=-3)


@pytest.mark.parametrize("values", [
    pd.Series([f"F{i:03d}" for i in np.repeat(np.arange(50), 3)], dtype="str"),  # sorted text ids: no sort
    pd.Series(["b", "a", "c", "a"], dtype="str"),                                 # unsorted: sorted
    pd.Series(["a", None, "b", "a"], dtype="str"),                                # missing: code -1
    pd.Series([3, "a", 1.5, "a"], dtype=object),                                  # mixed types: pandas' order
    pd.Series([2.5, 1.0, 2.5]),
    pd.Series([2012, 2011, 2012]),                                                # integer lookup path
])
def test_codes_are_sorted_factorize(values):
    """``_panel.codes`` is ``pd.factorize(values, sort=True)`` on every kind of id."""
    found, uniques = _panel.codes(values)
    expected, expected_uniques = pd.factorize(values, sort=True)
    np.testing.assert_array_equal(found, expected)
    assert list(uniques) == list(expected_uniques)
