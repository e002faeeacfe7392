"""Random draws for the Monte Carlo parts (the least-favourable critical value of
``"C-LF"``, the simulated folded-normal quantile), optionally exactly R's, so that
``r_compat=True`` reproduces the R package's numbers: R's ``set.seed(seed); rnorm(n)``,
multivariate normals as ``mvtnorm::rmvnorm`` and R's ``.qfoldednormal``."""

from __future__ import annotations

import functools

import numpy as np
from scipy import special


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


@functools.lru_cache(maxsize=16)
def _standard_normal(n: int, d: int, seed: int, r_compat: bool) -> np.ndarray:
    """The ``n x d`` standard normal draws behind :func:`mvnormal_draws`, filled row by row;
    kept (read-only) because the ARP tests of a sensitivity analysis draw them for every
    polyhedron and ``M`` with the same seed and size."""
    z = r_normal_draws(n * d, seed).reshape(n, d) if r_compat else np.random.default_rng(seed).standard_normal((n, d))
    z.flags.writeable = False
    return z


def mvnormal_draws(sigma: np.ndarray, n: int, seed: int, r_compat: bool) -> np.ndarray:
    """``n`` draws of ``N(0, sigma)`` as rows: ``Z sigma^(1/2)`` with the symmetric
    (eigen) square root and ``Z`` filled row by row, as R's ``mvtnorm::rmvnorm``."""
    z = _standard_normal(int(n), sigma.shape[0], seed, r_compat)
    vals, vecs = np.linalg.eigh(sigma)
    root = (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T
    return z @ root


class SimulatedFoldedNormal:
    """R's ``.qfoldednormal``: the ``p`` quantile of ``|Z + t|`` over 10^6 fixed draws
    ``Z`` (``set.seed(seed); rnorm(1e6)``), sample quantile of type 7."""

    def __init__(self, seed: int = 0, n: int = 1_000_000):
        self.draws = r_normal_draws(n, seed)

    def __call__(self, p: float, t: float) -> float:
        return float(np.quantile(np.abs(self.draws + t), p))
