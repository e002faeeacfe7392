"""Dose-response by grant intensity on the study's data (``evaluation.study.dose``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.data.contract import load_study_data
from evaluation.data.synthetic import EFFECT_MAX, INTENSITY_HALF
from evaluation.methods.errors import DesignError
from evaluation.study import dose as dr
from evaluation.study.design import load_truth


@pytest.fixture(scope="module")
def frames(default_data):
    data, truth = load_study_data(default_data), load_truth(default_data)
    return {line: dr.firm_frame(data, line, ["turnover_eur"], truth) for line in ("A", "B")}


def test_intensity_is_the_generators(frames):
    """The generator's true effect is EFFECT_MAX x I / (I + INTENSITY_HALF) x ramp with the same
    intensity (grant over mean pre-call turnover, parameters.py): from the third year on the
    ramp is 1, so each funded firm's truth is at most EFFECT_MAX x I/(I + I_half), and it
    reaches it exactly for firms observed only at full ramp; the frame's dose (percent)
    reproduces that bound for every funded firm."""
    frame, dropped = frames["A"]
    assert dropped == {}
    funded = frame[frame["funded"] == 1]
    assert (funded["dose"] > 0).all() and (frame.loc[frame["funded"] == 0, "dose"] == 0).all()
    intensity = funded["dose"] / 100
    bound = EFFECT_MAX["turnover_eur"] * intensity / (intensity + INTENSITY_HALF)
    ratio = funded["truth_turnover_eur"] / bound
    assert (ratio <= 1 + 1e-4).all() and (ratio > 0.3).all()
    # the ramp share depends on the start year only (two start years in Linea A)
    assert ratio.round(3).nunique() <= 4


def test_default_data_estimates_cover_the_truth(frames):
    """On the default data the overall ATT's interval covers the mean true effect and the
    uniform band covers the true curve (the truth projected on the spline) everywhere."""
    frame = dr.pooled([frames["A"][0], frames["B"][0]])
    r = dr.estimate(frame, "turnover_eur", "both calls", bootstrap=499)
    truth = dr.truth_curve(r, frame, "turnover_eur")
    att = r.aggregate.set_index("measure").loc["ATT^o"]
    assert att["ci_low"] <= truth["att_o"] <= att["ci_high"]
    assert dr.coverage(r, truth)["att"]["band_all"]
    agg, points = dr.tables(r, truth, "both calls", "turnover_eur")
    assert list(agg["measure"]) == ["att_o", "acrt_o"] and "truth" in agg
    assert list(points["quantile"]) == ["25th percentile", "50th percentile", "75th percentile"]
    assert points["dose"].is_monotonic_increasing


def test_without_truth_no_truth_columns(frames):
    frame = frames["A"][0].drop(columns="truth_turnover_eur")
    r = dr.estimate(frame, "turnover_eur", "Linea A", bootstrap=99)
    assert dr.truth_curve(r, frame, "turnover_eur") is None
    agg, points = dr.tables(r, None, "Linea A", "turnover_eur")
    assert "truth" not in agg and "truth_att" not in points


def test_a_call_without_comparison_firms_is_not_estimable_with_its_name(frames):
    frame = frames["B"][0]
    only_funded = frame[frame["funded"] == 1]
    with pytest.raises(DesignError, match=r"^Linea B \(turnover\): 0 comparison units"):
        dr.estimate(only_funded, "turnover_eur", "Linea B", bootstrap=9)
    tiny = pd.concat([frame[frame["funded"] == 0], frame[frame["funded"] == 1].head(5)])
    with pytest.raises(DesignError, match="at least 10"):
        dr.estimate(tiny, "turnover_eur", "Linea B", bootstrap=9)


def test_plot_draws_both_panels(frames):
    frame = frames["A"][0]
    r = dr.estimate(frame, "turnover_eur", "Linea A", bootstrap=99)
    fig = dr.plot(r, dr.truth_curve(r, frame, "turnover_eur"), "Linea A", "turnover_eur")
    assert len(fig.axes) == 2 and all(ax.get_xscale() == "log" for ax in fig.axes)
    assert np.isfinite(r.curve["att"]).all()
