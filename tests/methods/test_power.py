"""Minimum detectable effects (evaluation.methods.power): closed forms and simulation."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest
from scipy import stats

from evaluation.methods import power as P
from evaluation.methods.results import log_points, percent


def test_two_sample_textbook_case():
    # rho = 0, one period: the two-sample z-test MDE (z_.975 + z_.8) sigma sqrt(1/n1 + 1/n0),
    # 2.8 sigma sqrt(...) in the textbooks (e.g. Duflo, Glennerster & Kremer 2007, eq. 6).
    for n1, n0, s2 in ((50, 50, 1.0), (100, 400, 2.5), (30, 90, 0.3)):
        expected = (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * math.sqrt(s2 * (1 / n1 + 1 / n0))
        assert P.mde(n1, n0, s2, 0.0, 0, 1, estimator="post") == pytest.approx(expected, rel=1e-12)
        assert P.mde(n1, n0, s2, 0.0, 0, 1, estimator="post") == pytest.approx(2.8 * math.sqrt(s2 * (1 / n1 + 1 / n0)), rel=2e-3)
    assert P.multiplier() == pytest.approx(2.8016, abs=1e-4)


def test_mckenzie_special_cases():
    # McKenzie (2012): with one pre and one post round DiD has F = 2(1 - rho), ANCOVA 1 - rho^2;
    # ANCOVA is never worse than DiD or POST; more post rounds help when rho is small.
    for rho in (0.0, 0.3, 0.7, 0.95):
        assert P.variance_factor(rho, 1, 1, "did") == pytest.approx(2 * (1 - rho))
        assert P.variance_factor(rho, 1, 1, "ancova") == pytest.approx(1 - rho**2)
        for m, r in ((1, 3), (3, 3), (2, 5)):
            anc = P.variance_factor(rho, m, r, "ancova")
            assert anc <= P.variance_factor(rho, m, r, "did") + 1e-12
            assert anc <= P.variance_factor(rho, m, r, "post") + 1e-12
    assert P.variance_factor(0.0, 3, 3, "did") == pytest.approx(2 / 3)
    # the general covariance formula reproduces McKenzie's with an equicorrelated matrix
    for est in P.ESTIMATORS:
        m = 0 if est == "post" else 2
        cov = P.equicorrelated(1.7, 0.55, m + 3)
        assert P.covariance_factor(cov, m, 3, est) == pytest.approx(1.7 * P.variance_factor(0.55, m, 3, est), rel=1e-12)
    with pytest.raises(ValueError):
        P.variance_factor(0.5, 0, 3, "did")
    with pytest.raises(ValueError):
        P.mde(10, 10, 1.0, 0.5, 1, 1, estimator="bogus")


def test_design_effect():
    base = P.mde(90, 360, 1.0, 0.5, 2, 3)
    assert P.mde(90, 360, 1.0, 0.5, 2, 3, cluster_size=10, icc_cluster=0.05) == pytest.approx(base * math.sqrt(1.45))


def _simulate_power(effect, n1, n0, sigma2, rho, m, r, estimator, reps, rng):
    """Share of significant (|t| > 1.96, OLS t-statistic) estimates over ``reps``
    simulated equicorrelated panels, the effect added to the treated post years."""
    n = n1 + n0
    d = np.r_[np.ones(n1), np.zeros(n0)]
    firm = rng.normal(0, math.sqrt(rho * sigma2), (reps, n, 1))
    y = firm + rng.normal(0, math.sqrt((1 - rho) * sigma2), (reps, n, m + r))
    pre, post = y[:, :, :m].mean(2), y[:, :, m:].mean(2) + effect * d
    if estimator == "did":
        change = post - pre
        a, b = change[:, :n1], change[:, n1:]
        diff = a.mean(1) - b.mean(1)
        s2 = (a.var(1, ddof=1) * (n1 - 1) + b.var(1, ddof=1) * (n0 - 1)) / (n - 2)
        t = diff / np.sqrt(s2 * (1 / n1 + 1 / n0))
    else:  # ANCOVA: post on 1, d, pre (Frisch-Waugh on centred variables)
        dc = d - d.mean()
        x = pre - pre.mean(1, keepdims=True)
        yc = post - post.mean(1, keepdims=True)
        sxx, sdd, sdx = (x * x).sum(1), (dc * dc).sum(), (x * dc).sum(1)
        sdy, sxy, syy = (yc * dc).sum(1), (yc * x).sum(1), (yc * yc).sum(1)
        det = sxx * sdd - sdx**2
        beta_d = (sxx * sdy - sdx * sxy) / det
        beta_x = (sdd * sxy - sdx * sdy) / det
        s2 = (syy - beta_d * sdy - beta_x * sxy) / (n - 3)
        t = beta_d / np.sqrt(s2 * sxx / det)
    return float(np.mean(np.abs(t) > stats.norm.ppf(0.975)))


@pytest.mark.parametrize("estimator", ["ancova", "did"])
def test_power_at_mde_by_simulation(estimator):
    # At the MDE the simulated power is 80% within Monte Carlo error (reps 2,000: sd 0.009,
    # tolerance 0.03); at the MDE of the other estimator it is clearly different, so the
    # test can fail.
    rng = np.random.default_rng(20240601)
    n1, n0, sigma2, rho, m, r = 120, 240, 2.0, 0.4, 2, 3
    b = P.mde(n1, n0, sigma2, rho, m, r, estimator=estimator)
    share = _simulate_power(b, n1, n0, sigma2, rho, m, r, estimator, 2000, rng)
    assert abs(share - 0.8) < 0.03, share
    other = "did" if estimator == "ancova" else "ancova"
    b_other = P.mde(n1, n0, sigma2, rho, m, r, estimator=other)
    share_other = _simulate_power(b_other, n1, n0, sigma2, rho, m, r, estimator, 2000, rng)
    assert abs(share_other - 0.8) > 0.08, share_other
    size = _simulate_power(0.0, n1, n0, sigma2, rho, m, r, estimator, 2000, rng)
    assert abs(size - 0.05) < 0.015


def test_curve_recommendation_and_plot(tmp_path):
    curve = P.mde_curve(sigma2=1.0, rho=0.5, participants=[10, 20, 40, 80], controls_per_participant=(1, 4))
    assert set(curve["design"]) == {"ANCOVA, 1 comparison firms per participant", "ANCOVA, 4 comparison firms per participant",
                                    "DiD, 1 comparison firms per participant", "DiD, 4 comparison firms per participant"}
    for _, rows in curve.groupby("design"):
        assert rows["mde_percent"].is_monotonic_decreasing
    row = curve.iloc[0]
    assert row["mde"] == pytest.approx(P.mde(30, 30, 1.0, 0.5, 3, 3))
    rec = P.recommended_design(10.0, sigma2=1.0, rho=0.5)
    p = rec["participants_per_call"]
    assert rec["mde_percent"] <= 10.0
    assert percent(P.mde(3 * (p - 1), 12 * (p - 1), 1.0, 0.5, 3, 3)) > 10.0
    # closed form: n1 >= (2.8 sigma)^2 F (1 + 1/k) / target^2
    n1 = P.multiplier() ** 2 * P.variance_factor(0.5, 3, 3) * 1.25 / log_points(10) ** 2
    assert p == math.ceil(n1 / 3)
    fig = P.plot_mde(curve, target_percent=10)
    assert len(fig.axes[0].get_lines()) == 5
    fig.savefig(tmp_path / "mde.png")
