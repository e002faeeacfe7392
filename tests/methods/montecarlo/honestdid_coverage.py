"""Monte Carlo coverage of the HonestDiD robust intervals under a linear pre-trend.

Design: the event-study coefficients are drawn as
``betahat ~ N(delta + (0, tau_post), Sigma)`` with ``Sigma`` the state-clustered
covariance of the HonestDiD Medicaid example (5 pre-periods, 2 post-periods,
``tests/methods/reference/honestdid_ehec_sigma.csv``), a *linear* violation of parallel
trends ``delta_t = slope * t`` (``slope`` = one standard error of the first
post-period coefficient per period, so the violation is large) and effects
``tau_post = (0.02, 0.03)``. The target is the first post-period effect
(``l = e_1``) or the average of the two (``l = (1/2, 1/2)``).

The linear trend lies in ``Delta^SD(M)`` for every ``M >= 0`` (second differences
are zero) and on the boundary of ``Delta^RM(Mbar)`` for ``Mbar = 1`` (every first
difference equals the largest pre-period one), so RR's intervals must cover
``theta`` at least 95% of the time (asymptotically; here ``betahat`` is exactly
normal). The conventional interval ignores the trend and should under-cover.

* FLCI (SD): its weights and half-length depend on ``Sigma`` and ``M`` only, so
  they are computed once and re-centred on each draw (exact coverage of the
  procedure).
* C-LF (RM): coverage is the rate at which the test accepts the true ``theta``
  (the interval is the set of accepted values), with 10,000 draws for the
  least-favourable critical value per replication.

Recorded run (output in ``RESULTS_honestdid.md`` beside this file):

    .venv/bin/python tests/methods/montecarlo/honestdid_coverage.py --reps 5000 --rm-reps 2000
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.methods.honest_did import arp_test, flci

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
NUM_PRE, NUM_POST = 5, 2
TAU = np.array([0.02, 0.03])


def ehec_sigma() -> np.ndarray:
    return pd.read_csv(REFERENCE / "honestdid_ehec_sigma.csv", index_col=0).to_numpy()


def true_beta(slope: float) -> np.ndarray:
    times = np.r_[np.arange(-NUM_PRE, 0), np.arange(1, NUM_POST + 1)]
    return slope * times + np.r_[np.zeros(NUM_PRE), TAU]


def draws(sigma: np.ndarray, slope: float, reps: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.multivariate_normal(true_beta(slope), sigma, size=reps)


def coverage(reps: int = 1000, rm_reps: int = 200, seed: int = 20240607, slope: float | None = None,
             l_vec=(1.0, 0.0)) -> dict[str, float]:
    """Share of replications whose 95% interval covers ``theta = l' tau``."""
    sigma = ehec_sigma()
    l_vec = np.asarray(l_vec, dtype=float)
    if slope is None:
        slope = math.sqrt(sigma[NUM_PRE, NUM_PRE])
    theta = float(l_vec @ TAU)
    betas = draws(sigma, slope, reps, seed)
    out: dict[str, float] = {}
    sd = math.sqrt(l_vec @ sigma[NUM_PRE:, NUM_PRE:] @ l_vec)
    est = betas[:, NUM_PRE:] @ l_vec
    out["Original"] = float(np.mean(np.abs(est - theta) <= 1.959963984540054 * sd))
    for m in (0.0, 0.01):
        f = flci(betas[0], sigma, NUM_PRE, NUM_POST, M=m, l_vec=l_vec)
        centre = betas @ f.weights
        out[f"FLCI SD(M={m:g})"] = float(np.mean(np.abs(centre - theta) <= f.half_length))
    hits = 0
    for b in betas[:rm_reps]:
        hits += bool(arp_test(b, sigma, NUM_PRE, NUM_POST, theta, "RM", 1.0, l_vec, method="C-LF",
                              seed=seed)[0])
    out["C-LF RM(Mbar=1)"] = hits / rm_reps
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5000)
    parser.add_argument("--rm-reps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=20240607)
    args = parser.parse_args()
    print(f"reps={args.reps} (FLCI, Original), rm_reps={args.rm_reps} (C-LF), seed={args.seed}; "
          "95% intervals; linear trend, slope = 1 SE per period")
    print("| target | method | coverage | MC s.e. | seconds |")
    print("|---|---|---:|---:|---:|")
    for name, l_vec in (("first post-period", (1.0, 0.0)), ("average of post-periods", (0.5, 0.5))):
        start = time.time()
        cov = coverage(args.reps, args.rm_reps, args.seed, l_vec=l_vec)
        seconds = time.time() - start
        for method, value in cov.items():
            n = args.rm_reps if method.startswith("C-LF") else args.reps
            se = math.sqrt(max(value * (1 - value), 0.95 * 0.05) / n)
            print(f"| {name} | {method} | {value:.3f} | {se:.3f} | {seconds:.0f} |")


if __name__ == "__main__":
    main()
