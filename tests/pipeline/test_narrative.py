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
    assert "| unsuccessful applicants | Linea A | 2.0 | \u22121.0 to 5.0 | not estimable |" in table
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


def robustness_run(employment: dict, turnover: dict | None = None, **numbers) -> dict:
    """A robustness run's results with per-outcome entries split as the notebook writes them."""
    entries = {"employees": employment, **({"turnover_eur": turnover} if turnover else {})}
    head_keys = ("pretest_p", "event_study_p", "breakdown_rm", "breakdown_sd")
    return {"headline": {"outcomes": {o: {k: e[k] for k in head_keys if k in e} for o, e in entries.items()}},
            "numbers": {"by_outcome": {o: {k: e[k] for k in e if k not in head_keys} for o, e in entries.items()}, **numbers},
            "not_estimable": {}}


LEADS = [{"e": -4, "estimate": -0.0168, "p": 0.0201}, {"e": -2, "estimate": -0.0139, "p": 0.0015}]
PASSED = {"pretest_p": 0.636, "event_study_p": 0.917, "reject": False, "significant_leads": [],
          "breakdown_rm": 0.7, "breakdown_sd": 0.006, "breakdown_status": {"rm": "value", "sd": "value"}}


def test_a_failed_pre_trend_test_is_said_in_words_with_its_leads():
    failed = {"pretest_p": 0.011, "event_study_p": 0.026, "reject": True, "significant_leads": LEADS,
              "breakdown_status": {"rm": "not_significant", "sd": "not_significant"}}
    r = results(robustness_linea_a=robustness_run(failed, PASSED))
    text = narrative.robustness(r)
    assert "rejects parallel trends for employment (R `did`'s pre-test p = 0.011, the event-study F test p = 0.026" in text
    assert "e = \u22124 (\u22120.017 log points, p = 0.020), e = \u22122" in text
    assert "the employment estimate should not be read as causal without the HonestDiD bounds" in text
    assert "for turnover, R `did`'s pre-test p = 0.636 and the event-study F test p = 0.917: neither rejects" in text
    assert text.index("turnover") < text.index("employment")  # turnover first, whatever the JSON order
    # the caveat stands where the estimates are quoted: the main table
    entry = {"pct": 3.4, "ci_low_pct": 1.3, "ci_high_pct": 5.5, "truth_pct": None}
    r.runs["main_unsuccessful"] = {"headline": {"linea_a": {"turnover_eur": entry, "employees": entry}}, "not_estimable": {}}
    assert "rejects parallel trends for employment in Linea A (R `did`'s pre-test p = 0.011" in narrative.main_table(r)
    sensitivity = narrative.sensitivity(r)
    assert "M-bar = 0.7, M = 0.006" in sensitivity
    assert "no robust evidence of an effect on employment" in sensitivity


def test_a_failed_pre_trend_test_bounded_by_honest_did():
    base = {"pretest_p": 0.2, "event_study_p": 0.001, "reject": True, "significant_leads": []}
    bounded = narrative.sensitivity(results(robustness_linea_a=robustness_run(
        {**base, "breakdown_rm": 1.5, "breakdown_status": {"rm": "value"}})))
    assert "significant only if the post-start violation of parallel trends is at most 1.5 times" in bounded
    assert "M: not computed" in bounded  # one pre-period estimate: no smoothness bound
    beyond = narrative.sensitivity(results(robustness_linea_a=robustness_run(
        {**base, "breakdown_status": {"rm": "beyond_range", "sd": "beyond_range"}})))
    assert "stays significant over the whole range" in beyond
    passed = narrative.sensitivity(results(robustness_linea_a=robustness_run(PASSED)))
    assert "pre-trend test failed" not in passed
    assert narrative.pretrend_caveats(results(robustness_linea_a=robustness_run(PASSED))) == ""


def test_robustness_reads_results_written_before_outcomes_and_says_what_is_missing():
    old = {"headline": {"pretest_p": 0.04, "breakdown_rm": None}, "numbers": {"breakdown_status": {"rm": "not_significant"}},
           "not_estimable": {}}
    text = narrative.robustness(results(robustness_linea_a=old))
    assert "rejects parallel trends for turnover" in text and "p = 0.04" in text
    missing = robustness_run(PASSED, outcome_not_estimable={"pretrend": {"employees": "no funded firm has a positive value of employment in panel.csv."}})
    missing["headline"]["outcomes"] = {"turnover_eur": missing["headline"]["outcomes"]["employees"]}
    missing["numbers"]["by_outcome"] = {"turnover_eur": missing["numbers"]["by_outcome"]["employees"]}
    text = narrative.robustness(results(robustness_linea_a=missing))
    assert "The pre-trend test for employment in Linea A: not estimable with these data (no funded firm" in text
    none = {"headline": {}, "numbers": {}, "not_estimable": {"pretrend": "a pre-trend test needs funded firms observed two years."}}
    assert "not estimable with these data (a pre-trend test needs" in narrative.robustness(results(robustness_linea_a=none))


def test_binomial_range_of_forty_intervals():
    # X ~ Binomial(40, 0.95): P(X <= 34) = 0.0139 <= 0.025 < P(X <= 35) = 0.0480 (scipy.stats.binom.cdf);
    # P(X = 40) = 0.1285 > 0.025, so the upper end is 40
    assert narrative.binomial_range(40) == (35, 40)
    assert narrative.binomial_range(20) == (17, 20)  # scipy.stats.binom.ppf(0.025, 20, 0.95) = 17


MONTECARLO = {"source": "tests/study/montecarlo/RESULTS_study.md", "command": "study_validation.py --seeds 40",
              "rows": [{"line": "A", "group": "matched", "estimator": "twfe", "outcome": "turnover_eur", "draws": 40,
                        "mean_truth": 0.033, "bias": 0.0128, "rmse": 0.0151, "mean_se": 0.0072, "coverage": 0.6},
                       {"line": "A", "group": "unsuccessful", "estimator": "cs_dr", "outcome": "employees", "draws": 40,
                        "mean_truth": 0.0247, "bias": 0.0021, "rmse": 0.0088, "mean_se": 0.0084, "coverage": 0.975}]}


def test_validation_comments_coverage_by_rule():
    miss = {"line": "A", "group": "unsuccessful", "estimator": "cs_dr", "outcome": "employees", "covered": 0.0}
    hit = {**miss, "outcome": "turnover_eur", "covered": 1.0}
    low = narrative.Results({"runs": {"main_unsuccessful": {"headline": {"covered": 33, "estimates": 40},
                                                            "numbers": {"estimates": [miss, hit]}}}}, MONTECARLO)
    text = narrative.validation(low)
    assert "the truth in 33 of 40 estimates (82.5%): below the range 35 to 40" in text
    assert "the intervals that miss: Linea A, Callaway-Sant'Anna doubly robust against unsuccessful applicants, employment (Monte Carlo coverage 97.5%)" in text
    assert "1 of 2 specifications fall short" in text and "two-way fixed effects against matched non-applicants, turnover (60.0%)" in text
    ok = narrative.Results({"runs": {"main_unsuccessful": {"headline": {"covered": 38, "estimates": 40}}}},
                          {**MONTECARLO, "rows": MONTECARLO["rows"][1:]})
    text = narrative.validation(ok)
    assert "Against unsuccessful applicants the 95% intervals contain the truth in 38 of 40 estimates (95.0%): within the range 35 to 40" in text and "none of the 1 specifications falls short" in text
    table = narrative.montecarlo_table(ok)
    assert "| Linea A | unsuccessful applicants | CS-DR | employment | log points | 40 |" in table and "| 97.5 |" in table
    assert "not part of this report's sources" in narrative.montecarlo_table(narrative.Results({}))


def test_the_recorded_monte_carlo_is_the_one_the_report_reads():
    """reports/montecarlo/study_validation.json is RESULTS_study.md's table as data."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    mc = narrative.read_montecarlo(root / "reports" / narrative.MONTECARLO_FILE)
    rows = [line.strip("|").split("|") for line in (root / mc["source"]).read_text().splitlines() if line.startswith("| A") or line.startswith("| B")]
    # 2 calls x (4 estimators x 2 groups + 2 on not-yet-treated) x 2 outcomes = 40 log-outcome rows,
    # plus 2 calls x 2 groups x (Poisson R&D, jobs created) = 8 (study_validation.py)
    assert len(rows) == len(mc["rows"]) == 48
    for cells, row in zip(rows, mc["rows"]):
        assert [c.strip() for c in cells[:4]] == [row["line"], row["group"], row["estimator"], row["outcome"]]
        assert float(cells[9]) == row["coverage"] and float(cells[6]) == row["bias"] and cells[10].strip() == row["unit"]


def test_observatory_counts_verdicts_and_notes_the_two_creation_dates():
    run = {"headline": {"points": 27, "testable": 8, "estimable": 7,
                        "verdicts": {"supports": 4, "contradicts": 1, "inconclusive": 2, "not_testable": 20}},
           "numbers": {"poles_created": {"seed_000": 2008, "seed_001": 2009}}, "not_estimable": {}}
    text = narrative.observatory(results(observatory_all=run))
    assert "the evidence supports 4, contradicts 1 and is inconclusive on 2; 20 are not testable" in text
    assert "2008 in the Observatory's presentation" in text and "2009 in the Region's report" in text
    run["numbers"]["poles_created"] = {"seed_000": 2009, "seed_001": 2009}
    assert "date the poles' creation differently" not in narrative.observatory(results(observatory_all=run))


def _rd_entry(low: float, high: float, continuity_p: float = 0.5) -> dict:
    return {"estimate": (low + high) / 2, "ci_low": low, "ci_high": high, "p": 0.3, "mde80": 0.8, "h": 6.0,
            "projects_left": 11, "projects_right": 12, "firms_left": 30, "firms_right": 25, "continuity_p": continuity_p}


def test_discontinuity_sentences_follow_the_intervals_and_the_tests():
    run = {"headline": {"threshold": 60.0, "min_projects_side": 10, "linea_a": {"turnover_eur": _rd_entry(-0.5, 0.6), "density_p": 0.4},
                        "linea_b": {"turnover_eur": _rd_entry(0.1, 0.6, continuity_p=0.01), "density_p": 0.01}},
           "numbers": {"not_estimable": {"Linea B, employment (change from before the call to after)": "4 projects with data, with 4 distinct scores, score below the threshold in Linea B."}}}
    text = narrative.discontinuity(results(discontinuity_all=run))
    a, b = text.split("For Linea B")
    assert "includes zero" in a and "no evidence of a jump" in a and "shows no jump" in a
    assert "above zero" in b and "pushed over it" in b and "jumps at the threshold too" in b
    assert "not estimable with these data (4 projects with data, with 4 distinct scores, score below the threshold in Linea B)" in text
    assert "true effect" not in text  # no truth on real data
    run["headline"]["linea_a"]["turnover_eur"].update(truth=0.9)
    assert "outside the interval" in narrative.discontinuity(results(discontinuity_all=run))
    assert "threshold is 60 points" in text
    assert "not estimable" in narrative.discontinuity(results())


def test_pretrend_power_says_whether_a_missed_trend_could_explain_the_estimate():
    def run(bias: float, estimate: float) -> dict:
        e = {"wald_50": 0.01, "wald_80": 0.02, "individual_50": 0.012, "individual_80": 0.025,
             "bias_mean_wald_80": bias, "bias_mean_individual_80": bias, "bias_if_passed_individual_80": bias / 2,
             "estimate_mean": estimate}
        return {"headline": {"pretrend_power": {"turnover_eur": {"cs": e}}}}
    big = narrative.pretrend_power(results(robustness_linea_a=run(0.08, 0.05)))
    assert "could account for all of it" in big and "Callaway-Sant'Anna" in big and "Linea A" in big
    small = narrative.pretrend_power(results(robustness_linea_a=run(0.01, 0.05)))
    assert "only part of it" in small
    missing = narrative.pretrend_power(results(robustness_linea_a={"headline": {}, "not_estimable": {"pretrend_power": "no leads."}}))
    assert "not estimable with these data (no leads)" in missing


def _dose_entry(att: tuple, acrt: tuple, truth: tuple | None = None, band_all: bool = True, median: tuple = (-0.1, 0.2)) -> dict:
    entry = {"n_treated": 221, "n_control": 114,
             "median": {"dose": 0.6856, "att": 0.046, "acrt": sum(median) / 2, "acrt_band_low": median[0], "acrt_band_high": median[1]},
             "att_o": {"estimate": sum(att) / 2, "ci_low": att[0], "ci_high": att[1]},
             "acrt_o": {"estimate": sum(acrt) / 2, "ci_low": acrt[0], "ci_high": acrt[1]}}
    if truth:
        entry["att_o"]["truth"], entry["acrt_o"]["truth"] = truth
        entry["band_share_pct"] = 100.0 if band_all else 92.5
    return entry


def test_dose_response_sentences_follow_the_intervals():
    run = {"headline": {"linea_a": {"turnover_eur": _dose_entry((0.02, 0.07), (-0.4, 0.35))},
                        "linea_b": {"turnover_eur": _dose_entry((-0.01, 0.09), (0.01, 0.2))}},
           "numbers": {"not_estimable": {"both calls, employment": "3 treated units have a dose and an outcome; a dose-response curve needs at least 10."}}}
    text = narrative.dose_response(results(dose_response_all=run))
    a, b = text.split("For Linea B")
    assert "221 funded firms, 114 unsuccessful applicants" in a and "(95% interval 0.020 to 0.070, above zero)" in a
    assert "so the average slope is not pinned down" in a and "At the median intensity, 0.686% of pre-call turnover" in a
    assert "cannot tell whether the effect changes with intensity there" in a
    assert "includes zero" in b and "so on average the effect rises with intensity" in b
    run["headline"]["linea_b"]["turnover_eur"] = _dose_entry((-0.01, 0.09), (-0.2, -0.01), median=(0.02, 0.08))
    b = narrative.dose_response(results(dose_response_all=run)).split("For Linea B")[1]
    assert "so on average the effect falls with intensity" in b
    assert "(uniform band 0.020 to 0.080): the effect rises with intensity there, a causal reading of which needs strong parallel trends" in b
    assert "not estimable with these data (3 treated units" in text
    assert "true values" not in text  # real data: no truth
    run["headline"]["linea_a"]["turnover_eur"] = _dose_entry((0.02, 0.07), (-0.4, 0.35), truth=(0.08, 0.05), band_all=False)
    text = narrative.dose_response(results(dose_response_all=run))
    assert "The true values of the synthetic data are 0.080 and 0.050, outside and inside the intervals" in text
    run["headline"]["linea_a"]["turnover_eur"]["att_o"]["truth"] = 0.03
    assert "are 0.030 and 0.050, both inside the intervals" in narrative.dose_response(results(dose_response_all=run))
    assert "covers the true curve at 92.5% of the intensities shown" in text
    assert "not estimable" in narrative.dose_response(results())


def test_not_estimable_keeps_the_capital_of_a_name_and_lowers_a_sentence_start():
    assert narrative.not_estimable("X", "No funded firm reports employment.") == \
        "X: not estimable with these data (no funded firm reports employment)."
    assert narrative.not_estimable("X", "Linea A (employment): 0 comparison units") == \
        "X: not estimable with these data (Linea A (employment): 0 comparison units)."
    assert narrative.not_estimable("X", "HonestDiD needs two leads") == "X: not estimable with these data (HonestDiD needs two leads)."
