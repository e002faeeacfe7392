"""The ARP moment-inequality tests (``"Conditional"``, ``"C-LF"``, the default for RM)
and the robust interval at one ``M`` by inverting them (or by the FLCI).

Test inversion of the conditional (``"Conditional"``) or conditional-least-favourable
hybrid (``"C-LF"``) moment-inequality test of Andrews, Roth & Pakes (2023, "ARP"), RR
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
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

from evaluation.methods.honest_did.arguments import DEFAULT_METHOD, METHODS, as_inputs, check_restriction
from evaluation.methods.honest_did.fixed_length_ci import flci
from evaluation.methods.honest_did.r_random_draws import mvnormal_draws
from evaluation.methods.honest_did.restrictions import identified_set, polyhedra


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
    combos = list(itertools.combinations(range(m), rank))
    # the ranks of the blocks w[:, cols] in batched SVDs (the same LAPACK call per block as one by one)
    full_rank = np.concatenate([np.linalg.matrix_rank(w[:, combos[i:i + 4096]].transpose(1, 0, 2)) == rank
                                for i in range(0, len(combos), 4096)])
    found = []
    for cols in itertools.compress(combos, full_rank):
        wb = w[:, cols]
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
        xi = mvnormal_draws(sigma_y, lf_sims, seed, r_compat)
        # the max over vertices of each draw, taken over a (vertices x draws) copy: numpy reduces
        # a long contiguous axis many times faster than the short rows of the draws x vertices product
        lf_cv = float(np.quantile(np.ascontiguousarray((xi @ vertices.T).T).max(axis=0), 1 - kappa))
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
    # the truncated-normal quantile, the costly step, only where it decides: cval >= 0 is never
    # exceeded by stat <= 0, and the hybrid rejects eta > c_LF whatever cval is
    decides = inside & (z_up > z_lo) & (stat > 0)
    if hybrid == "LF":
        decides &= eta_ok <= problem.lf_cv
    cval[decides] = np.maximum(0.0, stats.truncnorm.ppf(1 - size, z_lo[decides], z_up[decides]))
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
        for _, a, d in polyhedra(restriction, num_pre, num_post, M)
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
    betahat, sigma, num_pre, num_post, l_vec = as_inputs(betahat, sigma, num_pre, num_post, l_vec)
    restriction = check_restriction(restriction)
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
    betahat, sigma, num_pre, num_post, l_vec = as_inputs(betahat, sigma, num_pre, num_post, l_vec)
    restriction = check_restriction(restriction)
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
