"""The firm-year outcome panel of the synthetic data (``panel.csv``) and the true
effect it carries (``truth.csv``): untreated potential outcomes from firm levels, size-
class time effects and AR(1) noise, raised by the true effect for funded firms."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtr

from evaluation.data.synthetic.parameters import (
    AR_RHO,
    COVID_AMPLITUDE,
    EFFECT_MAX,
    INTENSITY_HALF,
    INTENSITY_YEARS,
    MACRO_GROWTH,
    MACRO_LOADING,
    NOISE_SD,
    OUTCOMES,
    PRODUCTIVITY_EUR,
    PRODUCTIVITY_SIZE,
    RAMP_YEARS,
    SIZE_RANK,
    SIZE_TREND,
    SIZES,
    TRADE_SECTORS,
    is_knowledge_intensive,
)


def _macro_path(years: np.ndarray, size: str) -> np.ndarray:
    """The cumulated log macro index of size class ``size`` over ``years`` (0 in the first)."""
    g = np.array([MACRO_GROWTH.get(int(y), 0.01) for y in years])
    g = np.where(years == 2020, g * COVID_AMPLITUDE[size], g)
    g[0] = 0.0
    return np.cumsum(g)


def _pre_call_turnover(turnover: np.ndarray, years: np.ndarray, call_year: np.ndarray) -> np.ndarray:
    """Each row's mean ``turnover`` over the ``INTENSITY_YEARS`` years before its call
    that the panel covers (the panel's first year when it covers none: it precedes every
    start, so the turnover is untreated either way)."""
    window = (years[None, :] < call_year[:, None]) & (years[None, :] >= call_year[:, None] - INTENSITY_YEARS)
    window[~window.any(axis=1), 0] = True
    return (turnover * window).sum(axis=1) / window.sum(axis=1)


def make_panel(rng, firms: pd.DataFrame, ent: np.ndarray, funded_info: pd.DataFrame,
               first_year: int, last_year: int, effect_scale: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The outcomes of the enterprises ``ent`` in ``first_year..last_year`` and the true
    effects (times ``effect_scale``) of the funded firms ``funded_info`` (one row each,
    with ``_row``, ``firm_id``, ``line``, ``call_year``, ``start_year`` and
    ``grant_eur``): the tables ``(panel, truth)``."""
    years = np.arange(first_year, last_year + 1)
    f = firms[ent]
    n, T = len(f), len(years)
    size = f["size_class"].to_numpy()
    alpha = f["alpha"].to_numpy()
    ell = f["ell"].to_numpy()
    ateco = f["ateco"].to_numpy()
    ki = is_knowledge_intensive(ateco)
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
    intensity = funded_info["grant_eur"].to_numpy(dtype=float) / _pre_call_turnover(
        np.exp(logy["turnover_eur"][rows_f]), years, funded_info["call_year"].to_numpy())
    et = years[None, :] - funded_info["start_year"].to_numpy()[:, None]
    ramp = np.where(et >= 0, np.minimum(1.0, (et + 1.0) / RAMP_YEARS), 0.0)
    mult = (intensity / (intensity + INTENSITY_HALF))[:, None] * ramp
    fi, ti = np.nonzero(et >= 0)
    truth_parts = []
    for k in OUTCOMES:
        eff = effect_scale * EFFECT_MAX[k] * mult
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
