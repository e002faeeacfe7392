"""Callaway-Sant'Anna group-time ATTs (``att_gt``) and their aggregations (``aggte``).

Implements, for balanced panels, the estimators of R's ``did`` package (Callaway &
Sant'Anna 2021, ``att_gt(panel = TRUE)`` and ``aggte``) with the 2x2 estimators of
``DRDID`` (Sant'Anna & Zhao 2020) that ``did`` calls for panels:

``method="dr"``   ``DRDID::drdid_panel``: logit propensity score by maximum
                  likelihood, outcome regression of the change in ``y`` by OLS on the
                  comparison units, locally efficient doubly robust ATT; propensity
                  scores of comparison units >= 0.995 are trimmed (weight 0).
``method="ipw"``  ``DRDID::std_ipw_did_panel``: normalised (Hajek) IPW, same logit
                  and trimming.
``method="reg"``  ``DRDID::reg_did_panel``: outcome regression.

Each 2x2 returns its influence function (estimation of the propensity score and of
the regression included); as in ``did`` it is scaled by ``n / n1`` (all units over
the units of the 2x2) and stored per unit, ``n x k``. Analytic standard errors are
``sqrt(sum_i IF_i^2) / n`` (``did``'s ``sqrt(diag(IF'IF/n)/n)``). ``aggte`` forms the
influence function of each aggregate, adding the term for the estimated group
shares (``did``'s ``wif``). Formulas and conventions: ``docs/estimators.md``.

Unbalanced panels (``allow_unbalanced_panel=True``, R ``did``'s option of that name,
did >= 2.2 pre-processing). After the rules above (rows with missing values, units
treated in the first period, periods trimmed when no unit is never treated), a sample
in which every unit is observed in every period runs the panel estimators unchanged (R:
"You have a balanced panel. Setting allow_unbalanced_panel = FALSE."). Otherwise every
observation is kept and each 2x2 (g, t) with base period b stacks the N observations of
the units of cohort g and of the comparison units in periods t and b, ``post = 1[period
= t]``, and applies DRDID's repeated-cross-section estimators, as ``did`` does
(internally ``panel = FALSE`` with the unit id kept):

``method="dr"``   ``DRDID::drdid_rc``, the locally efficient DR estimator (Sant'Anna &
                  Zhao 2020, eq. 3.4): weighted OLS of y on X for comparison and for
                  treated observations in each period, logit of D on X over the N
                  observations, trimming as above.
``method="ipw"``  ``DRDID::std_ipw_did_rc`` (Hajek IPW, same logit and trimming).
``method="reg"``  ``DRDID::reg_did_rc`` (OLS of y on X for comparison observations in
                  each period).

Each observation enters with the covariates of its own period and its unit's weight
(normalised to mean 1 over the N observations, as DRDID). The influence function of a
2x2 is computed per observation, multiplied by ``n / N`` (n = units in the sample, N =
observations in the 2x2: ``did``'s ``n/n1`` with n1 counted in observations) and
summed within units (``did``'s aggregation by id), so ``influence`` stays ``n x k``
and standard errors, ``aggte`` (group shares over units), clustering, the bootstrap
and the pre-test are unchanged. Cells without group or comparison observations in
either period are NaN, as in R.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from evaluation.methods.estimators import _panel
from evaluation.methods.results import EstimationResult, to_plain

TRIM_LEVEL = 0.995  # DRDID's trim.level: comparison units with pscore >= this get weight 0
OVERLAP_LIMIT = 0.999  # did: a 2x2 whose largest pscore reaches this is not estimated (NA)
ZERO_SE = math.sqrt(np.finfo(float).eps) * 10  # did: standard errors below this are NA
BOOT_CHUNK = 8192  # units per block of multiplier draws (fixed: part of the seed's meaning)


class UnbalancedPanelWarning(UserWarning):
    """Units not observed in every period were dropped (R ``did``, ``panel=TRUE``)."""


class StaggeredWarning(UserWarning):
    """Units or cells dropped for a reason R ``did`` also warns about."""


# --------------------------------------------------------------------------- #
# Result types                                                                 #
# --------------------------------------------------------------------------- #


@dataclass
class AttGtResult(EstimationResult):
    """``att_gt`` result: an :class:`EstimationResult` with influence functions.

    ``table`` is indexed by ``term`` (``"ATT(g,t)"``) with columns ``group, time, att,
    se, ci_low, ci_high, p, post``; ``ci_low, ci_high`` are a uniform band when
    ``n_boot > 0`` (``extra["crit"]`` is its critical value), else pointwise normal.
    ``influence`` is the ``n x k`` influence-function matrix (``did``'s ``inffunc``,
    one row per unit of ``units``); ``pretest`` the Wald pre-test; the arrays needed by
    :func:`aggte` are kept as attributes and not serialised.
    """

    influence: np.ndarray | None = field(default=None, repr=False, compare=False)
    units: np.ndarray | None = field(default=None, repr=False, compare=False)
    unit_cohort: np.ndarray | None = field(default=None, repr=False, compare=False)
    unit_weights: np.ndarray | None = field(default=None, repr=False, compare=False)
    unit_cluster: np.ndarray | None = field(default=None, repr=False, compare=False)
    pretest: dict[str, Any] = field(default_factory=dict)

    @property
    def params(self) -> pd.Series:
        return self.table["att"]

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["pretest"] = to_plain(self.pretest)
        return out


@dataclass
class AggteResult(EstimationResult):
    """``aggte`` result: ``table`` with ``key, att, se, ci_low, ci_high, p`` (and the
    pointwise interval), ``overall_att``, ``overall_se`` and the aggregate influence
    functions (``influence``, ``overall_influence``; not serialised)."""

    kind: str = "simple"
    overall_att: float = float("nan")
    overall_se: float = float("nan")
    influence: np.ndarray | None = field(default=None, repr=False, compare=False)
    overall_influence: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def params(self) -> pd.Series:
        return self.table["att"]

    def summary(self) -> str:
        return (
            f"{super().summary()}\n\noverall ({self.kind}): att = {self.overall_att:.6g}, "
            f"se = {self.overall_se:.6g}"
        )

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.update(kind=self.kind, overall_att=to_plain(self.overall_att),
                   overall_se=to_plain(self.overall_se))
        return out


# --------------------------------------------------------------------------- #
# Data preparation                                                             #
# --------------------------------------------------------------------------- #


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
    unit_codes, units = pd.factorize(frame[unit], sort=True)
    time_codes, periods = pd.factorize(frame[time], sort=True)
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
        cl_codes = pd.factorize(frame[cluster], sort=True)[0].astype(float)
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


# --------------------------------------------------------------------------- #
# The 2x2 estimators of DRDID (panel), with their influence functions          #
# --------------------------------------------------------------------------- #


def _logit(X: np.ndarray, D: np.ndarray, w: np.ndarray, tol: float = 1e-12, max_iter: int = 100):
    """Weighted logit MLE by Newton-Raphson: fitted probabilities and (X'WX)^-1 at the MLE."""
    if X.shape[1] == 1:  # intercept only: closed form
        p = float(np.sum(w * D) / np.sum(w))
        ps = np.full(len(D), p)
        return ps, np.array([[1.0 / np.sum(w * p * (1 - p))]])
    beta = np.zeros(X.shape[1])
    p0 = np.sum(w * D) / np.sum(w)
    beta[0] = math.log(p0 / (1 - p0))
    for _ in range(max_iter):
        eta = X @ beta
        ps = 1.0 / (1.0 + np.exp(-eta))
        W = w * ps * (1 - ps)
        hess = (X * W[:, None]).T @ X
        step = np.linalg.solve(hess, X.T @ (w * (D - ps)))
        beta = beta + step
        if np.max(np.abs(step)) <= tol * (1 + np.max(np.abs(beta))):
            break
    eta = X @ beta
    ps = 1.0 / (1.0 + np.exp(-eta))
    W = w * ps * (1 - ps)
    return ps, np.linalg.inv((X * W[:, None]).T @ X)


def _ols_controls(X, D, w):
    """Weighted OLS among comparison units (D == 0): (X'W0X)^-1 and (X'W0X / n)^-1."""
    wc = w * (1 - D)
    gram = X.T @ (X * wc[:, None])
    return np.linalg.inv(gram), np.linalg.inv(gram / len(D))


def _did_2x2(method: str, dy, D, X, w, pscore=None, ols=None):
    """ATT and its influence function (length n1) for one 2x2, as DRDID's panel estimators.

    ``w`` are the unit weights normalised to mean 1 in the 2x2 sample; ``X`` includes the
    intercept. ``pscore`` may carry a cached ``(ps, (X'WX)^-1)`` of the logit and ``ols``
    a cached :func:`_ols_controls`. Every correction term of the form
    ``(X * a) @ A @ m`` is computed as ``a * (X @ (A @ m))`` (matrix-vector products only).
    """
    n = len(dy)
    if method in ("dr", "reg"):
        gram_inv, xpx_inv = ols if ols is not None else _ols_controls(X, D, w)
        wc = w * (1 - D)
        out_delta = X @ (gram_inv @ (X.T @ (wc * dy)))
        resid = dy - out_delta
        wc_resid = wc * resid
    if method == "reg":
        w_treat = w * D
        mean_wt = w_treat.mean()
        att_treat = w_treat * dy
        att_cont = w_treat * out_delta
        eta_treat = att_treat.mean() / mean_wt
        eta_cont = att_cont.mean() / mean_wt
        m1 = X.T @ w_treat / n
        inf_treat = (att_treat - w_treat * eta_treat) / mean_wt
        inf_cont = (att_cont - w_treat * eta_cont + wc_resid * (X @ (xpx_inv @ m1))) / mean_wt
        return eta_treat - eta_cont, inf_treat - inf_cont
    ps, hess_inv = pscore if pscore is not None else _logit(X, D, w)
    ps = np.minimum(ps, 1 - 1e-6)
    trim = np.where(D == 1, ps < 1.01, ps < TRIM_LEVEL)
    w_treat = trim * w * D
    w_cont = trim * w * ps * (1 - D) / (1 - ps)
    score_ps = w * (D - ps)
    mean_wt, mean_wc = w_treat.mean(), w_cont.mean()
    if method == "ipw":
        att_treat, att_cont = w_treat * dy, w_cont * dy
        eta_treat = att_treat.mean() / mean_wt
        eta_cont = att_cont.mean() / mean_wc
        inf_treat = (att_treat - w_treat * eta_treat) / mean_wt
        m2 = X.T @ (w_cont * (dy - eta_cont)) / n
        inf_cont = (att_cont - w_cont * eta_cont + score_ps * (X @ (hess_inv @ m2 * n))) / mean_wc
        return eta_treat - eta_cont, inf_treat - inf_cont
    # doubly robust (drdid_panel)
    dr_treat, dr_cont = w_treat * resid, w_cont * resid
    eta_treat = dr_treat.mean() / mean_wt
    eta_cont = dr_cont.mean() / mean_wc
    m1 = X.T @ w_treat / n
    inf_treat = (dr_treat - w_treat * eta_treat - wc_resid * (X @ (xpx_inv @ m1))) / mean_wt
    m2 = X.T @ (w_cont * (resid - eta_cont)) / n
    m3 = X.T @ w_cont / n
    inf_cont = (dr_cont - w_cont * eta_cont + score_ps * (X @ (hess_inv @ m2 * n))
                - wc_resid * (X @ (xpx_inv @ m3))) / mean_wc
    return eta_treat - eta_cont, inf_treat - inf_cont


# --------------------------------------------------------------------------- #
# The 2x2 estimators of DRDID for repeated cross sections (unbalanced panels)   #
# --------------------------------------------------------------------------- #


class _CellProblem(Exception):
    """A 2x2 that R did reports as NA (with a warning)."""


def _wls_subsample(X, y, ws):
    """Weighted OLS of y on X over the rows with ws > 0: fitted values and (X'WX / N)^-1.

    N counts all rows of the 2x2, as DRDID scales the asymptotic linear representation
    ``ws e x' (X'WX/N)^-1`` of the coefficients.
    """
    gram = (X * ws[:, None]).T @ X
    if np.linalg.cond(gram) > 1 / np.finfo(float).eps:
        raise _CellProblem("not enough observations to run the outcome regression")
    gram_inv = np.linalg.inv(gram)
    fitted = X @ (gram_inv @ (X.T @ (ws * y)))
    return fitted, gram_inv * len(y)


def _hajek(wts, z):
    """Normalised weighted mean of z and the leading term of its influence function."""
    mean_w = wts.mean()
    est = float((wts * z).mean() / mean_w)
    return est, wts * (z - est) / mean_w


def _did_rc(method: str, y, post, D, X, w, pscore=None):
    """ATT and per-observation influence function (length N) of one 2x2 from stacked rows.

    Repeated-cross-section estimators of DRDID (Sant'Anna & Zhao 2020), as R ``did``
    calls them for unbalanced panels: ``"dr"`` the locally efficient doubly robust
    ``drdid_rc`` (their eq. 3.4: outcome regressions for comparison and treated units in
    each period, logit propensity score, comparison units with pscore >= 0.995 get
    weight 0); ``"ipw"`` the normalised IPW ``std_ipw_did_rc`` (same logit and trimming,
    as DRDID's current version and moderndid); ``"reg"`` the outcome
    regression ``reg_did_rc``. Rows are observations (unit, period); ``post`` marks the
    current period, ``w`` the observation weights (normalised to mean 1 here, as DRDID).
    The influence function includes the estimation effects of the logit and of every
    regression. Each correction ``a x' A^-1 m`` is evaluated as ``a * (X @ (A^-1 m))``.
    """
    N = len(y)
    w = w / w.mean()
    pre = 1.0 - post
    c0, c1, t0, t1 = (1 - D) * pre, (1 - D) * post, D * pre, D * post
    if method == "reg":
        fit_c0, inv_c0 = _wls_subsample(X, y, w * c0)
        fit_c1, inv_c1 = _wls_subsample(X, y, w * c1)
        eta_t1, inf_t1 = _hajek(w * t1, y)
        eta_t0, inf_t0 = _hajek(w * t0, y)
        w_d = w * D
        eta_c, inf_c = _hajek(w_d, fit_c1 - fit_c0)
        m = X.T @ w_d / N / w_d.mean()
        inf_c = (inf_c + w * c1 * (y - fit_c1) * (X @ (inv_c1 @ m))
                 - w * c0 * (y - fit_c0) * (X @ (inv_c0 @ m)))
        return (eta_t1 - eta_t0) - eta_c, (inf_t1 - inf_t0) - inf_c
    ps, hess_inv = pscore if pscore is not None else _logit(X, D, w)
    ps = np.minimum(ps, 1 - 1e-6)
    odds = ps / (1 - ps)
    ps_effect = w * (D - ps)  # times x' (X'WX)^-1 N: the logit's asymptotic linear representation
    trim = np.where(D == 1, ps < 1.01, ps < TRIM_LEVEL)
    if method == "ipw":
        att_t1, inf_t1 = _hajek(w * t1, y)
        att_t0, inf_t0 = _hajek(w * t0, y)
        w_c1, w_c0 = trim * w * odds * c1, trim * w * odds * c0
        att_c1, inf_c1 = _hajek(w_c1, y)
        att_c0, inf_c0 = _hajek(w_c0, y)
        m2 = (X.T @ (w_c1 * (y - att_c1)) / w_c1.mean() - X.T @ (w_c0 * (y - att_c0)) / w_c0.mean()) / N
        inf_cont = inf_c1 - inf_c0 + ps_effect * (X @ (hess_inv @ m2)) * N
        return (att_t1 - att_t0) - (att_c1 - att_c0), (inf_t1 - inf_t0) - inf_cont
    # doubly robust, locally efficient (drdid_rc)
    fit_c0, inv_c0 = _wls_subsample(X, y, w * c0)
    fit_c1, inv_c1 = _wls_subsample(X, y, w * c1)
    fit_t0, inv_t0 = _wls_subsample(X, y, w * t0)
    fit_t1, inv_t1 = _wls_subsample(X, y, w * t1)
    resid = y - (post * fit_c1 + pre * fit_c0)
    w_t1, w_t0 = trim * w * t1, trim * w * t0
    w_c1, w_c0 = trim * w * odds * c1, trim * w * odds * c0
    w_d = trim * w * D
    att_t1, inf_t1 = _hajek(w_t1, resid)
    att_t0, inf_t0 = _hajek(w_t0, resid)
    att_c1, inf_c1 = _hajek(w_c1, resid)
    att_c0, inf_c0 = _hajek(w_c0, resid)
    gap1, gap0 = fit_t1 - fit_c1, fit_t0 - fit_c0  # treated minus comparison regression
    att_d1, inf_d1 = _hajek(w_d, gap1)
    att_dt1, inf_dt1 = _hajek(w_t1, gap1)
    att_d0, inf_d0 = _hajek(w_d, gap0)
    att_dt0, inf_dt0 = _hajek(w_t0, gap0)
    att = (att_t1 - att_t0) - (att_c1 - att_c0) + (att_d1 - att_dt1) - (att_d0 - att_dt0)
    # derivatives of the components with respect to the nuisance parameters (k-vectors)
    xw = lambda a: X.T @ a / N  # noqa: E731  (column means of a * X)
    m_treat1, m_treat0 = -xw(w_t1) / w_t1.mean(), -xw(w_t0) / w_t0.mean()
    m_cont1, m_cont0 = -xw(w_c1) / w_c1.mean(), -xw(w_c0) / w_c0.mean()
    m_ps = xw(w_c1 * (resid - att_c1)) / w_c1.mean() - xw(w_c0 * (resid - att_c0)) / w_c0.mean()
    mom1 = xw(w_d) / w_d.mean() - xw(w_t1) / w_t1.mean()
    mom0 = xw(w_d) / w_d.mean() - xw(w_t0) / w_t0.mean()
    # each regression's estimation effect enters with one combined derivative vector
    ols = lambda s, fit, inv, m: w * s * (y - fit) * (X @ (inv @ m))  # noqa: E731
    inf = ((inf_t1 - inf_t0) - (inf_c1 - inf_c0) + (inf_d1 - inf_dt1) - (inf_d0 - inf_dt0)
           - ps_effect * (X @ (hess_inv @ m_ps)) * N
           + ols(c1, fit_c1, inv_c1, m_treat1 - m_cont1 - mom1)
           + ols(c0, fit_c0, inv_c0, m_treat0 - m_cont0 + mom0)
           + ols(t1, fit_t1, inv_t1, mom1)
           - ols(t0, fit_t0, inv_t0, mom0))
    return att, inf


def _rc_problem(method, X, D, post, w):
    """R did's checks before an unbalanced 2x2 (NA when they fail); the logit, fitted once."""
    for label, ok in (("no units of the group in the current period", (D * post).any()),
                      ("no units of the group in the base period", (D * (1 - post)).any()),
                      ("no comparison units in the current period", ((1 - D) * post).any()),
                      ("no comparison units in the base period", ((1 - D) * (1 - post)).any())):
        if not ok:
            return label, None
    pscore = None
    if method in ("dr", "ipw"):
        pscore = _logit(X, D, w)
        if pscore[0].max() >= OVERLAP_LIMIT:
            return f"overlap violated (propensity score >= {OVERLAP_LIMIT})", None
    if method in ("dr", "reg"):
        controls = X[D == 0]
        if np.linalg.cond(controls.T @ controls) > 1 / np.finfo(float).eps:
            return "not enough comparison units to run the outcome regression", None
    return None, pscore


# --------------------------------------------------------------------------- #
# Inference from influence functions                                           #
# --------------------------------------------------------------------------- #


def _cluster_sums(IF: np.ndarray, cluster: np.ndarray | None) -> np.ndarray:
    if cluster is None:
        return IF
    out = np.zeros((int(cluster.max()) + 1, IF.shape[1]))
    np.add.at(out, cluster, IF)
    return out


def _analytic_se(IF: np.ndarray, cluster: np.ndarray | None) -> np.ndarray:
    """sqrt(sum_c (sum_{i in c} IF_i)^2) / n; clusters = units when ``cluster`` is None."""
    n = IF.shape[0]
    psi = _cluster_sums(IF, cluster)
    se = np.sqrt(np.einsum("ij,ij->j", psi, psi)) / n
    return np.where(se <= ZERO_SE, np.nan, se)


def _multiplier_draws(IF: np.ndarray, cluster, n_boot: int, seed) -> np.ndarray:
    """(n_boot, k) draws of (1/n) sum_c v_c psi_c with Rademacher v_c (one per cluster or unit).

    Draws are generated in blocks of ``BOOT_CHUNK`` rows from ``numpy.random.default_rng(seed)``
    (same seed, same draws) and multiplied in float32 (error far below the Monte Carlo error).
    """
    n = IF.shape[0]
    psi = _cluster_sums(IF, cluster)
    rng = np.random.default_rng(seed)
    acc = np.zeros((psi.shape[1], n_boot))
    nbytes = (n_boot + 7) // 8
    for start in range(0, psi.shape[0], BOOT_CHUNK):
        block = psi[start : start + BOOT_CHUNK]
        bits = np.unpackbits(rng.integers(0, 256, size=(block.shape[0], nbytes), dtype=np.uint8),
                             axis=1, count=n_boot)
        # sum v psi with v = 2 bit - 1
        acc += 2.0 * (block.T.astype(np.float32) @ bits.astype(np.float32)) - block.sum(0)[:, None]
    return acc.T / n


def _bootstrap(IF, cluster, n_boot, seed, alpha):
    """did's mboot: IQR-based standard errors and the sup-t critical value of a uniform band."""
    draws = _multiplier_draws(IF, cluster, n_boot, seed)
    q75, q25 = np.quantile(draws, [0.75, 0.25], axis=0)
    se = (q75 - q25) / (stats.norm.ppf(0.75) - stats.norm.ppf(0.25))
    se = np.where(se <= ZERO_SE, np.nan, se)
    ok = np.isfinite(se)
    if not ok.any():
        return se, float("nan")
    t_max = np.max(np.abs(draws[:, ok]) / se[ok], axis=1)
    crit = float(np.quantile(t_max, 1 - alpha, method="inverted_cdf"))  # R's type = 1
    return se, crit


def _intervals(est, se, crit):
    with np.errstate(invalid="ignore", divide="ignore"):
        p = 2 * stats.norm.sf(np.abs(est / se))
    return est - crit * se, est + crit * se, p


# --------------------------------------------------------------------------- #
# att_gt                                                                       #
# --------------------------------------------------------------------------- #


def _cells(tlist, glist, base_period, anticipation):
    """R did's loop: (g, current index c, base index b, control threshold) per ATT(g,t)."""
    T = len(tlist)
    universal = base_period == "universal"
    for g in glist:
        before = np.flatnonzero(tlist + anticipation < g)
        pret_g = int(before[-1])
        for c in range(0 if universal else 1, T):
            base = pret_g if universal else c - 1
            threshold = tlist[max(c, base)] + anticipation
            if g <= tlist[c]:
                base = pret_g
            yield g, c, base, threshold


def att_gt(
    data: pd.DataFrame,
    y: str,
    time: str,
    unit: str,
    cohort: str,
    covariates: list[str] | None = None,
    control: str = "never",
    method: str = "dr",
    anticipation: int = 0,
    base_period: str = "varying",
    cluster: str | None = None,
    weights: str | None = None,
    n_boot: int = 0,
    seed: int | None = None,
    alpha: float = 0.05,
    allow_unbalanced_panel: bool = False,
) -> AttGtResult:
    """Callaway-Sant'Anna group-time average treatment effects ATT(g,t), as R ``did``.

    ``cohort``: first treated period, 0 or missing for never treated. ``control``:
    ``"never"`` (never-treated units) or ``"not_yet"`` (never treated and not yet
    treated by the later of the two periods, plus ``anticipation``). ``method``:
    ``"dr"``, ``"ipw"`` or ``"reg"`` (module docstring). ``base_period``:
    ``"varying"`` (pre-periods compare t with t-1) or ``"universal"`` (always g - 1 -
    anticipation; that cell is reported as 0). Covariates are taken in the earlier of
    the two periods of each comparison, as ``did`` (use time-invariant ones).

    Panel rule: units not observed with complete data in every period are dropped
    (``UnbalancedPanelWarning``), as R ``did`` with ``allow_unbalanced_panel=FALSE``;
    units treated in the first period are dropped (``StaggeredWarning``); cohorts
    after the last period count as never treated.

    ``allow_unbalanced_panel=True`` keeps every observation, as R ``did`` with
    ``allow_unbalanced_panel=TRUE``: each 2x2 stacks the observations of the group's and
    the comparison units in the two periods and uses DRDID's repeated-cross-section
    estimators (``drdid_rc``, ``std_ipw_did_rc``, ``reg_did_rc``); each observation has
    the covariates of its own period; the per-observation influence function, scaled by
    n / N (units in the sample over observations in the 2x2), is summed within units, so
    ``influence`` stays n units x k. If the sample is in fact a balanced panel, the panel
    estimator runs, as R did >= 2.2 (``extra["panel_estimator"]`` says which ran).

    Inference: analytic ``se = sqrt(sum IF^2)/n`` (per cluster sums of the influence
    function with ``cluster``); with ``n_boot > 0`` the multiplier bootstrap
    (Rademacher, seeded) gives the standard errors and a uniform band.
    """
    if control not in ("never", "not_yet"):
        raise ValueError(f"att_gt: control must be 'never' or 'not_yet', got {control!r}")
    if method not in ("dr", "ipw", "reg"):
        raise ValueError(f"att_gt: method must be 'dr', 'ipw' or 'reg', got {method!r}")
    if base_period not in ("varying", "universal"):
        raise ValueError(f"att_gt: base_period must be 'varying' or 'universal', got {base_period!r}")
    if anticipation < 0 or int(anticipation) != anticipation:
        raise ValueError(f"att_gt: anticipation must be a non-negative integer, got {anticipation!r}")
    balanced_units = None
    if allow_unbalanced_panel:
        prepared = _prepare_unbalanced(data, y, time, unit, cohort, covariates, control, anticipation,
                                       cluster, weights)
        if isinstance(prepared, _Long):
            rows, IF = _unbalanced_cells(prepared, method, control, base_period, anticipation)
            return _finish(rows, IF, prepared, int(prepared.y.size), n_boot, seed, alpha, y, control,
                           method, base_period, anticipation, covariates, weights, cluster,
                           {"allow_unbalanced_panel": True,
                            "panel_estimator": "unbalanced (repeated-cross-section 2x2s, R did)"})
        balanced_units = prepared  # balanced: R did sets allow_unbalanced_panel = FALSE
    panel = _prepare(data, y, time, unit, cohort, covariates, control, anticipation, cluster, weights,
                     balanced_units)
    Y, G, w, tlist = panel.Y, panel.G, panel.w, panel.tlist
    n = len(G)
    never = G == 0
    cells = list(_cells(tlist, panel.glist, base_period, anticipation))
    IF = np.zeros((n, len(cells)), order="F")
    rows = []
    samples: dict = {}  # per (g, comparison set): unit indices, D, weights, covariates, fits
    for j, (g, c, b, threshold) in enumerate(cells):
        post = bool(g <= tlist[c])
        if b == c:  # universal base period: the reference cell, normalised to 0
            rows.append((g, tlist[c], 0.0, post))
            continue
        x_period = None if panel.X is None else (0 if panel.x_invariant else min(c, b))
        key = (g, "never" if control == "never" else threshold, x_period)
        if key not in samples:
            samples.clear()  # cells come group by group: keep only the current sample
            D_full = G == g
            control_units = never if control == "never" else never | ((G > threshold) & ~D_full)
            idx = np.flatnonzero(D_full | control_units)
            D = D_full[idx].astype(float)
            ws = w[idx] / w[idx].mean()
            X = np.ones((len(idx), 1)) if panel.X is None else panel.X[x_period][idx]
            samples[key] = entry = {"idx": idx, "D": D, "ws": ws, "X": X}
            entry["problem"] = _sample_problem(method, X, D, ws, entry)
        entry = samples[key]
        idx, D, ws, X = entry["idx"], entry["D"], entry["ws"], entry["X"]
        if entry["problem"]:
            warnings.warn(f"att_gt: {entry['problem']} for group {_fmt(g)} in period {_fmt(tlist[c])}; "
                          "ATT is NaN", StaggeredWarning, stacklevel=2)
            rows.append((g, tlist[c], np.nan, post))
            IF[:, j] = np.nan
            continue
        dy = Y[idx, c] - Y[idx, b]
        att, inf = _did_2x2(method, dy, D, X, ws, entry.get("pscore"), entry.get("ols"))
        column = IF[:, j]
        column[idx] = (n / len(idx)) * inf
        rows.append((g, tlist[c], att, post))

    flags = None if not allow_unbalanced_panel else {
        "allow_unbalanced_panel": True,
        "panel_estimator": "balanced panel (R did sets allow_unbalanced_panel = FALSE)"}
    return _finish(rows, IF, panel, n * len(tlist), n_boot, seed, alpha, y, control, method,
                   base_period, anticipation, covariates, weights, cluster, flags)


def _finish(rows, IF, panel, nobs, n_boot, seed, alpha, y, control, method, base_period, anticipation,
            covariates, weights, cluster, flags) -> AttGtResult:
    """Standard errors, intervals, pre-test and the result, from the cells and their IF."""
    G, w, tlist = panel.G, panel.w, panel.tlist
    n = len(G)
    groups = np.array([r[0] for r in rows], float)
    times = np.array([r[1] for r in rows], float)
    att = np.array([r[2] for r in rows], float)
    post = np.array([r[3] for r in rows], bool)
    se = _analytic_se(IF, panel.cluster)
    crit = stats.norm.ppf(1 - alpha / 2)
    extra: dict[str, Any] = {}
    if n_boot > 0:
        se, crit = _bootstrap(IF, panel.cluster, int(n_boot), seed, alpha)
        extra.update(n_boot=int(n_boot), seed=seed, crit=crit, band="uniform (sup-t, multiplier bootstrap)")
    low, high, p = _intervals(att, se, crit)
    table = pd.DataFrame(
        {"group": groups, "time": times, "att": att, "se": se, "ci_low": low, "ci_high": high,
         "p": p, "post": post},
        index=pd.Index([f"ATT({_fmt(g)},{_fmt(t)})" for g, t in zip(groups, times)], name="term"),
    )
    pretest = _pretest(att, IF, groups, times, se, panel.cluster)
    extra.update(
        control=control, method=method, base_period=base_period, anticipation=int(anticipation),
        covariates=list(covariates or []), weights=weights, n_units=n, periods=[_num(t) for t in tlist],
        groups=[_num(g) for g in panel.glist], dropped_units=panel.dropped,
        cluster_rule="analytic: influence functions summed within clusters" if cluster else None,
        pretest=pretest,
    )
    if flags:
        extra.update(flags)
    return AttGtResult(
        table=table, nobs=nobs, vcov_type="multiplier bootstrap" if n_boot > 0 else "influence function",
        estimator="att_gt", y=y, n_clusters=None if panel.cluster is None else int(panel.cluster.max()) + 1,
        cluster=cluster, vcov=None, alpha=alpha, extra=extra, influence=IF, units=panel.units,
        unit_cohort=G, unit_weights=w, unit_cluster=panel.cluster, pretest=pretest,
    )


def _unbalanced_cells(long: _Long, method, control, base_period, anticipation):
    """ATT(g,t) rows and the n x k influence matrix from repeated-cross-section 2x2s (R did).

    For cell (g, t) with base period b: the observations in periods t and b of the units
    of cohort g (D = 1) and of the comparison units (D = 0), stacked, ``post`` = 1 in
    period t. The per-observation influence function of the 2x2 is multiplied by n / N
    (n units in the sample, N observations in the 2x2: R did's ``n/n1``) and summed
    within units (R did's aggregation by id). A cell without group or comparison
    observations in either period, or that fails the overlap/regression checks, is NaN
    with a ``StaggeredWarning``, its influence column NaN.
    """
    G, tlist, X_all = long.G, long.tlist, long.X
    n = len(G)
    never = G == 0
    cells = list(_cells(tlist, long.glist, base_period, anticipation))
    IF = np.zeros((n, len(cells)), order="F")
    rows = []
    for j, (g, c, b, threshold) in enumerate(cells):
        post_cell = bool(g <= tlist[c])
        if b == c:  # universal base period: the reference cell, normalised to 0
            rows.append((g, tlist[c], 0.0, post_cell))
            continue
        treated = G == g
        member = treated | (never if control == "never" else never | ((G > threshold) & ~treated))
        current = np.arange(long.starts[c], long.starts[c + 1])
        base = np.arange(long.starts[b], long.starts[b + 1])
        current, base = current[member[long.unit[current]]], base[member[long.unit[base]]]
        idx = np.concatenate([current, base])
        unit_idx = long.unit[idx]
        D = treated[unit_idx].astype(float)
        post = np.zeros(idx.size)
        post[: current.size] = 1.0
        X, ws = X_all[idx], long.w[unit_idx]
        problem, pscore = _rc_problem(method, X, D, post, ws)
        if problem is None:
            try:
                att, inf = _did_rc(method, long.y[idx], post, D, X, ws, pscore)
            except (_CellProblem, np.linalg.LinAlgError) as err:
                problem = str(err) or "singular design"
        if problem is None and not np.isfinite(att):
            problem = "the estimate is not finite"
        if problem:
            warnings.warn(f"att_gt: {problem} for group {_fmt(g)} in period {_fmt(tlist[c])}; "
                          "ATT is NaN", StaggeredWarning, stacklevel=3)
            rows.append((g, tlist[c], np.nan, post_cell))
            IF[:, j] = np.nan
            continue
        IF[:, j] = np.bincount(unit_idx, weights=(n / idx.size) * inf, minlength=n)
        rows.append((g, tlist[c], att, post_cell))
    return rows, IF


def _sample_problem(method, X, D, ws, entry) -> str | None:
    """Fit what does not depend on the outcome (cached per sample); say why a 2x2 cannot be estimated."""
    if D.sum() == 0 or D.sum() == len(D):
        return "no comparison units"
    if method in ("dr", "ipw"):
        entry["pscore"] = _logit(X, D, ws)
        if entry["pscore"][0].max() >= OVERLAP_LIMIT:
            return f"overlap violated (propensity score >= {OVERLAP_LIMIT})"
    if method in ("dr", "reg"):
        controls = X[D == 0]
        if np.linalg.cond(controls.T @ controls) > 1 / np.finfo(float).eps:
            return "not enough comparison units to run the outcome regression"
        entry["ols"] = _ols_controls(X, D, ws)
    return None


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _num(v):
    v = float(v)
    return int(v) if v.is_integer() else v


def _pretest(att, IF, groups, times, se, cluster) -> dict[str, Any]:
    """Wald test that all pre-treatment ATT(g,t) (group > time) are zero, as R did.

    W = n att' V^-1 att with V = psi'psi/n the influence-function covariance
    (per-cluster sums with a cluster); p from chi2(q). Cells with a zero or missing
    standard error (e.g. the universal base period) are left out.
    """
    pre = np.flatnonzero((groups > times) & np.isfinite(se) & np.isfinite(att))
    if pre.size == 0:
        return {"W": None, "df": 0, "p": None, "note": "no pre-treatment ATT(g,t)"}
    n = IF.shape[0]
    psi = _cluster_sums(IF, cluster)
    V = (psi.T @ psi / n)[np.ix_(pre, pre)]
    if 1.0 / np.linalg.cond(V) <= np.finfo(float).eps:
        return {"W": None, "df": int(pre.size), "p": None, "note": "singular covariance"}
    a = att[pre]
    W = float(n * a @ np.linalg.solve(V, a))
    return {"W": W, "df": int(pre.size), "p": float(stats.chi2.sf(W, pre.size))}


# --------------------------------------------------------------------------- #
# aggte                                                                        #
# --------------------------------------------------------------------------- #


def _weights_if(keepers, pg, w_ind, G, group):
    """did's ``wif``: influence of estimating the group shares in the weights pg/sum(pg)."""
    pk = pg[keepers]
    s = pk.sum()
    ind = np.column_stack([w_ind * (G == group[k]) - pg[k] for k in keepers])
    return ind / s - np.outer(ind.sum(1), pk / s**2)


def aggte(
    result: AttGtResult,
    kind: str = "simple",
    min_e: float | None = None,
    max_e: float | None = None,
    balance_e: int | None = None,
    n_boot: int = 0,
    seed: int | None = None,
) -> AggteResult:
    """Aggregate ATT(g,t) as R ``did::aggte``: ``"simple"``, ``"group"``, ``"dynamic"``, ``"calendar"``.

    Weights are group shares ``pg = mean(w_i 1[G_i = g])``; the aggregate influence
    function adds the term for the estimated shares (``did``'s ``wif``), except where
    ``did`` averages with fixed weights (within a group; over event times; over
    periods). ``min_e``/``max_e`` bound event time ``e = t - g`` (for ``simple`` and
    ``group`` only ``max_e``, as ``did``); ``balance_e`` keeps only groups observed
    for at least ``balance_e`` periods after treatment (``dynamic``). Standard errors:
    analytic ``sqrt(sum IF^2)/n`` (cluster sums with a cluster), or the multiplier
    bootstrap with ``n_boot > 0`` (then ``ci_low, ci_high`` are a uniform band over the
    rows). Event times are differences of the period values (as ``did`` when periods
    are consecutive integers).
    """
    if kind not in ("simple", "group", "dynamic", "calendar"):
        raise ValueError(f"aggte: kind must be simple, group, dynamic or calendar, got {kind!r}")
    if result.influence is None:
        raise ValueError("aggte: the result carries no influence functions (use att_gt's result)")
    table = result.table
    group = table["group"].to_numpy(float)
    t = table["time"].to_numpy(float)
    att_all = table["att"].to_numpy(float)
    ok = np.isfinite(att_all)
    IF_all = result.influence
    G, w_ind, cl = result.unit_cohort, result.unit_weights, result.unit_cluster
    n = IF_all.shape[0]
    min_e = -np.inf if min_e is None else min_e
    max_e = np.inf if max_e is None else max_e
    glist = np.array(result.extra["groups"], float)
    pg_groups = np.array([np.mean(w_ind * (G == g)) for g in glist])
    pg = pg_groups[np.searchsorted(glist, group)]
    att = np.where(ok, att_all, 0.0)

    def combine(which, weights, wif=None):
        inf = IF_all[:, which] @ weights
        if wif is not None:
            inf = inf + wif @ att[which]
        return float(att[which] @ weights), inf

    keys: list = []
    estimates: list[float] = []
    infs: list[np.ndarray] = []
    if kind == "simple":
        keepers = np.flatnonzero((group <= t) & (t - group <= max_e) & ok)
        est, inf = combine(keepers, pg[keepers] / pg[keepers].sum(), _weights_if(keepers, pg, w_ind, G, group))
        overall_att, overall_inf = est, inf
        keys, estimates, infs = ["ATT"], [est], [inf]
    elif kind == "group":
        for g in glist:
            which = np.flatnonzero((group == g) & (g <= t) & (t - group <= max_e) & ok)
            est, inf = combine(which, pg[which] / pg[which].sum())
            keys.append(_num(g)); estimates.append(est); infs.append(inf)
        att_g = np.array(estimates)
        inf_g = np.column_stack(infs)
        wif = _weights_if(np.arange(len(glist)), pg_groups, w_ind, G, glist)
        weights = pg_groups / pg_groups.sum()
        overall_att = float(att_g @ weights)
        overall_inf = inf_g @ weights + wif @ att_g
    elif kind == "dynamic":
        e_all = t - group
        include = np.ones(len(group), bool)
        eseq = np.unique(e_all[ok])
        if balance_e is not None:
            t_max = t.max()
            include = t_max - group >= balance_e
            eseq = np.unique(e_all[include & ok])
            t_first = min(t.min(), group.min())
            eseq = eseq[(eseq <= balance_e) & (eseq >= balance_e - t_max + t_first)]
        eseq = eseq[(eseq >= min_e) & (eseq <= max_e)]
        for e in eseq:
            which = np.flatnonzero((e_all == e) & include & ok)
            est, inf = combine(which, pg[which] / pg[which].sum(), _weights_if(which, pg, w_ind, G, group))
            keys.append(_num(e)); estimates.append(est); infs.append(inf)
        positive = eseq >= 0
        att_e = np.array(estimates)
        inf_e = np.column_stack(infs) if infs else np.zeros((n, 0))
        overall_att = float(att_e[positive].mean()) if positive.any() else float("nan")
        overall_inf = inf_e[:, positive].mean(1) if positive.any() else np.zeros(n)
    else:  # calendar
        periods = np.unique(t)
        periods = periods[periods >= group.min()]
        for period in periods:
            which = np.flatnonzero((t == period) & (group <= t) & ok)
            est, inf = combine(which, pg[which] / pg[which].sum(), _weights_if(which, pg, w_ind, G, group))
            keys.append(_num(period)); estimates.append(est); infs.append(inf)
        att_t = np.array(estimates)
        overall_att = float(att_t.mean())
        overall_inf = np.column_stack(infs).mean(1)

    inf_rows = np.column_stack(infs)
    se = _analytic_se(inf_rows, cl)
    overall_se = float(_analytic_se(overall_inf[:, None], cl)[0])
    crit = stats.norm.ppf(1 - result.alpha / 2)
    extra: dict[str, Any] = {"kind": kind, "min_e": to_plain(min_e), "max_e": to_plain(max_e),
                             "balance_e": balance_e}
    pw_low, pw_high, p = _intervals(np.array(estimates), se, crit)
    if n_boot > 0:
        se, band = _bootstrap(inf_rows, cl, int(n_boot), seed, result.alpha)
        overall_se = float(_bootstrap(overall_inf[:, None], cl, int(n_boot), seed, result.alpha)[0][0])
        pw_low, pw_high, p = _intervals(np.array(estimates), se, crit)
        extra.update(n_boot=int(n_boot), seed=seed, crit=band)
    else:
        band = crit
    low, high, _ = _intervals(np.array(estimates), se, band)
    out = pd.DataFrame(
        {"key": keys, "att": estimates, "se": se, "ci_low": low, "ci_high": high, "p": p,
         "ci_low_pointwise": pw_low, "ci_high_pointwise": pw_high},
        index=pd.Index([_term(kind, k) for k in keys], name="term"),
    )
    extra["overall"] = {"att": overall_att, "se": overall_se}
    return AggteResult(
        table=out, nobs=result.nobs, vcov_type=result.vcov_type if n_boot == 0 else "multiplier bootstrap",
        estimator=f"aggte:{kind}", y=result.y, n_clusters=result.n_clusters, cluster=result.cluster,
        alpha=result.alpha, extra=extra, kind=kind, overall_att=overall_att, overall_se=overall_se,
        influence=inf_rows, overall_influence=overall_inf,
    )


def _term(kind: str, key) -> str:
    """Row names: ``"ATT"`` (simple), ``"g=2004"``, ``"e=-1"``, ``"t=2005"``."""
    prefix = {"group": "g", "dynamic": "e", "calendar": "t"}
    return "ATT" if kind == "simple" else f"{prefix[kind]}={key}"


# --------------------------------------------------------------------------- #
# Plot                                                                         #
# --------------------------------------------------------------------------- #


def plot_staggered_event_study(result: AggteResult, ax=None):
    """Event-study plot of ``aggte(..., kind="dynamic")``: estimates, pointwise intervals
    (error bars) and, when the result was bootstrapped, the uniform band (shaded).

    Also accepts a ``sun_abraham`` or ``imputation`` result (terms ``"e=k"``), drawing
    their pointwise intervals. Returns the matplotlib axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    table = result.table
    if "key" in table.columns:
        if getattr(result, "kind", None) != "dynamic":
            raise ValueError("plot_staggered_event_study needs aggte(..., kind='dynamic')")
        e = table["key"].to_numpy(float)
        est = table["att"].to_numpy(float)
        low, high = table["ci_low_pointwise"].to_numpy(float), table["ci_high_pointwise"].to_numpy(float)
        uniform = "n_boot" in result.extra
    else:
        e = np.array([float(term.split("=")[1]) for term in table.index])
        est = table["estimate"].to_numpy(float)
        low, high = table["ci_low"].to_numpy(float), table["ci_high"].to_numpy(float)
        uniform = False
    level = round(100 * (1 - result.alpha))
    if uniform:
        ax.fill_between(e, table["ci_low"].to_numpy(float), table["ci_high"].to_numpy(float),
                        color="C0", alpha=0.2, step=None, label=f"{level}% uniform band")
    colors = np.where(e >= 0, "C3", "C0")
    for xi, yi, lo, hi, col in zip(e, est, low, high, colors):
        ax.errorbar([xi], [yi], yerr=[[yi - lo], [hi - yi]], fmt="o", capsize=3, color=col)
    ax.errorbar([], [], yerr=[], fmt="o", color="grey", capsize=3, label=f"estimate, {level}% pointwise CI")
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.axvline(-0.5, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("periods relative to treatment (e = t - g)")
    ax.set_ylabel(f"effect on {result.y}")
    ax.legend(frameon=False)
    return ax
