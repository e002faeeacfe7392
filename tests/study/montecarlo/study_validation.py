"""Monte Carlo over seeds of the synthetic data: bias, RMSE and 95% coverage of every
specification of the study (call x comparison group x estimator) for turnover and
employment, of the proportional (Poisson, zeros kept) effect on R&D, and of the jobs
created (the cost-per-job numerator), against each draw's own truth.

Run: .venv/bin/python tests/study/montecarlo/study_validation.py --seeds 40
Writes tests/study/montecarlo/RESULTS_study.md (recorded output, kept in the repository) and
the same table as data for the report's validation appendix, reports/montecarlo/study_validation.json
(source, command, rows).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

from evaluation.data.contract import load_study_data
from evaluation.data.synthetic import generate
from evaluation.methods.errors import DesignError
from evaluation.study import impact, rd
from evaluation.study.comparison import comparison_sample
from evaluation.study.design import load_truth

OUTCOMES = ["turnover_eur", "employees"]
GROUPS = {"unsuccessful": list(impact.ESTIMATORS), "matched": list(impact.ESTIMATORS), "not_yet": ["cs_dr", "twfe"]}
LEVEL_GROUPS = ("unsuccessful", "matched")
"""Comparison groups of the R&D proportional effect and of the jobs created (as the report shows them)."""
UNITS = {"turnover_eur": "log points", "employees": "log points", "rd_expenditure_eur": "log points", "jobs": "jobs"}


def one_draw(seed: int) -> pd.DataFrame:
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp) / "data", seed=seed)
        data, truth = load_study_data(Path(tmp) / "data"), load_truth(Path(tmp) / "data")
    rows = []
    for line in ("A", "B"):
        for group, estimators in GROUPS.items():
            estimates, _ = impact.estimate_line(comparison_sample(data, line, group), line, group, OUTCOMES, estimators, truth, seed=seed)
            rows += [e.as_row() for e in estimates]
        for group in LEVEL_GROUPS:
            sample = comparison_sample(data, line, group)
            try:
                r = rd.proportional_effect(sample, truth)
                rows.append({"line": line, "group": group, "estimator": "poisson", "outcome": rd.RD,
                             **{k: r[k] for k in ("se", "ci_low", "ci_high", "truth")}, "att": r["estimate"]})
            except DesignError:  # not estimable in this draw: left out of its row's draws
                pass
            c = impact.cost_per_job(sample, data, line, group, truth)
            rows.append({"line": line, "group": group, "estimator": "cs_dr_levels", "outcome": "jobs",
                         "att": c["jobs"], "ci_low": c["jobs_ci_low"], "ci_high": c["jobs_ci_high"],
                         "se": c["jobs_se"], "truth": c["true_jobs"]})
    return pd.DataFrame(rows).assign(seed=seed)


def summarise(draws: pd.DataFrame) -> pd.DataFrame:
    """One row per specification over the draws where it was estimated (``draws``)."""
    draws = draws[draws["att"].notna()]
    draws = draws.assign(error=draws["att"] - draws["truth"],
                         covered=(draws["ci_low"] <= draws["truth"]) & (draws["truth"] <= draws["ci_high"]))
    keys = ["line", "group", "estimator", "outcome"]
    table = draws.groupby(keys).agg(
        draws=("seed", "size"), mean_truth=("truth", "mean"), bias=("error", "mean"),
        rmse=("error", lambda e: float((e**2).mean() ** 0.5)), mean_se=("se", "mean"), coverage=("covered", "mean"),
    ).reset_index()
    return table.assign(unit=table["outcome"].map(UNITS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--first-seed", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("RESULTS_study.md"))
    parser.add_argument("--json", type=Path, default=Path(__file__).parents[3] / "reports" / "montecarlo" / "study_validation.json")
    args = parser.parse_args()
    start = time.time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        draws = pd.concat([one_draw(s) for s in range(args.first_seed, args.first_seed + args.seeds)])
    table = summarise(draws).round(4)
    header = "| " + " | ".join(table.columns) + " |\n|" + "---|" * len(table.columns) + "\n"
    body = "".join("| " + " | ".join(str(v) for v in row) + " |\n" for row in table.itertuples(index=False))
    args.out.write_text(
        "# Monte Carlo of the study's specifications over synthetic draws\n\n"
        f"`{Path(__file__).name} --seeds {args.seeds} --first-seed {args.first_seed}`: {args.seeds} draws of the "
        f"synthetic data (seeds {args.first_seed}..{args.first_seed + args.seeds - 1}), each estimated with every "
        f"specification; bias, RMSE and mean standard error in the row's unit (log points; jobs for the jobs "
        f"created in an average post-start year, the cost-per-job numerator) against the draw's own truth over the "
        f"same funded firm-years; coverage of the 95% interval. Run time {time.time() - start:.0f} s on 2 cores.\n\n"
        + header + body
    )
    command = f"tests/study/montecarlo/{Path(__file__).name} --seeds {args.seeds} --first-seed {args.first_seed}"
    args.json.write_text(json.dumps({
        "source": "tests/study/montecarlo/RESULTS_study.md", "command": command,
        "description": "Monte Carlo of the study's specifications over draws of the synthetic data: bias, RMSE and mean "
                       "standard error in the row's unit against each draw's own truth over the same funded firm-years; "
                       "coverage of the 95% interval.",
        "rows": table.to_dict(orient="records")}, indent=1) + "\n")
    print(args.out.read_text())


if __name__ == "__main__":
    main()
