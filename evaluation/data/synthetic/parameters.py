r"""Synthetic default data, calibrated to the published programme figures.

EVERY NUMBER THESE FUNCTIONS WRITE IS SYNTHETIC. The data imitate the shape of the
Poli di Innovazione programme so that the study runs end to end without the
confidential firm data; they are not observations of any real firm.

``generate(out_dir, seed)`` writes the four contract files (see
:mod:`evaluation.data.contract` and ``data/README.md``) plus ``truth.csv`` (the true effect
of every funded firm-year), byte-identical for the same arguments, atomically.

Data-generating process
=======================

Organisations (``firms.csv``)
-----------------------------
* 1,194 pole members (``programme.MEMBERS_TOTAL``): exactly 858 SMEs, 133 large
  firms and 60 research organisations (``programme.MEMBERS_JUNE_2017``), and 143
  "other" organisations: the source's 43 others plus the 100 members its total counts
  but its breakdown leaves out (see ``programme.MEMBERS_NOT_BROKEN_DOWN``); pole drawn with probabilities
  ``POLE_WEIGHTS`` (unequal pole sizes); ``member_since`` in 2009-2017 with
  probabilities ``MEMBER_SINCE_P`` (most joined when the poles started, 2009-2010).
* ``n_nonmembers`` enterprises (default 3,000) with ``pole = none``: 4% large, the
  rest SMEs.
* SME size class: members micro/small/medium = 0.30/0.42/0.28, non-members
  0.45/0.40/0.15. Large firms are ``large``; research organisations have no size
  class; "other" organisations are micro or small half of the time, else empty.
* ATECO 2007 division: members by pole (``POLE_SECTORS``), non-members from a broad
  regional mix (``NONMEMBER_SECTORS``); research organisations 72/85, others 94/70/82.
* Province: ``PROVINCE_P`` (Torino about half).
* Unobserved firm effect :math:`\alpha_i \sim N(0, 1)`.

Outcomes (``panel.csv``), enterprises only, years ``first_year..last_year``
---------------------------------------------------------------------------
For firm *i* of size class *s* in year *t* (untreated potential outcomes):

.. math::

   \log L_{it} &= \ell_i + \gamma^L_{s t} + e^L_{it} \\
   \log T_{it} &= \ell_i + p_i + \gamma^T_{s t} + e^T_{it} + 0.5\, e^L_{it} \\
   \log V_{it} &= \ell_i + p_i + v_i + \gamma^V_{s t} + e^T_{it} + 0.5\, e^L_{it} + e^V_{it} \\
   \log R_{it} &= \ell_i + p_i + r_i + \gamma^R_{s t} + e^T_{it} + 0.5\, e^L_{it} + e^R_{it}

* employment level :math:`\ell_i = \log lo_s + u_i (\log hi_s - \log lo_s)` with
  :math:`u_i = \Phi(0.4\alpha_i + 0.92 z_i)` and class bounds micro [1.5, 9.5], small
  [10, 49.5], medium [50, 249.5]; large firms :math:`250 e^{E_i}`,
  :math:`E_i \sim \mathrm{Exp}(1)` capped at 20,000 AWU.
* turnover per AWU :math:`p_i = \log 140{,}000 + 0.25\alpha_i + c_s + 0.4\,\mathrm{trade}_i
  + N(0, 0.3^2)`, :math:`c_s` = -0.2/0/0.1/0.25 (micro/small/medium/large).
* value-added share :math:`v_i = \log(0.25 + 0.15\,\Phi(0.5\alpha_i + 0.87 z'_i))`
  (25-40% of turnover, never negative).
* R&D intensity :math:`r_i = \log \min(0.25, 0.012\, e^{0.35\alpha_i + 0.4\,\mathrm{KI}_i
  + 0.3\,\mathrm{member}_i + N(0, 0.5^2)})`; R&D is zero for firms that do no R&D
  (probability of doing R&D 0.30 + 0.20 KI + 0.05 size rank + 0.20 member; every
  applicant does R&D). KI = manufacturing (ATECO 10-33), ICT (58-63) or R&D (72).
* time effects by size class, :math:`\gamma^k_{st} = c_k M_{st} + d^k_s (t - t_0)`,
  with :math:`M_{st}` the cumulated macro growth path ``MACRO_GROWTH`` (2012-13
  recession, 2020 Covid drop scaled by ``COVID_AMPLITUDE[s]``: 1.2/1.1/1.0/0.9),
  :math:`c_k` = ``MACRO_LOADING`` (turnover 1, employees 0.4, value added 1.2, R&D
  0.8) and size-class trends :math:`d_s` = ``SIZE_TREND`` (-0.005/-0.0015/+0.002/+0.004
  per year; half of that for employees). Trends differ mildly by size class and do
  not depend on anything else, so parallel trends hold conditional on size class.
* AR(1) noise :math:`e^k_{it} = 0.6 e^k_{i,t-1} + \sqrt{1-0.6^2}\,\sigma_k \eta_{it}`,
  stationary from the first year, :math:`\sigma` = ``NOISE_SD`` (turnover 0.10,
  employees 0.06, value added 0.08, R&D 0.30).

Applications (``applications.csv``) and selection
-------------------------------------------------
* Linea A (call 2016): members (SME or large, ``member_since <= 2016``). Linea B
  (call 2017): non-members. Each firm applies at most once.
* Who applies: weighted sampling without replacement (Gumbel top-k) with
  :math:`\log w_i = 0.7\alpha_i + a_s + 0.5\,\mathrm{KI}_i + 0.3\,\mathrm{TO}_i`,
  :math:`a_s` = -0.9/-0.2/0.3/0.6.
* Merit: firm quality :math:`q_i = 0.8\alpha_i + 0.15\,\mathrm{rank}_s + N(0, 0.6^2)`.
  The 221 (A) / 70 (B) applicants with the highest :math:`q` form the 75 / 34 funded
  projects, the others the 38 / 19 unfunded projects. Project score
  :math:`= 60 + 12(\bar q_p - c)` (clipped to [0, 100], 2 decimals), with *c* between
  the funded and unfunded quality, so projects scoring at least 60 are exactly the
  funded ones (a sharp threshold) and the score correlates with the firm effect.
* Project sizes: funded A 2-8 firms summing to 221, funded B 2-5 summing to 70,
  unfunded A ``2 + Poisson(1)``, B ``2 + Poisson(0.15)``. Every project has an SME
  (so a large firm never applies without one); the lead is the firm with the
  largest share of the cost; project pole = lead's pole (Linea A) or the pole of
  the lead's sector (Linea B).
* Cost: project cost = 300,000 EUR + an extra share, funded extras scaled so that
  funded investment sums exactly to the published total (whole euros, largest
  remainder rounding); partners' shares proportional to :math:`L^{0.4}` times
  log-normal noise. Grants: rate 0.55/0.52/0.47/0.35 (micro/small/medium/large) times
  log-normal noise, rescaled and water-filled under the cap
  ``floor(0.6 * cost)`` to sum exactly to the published grants.
* Dates: start on the first of a month, Linea A 2017-2018, Linea B 2018-2019
  (planned dates for unfunded projects from the same ranges); duration 12-24 months
  (funded 18-24); end = start + months - 1 day.

True effect (``truth.csv``)
---------------------------
For funded firm *i* of line *l* and size class *s*, in year *t* with event time
:math:`e = t - \text{start year} \ge 0`, the log outcome *k* is raised by

.. math::

   \tau_k(l, s, e) = \beta_k \cdot m_l \cdot m_s \cdot \min\{1, (e + 1)/3\}

with :math:`\beta` = ``EFFECT_BASE`` (turnover 0.04, employees 0.03, value added
0.05, R&D 0.15), :math:`m_l` = ``EFFECT_LINE`` (A 1.0, B 1.5) and :math:`m_s` =
``EFFECT_SIZE`` (micro 1.3, small 1.15, medium 1.0, large 0.6). The effect builds up
over three years (1/3, 2/3, then full). Before the start year and for every
non-funded firm the effect is zero. ``truth.csv`` has one row per funded firm, year
from the start year on, and outcome.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import ndtr

from evaluation.data import programme
from evaluation.data.contract import COLUMNS, NO_POLE

__all__ = [
    "DEFAULT_SEED",
    "OUTCOMES",
    "EFFECT_BASE",
    "EFFECT_LINE",
    "EFFECT_SIZE",
    "RAMP_YEARS",
    "CALL_YEAR",
    "START_YEARS",
    "true_effect",
    "member_type_counts",
    "simulate",
    "generate",
    "SyntheticData",
    "TRUTH_COLUMNS",
]

GENERATOR = "evaluation.synthetic"
GENERATOR_VERSION = "1"
DEFAULT_SEED = 20170601
DEFAULT_NONMEMBERS = 3000

OUTCOMES: tuple[str, ...] = ("turnover_eur", "employees", "value_added_eur", "rd_expenditure_eur")
SIZES: tuple[str, ...] = programme.SIZE_CLASSES  # micro, small, medium, large
SIZE_RANK = {s: i for i, s in enumerate(SIZES)}

# --- true effect ------------------------------------------------------------------
EFFECT_BASE: dict[str, float] = {
    "turnover_eur": 0.04,
    "employees": 0.03,
    "value_added_eur": 0.05,
    "rd_expenditure_eur": 0.15,
}
EFFECT_LINE: dict[str, float] = {"A": 1.0, "B": 1.5}
EFFECT_SIZE: dict[str, float] = {"micro": 1.3, "small": 1.15, "medium": 1.0, "large": 0.6}
RAMP_YEARS = 3

# --- calls --------------------------------------------------------------------------
CALL_YEAR: dict[str, int] = {"A": 2016, "B": 2017}
START_YEARS: dict[str, tuple[int, int]] = {"A": (2017, 2018), "B": (2018, 2019)}
START_YEAR_P: dict[str, tuple[float, float]] = {"A": (0.6, 0.4), "B": (0.55, 0.45)}
PROJECT_SIZE_RANGE: dict[str, tuple[int, int]] = {"A": (2, 8), "B": (2, 5)}
UNFUNDED_EXTRA_POISSON: dict[str, float] = {"A": 1.0, "B": 0.15}
GRANT_RATE: dict[str, float] = {"micro": 0.55, "small": 0.52, "medium": 0.47, "large": 0.35}

# --- organisations ------------------------------------------------------------------
POLE_WEIGHTS: dict[str, float] = {
    "Agrifood": 0.13, "Biopmed": 0.11, "CGreen": 0.15, "Clever": 0.17,
    "MESAP": 0.21, "Pointex": 0.07, "ICT": 0.16,
}
MEMBER_SINCE_P: dict[int, float] = {
    2009: 0.30, 2010: 0.14, 2011: 0.10, 2012: 0.09, 2013: 0.08,
    2014: 0.08, 2015: 0.08, 2016: 0.07, 2017: 0.06,
}
SME_SIZE_P = {"member": (0.30, 0.42, 0.28), "nonmember": (0.45, 0.40, 0.15)}
NONMEMBER_LARGE_SHARE = 0.04
PROVINCE_P: dict[str, float] = {
    "TO": 0.50, "CN": 0.14, "AL": 0.09, "NO": 0.08, "AT": 0.05, "BI": 0.05, "VC": 0.04, "VB": 0.05,
}
POLE_SECTORS: dict[str, dict[str, float]] = {
    "Agrifood": {"10": 0.55, "11": 0.15, "01": 0.15, "28": 0.05, "46": 0.10},
    "Biopmed": {"21": 0.30, "32": 0.25, "72": 0.25, "26": 0.10, "86": 0.10},
    "CGreen": {"20": 0.35, "22": 0.30, "38": 0.15, "24": 0.10, "71": 0.10},
    "Clever": {"35": 0.30, "27": 0.25, "43": 0.20, "71": 0.15, "28": 0.10},
    "MESAP": {"28": 0.35, "29": 0.20, "25": 0.20, "26": 0.10, "22": 0.05, "62": 0.10},
    "Pointex": {"13": 0.55, "14": 0.25, "20": 0.10, "46": 0.10},
    "ICT": {"62": 0.50, "63": 0.15, "61": 0.10, "26": 0.10, "58": 0.05, "70": 0.10},
}
NONMEMBER_SECTORS: dict[str, float] = {
    "10": 0.05, "13": 0.02, "14": 0.01, "20": 0.02, "22": 0.03, "25": 0.07, "26": 0.02,
    "27": 0.02, "28": 0.06, "29": 0.03, "32": 0.02, "41": 0.05, "43": 0.08, "45": 0.04,
    "46": 0.12, "47": 0.09, "49": 0.04, "56": 0.05, "62": 0.05, "63": 0.01, "69": 0.04,
    "70": 0.03, "71": 0.04, "73": 0.02, "82": 0.03, "86": 0.01,
}
TRADE_SECTORS = {"45", "46", "47"}
SECTOR_POLE: dict[str, str] = {
    "01": "Agrifood", "10": "Agrifood", "11": "Agrifood", "21": "Biopmed", "32": "Biopmed",
    "86": "Biopmed", "72": "Biopmed", "20": "CGreen", "22": "CGreen", "24": "CGreen",
    "38": "CGreen", "35": "Clever", "27": "Clever", "41": "Clever", "43": "Clever",
    "25": "MESAP", "28": "MESAP", "29": "MESAP", "13": "Pointex", "14": "Pointex",
    "26": "ICT", "58": "ICT", "61": "ICT", "62": "ICT", "63": "ICT",
}

# --- outcomes -----------------------------------------------------------------------
EMPLOYEE_BOUNDS = {"micro": (1.5, 9.5), "small": (10.0, 49.5), "medium": (50.0, 249.5)}
PRODUCTIVITY_EUR = 140_000.0
PRODUCTIVITY_SIZE = {"micro": -0.2, "small": 0.0, "medium": 0.1, "large": 0.25}
MACRO_GROWTH: dict[int, float] = {
    2012: -0.025, 2013: -0.020, 2014: 0.000, 2015: 0.010, 2016: 0.012, 2017: 0.018,
    2018: 0.010, 2019: 0.003, 2020: -0.090, 2021: 0.070, 2022: 0.035,
}
"""Log growth of the macro index in a year (other years: 0.01)."""
COVID_AMPLITUDE = {"micro": 1.2, "small": 1.1, "medium": 1.0, "large": 0.9}
MACRO_LOADING = {"turnover_eur": 1.0, "employees": 0.4, "value_added_eur": 1.2, "rd_expenditure_eur": 0.8}
SIZE_TREND = {"micro": -0.005, "small": -0.0015, "medium": 0.002, "large": 0.004}
NOISE_SD = {"turnover_eur": 0.10, "employees": 0.06, "value_added_eur": 0.08, "rd_expenditure_eur": 0.30}
AR_RHO = 0.6

def member_type_counts() -> dict[str, int]:
    """Pole members by ``firm_type`` in the synthetic data (sums to ``MEMBERS_TOTAL``)."""
    counts = dict(programme.MEMBERS_JUNE_2017)
    counts["other"] += programme.MEMBERS_NOT_BROKEN_DOWN  # the 100 the source leaves unclassified
    assert sum(counts.values()) == programme.MEMBERS_TOTAL
    return counts


TRUTH_COLUMNS: tuple[str, ...] = ("firm_id", "line", "year", "event_time", "outcome", "effect_log")


def true_effect(outcome: str, line: str, size_class: str, event_time) -> np.ndarray | float:
    """The true effect on the log of ``outcome`` for a funded firm (0 before the start
    year). Vectorised over ``event_time``."""
    e = np.asarray(event_time, dtype=float)
    ramp = np.where(e >= 0, np.minimum(1.0, (e + 1.0) / RAMP_YEARS), 0.0)
    out = EFFECT_BASE[outcome] * EFFECT_LINE[line] * EFFECT_SIZE[size_class] * ramp
    return float(out) if out.ndim == 0 else out


def _is_ki(ateco: np.ndarray) -> np.ndarray:
    a = ateco.astype(int)
    return ((a >= 10) & (a <= 33)) | ((a >= 58) & (a <= 63)) | (a == 72)


def _choice(rng: np.random.Generator, probs: dict, n: int) -> np.ndarray:
    keys = list(probs)
    p = np.array([probs[k] for k in keys], dtype=float)
    idx = rng.choice(len(keys), size=n, p=p / p.sum())
    return np.array(keys, dtype=object)[idx]


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


@dataclass(frozen=True)
class SyntheticData:
    """The generated tables (typed, unformatted) and the dataset description."""

    firms: pd.DataFrame
    applications: pd.DataFrame
    panel: pd.DataFrame
    truth: pd.DataFrame
    dataset: dict


def _make_firms(rng, n_nonmembers: int) -> pd.DataFrame:
    counts = member_type_counts()
    ftype = np.concatenate([np.full(n, t, dtype=object) for t, n in counts.items()])
    n_mem = len(ftype)
    pole = _choice(rng, POLE_WEIGHTS, n_mem)
    since = _choice(rng, MEMBER_SINCE_P, n_mem).astype(np.int64)

    size = np.full(n_mem, "", dtype=object)
    is_sme = ftype == "SME"
    size[is_sme] = np.array(SIZES[:3], dtype=object)[
        rng.choice(3, size=is_sme.sum(), p=SME_SIZE_P["member"])
    ]
    size[ftype == "large"] = "large"
    is_other = ftype == "other"
    size[is_other] = np.where(
        rng.random(is_other.sum()) < 0.5,
        np.where(rng.random(is_other.sum()) < 0.5, "micro", "small"),
        "",
    )
    ateco = np.empty(n_mem, dtype=object)
    ent = np.isin(ftype, ("SME", "large"))
    for p in programme.POLES:
        m = ent & (pole == p)
        ateco[m] = _choice(rng, POLE_SECTORS[p], int(m.sum()))
    ro = ftype == "research_org"
    ateco[ro] = _choice(rng, {"72": 0.7, "85": 0.3}, int(ro.sum()))
    ateco[is_other] = _choice(rng, {"94": 0.5, "70": 0.3, "82": 0.2}, int(is_other.sum()))

    members = pd.DataFrame(
        {
            "firm_type": ftype, "size_class": size, "pole": pole, "member_since": since,
            "ateco": ateco, "province": _choice(rng, PROVINCE_P, n_mem), "member": True,
        }
    )
    n = n_nonmembers
    nm_type = np.where(rng.random(n) < NONMEMBER_LARGE_SHARE, "large", "SME").astype(object)
    nm_size = np.array(SIZES[:3], dtype=object)[rng.choice(3, size=n, p=SME_SIZE_P["nonmember"])]
    nm_size[nm_type == "large"] = "large"
    nonmembers = pd.DataFrame(
        {
            "firm_type": nm_type, "size_class": nm_size, "pole": NO_POLE,
            "member_since": np.full(n, -1, dtype=np.int64),
            "ateco": _choice(rng, NONMEMBER_SECTORS, n),
            "province": _choice(rng, PROVINCE_P, n), "member": False,
        }
    )
    firms = pd.concat([members, nonmembers], ignore_index=True)
    n_all = len(firms)
    ids = rng.permutation(n_all) + 1
    firms.insert(0, "firm_id", [f"F{i:05d}" for i in ids])
    firms["alpha"] = rng.standard_normal(n_all)
    return firms


def _select_applicants(rng, firms: pd.DataFrame, eligible: np.ndarray, n: int) -> np.ndarray:
    f = firms[eligible]
    logw = (
        0.7 * f["alpha"].to_numpy()
        + f["size_class"].map({"micro": -0.9, "small": -0.2, "medium": 0.3, "large": 0.6}).to_numpy()
        + 0.5 * _is_ki(f["ateco"].to_numpy())
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


def _make_line(rng, firms: pd.DataFrame, line: str, eligible: np.ndarray) -> pd.DataFrame:
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
            pole = SECTOR_POLE.get(col["ateco"][g[lead]]) or _choice(rng, POLE_WEIGHTS, 1)[0]
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


def _macro_path(years: np.ndarray, size: str) -> np.ndarray:
    g = np.array([MACRO_GROWTH.get(int(y), 0.01) for y in years])
    g = np.where(years == 2020, g * COVID_AMPLITUDE[size], g)
    g[0] = 0.0
    return np.cumsum(g)


def _make_panel(rng, firms: pd.DataFrame, ent: np.ndarray, funded_info: pd.DataFrame,
                first_year: int, last_year: int, effect_scale: float):
    years = np.arange(first_year, last_year + 1)
    f = firms[ent]
    n, T = len(f), len(years)
    size = f["size_class"].to_numpy()
    alpha = f["alpha"].to_numpy()
    ell = f["ell"].to_numpy()
    ateco = f["ateco"].to_numpy()
    ki = _is_ki(ateco)
    trade = np.isin(ateco, list(TRADE_SECTORS))
    member = f["member"].to_numpy()

    p = (
        np.log(PRODUCTIVITY_EUR) + 0.25 * alpha + np.array([PRODUCTIVITY_SIZE[s] for s in size])
        + 0.4 * trade + 0.3 * rng.standard_normal(n)
    )
    v = np.log(0.25 + 0.15 * ndtr(0.5 * alpha + 0.87 * rng.standard_normal(n)))
    r = np.log(np.minimum(0.25, 0.012 * np.exp(
        0.35 * alpha + 0.4 * ki + 0.3 * member + 0.5 * rng.standard_normal(n)
    )))
    size_rank = np.array([SIZE_RANK[s] for s in size])
    p_rd = 0.30 + 0.20 * ki + 0.05 * size_rank + 0.20 * member
    does_rd = (rng.random(n) < p_rd) | f["applicant"].to_numpy()

    gamma = {k: np.zeros((n, T)) for k in OUTCOMES}
    for s in SIZES:
        m = size == s
        if not m.any():
            continue
        M = _macro_path(years, s)
        for k in OUTCOMES:
            trend = SIZE_TREND[s] * (0.5 if k == "employees" else 1.0)
            gamma[k][m] = MACRO_LOADING[k] * M + trend * (years - first_year)

    def ar1(sd: float) -> np.ndarray:
        e = np.empty((n, T))
        e[:, 0] = sd * rng.standard_normal(n)
        innov = np.sqrt(1 - AR_RHO**2) * sd
        for t in range(1, T):
            e[:, t] = AR_RHO * e[:, t - 1] + innov * rng.standard_normal(n)
        return e

    noise = {k: ar1(NOISE_SD[k]) for k in OUTCOMES}
    base_T = ell[:, None] + p[:, None] + noise["turnover_eur"] + 0.5 * noise["employees"]
    logy = {
        "employees": ell[:, None] + gamma["employees"] + noise["employees"],
        "turnover_eur": base_T + gamma["turnover_eur"],
        "value_added_eur": base_T + v[:, None] + gamma["value_added_eur"] + noise["value_added_eur"],
        "rd_expenditure_eur": base_T + r[:, None] + gamma["rd_expenditure_eur"] + noise["rd_expenditure_eur"],
    }

    # true effects: one matrix per outcome over the funded firms' rows
    pos = pd.Series(np.arange(n), index=f.index)
    rows_f = pos[funded_info["_row"].to_numpy()].to_numpy()
    et = years[None, :] - funded_info["start_year"].to_numpy()[:, None]
    ramp = np.where(et >= 0, np.minimum(1.0, (et + 1.0) / RAMP_YEARS), 0.0)
    mult = (
        funded_info["line"].map(EFFECT_LINE).to_numpy()
        * funded_info["size_class"].map(EFFECT_SIZE).to_numpy()
    )[:, None] * ramp
    fi, ti = np.nonzero(et >= 0)
    truth_parts = []
    for k in OUTCOMES:
        eff = effect_scale * EFFECT_BASE[k] * mult
        logy[k][rows_f] += eff
        truth_parts.append(pd.DataFrame({
            "firm_id": funded_info["firm_id"].to_numpy()[fi],
            "line": funded_info["line"].to_numpy()[fi],
            "year": years[ti], "event_time": et[fi, ti], "outcome": k, "effect_log": eff[fi, ti],
        }))
    truth = pd.concat(truth_parts, ignore_index=True)

    vals = {k: np.exp(logy[k]) for k in OUTCOMES}
    vals["rd_expenditure_eur"] = np.where(does_rd[:, None], vals["rd_expenditure_eur"], 0.0)
    panel = pd.DataFrame({
        "firm_id": np.repeat(f["firm_id"].to_numpy(), T),
        "year": np.tile(years, n),
        **{k: vals[k].ravel() for k in OUTCOMES},
    })
    return panel, truth


def simulate(
    seed: int = DEFAULT_SEED,
    first_year: int = 2012,
    last_year: int = 2022,
    n_nonmembers: int = DEFAULT_NONMEMBERS,
    effect_scale: float = 1.0,
) -> SyntheticData:
    """Draw the synthetic tables in memory. ``effect_scale`` multiplies the true effect
    (0 gives the untreated potential outcomes with the same random draws)."""
    if not first_year <= 2016 < 2019 < last_year:
        raise ValueError("the panel must cover 2016-2020 (first_year <= 2016, last_year >= 2020)")
    if n_nonmembers < 500:
        raise ValueError("n_nonmembers must be at least 500 (Linea B needs applicants)")
    rng = np.random.default_rng(seed)
    firms = _make_firms(rng, n_nonmembers)
    n = len(firms)

    # employment level (log AWU), drawn for all enterprises now (project shares use it)
    size = firms["size_class"].to_numpy()
    u = ndtr(0.4 * firms["alpha"].to_numpy() + 0.92 * rng.standard_normal(n))
    ell = np.zeros(n)
    for s, (lo, hi) in EMPLOYEE_BOUNDS.items():
        m = size == s
        ell[m] = np.log(lo) + u[m] * (np.log(hi) - np.log(lo))
    m = size == "large"
    ell[m] = np.log(np.minimum(250 * np.exp(rng.exponential(1.0, m.sum())), 20_000))
    firms["ell"] = ell
    firms["emp0"] = np.exp(ell)

    ent = firms["firm_type"].isin(("SME", "large")).to_numpy()
    member = firms["member"].to_numpy()
    elig_a = ent & member & (firms["member_since"].to_numpy() <= CALL_YEAR["A"])
    apps_a = _make_line(rng, firms, "A", elig_a)
    elig_b = ent & ~member
    apps_b = _make_line(rng, firms, "B", elig_b)
    apps = pd.concat([apps_a, apps_b], ignore_index=True)
    firms["applicant"] = firms.index.isin(apps["_row"])

    fund = apps[apps["funded"]].copy()
    fund["start_year"] = pd.to_datetime(fund["start_date"]).dt.year
    fund["size_class"] = firms.loc[fund["_row"], "size_class"].to_numpy()
    fund = fund.sort_values("firm_id", kind="stable")
    panel, truth = _make_panel(rng, firms, ent, fund, first_year, last_year, effect_scale)

    firms_out = firms[list(COLUMNS["firms.csv"])].copy()
    firms_out["member_since"] = firms_out["member_since"].where(firms["member"], -1)
    apps_out = apps[list(COLUMNS["applications.csv"])].copy()

    dataset = {
        "name": "synthetic-default",
        "synthetic": True,
        "description": (
            "SYNTHETIC DATA: every number in these files is simulated; no row describes a "
            "real firm. The data are calibrated to the published figures of Piedmont's "
            "Poli di Innovazione programme (Regione Piemonte, June 2017; evaluation/"
            "programme.py): 1,194 pole members (858 SMEs, 133 large firms, 60 research "
            "organisations, 43 others); Linea A 113 projects submitted, 75 funded, 221 "
            "firms, 49.8 M EUR investment, 23.7 M EUR grants; Linea B 53 submitted, 34 "
            "funded, 70 firms, 21.2 M EUR, 9.3 M EUR. Firm outcomes, selection into the "
            "calls and the true effects (truth.csv) follow the data-generating process "
            "documented in evaluation/synthetic.py and data/README.md."
        ),
        "seed": int(seed),
        "generator": GENERATOR,
        "generator_version": GENERATOR_VERSION,
        "first_year": int(first_year),
        "last_year": int(last_year),
        "n_nonmembers": int(n_nonmembers),
        "effect_scale": float(effect_scale),
        "true_effect": {
            "formula": "effect_log = base[outcome] * line[line] * size[size_class] * min(1, (event_time + 1) / 3), event_time >= 0",
            "base": EFFECT_BASE,
            "line": EFFECT_LINE,
            "size": EFFECT_SIZE,
            "ramp_years": RAMP_YEARS,
        },
    }
    return SyntheticData(
        firms=firms_out.sort_values("firm_id", kind="stable").reset_index(drop=True),
        applications=apps_out.sort_values(["project_id", "firm_id"], kind="stable").reset_index(drop=True),
        panel=panel.sort_values(["firm_id", "year"], kind="stable").reset_index(drop=True),
        truth=truth.sort_values(["firm_id", "year", "outcome"], kind="stable").reset_index(drop=True),
        dataset=dataset,
    )


# --------------------------------------------------------------------------- writing


def _csv_bytes(df: pd.DataFrame, float_format: str | None = None) -> bytes:
    buf = io.StringIO()
    df.to_csv(buf, index=False, lineterminator="\n", float_format=float_format)
    return buf.getvalue().encode("utf-8")


def _format(data: SyntheticData) -> dict[str, bytes]:
    """The files' bytes: fixed formats (amounts, outcomes and scores with 2 decimals,
    effects with 6), ``true``/``false``, ISO dates, empty for missing."""
    f = data.firms.copy()
    f["member_since"] = [str(int(v)) if v >= 0 else "" for v in f["member_since"]]
    a = data.applications.copy()
    a["funded"] = np.where(a["funded"], "true", "false")
    for c in ("score", "investment_eur", "grant_eur"):
        a[c] = a[c].astype(float)
    for c in ("start_date", "end_date"):
        a[c] = pd.to_datetime(a[c]).dt.strftime("%Y-%m-%d")
    p = data.panel.astype({c: float for c in OUTCOMES})
    t = data.truth.astype({"effect_log": float})
    meta = json.dumps(data.dataset, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return {
        "dataset.json": meta.encode("utf-8"),
        "firms.csv": _csv_bytes(f),
        "applications.csv": _csv_bytes(a, "%.2f"),
        "panel.csv": _csv_bytes(p, "%.2f"),
        "truth.csv": _csv_bytes(t, "%.6f"),
    }


def _replaceable(path: Path) -> bool:
    """An existing folder may be replaced only if empty or an earlier synthetic output."""
    if not any(path.iterdir()):
        return True
    meta = path / "dataset.json"
    try:
        d = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(d, dict) and d.get("synthetic") is True and d.get("generator") == GENERATOR


def _check_target(out_dir: Path) -> None:
    if out_dir.exists() and (not out_dir.is_dir() or not _replaceable(out_dir)):
        raise FileExistsError(
            f"{out_dir} exists and is not an earlier synthetic data folder; not replacing it"
        )


def _write_atomically(out_dir: Path, files: dict[str, bytes]) -> None:
    out_dir = Path(os.path.abspath(out_dir))
    parent = out_dir.parent
    parent.mkdir(parents=True, exist_ok=True)
    _check_target(out_dir)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=parent))
    try:
        for name, payload in files.items():
            with open(tmp / name, "wb") as fh:
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, 0o755)
        if out_dir.exists():
            old = parent / f".{out_dir.name}.old-{uuid.uuid4().hex}"
            os.rename(out_dir, old)
            try:
                os.rename(tmp, out_dir)
            except OSError:
                os.rename(old, out_dir)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def generate(
    out_dir: str | Path,
    seed: int = DEFAULT_SEED,
    first_year: int = 2012,
    last_year: int = 2022,
    n_nonmembers: int = DEFAULT_NONMEMBERS,
) -> dict[str, Path]:
    """Write ``dataset.json``, ``firms.csv``, ``applications.csv``, ``panel.csv`` and
    ``truth.csv`` to ``out_dir`` (replaced atomically; an existing folder is replaced
    only if it is empty or an earlier synthetic output). Returns file name -> path."""
    out_dir = Path(out_dir)
    _check_target(out_dir)
    data = simulate(seed, first_year, last_year, n_nonmembers)
    files = _format(data)
    _write_atomically(out_dir, files)
    return {name: out_dir / name for name in files}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m evaluation.data.synthetic",
        description="Write the synthetic default data (calibrated to the published programme figures).",
    )
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--first-year", type=int, default=2012)
    ap.add_argument("--last-year", type=int, default=2022)
    ap.add_argument("--n-nonmembers", type=int, default=DEFAULT_NONMEMBERS)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    paths = generate(args.out_dir, args.seed, args.first_year, args.last_year, args.n_nonmembers)
    dt = time.perf_counter() - t0
    for name, path in paths.items():
        print(f"{path}  ({path.stat().st_size:,} bytes)")
    print(f"synthetic data written in {dt:.2f} s (seed {args.seed})", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
