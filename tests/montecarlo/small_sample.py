"""Monte Carlo: small-sample coverage of the study's main estimator (CS-DR, simple aggregation).

An independent data-generating process (it does not use ``evaluation/synthetic.py``):

* ``n`` firms observed every year 2010-2019 (10 years); firm ``i`` draws a latent size
  ``a_i ~ N(0, 1)`` and an unobserved firm effect ``alpha_i = 0.5 a_i + N(0, 1)``.
* Pre-period size series (2010-2014, before the first start year), firm-level AR(1)
  noise (rho 0.6, sd 0.3): log turnover ``a_i + u_it`` and log employment
  ``0.7 a_i + b_i + v_it`` with ``b_i ~ N(0, 0.5^2)``. The covariates are their pre-period
  means ``c1_i``, ``c2_i`` (the analogues of the study's pre-call means of log turnover and
  log employment); they are standardised with the population moments.
* Selection: ``P(funded) = logistic(0.45 + 0.6 c1 + 0.3 c2 + 0.5 alpha)`` (about 60% funded;
  on an observed covariate and the unobserved firm effect); funded firms start in 2015
  or 2017 (``P(2015) = logistic(0.4 c1)``), the others are never funded.
* Outcome (log value added): ``y_it = alpha_i + 0.03 (t - 2010) + (t - 2014.5)(0.06 c1_i
  - 0.03 c2_i) + e_it + tau_it D_it`` with firm-level AR(1) errors ``e_it = 0.7 e_i,t-1 +
  s_i eps_it``, heteroskedastic ``s_i = 0.12 exp(0.25 c1_i)``. Trends depend on the
  covariates (so that the unconditional DiD is biased and conditioning matters); the
  firm effect ``alpha`` moves levels only, so parallel trends hold given ``(c1, c2)``.
* Effects, heterogeneous by cohort, event time ``e = t - g`` and firm:
  ``tau_it = (0.10 [g = 2015] + 0.05 [g = 2017]) (1 + 0.25 e) + 0.04 c1_i + 0.08 nu_i``
  with ``nu_i ~ N(0, 1)``.

The estimand is the population value of ``aggte(..., "simple")``: post cells (g, t)
weighted by the population cohort shares, ``ATT(g,t) = E[tau_it | G = g]``; it is computed
once from 4 million simulated firms (error below 1e-4).

Each replication calls the estimator exactly as ``impact.estimate(..., "cs_dr")`` does:
``att_gt(method="dr", covariates=[c1, c2], control="never", cluster=firm)`` then
``aggte(kind="simple")``, with the analytic 95% normal interval (``inference="analytic"``)
and with the remedy of :mod:`evaluation.estimators.small_sample` (``inference="jackknife"``,
which ``"auto"`` picks for every design here: all have at most 5,000 firms).

Run: .venv/bin/python tests/montecarlo/small_sample.py --seeds 300 --seeds-medium 150 --seeds-unbalanced 40 --jobs 2
Writes tests/montecarlo/RESULTS_small_sample.md unless ``--out -``.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one BLAS thread per worker process (no oversubscription)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

YEARS = np.arange(2010, 2020)
PRE_YEARS = YEARS[YEARS < 2015]
COHORTS = (2015, 2017)
COVARIATES = ["pre_mean_log_turnover", "pre_mean_log_employees"]
INTERCEPT = 0.45  # about 60% funded
DESIGNS = {  # name: (firms, intercept of the selection equation)
    "small": (100, INTERCEPT),  # about 58 funded vs 42 comparison firms (Linea B)
    "large": (370, INTERCEPT),  # about 220 vs 150
    "medium": (1000, INTERCEPT),  # about 590 vs 410
    "unbalanced": (3000, -4.55),  # about 60 vs 2,940
}


def _ar1(rng, n, T, rho, sd):
    e = np.empty((n, T))
    e[:, 0] = rng.normal(0, sd / np.sqrt(1 - rho**2), n)
    for t in range(1, T):
        e[:, t] = rho * e[:, t - 1] + rng.normal(0, sd, n)
    return e


def _firms(rng, n, intercept=INTERCEPT):
    """Firm-level draws: standardised covariates, firm effect, cohort (0 = never funded)."""
    a = rng.normal(size=n)
    alpha = 0.5 * a + rng.normal(size=n)
    b = rng.normal(0, 0.5, n)
    T0 = len(PRE_YEARS)
    c1 = a + _ar1(rng, n, T0, 0.6, 0.3).mean(1)
    c2 = 0.7 * a + b + _ar1(rng, n, T0, 0.6, 0.3).mean(1)
    # standardise with population moments (fixed constants, so they are the same in every draw)
    c1 = (c1 - 0.0) / POP_SD[0]
    c2 = (c2 - 0.0) / POP_SD[1]
    funded = rng.random(n) < 1 / (1 + np.exp(-(intercept + 0.6 * c1 + 0.3 * c2 + 0.5 * alpha)))
    early = rng.random(n) < 1 / (1 + np.exp(-0.4 * c1))
    cohort = np.where(funded, np.where(early, COHORTS[0], COHORTS[1]), 0)
    return c1, c2, alpha, cohort


def _sd_of_means():
    """Population sd of the two pre-period means (closed form of the AR(1) mean's variance)."""
    rho, sd, T0 = 0.6, 0.3, len(PRE_YEARS)
    var_e = sd**2 / (1 - rho**2)
    lags = np.abs(np.subtract.outer(np.arange(T0), np.arange(T0)))
    var_mean = var_e * (rho**lags).sum() / T0**2
    return np.sqrt(1 + var_mean), np.sqrt(0.49 + 0.25 + var_mean)


POP_SD = _sd_of_means()


def effect(c1, nu, cohort, year):
    base = np.where(cohort == COHORTS[0], 0.10, 0.05)
    e = year - cohort
    return (base * (1 + 0.25 * e) + 0.04 * c1 + 0.08 * nu) * ((cohort > 0) & (e >= 0))


def draw(n: int, seed: int, intercept: float = INTERCEPT) -> pd.DataFrame:
    """One panel of ``n`` firms x 10 years (long format)."""
    rng = np.random.default_rng(seed)
    c1, c2, alpha, cohort = _firms(rng, n, intercept)
    nu = rng.normal(size=n)
    T = len(YEARS)
    s = 0.12 * np.exp(0.25 * c1)
    e = _ar1(rng, n, T, 0.7, 1.0) * s[:, None]
    t = YEARS[None, :]
    y = (alpha[:, None] + 0.03 * (t - 2010) + (t - 2014.5) * (0.06 * c1 - 0.03 * c2)[:, None] + e
         + effect(c1[:, None], nu[:, None], cohort[:, None], t))
    return pd.DataFrame({
        "firm_id": np.repeat([f"f{i:05d}" for i in range(n)], T),
        "year": np.tile(YEARS, n),
        "cohort": np.repeat(cohort, T),
        "log_value_added": y.ravel(),
        COVARIATES[0]: np.repeat(c1, T),
        COVARIATES[1]: np.repeat(c2, T),
    })


def truth(intercept: float = INTERCEPT, n_pop: int = 4_000_000, seed: int = 20240601) -> float:
    """Population value of the simple aggregation (post cells weighted by cohort shares)."""
    rng = np.random.default_rng(seed)
    c1, _, _, cohort = _firms(rng, n_pop, intercept)
    num = den = 0.0
    for g in COHORTS:
        share = np.mean(cohort == g)
        c1g = c1[cohort == g]
        for year in YEARS[YEARS >= g]:
            att = np.mean(effect(c1g, 0.0, g, year))  # E[nu] = 0
            num += share * att
            den += share
    return num / den


def one(args):
    """One replication: rows (design, seed, inference, att, se, low, high, n1, n0, seconds)."""
    design, seed = args
    from evaluation.estimators.small_sample import simple_att

    n, intercept = DESIGNS[design]
    frame = draw(n, seed, intercept)
    n1 = int((frame.groupby("firm_id")["cohort"].first() > 0).sum())
    out = []
    for inference in ("analytic", "jackknife"):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = simple_att(frame, "log_value_added", "year", "firm_id", "cohort", covariates=COVARIATES,
                           control="never", inference=inference)
        out.append((design, seed, inference, r.att, r.se, r.ci_low, r.ci_high, n1, n - n1,
                    time.perf_counter() - start))
    return out


def summarise(rows: pd.DataFrame, truths: dict) -> pd.DataFrame:
    theta = rows["design"].map(truths)
    rows = rows.assign(err=rows["att"] - theta, covered=(rows["low"] <= theta) & (theta <= rows["high"]),
                       width=rows["high"] - rows["low"])
    g = rows.groupby(["design", "inference"], sort=False)
    table = g.agg(seeds=("seed", "size"), n1=("n1", "mean"), n0=("n0", "mean"), bias=("err", "mean"),
                  sd=("att", "std"), mean_se=("se", "mean"), coverage=("covered", "mean"),
                  mean_width=("width", "mean"), seconds=("seconds", "mean")).reset_index()
    table.insert(7, "sd/se", table["sd"] / table["mean_se"])
    table.insert(9, "mc_se", np.sqrt(table["coverage"] * (1 - table["coverage"]) / table["seeds"]))
    return table


def markdown(table: pd.DataFrame) -> str:
    cols = list(table.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=300, help="replications per design")
    parser.add_argument("--seeds-medium", type=int, default=150, help="replications of the 1,000-firm design")
    parser.add_argument("--seeds-unbalanced", type=int, default=40,
                        help="replications of the 3,000-firm design (slowest)")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--designs", default=",".join(DESIGNS), help="comma-separated design names")
    parser.add_argument("--out", default=str(Path(__file__).with_name("RESULTS_small_sample.md")))
    args = parser.parse_args()
    designs = args.designs.split(",")
    def seeds(design):
        n = DESIGNS[design][0]
        return args.seeds if n <= 500 else args.seeds_medium if n <= 2000 else args.seeds_unbalanced

    tasks = [(d, s) for d in designs for s in range(args.first_seed, args.first_seed + seeds(d))]
    start = time.time()
    truths = {d: truth(DESIGNS[d][1]) for d in designs}
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = [r for chunk in pool.map(one, tasks, chunksize=4) for r in chunk]
    elapsed = time.time() - start
    frame = pd.DataFrame(rows, columns=["design", "seed", "inference", "att", "se", "low", "high", "n1", "n0",
                                        "seconds"])
    table = summarise(frame, truths)
    text = markdown(table)
    truth_text = ", ".join(f"{d} {t:.5f}" for d, t in truths.items())
    print(f"truths: {truth_text}; {len(tasks)} replications in {elapsed:.0f} s\n{text}")
    if args.out != "-":
        Path(args.out).write_text(
            "# Small-sample coverage of CS-DR (simple aggregation)\n\n"
            f"`tests/montecarlo/small_sample.py --seeds {args.seeds} --seeds-medium {args.seeds_medium} "
            f"--seeds-unbalanced {args.seeds_unbalanced} "
            f"--first-seed {args.first_seed} --jobs {args.jobs}`; truths: {truth_text}; "
            f"run time {elapsed:.0f} s.\n\n{text}\n")


if __name__ == "__main__":
    main()
