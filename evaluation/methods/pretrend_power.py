"""Power of pre-trend tests against a linear violation of parallel trends (Roth 2022).

Roth, J. (2022), "Pretest with caution: event-study estimates after testing for parallel
trends", *AER: Insights* 4(3), 305-322. The author's R package ``pretrends`` has no
maintained Python counterpart, so the formulas are written here from the paper.

Set-up: event-study estimates ``b ~ N(beta + delta, Sigma)`` over relative times ``t``
(the reference period ``r``, usually ``-1``, is left out), ``num_pre`` pre-period terms
first, then ``num_post`` post-period terms (the order HonestDiD uses). A linear violation
of slope ``gamma`` per period is ``delta_t = gamma (t - r)``; before the start
``beta_t = 0``, so the pre-period estimates have mean ``delta_pre``.

Two pretests, both at level ``alpha``:

* ``"wald"``: reject when ``W = b_pre' Sigma_pre^-1 b_pre > chi2_{k, 1-alpha}``. Under the
  trend ``W ~ chi2_k(lambda)`` with ``lambda = gamma^2 d' Sigma_pre^-1 d``, ``d = t_pre - r``:
  the power is a noncentral chi-square tail, in closed form.
* ``"individual"``: reject when any ``|b_j| / se_j > z_{1-alpha/2}`` (Roth's "no significant
  pre-period coefficient"). Passing is the probability of a box under
  ``N(delta_pre / se, R)``, ``R`` the correlation matrix: multivariate normal integration
  (``method="mvn"``, Genz's algorithm in scipy) or simulation (``method="simulate"``).

The bias of the post-period estimates under the trend is ``delta_post`` unconditionally;
conditional on passing the pretest it is
``delta_post + Sigma_post,pre Sigma_pre^-1 (E[b_pre | pass] - delta_pre)`` (Roth's eq. 3),
with ``E[b_pre | pass]`` by simulation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize, stats

TESTS = ("wald", "individual")


def _split(sigma, num_pre: int) -> tuple[np.ndarray, np.ndarray]:
    sigma = np.asarray(sigma, dtype=float)
    return sigma[:num_pre, :num_pre], sigma[num_pre:, :num_pre]


def wald_power(slope: float, d_pre, sigma_pre, alpha: float = 0.05) -> float:
    """P(chi2_k(lambda) > chi2_{k,1-alpha}), ``lambda = slope^2 d' Sigma_pre^-1 d``."""
    d_pre = np.asarray(d_pre, dtype=float)
    k = len(d_pre)
    lam = slope**2 * float(d_pre @ np.linalg.solve(np.asarray(sigma_pre, dtype=float), d_pre))
    crit = stats.chi2.isf(alpha, k)
    return float(stats.ncx2.sf(crit, k, lam)) if lam > 0 else alpha


def pass_probability(mean_pre, sigma_pre, alpha: float = 0.05, method: str = "mvn",
                     draws: int = 200_000, seed: int = 0) -> float:
    """P(every |b_j| / se_j <= z_{1-alpha/2}) for ``b_pre ~ N(mean_pre, Sigma_pre)``."""
    sigma_pre = np.asarray(sigma_pre, dtype=float)
    se = np.sqrt(np.diag(sigma_pre))
    z = stats.norm.isf(alpha / 2)
    mu = np.asarray(mean_pre, dtype=float) / se
    corr = sigma_pre / np.outer(se, se)
    if method == "mvn":
        if len(mu) == 1:
            return float(stats.norm.cdf(z - mu[0]) - stats.norm.cdf(-z - mu[0]))
        mvn = stats.multivariate_normal(mean=mu, cov=corr, seed=seed)
        return float(mvn.cdf(np.full(len(mu), z), lower_limit=np.full(len(mu), -z)))
    if method == "simulate":
        x = np.random.default_rng(seed).multivariate_normal(mu, corr, size=draws, method="cholesky")
        return float(np.mean(np.all(np.abs(x) <= z, axis=1)))
    raise ValueError(f"method must be 'mvn' or 'simulate', not {method!r}")


def power(slope: float, d_pre, sigma_pre, test: str = "individual", alpha: float = 0.05, **kwargs) -> float:
    """Probability that ``test`` rejects under the linear violation of ``slope`` per period."""
    if test == "wald":
        return wald_power(slope, d_pre, sigma_pre, alpha)
    if test == "individual":
        return 1.0 - pass_probability(slope * np.asarray(d_pre, dtype=float), sigma_pre, alpha, **kwargs)
    raise ValueError(f"test must be one of {TESTS}, not {test!r}")


def slope_for_power(target: float, d_pre, sigma_pre, test: str = "individual", alpha: float = 0.05,
                    known: dict | None = None, **kwargs) -> float:
    """The slope ``gamma >= 0`` at which ``test`` rejects with probability ``target``
    (power is symmetric in the sign of the slope and increasing in its size). ``known``:
    ``{slope: power}`` of this test, ``d_pre`` and ``sigma_pre`` already computed, filled
    in; the searches for several targets share the slopes they both try (0, the doublings
    of the bracket), each an integration of the multivariate normal for ``"individual"``."""
    if not alpha < target < 1:
        raise ValueError("the target power must lie between alpha and 1")
    sigma_pre = np.asarray(sigma_pre, dtype=float)
    d_pre = np.asarray(d_pre, dtype=float)
    hi = float(np.sqrt(np.max(np.diag(sigma_pre)))) / max(np.min(np.abs(d_pre)), 1.0)
    if not hi > 0:
        raise ValueError("the pre-period estimates need positive variances")
    known = {} if known is None else known

    def power_at(g: float) -> float:
        if g not in known:
            known[g] = power(g, d_pre, sigma_pre, test, alpha, **kwargs)
        return known[g]

    while power_at(hi) < target:
        hi *= 2
    return float(optimize.brentq(lambda g: power_at(g) - target, 0.0, hi, xtol=1e-10 * hi))


def conditional_bias(slope: float, d_pre, d_post, sigma, num_pre: int, test: str = "individual",
                     alpha: float = 0.05, draws: int = 200_000, seed: int = 0) -> tuple[np.ndarray, float]:
    """Bias of each post-period estimate given that ``test`` passes, and the pass
    probability: ``delta_post + Sigma_post,pre Sigma_pre^-1 (E[b_pre | pass] - delta_pre)``,
    the conditional mean by simulation."""
    s_pre, s_post_pre = _split(sigma, num_pre)
    mean_pre = slope * np.asarray(d_pre, dtype=float)
    delta_post = slope * np.asarray(d_post, dtype=float)
    b = np.random.default_rng(seed).multivariate_normal(mean_pre, s_pre, size=draws, method="cholesky")
    if test == "wald":
        keep = np.einsum("ij,ij->i", b, np.linalg.solve(s_pre, b.T).T) <= stats.chi2.isf(alpha, num_pre)
    elif test == "individual":
        keep = np.all(np.abs(b) / np.sqrt(np.diag(s_pre)) <= stats.norm.isf(alpha / 2), axis=1)
    else:
        raise ValueError(f"test must be one of {TESTS}, not {test!r}")
    if not keep.any():
        return np.full(len(delta_post), np.nan), 0.0
    shift = b[keep].mean(axis=0) - mean_pre
    return delta_post + s_post_pre @ np.linalg.solve(s_pre, shift), float(keep.mean())


def power_table(betahat, sigma, num_pre: int, num_post: int, rel_times, reference: int = -1,
                powers=(0.5, 0.8), alpha: float = 0.05, draws: int = 100_000, seed: int = 0) -> pd.DataFrame:
    """For each pretest and target power: the slope per period the test detects with that
    power, the bias it implies for the post-period estimates (unconditional ``slope (t - r)``
    and conditional on passing; their mean over post periods) and the estimate of the
    average post-period effect beside it. ``rel_times``: relative time of each entry of
    ``betahat`` (pre first, reference left out). Columns ``test, power, slope,
    bias_first, bias_mean, bias_mean_if_passed, pass_probability, estimate_mean``."""
    betahat = np.asarray(betahat, dtype=float)
    rel = np.asarray(rel_times, dtype=float)
    if num_pre < 1 or num_post < 1 or len(betahat) != num_pre + num_post or len(rel) != len(betahat):
        raise ValueError("need at least one pre- and one post-period estimate, with a relative time for each")
    d_pre, d_post = rel[:num_pre] - reference, rel[num_pre:] - reference
    s_pre = np.asarray(sigma, dtype=float)[:num_pre, :num_pre]
    rows = []
    for test in TESTS:
        computed: dict[float, float] = {}
        for p in powers:
            gamma = slope_for_power(p, d_pre, s_pre, test, alpha, known=computed)
            cond, passed = conditional_bias(gamma, d_pre, d_post, sigma, num_pre, test, alpha, draws, seed)
            rows.append({"test": test, "power": p, "slope": gamma, "bias_first": gamma * d_post[0],
                         "bias_mean": gamma * d_post.mean(), "bias_mean_if_passed": float(cond.mean()),
                         "pass_probability": passed, "estimate_mean": float(betahat[num_pre:].mean())})
    return pd.DataFrame(rows)
