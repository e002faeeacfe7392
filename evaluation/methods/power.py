r"""Minimum detectable effects of a comparison design on panel data.

A comparison of participants with comparable non-participants (``k`` per
participant) on a log outcome, observed for ``m`` years before and ``r`` years after
each call, several annual cohorts pooled. The study uses it to size the evaluation of
the Observatory's pilots (:mod:`evaluation.study.pilots`).

**Formula** (McKenzie 2012, *J. Dev. Econ.* 99(2), 210-221, eqs. for POST, DiD and
ANCOVA with ``m`` pre and ``r`` post rounds). With ``n1`` participants, ``n0``
comparison firms, outcome variance ``sigma2`` (one firm, one year) and equal
correlation ``rho`` between any two years of the same firm (the firm-panel ICC)::

    MDE = (z_{1-alpha/2} + z_{power}) * sqrt( (1/n1 + 1/n0) * sigma2 * F * DEFF )

    F_POST   = (1 + (r-1) rho) / r
    F_DiD    = (1 + (m-1) rho) / m + (1 + (r-1) rho) / r - 2 rho
    F_ANCOVA = (1 + (r-1) rho) / r - m rho^2 / (1 + (m-1) rho)

``DEFF = 1 + (c - 1) icc_c`` is the optional Moulton/Kish design effect when
participants come in clusters of ``c`` firms (e.g. per pole) whose outcome changes
share an intra-cluster correlation ``icc_c``; 1 by default. With ``rho = 0``, one
period and no clusters this is the two-sample z-test MDE ``2.80 sigma sqrt(1/n1 +
1/n0)`` (alpha 5%, power 80%). The other tail is ignored (standard; it adds < 0.1
percentage points of power here).

These are the variances of the three estimators on firm means: ``F`` is
``a' Sigma a / sigma2`` for the contrast ``a`` (mean of the ``r`` post years minus,
for DiD, the mean of the ``m`` pre years) and, for ANCOVA,
``Var(ybar_post | y_pre)``, the post mean regressed on the ``m`` pre years, the
coefficients at their population values (``Sigma_post,post - Sigma_post,pre
Sigma_pre^-1 Sigma_pre,post`` for the post mean; under equicorrelation the pre mean is
sufficient and this is McKenzie's ``F_ANCOVA``). Firm panels are not equicorrelated: correlation decays with the
lag. :func:`mde` therefore also takes a full covariance matrix ``cov`` of the
``m + r`` years (Burlig, Preonas & Woerman 2020, *J. Dev. Econ.* 144, "Panel data and
experimental design", make the same point: serial correlation that is not constant
biases McKenzie's formula); :meth:`PanelMoments.covariance` builds a stationary
(Toeplitz) one from the study panel. With an equicorrelated ``cov`` the two agree
exactly (a test).

Effects are in log points; ``percent`` is ``100 (exp(b) - 1)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import product
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from evaluation.methods.results import log_points, percent

ESTIMATORS = ("ancova", "did", "post")
LABELS = {"ancova": "ANCOVA", "did": "DiD", "post": "post only"}


# --------------------------------------------------------------------------- #
# Moments of a panel                                                           #
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class PanelMoments:
    """Variance and serial correlation of a log outcome in the firm panel.

    ``sigma2``: the cross-sectional variance of ``log y`` after removing year means
    (the raw log variance around each year's mean; firm effects are *not* removed, since
    they are part of the firm-to-firm variation the designs difference out through
    ``rho``); ``autocov[k]``: mean covariance of the year-demeaned ``log y`` of the same
    firm ``k`` years apart (``k = 0`` is ``sigma2``); ``rho``: the equicorrelation
    (ICC) used by McKenzie's formula, the mean of ``autocov[k] / sigma2`` over lags
    ``1..max_lag``; ``icc_cluster``: intra-cluster correlation of the yearly log
    growth within (cluster, year) cells (one-way ANOVA estimator, clipped at 0), when
    a cluster column was given.
    """

    outcome: str
    sigma2: float
    rho: float
    autocov: pd.Series
    n_firms: int
    n_years: int
    icc_cluster: float | None = None
    cluster: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def autocorr(self) -> pd.Series:
        return self.autocov / self.sigma2

    def covariance(self, periods: int) -> np.ndarray:
        """Stationary (Toeplitz) covariance of ``periods`` consecutive years, from
        ``autocov``; lags beyond the panel's longest get the longest lag's value.

        Sample autocovariances averaged lag by lag need not form a positive
        semi-definite matrix (with persistence near 1 they often do not), and then
        variances of contrasts come out negative. The matrix is therefore replaced by
        its nearest positive semi-definite matrix in the Frobenius norm (Higham 1988):
        the symmetric eigendecomposition with negative eigenvalues set to zero."""
        observed = self.autocov.to_numpy()
        values = np.r_[observed, np.full(max(0, periods - len(observed)), observed[-1])]
        lags = np.abs(np.subtract.outer(np.arange(periods), np.arange(periods)))
        cov = values[lags]
        eigval, eigvec = np.linalg.eigh((cov + cov.T) / 2)
        return (eigvec * np.clip(eigval, 0.0, None)) @ eigvec.T


# --------------------------------------------------------------------------- #
# The formula                                                                  #
# --------------------------------------------------------------------------- #


def equicorrelated(sigma2: float, rho: float, periods: int) -> np.ndarray:
    """``sigma2 ((1 - rho) I + rho 11')``: McKenzie's covariance of a firm's years."""
    return sigma2 * ((1 - rho) * np.eye(periods) + rho * np.ones((periods, periods)))


def variance_factor(rho: float, pre_periods: int, post_periods: int, estimator: str = "ancova") -> float:
    """McKenzie's (2012) ``F``: variance of the estimator per unit of ``sigma2 (1/n1 + 1/n0)``."""
    m, r = pre_periods, post_periods
    _check(estimator, m, r)
    post = (1 + (r - 1) * rho) / r
    if estimator == "post":
        return post
    if estimator == "did":
        return (1 + (m - 1) * rho) / m + post - 2 * rho
    return post - m * rho**2 / (1 + (m - 1) * rho)


def covariance_factor(cov: np.ndarray, pre_periods: int, post_periods: int, estimator: str = "ancova") -> float:
    """Variance of the estimator per unit of ``(1/n1 + 1/n0)`` for a general
    covariance ``cov`` of the ``pre + post`` years (pre years first)."""
    m, r = pre_periods, post_periods
    _check(estimator, m, r)
    cov = np.asarray(cov, float)
    if cov.shape != (m + r, m + r):
        raise ValueError(f"cov must be {(m + r)}x{(m + r)} (pre years, then post years), got {cov.shape}")
    a_pre = np.r_[np.full(m, 1 / m) if m else np.zeros(0), np.zeros(r)]
    a_post = np.r_[np.zeros(m), np.full(r, 1 / r)]
    v_post = a_post @ cov @ a_post
    if estimator == "post":
        return float(v_post)
    if estimator == "did":
        a = a_post - a_pre
        return float(max(a @ cov @ a, 0.0))
    c = cov[m:, :m].T @ a_post[m:]  # covariance of each pre year with the post mean
    # pinv: a singular pre-year block (perfectly persistent years) still has a best linear prediction
    residual = v_post - c @ np.linalg.pinv(cov[:m, :m], hermitian=True) @ c
    # a residual within rounding of zero (a singular cov: the pre years predict the post mean
    # exactly) is zero, whatever the sign rounding gave it on this machine
    return float(residual if residual > PREDICTED_EXACTLY * v_post else 0.0)


PREDICTED_EXACTLY = 1e-10
"""ANCOVA's residual variance at or below this fraction of the post mean's variance is zero."""


def _check(estimator: str, m: int, r: int) -> None:
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; choose from {ESTIMATORS}")
    if r < 1 or m < 0:
        raise ValueError(f"need post_periods >= 1 and pre_periods >= 0 (got {r}, {m})")
    if m == 0 and estimator != "post":
        raise ValueError(f"{estimator} needs at least one pre period; with none use estimator='post'")


def multiplier(alpha: float = 0.05, power: float = 0.8) -> float:
    """``z_{1-alpha/2} + z_{power}`` (2.80 at 5% and 80%)."""
    return float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power))


def mde(n_treated: float, n_control: float, sigma2: float | None = None, rho: float | None = None,
        pre_periods: int = 1, post_periods: int = 1, alpha: float = 0.05, power: float = 0.8,
        estimator: str = "ancova", cov: np.ndarray | None = None, cluster_size: float = 1.0,
        icc_cluster: float = 0.0) -> float:
    """Minimum detectable effect (log points) of the module's formula.

    Either ``sigma2`` and ``rho`` (McKenzie's equicorrelated case) or ``cov`` (the
    covariance of the ``pre_periods + post_periods`` years, pre first). ``cluster_size``
    and ``icc_cluster`` give the design effect ``1 + (c - 1) icc``.
    """
    if n_treated <= 0 or n_control <= 0:
        raise ValueError("n_treated and n_control must be positive")
    if cov is not None:
        factor = covariance_factor(cov, pre_periods, post_periods, estimator)
    else:
        if sigma2 is None or rho is None:
            raise ValueError("give sigma2 and rho, or cov")
        if not -1 < rho < 1 and rho != 0:
            raise ValueError(f"rho must be in (-1, 1), got {rho}")
        factor = sigma2 * variance_factor(rho, pre_periods, post_periods, estimator)
    deff = 1 + (cluster_size - 1) * icc_cluster
    return multiplier(alpha, power) * math.sqrt(factor * deff * (1 / n_treated + 1 / n_control))


# --------------------------------------------------------------------------- #
# Curves and the recommended design                                            #
# --------------------------------------------------------------------------- #


def design_mde(moments: PanelMoments | None, sigma2, rho, participants: int, calls: int, ratio: float,
               estimator: str, pre: int, post: int, alpha: float, power: float, use_covariance: bool,
               cluster_size: float | None, icc_cluster: float) -> float:
    n1 = participants * calls
    n0 = ratio * n1
    csize = participants if cluster_size is None else cluster_size
    if moments is not None and use_covariance:
        return mde(n1, n0, pre_periods=pre, post_periods=post, alpha=alpha, power=power, estimator=estimator,
                   cov=moments.covariance(pre + post), cluster_size=csize, icc_cluster=icc_cluster)
    s2 = moments.sigma2 if moments is not None else sigma2
    r = moments.rho if moments is not None else rho
    return mde(n1, n0, s2, r, pre, post, alpha, power, estimator, cluster_size=csize, icc_cluster=icc_cluster)


def mde_curve(moments: PanelMoments | None = None, *, sigma2: float | None = None, rho: float | None = None,
              participants: Iterable[int] = range(10, 151, 10), calls: int = 3,
              controls_per_participant: Sequence[float] = (1, 4), estimators: Sequence[str] = ("ancova", "did"),
              pre_periods: int = 3, post_periods: int = 3, alpha: float = 0.05, power: float = 0.8,
              use_covariance: bool = True, cluster_size: float | None = 1.0, icc_cluster: float = 0.0) -> pd.DataFrame:
    """MDE over participants per call, one design per (estimator, controls per participant).

    ``moments`` (from :func:`panel_moments`) or ``sigma2`` and ``rho``. With
    ``moments`` and ``use_covariance`` the Toeplitz covariance of the panel is used,
    else McKenzie's equicorrelated formula. ``calls`` annual cohorts of equal size are
    pooled (``n1 = calls x participants``, ``n0 = k n1``). ``cluster_size=None`` takes
    the participants of one call as one cluster (e.g. one pole per call).
    Columns: ``design, estimator, controls_per_participant, participants_per_call,
    n_treated, n_control, mde, mde_percent``.
    """
    rows = []
    for estimator, ratio, p in product(estimators, controls_per_participant, participants):
        b = design_mde(moments, sigma2, rho, int(p), calls, ratio, estimator, pre_periods, post_periods,
                        alpha, power, use_covariance, cluster_size, icc_cluster)
        rows.append({"design": f"{LABELS[estimator]}, {ratio:g} comparison firms per participant",
                     "estimator": estimator, "controls_per_participant": ratio, "participants_per_call": int(p),
                     "n_treated": int(p) * calls, "n_control": ratio * int(p) * calls, "mde": b,
                     "mde_percent": percent(b)})
    return pd.DataFrame(rows)


def plot_mde(curve: pd.DataFrame, target_percent: float | None = None, ax=None, title: str | None = None):
    """MDE (percent) against participants per call, one line per design; returns the Figure."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 4.0))
    else:
        fig = ax.figure
    for design, rows in curve.groupby("design", sort=False):
        ax.plot(rows["participants_per_call"], rows["mde_percent"], marker="o", ms=3, label=design)
    if target_percent is not None:
        ax.axhline(target_percent, color="grey", ls="--", lw=0.8, label=f"target {target_percent:g}%")
    ax.set_xlabel("participants per call")
    ax.set_ylabel("minimum detectable effect (%)")
    ax.set_ylim(bottom=0)
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def recommended_design(target_percent: float, moments: PanelMoments | None = None, *, sigma2: float | None = None,
                       rho: float | None = None, calls: int = 3, controls_per_participant: float = 4,
                       estimator: str = "ancova", pre_periods: int = 3, post_periods: int = 3, alpha: float = 0.05,
                       power: float = 0.8, use_covariance: bool = True, cluster_size: float | None = 1.0,
                       icc_cluster: float = 0.0, max_participants: int = 10_000) -> dict:
    """The smallest number of participants per call whose MDE is at most ``target_percent``.

    Same arguments as :func:`mde_curve` for one design. Returns a dict with
    ``participants_per_call``, ``n_treated``, ``n_control``, ``mde``, ``mde_percent``
    and the design; ``participants_per_call`` is None when even ``max_participants``
    does not reach the target (e.g. a pole design effect that does not shrink with n).
    """
    target = log_points(target_percent)
    design = {"estimator": estimator, "controls_per_participant": controls_per_participant, "calls": calls,
              "pre_periods": pre_periods, "post_periods": post_periods, "alpha": alpha, "power": power,
              "target_percent": target_percent}

    def at(p: int) -> float:
        return design_mde(moments, sigma2, rho, p, calls, controls_per_participant, estimator, pre_periods,
                           post_periods, alpha, power, use_covariance, cluster_size, icc_cluster)

    if at(max_participants) > target:
        return {**design, "participants_per_call": None, "n_treated": None, "n_control": None,
                "mde": at(max_participants), "mde_percent": percent(at(max_participants))}
    lo, hi = 1, max_participants  # MDE decreases in p (for a fixed cluster size or icc 0): bisect
    if at(lo) <= target:
        hi = lo
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if at(mid) <= target else (mid, hi)
    b = at(hi)
    return {**design, "participants_per_call": hi, "n_treated": hi * calls,
            "n_control": controls_per_participant * hi * calls, "mde": b, "mde_percent": percent(b)}
