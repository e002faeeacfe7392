"""The public entry points: robust intervals over a range of ``M``
(:func:`honest_sensitivity`), the original interval, the breakdown value, the inputs
from an event study and the plot.

``original_cs`` is the usual interval ``l' betahat_post +/- z_{1-alpha/2} sd``.
The breakdown value is the largest ``M`` (or ``Mbar``) at which the robust set
still excludes the null (0 by default), found by bisection.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np
import pandas as pd
from scipy import stats

from evaluation.methods.honest_did.arguments import DEFAULT_METHOD, RESTRICTIONS, as_inputs, check_restriction
from evaluation.methods.honest_did.arp_test_inversion import robust_interval

RESULT_COLUMNS = ("lb", "ub", "method", "delta", "M")


def original_cs(betahat, sigma, num_pre: int, num_post: int, l_vec=None, alpha: float = 0.05) -> pd.DataFrame:
    """The usual (non-robust) interval ``l' betahat_post +/- z_{1-alpha/2} sd``,
    ``sd = sqrt(l' Sigma_post l)`` (normal critical value, as HonestDiD's
    ``constructOriginalCS``). One row: ``lb, ub, method="Original", delta=None, M=nan``."""
    betahat, sigma, num_pre, num_post, l_vec = as_inputs(betahat, sigma, num_pre, num_post, l_vec)
    est = float(l_vec @ betahat[num_pre:])
    sd = math.sqrt(float(l_vec @ sigma[num_pre:, num_pre:] @ l_vec))
    z = stats.norm.ppf(1 - alpha / 2)
    return pd.DataFrame(
        {"lb": [est - z * sd], "ub": [est + z * sd], "method": ["Original"], "delta": [None], "M": [math.nan]}
    )


def honest_sensitivity(
    betahat,
    sigma,
    num_pre: int,
    num_post: int,
    restriction: str = "SD",
    m_values: Iterable[float] | None = None,
    l_vec=None,
    alpha: float = 0.05,
    method: str | None = None,
    **kwargs,
) -> pd.DataFrame:
    """Robust confidence intervals for ``theta = l' tau_post`` over a range of ``M``.

    Parameters
    ----------
    betahat, sigma : event-study coefficients (pre then post, reference omitted) and
        their covariance.
    num_pre, num_post : numbers of pre- and post-period coefficients.
    restriction : ``"SD"`` (``Delta^SD(M)``) or ``"RM"`` (``Delta^RM(Mbar)``).
    m_values : values of ``M`` (SD) or ``Mbar`` (RM). Default: RM ``0, 0.5, ..., 2``;
        SD ten values from 0 to the standard deviation of the first pre-period
        coefficient.
    l_vec : weights on the post-period effects; ``None`` = first post-period,
        ``"average"`` = their mean.
    alpha : 1 - confidence level.
    method : ``"FLCI"`` (SD default), ``"Conditional"`` or ``"C-LF"`` (RM default).
    **kwargs : ``grid_points``, ``grid_lb``, ``grid_ub``, ``refine``, ``lf_sims``,
        ``seed`` for the test-inversion methods (see :func:`robust_interval`).

    Returns
    -------
    DataFrame with columns ``lb, ub, method, delta, M`` (``delta`` is ``"DeltaSD"``
    or ``"DeltaRM"``), one row per value of ``M``.
    """
    betahat, sigma, num_pre, num_post, l_vec = as_inputs(betahat, sigma, num_pre, num_post, l_vec)
    restriction = check_restriction(restriction)
    method = DEFAULT_METHOD[restriction] if method is None else method
    if m_values is None:
        if restriction == "RM":
            m_values = np.linspace(0, 2, 5)
        else:
            m_values = np.linspace(0, math.sqrt(sigma[0, 0]), 10)
    rows = []
    for m in m_values:
        lb, ub = robust_interval(betahat, sigma, num_pre, num_post, restriction, float(m), l_vec,
                                 alpha, method, **kwargs)
        rows.append({"lb": lb, "ub": ub, "method": method, "delta": RESTRICTIONS[restriction], "M": float(m)})
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


def breakdown_value(
    betahat,
    sigma,
    num_pre: int,
    num_post: int,
    restriction: str = "SD",
    l_vec=None,
    alpha: float = 0.05,
    method: str | None = None,
    null: float = 0.0,
    m_max: float | None = None,
    tol: float | None = None,
    **kwargs,
) -> float:
    """Largest ``M`` (SD) or ``Mbar`` (RM) at which the robust set excludes ``null``.

    Found by bisection on ``[0, m_max]`` (the sets grow with ``M``), to ``tol``
    (default ``1e-4`` of ``m_max``). ``nan`` if the set contains ``null`` already at
    ``M = 0``; ``inf`` if it still excludes ``null`` at ``m_max`` (default: 10 times
    the largest pre-period SE for SD, 10 for RM).
    """
    betahat, sigma, num_pre, num_post, l_vec = as_inputs(betahat, sigma, num_pre, num_post, l_vec)
    restriction = check_restriction(restriction)
    if m_max is None:
        m_max = 10.0 if restriction == "RM" else 10 * math.sqrt(np.max(np.diag(sigma)[:num_pre]))
    tol = 1e-4 * m_max if tol is None else tol

    def excludes(m):
        lb, ub = robust_interval(betahat, sigma, num_pre, num_post, restriction, m, l_vec, alpha,
                                 method, **kwargs)
        return not (lb <= null <= ub) and not (math.isnan(lb) and math.isnan(ub))

    if not excludes(0.0):
        return math.nan
    if excludes(m_max):
        return math.inf
    lo, hi = 0.0, float(m_max)
    while hi - lo > tol:
        mid = (lo + hi) / 2
        if excludes(mid):
            lo = mid
        else:
            hi = mid
    return lo


def event_study_inputs(result, reference: int | None = None) -> dict:
    """``betahat, sigma, num_pre, num_post`` from an ``event_study`` result.

    Terms ``"e=k"`` are sorted by ``k``; pre-periods are ``k < reference`` and
    post-periods ``k > reference`` (the omitted reference, ``-1`` by default, is RR's
    period 0). Event times must be consecutive. Returns a dict to pass as
    ``honest_sensitivity(**inputs, ...)``.
    """
    if reference is None:
        reference = int(result.extra.get("reference", -1)) if getattr(result, "extra", None) else -1
    terms = [t for t in result.table.index if str(t).startswith("e=")]
    times = sorted(int(str(t)[2:]) for t in terms)
    if not times:
        raise ValueError("event_study_inputs: no 'e=k' terms in the result")
    expected = [k for k in range(times[0], times[-1] + 1) if k != reference]
    if times != expected:
        raise ValueError(f"event_study_inputs: event times must be consecutive around the reference "
                         f"{reference} (got {times})")
    names = [f"e={k}" for k in times]
    vcov = result.vcov.loc[names, names].to_numpy()
    beta = result.table.loc[names, "estimate"].to_numpy()
    return {
        "betahat": beta,
        "sigma": vcov,
        "num_pre": sum(k < reference for k in times),
        "num_post": sum(k > reference for k in times),
    }


def plot_sensitivity(results: pd.DataFrame, original: pd.DataFrame | None = None, ax=None, null: float = 0.0):
    """Robust intervals against ``M`` (error bars), the original interval at the left.

    Returns the matplotlib ``Axes``.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    m = results["M"].to_numpy(dtype=float)
    mid = (results["lb"].to_numpy() + results["ub"].to_numpy()) / 2
    half = (results["ub"].to_numpy() - results["lb"].to_numpy()) / 2
    step = np.diff(np.unique(m)).min() if np.unique(m).size > 1 else 1.0
    label = f"{results['method'].iloc[0]} ({results['delta'].iloc[0]})"
    ax.errorbar(m, mid, yerr=half, fmt="none", capsize=4, color="C0", label=label)
    if original is not None and len(original):
        o = original.iloc[0]
        x0 = m.min() - step
        ax.errorbar([x0], [(o.lb + o.ub) / 2], yerr=[(o.ub - o.lb) / 2], fmt="none", capsize=4,
                    color="C3", label="Original")
    ax.axhline(null, color="grey", lw=0.8, ls="--")
    restriction = str(results["delta"].iloc[0])
    ax.set_xlabel("Mbar" if restriction == "DeltaRM" else "M")
    ax.set_ylabel("robust confidence interval")
    ax.legend(frameon=False)
    return ax


def cs_event_study_inputs(result) -> dict:
    """``betahat, sigma, num_pre, num_post`` from a Callaway-Sant'Anna event study:
    ``aggte(att_gt(..., base_period="universal"), kind="dynamic")``, as the HonestDiD
    authors apply their method to R ``did`` (the universal base makes every event-time
    estimate relative to e = -1, which is dropped as the reference). ``sigma`` is the
    influence-function covariance ``IF' IF / n^2`` (the unclustered analytic variance of
    ``aggte``; clustering by unit gives the same)."""
    table = result.table
    if getattr(result, "kind", None) != "dynamic" or result.influence is None:
        raise ValueError("cs_event_study_inputs needs aggte(..., kind='dynamic') of an att_gt result")
    e = table["key"].to_numpy(int)
    keep = e != -1
    if (e == -1).sum() != 1 or abs(float(table["att"].to_numpy()[~keep][0])) > 1e-12:
        raise ValueError("cs_event_study_inputs needs base_period='universal' (e = -1 reported as 0)")
    influence = result.influence[:, keep]
    n = influence.shape[0]
    return {
        "betahat": table["att"].to_numpy(float)[keep],
        "sigma": influence.T @ influence / n**2,
        "num_pre": int((e[keep] < -1).sum()),
        "num_post": int((e[keep] >= 0).sum()),
    }
