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
    _analytic_se,
    _bootstrap,
    _intervals,
    _multiplier_draws,
)
from evaluation.methods.estimators.staggered.results import AggteResult, AttGtResult
from evaluation.methods.results import to_plain


def _weights_if(keepers, pg, w_ind, G, group, att):
    """did's ``wif`` times the kept ATTs: influence of estimating the shares in pg/sum(pg).

    did's n x k matrix ``wif = ind / s - ind.sum(1) pk' / s^2`` with
    ``ind[i, k] = w_i 1[G_i = g_k] - pg_k``, ``pk = pg[keepers]``, ``s = sum(pk)``, is only
    used as ``wif @ a``; the pg_k terms cancel there, leaving
    ``w_i (c(G_i) / s - m(G_i) (pk'a) / s^2)`` with c(g) the sum of the a_k and m(g) the
    number of kept cells of group g: O(n), no n x k matrix.
    """
    pk, a, cells = pg[keepers], att, group[keepers]
    s = pk.sum()
    per_unit = np.zeros(len(G))
    for g in np.unique(cells):
        in_g = cells == g
        per_unit[G == g] = a[in_g].sum() / s - in_g.sum() * (pk @ a) / s**2
    return w_ind * per_unit


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

    def combine(which, weights, with_wif=True):
        """Weighted average of the cells ``which`` and its influence function (plus ``wif``)."""
        inf = IF_all.combine(which, weights)
        if with_wif:
            inf += _weights_if(which, pg, w_ind, G, group, att[which])
        return float(att[which] @ weights), inf

    keys: list = []
    estimates: list[float] = []
    infs: list[np.ndarray] = []
    if kind == "simple":
        keepers = np.flatnonzero((group <= t) & (t - group <= max_e) & ok)
        est, inf = combine(keepers, pg[keepers] / pg[keepers].sum())
        overall_att, overall_inf = est, inf
        keys, estimates, infs = ["ATT"], [est], [inf]
    elif kind == "group":
        for g in glist:
            which = np.flatnonzero((group == g) & (g <= t) & (t - group <= max_e) & ok)
            est, inf = combine(which, pg[which] / pg[which].sum(), with_wif=False)
            keys.append(_num(g)); estimates.append(est); infs.append(inf)
        att_g = np.array(estimates)
        inf_g = np.column_stack(infs)
        weights = pg_groups / pg_groups.sum()
        overall_att = float(att_g @ weights)
        overall_inf = inf_g @ weights + _weights_if(np.arange(len(glist)), pg_groups, w_ind, G, glist, att_g)
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
            est, inf = combine(which, pg[which] / pg[which].sum())
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
            est, inf = combine(which, pg[which] / pg[which].sum())
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
        draws, overall_draws = _multiplier_draws([inf_rows, overall_inf[:, None]], cl, int(n_boot), seed)
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


def _term(kind: str, key) -> str:
    """Row names: ``"ATT"`` (simple), ``"g=2004"``, ``"e=-1"``, ``"t=2005"``."""
    prefix = {"group": "g", "dynamic": "e", "calendar": "t"}
    return "ATT" if kind == "simple" else f"{prefix[kind]}={key}"
