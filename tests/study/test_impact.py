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
        estimates, _ = impact.estimate_line(comparison_sample(data, line, group), line, group, ["turnover_eur", "employees"], ["cs_dr"], truth, seed=1)
    for e in estimates:
        assert e.ci_low <= e.truth <= e.ci_high, e


def test_estimate_line_computes_the_cs_covariates_once(study, monkeypatch):
    """Every outcome's cs_dr estimate reuses one computation of the covariates, with the
    same estimates as computing them for each."""
    data, truth = study
    calls = []
    original = impact.pre_call_covariates
    monkeypatch.setattr(impact, "pre_call_covariates", lambda *a, **k: calls.append(1) or original(*a, **k))
    outcomes = ["turnover_eur", "employees", "value_added_eur"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sample = comparison_sample(data, "A", "unsuccessful")
        estimates, _ = impact.estimate_line(sample, "A", "unsuccessful", outcomes, ["cs_dr"], truth, seed=1)
        each = [impact.estimate(sample, "A", "unsuccessful", o, "cs_dr", None, truth) for o in outcomes]
    assert len(calls) == 1 + len(outcomes)
    assert [e.as_row() for e in estimates] == [e.as_row() for e in each]


def test_line_difference_of_independent_estimates():
    a = impact.Estimate("A", "g", "y", "cs_dr", 0.05, 0.03, 0, 0, 0, 1, 1, None)
    b = impact.Estimate("B", "g", "y", "cs_dr", 0.01, 0.04, 0, 0, 0, 1, 1, None)
    d = impact.line_difference(a, b)
    assert d["difference"] == pytest.approx(0.04)
    assert d["se"] == pytest.approx(0.05)  # sqrt(0.03^2 + 0.04^2)
    assert d["p"] == pytest.approx(2 * (1 - 0.7881446014166034))  # Phi(0.8) = 0.78814...


def test_grant_cost_inverts_the_jobs_interval_and_is_unbounded_when_it_reaches_zero():
    assert impact.grant_cost(1000.0, 10.0, 5.0, 20.0) == (100.0, 50.0, 200.0)
    cost, low, high = impact.grant_cost(1000.0, 10.0, -5.0, 20.0)
    assert (cost, low, high) == (100.0, 50.0, math.inf)
    cost, low, high = impact.grant_cost(1000.0, -10.0, -30.0, 20.0)  # no job at the estimate: no cost
    assert math.isnan(cost) and low == 50.0 and high == math.inf
    assert all(math.isnan(v) for v in impact.grant_cost(1000.0, -10.0, -30.0, -1.0))


def test_significant_figures():
    assert impact.significant(1493.24, 2) == 1500 and impact.significant(15871.5, 3) == 15900
    assert impact.significant(-1383.9, 2) == -1400 and impact.significant(0.41, 2) == 0
    assert impact.significant(math.inf, 2) is None and impact.significant(math.nan, 3) is None


def test_cost_per_job_on_the_default_data_counts_jobs_in_levels_and_covers_the_truth(study):
    """Default seed of study.yml. Grants: every funded firm's (23.7 M EUR in Linea A, 9.3 M
    in Linea B, programme.py). Jobs = funded firms x the levels ATT; the truth is the
    same estimand from truth.csv, inside the 95% interval."""
    data, truth = study
    for line, grants in (("A", 23_700_000), ("B", 9_300_000)):
        cost = impact.cost_per_job(comparison_sample(data, line, "unsuccessful"), data, line, truth=truth)
        assert cost["grants_eur"] == pytest.approx(grants)
        assert cost["jobs"] == pytest.approx(cost["funded_firms"] * cost["att_employees"])
        assert cost["jobs_ci_low"] <= cost["true_jobs"] <= cost["jobs_ci_high"], cost
        assert cost["true_cost_per_job_eur"] == pytest.approx(grants / cost["true_jobs"])


def test_true_jobs_apply_the_true_log_effect_to_observed_employment(study):
    """true_jobs = sum over funded post-start firm-years of Y (1 - exp(-tau)) / (P / N), by hand."""
    data, truth = study
    sample = comparison_sample(data, "B", "unsuccessful")
    cost = impact.cost_per_job(sample, data, "B", truth=truth)
    post = sample[(sample["treat"] == 1) & (sample["employees"] > 0)]
    tau = truth[truth["outcome"] == "employees"].set_index(["firm_id", "year"])["effect_log"]
    effect = np.array([tau.get((f, y), 0.0) for f, y in zip(post["firm_id"], post["year"])])
    by_hand = (post["employees"] * (1 - np.exp(-effect))).sum() / (len(post) / post["firm_id"].nunique())
    assert cost["true_jobs"] == pytest.approx(by_hand)


@pytest.mark.parametrize("seed", [3, 4])
def test_jobs_interval_covers_the_truth_on_other_seeds(seed, tmp_path):
    """Generator seeds 3 and 4 (checked by hand: the 95% jobs interval covered the true
    jobs in both calls of seeds 1-4 and the default seed). Tolerance: each interval must
    contain the truth; a 95% interval fails this about 1 time in 20 per call, so a failure
    on one seed is a signal to check coverage over more seeds, not proof of a bug."""
    from evaluation.data.synthetic import generate

    generate(tmp_path / "data", seed=seed)
    data, truth = load_study_data(tmp_path / "data"), load_truth(tmp_path / "data")
    for line in ("A", "B"):
        cost = impact.cost_per_job(comparison_sample(data, line, "unsuccessful"), data, line, truth=truth)
        assert cost["jobs_ci_low"] <= cost["true_jobs"] <= cost["jobs_ci_high"], (seed, line, cost)


def test_cost_per_job_tells_why_without_employment(study):
    data, _ = study
    sample = comparison_sample(data, "A", "unsuccessful").assign(employees=np.nan)
    with pytest.raises(DesignError, match="employment"):
        impact.cost_per_job(sample, data, "A")


def test_firm_codes_give_the_estimates_of_the_text_ids_on_samples_with_rows_dropped(study):
    """``firm_code`` (the firm's position among the sorted ids) is what the estimators group by.
    On a sample with a pole's firms dropped (gaps in the codes, as in the leave-one-pole-out
    check) and with its rows shuffled, every estimator gives exactly the numbers it gives on the
    same rows without the column (codes then made from ``firm_id``), with and without weights."""
    data, _ = study
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sample = comparison_sample(data, "B", "matched")
        codes, ids = pd.factorize(sample["firm_id"], sort=True)
        assert (sample["firm_code"].to_numpy() == codes).all()
        pole = sample.loc[sample["funded"] == 1, "pole"].mode().iloc[0]
        sub = sample[sample["pole"] != pole].sample(frac=1.0, random_state=3)
        assert sub["firm_code"].max() + 1 > sub["firm_id"].nunique()  # gaps
        without = sub.drop(columns="firm_code")
        weights = impact.score_weights(sub, seed=1)
        for estimator in impact.ESTIMATORS:
            w = weights if estimator in impact.SCORE_ESTIMATORS else None
            got = impact.estimate(sub, "B", "matched", "turnover_eur", estimator, w, None)
            expected = impact.estimate(without, "B", "matched", "turnover_eur", estimator, w, None)
            assert got.estimated and got.as_row() == expected.as_row(), estimator


@pytest.mark.parametrize("group", ["matched", "not_yet"])
def test_the_main_analyses_leave_the_sample_they_share_unchanged(study, group):
    """The main-results notebook builds each line's comparison sample once and passes it to
    ``estimate_line``, ``rd.rd_effects`` and ``dynamic_effects`` in turn, so none of them may
    change it: the sample is equal, values, dtypes, index and column order, after all three."""
    from evaluation.study import rd

    data, truth = study
    sample = comparison_sample(data, "B", group)
    before = sample.copy(deep=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        impact.estimate_line(sample, "B", group, ["turnover_eur", "employees", rd.RD], list(impact.ESTIMATORS), truth, seed=1)
        rd.rd_effects(sample, "B", group, truth)
        impact.dynamic_effects(sample, "turnover_eur", group, n_boot=99, seed=1)
    pd.testing.assert_frame_equal(sample, before, check_exact=True)
