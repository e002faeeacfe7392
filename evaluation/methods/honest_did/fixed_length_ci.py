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

import functools
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


class _Frontier:
    """The bias-variance frontier of the affine estimators of ``l' tau_post``, which does not
    depend on ``M`` (``M`` only scales the bias in the half-length): the minimum-variance and
    the minimum-bias weights and, for a fraction ``f`` of the way from the smallest bias
    ``b_min`` to ``b_max``, the minimum-variance weights ``v_at(f)`` with bias at most
    ``b_min + f (b_max - b_min)``. Kept per event study and target (:func:`_frontier`): a
    sensitivity analysis and a breakdown search ask for the same points at every ``M``."""

    def __init__(self, sigma: np.ndarray, num_pre: int, num_post: int, l_vec: np.ndarray):
        self.num_pre, self.l_vec = num_pre, l_vec
        self.scale = math.sqrt(np.mean(np.diag(sigma)))  # work in units of a typical SE
        sig = sigma / self.scale**2
        basis = _sd_bias_basis(num_pre, num_post)
        tp, tq = basis[:num_pre].T, basis[num_pre:].T  # contributions of v and of l
        const = tq @ l_vec  # (1 + n_d,)
        # equality: slope coefficient zero; bias vector g(v) = tp[1:] v + const[1:]
        self.a_eq, self.b_eq = tp[:1], -const[:1]
        self.g_mat, self.g_const = tp[1:], const[1:]
        self.s_pp, self.s_pq = sig[:num_pre, :num_pre], sig[:num_pre, num_pre:]
        self.var_l = l_vec @ sig[num_pre:, num_pre:] @ l_vec  # the variance of l' betahat_post
        # minimum-variance estimator unbiased for linear trends (equality-constrained QP)
        kkt = np.block([[2 * self.s_pp, self.a_eq.T], [self.a_eq, np.zeros((1, 1))]])
        rhs = np.concatenate([-2 * self.s_pq @ l_vec, self.b_eq])
        self.v_minvar = np.linalg.lstsq(kkt, rhs, rcond=None)[0][:num_pre]
        self.b_max = self.bias(self.v_minvar)
        # smallest attainable bias (LP in (v, u))
        n_g = self.g_mat.shape[0]
        c_lp = np.concatenate([np.zeros(num_pre), np.ones(n_g)])
        self.a_ub = np.block([[self.g_mat, -np.eye(n_g)], [-self.g_mat, -np.eye(n_g)]])
        self.b_ub = np.concatenate([-self.g_const, self.g_const])
        self.a_eq_vu = np.hstack([self.a_eq, np.zeros((1, n_g))])
        lp = optimize.linprog(
            c_lp, A_ub=self.a_ub, b_ub=self.b_ub, A_eq=self.a_eq_vu, b_eq=self.b_eq,
            bounds=[(None, None)] * num_pre + [(0, None)] * n_g,
        )
        if lp.status != 0:
            raise RuntimeError(f"FLCI: minimum-bias programme failed ({lp.message})")
        self.v_minbias = lp.x[:num_pre]
        self.b_min = self.bias(self.v_minbias)
        # the constant Jacobians of the frontier's programme (see _solve)
        self.sum_jac = np.concatenate([np.zeros(num_pre), -np.ones(n_g)])[None, :]
        self.two_s_pp, self.two_s_pq_l, self.zeros_u = 2 * self.s_pp, 2 * self.s_pq @ l_vec, np.zeros(n_g)
        self._v: dict[float, np.ndarray] = {}

    def variance(self, v):
        return float(v @ self.s_pp @ v + 2 * v @ self.s_pq @ self.l_vec + self.var_l)

    def bias(self, v):
        return float(np.abs(self.g_mat @ v + self.g_const).sum())

    def _solve(self, b, start):
        """min variance s.t. bias <= b, linear-trend unbiasedness; returns v. In ``x = (v, u)``:
        ``a_eq v = b_eq``, ``|g(v)| <= u``, ``sum u <= b``."""
        if b >= self.b_max - 1e-12:
            return self.v_minvar
        num_pre = self.num_pre
        x0 = np.concatenate([start, np.abs(self.g_mat @ start + self.g_const)])
        cons = [
            {"type": "eq", "fun": lambda x: self.a_eq @ x[:num_pre] - self.b_eq, "jac": lambda x: self.a_eq_vu},
            {"type": "ineq", "fun": lambda x: -(self.a_ub @ x - self.b_ub), "jac": lambda x: -self.a_ub},
            {"type": "ineq", "fun": lambda x: np.array([b - x[num_pre:].sum()]), "jac": lambda x: self.sum_jac},
        ]
        res = optimize.minimize(
            lambda x: self.variance(x[:num_pre]),
            x0,
            jac=lambda x: np.concatenate([self.two_s_pp @ x[:num_pre] + self.two_s_pq_l, self.zeros_u]),
            constraints=cons,
            method="SLSQP",
            options={"ftol": 1e-15, "maxiter": 1000},
        )
        return res.x[:num_pre]

    def v_at(self, frac):
        frac = float(min(max(frac, 0.0), 1.0))
        if frac not in self._v:
            b = self.b_min + frac * (self.b_max - self.b_min)
            start = self.v_minbias + frac * (self.v_minvar - self.v_minbias)
            self._v[frac] = self._solve(b, start)
        return self._v[frac]


@functools.lru_cache(maxsize=16)
def _cached_frontier(num_pre: int, num_post: int, sigma: bytes, l_vec: bytes) -> _Frontier:
    n = num_pre + num_post
    return _Frontier(np.frombuffer(sigma).reshape(n, n), num_pre, num_post, np.frombuffer(l_vec))


def _frontier(sigma: np.ndarray, num_pre: int, num_post: int, l_vec: np.ndarray) -> _Frontier:
    """The :class:`_Frontier` of ``(sigma, l_vec)``, built once per distinct pair (keyed by
    their bytes, so only an identical event study and target share one)."""
    return _cached_frontier(num_pre, num_post, np.ascontiguousarray(sigma, dtype=float).tobytes(),
                            np.ascontiguousarray(l_vec, dtype=float).tobytes())


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
    front = _frontier(sigma, num_pre, num_post, l_vec)
    scale, variance, bias, v_at = front.scale, front.variance, front.bias, front.v_at
    m_s = M / scale

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

    if m_s == 0 or front.b_max - front.b_min <= 1e-12 * max(1.0, front.b_max):
        v_best = front.v_minvar
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
