"""Sun & Abraham (2021) interaction-weighted (IW) event study."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from evaluation.methods.estimators import _panel
from evaluation.methods.estimators.event_study import event_term
from evaluation.methods.estimators.staggered import StaggeredWarning
from evaluation.methods.estimators.twfe import _prepare, fit_panel
from evaluation.methods.inference import table_from
from evaluation.methods.results import EstimationResult


def sun_abraham(
    data: pd.DataFrame,
    y: str,
    unit: str,
    time: str,
    cohort: str,
    control: str = "never",
    reference: int = -1,
    vcov: str = "CR1",
    cluster: str | None = None,
    alpha: float = 0.05,
) -> EstimationResult:
    """Interaction-weighted event study (Sun & Abraham 2021).

    Step 1, a fully saturated TWFE regression: ``y`` on one dummy per (cohort g,
    relative period e = t - g) of the treated cohorts, ``e != reference``, plus unit
    and period effects, so each coefficient is a cohort-specific CATT(g, e) with the
    ``control`` cohort as comparison: ``"never"`` (never-treated units; ``cohort`` 0 or
    missing) or ``"last"`` (the last-treated cohort, periods from its start dropped).
    Step 2, for each e, the IW estimate is ``sum_g s(g,e) CATT(g,e)`` with ``s(g,e)``
    the share of cohort g among the observations at relative period e. Its covariance
    is ``S V S'`` with ``V`` the ``vcov`` (default CR1, clustered by ``cluster`` or
    ``unit``) of the CATTs; the shares are treated as fixed (as fixest's ``sunab``).

    Units treated in the first period (no reference period) are dropped with a
    warning; cohorts after the last period are never treated. Terms ``"e=k"``;
    ``extra["catt"]`` holds the cohort-specific estimates and ``extra["shares"]`` the weights.
    """
    if control not in ("never", "last"):
        raise ValueError(f"sun_abraham: control must be 'never' or 'last', got {control!r}")
    if cohort not in data.columns:
        raise ValueError(f"sun_abraham: column {cohort!r} not in the data")
    frame, _ = _prepare(data, y, [], unit, time, None, cluster, "sun_abraham")
    cohorts = frame[cohort].fillna(0).to_numpy(float)
    varying = pd.Series(cohorts).groupby(frame[unit].to_numpy()).nunique()
    if (varying > 1).any():
        raise ValueError(f"sun_abraham: column {cohort!r} must be constant within a unit; units "
                         f"{_panel._few(varying.index[varying > 1])} are not")
    times = frame[time].to_numpy(float)
    first, last = times.min(), times.max()
    cohorts = np.where(cohorts > last, 0.0, cohorts)
    keep = ~((cohorts > 0) & (cohorts <= first))
    if not keep.all():
        warnings.warn(f"sun_abraham: dropped {frame.loc[~keep, unit].nunique()} units treated in the "
                      f"first period {first:g}", StaggeredWarning, stacklevel=2)
    if control == "last":
        last_cohort = cohorts[cohorts > 0].max()
        keep &= times < last_cohort
        cohorts = np.where(cohorts == last_cohort, 0.0, cohorts)
    elif not (cohorts[keep] == 0).any():
        raise ValueError("sun_abraham: there are no never-treated units; use control='last'")
    frame, cohorts, times = frame.loc[keep], cohorts[keep], times[keep]
    rel = times - cohorts
    treated = cohorts > 0
    cells = (
        pd.DataFrame({"g": cohorts[treated], "e": rel[treated]})
        .value_counts().sort_index().reset_index(name="n")
    )
    cells = cells[cells["e"] != reference]
    if cells.empty:
        raise ValueError("sun_abraham: no treated cohort has a relative period other than the reference")
    names = [f"g={g:g}:e={e:g}" for g, e in zip(cells["g"], cells["e"])]
    position = {(g, e): j for j, (g, e) in enumerate(zip(cells["g"], cells["e"]))}
    dummies = np.zeros((len(frame), len(cells)))
    rows = np.flatnonzero(treated & (rel != reference))
    cols = [position[(g, e)] for g, e in zip(cohorts[rows], rel[rows])]
    dummies[rows, cols] = 1.0
    fit = fit_panel(frame, _panel.panel_codes(frame, unit, time), list(dummies.T), names, y, unit, time,
                    True, None, vcov, cluster or unit, alpha, "sun_abraham", extra={})
    catt, V_catt = fit.table["estimate"].to_numpy(), fit.vcov.to_numpy()
    event_times = np.sort(cells["e"].unique())
    S = np.zeros((len(event_times), len(cells)))
    for i, e in enumerate(event_times):
        at_e = (cells["e"] == e).to_numpy()
        S[i, at_e] = cells.loc[at_e, "n"].to_numpy() / cells.loc[at_e, "n"].sum()
    coef, V = S @ catt, S @ V_catt @ S.T
    df = np.full(len(coef), fit.table["df"].iloc[0])
    se, low, high, p = table_from(coef, V, df, alpha)
    terms = [event_term(int(e)) if float(e).is_integer() else f"e={e:g}" for e in event_times]
    table = pd.DataFrame({"estimate": coef, "se": se, "ci_low": low, "ci_high": high, "p": p, "df": df},
                         index=pd.Index(terms, name="term"))
    extra = {
        "reference": reference,
        "control": control,
        "catt": {name: {"estimate": float(b), "se": float(s)}
                 for name, b, s in zip(names, catt, fit.table["se"])},
        "shares": {term: {f"g={g:g}": float(s) for g, s in zip(cells["g"], row) if s > 0}
                   for term, row in zip(terms, S)},
        "weights_fixed": True,
    }
    return EstimationResult(table=table, nobs=fit.nobs, vcov_type=fit.vcov_type, estimator="sun_abraham",
                            y=y, n_clusters=fit.n_clusters, cluster=fit.cluster,
                            vcov=pd.DataFrame(V, index=table.index, columns=table.index), alpha=alpha,
                            extra=extra)
