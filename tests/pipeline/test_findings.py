"""The report's verdicts, limitations, conclusions, recommendations and Italian summary
follow their rules on hand-made results, not the default data."""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pytest

from evaluation.pipeline import findings
from evaluation.pipeline.config import ReportConfig
from evaluation.pipeline.findings import FAIL, NA, PASS, Check
from evaluation.pipeline.narrative import Results
from evaluation.pipeline.report import stamp_front_matter, title_metadata


def entry(pct: float, low: float, high: float) -> dict:
    return {"pct": pct, "ci_low_pct": low, "ci_high_pct": high}


def run(headline: dict, **numbers) -> dict:
    return {"headline": headline, "numbers": numbers, "not_estimable": {}}


def evidence(**runs) -> findings.Evidence:
    return findings.Evidence({"runs": runs})


def event_study(leads: dict[str, float], se: float = 0.01) -> dict:
    """A stored event-study result with independent leads of the given estimates."""
    names = list(leads)
    terms = {k: {"estimate": v, "ci_low": v - 1.96 * se, "ci_high": v + 1.96 * se} for k, v in leads.items()}
    terms.update({"e=0": {"estimate": 0.01, "ci_low": -0.01, "ci_high": 0.03}, "e=2": {"estimate": 0.03, "ci_low": 0.01, "ci_high": 0.05}})
    return {"terms": terms, "vcov": {"terms": names, "matrix": (np.eye(len(names)) * se**2).tolist()}}


PASSED = Check("pre-trends", PASS, "passed")


@pytest.mark.parametrize("main, found, expected", [
    (None, [PASSED], findings.NOT_ESTIMABLE),
    ({"not_estimable": "no data"}, [PASSED], findings.NOT_ESTIMABLE),
    (entry(-4.0, -6.0, -2.0), [PASSED], findings.NEGATIVE),
    (entry(3.0, -1.0, 7.0), [PASSED], findings.NO_EFFECT),
    (entry(3.0, 1.0, 5.0), [PASSED, Check("estimators", PASS, "")], findings.ROBUST),
    (entry(3.0, 1.0, 5.0), [PASSED, Check("pole clustering", FAIL, "")], findings.FRAGILE),
    (entry(3.0, 1.0, 5.0), [Check("pre-trends", FAIL, "")], findings.FRAGILE),
    (entry(3.0, 1.0, 5.0), [Check("pre-trends", NA, "")], findings.FRAGILE),  # untested parallel trends
])
def test_verdict_rule_covers_each_branch(main, found, expected):
    assert findings.verdict(main, found) == expected


def test_a_rejected_pretest_or_leads_fail_the_pretrend_check():
    ok = evidence(robustness_linea_a=run({"pretest_p": 0.6}))
    assert findings.pretrend_check(ok, "A", "turnover_eur").status == PASS
    assert findings.pretrend_check(ok, "A", "employees").status == NA  # the run's single test is of turnover
    bad = evidence(robustness_linea_a=run({"pretest_p": 0.01}))
    assert "p = 0.01" in findings.pretrend_check(bad, "A", "turnover_eur").text
    leads = evidence(first_did_linea_a=run({}, employees={"event_study": event_study({"e=-3": -0.03, "e=-2": -0.02})}))
    check = findings.pretrend_check(leads, "A", "employees")
    assert check.status == FAIL and "2 leads" in check.text
    flat = evidence(first_did_linea_a=run({}, employees={"event_study": event_study({"e=-3": 0.001, "e=-2": -0.002})}))
    assert findings.pretrend_check(flat, "A", "employees").status == PASS
    assert "leads e = \u22123, e = \u22122" in findings.pretrend_leads(leads)[0] and "significantly negative" in findings.pretrend_leads(leads)[0]


def test_pole_clustering_distinguishes_lost_significance_from_none():
    lost = evidence(heterogeneity_linea_a=run({"wild_p_turnover": 0.061, "firm_p_turnover": 0.001, "n_poles": 7}))
    check = findings.pole_check(lost, "A", "turnover_eur")
    assert check.status == FAIL and check.text.startswith("significance is lost") and "0.061" in check.text
    never = evidence(heterogeneity_linea_a=run({"wild_p_turnover": 0.3, "firm_p_turnover": 0.2, "n_poles": 7}))
    assert "either" in findings.pole_check(never, "A", "turnover_eur").text
    kept = evidence(heterogeneity_linea_a=run({"wild_p_turnover": 0.01, "firm_p_turnover": 0.001, "n_poles": 7}))
    assert findings.pole_check(kept, "A", "turnover_eur").status == PASS
    assert findings.pole_check(kept, "A", "employees").status == NA  # no key for employment yet


@pytest.mark.parametrize("status, value, expected", [
    ({"rm": "value"}, 0.7, FAIL), ({"rm": "value"}, 1.5, PASS), ({"rm": "not_significant"}, None, FAIL),
    ({"rm": "beyond_range"}, None, PASS), ({}, None, NA),
])
def test_honestdid_check(status, value, expected):
    r = evidence(robustness_linea_a=run({"breakdown_rm": value}, breakdown_status=status))
    assert findings.honest_check(r, "A", "turnover_eur").status == expected


def test_comparison_groups_and_estimators_must_agree_in_sign():
    main = entry(4.0, 1.0, 7.0)
    r = evidence(main_matched=run({"linea_a": {"turnover_eur": entry(3.0, 0.5, 5.5)}}),
                 main_not_yet=run({"linea_a": {"turnover_eur": entry(-0.5, -4.0, 3.0)}}),
                 main_unsuccessful=run({}, estimates=[{"line": "A", "outcome": "turnover_eur", "estimator": "twfe", "att": 0.03},
                                                      {"line": "A", "outcome": "turnover_eur", "estimator": "ipw_did", "att": -0.01}]))
    groups = findings.groups_check(r, "A", "turnover_eur", main)
    assert groups.status == FAIL and "not-yet-treated" in groups.text and "matched" not in groups.text
    estimators = findings.estimators_check(r, "A", "turnover_eur", main)
    assert estimators.status == FAIL and "inverse-probability-weighted difference in differences (\u22121.0%)" in estimators.text


def full_results(main_a: dict, n_funded: int = 221) -> dict:
    return {"runs": {
        "overview_all": run({"linea_a": {"submitted": 10, "funded": 5, "firms_funded": 12, "grants_m_eur": 23.7},
                             "linea_b": {"submitted": 0}}),
        "first_did_linea_a": run({"n_funded": n_funded}),
        "main_unsuccessful": run({"linea_a": {"turnover_eur": main_a, "employees": {"not_estimable": "no employment data."}}}),
        "robustness_linea_a": run({"pretest_p": 0.02}),
        "heterogeneity_linea_a": run({"wild_p_turnover": 0.2, "firm_p_turnover": 0.01, "n_poles": 7}),
    }}


def test_summary_limitations_conclusions_and_recommendations_follow_the_checks():
    r = findings.Evidence(full_results(entry(4.9, 2.3, 7.6), n_funded=20))
    table = findings.verdict_table(r)
    assert "| Linea A | turnover | positive but fragile | 4.9 | 2.3 to 7.6 | pre-trends, pole clustering |" in table
    assert "| Linea A | employment | not estimable |" in table and "Linea B" not in table  # no call B in the data
    summary = findings.summary_answers(r)
    assert "**positive but fragile**" in summary and "significance is lost when clustering by pole" in summary
    assert "not estimable with these data (no employment data)" in summary
    limits = findings.limitations(r)
    assert "pre-trends fail" in limits and "only 20 funded firms" in limits and "only 7 poles" in limits
    assert "not estimable with these data (no employment data)" in limits
    assert "suggestive, not conclusive" in findings.conclusions(r)
    recs = findings.recommendations(r)
    assert "longer pre-call series" in recs and "pool future calls" in recs and "positive and robust" not in recs
    robust = findings.Evidence({"runs": {"main_unsuccessful": run({"linea_a": {"turnover_eur": entry(4.0, 1.0, 7.0)}}),
                                         "robustness_linea_a": run({"pretest_p": 0.5}), "overview_all": full_results({})["runs"]["overview_all"]}})
    assert "robust to every check available" in findings.conclusions(robust)
    assert "longer pre-call series" not in findings.recommendations(robust)


def test_zero_interval_and_negative_effects_are_named():
    r = findings.Evidence(full_results(entry(3.1, -2.0, 8.3)))
    assert "includes zero for Linea A turnover" in findings.limitations(r)
    assert "no effect on turnover is detectable" in findings.conclusions(r)
    neg = findings.Evidence(full_results(entry(-3.0, -5.0, -1.0)))
    assert "is negative" in findings.conclusions(neg) and "Investigate the negative" in findings.recommendations(neg)


def test_residual_imbalance_is_read_from_the_balance_table():
    balance = pd.DataFrame({"covariate": ["size_class=medium", "log turnover"], "smd_before": [0.3, 0.5],
                            "smd_matched": [0.208, 0.02], "smd_ipw": [0.05, -0.04]})
    r = findings.Evidence(full_results(entry(4.0, 1.0, 7.0)), {"main_matched": {"balance_a": balance}})
    text = findings.limitations(r)
    assert "after matching 1 of 2 covariates" in text and "size class: medium, 0.208" in text and "after weighting" not in text


def test_missing_runs_never_crash_and_say_not_available():
    empty = findings.Evidence({"runs": {}})
    for make in findings.SNIPPETS.values():
        assert isinstance(make(empty), str)
    assert "not estimable" in findings.verdict_table(empty)
    assert "not available" in findings.budget(empty)


def test_budget_compares_the_published_budget_with_the_grants():
    r = findings.Evidence({"runs": {"overview_all": run({"linea_a": {"grants_m_eur": 23.7}, "linea_b": {"grants_m_eur": 9.3}})}})
    assert "50.0 M EUR" in findings.budget(r) and "33.0 M EUR in all: 66.0% of the budget" in findings.budget(r)


def test_italian_numbers_and_summary():
    assert findings.numero(1194) == "1.194" and findings.numero(4.9, 1) == "4,9" and findings.numero(-0.04, 1) == "0,0" and findings.numero(None) == "n.d."
    assert findings.percento(-2.0) == "\u22122,0%"
    text = findings.sintesi(findings.Evidence(full_results(entry(4.9, 2.3, 7.6))))
    assert "positivo ma fragile" in text and "4,9%" in text and "da 2,3% a 7,6%" in text and "non significativo" in text


def test_title_metadata_marks_synthetic_data_as_an_illustration(tmp_path):
    config = ReportConfig(source="r.qmd", evaluator="Someone", version="1.0", date=datetime.date(2025, 3, 1))
    meta = title_metadata(config, {"synthetic": True, "name": "default"})
    assert meta["date"] == "2025-03-01" and meta["commissioning body"] == "not stated"
    assert "illustration on synthetic data" in meta["status"]
    assert title_metadata(config, {"synthetic": False, "name": "real"})["status"] == "final report"
    source = tmp_path / "r.qmd"
    source.write_text("---\ntitle: t\nbibliography: references.bib\n---\n\nBody [@key].\n")
    stamp_front_matter(source, meta)
    text = source.read_text()
    assert "date: '2025-03-01'" in text and "author: Someone" in text and "bibliography: references.bib" in text
    assert text.endswith("\nBody [@key].\n")


def test_the_italian_summary_says_when_the_data_are_synthetic():
    synthetic = findings.sintesi(Results({"synthetic": True, "runs": {}}))
    real = findings.sintesi(Results({"synthetic": False, "runs": {}}))
    assert "Dati sintetici" in synthetic and "Dati sintetici" not in real


def test_dose_response_limitation_only_when_the_acrt_interval_includes_zero():
    def dose(low: float, high: float) -> dict:
        return {"turnover_eur": {"acrt_o": {"estimate": (low + high) / 2, "ci_low": low, "ci_high": high}}}

    text = " ".join(findings.dose_limitations(Results({"runs": {"dose_response_all": run({"linea_a": dose(-0.3, 0.2), "linea_b": dose(0.01, 0.2)})}})))
    assert "includes zero for Linea A turnover," in text and "Linea B" not in text and "strong parallel trends" in text
    assert findings.dose_limitations(Results({"runs": {"dose_response_all": run({"linea_a": dose(0.01, 0.2)})}})) == []
    assert findings.dose_limitations(Results({"runs": {}})) == []


@pytest.mark.parametrize("cov", [[[0.04, 0.01], [0.01, 0.09]], [[0.04, 0.09], [0.09, 0.04]]])  # the second is not PSD
def test_leads_wald_p_is_the_chi2_tail(cov):
    """p = P(chi2_k > b' V^-1 b) over the k leads e=-2, e=-3 (e=-1 is the reference; e=0 is not a
    lead), as scipy.stats.chi2.sf gives it, also when a non-PSD V makes the statistic negative (p = 1)."""
    from scipy.stats import chi2

    from evaluation.pipeline.findings import leads_wald

    b = {"e=-3": 0.05, "e=-2": -0.12}
    model = {"terms": {t: {"estimate": v} for t, v in {**b, "e=0": 0.3}.items()},
             "vcov": {"terms": ["e=-3", "e=-2"], "matrix": cov}}
    vec = np.array(list(b.values()))
    stat = vec @ np.linalg.solve(np.array(cov), vec)
    assert leads_wald(model) == (float(chi2.sf(stat, 2)), 2)
