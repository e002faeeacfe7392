"""Goodman-Bacon (2021) decomposition of the TWFE DiD coefficient into 2x2 comparisons."""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation.methods.estimators import _panel
from evaluation.methods.results import EstimationResult


def bacon(data: pd.DataFrame, y: str, unit: str, time: str, cohort: str) -> EstimationResult:
    """Decompose the TWFE coefficient of ``D_it = 1[t >= cohort_i]`` (Goodman-Bacon 2021, Thm 1).

    Needs a balanced panel. Timing groups: cohorts inside the sample; ``cohort`` 0,
    missing or after the last period is the untreated group ``U``; cohorts at or before
    the first period are ``always`` treated. The comparisons and their weights
    (``V`` the variance of the two-way demeaned ``D``, ``n`` group shares of units,
    ``Dbar`` the share of periods a group is treated, ``n_kl = n_k / (n_k + n_l)``):

    * ``treated vs never`` (k vs U): ``(n_k+n_U)^2 n_kU(1-n_kU) Dbar_k(1-Dbar_k) / V``
    * ``earlier vs later`` (k treated before l, periods before l):
      ``((n_k+n_l)(1-Dbar_l))^2 n_kl(1-n_kl) (Dbar_k-Dbar_l)/(1-Dbar_l) (1-Dbar_k)/(1-Dbar_l) / V``
    * ``later vs earlier`` (l vs already treated k, periods from k on):
      ``((n_k+n_l) Dbar_k)^2 n_kl(1-n_kl) (Dbar_l/Dbar_k) (Dbar_k-Dbar_l)/Dbar_k / V``
      (``always``-treated units act as k with ``Dbar_k = 1``).

    The table (one row per comparison) has ``estimate`` (the 2x2 DiD of group means),
    ``weight``, ``type``, ``treated``, ``control``; weights sum to 1 and
    ``sum(weight * estimate)`` equals the TWFE coefficient (``extra["twfe"]``).
    """
    if cohort not in data.columns:
        raise ValueError(f"bacon: column {cohort!r} not in the data")
    frame = _panel.complete_rows(data, [y, unit, time], "bacon")
    _panel.check_unique_pairs(frame, unit, time)
    u, units = pd.factorize(frame[unit], sort=True)
    tc, periods = pd.factorize(frame[time], sort=True)
    N, T = len(units), len(periods)
    if len(frame) != N * T:
        raise ValueError(f"bacon: needs a balanced panel; {N} units x {T} periods but {len(frame)} rows")
    Y = np.empty((N, T))
    Y[u, tc] = frame[y].to_numpy(float)
    Gw = np.empty((N, T))
    Gw[u, tc] = frame[cohort].fillna(0).to_numpy(float)
    if np.any(Gw != Gw[:, :1]):
        bad = units[np.any(Gw != Gw[:, :1], axis=1)]
        raise ValueError(f"bacon: column {cohort!r} must be constant within a unit; units {_panel._few(bad)} are not")
    G = Gw[:, 0]
    tv = np.asarray(periods, float)
    G = np.where(G > tv[-1], 0.0, G)
    D = (G[:, None] > 0) & (tv[None, :] >= G[:, None])
    Dd = D.astype(float)
    if not np.any(Dd.std(axis=0) > 0) or Dd.min() == Dd.max():
        raise ValueError("bacon: the treatment does not vary")
    D_tilde = Dd - Dd.mean(1, keepdims=True) - Dd.mean(0, keepdims=True) + Dd.mean()
    V = np.mean(D_tilde**2)

    groups = {}
    for key in np.unique(G):
        members = G == key
        if key == 0:
            name = "never"
        elif key <= tv[0]:
            name = "always"
        else:
            name = f"{key:g}"
        prev = groups.get(name)
        members = members if prev is None else members | prev["members"]
        groups[name] = {"members": members, "share": members.mean(), "dbar": Dd[members][0].mean(),
                        "mean": Y[members].mean(0), "start": key if name not in ("never", "always") else None}

    def did(treat, ctrl, pre, post):
        a, b = groups[treat]["mean"], groups[ctrl]["mean"]
        return (a[post].mean() - a[pre].mean()) - (b[post].mean() - b[pre].mean())

    rows = []
    timing = sorted((g for g in groups if groups[g]["start"] is not None), key=lambda g: groups[g]["start"])
    for k in timing:
        gk = groups[k]
        nk, dk = gk["share"], gk["dbar"]
        post_k = tv >= gk["start"]
        if "never" in groups:
            nu = groups["never"]["share"]
            s = (nk + nu) ** 2 * (nk / (nk + nu)) * (nu / (nk + nu)) * dk * (1 - dk) / V
            rows.append(("treated vs never", k, "never", did(k, "never", ~post_k, post_k), s))
        for l in timing:
            gl = groups[l]
            if gl["start"] <= gk["start"]:
                continue
            nl, dl = gl["share"], gl["dbar"]
            nkl = nk / (nk + nl)
            post_l = tv >= gl["start"]
            window = ~post_l
            s = ((nk + nl) * (1 - dl)) ** 2 * nkl * (1 - nkl) * ((dk - dl) / (1 - dl)) * ((1 - dk) / (1 - dl)) / V
            rows.append(("earlier vs later", k, l, did(k, l, window & ~post_k, window & post_k), s))
            s = ((nk + nl) * dk) ** 2 * nkl * (1 - nkl) * (dl / dk) * ((dk - dl) / dk) / V
            rows.append(("later vs earlier", l, k, did(l, k, post_k & ~post_l, post_l), s))
        if "always" in groups:
            na = groups["always"]["share"]
            nal = na / (na + nk)
            s = (na + nk) ** 2 * nal * (1 - nal) * dk * (1 - dk) / V
            rows.append(("later vs always", k, "always", did(k, "always", ~post_k, post_k), s))
    comp = pd.DataFrame(rows, columns=["type", "treated", "control", "estimate", "weight"])
    comp.index = pd.Index([f"{t} vs {c}" for t, c in zip(comp["treated"], comp["control"])], name="term")
    nan = np.full(len(comp), np.nan)
    table = pd.DataFrame({"estimate": comp["estimate"], "se": nan, "ci_low": nan, "ci_high": nan, "p": nan,
                          "df": nan, "weight": comp["weight"], "type": comp["type"], "treated": comp["treated"],
                          "control": comp["control"]})
    twfe_coef = float(np.sum(comp["weight"] * comp["estimate"]))
    by_type = comp.groupby("type", sort=False).apply(
        lambda d: {"weight": float(d["weight"].sum()),
                   "estimate": float(np.sum(d["weight"] * d["estimate"]) / d["weight"].sum())},
        include_groups=False,
    ).to_dict()
    extra = {"twfe": twfe_coef, "weight_sum": float(comp["weight"].sum()), "by_type": by_type,
             "variance_of_demeaned_D": float(V)}
    return EstimationResult(table=table, nobs=N * T, vcov_type="none", estimator="bacon", y=y, extra=extra)
