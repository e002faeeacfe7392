"""Borusyak, Jaravel & Spiess (2024) imputation estimator with its conservative variance."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import sparse, stats

from evaluation.methods.estimators import _panel
from evaluation.methods.estimators.staggered import StaggeredWarning
from evaluation.methods.results import EstimationResult


def _twoway_solve(u, t, n_units, n_periods, r_u, r_t):
    """Solve the normal equations of ``a_i + b_t`` on the cells (u, t): returns (a, b).

    ``(Z'Z) theta = (r_u, r_t)`` with Z the unit and period dummies. The unit effects
    are eliminated (``a = (r_u - C b) / n_u``) and the period system is solved with
    ``b_0 = 0`` (the one free normalisation); fitted values ``a_i + b_t`` do not depend on it.
    """
    C = sparse.csr_matrix((np.ones(len(u)), (u, t)), shape=(n_units, n_periods))
    n_u = np.asarray(C.sum(1)).ravel()
    m_t = np.asarray(C.sum(0)).ravel()
    scaled = sparse.diags(1.0 / n_u) @ C
    A = np.diag(m_t) - (C.T @ scaled).toarray()
    rhs = r_t - C.T @ (r_u / n_u)
    b = np.zeros(n_periods)
    b[1:] = np.linalg.lstsq(A[1:, 1:], rhs[1:], rcond=None)[0]
    a = (r_u - C @ b) / n_u
    return a, b


def imputation(
    data: pd.DataFrame,
    y: str,
    unit: str,
    time: str,
    cohort: str,
    horizons: list[int] | None = None,
    cluster: str | None = None,
    alpha: float = 0.05,
) -> EstimationResult:
    """Imputation estimator of Borusyak, Jaravel & Spiess (2024, BJS).

    1. Fit ``y_it = a_i + b_t`` by OLS on the untreated observations (never treated,
       or ``t < cohort``). 2. Impute ``y_it(0)`` for treated observations (``t >=
       cohort``) and take ``tau_it = y_it - a_i - b_t``. 3. Average: ``"ATT"`` over all
       treated observations, ``"e=h"`` over those ``h`` periods after treatment
       (``horizons``, default all observed). Works on unbalanced panels.

    Variance: BJS's conservative estimator (Theorem 3), clustered by ``cluster``
    (default ``unit``): ``sum_c (sum_{it in c} v_it e_it)^2`` where ``v_it`` are the
    estimator's implied weights (``w_it`` on treated, ``-(Z0 (Z0'Z0)^- Z1' w)_it`` on
    untreated observations), ``e_it`` the untreated residuals and, for treated
    observations, ``tau_it`` minus its mean in the (cohort, period) cell. Normal
    reference distribution. The leave-out refinement of BJS is not applied. Treated
    observations whose unit has no untreated observation cannot be imputed: dropped
    with a warning (units treated in the first period).
    """
    if cohort not in data.columns:
        raise ValueError(f"imputation: column {cohort!r} not in the data")
    used = [y, unit, time] + ([cluster] if cluster else [])
    frame = _panel.complete_rows(data, used, "imputation")
    _panel.check_unique_pairs(frame, unit, time)
    G = frame[cohort].fillna(0).to_numpy(float)
    u, units = pd.factorize(frame[unit], sort=True)
    varying = pd.Series(G).groupby(u).nunique()
    if (varying > 1).any():
        raise ValueError(f"imputation: column {cohort!r} must be constant within a unit; units "
                         f"{_panel._few(units[varying.index[varying > 1]])} are not")
    t_codes, periods = pd.factorize(frame[time], sort=True)
    tv = frame[time].to_numpy(float)
    yv = frame[y].to_numpy(float)
    treated = (G > 0) & (tv >= G)
    untreated = ~treated
    has_untreated = np.bincount(u[untreated], minlength=len(units)) > 0
    period_untreated = np.bincount(t_codes[untreated], minlength=len(periods)) > 0
    imputable = has_untreated[u] & period_untreated[t_codes]
    lost = treated & ~imputable
    if lost.any():
        warnings.warn(f"imputation: dropped {int(lost.sum())} treated observations that cannot be imputed "
                      "(their unit or period has no untreated observation)", StaggeredWarning, stacklevel=2)
    keep = untreated | (treated & imputable)
    keep &= has_untreated[u]  # units without untreated observations carry no information
    u, t_codes, tv, yv, G, treated = u[keep], t_codes[keep], tv[keep], yv[keep], G[keep], treated[keep]
    u = pd.factorize(u, sort=True)[0]
    N, T = int(u.max()) + 1, len(periods)
    if not treated.any():
        raise ValueError(f"imputation: no treated observations (column {cohort!r})")
    u0, t0, y0 = u[~treated], t_codes[~treated], yv[~treated]
    a, b = _twoway_solve(u0, t0, N, T, np.bincount(u0, y0, N), np.bincount(t0, y0, T))
    fitted = a[u] + b[t_codes]
    tau = yv - fitted
    resid = np.where(treated, 0.0, tau)
    e = tv - G
    # tau minus its (cohort, period) mean, for the treated observations
    cell = pd.factorize(pd.MultiIndex.from_arrays([G[treated], tv[treated]]))[0]
    cell_mean = np.bincount(cell, tau[treated]) / np.bincount(cell)
    resid[treated] = tau[treated] - cell_mean[cell]

    e_treated = e[treated]
    if horizons is None:
        horizons = sorted(int(h) for h in np.unique(e_treated))
    targets = [("ATT", np.ones(int(treated.sum()), bool))]
    for h in horizons:
        mask = e_treated == h
        if not mask.any():
            raise ValueError(f"imputation: no treated observation at horizon {h}")
        targets.append((f"e={h}", mask))
    if cluster:
        cl = pd.factorize(frame[cluster].to_numpy()[keep], sort=True)[0]
    else:
        cl = u
    n_cl = int(cl.max()) + 1
    idx_treated = np.flatnonzero(treated)
    estimates, scores = [], []
    for _, mask in targets:
        w1 = np.zeros(len(yv))
        w1[idx_treated[mask]] = 1.0 / mask.sum()
        wa, wb = _twoway_solve(u0, t0, N, T, np.bincount(u, w1, N), np.bincount(t_codes, w1, T))
        v = np.where(treated, w1, -(wa[u] + wb[t_codes]))
        estimates.append(float(w1 @ tau))
        scores.append(np.bincount(cl, v * resid, n_cl))
    S = np.column_stack(scores)
    V = S.T @ S
    coef = np.array(estimates)
    se = np.sqrt(np.diag(V))
    crit = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2 * stats.norm.sf(np.abs(coef / se))
    names = [name for name, _ in targets]
    table = pd.DataFrame({"estimate": coef, "se": se, "ci_low": coef - crit * se, "ci_high": coef + crit * se,
                          "p": p, "df": np.inf}, index=pd.Index(names, name="term"))
    extra = {"n_treated_obs": int(treated.sum()), "n_untreated_obs": int((~treated).sum()),
             "dropped_treated_obs": int(lost.sum()), "variance": "BJS conservative, tau averaged by (cohort, period)",
             "horizons": [int(h) for h in horizons]}
    return EstimationResult(table=table, nobs=len(yv), vcov_type="BJS conservative", estimator="imputation", y=y,
                            n_clusters=n_cl, cluster=cluster or unit,
                            vcov=pd.DataFrame(V, index=table.index, columns=table.index), alpha=alpha, extra=extra)
