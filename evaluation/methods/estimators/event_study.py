"""Event study: relative-time effects with binned end points, unit and period effects."""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation.methods.estimators import _panel
from evaluation.methods.estimators.twfe import _prepare, fit_panel
from evaluation.methods.results import EstimationResult


def event_term(e: int) -> str:
    return f"e={e}"


def event_study(
    data: pd.DataFrame,
    y: str,
    unit: str,
    time: str,
    cohort: str,
    leads: int,
    lags: int,
    reference: int = -1,
    vcov: str = "CR1",
    cluster: str | None = None,
    weights: str | None = None,
    alpha: float = 0.05,
) -> EstimationResult:
    """TWFE regression of ``y`` on relative-time dummies of the treated units.

    ``cohort`` is a unit's first treated period (0 or missing: never treated, as in
    R's ``did``); event time is ``e = time - cohort``. There is one dummy per
    ``e`` in ``-leads..lags`` except ``reference``; the end points are binned:
    ``"e=-leads"`` is ``e <= -leads`` and ``"e=lags"`` is ``e >= lags`` (with
    ``leads = 1`` and ``reference = -1`` every pre-treatment period is the reference). Unit and
    period effects are absorbed as in :func:`twfe` (same ``vcov``, ``cluster``
    default the unit, ``weights``). Terms are ``"e=-3"``, ..., ``"e=0"``, ...;
    ``extra`` records the reference and the binning.
    """
    if not (leads >= 1 and lags >= 0 and -leads <= reference < lags):
        raise ValueError(
            f"event_study: need leads >= 1, lags >= 0 and -leads <= reference < lags "
            f"(got leads={leads}, lags={lags}, reference={reference})"
        )
    if cohort not in data.columns:
        raise ValueError(f"event_study: column {cohort!r} not in the data")
    frame, codes = _prepare(data, y, [], unit, time, weights, cluster, "event_study")
    cohorts = frame[cohort].fillna(0)
    varying = cohorts.groupby(frame[unit]).nunique()
    if (varying > 1).any():
        raise ValueError(
            f"event_study: column {cohort!r} must be constant within a unit; units "
            f"{_panel._few(varying.index[varying > 1])} are not"
        )
    treated = (cohorts != 0).to_numpy()
    event_time = np.where(treated, frame[time].to_numpy(float) - cohorts.to_numpy(float), np.nan)
    binned = np.clip(event_time, -leads, lags)
    periods = [e for e in range(-leads, lags + 1) if e != reference]
    dummies = np.column_stack([(binned == e).astype(float) for e in periods])
    names = [event_term(e) for e in periods]
    extra = {
        "reference": reference,
        "leads": leads,
        "lags": lags,
        "binned": {event_term(-leads): f"e<={-leads}", event_term(lags): f"e>={lags}"},
        "n_treated_units": int(frame.loc[treated, unit].nunique()),
        "n_never_treated_units": int(frame.loc[~treated, unit].nunique()),
    }
    return fit_panel(frame, codes, list(dummies.T), names, y, unit, time, True, weights, vcov,
                     cluster or unit, alpha, "event_study", extra)


def plot_event_study(result: EstimationResult, ax=None):
    """Estimates with their intervals by event time, the reference period at zero.

    Returns the matplotlib axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    table = result.table
    event_times = [int(term.split("=")[1]) for term in table.index]
    reference = result.extra.get("reference", -1)
    points = pd.DataFrame(
        {"estimate": table["estimate"].to_numpy(), "low": table["ci_low"].to_numpy(),
         "high": table["ci_high"].to_numpy()},
        index=event_times,
    )
    points.loc[reference] = 0.0
    points = points.sort_index()
    level = round(100 * (1 - result.alpha))
    ax.errorbar(points.index, points["estimate"],
                yerr=[points["estimate"] - points["low"], points["high"] - points["estimate"]],
                fmt="o", capsize=3, color="C0", label=f"estimate, {level}% CI ({result.vcov_type})")
    ax.plot([reference], [0.0], "o", color="white", markeredgecolor="C0", label=f"reference (e={reference})")
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.axvline(reference + 0.5, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("periods relative to treatment (end points binned)")
    ax.set_ylabel(f"effect on {result.y}")
    ax.legend(frameon=False)
    return ax
