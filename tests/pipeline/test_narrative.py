"""The report's data-dependent sentences follow rules, not the default data."""

from __future__ import annotations

from evaluation.pipeline import narrative
from evaluation.pipeline.report import data_banner, not_estimable_markdown


def results(**runs) -> narrative.Results:
    return narrative.Results({"runs": runs})


def first_did(naive: float, did: float, gap: float | None) -> dict:
    turnover = {"naive_pct": naive, "twfe_pct": did, "twfe_ci_low_pct": did - 2, "twfe_ci_high_pct": did + 2, "truth_pct": None}
    return {"headline": {"n_funded": 50, "n_unsuccessful": 40, "pre_gap_log_turnover": gap, "turnover_eur": turnover},
            "not_estimable": {}}


def test_most_of_the_gap_is_selection_only_when_the_numbers_say_so():
    # naive gap 100% = 0.693 log points; a pre-start gap of 0.6 is more than half of it
    assert "most of the naive gap" in narrative.selection_sentence(results(first_did_linea_a=first_did(100.0, 3.0, 0.6)), "A")
    assert "whole naive gap, and more" in narrative.selection_sentence(results(first_did_linea_a=first_did(5.0, -3.0, 0.2)), "A")
    partly = narrative.selection_sentence(results(first_did_linea_a=first_did(100.0, 3.0, 0.1)), "A")
    assert "part of the naive gap" in partly and "most" not in partly
    none = narrative.selection_sentence(results(first_did_linea_a=first_did(5.0, 3.0, -0.2)), "A")
    assert "was not there before the start" in none and "selection" not in none
    negative = narrative.selection_sentence(results(first_did_linea_a=first_did(-9.5, -2.9, 0.04)), "A")
    assert "no turnover advantage" in negative and "part of" not in negative


def test_a_missing_call_is_said_to_be_missing_with_the_reason():
    r = results(first_did_linea_a=first_did(10.0, 3.0, 0.0),
                first_did_linea_b={"headline": {}, "not_estimable": {"estimates": "applications.csv holds no application to Linea B."}})
    text = narrative.summary_first(r)
    assert "**Linea B**: the first comparison: not estimable with these data (applications.csv holds no application to Linea B)" in text
    assert "synthetic" not in text  # no truth, no sentence about it


def _cost_head(jobs, low, high, cost=None, cost_low=None, cost_high=None, **more):
    return {"jobs": jobs, "jobs_ci_low": low, "jobs_ci_high": high, "jobs_funded_firms": 50, "cost_per_job_eur": cost,
            "cost_ci_low": cost_low, "cost_ci_high": cost_high, **more}


def test_cost_per_job_says_no_job_when_the_jobs_are_not_positive():
    r = results(heterogeneity_linea_a={"headline": _cost_head(-410, -900, 80, cost_low=120000), "not_estimable": {}})
    text = narrative.cost_sentence(r, "A")
    assert "not above zero at the point estimate, so there is no cost per job" in text
    assert "costs from 120,000 EUR per job upward" in text and "unbounded" not in text and "synthetic" not in text


def test_cost_per_job_is_not_estimable_with_the_reason():
    r = results(heterogeneity_linea_a={"headline": {}, "not_estimable": {"cost_per_job": "no funded firm reports employment."}})
    assert "not estimable with these data (no funded firm reports employment)" in narrative.cost_sentence(r, "A")


def test_cost_per_job_is_firm_when_the_jobs_interval_excludes_zero_and_names_the_truth():
    head = _cost_head(1400, 600, 2200, 17000, 10800, 39500, true_jobs=1500, true_cost_per_job_eur=15900, true_jobs_covered=True)
    r = results(heterogeneity_linea_a={"headline": head, "numbers": {"cost_ci_unbounded": False}, "not_estimable": {}})
    text = narrative.cost_sentence(r, "A")
    assert "created about 1,400 jobs (annual work units) in an average year after the start (95% interval 600 to 2,200)" in text
    assert "each job cost about 17,000 EUR of grants (95% interval 10,800 EUR to 39,500 EUR)" in text
    assert "synthetic data" in text and "about 1,500 jobs and 15,900 EUR per job, inside the jobs interval" in text
    head.update(true_jobs_covered=False)
    assert "outside the jobs interval" in narrative.cost_sentence(r, "A")


def test_significance_words_follow_the_interval():
    assert narrative.significance({"ci_low_pct": 0.5, "ci_high_pct": 3.0}) == "above zero"
    assert narrative.significance({"ci_low_pct": -3.0, "ci_high_pct": -0.5}) == "below zero"
    assert narrative.significance({"ci_low_pct": -1.0, "ci_high_pct": 3.0}) == "an interval that includes zero"


def test_main_table_marks_not_estimable_cells_and_has_no_truth_column_without_truth():
    entry = {"pct": 2.0, "ci_low_pct": -1.0, "ci_high_pct": 5.0, "p": 0.2, "truth_pct": None}
    r = results(overview_all={"headline": {"linea_a": {"submitted": 10}, "linea_b": {"submitted": 0}}, "not_estimable": {}},
                main_unsuccessful={"headline": {"linea_a": {"turnover_eur": entry, "employees": {"not_estimable": "no employment data."}}},
                                   "not_estimable": {}})
    table = narrative.main_table(r)
    assert "Linea B" not in table.split(":")[0]  # no row for a call the data do not hold
    assert "| unsuccessful applicants | Linea A | 2.0 | -1.0 to 5.0 | not estimable |" in table
    assert "true turnover" not in table
    assert "no employment data" in table


def test_validation_appendix_without_truth():
    assert "no known true effect" in narrative.validation(results(main_unsuccessful={"headline": {"covered": None}}))


def test_banner_comes_from_dataset_json():
    foreign = data_banner({"name": "mine", "synthetic": True, "description": "Made by hand."})
    assert "Synthetic data." in foreign and "evaluation.data.synthetic" not in foreign and "seed" not in foreign
    assert "calibrated" not in foreign and "Made by hand." in foreign
    default = data_banner({"name": "d", "synthetic": True, "description": "", "generator": "evaluation.data.synthetic", "seed": 5})
    assert "made by `evaluation.data.synthetic` with seed 5" in default
    real = data_banner({"name": "regional extract", "synthetic": False, "description": "Balance sheets."})
    assert "Synthetic" not in real and "regional extract" in real


def test_not_estimable_note():
    assert not_estimable_markdown("the panel has one year") == (
        "::: {.callout-note}\n**Not estimable with these data.** The panel has one year.\n:::\n")
    assert "** applications.csv holds" in not_estimable_markdown("applications.csv holds no application")


def test_cost_per_job_is_hedged_when_the_jobs_interval_includes_zero():
    head = _cost_head(210, -40, 460, 330000, 150000)
    r = results(heterogeneity_linea_a={"headline": head, "numbers": {"cost_ci_unbounded": True}, "not_estimable": {}})
    text = narrative.cost_sentence(r, "A")
    assert "may have created about 210 jobs" in text and "cannot rule out that no job was created" in text
    assert "150,000 EUR to unbounded" in text and "funding created" not in text
