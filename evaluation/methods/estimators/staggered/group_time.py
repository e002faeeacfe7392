"""``att_gt``: the group-time ATT(g,t) cells and their influence functions, as R ``did``.

Each 2x2 returns its influence function; as in ``did`` it is scaled by ``n / n1`` (all
units over the units of the 2x2) and stored per unit, ``n x k``, kept per sample
(:class:`.SampleInfluence`: a column is zero outside its 2x2's units).

Unbalanced panels: each 2x2 (g, t) with base period b stacks the N observations of the
units of cohort g and of the comparison units in periods t and b, ``post = 1[period
= t]``, and applies DRDID's repeated-cross-section estimators, as ``did`` does
(internally ``panel = FALSE`` with the unit id kept). The influence function of a
2x2 is computed per observation, multiplied by ``n / N`` (n = units in the sample, N =
observations in the 2x2: ``did``'s ``n/n1`` with n1 counted in observations) and
summed within units (``did``'s aggregation by id), so ``influence`` stays ``n x k``
and standard errors, ``aggte`` (group shares over units), clustering, the bootstrap
and the pre-test are unchanged. Cells without group or comparison observations in
either period are NaN, as in R.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from evaluation.methods.estimators.staggered.cross_section_2x2 import _CellProblem, _did_rc, _rc_problem
from evaluation.methods.estimators.staggered.inference import (
    MultiplierDraws,
    SampleInfluence,
    _bootstrap,
    _intervals,
    _multiplier_draws,
    _pretest,
)
from evaluation.methods.estimators.staggered.panel_2x2 import _did_2x2, _sample_problem
from evaluation.methods.estimators.staggered.preparation import _Long, _prepare, _prepare_unbalanced
from evaluation.methods.estimators.staggered.results import AttGtResult, StaggeredWarning


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
    ``"dr"``, ``"ipw"`` or ``"reg"`` (:mod:`.panel_2x2`, for unbalanced panels
    :mod:`.cross_section_2x2`). ``base_period``: ``"varying"`` (pre-periods compare t
    with t-1) or ``"universal"`` (always g - 1 - anticipation; that cell is reported as 0). Covariates are taken in the earlier of
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
            rows, dense = _unbalanced_cells(prepared, method, control, base_period, anticipation)
            IF = SampleInfluence(len(prepared.G), dense.shape[1])
            IF.add(np.arange(len(prepared.G)), range(dense.shape[1]), dense)  # one block: all units
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
    IF = SampleInfluence(n, len(cells))
    rows: list = [None] * len(cells)

    def sample_key(j):
        """Cells with the same key share their units, propensity score and regression."""
        g, c, b, threshold = cells[j]
        x_period = None if panel.X is None else (0 if panel.x_invariant else min(c, b))
        return g, "never" if control == "never" else threshold, x_period

    # Cells come group by group; a run of cells with the same sample is estimated at once.
    for (g, _, x_period), run in itertools.groupby(range(len(cells)), key=sample_key):
        run = list(run)
        estimated = []
        for j in run:
            _, c, b, threshold = cells[j]
            rows[j] = (g, tlist[c], 0.0, bool(g <= tlist[c]))
            if b != c:  # b == c: universal base period, the reference cell, normalised to 0
                estimated.append(j)
        if not estimated:
            continue
        threshold = cells[estimated[0]][3]
        D_full = G == g
        control_units = never if control == "never" else never | ((G > threshold) & ~D_full)
        idx = np.flatnonzero(D_full | control_units)
        D = D_full[idx].astype(float)
        ws = w[idx] / w[idx].mean()
        X = np.ones((len(idx), 1)) if panel.X is None else panel.X[x_period][idx]
        entry: dict = {}
        problem = _sample_problem(method, X, D, ws, entry)
        if problem:
            for j in estimated:
                c = cells[j][1]
                warnings.warn(f"att_gt: {problem} for group {_fmt(g)} in period {_fmt(tlist[c])}; "
                              "ATT is NaN", StaggeredWarning, stacklevel=2)
                rows[j] = (g, tlist[c], np.nan, rows[j][3])
            IF.add(np.arange(n), estimated, np.full((n, len(estimated)), np.nan))
            continue
        current = [cells[j][1] for j in estimated]
        base = [cells[j][2] for j in estimated]
        dY = Y[np.ix_(idx, current)] - Y[np.ix_(idx, base)]
        att, inf = _did_2x2(method, dY, D, X, ws, entry.get("pscore"), entry.get("ols"))
        inf *= n / len(idx)
        IF.add(idx, estimated, inf)
        for k, j in enumerate(estimated):
            rows[j] = (g, tlist[cells[j][1]], float(att[k]), rows[j][3])

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
    se = IF.analytic_se(panel.cluster)
    crit = stats.norm.ppf(1 - alpha / 2)
    extra: dict[str, Any] = {}
    multiplier = None
    if n_boot > 0:
        # the draws of the group shares (weights of cohort g's units) too, for aggte
        with_shares = SampleInfluence(n, IF.shape[1] + len(panel.glist))
        with_shares.blocks = list(IF.blocks)
        for m, g in enumerate(panel.glist):
            members = np.flatnonzero(G == g)
            with_shares.add(members, [IF.shape[1] + m], w[members, None])
        draws = _multiplier_draws(with_shares, panel.cluster, int(n_boot), seed)
        multiplier = MultiplierDraws(int(n_boot), seed, draws[:, : IF.shape[1]], draws[:, IF.shape[1] :])
        se, crit = _bootstrap(multiplier.cells, alpha)
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
        cluster=cluster, vcov=None, alpha=alpha, extra=extra, sample_influence=IF, multiplier=multiplier,
        units=panel.units,
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


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _num(v):
    v = float(v)
    return int(v) if v.is_integer() else v
