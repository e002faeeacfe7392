"""The restrictions on the violation of parallel trends, as polyhedra, and the
identified set they give when ``beta`` is known.

``delta`` is padded with ``delta_0 = 0`` (the reference period):

* ``"SD"``, smoothness, ``Delta^SD(M)``: every second difference is bounded,
  ``|(delta_{t+1} - delta_t) - (delta_t - delta_{t-1})| <= M`` for
  ``t = -num_pre+1, ..., num_post-1`` (including the junction ``t = 0``, where
  ``delta_0 = 0``). ``M = 0`` allows exactly linear differential trends.
* ``"RM"``, relative magnitudes, ``Delta^RM(Mbar)``: every post-period first
  difference is at most ``Mbar`` times the largest pre-period first difference,
  ``|delta_{t+1} - delta_t| <= Mbar * max_{s<0} |delta_{s+1} - delta_s|`` for
  ``t >= 0`` (the pre-period differences include ``delta_0 - delta_{-1}``). It is
  the union over the location ``s`` and the sign of the maximum of ``2 * num_pre``
  polyhedra.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize

from evaluation.methods.honest_did.arguments import as_lvec, check_restriction


def _difference_rows(num_pre: int, num_post: int) -> np.ndarray:
    """First differences ``delta_t - delta_{t-1}``, t = -num_pre+1..num_post, on the
    padded vector (``delta_{-num_pre}, ..., delta_0, ..., delta_{num_post}``)."""
    n = num_pre + num_post
    rows = np.zeros((n, n + 1))
    for r in range(n):
        rows[r, r], rows[r, r + 1] = -1.0, 1.0
    return rows


def _drop_reference(a: np.ndarray, num_pre: int) -> np.ndarray:
    return np.delete(a, num_pre, axis=1)


def sd_constraints(num_pre: int, num_post: int, M: float) -> tuple[np.ndarray, np.ndarray]:
    """``(A, d)`` with ``Delta^SD(M) = {delta : A delta <= d}``.

    Rows are ``+/-`` the second differences
    ``delta_{t+1} - 2 delta_t + delta_{t-1}`` for ``t = -num_pre+1, ..., num_post-1``
    with ``delta_0 = 0`` substituted (its column dropped); ``d = M``.
    """
    n = num_pre + num_post
    second = np.zeros((n - 1, n + 1))
    for r in range(n - 1):
        second[r, r : r + 3] = (1.0, -2.0, 1.0)
    second = _drop_reference(second, num_pre)
    a = np.vstack([second, -second])
    return a, np.full(a.shape[0], float(M))


def rm_polyhedra(
    num_pre: int, num_post: int, Mbar: float, post_moments_only: bool = False
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The ``2 * num_pre`` polyhedra whose union is ``Delta^RM(Mbar)``.

    For each pre-period difference ``s`` (``delta_s - delta_{s-1}``,
    ``s = -num_pre+1, ..., 0``) and sign ``+/-``, the polyhedron requires
    ``|delta_r - delta_{r-1}| <= sign (delta_s - delta_{s-1})`` for pre-period
    differences ``r <= 0`` and ``<= Mbar sign (delta_s - delta_{s-1})`` for
    post-period differences ``r >= 1``; ``d = 0``. Identically zero rows (``r = s``)
    are dropped. With ``post_moments_only`` only rows that involve a post-period
    coefficient are kept (the R package's ``postPeriodMomentsOnly``; the union is
    unchanged). Returns ``(label, A, d)`` triples.
    """
    diffs = _difference_rows(num_pre, num_post)
    out = []
    for s in range(-num_pre + 1, 1):
        base = diffs[num_pre - 1 + s]  # row of delta_s - delta_{s-1}
        for sign, label in ((1.0, "+"), (-1.0, "-")):
            bound = np.vstack(
                [np.tile(sign * base, (num_pre, 1)), np.tile(Mbar * sign * base, (num_post, 1))]
            )
            a = np.vstack([diffs - bound, -diffs - bound])
            a = a[np.einsum("ij,ij->i", a, a) > 1e-10]
            a = _drop_reference(a, num_pre)
            if post_moments_only:
                a = a[np.any(a[:, num_pre:] != 0, axis=1)]
            out.append((f"s={s}{label}", a, np.zeros(a.shape[0])))
    return out


def polyhedra(restriction: str, num_pre: int, num_post: int, M: float, post_moments_only=True):
    """Polyhedra of the restriction; with ``post_moments_only`` (the R package's
    ``postPeriodMomentsOnly = TRUE``, used by the tests) only the rows involving a
    post-period coefficient: the others restrict ``betahat_pre`` alone, not ``theta``."""
    if restriction == "SD":
        a, d = sd_constraints(num_pre, num_post, M)
        if post_moments_only:
            keep = np.any(a[:, num_pre:] != 0, axis=1)
            a, d = a[keep], d[keep]
        return [("SD", a, d)]
    return rm_polyhedra(num_pre, num_post, M, post_moments_only=post_moments_only)


def identified_set(
    beta, num_pre: int, num_post: int, restriction: str = "SD", M: float = 0.0, l_vec=None
) -> tuple[float, float]:
    """Identified set for ``theta = l' tau_post`` when ``beta`` is known exactly.

    ``[l' beta_post - max l' delta_post, l' beta_post - min l' delta_post]`` over
    ``delta`` in the restriction with ``delta_pre = beta_pre`` (RR Lemma 2.1); for
    RM the union over the polyhedra. Infinite bounds when unbounded.
    """
    beta = np.asarray(beta, dtype=float).ravel()
    l_vec = as_lvec(l_vec, num_post)
    restriction = check_restriction(restriction)
    n = num_pre + num_post
    c = np.concatenate([np.zeros(num_pre), l_vec])
    a_eq = np.hstack([np.eye(num_pre), np.zeros((num_pre, num_post))])
    target = float(l_vec @ beta[num_pre:])
    lows, highs = [], []
    for _, a, d in polyhedra(restriction, num_pre, num_post, M, post_moments_only=False):
        bounds = [(None, None)] * n
        hi = optimize.linprog(-c, A_ub=a, b_ub=d, A_eq=a_eq, b_eq=beta[:num_pre], bounds=bounds)
        if hi.status == 2:  # infeasible: this polyhedron is incompatible with beta_pre (for RM all but one)
            continue
        lo = optimize.linprog(c, A_ub=a, b_ub=d, A_eq=a_eq, b_eq=beta[:num_pre], bounds=bounds)
        max_bias = math.inf if hi.status == 3 else -hi.fun
        min_bias = -math.inf if lo.status == 3 else lo.fun
        lows.append(target - max_bias)
        highs.append(target - min_bias)
    if not lows:
        return (math.nan, math.nan)
    return (min(lows), max(highs))
