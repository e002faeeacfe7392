"""Power of pre-trend tests (Roth 2022): closed forms, simulation, a known-truth event study."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaluation.methods import pretrend_power as pp
from evaluation.methods.estimators import event_study

Z = stats.norm.isf(0.025)


def test_one_lead_is_the_two_sided_z_test():
    """One lead with se 1 at t = -2: power is Phi(mu - z) + Phi(-mu - z); 50% power needs
    mu just under z = 1.96, 80% power mu = z + z_0.8 = 2.80 (to 1e-3), for both tests."""
    for test in pp.TESTS:
        s50 = pp.slope_for_power(0.5, [-1.0], [[1.0]], test)
        s80 = pp.slope_for_power(0.8, [-1.0], [[1.0]], test)
        assert s50 == pytest.approx(Z - 1e-4, abs=2e-4)
        assert s80 == pytest.approx(Z + stats.norm.ppf(0.8), abs=1e-3)
        assert pp.power(s80, [-1.0], [[1.0]], test) == pytest.approx(0.8, abs=1e-8)
    assert pp.power(0.0, [-1.0], [[1.0]], "wald") == pytest.approx(0.05)


def test_wald_power_is_noncentral_chi_square_and_matches_simulation():
    sigma = np.array([[0.04, 0.01, 0.0], [0.01, 0.03, 0.005], [0.0, 0.005, 0.02]])
    d = np.array([-4.0, -3.0, -2.0])
    slope = 0.05
    lam = slope**2 * d @ np.linalg.solve(sigma, d)
    assert pp.wald_power(slope, d, sigma) == pytest.approx(stats.ncx2.sf(stats.chi2.isf(0.05, 3), 3, lam))
    b = np.random.default_rng(1).multivariate_normal(slope * d, sigma, size=200_000)
    W = np.einsum("ij,ij->i", b, np.linalg.solve(sigma, b.T).T)
    assert np.mean(W > stats.chi2.isf(0.05, 3)) == pytest.approx(pp.wald_power(slope, d, sigma), abs=0.005)


def test_individual_pretest_independent_leads_is_a_product_and_simulation_agrees():
    se = np.array([0.1, 0.2, 0.15])
    mean = np.array([-0.2, -0.1, 0.05])
    closed = np.prod(stats.norm.cdf(Z - mean / se) - stats.norm.cdf(-Z - mean / se))
    assert pp.pass_probability(mean, np.diag(se**2)) == pytest.approx(closed, abs=1e-4)
    assert pp.pass_probability(mean, np.diag(se**2), method="simulate") == pytest.approx(closed, abs=0.004)
    corr = np.array([[1, 0.6, 0.3], [0.6, 1, 0.6], [0.3, 0.6, 1]])
    sigma = corr * np.outer(se, se)
    mvn = pp.pass_probability(mean, sigma)
    assert pp.pass_probability(mean, sigma, method="simulate") == pytest.approx(mvn, abs=0.004)
    assert abs(mvn - closed) > 0.01  # correlation matters: the product would be wrong


def test_conditional_bias_matches_direct_simulation():
    """Roth's eq. 3: the bias of the post estimates given a pass, against filtering draws
    of the whole event-study vector."""
    sigma = np.array([[0.02, 0.008, 0.006], [0.008, 0.02, 0.01], [0.006, 0.01, 0.03]])
    rel = np.array([-3, -2, 0])
    slope = 0.08
    bias, passed = pp.conditional_bias(slope, rel[:2] + 1, rel[2:] + 1, sigma, 2, "individual", seed=3)
    b = np.random.default_rng(9).multivariate_normal(slope * (rel + 1), sigma, size=400_000)
    keep = np.all(np.abs(b[:, :2]) / np.sqrt(np.diag(sigma)[:2]) <= Z, axis=1)
    assert passed == pytest.approx(keep.mean(), abs=0.005)
    assert bias[0] == pytest.approx(b[keep, 2].mean(), abs=0.003)
    assert bias[0] > slope * 1  # leads below zero, truncated towards it, positively correlated: passing adds bias (Roth's point)
    unc, _ = pp.conditional_bias(slope, rel[:2] + 1, rel[2:] + 1, np.diag(np.diag(sigma)), 2, "individual")
    assert unc[0] == pytest.approx(slope, abs=1e-12)  # no correlation: no pretest distortion


def test_slope_searches_sharing_known_powers_find_the_same_slopes(monkeypatch):
    """Searches for several target powers sharing the powers already computed give the slopes
    of searches on their own, with fewer integrations; the shared values are the powers."""
    sigma = np.array([[0.04, 0.01, 0.0], [0.01, 0.03, 0.005], [0.0, 0.005, 0.02]])
    d = np.array([-4.0, -3.0, -2.0])
    calls, power = [], pp.power

    def counted(g, *args, **kwargs):
        calls.append(g)
        return power(g, *args, **kwargs)

    monkeypatch.setattr(pp, "power", counted)
    for test in pp.TESTS:
        calls.clear()
        alone = [pp.slope_for_power(t, d, sigma, test) for t in (0.5, 0.8)]
        n_alone = len(calls)
        calls.clear()
        known = {}
        shared = [pp.slope_for_power(t, d, sigma, test, known=known) for t in (0.5, 0.8)]
        assert shared == alone
        assert len(calls) == len(known) < n_alone
        assert all(value == power(g, d, sigma, test) for g, value in known.items())


def test_power_table_columns_and_order():
    sigma = np.diag([0.01, 0.01, 0.02, 0.02])
    t = pp.power_table([0.0, 0.01, 0.1, 0.2], sigma, 2, 2, [-3, -2, 0, 1], draws=20_000)
    assert list(t["test"]) == ["wald", "wald", "individual", "individual"]
    assert (t.groupby("test")["slope"].diff().dropna() > 0).all()  # 80% needs a steeper trend than 50%
    assert t["bias_first"].tolist() == pytest.approx((t["slope"] * 1).tolist())
    assert t["bias_mean"].tolist() == pytest.approx((t["slope"] * 1.5).tolist())
    assert t["estimate_mean"].iloc[0] == pytest.approx(0.15)
    with pytest.raises(ValueError):
        pp.power_table([0.1], [[1.0]], 0, 1, [0])


def test_known_truth_event_study_rejects_as_often_as_predicted():
    """Panels with a linear pre-trend of the treated: the share of event-study Wald tests
    (CR1 by firm) that reject is close to the power predicted from one draw's covariance."""
    rng = np.random.default_rng(20)
    n, years, slope = 120, np.arange(2010, 2017), 0.02
    reps, rejections, predicted = 150, 0, None
    for r in range(reps):
        cohort = np.where(np.arange(n) < n // 2, 2015, 0)
        firm = np.repeat(np.arange(n), len(years))
        year = np.tile(years, n)
        g = np.repeat(cohort, len(years))
        trend = np.where(g > 0, slope * (year - 2014), 0.0)
        y = rng.normal(size=n)[firm] + 0.1 * (year - 2010) + trend + rng.normal(scale=0.15, size=len(year))
        df = pd.DataFrame({"firm": firm, "year": year, "g": g, "y": y})
        es = event_study(df, "y", "firm", "year", "g", leads=5, lags=1, vcov="CR1")
        pre = [t for t in es.table.index if int(t.split("=")[1]) < -1]
        b, V = es.table.loc[pre, "estimate"].to_numpy(), es.vcov.loc[pre, pre].to_numpy()
        rejections += float(b @ np.linalg.solve(V, b)) > stats.chi2.isf(0.05, len(pre))
        if predicted is None:
            d = np.array([int(t.split("=")[1]) for t in pre]) + 1.0
            predicted = pp.wald_power(slope, d, V)
    share = rejections / reps
    assert 0.2 < predicted < 0.9  # an informative case
    assert share == pytest.approx(predicted, abs=3 * np.sqrt(predicted * (1 - predicted) / reps) + 0.05)
