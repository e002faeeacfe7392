"""The delete-one-firm jackknife of the CS-DR simple ATT (evaluation.methods.estimators.small_sample).

Known answers (a sample mean, a difference of means), equality with brute-force
re-estimation by ``att_gt``/``aggte``, invariances, reproducibility, the ``auto`` rule,
and a small Monte Carlo on the independent DGP of ``tests/methods/montecarlo/small_sample.py``.
"""

from __future__ import annotations

import importlib.util
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaluation.methods.estimators import aggte, att_gt
from evaluation.methods.estimators import small_sample as ss

_spec = importlib.util.spec_from_file_location(
    "mc_small_sample", Path(__file__).parent / "montecarlo" / "small_sample.py")
mc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mc)

ARGS = ("log_value_added", "year", "firm_id", "cohort")
TRUTH = 0.13518  # mc.truth() to 5 decimals (recomputing it takes 6 s)


def _call(frame, inference="jackknife", **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ss.simple_att(frame, *ARGS, covariates=mc.COVARIATES, inference=inference, **kw)


@pytest.fixture(scope="module")
def panel100():
    return mc.draw(100, 2)


def test_truth_constant():
    assert mc.truth(n_pop=400_000) == pytest.approx(TRUTH, abs=2e-3)


def test_jackknife_of_a_mean_is_the_textbook_formula():
    x = np.random.default_rng(0).normal(size=37)
    loo = (x.sum() - x) / (len(x) - 1)
    se, df = ss.jackknife_se(loo)
    assert se == pytest.approx(x.std(ddof=1) / math.sqrt(len(x)), rel=1e-12)
    assert df <= len(x) - 1


def test_jackknife_df():
    n = 4000
    x = np.random.default_rng(1).normal(size=n)
    _, df = ss.jackknife_se((x.sum() - x) / (n - 1))
    assert df > 0.9 * n  # homogeneous normal terms: about n (capped at n - 1)
    y = np.zeros(n)
    y[:3] = [50.0, -40.0, 45.0]  # three firms carry the variance
    _, df = ss.jackknife_se(y)
    assert df < 10


def test_difference_of_means_known_answer():
    """No covariates, one cohort, two periods: DR = mean change of the funded minus that of
    the comparison firms; the jackknife variance is (n-1)/n (s1^2/(n1-1) + s0^2/(n0-1))."""
    rng = np.random.default_rng(3)
    n1, n0 = 7, 5
    d = rng.normal(size=n1 + n0)
    base = rng.normal(size=n1 + n0)
    frame = pd.DataFrame({
        "firm_id": np.repeat(np.arange(n1 + n0), 2), "year": np.tile([2000, 2001], n1 + n0),
        "cohort": np.repeat(np.r_[np.full(n1, 2001), np.zeros(n0)], 2),
        "y": np.column_stack([base, base + d]).ravel(),
    })
    r = ss.simple_att(frame, "y", "year", "firm_id", "cohort", inference="jackknife")
    n = n1 + n0
    assert r.att == pytest.approx(d[:n1].mean() - d[n1:].mean(), abs=1e-12)
    var = (n - 1) / n * (d[:n1].var(ddof=1) / (n1 - 1) + d[n1:].var(ddof=1) / (n0 - 1))
    assert r.se == pytest.approx(math.sqrt(var), rel=1e-10)
    assert r.method.startswith("jackknife")


def test_point_and_analytic_equal_aggte(panel100):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        agg = aggte(att_gt(panel100, *ARGS, covariates=mc.COVARIATES, method="dr", cluster="firm_id"), kind="simple")
    a = _call(panel100, "analytic")
    assert a.att == agg.overall_att and a.se == agg.overall_se
    z = stats.norm.ppf(0.975)
    assert (a.ci_low, a.ci_high) == pytest.approx((a.att - z * a.se, a.att + z * a.se), rel=1e-12)
    assert a.method == "analytic (influence function), normal"
    assert _call(panel100).att == agg.overall_att


def test_deletions_equal_brute_force_att_gt():
    """Every att_(i) equals aggte(att_gt(data without firm i)) (logit re-fitted by att_gt)."""
    frame = mc.draw(50, 5)
    loo = ss.jackknife_values(frame, *ARGS, covariates=mc.COVARIATES)
    firms = np.sort(frame["firm_id"].unique())
    brute = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for firm in firms:
            sub = frame[frame["firm_id"] != firm]
            brute.append(aggte(att_gt(sub, *ARGS, covariates=mc.COVARIATES, method="dr", cluster="firm_id"),
                               kind="simple").overall_att)
    np.testing.assert_allclose(loo, brute, rtol=0, atol=1e-10)


def test_reproducible(panel100):
    a, b = _call(panel100, seed=1), _call(panel100.sample(frac=1.0, random_state=5), seed=2)
    assert tuple(a) == tuple(_call(panel100, seed=1))
    assert a.se == pytest.approx(b.se, rel=1e-12) and a.att == pytest.approx(b.att, rel=1e-12)


def test_invariances(panel100):
    ref = _call(panel100)
    ids = panel100["firm_id"].unique()
    relabel = dict(zip(ids, np.random.default_rng(7).permutation([f"z{i}" for i in range(len(ids))])))
    relabelled = _call(panel100.assign(firm_id=panel100["firm_id"].map(relabel)))
    shifted = _call(panel100.assign(log_value_added=panel100["log_value_added"] + 3.0))
    firm_shift = panel100["firm_id"].map(dict(zip(ids, np.random.default_rng(8).normal(size=len(ids)))))
    firm_effects = _call(panel100.assign(log_value_added=panel100["log_value_added"] + firm_shift))
    for other in (relabelled, shifted, firm_effects):
        assert other.att == pytest.approx(ref.att, rel=1e-9)
        assert other.se == pytest.approx(ref.se, rel=1e-9)
        assert other.method == ref.method


def test_near_analytic_at_larger_n():
    """2,000 firms, two cohorts, no covariates: the jackknife and the analytic (influence
    function) standard errors estimate the same variance; they differ by O(1/n)."""
    frame = mc.draw(2000, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r_a, r_j = (ss.simple_att(frame, *ARGS, inference=i) for i in ("analytic", "jackknife"))
    assert r_j.se == pytest.approx(r_a.se, rel=0.03)
    assert r_j.att == r_a.att


def test_auto_rule(panel100, monkeypatch):
    assert _call(panel100, "auto").method.startswith("jackknife (delete-one-firm)")
    monkeypatch.setattr(ss, "JACKKNIFE_MAX_UNITS", 99)
    assert _call(panel100, "auto").method == "analytic (influence function), normal"
    with pytest.raises(ValueError, match="inference"):
        _call(panel100, "bootstrap")


def test_small_monte_carlo_coverage():
    """60 panels of 60 firms (about 35 funded vs 25 comparison), seeds 1-60, fixed.

    Recorded: the analytic interval covers 52/60, the jackknife 59/60; the jackknife covers
    in 7 panels where the analytic does not and never the reverse. Tolerance: at least 5
    more panels covered and at least 54/60. If the jackknife were no better, panels where
    exactly one interval covers would go either way with probability 1/2, and a net +5
    would have probability at most 1/32 (7 to 0: 1/128); the seeds are fixed, so the test
    is deterministic.
    """
    covered = {"analytic": 0, "jackknife": 0}
    for seed in range(1, 61):
        frame = mc.draw(60, seed)
        for inference in covered:
            r = _call(frame, inference)
            covered[inference] += r.ci_low <= TRUTH <= r.ci_high
    assert covered["jackknife"] >= covered["analytic"] + 5
    assert covered["jackknife"] >= 54


def test_auto_falls_back_when_a_deletion_cannot_be_estimated():
    """Two comparison firms and an intercept-only regression: deleting one leaves one
    comparison firm, so ``auto`` uses the analytic interval and says why."""
    rng = np.random.default_rng(4)
    n = 8
    frame = pd.DataFrame({"firm_id": np.repeat(np.arange(n), 2), "year": np.tile([2000, 2001], n),
                          "cohort": np.repeat(np.r_[np.full(n - 2, 2001), np.zeros(2)], 2),
                          "y": rng.normal(size=2 * n)})
    r = ss.simple_att(frame, "y", "year", "firm_id", "cohort", inference="auto")
    assert r.method.startswith("analytic (influence function), normal: jackknife not possible")
    with pytest.raises(ValueError, match="comparison firms"):
        ss.simple_att(frame, "y", "year", "firm_id", "cohort", inference="jackknife")


def test_unbalanced_panel_group_jackknife_is_exact_delete_one_for_few_firms_and_label_invariant():
    """Unbalanced panel (``mc.draw_unbalanced_panel``: spells, firm-years missing at random),
    ``allow_unbalanced_panel=True``. (1) ``group_jackknife_values`` with 7 groups equals
    ``aggte(att_gt(...))`` re-run without each group, the groups built here independently
    (firms in sorted order, firm k in group k mod 7). (2) With 40 <= 50 firms ``simple_att``
    is the delete-one-firm jackknife: its se is ``jackknife_se`` of the brute-force
    deletions of each firm. (3) Relabelling the firms permutes the deletions, so the
    interval is unchanged (true for G = n only: with more than 50 firms the groups depend
    on the labels)."""
    frame = mc.draw_unbalanced_panel(40, 3)
    firms = np.sort(frame["firm_id"].unique())
    assert len(firms) <= ss.JACKKNIFE_GROUPS and frame.groupby("firm_id").size().nunique() > 1
    fit = dict(covariates=mc.COVARIATES, method="dr", cluster="firm_id", allow_unbalanced_panel=True)

    def brute(sub):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = att_gt(sub, *ARGS, **fit)
        assert res.extra["panel_estimator"].startswith("unbalanced")
        return aggte(res, kind="simple").overall_att

    groups = {f: k % 7 for k, f in enumerate(firms)}
    by_group = ss.group_jackknife_values(frame, "firm_id", brute, groups=7)
    expected = [brute(frame[frame["firm_id"].map(groups) != g]) for g in range(7)]
    np.testing.assert_allclose(by_group, expected, rtol=0, atol=1e-12)

    r = _call(frame, allow_unbalanced_panel=True)
    loo = np.array([brute(frame[frame["firm_id"] != f]) for f in firms])
    se, df = ss.jackknife_se(loo)
    assert r.method == f"jackknife (delete-one-firm), t({df:.1f})"
    assert r.att == pytest.approx(brute(frame), abs=1e-14)
    assert r.se == pytest.approx(se, rel=1e-10)

    relabel = dict(zip(firms, np.random.default_rng(9).permutation([f"z{i:03d}" for i in range(len(firms))])))
    other = _call(frame.assign(firm_id=frame["firm_id"].map(relabel)), allow_unbalanced_panel=True)
    assert other.att == pytest.approx(r.att, rel=1e-10) and other.se == pytest.approx(r.se, rel=1e-10)
    assert other.method == r.method


def test_logit_deletions_are_kept_for_the_same_sample_only():
    """A second call with the same (X, D, w) returns the kept result, equal to a fresh Newton
    fit; other weights or another treated firm give a fresh fit, not the kept one."""
    from evaluation.methods.estimators.staggered.panel_2x2 import _logit

    rng = np.random.default_rng(4)
    X = np.column_stack([np.ones(60), rng.normal(size=60), rng.normal(size=60)])
    D = (rng.random(60) < 0.4).astype(float)
    w = np.ones(60)

    def fitted(D, w):
        ps, H_inv = _logit(X, D, w)
        return ss._logit_coef(X, ps), ps, H_inv

    ss._deletions_memo.clear()
    first = ss._logit_deletions(X, D, w, *fitted(D, w))
    assert ss._logit_deletions(X.copy(), D.copy(), w.copy(), *fitted(D, w)) is first
    np.testing.assert_array_equal(first, ss._newton_deletions(X, D, w, *fitted(D, w)))
    for D2, w2 in ((D, w * np.linspace(0.5, 1.5, 60)), (np.r_[1 - D[:1], D[1:]], w)):
        other = ss._logit_deletions(X, D2, w2, *fitted(D2, w2))
        assert other is not first
        np.testing.assert_array_equal(other, ss._newton_deletions(X, D2, w2, *fitted(D2, w2)))
    assert not first.flags.writeable
