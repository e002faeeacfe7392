"""Robustness checks (evaluation.study.robustness) on data with a known answer."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
import pytest

from evaluation.data.contract import load_study_data
from evaluation.methods.estimators import twfe
from evaluation.study import robustness as R
from evaluation.study.comparison import comparison_sample


@pytest.fixture(scope="module")
def samples(default_data):
    data = load_study_data(default_data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {(line, group): comparison_sample(data, line, group)
                for line, group in (("A", "unsuccessful"), ("A", "matched"), ("B", "unsuccessful"))}


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _panel(rng, trend: float, n: int = 400, effect: float = 0.05) -> pd.DataFrame:
    """Firms 2012-2022: a quarter start in 2017, a quarter in 2018, half never (cohort 0).
    log y = firm effect + year effect + noise (sd 0.1) + effect after the start
    + ``trend`` x (year - 2012) for the treated firms (a steeper trend)."""
    years = np.arange(2012, 2023)
    cohort = np.repeat([2017, 2018, 0, 0], n // 4)
    frame = pd.DataFrame({"firm_id": np.repeat(np.arange(n), len(years)).astype(str),
                          "year": np.tile(years, n), "cohort": np.repeat(cohort, len(years))})
    treated = frame["cohort"] > 0
    frame["treat"] = (treated & (frame["year"] >= frame["cohort"])).astype(int)
    y = (np.repeat(rng.normal(0, 1, n), len(years)) + 0.03 * (frame["year"] - 2012)
         + rng.normal(0, 0.1, len(frame)) + effect * frame["treat"] + trend * treated * (frame["year"] - 2012))
    frame["log_turnover_eur"] = y
    return frame


def test_pretrend_tests_flag_a_violated_trend():
    rng = np.random.default_rng(11)
    table = _quiet(R.pretrend_tests, _panel(rng, trend=0.01), "turnover_eur")
    assert list(table["test"]) == ["event study Wald", "event study F", "att_gt pre-test"]
    assert (table["p"] < 0.01).all(), table
    assert table.loc[0, "df1"] == 4  # e=-5 (binned), -4, -3, -2
    assert table.loc[1, "df2"] == 399  # 400 firm clusters - 1
    assert table.loc[1, "statistic"] == pytest.approx(table.loc[0, "statistic"] / 4)
    rejections = np.zeros(3)
    for _ in range(20):
        rejections += _quiet(R.pretrend_tests, _panel(rng, trend=0.0), "turnover_eur")["reject"].to_numpy()
    # nominal 5%: P(5 or more of 20 | 5%) = 0.003
    assert (rejections <= 4).all(), rejections


@pytest.mark.parametrize("key", [("A", "unsuccessful"), ("B", "unsuccessful")])
def test_placebos_cover_zero_on_the_synthetic_data(samples, key):
    # the synthetic effect is zero before the start (data/README.md), and funded and
    # unsuccessful applicants share their trends
    for table in (_quiet(R.placebo_dates, samples[key], "turnover_eur", shift=2),
                  _quiet(R.placebo_outcome, samples[key], "turnover_eur", lag=3)):
        assert len(table) == 3
        assert table["covers_zero"].all(), table


def test_placebo_dates_detect_anticipation(samples):
    sample = samples[("A", "unsuccessful")].copy()
    # funded firms "react" by +0.15 log points in the two years before the start
    ahead = (sample["cohort"] > 0) & (sample["year"] >= sample["cohort"] - 2) & (sample["year"] < sample["cohort"])
    sample.loc[ahead, "log_turnover_eur"] += 0.15
    table = _quiet(R.placebo_dates, sample, "turnover_eur", shift=2)
    assert table["years"].iloc[0] == "2012-2016"
    assert (~table["covers_zero"]).all(), table
    assert np.allclose(table["estimate"], 0.15, atol=0.04)


def test_placebo_outcome_detects_a_differential_trend(samples):
    sample = samples[("A", "unsuccessful")].copy()
    funded = sample["cohort"] > 0
    sample.loc[funded, "log_turnover_eur"] += 0.03 * (sample.loc[funded, "year"] - 2012)
    table = _quiet(R.placebo_outcome, sample, "turnover_eur", lag=3)
    assert (~table["covers_zero"]).all() and (table["estimate"] > 0).all(), table


def test_leave_one_pole_out(samples):
    sample = samples[("A", "unsuccessful")]
    base = _quiet(R.leave_one_pole_out, sample, "turnover_eur")
    poles = sorted(sample.loc[sample["cohort"] > 0, "pole"].unique())
    assert list(base["dropped"]) == ["none", *poles]
    # a large effect only in one pole's funded firms: dropping that pole gives exactly the
    # estimate without the injection, every other row moves up
    shocked = sample.copy()
    hit = (shocked["pole"] == "MESAP") & (shocked["treat"] == 1)
    shocked.loc[hit, "log_turnover_eur"] += 0.5
    table = _quiet(R.leave_one_pole_out, shocked, "turnover_eur").set_index("dropped")
    base = base.set_index("dropped")
    assert table.loc["MESAP", "estimate"] == pytest.approx(base.loc["MESAP", "estimate"], abs=1e-10)
    others = [p for p in table.index if p not in ("MESAP", "none")]
    assert (table.loc[others, "estimate"] - base.loc[others, "estimate"] > 0.05).all()
    assert (table.loc[others, "change"] > 0).all() and table.loc["MESAP", "change"] < -0.05


def _noise_free(sample, effect):
    """log R&D replaced by firm effect + year effect + effect(cohort, event time) on treated years."""
    s = sample.copy()
    firm = pd.Series(np.random.default_rng(3).normal(0, 1, s["firm_id"].nunique()), index=s["firm_id"].unique())
    tau = np.where(s["treat"] == 1, effect(s["cohort"], s["year"] - s["cohort"]), 0.0)
    s["log_rd_expenditure_eur"] = s["firm_id"].map(firm) + 0.04 * (s["year"] - 2012) + tau
    return s, tau


def test_side_by_side_known_answers(samples):
    sample = samples[("A", "unsuccessful")]
    # constant effect, no noise: all five estimators give it exactly
    s, _ = _noise_free(sample, lambda g, e: 0.1 + 0 * e)
    table = _quiet(R.estimators_side_by_side, s, "rd_expenditure_eur")
    assert list(table["estimator"]) == ["twfe", "cs_dr", "sun_abraham", "imputation", "matched_did"]
    assert np.allclose(table["estimate"], 0.1, atol=1e-8), table
    # effects growing with event time and larger for the 2018 cohort: the heterogeneity-robust
    # estimators give the mean effect over treated firm-years, TWFE does not
    s, tau = _noise_free(sample, lambda g, e: 0.02 * (e + 1) + 0.03 * (g == 2018))
    truth = tau[s["treat"] == 1].mean()
    table = _quiet(R.estimators_side_by_side, s, "rd_expenditure_eur").set_index("estimator")
    for name in ("cs_dr", "sun_abraham", "imputation"):
        assert table.loc[name, "estimate"] == pytest.approx(truth, abs=1e-8), name
    assert abs(table.loc["twfe", "estimate"] - truth) > 0.005


def test_side_by_side_on_the_study_sample_and_plot(samples, tmp_path):
    table = _quiet(R.estimators_side_by_side, samples[("A", "matched")], "turnover_eur")
    assert table["estimate"].notna().all() and (table["ci_low"] < table["estimate"]).all()
    assert (table["ci_high"] > table["estimate"]).all()
    fig = R.plot_side_by_side(table, truth=0.04)
    assert len(fig.axes[0].get_yticklabels()) == 5
    fig.savefig(tmp_path / "side.png")


def test_bacon_table_sums_to_twfe(samples):
    sample = samples[("A", "matched")]
    table = _quiet(R.bacon_table, sample, "turnover_eur")
    assert set(table["type"]) == {"treated vs never", "earlier vs later", "later vs earlier"}
    assert table["weight"].sum() == pytest.approx(1.0, abs=1e-12)
    assert table.attrs["weighted_sum"] == pytest.approx(table.attrs["twfe"], abs=1e-10)
    direct = twfe(sample, "log_turnover_eur", ["treat"], "firm_id", "year").table.loc["treat", "estimate"]
    assert table.attrs["twfe"] == pytest.approx(direct, abs=1e-10)
    # unbalanced input: firms with a missing year are dropped, the identity still holds;
    # never-treated as missing cohort (NaN) is the same as 0
    s = sample.copy()
    gone = s["firm_id"].isin(s["firm_id"].unique()[::7]) & (s["year"] == 2015)
    s.loc[gone, "log_turnover_eur"] = np.nan
    s["cohort"] = s["cohort"].replace(0, np.nan)
    unbalanced = _quiet(R.bacon_table, s, "turnover_eur")
    assert unbalanced.attrs["dropped_firms"] == s["firm_id"].unique()[::7].size
    assert unbalanced.attrs["weighted_sum"] == pytest.approx(unbalanced.attrs["twfe"], abs=1e-10)
    assert unbalanced.attrs["twfe"] != pytest.approx(table.attrs["twfe"], abs=1e-6)


def test_by_outcome_stacks_outcomes_and_reports_the_ones_it_cannot_check():
    rng = np.random.default_rng(5)
    clean = _panel(rng, trend=0.0)
    frame = clean.assign(log_employees=_panel(rng, trend=0.01)["log_turnover_eur"], log_value_added_eur=np.nan)
    table, skipped = _quiet(R.by_outcome, R.pretrend_tests, frame, ["turnover_eur", "employees", "value_added_eur"])
    assert list(dict.fromkeys(table["outcome"])) == ["turnover", "employment"]
    assert list(skipped) == ["value_added_eur"]
    assert set(table.attrs["by_outcome"]) == {"turnover_eur", "employees"}
    with pytest.raises(R.DesignError):
        _quiet(R.by_outcome, R.pretrend_tests, frame, ["value_added_eur"])


def test_outcome_summary_flags_the_outcome_whose_pre_trends_differ():
    rng = np.random.default_rng(7)
    frame = _panel(rng, trend=0.0)
    # employment of the funded firms grows 0.01 log points a year faster (before and after the start)
    frame["log_employees"] = _panel(rng, trend=0.01)["log_turnover_eur"]
    pretrend, _ = _quiet(R.by_outcome, R.pretrend_tests, frame, ["turnover_eur", "employees"])
    summary = R.outcome_summary(pretrend, None)
    assert summary["employees"]["reject"] and summary["employees"]["pretest_p"] < 0.05
    # leads against e = -1 of a steeper trend are negative: -0.01 x (number of years before -1)
    leads = summary["employees"]["significant_leads"]
    assert leads and all(lead["estimate"] < 0 and lead["p"] < 0.05 for lead in leads)
    assert [lead["e"] for lead in leads] == sorted(lead["e"] for lead in leads)
    assert set(summary["turnover_eur"]) >= {"pretest_p", "event_study_p", "reject", "significant_leads"}


def test_outcome_summary_breakdown_status():
    honest = pd.DataFrame({"outcome": ["turnover", "employment"]})
    honest.attrs["by_outcome"] = {"turnover_eur": {"breakdown": {"RM": 0.7234, "SD": np.inf}},
                                  "employees": {"breakdown": {"RM": np.nan}}}
    summary = R.outcome_summary(None, honest)
    assert summary["turnover_eur"] == {"breakdown_rm": 0.72, "breakdown_sd": None,
                                       "breakdown_status": {"rm": "value", "sd": "beyond_range"}}
    assert summary["employees"] == {"breakdown_rm": None, "breakdown_status": {"rm": "not_significant"}}


def test_pretrend_power_table_skips_what_it_cannot_use():
    """Roth's power analysis needs a pre- and a post-period estimate and an invertible
    covariance of the leads; otherwise the table says why it is empty."""
    import numpy as np
    import pandas as pd

    from evaluation.methods.errors import DesignError
    from evaluation.study import robustness

    def stacked(inputs):
        t = pd.DataFrame({"outcome": ["turnover"]})
        t.attrs["by_outcome"] = {"turnover_eur": {"event_study": inputs}}
        return t

    good = {"betahat": np.array([0.0, 0.1]), "sigma": np.diag([0.01, 0.01]), "num_pre": 1, "num_post": 1, "rel_times": [-2, 0]}
    table = robustness.pretrend_power_table({"pretrend": stacked(good), "honestdid": None})
    assert set(table["test"]) == {"wald", "individual"} and (table["slope"] > 0).all()
    singular = {**good, "sigma": np.zeros((2, 2))}
    with pytest.raises(DesignError, match="usable covariance"):
        robustness.pretrend_power_table({"pretrend": stacked(singular), "honestdid": None})
    with pytest.raises(DesignError, match="no event study"):
        robustness.pretrend_power_table({"pretrend": stacked({**good, "num_pre": 0}), "honestdid": None})


def test_pretrend_power_plot_draws_the_detected_trends_through_the_reference_year():
    """One panel per outcome with a power analysis; the dashed line is the 80%-power slope of
    the "no significant lead" test times (t + 1), zero at the reference year -1."""
    import matplotlib
    import numpy as np
    import pandas as pd

    matplotlib.use("Agg")
    from evaluation.methods.errors import DesignError
    from evaluation.study import robustness

    es = {"betahat": np.array([0.01, -0.02, 0.05, 0.08]), "sigma": np.diag([0.01, 0.01, 0.02, 0.02]) ** 2,
          "num_pre": 2, "num_post": 2, "rel_times": [-3, -2, 0, 1]}
    honest = pd.DataFrame({"outcome": ["turnover"]})
    honest.attrs["by_outcome"] = {"turnover_eur": {"event_study": es}, "employees": {"event_study": es}}
    power = robustness.pretrend_power_table({"pretrend": None, "honestdid": honest})
    fig = robustness.plot_pretrend_power({"honestdid": honest}, power)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(panels) == 2
    slope = power[(power["outcome"] == "turnover") & (power["test"] == "individual") & (power["power"] == 0.8)]["slope"].item()
    dashed = [line for line in panels[0].get_lines() if line.get_linestyle() == "--"][0]
    x, y = dashed.get_data()
    assert np.allclose(y, slope * (np.asarray(x) + 1))
    with pytest.raises(DesignError, match="no Callaway-Sant'Anna event study"):
        robustness.plot_pretrend_power({"honestdid": honest}, power.iloc[0:0])
