"""The two calls of the synthetic data (``applications.csv``): who applies, how
applicants form projects, merit scores and the funding threshold, project dates,
costs and grants, calibrated exactly to the published figures of each call."""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation.data import programme
from evaluation.data.contract import NO_POLE
from evaluation.data.synthetic.firms import choice
from evaluation.data.synthetic.parameters import (
    CALL_YEAR,
    GRANT_RATE,
    POLE_WEIGHTS,
    PROJECT_SIZE_RANGE,
    SECTOR_POLE,
    SIZE_RANK,
    START_YEAR_P,
    START_YEARS,
    UNFUNDED_EXTRA_POISSON,
    is_knowledge_intensive,
)


def _largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Integers proportional to ``weights`` summing exactly to ``total``."""
    w = np.asarray(weights, dtype=float)
    raw = total * w / w.sum()
    base = np.floor(raw).astype(np.int64)
    rest = int(total - base.sum())
    if rest:
        order = np.lexsort((np.arange(len(w)), -(raw - base)))
        base[order[:rest]] += 1
    return base


def _sizes_summing(rng, n: int, total: int, lo: int, hi: int, lam: float) -> np.ndarray:
    sizes = np.clip(lo + rng.poisson(lam, n), lo, hi)
    while sizes.sum() != total:
        if sizes.sum() > total:
            cand = np.flatnonzero(sizes > lo)
            sizes[rng.choice(cand)] -= 1
        else:
            cand = np.flatnonzero(sizes < hi)
            sizes[rng.choice(cand)] += 1
    return sizes


def _water_fill(total: int, weights: np.ndarray, caps: np.ndarray) -> np.ndarray:
    """Integers summing to ``total``, roughly proportional to ``weights``, each
    ``<= caps``."""
    w = np.asarray(weights, dtype=float)
    caps = np.asarray(caps, dtype=np.int64)
    if total > caps.sum():
        raise ValueError("grants exceed the sum of the caps")
    fixed = np.zeros(len(w), dtype=bool)
    x = np.zeros(len(w))
    for _ in range(len(w) + 1):
        room = total - caps[fixed].sum()
        x = np.where(fixed, caps, room * w / w[~fixed].sum())
        over = ~fixed & (x > caps)
        if not over.any():
            break
        fixed |= over
    g = np.minimum(np.floor(x).astype(np.int64), caps)
    rest = int(total - g.sum())
    frac = x - np.floor(x)
    order = np.lexsort((np.arange(len(w)), -frac))
    for i in order:
        if rest == 0:
            break
        if g[i] < caps[i]:
            g[i] += 1
            rest -= 1
    while rest:  # pragma: no cover - only with extreme caps
        i = int(np.argmax(caps - g))
        step = min(rest, int(caps[i] - g[i]))
        g[i] += step
        rest -= step
    return g


def _select_applicants(rng, firms: pd.DataFrame, eligible: np.ndarray, n: int) -> np.ndarray:
    f = firms[eligible]
    logw = (
        0.7 * f["alpha"].to_numpy()
        + f["size_class"].map({"micro": -0.9, "small": -0.2, "medium": 0.3, "large": 0.6}).to_numpy()
        + 0.5 * is_knowledge_intensive(f["ateco"].to_numpy())
        + 0.3 * (f["province"].to_numpy() == "TO")
    )
    key = logw + rng.gumbel(size=len(f))
    top = np.argsort(-key, kind="stable")[:n]
    return f.index.to_numpy()[np.sort(top)]


def _form_projects(rng, firms: pd.DataFrame, idx: np.ndarray, sizes: np.ndarray) -> list[np.ndarray]:
    """Split the firms ``idx`` into projects of the given sizes, each with an SME."""
    ftype = firms["firm_type"].to_numpy()[idx]
    pole = firms["pole"].to_numpy()
    smes = rng.permutation(idx[ftype == "SME"])
    if len(smes) < len(sizes):
        raise RuntimeError("not enough SMEs to give every project one")
    seeds = smes[: len(sizes)]
    rest = rng.permutation(np.concatenate([smes[len(sizes):], idx[ftype == "large"]]))
    pole_rank = {p: i for i, p in enumerate(programme.POLES + (NO_POLE,))}
    # rough pole coherence: projects ordered by their SME's pole, fillers by pole
    seed_order = np.argsort([pole_rank[pole[s]] for s in seeds], kind="stable")
    rest = rest[np.argsort([pole_rank[pole[r]] for r in rest], kind="stable")]
    projects: list[np.ndarray | None] = [None] * len(sizes)
    pos = 0
    for k in seed_order:
        extra = sizes[k] - 1
        projects[k] = np.concatenate([[seeds[k]], rest[pos: pos + extra]]).astype(np.int64)
        pos += extra
    assert pos == len(rest)
    return projects  # type: ignore[return-value]


def _dates(rng, line: str, n: int, funded: bool) -> tuple[np.ndarray, np.ndarray]:
    y0, y1 = START_YEARS[line]
    years = np.where(rng.random(n) < START_YEAR_P[line][0], y0, y1)
    months = rng.integers(1, 13, n)
    dur = rng.integers(18 if funded else 12, programme.MAX_PROJECT_MONTHS + 1, n)
    start = pd.to_datetime({"year": years, "month": months, "day": np.ones(n, dtype=int)})
    end = pd.Series(
        [s + pd.DateOffset(months=int(d)) - pd.Timedelta(days=1) for s, d in zip(start, dur)]
    )
    return start.to_numpy(dtype="datetime64[ns]"), end.to_numpy(dtype="datetime64[ns]")


def make_applications(rng, firms: pd.DataFrame, line: str, eligible: np.ndarray) -> pd.DataFrame:
    """The applications to call ``line`` (``A`` or ``B``) from the ``eligible`` firms: one
    row per applicant firm, with its row number in ``firms`` as ``_row``."""
    call = programme.CALLS[line]
    n_f, n_sub = int(call["funded"]), int(call["submitted"])
    n_u = n_sub - n_f
    lo, hi = PROJECT_SIZE_RANGE[line]
    firms_f = int(call["firms_in_funded"])
    sizes_f = _sizes_summing(rng, n_f, firms_f, lo, hi, firms_f / n_f - lo)
    sizes_u = np.clip(lo + rng.poisson(UNFUNDED_EXTRA_POISSON[line], n_u), lo, hi)
    n_app = int(sizes_f.sum() + sizes_u.sum())
    apps = _select_applicants(rng, firms, eligible, n_app)

    a = firms.loc[apps]
    q = (
        0.8 * a["alpha"].to_numpy()
        + 0.15 * a["size_class"].map(SIZE_RANK).to_numpy()
        + 0.6 * rng.standard_normal(n_app)
    )
    order = np.argsort(-q, kind="stable")
    top, bottom = apps[order[:firms_f]], apps[order[firms_f:]]
    qs = np.full(len(firms), np.nan)
    qs[apps] = q
    cut = 0.5 * (qs[top].min() + qs[bottom].max())
    col = {c: firms[c].to_numpy() for c in ("firm_id", "firm_type", "pole", "ateco", "emp0", "size_class")}

    rows = []
    groups = [(True, g) for g in _form_projects(rng, firms, top, sizes_f)] + [
        (False, g) for g in _form_projects(rng, firms, bottom, sizes_u)
    ]
    rng_order = rng.permutation(len(groups))
    pid = {k: f"{line}-{CALL_YEAR[line]}-{j + 1:03d}" for j, k in enumerate(rng_order)}

    # project totals
    funded_mask = np.array([f for f, _ in groups])
    n_per = np.array([len(g) for _, g in groups])
    has_large = np.array([(col["firm_type"][g] == "large").any() for _, g in groups])
    mult = n_per * np.exp(0.5 * rng.standard_normal(len(groups))) * (1 + 0.5 * has_large)
    total = np.zeros(len(groups), dtype=np.int64)
    inv_total = int(call["investment_eur"])
    extra_f = inv_total - programme.MIN_PROJECT_COST_EUR * n_f
    total[funded_mask] = programme.MIN_PROJECT_COST_EUR + _largest_remainder(extra_f, mult[funded_mask])
    mean_extra = extra_f / mult[funded_mask].sum()
    total[~funded_mask] = programme.MIN_PROJECT_COST_EUR + np.round(mean_extra * mult[~funded_mask]).astype(np.int64)

    s_f, e_f = _dates(rng, line, n_f, True)
    s_u, e_u = _dates(rng, line, n_u, False)
    starts = np.empty(len(groups), dtype="datetime64[ns]")
    ends = np.empty(len(groups), dtype="datetime64[ns]")
    starts[funded_mask], ends[funded_mask] = s_f, e_f
    starts[~funded_mask], ends[~funded_mask] = s_u, e_u

    for k, (funded, g) in enumerate(groups):
        emp = col["emp0"][g]
        w = emp**0.4 * np.exp(0.3 * rng.standard_normal(len(g)))
        inv = _largest_remainder(int(total[k]), w)
        lead = int(np.lexsort((col["firm_id"][g], -inv))[0])
        if line == "A":
            pole = col["pole"][g[lead]]
        else:
            pole = SECTOR_POLE.get(col["ateco"][g[lead]]) or choice(rng, POLE_WEIGHTS, 1)[0]
        score = float(np.clip(60 + 12 * (qs[g].mean() - cut), 0, 100))
        score = max(round(score, 2), 60.0) if funded else min(round(score, 2), 59.99)
        for j, fi in enumerate(g):
            rows.append(
                {
                    "project_id": pid[k], "line": line, "pole": pole, "call_year": CALL_YEAR[line],
                    "firm_id": col["firm_id"][fi], "role": "lead" if j == lead else "partner",
                    "score": score, "funded": funded, "investment_eur": int(inv[j]),
                    "grant_eur": 0, "start_date": starts[k], "end_date": ends[k], "_row": fi,
                }
            )
    df = pd.DataFrame(rows)
    fm = df["funded"].to_numpy()
    size = col["size_class"][df.loc[fm, "_row"].to_numpy()]
    rate = np.array([GRANT_RATE[s] for s in size]) * np.exp(0.05 * rng.standard_normal(fm.sum()))
    inv = df.loc[fm, "investment_eur"].to_numpy(dtype=np.int64)
    caps = inv * 6 // 10  # floor(0.6 * cost), exact in integers
    df.loc[fm, "grant_eur"] = _water_fill(int(call["grants_eur"]), rate * inv, caps)
    return df

