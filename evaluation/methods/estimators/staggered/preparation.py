"""Data preparation for ``att_gt``: R ``did``'s sample rules and the two data layouts.

Balanced panels (:class:`_Panel`, one row per unit, one column per period): rows with
missing values are dropped, then the units not observed in every period (as R ``did``
with ``panel=TRUE``) and the units treated in the first period; cohorts after the last
period count as never treated; with no never-treated unit the periods from the last
cohort's start on are dropped.

Unbalanced panels (``allow_unbalanced_panel=True``, R ``did``'s option of that name,
did >= 2.2 pre-processing). After the rules above (rows with missing values, units
treated in the first period, periods trimmed when no unit is never treated), a sample
in which every unit is observed in every period runs the panel estimators unchanged (R:
"You have a balanced panel. Setting allow_unbalanced_panel = FALSE."). Otherwise every
observation is kept (:class:`_Long`, one row per observed unit and period).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evaluation.methods.estimators import _panel
from evaluation.methods.estimators.staggered.results import StaggeredWarning, UnbalancedPanelWarning


@dataclass
class _Panel:
    """A balanced panel in wide form: one row per unit, one column per period."""

    Y: np.ndarray  # (n, T), Fortran order: a period is contiguous
    X: np.ndarray | None  # (T, n, k) covariates with intercept, or None (intercept only)
    x_invariant: bool
    G: np.ndarray  # (n,) first treated period, 0 = never treated
    w: np.ndarray  # (n,) unit weights, mean 1
    cluster: np.ndarray | None  # (n,) integer codes
    units: np.ndarray
    tlist: np.ndarray
    glist: np.ndarray
    dropped: dict[str, int]


def _to_wide(frame: pd.DataFrame, unit: str, time: str):
    unit_codes, units = _panel.codes(frame[unit])
    time_codes, periods = _panel.codes(frame[time])
    n, T = len(units), len(periods)
    key = unit_codes.astype(np.int64) * T + time_codes
    counts = np.bincount(key, minlength=n * T)
    if counts.max(initial=0) > 1:
        _panel.check_unique_pairs(frame, unit, time)  # raises, naming the pairs
    return unit_codes, np.asarray(units), time_codes, np.asarray(periods), counts.reshape(n, T) > 0


def _wide(values: np.ndarray, unit_codes, time_codes, n, T, order="F", dtype=float) -> np.ndarray:
    out = np.full((n, T), np.nan, dtype=dtype, order=order)
    out[unit_codes, time_codes] = values
    return out


def _unit_constant(name: str, wide: np.ndarray, units: np.ndarray, what: str) -> np.ndarray:
    """The per-unit value of a column that must not change within a unit."""
    first = np.fmin.reduce(wide, axis=1)  # ignores the periods a unit is not observed
    varying = np.flatnonzero(np.fmax.reduce(wide, axis=1) != first)
    if varying.size:
        raise ValueError(
            f"att_gt: column {name!r} ({what}) must be constant within a unit; units "
            f"{_panel._few(units[varying])} are not"
        )
    return first


def _complete_frame(data, y, time, unit, cohort, covariates, cluster, weights):
    """The rows with every column used observed, and their wide layout (``_to_wide``)."""
    if cohort not in data.columns:
        raise ValueError(f"att_gt: column {cohort!r} not in the data")
    used = [y, time, unit, *covariates] + [c for c in (weights, cluster) if c]
    frame = _panel.complete_rows(data, used, "att_gt")
    if len(frame) == 0:
        raise ValueError("att_gt: no complete rows")
    return frame, _to_wide(frame, unit, time)


def _unit_columns(frame, cohort, weights, cluster, unit_codes, units, time_codes, T):
    """Per-unit cohort (0 for never treated or missing), weights (1 without) and cluster
    codes (None without), each checked to be constant within units."""
    n_all = len(units)
    g_raw = frame[cohort].to_numpy(float, na_value=np.nan)
    g_raw = np.where(np.isnan(g_raw), 0.0, g_raw)
    G = _unit_constant(cohort, _wide(g_raw, unit_codes, time_codes, n_all, T, "C"), units, "cohort")
    w = np.ones(n_all)
    if weights:
        w_wide = _wide(_panel.check_weights(frame, weights), unit_codes, time_codes, n_all, T, "C")
        w = _unit_constant(weights, w_wide, units, "weights")
    cl = None
    if cluster:
        cl_codes = _panel.codes(frame[cluster])[0].astype(float)
        cl = _unit_constant(cluster, _wide(cl_codes, unit_codes, time_codes, n_all, T, "C"), units, "cluster")
    return G, w, cl


def _cohort_rules(G, keep, tlist, control, anticipation, cohort):
    """R ``did``'s cohort rules for the units ``keep`` with first-treatment periods ``G``
    (0 never): units treated in the first period or before have no pre-period (``early``,
    to drop); with no never-treated unit, the periods from the last cohort's
    (anticipated) start on are dropped (``period_keep``) and the last cohort serves only
    as a comparison group. Returns ``(early, period_keep, glist)``, ``glist`` the cohorts
    estimated."""
    early = keep & (G > 0) & (G <= tlist[0])
    keep = keep & ~early
    period_keep = np.ones(len(tlist), bool)
    treated_cohorts = np.unique(G[keep & (G > 0)])
    glist = treated_cohorts[treated_cohorts > tlist[0] + anticipation]
    if not (keep & (G == 0)).any():
        if control == "never":
            raise ValueError("att_gt: there are no never-treated units; use control='not_yet'")
        last = treated_cohorts.max()
        period_keep = tlist < last - anticipation
        glist = glist[glist < last]
    if not glist.size:
        raise ValueError(f"att_gt: no treated cohort with a pre-treatment period in column {cohort!r}")
    return early, period_keep, glist


def _prepare(data, y, time, unit, cohort, covariates, control, anticipation, cluster, weights,
             balanced_units: np.ndarray | None = None) -> _Panel:
    covariates = list(covariates or [])
    frame, (unit_codes, units, time_codes, tlist, seen) = _complete_frame(
        data, y, time, unit, cohort, covariates, cluster, weights)
    n_all, T = seen.shape
    dropped: dict[str, int] = {}
    # Rule for unbalanced panels (R did, panel=TRUE, allow_unbalanced_panel=FALSE):
    # keep only the units observed (with complete data) in every period.
    # (balanced_units: the units R did counts as balanced when allow_unbalanced_panel=TRUE
    # finds the panel balanced; see _prepare_unbalanced.)
    complete = seen.all(axis=1) if balanced_units is None else balanced_units
    if not complete.all():
        dropped["unbalanced"] = int((~complete).sum())
        warnings.warn(
            f"att_gt: dropped {dropped['unbalanced']} of {n_all} units not observed (with "
            f"complete data) in all {T} periods, e.g. {_panel._few(units[~complete])}; "
            "att_gt needs a balanced panel, as R did with panel=TRUE",
            UnbalancedPanelWarning,
            stacklevel=3,
        )
    G, w, cl = _unit_columns(frame, cohort, weights, cluster, unit_codes, units, time_codes, T)
    Y = _wide(frame[y].to_numpy(float), unit_codes, time_codes, n_all, T)
    X = None
    x_invariant = True
    if covariates:
        # One (n, k+1) matrix when every covariate is constant within units (the usual
        # case, and R did's advice); the full (T, n, k+1) array only otherwise.
        columns = [np.ones(n_all)]
        for name in covariates:
            wide = _wide(frame[name].to_numpy(float), unit_codes, time_codes, n_all, T, "C")
            lo, hi = np.fmin.reduce(wide, axis=1), np.fmax.reduce(wide, axis=1)
            if np.array_equal(lo, hi):
                columns.append(lo)
                continue
            x_invariant = False
            break
        if x_invariant:
            X = np.column_stack(columns)[None]
        else:
            X = np.empty((T, n_all, len(covariates) + 1))
            X[:, :, 0] = 1.0
            for j, name in enumerate(covariates):
                X[:, :, j + 1] = _wide(frame[name].to_numpy(float), unit_codes, time_codes, n_all, T, "C").T
        del columns
    keep = complete.copy()
    # Cohorts after the last period are never treated within the sample (R did).
    G = np.where(G > tlist[-1], 0.0, G)
    early, period_keep, glist = _cohort_rules(G, keep, tlist, control, anticipation, cohort)
    if early.any():
        dropped["treated_first_period"] = int(early.sum())
        warnings.warn(f"att_gt: dropped {int(early.sum())} units already treated in the first period "
                      f"{tlist[0]}", StaggeredWarning, stacklevel=3)
        keep &= ~early
    if (keep.sum()) < n_all:
        Y, G, w = Y[keep], G[keep], w[keep]
        units = units[keep]
        cl = None if cl is None else cl[keep]
        X = None if X is None else X[:, keep]
    if not period_keep.all():
        Y, tlist = np.asfortranarray(Y[:, period_keep]), tlist[period_keep]
        X = None if (X is None or x_invariant) else X[period_keep]
    if X is not None and not x_invariant:
        x_invariant = bool(np.all(X == X[:1]))  # invariant among the balanced units
        if x_invariant:
            X = X[:1].copy()
    w = w / w.mean()
    cl_codes = None if cl is None else pd.factorize(cl, sort=True)[0]
    return _Panel(Y=np.asfortranarray(Y), X=X, x_invariant=x_invariant, G=G, w=w, cluster=cl_codes,
                  units=units, tlist=tlist, glist=glist, dropped=dropped)


@dataclass
class _Long:
    """An unbalanced panel in long form: one row per observed (unit, period), sorted by period."""

    y: np.ndarray  # (N,) outcome of each observation
    unit: np.ndarray  # (N,) index of the observation's unit in ``units``
    period: np.ndarray  # (N,) index of the observation's period in ``tlist``
    X: np.ndarray  # (N, k+1) intercept and the covariates of the observation's own period
    starts: np.ndarray  # (T+1,) rows of period p are starts[p]:starts[p+1]
    G: np.ndarray  # (n,) first treated period, 0 = never treated
    w: np.ndarray  # (n,) unit weights, mean 1
    cluster: np.ndarray | None  # (n,) integer codes
    units: np.ndarray
    tlist: np.ndarray
    glist: np.ndarray
    dropped: dict[str, int]


def _prepare_unbalanced(data, y, time, unit, cohort, covariates, control, anticipation, cluster,
                        weights, force_long: bool = False):
    """R did's pre-processing with ``allow_unbalanced_panel=TRUE``.

    Returns a :class:`_Long` for an unbalanced panel, or, as R (did >= 2.2: "You have a
    balanced panel. Setting allow_unbalanced_panel = FALSE."), when the estimation sample
    is in fact balanced, the boolean mask of the units that :func:`_prepare` must not drop
    as incomplete (observed in every period kept, or dropped anyway as treated in the
    first period): the caller then runs the panel estimator. As in R the balance check
    comes after the rows with missing values, the units already treated in the first
    period and (without never-treated units) the periods from the last cohort's start on
    have been removed.
    """
    covariates = list(covariates or [])
    frame, (unit_codes, units, time_codes, tlist, seen) = _complete_frame(
        data, y, time, unit, cohort, covariates, cluster, weights)
    n_all, T = seen.shape
    dropped: dict[str, int] = {}
    G, w, cl = _unit_columns(frame, cohort, weights, cluster, unit_codes, units, time_codes, T)
    # The cohort rules of _prepare (and R did), applied before the balance check.
    G = np.where(G > tlist[-1], 0.0, G)
    early, period_keep, glist = _cohort_rules(G, np.ones(n_all, bool), tlist, control, anticipation, cohort)
    keep = ~early
    sub = seen[:, period_keep]
    keep &= sub.any(axis=1)  # units with no observation left are not in the sample
    if sub[keep].all() and not force_long:  # (force_long: tests run the unbalanced path on a balanced panel)
        return sub.all(axis=1) | early  # _prepare drops (and reports) the early units itself
    if early.any():
        dropped["treated_first_period"] = int(early.sum())
        warnings.warn(f"att_gt: dropped {int(early.sum())} units already treated in the first period "
                      f"{tlist[0]}", StaggeredWarning, stacklevel=3)
    index = np.full(n_all, -1)
    kept_units = np.flatnonzero(keep)
    index[kept_units] = np.arange(kept_units.size)
    period_index = np.cumsum(period_keep) - 1
    rows = np.flatnonzero(keep[unit_codes] & period_keep[time_codes])
    per, un = period_index[time_codes[rows]], index[unit_codes[rows]]
    order = np.lexsort((un, per))
    rows, per, un = rows[order], per[order], un[order]
    X = np.empty((rows.size, len(covariates) + 1))
    X[:, 0] = 1.0
    for j, name in enumerate(covariates):
        X[:, j + 1] = frame[name].to_numpy(float)[rows]
    G, w = G[kept_units], w[kept_units]
    cl = None if cl is None else pd.factorize(cl[kept_units], sort=True)[0]
    return _Long(
        y=frame[y].to_numpy(float)[rows], unit=un, period=per, X=X,
        starts=np.searchsorted(per, np.arange(int(period_keep.sum()) + 1)),
        G=G, w=w / w.mean(), cluster=cl, units=units[kept_units], tlist=tlist[period_keep],
        glist=glist, dropped=dropped,
    )
