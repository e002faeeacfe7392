"""Difference in differences with a continuous treatment (``evaluation.methods.dose_response``).

Known-truth simulations: a linear and a concave dose-response, with the comparison group's
trend shifted by a covariate (conditional parallel trends). No published example with
stated numbers is pinned: the ``contdid`` documentation's simulated example prints no
values to compare against; the peer comparison with ``diff-diff`` lives in
``benchmarks/dose_response_benchmark.py`` (it needs a network install)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.methods.dose_response import Basis, dose_response
from evaluation.methods.errors import DesignError


def linear(d):
    return 0.5 * d


def concave(d):
    return 0.3 * d / (d + 0.2)


def simulate(seed: int, effect, n1: int = 300, n0: int = 150, scale: str = "linear", covariate: bool = False):
    """Doses uniform on [0.1, 1] (log-uniform on [0.02, 2] for ``scale="log"``); long
    differences ``dY = 0.3 + effect(D) + noise``, plus a trend of 0.4 for group ``x = b``
    (more frequent among the treated) when ``covariate``."""
    rng = np.random.default_rng(seed)
    d = np.exp(rng.uniform(np.log(0.02), np.log(2), n1)) if scale == "log" else rng.uniform(0.1, 1, n1)
    dose = np.r_[d, np.zeros(n0)]
    x = np.where(rng.uniform(size=n1 + n0) < np.r_[np.full(n1, 0.7), np.full(n0, 0.3)], "b", "a")
    y = 0.3 + np.where(dose > 0, effect(dose), 0.0) + rng.normal(0, 0.5, n1 + n0)
    if covariate:
        y = y + 0.4 * (x == "b")
    return pd.DataFrame({"unit": [f"u{i}" for i in range(n1 + n0)], "dose": dose, "dy": y, "x": x})


def derivative(effect, d, eps=1e-6):
    return (effect(d + eps) - effect(d - eps)) / (2 * eps)


def population_acrt(effect, scale: str) -> float:
    """E[d effect(D) / dd] over the dose distribution of :func:`simulate` (numerically)."""
    u = np.linspace(0.1, 1, 200_001) if scale == "linear" else np.exp(np.linspace(np.log(0.02), np.log(2), 200_001))
    return float(np.mean(derivative(effect, u)))


@pytest.mark.parametrize("effect, scale, covariate", [(linear, "linear", False), (concave, "log", True)])
def test_known_truth_bias_and_coverage(effect, scale, covariate):
    """Over 100 seeded draws (default sieve: cubic, no interior knots): mean bias of ATT(d)
    and ACRT(d) over the grid small against their standard errors, pointwise coverage near
    95% and uniform-band coverage of the whole curve near 95% (binomial range for 100
    draws: 89 to 99), the overall ATT of the sample and the overall ACRT of the population
    covered as often. (Measured: bands 95% and 96% of 300 draws.)"""
    draws = 100
    bias_att, bias_acrt, point, band, agg, agg_acrt = [], [], [], [], [], []
    acrt_o = population_acrt(effect, scale)
    for seed in range(draws):
        frame = simulate(seed, effect, scale=scale, covariate=covariate)
        r = dose_response(frame, "dose", "dy", covariates=["x"] if covariate else None, scale=scale, bootstrap=199,
                          seed=seed)
        c = r.curve
        true_att, true_acrt = effect(c["dose"].to_numpy()), derivative(effect, c["dose"].to_numpy())
        bias_att.append(np.mean((c["att"] - true_att) / c["att_se"]))
        bias_acrt.append(np.mean((c["acrt"] - true_acrt) / c["acrt_se"]))
        point.append(np.mean((c["att_ci_low"] <= true_att) & (true_att <= c["att_ci_high"])))
        band.append(bool(np.all((c["att_band_low"] <= true_att) & (true_att <= c["att_band_high"]))))
        a = r.aggregate.set_index("measure").loc["ATT^o"]
        truth_o = effect(frame.loc[frame["dose"] > 0, "dose"]).mean()
        agg.append(a["ci_low"] <= truth_o <= a["ci_high"])
        b = r.aggregate.set_index("measure").loc["ACRT^o"]
        agg_acrt.append(b["ci_low"] <= acrt_o <= b["ci_high"])
    assert abs(np.mean(bias_att)) < 0.25 and abs(np.mean(bias_acrt)) < 0.25
    assert 0.89 <= np.mean(point) <= 0.99
    assert 0.89 <= np.mean(band) <= 1.0
    assert 0.89 <= np.mean(agg) <= 1.0
    assert 0.89 <= np.mean(agg_acrt) <= 1.0


def test_influence_function_standard_errors_match_the_jackknife():
    """Delete-one jackknife standard errors of ATT(d), ACRT(d) on the grid and of the
    aggregations agree with the influence-function ones within 10% (both estimate the same
    sandwich variance, the jackknife a little larger where leverage is high, as HC3 beside HC0;
    comparison and covariate terms included)."""
    frame = simulate(10, concave, n1=150, n0=75, scale="log", covariate=True)
    grid = np.exp(np.linspace(np.log(0.05), np.log(1.5), 5))
    fit = lambda f: dose_response(f, "dose", "dy", covariates=["x"], scale="log", grid=grid, bootstrap=0)  # noqa: E731
    full = fit(frame)
    ours = np.r_[full.curve["att_se"], full.curve["acrt_se"], full.aggregate["se"]]
    drops = np.array([np.r_[r.curve["att"], r.curve["acrt"], r.aggregate["estimate"]]
                      for r in (fit(frame.drop(index=i)) for i in frame.index)])
    n = len(frame)
    jackknife = np.sqrt((n - 1) / n * ((drops - drops.mean(axis=0)) ** 2).sum(axis=0))
    np.testing.assert_allclose(ours, jackknife, rtol=0.1)


def test_uniform_band_is_wider_than_the_pointwise_interval():
    r = dose_response(simulate(1, concave), "dose", "dy", bootstrap=199)
    assert r.crit["att"] > 1.96 and r.crit["acrt"] > 1.96
    assert (r.curve["att_band_high"] - r.curve["att_band_low"] > r.curve["att_ci_high"] - r.curve["att_ci_low"]).all()


def test_without_covariates_att_o_is_the_difference_of_mean_changes():
    """ATT^o = mean dY of the treated - mean dY of the comparison group (the spline has an intercept)."""
    frame = simulate(2, concave)
    r = dose_response(frame, "dose", "dy", knots=2)
    expected = frame.loc[frame["dose"] > 0, "dy"].mean() - frame.loc[frame["dose"] == 0, "dy"].mean()
    assert r.aggregate.set_index("measure").loc["ATT^o", "estimate"] == pytest.approx(expected, abs=1e-10)


def test_invariant_to_relabelling_units_and_to_a_constant_in_the_outcome():
    frame = simulate(3, linear, covariate=True)
    base = dose_response(frame, "dose", "dy", covariates=["x"], cluster="unit", seed=5)
    shuffled = frame.sample(frac=1.0, random_state=1).assign(unit=lambda f: "v" + f["unit"].str[1:])
    other = dose_response(shuffled, "dose", "dy", covariates=["x"], cluster="unit", seed=5)
    shifted = dose_response(frame.assign(dy=frame["dy"] + 7.0), "dose", "dy", covariates=["x"], cluster="unit", seed=5)
    for r in (other, shifted):
        for col in ("att", "att_se", "acrt", "acrt_se"):
            np.testing.assert_allclose(r.curve[col], base.curve[col], rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(r.aggregate["estimate"], base.aggregate["estimate"], rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("scale", ["linear", "log"])
def test_scaling_the_dose_scales_acrt_by_the_inverse(scale):
    frame = simulate(4, concave, scale=scale)
    base = dose_response(frame, "dose", "dy", scale=scale, knots=1)
    scaled = dose_response(frame.assign(dose=frame["dose"] * 100), "dose", "dy", scale=scale, knots=1)
    np.testing.assert_allclose(scaled.curve["dose"], base.curve["dose"] * 100)
    np.testing.assert_allclose(scaled.curve["att"], base.curve["att"], rtol=1e-8)
    np.testing.assert_allclose(scaled.curve["acrt"], base.curve["acrt"] / 100, rtol=1e-7)
    np.testing.assert_allclose(scaled.aggregate["estimate"].iloc[1], base.aggregate["estimate"].iloc[1] / 100, rtol=1e-7)


def test_the_covariate_adjustment_removes_a_trend_that_differs_by_group():
    """Group b trends up 0.4 more and is overrepresented among the treated: the adjusted
    ATT^o covers the truth, the unadjusted one is biased by about 0.4 x (0.7 - 0.3)."""
    frame = simulate(6, linear, n1=2000, n0=1000, covariate=True)
    truth = linear(frame.loc[frame["dose"] > 0, "dose"]).mean()
    adjusted = dose_response(frame, "dose", "dy", covariates=["x"]).aggregate.set_index("measure").loc["ATT^o"]
    naive = dose_response(frame, "dose", "dy").aggregate.set_index("measure").loc["ATT^o"]
    assert adjusted["ci_low"] <= truth <= adjusted["ci_high"]
    assert naive["estimate"] - truth == pytest.approx(0.16, abs=0.06)


def test_cross_validation_picks_knots_for_a_kinked_curve_and_none_for_a_line():
    kinked = simulate(7, lambda d: np.where(d > 0.5, 2.0 * (d - 0.5), 0.0), n1=2000, n0=200)
    straight = simulate(7, linear, n1=2000, n0=200)
    assert dose_response(kinked, "dose", "dy", knots="cv", bootstrap=9).knots >= 1
    assert dose_response(straight, "dose", "dy", knots="cv", bootstrap=9).knots == 0
    assert dose_response(kinked, "dose", "dy", bootstrap=9).knots == 0  # fixed by default, as contdid


def test_same_seed_same_bands():
    frame = simulate(8, concave)
    a, b = (dose_response(frame, "dose", "dy", seed=11) for _ in range(2))
    assert a.crit == b.crit
    assert dose_response(frame, "dose", "dy", seed=12).crit != a.crit


def test_basis_derivative_matches_finite_differences():
    d = np.exp(np.random.default_rng(0).uniform(-3, 0, 200))
    for scale in ("linear", "log"):
        basis = Basis.build(d, 3, 2, scale)
        at = np.array([0.1, 0.3, 0.6])
        numeric = (basis.values(at + 1e-6) - basis.values(at - 1e-6)) / 2e-6
        np.testing.assert_allclose(basis.derivatives(at), numeric, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(basis.values(at).sum(axis=1), 1.0)  # partition of unity: an intercept


@pytest.mark.parametrize("change, message", [
    (lambda f: f[(f["dose"] == 0) | (f.index < 5)], "treated units have a dose"),
    (lambda f: f.assign(dose=np.where(f["dose"] > 0, 0.5, 0.0)), "1 distinct dose"),
    (lambda f: f[f["dose"] > 0], "comparison units"),
    (lambda f: f.assign(x=np.where(f["dose"] > 0, "c", f["x"])), "no comparison unit has x = c"),
    (lambda f: f.assign(dose=np.where(f["dose"] > 0, -f["dose"], 0.0)), "negative"),
])
def test_data_that_cannot_support_a_curve_raise_design_error(change, message):
    frame = change(simulate(9, linear))
    with pytest.raises(DesignError, match=message):
        dose_response(frame, "dose", "dy", covariates=["x"])
