"""Monte Carlo: small-sample coverage of the study's main estimator (CS-DR, simple aggregation).

An independent data-generating process (it does not use ``evaluation/data/synthetic/``):

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
and with the remedy of :mod:`evaluation.methods.estimators.small_sample` (``inference="jackknife"``,
which ``"auto"`` picks for every design here: all have at most 5,000 firms).

Unbalanced panels (``small_unbalanced_panel``, ``large_unbalanced_panel``; not to be confused
with ``unbalanced``, whose groups are unbalanced): the small and large designs made
unbalanced as balance-sheet data are (:func:`draw_unbalanced_panel`: 30% of the comparison
firms observed in a contiguous spell, 5% of firm-years missing at random, covariates from
the observed pre-period years, firms without any dropped), estimated with
``allow_unbalanced_panel=True``: R did's unbalanced-panel estimator, analytic interval and
the delete-a-group jackknife of ``simple_att``. Missingness is ignorable, so the truth is the
balanced one.

Run: .venv/bin/python tests/methods/montecarlo/small_sample.py --seeds 300 --seeds-medium 150 --seeds-unbalanced 40 --jobs 2
Unbalanced panels only (about 10 min on 2 cores):
.venv/bin/python tests/methods/montecarlo/small_sample.py --designs small_unbalanced_panel,large_unbalanced_panel \
    --seeds-unbalanced-panel 200 --jobs 2 --out -
Writes tests/methods/montecarlo/RESULTS_small_sample.md unless ``--out -``.
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
UNBALANCED_PANEL_DESIGNS = {  # the small and large designs made unbalanced panels (draw_unbalanced_panel)
    "small_unbalanced_panel": (100, INTERCEPT),  # about 58 funded vs 40 comparison firms
    "large_unbalanced_panel": (370, INTERCEPT),  # about 217 vs 146
    "medium_unbalanced_panel": (1000, INTERCEPT),  # about 590 vs 395 (run with --inference analytic)
}
DESIGNS.update(UNBALANCED_PANEL_DESIGNS)


def _ar1(rng, n, T, rho, sd):
    e = np.empty((n, T))
    e[:, 0] = rng.normal(0, sd / np.sqrt(1 - rho**2), n)
    for t in range(1, T):
        e[:, t] = rho * e[:, t - 1] + rng.normal(0, sd, n)
    return e


def _firms(rng, n, intercept=INTERCEPT, series=False):
    """Firm-level draws: standardised covariates, firm effect, cohort (0 = never funded).

    With ``series`` also the two pre-period size series (n x 5 each, the unstandardised
    log turnover and log employment of 2010-2014 whose means are ``c1``, ``c2``); the
    random draws are the same either way."""
    a = rng.normal(size=n)
    alpha = 0.5 * a + rng.normal(size=n)
    b = rng.normal(0, 0.5, n)
    T0 = len(PRE_YEARS)
    u = _ar1(rng, n, T0, 0.6, 0.3)
    c1 = a + u.mean(1)
    v = _ar1(rng, n, T0, 0.6, 0.3)
    c2 = 0.7 * a + b + v.mean(1)  # (the arithmetic of the balanced designs, bit for bit)
    # standardise with population moments (fixed constants, so they are the same in every draw)
    c1 = (c1 - 0.0) / POP_SD[0]
    c2 = (c2 - 0.0) / POP_SD[1]
    funded = rng.random(n) < 1 / (1 + np.exp(-(intercept + 0.6 * c1 + 0.3 * c2 + 0.5 * alpha)))
    early = rng.random(n) < 1 / (1 + np.exp(-0.4 * c1))
    cohort = np.where(funded, np.where(early, COHORTS[0], COHORTS[1]), 0)
    if series:
        return c1, c2, alpha, cohort, a[:, None] + u, (0.7 * a + b)[:, None] + v
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


def draw(n: int, seed: int, intercept: float = INTERCEPT, series: bool = False):
    """One panel of ``n`` firms x 10 years (long format); with ``series`` also the two
    pre-period size series (n x 5 arrays, firms in the frame's order)."""
    rng = np.random.default_rng(seed)
    c1, c2, alpha, cohort, *size = _firms(rng, n, intercept, series=series)
    nu = rng.normal(size=n)
    T = len(YEARS)
    s = 0.12 * np.exp(0.25 * c1)
    e = _ar1(rng, n, T, 0.7, 1.0) * s[:, None]
    t = YEARS[None, :]
    y = (alpha[:, None] + 0.03 * (t - 2010) + (t - 2014.5) * (0.06 * c1 - 0.03 * c2)[:, None] + e
         + effect(c1[:, None], nu[:, None], cohort[:, None], t))
    frame = pd.DataFrame({
        "firm_id": np.repeat([f"f{i:05d}" for i in range(n)], T),
        "year": np.tile(YEARS, n),
        "cohort": np.repeat(cohort, T),
        "log_value_added": y.ravel(),
        COVARIATES[0]: np.repeat(c1, T),
        COVARIATES[1]: np.repeat(c2, T),
    })
    return (frame, *size) if series else frame


SPELL_SHARE = 0.30  # comparison firms observed in a contiguous spell shorter than 2010-2019
MISSING_SHARE = 0.05  # firm-years missing at random (every firm)


def draw_unbalanced_panel(n: int, seed: int, intercept: float = INTERCEPT, spell_share: float = SPELL_SHARE,
                          missing_share: float = MISSING_SHARE) -> pd.DataFrame:
    """``draw(n, seed)`` made unbalanced as balance-sheet data are.

    * A share ``spell_share`` of the never-funded firms is observed in a contiguous spell:
      half of them enter late (first year uniform on 2011-2016), half exit early (last
      year uniform on 2012-2018).
    * Then every firm-year is missing with probability ``missing_share``, independently.
    * The covariates are recomputed as in the study, from the years each firm is observed
      before the first start year (2010-2014, the pre-call window; standardised with the
      same population constants); firms observed in none of those years are dropped
      (about 5% of the comparison firms: the late entrants of 2015-2016).

    Missingness is drawn from its own random stream (so the underlying balanced panel is
    exactly ``draw(n, seed)``) and is independent of everything but funding status
    (which firms may have spells): of the firm effect, covariates, errors and effects.
    Selection, trends and effects depend on the full-window covariates as in ``draw``, so
    the population simple ATT is the balanced one (``truth()``). The estimator sees the
    covariates of the observed years, a noisier measure for the firms that miss a
    pre-period year; the resulting bias is checked in ``--check-plim`` (it is below 0.001).
    """
    frame, turnover, employment = draw(n, seed, intercept, series=True)
    T = len(YEARS)
    rng = np.random.default_rng([seed, 20251123])
    cohort = frame["cohort"].to_numpy()[::T]
    spell = (cohort == 0) & (rng.random(n) < spell_share)
    late = rng.random(n) < 0.5
    first = np.where(spell & late, rng.integers(2011, 2017, n), YEARS[0])
    last = np.where(spell & ~late, rng.integers(2012, 2019, n), YEARS[-1])
    seen = (YEARS[None, :] >= first[:, None]) & (YEARS[None, :] <= last[:, None])
    seen &= rng.random((n, T)) >= missing_share
    pre = seen[:, : len(PRE_YEARS)]
    count = pre.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        c1 = np.where(pre, turnover, 0.0).sum(1) / count / POP_SD[0]
        c2 = np.where(pre, employment, 0.0).sum(1) / count / POP_SD[1]
    frame[COVARIATES[0]] = np.repeat(c1, T)
    frame[COVARIATES[1]] = np.repeat(c2, T)
    keep = (seen & (count > 0)[:, None]).ravel()
    return frame[keep].reset_index(drop=True)


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
    """One replication: rows (design, seed, inference, att, se, low, high, n1, n0, df, seconds)."""
    design, seed, inferences, groups = args
    from evaluation.methods.estimators import small_sample
    from evaluation.methods.estimators.small_sample import simple_att

    if groups:
        small_sample.JACKKNIFE_GROUPS = groups  # deletions of the unbalanced-panel (group) jackknife

    n, intercept = DESIGNS[design]
    unbalanced = design in UNBALANCED_PANEL_DESIGNS
    frame = (draw_unbalanced_panel if unbalanced else draw)(n, seed, intercept)
    cohorts = frame.groupby("firm_id")["cohort"].first()
    n1, n0 = int((cohorts > 0).sum()), int((cohorts == 0).sum())
    out = []
    for inference in inferences:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = simple_att(frame, "log_value_added", "year", "firm_id", "cohort", covariates=COVARIATES,
                           control="never", inference=inference, allow_unbalanced_panel=unbalanced)
        if unbalanced and inference == "jackknife":
            assert r.method.startswith("jackknife (delete-"), r.method
        df = float(r.method.rsplit("t(", 1)[1].rstrip(")")) if "t(" in r.method else np.inf
        out.append((design, seed, inference, r.att, r.se, r.ci_low, r.ci_high, n1, n0, df,
                    time.perf_counter() - start))
    if unbalanced and "jackknife" in inferences:  # the balanced rule: firms observed every year, delete-one-firm jackknife
        years = frame.groupby("firm_id")["year"].transform("size")
        kept = frame[years == len(YEARS)]
        cohorts = kept.groupby("firm_id")["cohort"].first()
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = simple_att(kept, "log_value_added", "year", "firm_id", "cohort", covariates=COVARIATES,
                           control="never", inference="jackknife")
        df = float(r.method.rsplit("t(", 1)[1].rstrip(")"))
        out.append((design, seed, "balanced_rule_jackknife", r.att, r.se, r.ci_low, r.ci_high,
                    int((cohorts > 0).sum()), int((cohorts == 0).sum()), df, time.perf_counter() - start))
    return out


def summarise(rows: pd.DataFrame, truths: dict) -> pd.DataFrame:
    theta = rows["design"].map(truths)
    rows = rows.assign(err=rows["att"] - theta, covered=(rows["low"] <= theta) & (theta <= rows["high"]),
                       width=rows["high"] - rows["low"])
    g = rows.groupby(["design", "inference"], sort=False)
    table = g.agg(seeds=("seed", "size"), n1=("n1", "mean"), n0=("n0", "mean"), bias=("err", "mean"),
                  sd=("att", "std"), mean_se=("se", "mean"), coverage=("covered", "mean"),
                  mean_width=("width", "mean"), median_df=("df", "median"),
                  seconds=("seconds", "mean")).reset_index()
    table.insert(7, "sd/se", table["sd"] / table["mean_se"])
    table.insert(9, "mc_se", np.sqrt(table["coverage"] * (1 - table["coverage"]) / table["seeds"]))
    table.insert(6, "bias_mc_se", table["sd"] / np.sqrt(table["seeds"]))
    return table


def check_plim(n: int, seeds=(11, 12, 13)) -> None:
    """The unbalanced-panel estimator on ``n``-firm samples of the small design: with the
    covariates of the observed years (as the study) and with the full-window ones, and the
    balanced-panel estimator on the underlying balanced panel. Their differences from
    ``truth()`` show the estimand; the first minus the second is the effect of measuring
    the covariates on fewer years (recorded with n = 200,000: +0.0004 to +0.0010)."""
    from evaluation.methods.estimators import aggte, att_gt

    theta = truth()
    kw = dict(y="log_value_added", time="year", unit="firm_id", cohort="cohort", covariates=COVARIATES,
              method="dr", control="never")
    for seed in seeds:
        balanced, frame = draw(n, seed), draw_unbalanced_panel(n, seed)
        full = balanced.groupby("firm_id")[COVARIATES].first()
        full_cov = frame.drop(columns=COVARIATES).join(full, on="firm_id")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = [aggte(att_gt(d, allow_unbalanced_panel=u, **kw), kind="simple").overall_att
                   for d, u in ((frame, True), (full_cov, True), (balanced, False))]
        print(f"seed {seed}: minus truth {theta:.5f}: unbalanced {est[0] - theta:+.5f}, unbalanced with "
              f"full-window covariates {est[1] - theta:+.5f}, balanced {est[2] - theta:+.5f}; "
              f"measurement effect {est[0] - est[1]:+.5f}", flush=True)


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
    parser.add_argument("--seeds-unbalanced-panel", type=int, default=200,
                        help="replications of each unbalanced-panel design (group jackknife: 50 re-estimations)")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--designs", default=",".join(d for d in DESIGNS if d != "medium_unbalanced_panel"),
                        help="comma-separated design names")
    parser.add_argument("--out", default=str(Path(__file__).with_name("RESULTS_small_sample.md")))
    parser.add_argument("--inference", default="analytic,jackknife",
                        help="intervals to compute (the balanced rule comes with jackknife)")
    parser.add_argument("--jackknife-groups", type=int, default=0,
                        help="groups of the unbalanced-panel jackknife (0: small_sample.JACKKNIFE_GROUPS, 50)")
    parser.add_argument("--rows", default="", help="also write the replications to this CSV")
    parser.add_argument("--check-plim", type=int, default=0, metavar="N",
                        help="only run check_plim(N) (N = 200000 takes about 2 min)")
    args = parser.parse_args()
    if args.check_plim:
        check_plim(args.check_plim)
        return
    designs = args.designs.split(",")
    def seeds(design):
        n = DESIGNS[design][0]
        if design in UNBALANCED_PANEL_DESIGNS:
            return args.seeds_unbalanced_panel
        return args.seeds if n <= 500 else args.seeds_medium if n <= 2000 else args.seeds_unbalanced

    inferences = tuple(args.inference.split(","))
    tasks = [(d, s, inferences, args.jackknife_groups) for d in designs for s in range(args.first_seed, args.first_seed + seeds(d))]
    start = time.time()
    by_intercept = {i: truth(i) for i in {DESIGNS[d][1] for d in designs}}
    truths = {d: by_intercept[DESIGNS[d][1]] for d in designs}
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = [r for chunk in pool.map(one, tasks, chunksize=4) for r in chunk]
    elapsed = time.time() - start
    frame = pd.DataFrame(rows, columns=["design", "seed", "inference", "att", "se", "low", "high", "n1", "n0",
                                        "df", "seconds"])
    if args.rows:
        frame.to_csv(args.rows, index=False)
    table = summarise(frame, truths)
    text = markdown(table)
    truth_text = ", ".join(f"{d} {t:.5f}" for d, t in truths.items())
    print(f"truths: {truth_text}; {len(tasks)} replications in {elapsed:.0f} s\n{text}")
    if args.out != "-":
        Path(args.out).write_text(
            "# Small-sample coverage of CS-DR (simple aggregation)\n\n"
            f"`tests/methods/montecarlo/small_sample.py --seeds {args.seeds} --seeds-medium {args.seeds_medium} "
            f"--seeds-unbalanced {args.seeds_unbalanced} --seeds-unbalanced-panel {args.seeds_unbalanced_panel} "
            f"--first-seed {args.first_seed} --jobs {args.jobs}`; truths: {truth_text}; "
            f"run time {elapsed:.0f} s.\n\n{text}\n")


if __name__ == "__main__":
    main()
