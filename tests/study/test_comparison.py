"""Comparison groups (evaluation.study.comparison) on the default synthetic data, and the
selection-on-observables pipeline run on them.

Group sizes are checked against the published programme figures (221 / 70 firms in
funded projects, evaluation/data/programme.py) or recomputed from applications.csv directly;
effects against the synthetic truth (truth.csv).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from evaluation.data import programme
from evaluation.data.contract import load_study_data
from evaluation.methods.errors import DesignError
from evaluation.methods.matching import (
    balance_table,
    ipw_weights,
    matched_did,
    nearest_neighbour_match,
    propensity_score,
    trim_common_support,
)
from evaluation.study.comparison import (
    GROUPS,
    comparison_sample,
    pre_call_covariates,
    sector_group,
    treated_indicator,
)
from evaluation.study.design import applicant_sample, load_truth, outcome_frame, true_att

FIRMS_FUNDED = {line: programme.CALLS[line]["firms_in_funded"] for line in "AB"}  # 221, 70 (seed 001)


@pytest.fixture(scope="module")
def data(default_data):
    return load_study_data(default_data)


@pytest.fixture(scope="module")
def samples(data):
    return {(line, group): comparison_sample(data, line, group) for line in "AB" for group in GROUPS}


def _firms_by_start(data, line):
    apps = data.applications[(data.applications["line"] == line) & data.applications["funded"]]
    return apps.assign(start=apps["start_date"].dt.year).groupby("firm_id")["start"].min()


@pytest.mark.parametrize("line", ["A", "B"])
def test_unsuccessful_group_is_the_applicant_sample(data, samples, line):
    sample = samples[(line, "unsuccessful")]
    base = applicant_sample(data, line)
    pd.testing.assert_frame_equal(sample[base.columns], base)
    treated = treated_indicator(sample)
    apps = data.applications[data.applications["line"] == line]
    assert treated.sum() == FIRMS_FUNDED[line]
    assert (treated == 0).sum() == apps.groupby("firm_id")["funded"].max().eq(False).sum()


@pytest.mark.parametrize("line", ["A", "B"])
def test_matched_group_pool_and_pseudo_reference_year(data, samples, line):
    sample = samples[(line, "matched")]
    firms = data.firms.set_index("firm_id")
    treated = treated_indicator(sample)
    controls = treated.index[treated == 0]
    assert treated.sum() == FIRMS_FUNDED[line]
    assert not controls.isin(data.applications["firm_id"]).any()
    assert firms.loc[controls, "firm_type"].isin(["SME", "large"]).all()
    if line == "A":
        assert (firms.loc[controls, "pole"] != "none").all()
        assert (firms.loc[controls, "member_since"] <= 2016).all()
    else:
        assert (firms.loc[controls, "pole"] == "none").all()
    starts = _firms_by_start(data, line)
    pseudo = int(np.sort(starts.to_numpy())[(len(starts) - 1) // 2])  # lower median
    assert pseudo == {"A": 2017, "B": 2018}[line]
    by_firm = sample.groupby("firm_id").first()
    assert (by_firm.loc[controls, "reference_year"] == pseudo).all()
    assert (by_firm.loc[controls, "cohort"] == 0).all() and (sample.loc[sample["funded"] == 0, "treat"] == 0).all()
    pd.testing.assert_series_equal(by_firm.loc[starts.index, "reference_year"].astype(int),
                                   starts.astype(int), check_names=False)
    later = comparison_sample(data, line, "matched", reference_year=2016)
    assert (later.loc[later["funded"] == 0, "reference_year"] == 2016).all()


@pytest.mark.parametrize("line", ["A", "B"])
def test_not_yet_group_uses_later_cohorts_before_their_start(data, samples, line):
    sample = samples[(line, "not_yet")]
    starts = _firms_by_start(data, line)
    last = starts.max()
    assert set(sample["firm_id"]) == set(starts.index)
    assert sample["year"].max() == last - 1
    treated = treated_indicator(sample)
    assert treated.sum() == (starts < last).sum() and (treated == 0).sum() == (starts == last).sum()
    assert (sample["cohort"] == sample["reference_year"]).all()
    assert (sample["treat"] == (sample["year"] >= sample["cohort"]).astype(int)).all()
    assert (sample.loc[sample["cohort"] == last, "treat"] == 0).all()


def test_sample_columns_and_sector_groups(samples):
    for sample in samples.values():
        for column in ("funded", "reference_year", "event_time", "post", "treat", "cohort", "treated_group",
                       "call_year", "size_class", "sector", "province", "firm_pole", "log_turnover_eur"):
            assert column in sample.columns
        assert not sample.duplicated(["firm_id", "year"]).any()
    ateco = pd.Series(["10", "33", "41", "47", "58", "63", "72", "01", "85"])
    assert sector_group(ateco).tolist() == ["manufacturing", "manufacturing", "trade_construction",
                                            "trade_construction", "ict", "ict", "professional_rd", "other", "other"]


def test_pre_call_covariates_by_hand(samples):
    sample = samples[("A", "unsuccessful")]
    cov = pre_call_covariates(sample)
    firm = cov.index[0]
    rows = sample[(sample["firm_id"] == firm) & (sample["year"] <= 2015)].sort_values("year")  # call 2016
    assert cov.loc[firm, "pre_mean_log_turnover_eur"] == pytest.approx(rows["log_turnover_eur"].mean())
    growth = (rows["log_employees"].iloc[-1] - rows["log_employees"].iloc[0]) / (2015 - 2012)
    assert cov.loc[firm, "pre_growth_log_employees"] == pytest.approx(growth)
    treated = treated_indicator(sample)
    for column in ("size_class", "sector", "province", "firm_pole"):
        counts = pd.crosstab(cov[column], treated)
        assert (counts.drop(index="other", errors="ignore").min(axis=1) >= 5).all()  # rare levels pooled
    assert "firm_pole" not in pre_call_covariates(samples[("B", "unsuccessful")]).columns  # all "none"
    matched = pre_call_covariates(samples[("B", "matched")])
    no_rd = matched["pre_mean_log_rd_expenditure_eur"].isna()
    assert no_rd.any() and not no_rd[treated_indicator(samples[("B", "matched")]) == 1].any()
    with pytest.raises(DesignError, match="missing covariate values"):
        propensity_score(matched, treated_indicator(samples[("B", "matched")]))


def test_pre_call_covariates_follow_the_firm_ids_in_any_row_order(samples):
    """Grouping by integer codes gives each firm its own values, in sorted firm_id order,
    whatever the order of the rows."""
    sample = samples[("B", "matched")]
    expected = pre_call_covariates(sample)
    shuffled = sample.sample(frac=1.0, random_state=3).reset_index(drop=True)
    got = pre_call_covariates(shuffled)
    assert got.index.is_monotonic_increasing and got.index.name == "firm_id"
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-13)
    firm = expected.index[len(expected) // 2]
    rows = sample[(sample["firm_id"] == firm) & (sample["year"] <= 2016)]  # Linea B call 2017
    assert got.loc[firm, "pre_mean_log_employees"] == pytest.approx(rows["log_employees"].mean())


def _pipeline(sample):
    # firms without R&D have no log R&D, and every applicant does R&D: leave R&D out
    cov = pre_call_covariates(sample)
    cov = cov[[c for c in cov.columns if "rd_expenditure" not in c]]
    treated = treated_indicator(sample)
    ps = propensity_score(cov, treated)
    keep = trim_common_support(ps.score, treated)
    match = nearest_neighbour_match(ps.score[keep], treated[keep])
    ipw = ipw_weights(ps.score[keep], treated[keep])
    return cov, treated, match, ipw


@pytest.mark.parametrize("line", ["A", "B"])
def test_matching_improves_balance_on_the_default_data(samples, line):
    cov, treated, match, ipw = _pipeline(samples[(line, "matched")])
    for weights in (match.weights, ipw):
        table = balance_table(cov, treated, weights_after=weights)
        before, after = table["smd_before"].abs(), table["smd_after"].abs()
        assert before.max() > 0.5  # non-applicants differ (size, sector, pre-period levels)
        assert after.max() < 0.5 * before.max() and after.mean() < 0.5 * before.mean()


def test_matched_did_covers_the_synthetic_truth_linea_a(default_data, samples):
    """One draw (the default data), so a check of the pipeline rather than of coverage:
    within size classes the data-generating process has parallel trends, so matched and
    weighted DiD against non-applicant members should cover the true ATT."""
    truth = load_truth(default_data)
    sample = samples[("A", "matched")]
    _, _, match, ipw = _pipeline(sample)
    for outcome in ("turnover_eur", "employees"):
        target = true_att(truth, sample, outcome)
        for weights in (match.weights, ipw):
            row = matched_did(outcome_frame(sample, outcome), f"log_{outcome}", weights).table.loc["treat"]
            assert row["ci_low"] <= target <= row["ci_high"], (outcome, row.to_dict(), target)


# --------------------------------------------------------------------------- bad input


def test_unknown_line_group_and_misplaced_reference_year(data):
    with pytest.raises(DesignError, match="unknown line"):
        comparison_sample(data, "C", "matched")
    with pytest.raises(DesignError, match="unknown comparison group"):
        comparison_sample(data, "A", "everyone")
    with pytest.raises(DesignError, match="only group 'matched'"):
        comparison_sample(data, "A", "not_yet", reference_year=2017)


def test_empty_groups_are_errors(data):
    apps = data.applications
    all_funded = dataclasses.replace(data, applications=apps.assign(funded=True))
    with pytest.raises(DesignError, match="no unsuccessful applicants"):
        comparison_sample(all_funded, "A", "unsuccessful")
    none_funded = dataclasses.replace(data, applications=apps.assign(funded=False))
    for group in GROUPS:
        with pytest.raises(DesignError, match="no funded"):
            comparison_sample(none_funded, "B", group)
    applicants = set(apps["firm_id"])
    firms = data.firms.assign(
        member_since=data.firms["member_since"].where(data.firms["firm_id"].isin(applicants), 2017)
    )
    with pytest.raises(DesignError, match=r"no non-applicant pole members \(joined by 2016\)"):
        comparison_sample(dataclasses.replace(data, firms=firms), "A", "matched")
    one_start = apps.assign(start_date=pd.Timestamp("2018-03-01"))
    with pytest.raises(DesignError, match="every funded project of Linea A starts in 2018"):
        comparison_sample(dataclasses.replace(data, applications=one_start), "A", "not_yet")
