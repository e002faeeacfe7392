"""``aggte``: aggregations of the ATT(g,t), as R ``did::aggte``.

``aggte`` forms the influence function of each aggregate, adding the term for the
estimated group shares (``did``'s ``wif``). Formulas and conventions:
``docs/estimators.md``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from evaluation.methods.estimators.staggered.group_time import _num
from evaluation.methods.estimators.staggered.inference import (
    SampleInfluence,
    _analytic_se,
    _bootstrap,
    _intervals,
    _multiplier_draws,
)
from evaluation.methods.estimators.staggered.results import AggteResult, AttGtResult
from evaluation.methods.results import to_plain


def _share_terms(keepers, pg, group, att, glist):
    """did's ``wif`` times the kept ATTs, as one coefficient per group of ``glist``: the
    influence of estimating the shares in pg/sum(pg) is ``w_i f(G_i)`` (0 for the never treated).

    did's n x k matrix ``wif = ind / s - ind.sum(1) pk' / s^2`` with
    ``ind[i, k] = w_i 1[G_i = g_k] - pg_k``, ``pk = pg[keepers]``, ``s = sum(pk)``, is only
    used as ``wif @ a``; the pg_k terms cancel there, leaving
    ``f(g) = c(g) / s - m(g) (pk'a) / s^2`` with c(g) the sum of the a_k and m(g) the
    number of kept cells of group g: O(n), no n x k matrix.
    """
    pk, a, cells = pg[keepers], att, group[keepers]
    s = pk.sum()
    f = np.zeros(len(glist))
    for g in np.unique(cells):
        in_g = cells == g
        f[np.searchsorted(glist, g)] = a[in_g].sum() / s - in_g.sum() * (pk @ a) / s**2
    return f


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
    if result.sample_influence is None:
        raise ValueError("aggte: the result carries no influence functions (use att_gt's result)")
    table = result.table
    group = table["group"].to_numpy(float)
    t = table["time"].to_numpy(float)
    att_all = table["att"].to_numpy(float)
    ok = np.isfinite(att_all)
    IF_all = result.sample_influence
    G, w_ind, cl = result.unit_cohort, result.unit_weights, result.unit_cluster
    n = IF_all.shape[0]
    min_e = -np.inf if min_e is None else min_e
    max_e = np.inf if max_e is None else max_e
    glist = np.array(result.extra["groups"], float)
    pg_groups = np.array([np.mean(w_ind * (G == g)) for g in glist])
    pg = pg_groups[np.searchsorted(glist, group)]
    att = np.where(ok, att_all, 0.0)

    k = len(group)
    unit_group = np.searchsorted(glist, G)  # the position of each unit's group; len(glist): never
    unit_group[(unit_group < len(glist)) & (glist[np.minimum(unit_group, len(glist) - 1)] != G)] = len(glist)

    def per_unit(f):
        """The share term ``w_i f(G_i)`` of the units (0 for the never treated)."""
        return w_ind * np.append(f, 0.0)[unit_group]

    def combine(which, weights, with_wif=True):
        """Weighted average of the cells ``which``, its influence function (plus ``wif``) and
        that function's coefficients: ``IF @ m + w f(G)``."""
        inf = IF_all.combine(which, weights)
        m, f = np.zeros(k), np.zeros(len(glist))
        m[which] = weights
        if with_wif:
            f = _share_terms(which, pg, group, att[which], glist)
            inf += per_unit(f)
        return float(att[which] @ weights), inf, (m, f)

    keys: list = []
    estimates: list[float] = []
    infs: list[np.ndarray] = []
    coefs: list[tuple[np.ndarray, np.ndarray]] = []
    if kind == "simple":
        keepers = np.flatnonzero((group <= t) & (t - group <= max_e) & ok)
        est, inf, coef = combine(keepers, pg[keepers] / pg[keepers].sum())
        overall_att, overall_inf, overall_coef = est, inf, coef
        keys, estimates, infs, coefs = ["ATT"], [est], [inf], [coef]
    elif kind == "group":
        for g in glist:
            which = np.flatnonzero((group == g) & (g <= t) & (t - group <= max_e) & ok)
            est, inf, coef = combine(which, pg[which] / pg[which].sum(), with_wif=False)
            keys.append(_num(g)); estimates.append(est); infs.append(inf); coefs.append(coef)
        att_g = np.array(estimates)
        inf_g = np.column_stack(infs)
        weights = pg_groups / pg_groups.sum()
        overall_att = float(att_g @ weights)
        f_groups = _share_terms(np.arange(len(glist)), pg_groups, glist, att_g, glist)
        overall_inf = inf_g @ weights + per_unit(f_groups)
        overall_coef = (np.column_stack([m for m, _ in coefs]) @ weights,
                        np.column_stack([f for _, f in coefs]) @ weights + f_groups)
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
            est, inf, coef = combine(which, pg[which] / pg[which].sum())
            keys.append(_num(e)); estimates.append(est); infs.append(inf); coefs.append(coef)
        positive = eseq >= 0
        att_e = np.array(estimates)
        inf_e = np.column_stack(infs) if infs else np.zeros((n, 0))
        overall_att = float(att_e[positive].mean()) if positive.any() else float("nan")
        overall_inf = inf_e[:, positive].mean(1) if positive.any() else np.zeros(n)
        overall_coef = _mean_coef([c for c, keep in zip(coefs, positive) if keep], k, len(glist))
    else:  # calendar
        periods = np.unique(t)
        periods = periods[periods >= group.min()]
        for period in periods:
            which = np.flatnonzero((t == period) & (group <= t) & ok)
            est, inf, coef = combine(which, pg[which] / pg[which].sum())
            keys.append(_num(period)); estimates.append(est); infs.append(inf); coefs.append(coef)
        att_t = np.array(estimates)
        overall_att = float(att_t.mean())
        overall_inf = np.column_stack(infs).mean(1)
        overall_coef = _mean_coef(coefs, k, len(glist))

    inf_rows = np.column_stack(infs)
    se = _analytic_se(inf_rows, cl)
    overall_se = float(_analytic_se(overall_inf[:, None], cl)[0])
    crit = stats.norm.ppf(1 - result.alpha / 2)
    extra: dict[str, Any] = {"kind": kind, "min_e": to_plain(min_e), "max_e": to_plain(max_e),
                             "balance_e": balance_e}
    pw_low, pw_high, p = _intervals(np.array(estimates), se, crit)
    if n_boot > 0:
        M = np.column_stack([m for m, _ in coefs] + [overall_coef[0]])
        F = np.column_stack([f for _, f in coefs] + [overall_coef[1]])
        all_draws = _aggregate_draws(result, np.column_stack([inf_rows, overall_inf]), M, F, int(n_boot), seed)
        draws, overall_draws = all_draws[:, :-1], all_draws[:, -1:]
        se, band = _bootstrap(draws, result.alpha)
        overall_se = float(_bootstrap(overall_draws, result.alpha)[0][0])
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


def _mean_coef(coefs, k: int, n_groups: int):
    """The coefficients ``(m, f)`` of the mean of the influence functions of ``coefs``."""
    if not coefs:
        return np.zeros(k), np.zeros(n_groups)
    return np.mean([m for m, _ in coefs], axis=0), np.mean([f for _, f in coefs], axis=0)


def _aggregate_draws(result: AttGtResult, inf: np.ndarray, M: np.ndarray, F: np.ndarray, n_boot: int, seed):
    """Multiplier draws of the aggregates' influence functions ``inf = IF @ M + w F(G)``.

    When ``att_gt`` drew with the same ``n_boot`` and integer seed, the signs would be the
    same, and the draws are linear in the influence function: they are its draws of the
    ATT(g,t) times ``M`` plus its draws of the group shares times ``F``, without drawing again.
    """
    boot = result.multiplier
    if boot is not None and boot.n_boot == n_boot and isinstance(seed, (int, np.integer)) and boot.seed == seed:
        cells = np.flatnonzero((M != 0).any(1))  # the draws of a cell left out (NaN) are not used
        return boot.cells[:, cells] @ M[cells] + boot.shares @ F
    stacked = SampleInfluence(*inf.shape)
    stacked.add(np.arange(inf.shape[0]), range(inf.shape[1]), inf)
    return _multiplier_draws(stacked, result.unit_cluster, n_boot, seed)


def _term(kind: str, key) -> str:
    """Row names: ``"ATT"`` (simple), ``"g=2004"``, ``"e=-1"``, ``"t=2005"``."""
    prefix = {"group": "g", "dynamic": "e", "calendar": "t"}
    return "ATT" if kind == "simple" else f"{prefix[kind]}={key}"
