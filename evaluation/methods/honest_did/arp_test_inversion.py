"""Sensitivity of event-study conclusions to violations of parallel trends.

Rambachan & Roth (2023), "A More Credible Approach to Parallel Trends", *Review of
Economic Studies* 90(5), 2555-2591 ("RR" below), implemented from the paper and the
documented behaviour of the authors' R package ``HonestDiD`` (no code copied).

Setting and conventions
-----------------------
``betahat`` stacks the event-study coefficients in time order, the ``num_pre``
pre-period coefficients first (event times ``-num_pre, ..., -1`` relative to the
omitted reference period, which RR call period 0), then the ``num_post``
post-period coefficients (periods ``1, ..., num_post``). ``sigma`` is their
covariance. RR decompose ``beta = delta + (0, tau_post)``: ``delta`` is the
difference in trends (the violation of parallel trends), normalised to
``delta_0 = 0`` in the reference period, and ``tau_post`` the dynamic effects. The
target is ``theta = l_vec' tau_post`` (default ``l_vec = e_1``, the first
post-period; ``l_vec="average"`` gives the average of the post periods).

Restrictions (``delta`` padded with ``delta_0 = 0``):

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

Confidence sets (``method``)
----------------------------
* ``"FLCI"`` (default for SD): the optimal fixed-length confidence interval of
  RR Section 4.1 (Armstrong & Kolesar 2018, 2020; Donoho 1994). Among affine
  estimators ``theta_hat = l' betahat_post + v' betahat_pre`` with worst-case bias
  ``b(v)`` over ``Delta^SD(M)`` and standard deviation ``h(v)``, choose ``v`` to
  minimise the half-length ``chi(v) = cv_alpha(b(v)/h(v)) * h(v)``, where
  ``cv_alpha(t)`` is the ``1-alpha`` quantile of ``|N(t, 1)|``. The interval is
  ``theta_hat +/- chi``. The worst-case bias is finite only if ``theta_hat`` is
  unbiased for linear trends; then, writing ``delta`` through its slope at the
  reference period and its second differences ``D_j``,
  ``b(v) = M * sum_j |g_j(v)|`` with ``g_j`` the coefficient of ``D_j`` in
  ``l' delta_post + v' delta_pre``. We trace the bias-variance frontier
  (minimum variance for each bias bound, a quadratic programme) and minimise the
  half-length along it.
* ``"C-LF"`` (default for RM) and ``"Conditional"``: test inversion of the
  conditional (``"Conditional"``) or conditional-least-favourable hybrid
  (``"C-LF"``) moment-inequality test of Andrews, Roth & Pakes (2023, "ARP"), RR
  Section 4.2 and 5.3. For a polyhedron ``{A delta <= d}`` and a candidate
  ``theta``, the moments are ``Y(theta) = A betahat - d - A_post u theta`` with a
  nuisance ``A_post N tau_tilde`` (``u`` with ``l'u = 1``, ``N`` a basis of the
  null space of ``l'``). The statistic is
  ``eta = min_tau max_i (Y_i - X_i tau) / sigma_i = max_{gamma in V} gamma'Y``
  over the vertices ``V`` of the dual polytope
  ``{gamma >= 0, gamma' sigma_tilde = 1, X' gamma = 0}``, which does not depend on
  ``theta`` or the data, so we enumerate it once. Conditional on the optimal
  vertex ``gamma`` and on ``S = Y - Sigma_Y gamma eta / (gamma' Sigma_Y gamma)``,
  ``eta`` is normal with variance ``gamma' Sigma_Y gamma`` truncated to
  ``[v_lo, v_up]`` (closed form over the vertices); the test rejects when
  ``eta / sigma_gamma`` exceeds ``max(0, q_{1-alpha})`` of that truncated
  standard normal (mean 0, the least favourable null). The hybrid first rejects
  if ``eta`` exceeds the least-favourable critical value ``c_LF`` (the
  ``1-kappa`` quantile of ``max_{gamma in V} gamma' xi``, ``xi ~ N(0, Sigma_Y)``,
  simulated; ``kappa = alpha/10``), and otherwise runs the conditional test at
  size ``(alpha - kappa)/(1 - kappa)`` with ``v_up`` capped at ``c_LF``. As in the
  R package, only the moments that involve post-period coefficients enter the RM
  test (``postPeriodMomentsOnly = TRUE``), the set is inverted over a grid of
  ``grid_points`` values of ``theta`` on ``[-20 sd, 20 sd]`` with
  ``sd = sqrt(l' Sigma_post l)`` (the R defaults), and the reported bounds are the
  smallest and largest accepted grid points (for RM, accepted by any of the
  polyhedra). ``refine=True`` then moves each bound to the boundary between the
  grid points by bisection, removing the grid's discretisation.

``original_cs`` is the usual interval ``l' betahat_post +/- z_{1-alpha/2} sd``.
The breakdown value is the largest ``M`` (or ``Mbar``) at which the robust set
still excludes the null (0 by default), found by bisection.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

__all__ = [
    "honest_sensitivity",
    "original_cs",
    "breakdown_value",
    "robust_interval",
    "arp_test",
    "flci",
    "identified_set",
    "sd_constraints",
    "rm_polyhedra",
    "event_study_inputs",
    "plot_sensitivity",
    "r_normal_draws",
    "RESULT_COLUMNS",
]

RESULT_COLUMNS = ("lb", "ub", "method", "delta", "M")
RESTRICTIONS = {"SD": "DeltaSD", "RM": "DeltaRM"}
METHODS = {"SD": ("FLCI", "Conditional", "C-LF"), "RM": ("C-LF", "Conditional")}
DEFAULT_METHOD = {"SD": "FLCI", "RM": "C-LF"}


# --------------------------------------------------------------------------- input


def _as_inputs(betahat, sigma, num_pre: int, num_post: int, l_vec):
    betahat = np.asarray(betahat, dtype=float).ravel()
    sigma = np.asarray(sigma, dtype=float)
    num_pre, num_post = int(num_pre), int(num_post)
    if num_pre < 1 or num_post < 1:
        raise ValueError(f"num_pre and num_post must be >= 1 (got {num_pre}, {num_post})")
    n = num_pre + num_post
    if betahat.size != n:
        raise ValueError(f"betahat has {betahat.size} entries; num_pre + num_post = {n}")
    if sigma.shape != (n, n):
        raise ValueError(f"sigma has shape {sigma.shape}; expected ({n}, {n})")
    if not (np.all(np.isfinite(betahat)) and np.all(np.isfinite(sigma))):
        raise ValueError("betahat and sigma must be finite")
    if not np.allclose(sigma, sigma.T, rtol=1e-8, atol=1e-14 * np.abs(sigma).max()):
        raise ValueError("sigma is not symmetric")
    sigma = (sigma + sigma.T) / 2
    if np.linalg.eigvalsh(sigma).min() < -1e-10 * np.abs(sigma).max():
        raise ValueError("sigma is not positive semi-definite")
    l_vec = _as_lvec(l_vec, num_post)
    return betahat, sigma, num_pre, num_post, l_vec


def _as_lvec(l_vec, num_post: int) -> np.ndarray:
    if l_vec is None:
        out = np.zeros(num_post)
        out[0] = 1.0
        return out
    if isinstance(l_vec, str):
        if l_vec == "average":
            return np.full(num_post, 1.0 / num_post)
        raise ValueError(f"l_vec must be a vector, None or 'average' (got {l_vec!r})")
    out = np.asarray(l_vec, dtype=float).ravel()
    if out.size != num_post:
        raise ValueError(f"l_vec has {out.size} entries; num_post = {num_post}")
    if not np.any(out != 0):
        raise ValueError("l_vec must not be all zeros")
    return out


# ---------------------------------------------------------------- restrictions


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


def _polyhedra(restriction: str, num_pre: int, num_post: int, M: float, post_moments_only=True):
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
    l_vec = _as_lvec(l_vec, num_post)
    restriction = _check_restriction(restriction)
    n = num_pre + num_post
    c = np.concatenate([np.zeros(num_pre), l_vec])
    a_eq = np.hstack([np.eye(num_pre), np.zeros((num_pre, num_post))])
    target = float(l_vec @ beta[num_pre:])
    lows, highs = [], []
    for _, a, d in _polyhedra(restriction, num_pre, num_post, M, post_moments_only=False):
        bounds = [(None, None)] * n
        hi = optimize.linprog(-c, A_ub=a, b_ub=d, A_eq=a_eq, b_eq=beta[:num_pre], bounds=bounds)
        lo = optimize.linprog(c, A_ub=a, b_ub=d, A_eq=a_eq, b_eq=beta[:num_pre], bounds=bounds)
        if hi.status == 2:  # infeasible: this polyhedron is incompatible with beta_pre
            continue
        max_bias = math.inf if hi.status == 3 else -hi.fun
        min_bias = -math.inf if lo.status == 3 else lo.fun
        lows.append(target - max_bias)
        highs.append(target - min_bias)
    if not lows:
        return (math.nan, math.nan)
    return (min(lows), max(highs))


def _check_restriction(restriction: str) -> str:
    key = str(restriction).upper().replace("DELTA", "")
    if key not in RESTRICTIONS:
        raise ValueError(f"restriction must be 'SD' or 'RM' (got {restriction!r})")
    return key


# ------------------------------------------------------- R-compatible draws


def r_normal_draws(n: int, seed: int = 0) -> np.ndarray:
    """The first ``n`` values of R's ``set.seed(seed); rnorm(n)``.

    R's defaults: Mersenne-Twister seeded by R's ``set.seed`` scrambling (the seed
    passed 50 times through ``seed = 69069 seed + 1``, then 625 further values,
    the first of which is the position counter), uniforms ``int32 * 2^-32`` kept
    inside (0, 1), and normals by inversion from two uniforms,
    ``qnorm((floor(2^27 u1) + u2) / 2^27)``. Used only by ``r_compat=True``, to
    reproduce the Monte Carlo quantities the R package draws with ``seed = 0``
    (checked against R: ``set.seed(0); rnorm(1)`` is 1.262954).
    """
    state = int(seed) & 0xFFFFFFFF
    for _ in range(50):
        state = (69069 * state + 1) & 0xFFFFFFFF
    key = np.empty(625, dtype=np.uint32)
    for j in range(625):
        state = (69069 * state + 1) & 0xFFFFFFFF
        key[j] = state
    bitgen = np.random.MT19937()
    bitgen.state = {"bit_generator": "MT19937", "state": {"key": key[1:], "pos": 624}}
    raw = bitgen.random_raw(2 * int(n)).astype(np.float64) * 2.3283064365386963e-10
    half_ulp = 0.5 * 2.328306437080797e-10
    raw = np.clip(raw, half_ulp, 1.0 - half_ulp)
    big = 134217728.0
    return special.ndtri((np.floor(big * raw[0::2]) + raw[1::2]) / big)


def _mvnormal_draws(sigma: np.ndarray, n: int, seed: int, r_compat: bool) -> np.ndarray:
    """``n`` draws of ``N(0, sigma)`` as rows: ``Z sigma^(1/2)`` with the symmetric
    (eigen) square root and ``Z`` filled row by row, as R's ``mvtnorm::rmvnorm``."""
    d = sigma.shape[0]
    if r_compat:
        z = r_normal_draws(n * d, seed).reshape(n, d)
    else:
        z = np.random.default_rng(seed).standard_normal((n, d))
    vals, vecs = np.linalg.eigh(sigma)
    root = (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T
    return z @ root


class _SimulatedFoldedNormal:
    """R's ``.qfoldednormal``: the ``p`` quantile of ``|Z + t|`` over 10^6 fixed draws
    ``Z`` (``set.seed(seed); rnorm(1e6)``), sample quantile of type 7."""

    def __init__(self, seed: int = 0, n: int = 1_000_000):
        self.draws = r_normal_draws(n, seed)

    def __call__(self, p: float, t: float) -> float:
        return float(np.quantile(np.abs(self.draws + t), p))


_SIM_CACHE: dict[int, _SimulatedFoldedNormal] = {}


# ----------------------------------------------------------------------- FLCI


def _folded_normal_quantile(p: float, t: float) -> float:
    """``cv`` with ``P(|N(t, 1)| <= cv) = p``: the ``p`` quantile of ``|N(t,1)|``."""
    t = abs(t)

    def coverage(c):
        return stats.norm.cdf(c - t) - stats.norm.cdf(-c - t) - p

    hi = t + stats.norm.ppf(p) + 10.0
    return optimize.brentq(coverage, 0.0, hi, xtol=1e-14, rtol=1e-14)


def _sd_bias_basis(num_pre: int, num_post: int) -> np.ndarray:
    """Matrix ``T`` with ``delta = T (c, D)``: ``c = delta_0 - delta_{-1}`` (the slope at
    the reference period) and ``D_j`` the second differences at
    ``j = -num_pre+1, ..., num_post-1``. ``delta_0 = 0`` is left out of ``delta``."""
    n_d = num_pre + num_post - 1
    cols = []
    for k in range(1 + n_d):
        params = np.zeros(1 + n_d)
        params[k] = 1.0
        slope0, second = params[0], params[1:]
        # first differences Delta_t = delta_t - delta_{t-1}, t = -num_pre+1 .. num_post
        first = {0: slope0}
        for t in range(0, num_post):  # Delta_{t+1} = Delta_t + D_t
            first[t + 1] = first[t] + second[t + num_pre - 1]
        for t in range(0, -num_pre + 1, -1):  # Delta_{t-1} = Delta_t - D_{t-1}
            first[t - 1] = first[t] - second[t - 1 + num_pre - 1]
        delta = {0: 0.0}
        for t in range(1, num_post + 1):
            delta[t] = delta[t - 1] + first[t]
        for t in range(0, -num_pre, -1):
            delta[t - 1] = delta[t] - first[t]
        cols.append([delta[t] for t in range(-num_pre, 0)] + [delta[t] for t in range(1, num_post + 1)])
    return np.array(cols).T


@dataclass
class FLCIResult:
    """The optimal FLCI: ``estimate +/- half_length``; ``weights`` is the full
    ``(v, l)`` vector of the affine estimator, ``max_bias`` its worst-case bias over
    ``Delta^SD(M)`` and ``sd`` its standard deviation."""

    lb: float
    ub: float
    estimate: float
    half_length: float
    weights: np.ndarray
    max_bias: float
    sd: float


def flci(
    betahat, sigma, num_pre: int, num_post: int, M: float = 0.0, l_vec=None, alpha: float = 0.05,
    r_compat: bool = False, seed: int = 0,
):
    """Optimal fixed-length confidence interval for ``theta`` under ``Delta^SD(M)``.

    See the module docstring. The worst-case bias per unit of ``M`` of
    ``w' betahat`` (``w = (v, l)``) is ``sum_j |(T' w)_j|`` over the second-difference
    coordinates, subject to ``(T' w)_0 = 0`` (no bias from a linear trend), where
    ``T = _sd_bias_basis``. The frontier ``h(b) = min {sd(v) : bias(v) <= b}`` is
    computed by quadratic programming for ``b`` between the smallest attainable bias
    and the bias of the minimum-variance unbiased-for-linear-trends estimator, and
    ``cv_alpha(M b / h(b)) h(b)`` is minimised over ``b`` (grid, then bounded Brent).

    ``cv_alpha`` is the exact folded-normal quantile. With ``r_compat=True`` it is
    the R package's Monte Carlo version (quantile over 10^6 normal draws from R's
    ``set.seed(seed)``), which moves the bounds by up to a few 1e-5 here.
    """
    betahat, sigma, num_pre, num_post, l_vec = _as_inputs(betahat, sigma, num_pre, num_post, l_vec)
    if M < 0:
        raise ValueError(f"M must be >= 0 (got {M})")
    scale = math.sqrt(np.mean(np.diag(sigma)))  # work in units of a typical SE
    sig = sigma / scale**2
    m_s = M / scale
    basis = _sd_bias_basis(num_pre, num_post)
    tp, tq = basis[:num_pre].T, basis[num_pre:].T  # contributions of v and of l
    const = tq @ l_vec  # (1 + n_d,)
    # equality: slope coefficient zero; bias vector g(v) = tp[1:] v + const[1:]
    a_eq, b_eq = tp[:1], -const[:1]
    g_mat, g_const = tp[1:], const[1:]
    s_pp, s_pq, s_qq = sig[:num_pre, :num_pre], sig[:num_pre, num_pre:], sig[num_pre:, num_pre:]

    def variance(v):
        return float(v @ s_pp @ v + 2 * v @ s_pq @ l_vec + l_vec @ s_qq @ l_vec)

    def bias(v):
        return float(np.abs(g_mat @ v + g_const).sum())

    # minimum-variance estimator unbiased for linear trends (equality-constrained QP)
    kkt = np.block([[2 * s_pp, a_eq.T], [a_eq, np.zeros((1, 1))]])
    rhs = np.concatenate([-2 * s_pq @ l_vec, b_eq])
    v_minvar = np.linalg.lstsq(kkt, rhs, rcond=None)[0][:num_pre]
    b_max = bias(v_minvar)
    # smallest attainable bias (LP in (v, u))
    n_g = g_mat.shape[0]
    c_lp = np.concatenate([np.zeros(num_pre), np.ones(n_g)])
    a_ub = np.block([[g_mat, -np.eye(n_g)], [-g_mat, -np.eye(n_g)]])
    b_ub = np.concatenate([-g_const, g_const])
    lp = optimize.linprog(
        c_lp, A_ub=a_ub, b_ub=b_ub, A_eq=np.hstack([a_eq, np.zeros((1, n_g))]), b_eq=b_eq,
        bounds=[(None, None)] * num_pre + [(0, None)] * n_g,
    )
    if lp.status != 0:
        raise RuntimeError(f"FLCI: minimum-bias programme failed ({lp.message})")
    v_minbias = lp.x[:num_pre]
    b_min = bias(v_minbias)

    def frontier(b, start):
        """min variance s.t. bias <= b, linear-trend unbiasedness; returns v."""
        if b >= b_max - 1e-12:
            return v_minvar
        x0 = np.concatenate([start, np.abs(g_mat @ start + g_const)])
        cons = [
            {"type": "eq", "fun": lambda x: a_eq @ x[:num_pre] - b_eq, "jac": lambda x: np.hstack([a_eq, np.zeros((1, n_g))])},
            {"type": "ineq", "fun": lambda x: -(a_ub @ x - b_ub), "jac": lambda x: -a_ub},
            {"type": "ineq", "fun": lambda x: np.array([b - x[num_pre:].sum()]),
             "jac": lambda x: np.concatenate([np.zeros(num_pre), -np.ones(n_g)])[None, :]},
        ]
        res = optimize.minimize(
            lambda x: variance(x[:num_pre]),
            x0,
            jac=lambda x: np.concatenate([2 * s_pp @ x[:num_pre] + 2 * s_pq @ l_vec, np.zeros(n_g)]),
            constraints=cons,
            method="SLSQP",
            options={"ftol": 1e-15, "maxiter": 1000},
        )
        return res.x[:num_pre]

    z = 1 - alpha
    if r_compat:
        if seed not in _SIM_CACHE:
            _SIM_CACHE[seed] = _SimulatedFoldedNormal(seed)
        quantile = _SIM_CACHE[seed]
    else:
        quantile = _folded_normal_quantile

    def half_length(v):
        h = math.sqrt(max(variance(v), 0.0))
        return quantile(z, m_s * bias(v) / h) * h

    cache: dict[float, np.ndarray] = {}

    def v_at(frac):
        frac = float(min(max(frac, 0.0), 1.0))
        if frac not in cache:
            b = b_min + frac * (b_max - b_min)
            start = v_minbias + frac * (v_minvar - v_minbias)
            cache[frac] = frontier(b, start)
        return cache[frac]

    if m_s == 0 or b_max - b_min <= 1e-12 * max(1.0, b_max):
        v_best = v_minvar
    else:
        grid = np.linspace(0.0, 1.0, 21)
        values = [half_length(v_at(f)) for f in grid]
        i = int(np.argmin(values))
        lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
        res = optimize.minimize_scalar(
            lambda f: half_length(v_at(f)), bounds=(lo, hi), method="bounded",
            options={"xatol": 1e-10},
        )
        cands = [(values[i], grid[i]), (float(res.fun), float(res.x))]
        v_best = v_at(min(cands)[1])
    weights = np.concatenate([v_best, l_vec])
    sd = math.sqrt(variance(v_best)) * scale
    max_bias = M * bias(v_best)
    chi = half_length(v_best) * scale
    estimate = float(weights @ betahat)
    return FLCIResult(estimate - chi, estimate + chi, estimate, chi, weights, max_bias, sd)


# ------------------------------------------------------------------ ARP tests


def _dual_vertices(sd_y: np.ndarray, x: np.ndarray, max_combinations: int = 500_000) -> np.ndarray:
    """Vertices of ``{gamma >= 0 : gamma' sd_y = 1, x' gamma = 0}`` (rows)."""
    m = sd_y.size
    w = np.vstack([sd_y[None, :], x.T]) if x.size else sd_y[None, :]
    e1 = np.zeros(w.shape[0])
    e1[0] = 1.0
    rank = np.linalg.matrix_rank(w)
    n_comb = math.comb(m, rank)
    if n_comb > max_combinations:
        raise ValueError(
            f"ARP test: {n_comb} candidate dual vertices ({m} moments, {rank - 1} nuisance "
            "parameters); use fewer post-periods or method='FLCI'"
        )
    found = []
    for cols in itertools.combinations(range(m), rank):
        wb = w[:, cols]
        if np.linalg.matrix_rank(wb) < rank:
            continue
        sol, *_ = np.linalg.lstsq(wb, e1, rcond=None)
        if np.abs(wb @ sol - e1).max() > 1e-9 or sol.min() < -1e-10:
            continue
        g = np.zeros(m)
        g[list(cols)] = np.clip(sol, 0.0, None)
        found.append(g)
    if not found:
        return np.zeros((0, m))
    verts = np.array(found)
    _, keep = np.unique(np.round(verts, 10), axis=0, return_index=True)
    return verts[np.sort(keep)]


@dataclass
class _ARPProblem:
    """One polyhedron ``{A delta <= d}`` set up for testing ``theta`` values."""

    y0: np.ndarray  # A betahat - d
    a_theta: np.ndarray  # A_post u: Y(theta) = y0 - a_theta * theta
    sigma_y: np.ndarray
    vertices: np.ndarray
    lf_cv: float | None


def _setup_arp(betahat, sigma, num_pre, num_post, l_vec, a, d, hybrid, kappa, lf_sims, seed, r_compat):
    a_post = a[:, num_pre:]
    u = l_vec / (l_vec @ l_vec)
    null = np.linalg.svd(l_vec[None, :])[2][1:].T  # basis of {x : l'x = 0}
    x = a_post @ null if null.size else np.zeros((a.shape[0], 0))
    sigma_y = a @ sigma @ a.T
    sd_y = np.sqrt(np.clip(np.diag(sigma_y), 0.0, None))
    if np.any(sd_y <= 0):
        raise ValueError("a moment of the restriction has zero variance; check sigma")
    vertices = _dual_vertices(sd_y, x)
    lf_cv = None
    if hybrid == "LF" and vertices.shape[0]:
        xi = _mvnormal_draws(sigma_y, lf_sims, seed, r_compat)
        lf_cv = float(np.quantile((xi @ vertices.T).max(axis=1), 1 - kappa))
    return _ARPProblem(a @ betahat - d, a_post @ u, sigma_y, vertices, lf_cv)


def _arp_accept(problem: _ARPProblem, thetas: np.ndarray, alpha: float, hybrid: str, kappa: float):
    """Vectorised ARP conditional / LF-hybrid test; True where ``theta`` is accepted."""
    thetas = np.atleast_1d(np.asarray(thetas, dtype=float))
    verts = problem.vertices
    if verts.shape[0] == 0:  # eta = -inf: the moments can always be satisfied
        return np.ones(thetas.size, dtype=bool)
    y = problem.y0[:, None] - problem.a_theta[:, None] * thetas[None, :]  # m x G
    vals = verts @ y  # V x G
    best = vals.argmax(axis=0)
    eta = vals[best, np.arange(thetas.size)]
    gamma = verts[best]  # G x m
    sg = gamma @ problem.sigma_y  # G x m
    var_g = np.einsum("gm,gm->g", sg, gamma)
    accept = np.ones(thetas.size, dtype=bool)
    tiny = var_g < 1e-14 * np.abs(problem.sigma_y).max()
    accept[tiny] = eta[tiny] <= 0
    ok = ~tiny
    if not ok.any():
        return accept
    b = (sg[ok] / var_g[ok, None]).T  # m x G'
    s = y[:, ok] - b * eta[ok][None, :]
    vs = verts @ s
    den = 1.0 - verts @ b
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = vs / den
    lower = np.where(den > 1e-10, ratio, -np.inf).max(axis=0)
    upper = np.where(den < -1e-10, ratio, np.inf).min(axis=0)
    sd_g = np.sqrt(var_g[ok])
    eta_ok = eta[ok]
    size = alpha
    if hybrid == "LF":
        size = (alpha - kappa) / (1 - kappa)
        upper = np.minimum(upper, problem.lf_cv)
    z_lo, z_up, stat = lower / sd_g, upper / sd_g, eta_ok / sd_g
    inside = (z_lo <= stat + 1e-12) & (stat <= z_up + 1e-12)
    cval = np.zeros_like(stat)
    valid = inside & (z_up > z_lo)
    cval[valid] = np.maximum(0.0, stats.truncnorm.ppf(1 - size, z_lo[valid], z_up[valid]))
    reject = inside & (stat > cval)
    if hybrid == "LF":
        reject |= eta_ok > problem.lf_cv
    accept[ok] = ~reject
    return accept


def _default_grid(betahat, sigma, num_pre, num_post, l_vec, restriction, M, grid_lb, grid_ub):
    """``[id_lb - 20 sd, id_ub + 20 sd]``: the identified set at ``beta = betahat``
    widened by 20 standard deviations of ``l' betahat_post`` (the R package's default
    for ``Delta^RM``)."""
    sd_theta = math.sqrt(float(l_vec @ sigma[num_pre:, num_pre:] @ l_vec))
    if grid_lb is None or grid_ub is None:
        id_lb, id_ub = identified_set(betahat, num_pre, num_post, restriction, M, l_vec)
        if not (math.isfinite(id_lb) and math.isfinite(id_ub)):
            id_lb = id_ub = float(l_vec @ betahat[num_pre:])
    lb = id_lb - 20 * sd_theta if grid_lb is None else float(grid_lb)
    ub = id_ub + 20 * sd_theta if grid_ub is None else float(grid_ub)
    if not ub > lb:
        raise ValueError(f"grid_ub must exceed grid_lb (got {lb}, {ub})")
    return lb, ub


def _acceptor(betahat, sigma, num_pre, num_post, restriction, M, l_vec, alpha, method, lf_sims, seed,
              r_compat):
    hybrid = "LF" if method == "C-LF" else "ARP"
    kappa = alpha / 10
    if lf_sims is None:
        lf_sims = 1000 if r_compat else 10_000
    problems = [
        _setup_arp(betahat, sigma, num_pre, num_post, l_vec, a, d, hybrid, kappa, int(lf_sims),
                   seed, r_compat)
        for _, a, d in _polyhedra(restriction, num_pre, num_post, M)
    ]

    def accepted(thetas):
        thetas = np.atleast_1d(np.asarray(thetas, dtype=float))
        out = np.zeros(thetas.size, dtype=bool)
        for p in problems:
            out |= _arp_accept(p, thetas, alpha, hybrid, kappa)
        return out

    return accepted


def arp_test(
    betahat, sigma, num_pre: int, num_post: int, theta, restriction: str = "RM", M: float = 0.0,
    l_vec=None, alpha: float = 0.05, method: str = "C-LF", lf_sims: int | None = None, seed: int = 0,
    r_compat: bool = False,
) -> np.ndarray:
    """Whether the ARP test (``"C-LF"`` or ``"Conditional"``) accepts each ``theta``
    (for RM: accepted by at least one of the polyhedra). The confidence set of
    :func:`robust_interval` is the set of accepted values."""
    betahat, sigma, num_pre, num_post, l_vec = _as_inputs(betahat, sigma, num_pre, num_post, l_vec)
    restriction = _check_restriction(restriction)
    if method not in ("C-LF", "Conditional"):
        raise ValueError(f"arp_test: method must be 'C-LF' or 'Conditional' (got {method!r})")
    return _acceptor(betahat, sigma, num_pre, num_post, restriction, M, l_vec, alpha, method, lf_sims,
                     seed, r_compat)(theta)


def robust_interval(
    betahat,
    sigma,
    num_pre: int,
    num_post: int,
    restriction: str = "SD",
    M: float = 0.0,
    l_vec=None,
    alpha: float = 0.05,
    method: str | None = None,
    grid_points: int = 1000,
    grid_lb: float | None = None,
    grid_ub: float | None = None,
    refine: bool = False,
    lf_sims: int | None = None,
    seed: int = 0,
    r_compat: bool = False,
) -> tuple[float, float]:
    """One robust confidence interval ``(lb, ub)`` for ``theta`` under ``restriction(M)``.

    ``method`` defaults to ``"FLCI"`` for SD and ``"C-LF"`` for RM. Test-inversion
    methods return ``(nan, nan)`` when no grid point is accepted and warn when an
    accepted point is at the end of the grid (the set may extend beyond it).
    ``lf_sims`` draws give the least-favourable critical value of ``"C-LF"``
    (default 10,000 from ``numpy.random.default_rng(seed)``; each polyhedron uses
    the same seed, as the R package does). ``r_compat=True`` reproduces the R
    package's Monte Carlo exactly: 1,000 draws from R's ``set.seed(seed)`` stream for
    ``c_LF`` and R's simulated folded-normal quantile in the FLCI.
    """
    betahat, sigma, num_pre, num_post, l_vec = _as_inputs(betahat, sigma, num_pre, num_post, l_vec)
    restriction = _check_restriction(restriction)
    method = DEFAULT_METHOD[restriction] if method is None else method
    if method not in METHODS[restriction]:
        raise ValueError(f"method for {restriction} must be one of {METHODS[restriction]} (got {method!r})")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1) (got {alpha})")
    if M < 0:
        raise ValueError(f"M must be >= 0 (got {M})")
    if method == "FLCI":
        res = flci(betahat, sigma, num_pre, num_post, M=M, l_vec=l_vec, alpha=alpha,
                   r_compat=r_compat, seed=seed)
        return res.lb, res.ub
    accepted = _acceptor(betahat, sigma, num_pre, num_post, restriction, M, l_vec, alpha, method,
                         lf_sims, seed, r_compat)
    lb, ub = _default_grid(betahat, sigma, num_pre, num_post, l_vec, restriction, M, grid_lb, grid_ub)
    grid = np.linspace(lb, ub, int(grid_points))
    acc = accepted(grid)
    if not acc.any():
        return (math.nan, math.nan)
    idx = np.flatnonzero(acc)
    lo_i, hi_i = idx[0], idx[-1]
    if lo_i == 0 or hi_i == grid.size - 1:
        warnings.warn("robust confidence set is open at an end of the grid; widen grid_lb/grid_ub",
                      stacklevel=2)
    low, high = grid[lo_i], grid[hi_i]
    if refine:
        if lo_i > 0:
            low = _bisect_boundary(accepted, grid[lo_i - 1], grid[lo_i])
        if hi_i < grid.size - 1:
            high = _bisect_boundary(accepted, grid[hi_i + 1], grid[hi_i])
    return (float(low), float(high))


def _bisect_boundary(accepted, rejected_at, accepted_at, iters: int = 50):
    for _ in range(iters):
        mid = (rejected_at + accepted_at) / 2
        if accepted(np.array([mid]))[0]:
            accepted_at = mid
        else:
            rejected_at = mid
    return (rejected_at + accepted_at) / 2


# ---------------------------------------------------------------- public API


def original_cs(betahat, sigma, num_pre: int, num_post: int, l_vec=None, alpha: float = 0.05) -> pd.DataFrame:
    """The usual (non-robust) interval ``l' betahat_post +/- z_{1-alpha/2} sd``,
    ``sd = sqrt(l' Sigma_post l)`` (normal critical value, as HonestDiD's
    ``constructOriginalCS``). One row: ``lb, ub, method="Original", delta=None, M=nan``."""
    betahat, sigma, num_pre, num_post, l_vec = _as_inputs(betahat, sigma, num_pre, num_post, l_vec)
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
    betahat, sigma, num_pre, num_post, l_vec = _as_inputs(betahat, sigma, num_pre, num_post, l_vec)
    restriction = _check_restriction(restriction)
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
    betahat, sigma, num_pre, num_post, l_vec = _as_inputs(betahat, sigma, num_pre, num_post, l_vec)
    restriction = _check_restriction(restriction)
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
