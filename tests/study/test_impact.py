"""The evaluation layer on the default synthetic data and on hand-made cases."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from evaluation.data.contract import load_study_data
from evaluation.methods.errors import DesignError
from evaluation.study import impact
from evaluation.study.comparison import comparison_sample
from evaluation.study.design import load_truth


@pytest.fixture(scope="module")
def study(default_data):
    return load_study_data(default_data), load_truth(default_data)


@pytest.mark.parametrize("group", ["unsuccessful", "matched"])
@pytest.mark.parametrize("line", ["A", "B"])
def test_truth_inside_the_main_specification_interval(study, line, group):
    """Default seed of study.yml: the 95% interval of the main specification (CS-DR)
    contains the average true effect for turnover and employment."""
    data, truth = study
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimates, _ = impact.estimate_line(data, line, group, ["turnover_eur", "employees"], ["cs_dr"], truth, seed=1)
    for e in estimates:
        assert e.ci_low <= e.truth <= e.ci_high, e


def test_line_difference_of_independent_estimates():
    a = impact.Estimate("A", "g", "y", "cs_dr", 0.05, 0.03, 0, 0, 0, 1, 1, None)
    b = impact.Estimate("B", "g", "y", "cs_dr", 0.01, 0.04, 0, 0, 0, 1, 1, None)
    d = impact.line_difference(a, b)
    assert d["difference"] == pytest.approx(0.04)
    assert d["se"] == pytest.approx(0.05)  # sqrt(0.03^2 + 0.04^2)
    assert d["p"] == pytest.approx(2 * (1 - 0.7881446014166034))  # Phi(0.8) = 0.78814...


def test_cost_per_job_maps_the_interval_and_is_unbounded_when_it_reaches_zero(study):
    data, _ = study
    sample = comparison_sample(data, "A", "unsuccessful")
    est = impact.Estimate("A", "unsuccessful", "employees", "cs_dr", 0.03, 0.01, 0.01, 0.05, 0.0, 221, 114, None)
    cost = impact.cost_per_job(sample, data, est)
    jobs = cost["pre_employment"] * math.expm1(0.03)
    assert cost["jobs"] == pytest.approx(jobs)
    assert cost["cost_per_job_eur"] == pytest.approx(cost["grants_eur"] / jobs)
    assert cost["ci_low"] < cost["cost_per_job_eur"] < cost["ci_high"]
    assert cost["grants_eur"] == pytest.approx(23_700_000)  # every funded Linea A firm is in the sample
    wide = impact.Estimate("A", "unsuccessful", "employees", "cs_dr", 0.03, 0.02, -0.01, 0.07, 0.1, 221, 114, None)
    assert impact.cost_per_job(sample, data, wide)["ci_high"] == math.inf


def test_cost_per_job_is_undefined_when_no_job_is_created(study):
    """A null or negative employment effect creates no job: no cost per job (NaN), no overflow."""
    data, _ = study
    sample = comparison_sample(data, "A", "unsuccessful")
    negative = impact.Estimate("A", "unsuccessful", "employees", "cs_dr", -0.05, 0.01, -0.07, -0.03, 0.0, 221, 114, None)
    cost = impact.cost_per_job(sample, data, negative)
    assert cost["jobs"] < 0
    assert all(math.isnan(cost[k]) for k in ("cost_per_job_eur", "ci_low", "ci_high"))
    straddling = impact.Estimate("A", "unsuccessful", "employees", "cs_dr", -0.01, 0.02, -0.05, 0.03, 0.6, 221, 114, None)
    cost = impact.cost_per_job(sample, data, straddling)
    assert math.isnan(cost["cost_per_job_eur"]) and math.isfinite(cost["ci_low"]) and cost["ci_high"] == math.inf
    missing = impact.Estimate.not_estimable("A", "unsuccessful", "employees", "cs_dr", "no data")
    with pytest.raises(DesignError, match="no data"):
        impact.cost_per_job(sample, data, missing)


def test_grant_intensity_recovers_a_known_dose_response():
    """log y = firm + year + 0.1 x grant/100k after the start, no noise: slope 0.1 exactly."""
    rng = np.random.default_rng(3)
    firms = pd.DataFrame({"firm_id": [f"F{i}" for i in range(40)], "funded": [1] * 20 + [0] * 20,
                          "grant": np.r_[rng.uniform(5e4, 3e5, 20), np.zeros(20)], "fe": rng.normal(size=40)})
    rows = firms.merge(pd.DataFrame({"year": range(2012, 2020)}), how="cross")
    rows["post"] = (rows["year"] >= 2016).astype(int)
    rows["treat"] = rows["funded"] * rows["post"]
    rows["employees"] = np.exp(rows["fe"] + 0.02 * (rows["year"] - 2012) + 0.1 * rows["treat"] * rows["grant"] / 1e5)

    class Data:  # the two tables grant_intensity reads
        applications = pd.DataFrame({"firm_id": firms["firm_id"], "funded": firms["funded"] == 1, "grant_eur": firms["grant"]})

    rows["log_employees"] = np.log(rows["employees"])
    result = impact.grant_intensity(rows, Data, "employees")
    assert result["estimate"] == pytest.approx(0.1, abs=1e-10)


def test_a_line_without_funded_firms_is_a_clear_error(study, tmp_path):
    data, _ = study
    apps = data.applications.assign(funded=data.applications["funded"] & (data.applications["line"] == "A"))
    broken = type(data)(**{**data.__dict__, "applications": apps})
    with pytest.raises(DesignError, match="B"):
        comparison_sample(broken, "B", "unsuccessful")


def test_matching_estimators_are_refused_for_the_not_yet_group(study):
    data, truth = study
    sample = comparison_sample(data, "A", "not_yet")
    with pytest.raises(DesignError, match="propensity"):
        impact.estimate(sample, "A", "not_yet", "turnover_eur", "matched_did", None, truth)


def test_a_separating_category_is_dropped_and_named():
    covariates = pd.DataFrame({"size_class": ["a"] * 6 + ["b"] * 6 + ["c"] * 3, "x": np.linspace(0, 1, 15)},
                              index=[f"F{i}" for i in range(15)])
    treated = pd.Series([1, 0] * 6 + [1, 1, 1], index=covariates.index)  # level c: treated only
    score, dropped = impact.fit_score(covariates, treated)
    assert dropped == ("size_class",)
    assert score.between(0, 1).all()


def test_a_gap_in_one_outcome_keeps_the_firm_in_the_others(study):
    """A funded firm missing employment in one post-call year: its turnover is untouched,
    the unbalanced-panel estimator keeps it for employment, the balanced rule drops it."""
    data, _ = study
    sample = comparison_sample(data, "B", "unsuccessful")
    firm = sample.loc[sample["funded"] == 1, "firm_id"].iloc[0]
    gappy = sample.copy()
    row = (gappy["firm_id"] == firm) & (gappy["year"] == 2020)
    gappy.loc[row, ["employees", "log_employees", "log_labour_productivity"]] = np.nan
    args = ("B", "unsuccessful")
    turnover = [impact.estimate(s, *args, "turnover_eur", "cs_dr", None, None) for s in (sample, gappy)]
    assert turnover[0] == turnover[1]
    full = impact.estimate(sample, *args, "employees", "cs_dr", None, None)
    kept = impact.estimate(gappy, *args, "employees", "cs_dr", None, None)
    dropped = impact.estimate(gappy, *args, "employees", "cs_dr", None, None, balanced=True)
    assert kept.n_treated == full.n_treated and dropped.n_treated == full.n_treated - 1
    assert kept.att != full.att
