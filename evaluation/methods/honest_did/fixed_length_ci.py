"""The optimal fixed-length confidence interval (``"FLCI"``, the default for SD).

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
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats

from evaluation.methods.honest_did.arguments import as_inputs
from evaluation.methods.honest_did.r_random_draws import SimulatedFoldedNormal

_SIM_CACHE: dict[int, SimulatedFoldedNormal] = {}


def _folded_normal_quantile(p: float, t: float) -> float:
    """``cv`` with ``P(|N(t, 1)| <= cv) = p``: the ``p`` quantile of ``|N(t,1)|``."""
    t = abs(t)

    def coverage(c):  # special.ndtr is the normal cdf stats.norm.cdf calls, without its per-call overhead
        return special.ndtr(c - t) - special.ndtr(-c - t) - p

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
    betahat, sigma, num_pre, num_post, l_vec = as_inputs(betahat, sigma, num_pre, num_post, l_vec)
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
            _SIM_CACHE[seed] = SimulatedFoldedNormal(seed)
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
