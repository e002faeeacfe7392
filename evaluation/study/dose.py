"""Dose-response by grant intensity: difference in differences with a continuous treatment.

The dose of a funded firm is its **grant intensity** in percent, ``I = 100 x grant / mean
turnover in the INTENSITY_YEARS (3) years before the call year`` (its grants in the call
summed; the years the panel holds among the three): a grant's size relative to the firm,
so that ACRT(d) is the effect of one more percentage point of turnover in grant. The
comparison group, dose 0, are the call's unsuccessful applicants
(:func:`evaluation.study.comparison.comparison_sample`); funded firms with no grant or no
pre-call turnover are left out (the tables count them). Outcome: the long difference of
each firm's log outcome, ``change = mean after - mean before``, the means over the years
from its (planned) project start on and over the years before the call
(as :mod:`evaluation.study.discontinuity`).

Estimator: :func:`evaluation.methods.dose_response.dose_response` (Callaway,
Goodman-Bacon and Sant'Anna 2024) on the log of the dose (intensities span three orders
of magnitude), a cubic polynomial in the log intensity (``KNOTS`` = 0 interior knots,
fixed as ``contdid``'s default: cross-validated knots make the intervals post-selection
ones), 95% pointwise intervals and uniform bands (sup-t,
``BOOTSTRAP`` draws, seed ``SEED``). Parallel trends are assumed *within size class*
(the comparison trend is the unsuccessful applicants' mean change in the firm's size
class, :func:`evaluation.study.comparison.pre_call_covariates` pooling rare classes; with
both calls pooled, size class and call): larger firms trend differently and get smaller
intensities, so unconditional trends would mistake size for dose. ATT(d) needs these
parallel trends; ACRT(d), the slope of the curve, is causal only under strong parallel
trends (no selection on gains by dose).

Truth on synthetic data: each funded firm's true effect ``tau_i`` is the mean of its
true log effects (``truth.csv``) over the years of its change. ``tau_i`` is a smooth
function of the dose times a ramp that varies little between firms, so a cubic spline
with ``TRUTH_KNOTS`` interior knots fitted to it (least squares, log scale) traces the true
curve ATT(d) and its slope ACRT(d) closely (on the default data its ACRT^o is within 0.001
of the generator's formula); the true ``ATT^o`` is the mean of ``tau_i``, the true
``ACRT^o`` the mean of the traced slope at the funded firms' doses.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from evaluation.data.contract import StudyData
from evaluation.methods.dose_response import dose_response
from evaluation.methods.errors import DesignError
from evaluation.study import labels
from evaluation.study.comparison import comparison_sample, pre_call_covariates
from evaluation.study.design import true_effects

INTENSITY_YEARS = 3
KNOTS = 0
TRUTH_KNOTS = 6
BOOTSTRAP = 999
SEED = 20240601
QUANTILES = (0.25, 0.5, 0.75)


def firm_frame(data: StudyData, line: str, outcomes, truth: pd.DataFrame | None = None) -> tuple[pd.DataFrame, dict]:
    """One row per applicant firm of ``line``: ``line, firm_id, funded, grant_eur,
    pre_turnover_eur, dose`` (intensity; 0 for unsuccessful applicants), ``size_class``
    (pooled as for matching; absent when one class remains), ``change_<o>`` and, with a
    truth, ``truth_<o>`` (funded firms). Also the counts of funded firms left out, by reason."""
    sample = comparison_sample(data, line, "unsuccessful")
    call_year = int(sample["call_year"].min())
    apps = data.applications[data.applications["line"] == line]
    firms = sample.groupby("firm_id", sort=True).agg(funded=("funded", "first"))
    firms["grant_eur"] = apps.groupby("firm_id")["grant_eur"].sum().reindex(firms.index).fillna(0.0)
    window = sample[(sample["year"] < call_year) & (sample["year"] >= call_year - INTENSITY_YEARS)]
    firms["pre_turnover_eur"] = window.groupby("firm_id")["turnover_eur"].mean().reindex(firms.index)
    intensity = 100 * firms["grant_eur"] / firms["pre_turnover_eur"].where(firms["pre_turnover_eur"] > 0)
    firms["dose"] = np.where(firms["funded"] == 1, intensity, 0.0)
    dropped = {"funded firms without a grant": int(((firms["funded"] == 1) & (firms["grant_eur"] <= 0)).sum()),
               "funded firms without pre-call turnover": int(((firms["funded"] == 1) & (firms["grant_eur"] > 0)
                                                              & firms["dose"].isna()).sum())}
    firms.loc[(firms["funded"] == 1) & (firms["grant_eur"] <= 0), "dose"] = np.nan
    covariates = pre_call_covariates(sample, outcomes=("turnover_eur",))
    if "size_class" in covariates:
        firms["size_class"] = covariates["size_class"].reindex(firms.index)
    before = sample[sample["year"] < call_year]
    after = sample[sample["event_time"] >= 0]
    for o in outcomes:
        y = f"log_{o}"
        firms[f"change_{o}"] = after.groupby("firm_id")[y].mean().reindex(firms.index) - before.groupby("firm_id")[y].mean().reindex(firms.index)
        if truth is not None:
            rows = after[(after["funded"] == 1) & after[y].notna()]
            effect = true_effects(truth, o).reindex(pd.MultiIndex.from_frame(rows[["firm_id", "year"]])).fillna(0.0)
            firms[f"truth_{o}"] = pd.Series(effect.to_numpy(), index=rows["firm_id"].to_numpy()).groupby(level=0).mean().reindex(firms.index)
    firms = firms.reset_index()
    firms.insert(0, "line", line)
    return firms, {k: v for k, v in dropped.items() if v}


def pooled(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The calls' firm frames together; a firm of both calls enters once per call (its
    rows are clustered by firm)."""
    return pd.concat(frames, ignore_index=True)


def estimate(frame: pd.DataFrame, outcome: str, what: str, bootstrap: int = BOOTSTRAP, seed: int = SEED):
    """:func:`dose_response` of ``change_<outcome>`` on the intensity (log scale), size
    class (and call, pooled) as covariates, clustered by firm; the grid adds the treated
    doses' quartiles to 50 log-spaced points between their 5th and 95th percentiles.
    ``DesignError`` names ``what``."""
    covariates = [c for c in ("size_class", "line") if c in frame and frame[c].nunique() > 1]
    data = frame.dropna(subset=["dose", f"change_{outcome}"])
    treated = data.loc[data["dose"] > 0, "dose"]
    try:
        grid = None
        if len(treated) > 1 and treated.nunique() > 1:
            lo, hi = np.quantile(treated, (0.05, 0.95))
            grid = np.unique(np.r_[np.exp(np.linspace(np.log(lo), np.log(hi), 50)), np.quantile(treated, QUANTILES)])
        return dose_response(data, "dose", f"change_{outcome}", covariates=covariates or None, cluster="firm_id",
                             knots=KNOTS, scale="log", grid=grid, bootstrap=bootstrap, seed=seed)
    except DesignError as err:
        raise DesignError(f"{what} ({labels.outcome(outcome)}): {err}") from err


def truth_curve(result, frame: pd.DataFrame, outcome: str) -> dict | None:
    """The truth the estimate targets (module docstring): ``att`` and ``acrt`` on the grid,
    ``att_o`` (mean true effect of the treated used) and ``acrt_o``; None without a truth."""
    column = f"truth_{outcome}"
    if column not in frame:
        return None
    treated = frame[(frame["dose"] > 0) & frame[f"change_{outcome}"].notna()].dropna(subset=["dose", column])
    if treated["dose"].nunique() < result.basis.degree + TRUTH_KNOTS + 3:
        return None
    att, acrt = result.project(treated["dose"], treated[column], knots=TRUTH_KNOTS)
    _, acrt_at_doses = result.project(treated["dose"], treated[column], at=treated["dose"], knots=TRUTH_KNOTS)
    return {"att": att, "acrt": acrt, "att_o": float(treated[column].mean()), "acrt_o": float(np.mean(acrt_at_doses)),
            "points": treated[["dose", column]].rename(columns={column: "truth"})}


def tables(result, truth: dict | None, call: str, outcome: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The aggregations (one row per measure) and ATT(d), ACRT(d) at the treated doses'
    quartiles, with the truth on synthetic data."""
    agg = result.aggregate.assign(measure=["att_o", "acrt_o"])
    agg.insert(0, "outcome", labels.outcome(outcome))
    agg.insert(0, "call", call)
    agg["n_treated"], agg["n_control"] = result.n_treated, result.n_comparison
    curve = result.curve
    if truth is not None:
        agg["truth"] = [truth["att_o"], truth["acrt_o"]]
        curve = curve.assign(truth_att=truth["att"], truth_acrt=truth["acrt"])
    idx = [int(np.argmin(np.abs(curve["dose"].to_numpy() - q))) for q in np.quantile(result.treated_doses, QUANTILES)]
    points = curve.iloc[idx].reset_index(drop=True)
    points.insert(0, "quantile", [f"{int(q * 100)}th percentile" for q in QUANTILES])
    points.insert(0, "outcome", labels.outcome(outcome))
    points.insert(0, "call", call)
    keep = ["call", "outcome", "quantile", "dose", "att", "att_band_low", "att_band_high", "acrt", "acrt_band_low",
            "acrt_band_high"] + [c for c in ("truth_att", "truth_acrt") if c in points]
    return agg, points[keep]


def at_quantile(result, q: float) -> pd.Series:
    """The curve's row (grid dose) nearest the ``q`` quantile of the treated doses."""
    target = np.quantile(result.treated_doses, q)
    return result.curve.iloc[int(np.argmin(np.abs(result.curve["dose"].to_numpy() - target)))]


def coverage(result, truth: dict | None) -> dict | None:
    """Share of grid doses where the uniform band (and the pointwise interval) of ATT(d)
    covers the true curve, and whether the band covers all of it; the same for ACRT(d)."""
    if truth is None:
        return None
    c = result.curve
    out = {}
    for name in ("att", "acrt"):
        t = truth[name]
        band = (c[f"{name}_band_low"] <= t) & (t <= c[f"{name}_band_high"])
        point = (c[f"{name}_ci_low"] <= t) & (t <= c[f"{name}_ci_high"])
        out[name] = {"band_share": float(band.mean()), "band_all": bool(band.all()), "pointwise_share": float(point.mean())}
    return out


def plot(result, truth: dict | None, title: str, outcome: str):
    """ATT(d) (left) and ACRT(d) (right) over the intensity (log axis): estimate, 95%
    pointwise interval (dark) and uniform band (light); on synthetic data the true curve
    (dashed) and the funded firms' true effects (dots)."""
    c = result.curve
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
    for ax, name, ylabel in ((axes[0], "att", f"ATT(d), change in log {labels.outcome(outcome)}"),
                             (axes[1], "acrt", "ACRT(d), per percentage point")):
        ax.fill_between(c["dose"], c[f"{name}_band_low"], c[f"{name}_band_high"], color="tab:blue", alpha=0.18,
                        label="95% uniform band")
        ax.fill_between(c["dose"], c[f"{name}_ci_low"], c[f"{name}_ci_high"], color="tab:blue", alpha=0.3,
                        label="95% pointwise interval")
        ax.plot(c["dose"], c[name], color="tab:blue", label="estimate")
        if truth is not None:
            if name == "att":
                ax.scatter(truth["points"]["dose"], truth["points"]["truth"], s=6, color="tab:gray", alpha=0.6,
                           label="true effect of each funded firm (synthetic)")
            ax.plot(c["dose"], truth[name], color="black", ls="--", label="true curve (synthetic data)")
        ax.axhline(0, color="black", lw=0.6)
        ax.set_xscale("log")
        ax.set_xlabel("grant intensity, % of pre-call yearly turnover")
        ax.set_ylabel(ylabel)
    axes[0].legend(fontsize=7, loc="best")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
