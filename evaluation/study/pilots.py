r"""Monitoring and evaluation plan for the Observatory's two pilots: minimum detectable effects.

The Observatory recommends two pilot calls (``observatory.PILOT_INDICATORS``: a business
accelerator and "meet the corporates"), each with annual calls for three years and an
evaluation. This module sizes that evaluation with :mod:`evaluation.methods.power`, the
outcome's variance and autocovariances estimated on the study panel
(:func:`panel_moments`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation.methods.errors import DesignError
from evaluation.methods.power import PanelMoments, design_mde, recommended_design
from evaluation.methods.results import percent
from evaluation.study import labels
from evaluation.study.design import outcome_frame
from evaluation.study.observatory import PILOT_INDICATORS


def panel_moments(sample: pd.DataFrame, outcome: str, max_lag: int = 5, untreated_only: bool = True,
                  cluster: str | None = None, min_pairs: int = 10) -> PanelMoments:
    """Estimate :class:`PanelMoments` of ``log_<outcome>`` from a study frame
    (:func:`evaluation.study.comparison.comparison_sample`).

    Rows: those with the log outcome observed and, with ``untreated_only``, ``treat ==
    0`` (comparison firms and funded firms before their start), so the grant's effect
    does not enter. Year means are removed; ``sigma2`` is the pooled within-year
    variance (divisor N - number of years); ``autocov[k]`` averages, over the pairs of
    years ``k`` apart with at least ``min_pairs`` firms observed in both, the covariance
    of the demeaned values. ``rho`` averages ``autocov[1..max_lag] / sigma2``.
    ``cluster`` (e.g. ``"pole"``) adds ``icc_cluster``.
    """
    frame = outcome_frame(sample, outcome)
    if untreated_only:
        frame = frame[frame["treat"] == 0]
    y = f"log_{outcome}"
    resid = frame[y] - frame.groupby("year")[y].transform("mean")
    wide = frame.assign(_r=resid).pivot(index="firm_id", columns="year", values="_r")
    years = wide.columns.to_numpy()
    sigma2 = float((resid**2).sum() / (len(resid) - len(years)))
    if not np.isfinite(sigma2) or sigma2 <= 0:
        raise DesignError(f"log {labels.outcome(outcome)} does not vary within years, so it has no variance to plan a pilot on")
    values = wide.to_numpy()
    autocov = {0: sigma2}
    for k in range(1, len(years)):
        covs = []
        for j in range(len(years) - k):
            if years[j + k] - years[j] != k:
                continue
            a, b = values[:, j], values[:, j + k]
            ok = ~np.isnan(a) & ~np.isnan(b)
            if ok.sum() >= min_pairs:
                covs.append(np.cov(a[ok], b[ok])[0, 1])
        if covs:
            autocov[k] = float(np.mean(covs))
    autocov = pd.Series(autocov, name="autocov").rename_axis("lag")
    lags = [k for k in autocov.index if 1 <= k <= max_lag]
    if not lags:
        raise DesignError("panel_moments: no firm observed in two years")
    rho = float(np.mean(autocov[lags]) / sigma2)
    icc = None
    if cluster is not None:
        icc = _growth_icc(frame.assign(_r=resid), cluster)
    return PanelMoments(outcome=outcome, sigma2=sigma2, rho=rho, autocov=autocov,
                        n_firms=int(wide.shape[0]), n_years=len(years), icc_cluster=icc, cluster=cluster,
                        extra={"max_lag": max_lag, "untreated_only": untreated_only})


def _growth_icc(frame: pd.DataFrame, cluster: str) -> float:
    """ANOVA ICC of year-demeaned yearly growth within (cluster, year) cells."""
    f = frame.sort_values(["firm_id", "year"])
    growth = f.groupby("firm_id")["_r"].diff()
    consecutive = f.groupby("firm_id")["year"].diff() == 1
    g = f.assign(_g=growth)[consecutive & growth.notna()]
    g = g.assign(_g=g["_g"] - g.groupby("year")["_g"].transform("mean"))
    cells = g.groupby([cluster, "year"])["_g"]
    n_i, means = cells.size(), cells.mean()
    N, k = len(g), len(n_i)
    if k < 2 or N <= k:
        return 0.0
    grand = g["_g"].mean()
    msb = float((n_i * (means - grand) ** 2).sum() / (k - 1))
    msw = float(((g["_g"] - cells.transform("mean")) ** 2).sum() / (N - k))
    n0 = (N - (n_i**2).sum() / N) / (k - 1)
    return max(0.0, (msb - msw) / (msb + (n0 - 1) * msw))


PILOTS = {
    "Business Accelerator": {"indicator": PILOT_INDICATORS["Business Accelerator"][1], "outcome": "turnover_eur",
                             "pre_periods": 1, "post_periods": 3},
    "Meet the corporates": {"indicator": PILOT_INDICATORS["Meet the corporates"][3], "outcome": "turnover_eur",
                            "pre_periods": 3, "post_periods": 3},
}
"""The outcome indicator of each pilot that a comparison design can test (``PILOT_INDICATORS``),
with the assumed years of data: start-ups (accelerator) have about one year of accounts
before the call, the SMEs of "meet the corporates" three; both are followed three years."""


def pilot_plan(moments: PanelMoments, participants_per_call: int = 30, target_percent: float = 10.0,
               calls: int = 3, controls_per_participant: float = 4, estimator: str = "ancova",
               use_covariance: bool = True) -> pd.DataFrame:
    """One row per pilot (``PILOTS``): MDE at ``participants_per_call`` and the
    participants per call needed for ``target_percent``, with the moments of the
    study panel (an assumption: the pilots' firms vary like the programme's). A panel
    shorter than a pilot's horizon cuts it (at most ``n_years - 1`` pre-call years and
    the years left after them), so no correlation beyond the panel's longest lag is
    assumed; ``DesignError`` when the estimated autocorrelation reaches 1, or when the covariance
    they form is singular so that the pre-call years predict a pilot's post-call mean exactly
    (an MDE of zero)."""
    if moments.autocorr.iloc[1:].max() >= 1:
        raise DesignError(
            f"the year-to-year correlation of log {labels.outcome(moments.outcome)} is estimated at up to "
            f"{moments.autocorr.iloc[1:].max():.2f}, at or above 1 (as for a random walk), so these data do not give the "
            "stationary covariance the minimum detectable effect rests on.")
    rows = []
    for pilot, spec in PILOTS.items():
        # horizons cut to the panel: at most n_years - 1 pre-call years, and the years left after them
        m = max(1, min(spec["pre_periods"], moments.n_years - 1))
        r = max(1, min(spec["post_periods"], moments.n_years - m))
        b = design_mde(moments, None, None, participants_per_call, calls, controls_per_participant, estimator,
                        m, r, 0.05, 0.8, use_covariance, 1.0, 0.0)
        rec = recommended_design(target_percent, moments, calls=calls, controls_per_participant=controls_per_participant,
                                 estimator=estimator, pre_periods=m, post_periods=r, use_covariance=use_covariance)
        if not b > 0:
            raise DesignError(
                f"with the estimated year-to-year correlations of log {labels.outcome(moments.outcome)} "
                f"({', '.join(f'{v:.2f}' for v in moments.autocorr.iloc[1:])} at lags 1-{len(moments.autocorr) - 1}), which "
                f"form a covariance matrix only once made singular, {m} pre-call years predict the post-call mean of {pilot!r} "
                "exactly, so its minimum detectable effect would be zero: these data do not support a power analysis.")
        rows.append({"pilot": pilot, "indicator": spec["indicator"], "outcome": moments.outcome,
                     "pre_periods": m, "post_periods": r, "estimator": estimator,
                     "participants_per_call": participants_per_call, "mde_percent": percent(b),
                     "target_percent": target_percent, "needed_per_call": rec["participants_per_call"]})
    return pd.DataFrame(rows)
