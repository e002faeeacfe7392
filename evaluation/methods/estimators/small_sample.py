"""Small-sample inference for the Callaway-Sant'Anna simple ATT: the delete-one-firm jackknife.

The analytic standard error of ``aggte(att_gt(...), "simple")`` (``sqrt(sum_i IF_i^2) / n``)
treats the estimated propensity score and outcome regression as if their influence were
known. With about 60 funded and 40 comparison firms the doubly robust 2x2s put large
odds weights ``p/(1-p)`` on a few comparison firms and fit three regression coefficients
on 40 of them; the analytic standard error is then too small (``sd/se`` about 1.2) and
the normal 95% interval covers about 88% (``tests/methods/montecarlo/RESULTS_small_sample.md``).

:func:`simple_att` re-estimates everything (propensity scores, outcome regressions,
2x2 ATTs and the cohort shares of the aggregation) without each firm in turn and
uses the delete-one-firm jackknife variance with Student-t critical values. The
deletions are computed exactly but without re-running :func:`att_gt` n times: the
outcome regression by the Sherman-Morrison downdate, the logit by Newton's method
vectorised over the deleted firms (started from Pregibon's one-step approximation),
and the weighted means in closed form. ``tests/methods/test_small_sample.py`` checks the
result against brute-force re-estimation with :func:`att_gt` and :func:`aggte`.
Cost is ``O(n_s^2 k^2)`` per 2x2 sample of ``n_s`` firms (about 0.02 s at 100 firms,
2 s at 3,000), hence the rule of ``inference="auto"`` (:data:`JACKKNIFE_MAX_UNITS`).
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections import OrderedDict
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from evaluation.methods.estimators.staggered.aggregation import aggte
from evaluation.methods.estimators.staggered.group_time import _cells, att_gt
from evaluation.methods.estimators.staggered.panel_2x2 import TRIM_LEVEL, _did_2x2, _logit, _sample_problem
from evaluation.methods.estimators.staggered.preparation import _prepare as _prepare_panel

JACKKNIFE_MAX_UNITS = 5_000
"""``inference="auto"`` uses the jackknife up to this many firms in the balanced panel and
the analytic interval above (the jackknife's cost grows with the square of the firms:
about 0.02 s at 100 firms, 2 s at 3,000). Justified by ``tests/methods/montecarlo/
RESULTS_small_sample.md``: the analytic interval under-covers with about 100, 370 and
1,000 firms (89-91%), and covers with 60 funded against 2,940 comparison firms."""
CHUNK = 2_000_000  # entries of a (deleted firms x sample firms) block
NEWTON_TOL = 1e-8  # last step size: Newton converges quadratically, so the error left is ~1e-16
NEWTON_MAX_ITER = 50


class SimpleAtt(NamedTuple):
    """``(att, se, ci_low, ci_high, p, method)``: the simple ATT and its interval."""

    att: float
    se: float
    ci_low: float
    ci_high: float
    p: float
    method: str


def simple_att(
    data: pd.DataFrame,
    y: str,
    time: str,
    unit: str,
    cohort: str,
    covariates: list[str] | None = None,
    control: str = "never",
    inference: str = "auto",
    seed: int | None = None,
    weights: str | None = None,
    alpha: float = 0.05,
    allow_unbalanced_panel: bool = False,
) -> SimpleAtt:
    """The study's CS-DR estimate: ``aggte(att_gt(..., method="dr", cluster=unit), "simple")``
    with an interval chosen for the sample size.

    ``att`` is always the point estimate of :func:`aggte` (simple aggregation of the
    doubly robust ATT(g,t)). ``inference``:

    * ``"analytic"``: ``se = sqrt(sum_i IF_i^2) / n`` from the aggregate influence function
      (units = firms, i.e. clustered by firm), ``att -/+ z_{1-alpha/2} se``, normal p;
      label ``"analytic (influence function), normal"``.
    * ``"jackknife"``: delete-one-firm jackknife. With ``att_(i)`` the estimate without firm
      ``i`` (propensity scores, outcome regressions, 2x2 ATTs and cohort shares all
      re-estimated), ``a_i = att_(i) - mean_j att_(j)`` and ``n`` the firms of the balanced
      panel: ``se^2 = (n - 1)/n sum_i a_i^2``; interval ``att -/+ t_{df, 1-alpha/2} se`` and
      p from ``t(df)`` with ``df = min(n - 1, 3 (sum_i a_i^2)^2 / sum_i a_i^4)``
      (:func:`jackknife_se`). Label ``"jackknife (delete-one-firm), t(df)"``.
    * ``"auto"`` (default): the jackknife when the balanced panel has at most
      ``JACKKNIFE_MAX_UNITS`` (5,000) firms, the analytic interval above.

    Nothing here is random: ``seed`` is accepted for a stable signature (a future
    resampling option) and ignored; the same inputs always give identical numbers.
    Cells that ``att_gt`` cannot estimate (NaN) are left out of every deletion as of the
    full sample (and a cell stays in a deletion even if that deletion alone would push a
    propensity score past ``att_gt``'s overlap limit); deleting the only firm of a cohort
    drops the cohort's cells, as a re-estimation would. When a deletion cannot be
    estimated (a 2x2 with fewer than ``k + 2`` comparison firms for ``k`` regression
    coefficients, or no cell left) ``"jackknife"`` raises ``ValueError`` and ``"auto"``
    falls back to the analytic interval, saying why in the label.

    With ``allow_unbalanced_panel`` and a sample that is not a balanced panel, the
    estimate is :func:`att_gt`'s unbalanced-panel estimator and the jackknife deletes
    groups of firms instead (:func:`group_jackknife_values`: firms in sorted order dealt
    into ``G = min(n, JACKKNIFE_GROUPS)`` groups, each deletion a full re-estimation;
    ``G = n`` is the delete-one-firm jackknife), with the same variance and ``df``
    formulas over the ``G`` deletions.
    """
    del seed  # deterministic
    if inference not in ("auto", "analytic", "jackknife"):
        raise ValueError(f"simple_att: inference must be 'auto', 'analytic' or 'jackknife', got {inference!r}")
    fit = dict(y=y, time=time, unit=unit, cohort=cohort, covariates=covariates, control=control,
               method="dr", cluster=unit, weights=weights, alpha=alpha, allow_unbalanced_panel=allow_unbalanced_panel)
    res = att_gt(data, **fit)
    unbalanced = str(res.extra.get("panel_estimator", "")).startswith("unbalanced")
    agg = aggte(res, kind="simple")
    att, se_if = agg.overall_att, agg.overall_se
    G = res.unit_cohort
    n = len(G)
    choice = inference
    if inference == "auto":
        choice = "jackknife" if n <= JACKKNIFE_MAX_UNITS else "analytic"
    label = ""
    if choice == "jackknife":
        try:
            if unbalanced:
                loo = group_jackknife_values(data, unit, lambda d: aggte(att_gt(d, **fit), kind="simple").overall_att)
            else:
                loo = jackknife_values(data, y, time, unit, cohort, covariates, control, weights)
            if not np.all(np.isfinite(loo)):
                raise ValueError("jackknife: a deletion leaves no estimable cell")
        except ValueError as err:
            if inference == "jackknife":
                raise
            choice, label = "analytic", f": jackknife not possible ({err})"
    if choice == "jackknife":
        se, df = jackknife_se(loo)
        kind = f"delete-a-group, {len(loo)} groups of firms" if unbalanced and len(loo) < n else "delete-one-firm"
        label = f"jackknife ({kind}), t({df:.1f})"
    else:
        se, df = se_if, math.inf
        label = "analytic (influence function), normal" + label
    crit = stats.norm.ppf(1 - alpha / 2) if math.isinf(df) else stats.t.ppf(1 - alpha / 2, df)
    tstat = att / se if se > 0 else math.nan
    p = 2 * (stats.norm.sf(abs(tstat)) if math.isinf(df) else stats.t.sf(abs(tstat), df))
    return SimpleAtt(float(att), float(se), float(att - crit * se), float(att + crit * se), float(p), label)


JACKKNIFE_GROUPS = 50
"""Deletions of the unbalanced-panel jackknife (each one a full re-estimation)."""


def group_jackknife_values(data: pd.DataFrame, unit: str, estimate, groups: int | None = None) -> np.ndarray:
    """``estimate(data without group g)`` for each of ``G = min(n, groups)`` groups of
    units (``groups`` defaults to :data:`JACKKNIFE_GROUPS`, read at call time): the units
    in sorted order dealt into groups by position modulo ``G`` (no randomness), so the
    groups differ in size by at most one unit."""
    groups = JACKKNIFE_GROUPS if groups is None else groups
    units = np.sort(data[unit].unique())
    G = min(len(units), groups)
    labels = data[unit].map(pd.Series(np.arange(len(units)) % G, index=units)).to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.array([estimate(data[labels != g]) for g in range(G)], dtype=float)


def jackknife_se(loo: np.ndarray) -> tuple[float, float]:
    """Jackknife standard error and degrees of freedom from the deletion estimates ``att_(i)``.

    ``se^2 = (n-1)/n sum_i a_i^2`` with ``a_i = att_(i) - mean(att_(.))``;
    ``df = min(n - 1, 3 (sum a_i^2)^2 / sum a_i^4)``: the Satterthwaite degrees of freedom
    of a sum of squares of independent normal terms, ``(sum s_i^2)^2 / sum s_i^4``, with the
    normal moment ``E a_i^4 = 3 s_i^4`` plugged in. With homogeneous firms it is about n (so
    ``t(n-1)``, the textbook jackknife); when a few firms dominate the variance (large
    propensity-score odds among few comparison firms) it falls towards their number.
    """
    n = len(loo)
    a2 = (loo - loo.mean()) ** 2
    total = a2.sum()
    se = math.sqrt((n - 1) / n * total)
    df = min(n - 1.0, 3.0 * total**2 / np.sum(a2**2)) if total > 0 else n - 1.0
    return se, float(df)


# --------------------------------------------------------------------------- #
# Leave-one-firm-out estimates                                                 #
# --------------------------------------------------------------------------- #


def _post_cells(panel, control: str, anticipation: int = 0):
    """Post-treatment cells of the simple aggregation: (g, c, b, sample key) as att_gt."""
    for g, c, b, threshold in _cells(panel.tlist, panel.glist, "varying", anticipation):
        if g > panel.tlist[c]:
            continue
        x_period = None if panel.X is None else (0 if panel.x_invariant else min(c, b))
        key = (g, "never" if control == "never" else threshold, x_period)
        yield g, c, b, threshold, key


def _sample(panel, g, threshold, x_period, control, keep=None):
    G = panel.G
    never = G == 0
    D_full = G == g
    controls = never if control == "never" else never | ((G > threshold) & ~D_full)
    member = D_full | controls
    if keep is not None:
        member = member & keep
    idx = np.flatnonzero(member)
    X = np.ones((len(idx), 1)) if panel.X is None else panel.X[x_period][idx]
    return idx, D_full[idx].astype(float), X


def _prepare(data, y, time, unit, cohort, covariates, control, weights):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # att_gt has warned already
        return _prepare_panel(data, y, time, unit, cohort, covariates, control, 0, unit, weights)


def simple_point(panel, control: str = "never", keep: np.ndarray | None = None) -> float:
    """The simple ATT on the units ``keep`` of a prepared panel, re-estimating everything
    with the 2x2 of :mod:`~evaluation.methods.estimators.staggered.panel_2x2` (the
    brute-force reference of the jackknife)."""
    keep = np.ones(len(panel.G), bool) if keep is None else keep
    G, w, Y = panel.G, panel.w, panel.Y
    num = den = 0.0
    shares = {g: float(np.sum(w[keep] * (G[keep] == g))) for g in panel.glist}
    for g, c, b, threshold, key in _post_cells(panel, control):
        idx, D, X = _sample(panel, g, threshold, key[2], control, keep)
        ws = w[idx] / w[idx].mean()
        entry: dict = {}
        if _sample_problem("dr", X, D, ws, entry):
            continue
        att, _ = _did_2x2("dr", Y[idx, c] - Y[idx, b], D, X, ws, entry.get("pscore"), entry.get("ols"))
        num += shares[g] * att
        den += shares[g]
    return num / den


def jackknife_values(data, y, time, unit, cohort, covariates=None, control="never", weights=None) -> np.ndarray:
    """``att_(i)``, the simple CS-DR ATT without unit ``i``, for every unit of the balanced panel
    (order of ``att_gt(...).units``), computed exactly by closed-form and vectorised deletions."""
    panel = _prepare(data, y, time, unit, cohort, covariates, control, weights)
    G, w, Y = panel.G, panel.w, panel.Y
    n = len(G)
    glist = panel.glist
    cells = list(_post_cells(panel, control))
    att_full = np.full(len(cells), np.nan)
    att_loo = None
    by_key: dict = {}
    for j, cell in enumerate(cells):
        by_key.setdefault(cell[4], []).append(j)
    att_loo = np.empty((n, len(cells)))
    for key, which in by_key.items():
        g, threshold, x_period = cells[which[0]][0], cells[which[0]][3], key[2]
        idx, D, X = _sample(panel, g, threshold, x_period, control)
        ws = w[idx] / w[idx].mean()
        entry: dict = {}
        if _sample_problem("dr", X, D, ws, entry):
            att_loo[:, which] = np.nan
            continue
        DY = np.column_stack([Y[idx, cells[j][1]] - Y[idx, cells[j][2]] for j in which])
        full, loo = _dr_deletions(DY, D, X, ws)
        att_full[which] = full
        att_loo[:, which] = full  # units outside the 2x2 sample leave it unchanged
        att_loo[idx[:, None], np.array(which)[None, :]] = loo
    ok = np.isfinite(att_full)
    # cohort shares without unit i: W_g - w_i 1[G_i = g] (normalisation cancels in the ratio)
    cell_group = np.array([c[0] for c in cells])
    Wg = {g: float(np.sum(w * (G == g))) for g in glist}
    share_full = np.array([Wg[g] for g in cell_group])
    share_loo = share_full[None, :] - (w[:, None] * (G[:, None] == cell_group[None, :]))
    share_loo, att_loo = share_loo[:, ok], att_loo[:, ok]
    # a cohort whose only firm is deleted drops out (share 0), as in a re-estimation
    att_loo = np.where(share_loo > 0, att_loo, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sum(share_loo * att_loo, axis=1) / np.sum(share_loo, axis=1)


def _dr_deletions(DY: np.ndarray, D: np.ndarray, X: np.ndarray, w: np.ndarray):
    """DRDID panel ATT for each column of ``DY`` on the full sample and without each unit.

    Returns ``(att (m,), att_loo (n_s, m))``. Logit and OLS are re-fitted for every
    deletion: OLS on comparison units by Sherman-Morrison, the logit by Newton's
    method vectorised over deleted units (to ``NEWTON_TOL``), so the values equal a
    re-estimation of :func:`~evaluation.methods.estimators.staggered.panel_2x2._did_2x2`
    without the unit.
    """
    ns, k = X.shape
    treat, ctrl = D == 1, D == 0
    if ctrl.sum() < k + 2:
        raise ValueError(f"jackknife: a 2x2 has {int(ctrl.sum())} comparison firms for {k} regression "
                         "coefficients; every deletion needs at least k + 1")
    # --- OLS of dy on X among comparison units, and its deletions ------------------------
    wc = w * ctrl
    A_inv = np.linalg.inv(X.T @ (X * wc[:, None]))
    beta = A_inv @ (X.T @ (wc[:, None] * DY))  # (k, m)
    resid = DY - X @ beta  # (ns, m)
    Q = X @ A_inv  # (ns, k)
    h = wc * np.einsum("ij,ij->i", Q, X)
    if np.any(h[ctrl] >= 1 - 1e-10):
        raise ValueError("jackknife: a comparison firm has leverage 1 in the outcome regression")
    # beta_(i) - beta = -A^-1 x_i w_i r_i / (1 - h_i) for comparison units, 0 for funded ones
    coef = np.where(ctrl, wc / np.where(ctrl, 1 - h, 1.0), 0.0)  # (ns,)
    dbeta = -(Q[:, :, None] * (coef[:, None] * resid)[:, None, :])  # (ns, k, m)
    # --- logit and its deletions --------------------------------------------------------
    ps_full, H_inv = _logit(X, D, w)
    gamma = _logit_coef(X, ps_full)
    Gam = _logit_deletions(X, D, w, gamma, ps_full, H_inv)  # (ns, k)
    # --- full-sample ATT --------------------------------------------------------------
    att, _ = zip(*(_did_2x2("dr", DY[:, j], D, X, w, (ps_full, H_inv), None) for j in range(DY.shape[1])))
    att = np.array(att)
    # --- deleted ATTs ----------------------------------------------------------------
    wt = w * treat
    S_T = X.T @ wt  # (k,)
    A_T = wt @ DY  # (m,)
    W_T = wt.sum()
    # treated part: sum_{j in T, j != i} w_j (dy_j - x_j' beta_(i))
    beta_i = beta[None, :, :] + dbeta  # (ns, k, m)
    num_T = A_T[None, :] - np.einsum("k,ikm->im", S_T, beta_i)
    own = wt[:, None] * (DY - np.einsum("ik,ikm->im", X, beta_i))  # the unit's own term if treated
    num_T = num_T - own
    den_T = W_T - wt
    # comparison part: odds weights under gamma_(i), unit i removed
    cidx = np.flatnonzero(ctrl)
    Xc, wcc, DYc = X[cidx], w[cidx], DY[cidx]
    num_C = np.empty((ns, DY.shape[1]))
    den_C = np.empty(ns)
    step = max(1, CHUNK // max(len(cidx), 1))
    for s in range(0, ns, step):
        rows = slice(s, s + step)
        ps = 1.0 / (1.0 + np.exp(-(Gam[rows] @ Xc.T)))  # (r, nc)
        ps = np.minimum(ps, 1 - 1e-6)
        odds = np.where(ps < TRIM_LEVEL, ps / (1 - ps), 0.0) * wcc[None, :]
        r_ids = np.arange(s, min(s + step, ns))
        self_c = np.searchsorted(cidx, r_ids)
        is_c = ctrl[r_ids]
        odds[np.flatnonzero(is_c), self_c[is_c]] = 0.0  # the deleted unit
        den_C[rows] = odds.sum(1)
        OX = odds @ Xc  # (r, k)
        num_C[rows] = odds @ DYc - np.einsum("rk,rkm->rm", OX, beta_i[rows])
    with np.errstate(invalid="ignore", divide="ignore"):  # deleting a cohort's only firm: NaN
        att_loo = num_T / den_T[:, None] - num_C / den_C[:, None]
    return att, att_loo


def _logit_coef(X, ps):
    """Coefficients of the fitted logit from its probabilities (exact: X has full column rank)."""
    eta = np.log(ps / (1 - ps))
    return np.linalg.lstsq(X, eta, rcond=None)[0]


_DELETIONS_KEPT = 8
_deletions_memo: OrderedDict[bytes, np.ndarray] = OrderedDict()


def _logit_deletions(X, D, w, gamma, ps, H_inv):
    """Logit MLE without each unit (rows), by vectorised Newton from the one-step approximation.

    The result depends only on ``(X, D, w)`` (``gamma, ps, H_inv`` are their full-sample fit),
    and the outcomes of one study often share a 2x2 sample: the last ``_DELETIONS_KEPT``
    results are kept by a digest of those arrays and returned read-only."""
    key = hashlib.sha256(b"".join(np.ascontiguousarray(a, dtype=float).tobytes() for a in (X, D, w))
                         + repr(X.shape).encode()).digest()
    if key in _deletions_memo:
        _deletions_memo.move_to_end(key)
        return _deletions_memo[key]
    Gam = _newton_deletions(X, D, w, gamma, ps, H_inv)
    Gam.flags.writeable = False
    _deletions_memo[key] = Gam
    if len(_deletions_memo) > _DELETIONS_KEPT:
        _deletions_memo.popitem(last=False)
    return Gam


def _newton_deletions(X, D, w, gamma, ps, H_inv):
    ns, k = X.shape
    if k == 1:  # intercept only: closed form
        tot_w, tot_d = w.sum(), (w * D).sum()
        p = (tot_d - w * D) / (tot_w - w)
        return np.log(p / (1 - p))[:, None]
    v = w * ps * (1 - ps)
    h = v * np.einsum("ij,jk,ik->i", X, H_inv, X)
    Gam = gamma[None, :] - (X @ H_inv) * (w * (D - ps) / (1 - h))[:, None]
    XX = (X[:, :, None] * X[:, None, :]).reshape(ns, k * k)  # x_j x_j' as rows: Hessians by one product
    step = max(1, CHUNK // ns)
    for s in range(0, ns, step):
        rows = np.arange(s, min(s + step, ns))
        Gr = Gam[rows]
        for _ in range(NEWTON_MAX_ITER):
            # P = 1 / (1 + exp(-G X')), R = w (D - P), V = (w P)(1 - P), each operation as written but
            # in place where a block is not needed again: the same values with fewer passes over memory
            P = Gr @ X.T  # (r, ns)
            np.exp(np.negative(P, out=P), out=P)
            P += 1.0
            np.divide(1.0, P, out=P)
            R = np.subtract(D[None, :], P)
            R *= w[None, :]
            R[np.arange(len(rows)), rows] = 0.0
            V = np.multiply(w[None, :], P)
            V *= np.subtract(1.0, P, out=P)
            V[np.arange(len(rows)), rows] = 0.0
            grad = R @ X  # (r, k)
            hess = (V @ XX).reshape(len(rows), k, k)
            delta = np.linalg.solve(hess, grad[:, :, None])[:, :, 0]
            Gr = Gr + delta
            if np.max(np.abs(delta)) <= NEWTON_TOL * (1 + np.max(np.abs(Gr))):
                break
        Gam[rows] = Gr
    return Gam
