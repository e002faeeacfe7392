"""First difference-in-differences of funded vs unsuccessful applicants (issue 2).

For one call and one outcome (in logs) it runs the 2x2 comparison, two-way fixed
effects (firm and year) and an event study, all clustered by firm (CR1), and sets
each estimate beside the naive post-period gap and, on synthetic data, the truth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
import pandas as pd

from .design import OUTCOME_LABELS, outcome_frame, percent, true_att
from .estimators import did_2x2, event_study, plot_event_study, twfe
from .results import EstimationResult



@dataclass(frozen=True)
class FirstDid:
    outcome: str
    did: EstimationResult
    twfe: EstimationResult
    event: EstimationResult
    naive_gap: float
    truth: float | None

    def rows(self) -> list[dict]:
        """Tidy rows (log points) for the estimates table."""
        rows = [
            {"outcome": self.outcome, "estimator": "naive gap", "estimate": self.naive_gap,
             "se": math.nan, "ci_low": math.nan, "ci_high": math.nan, "p": math.nan, "nobs": math.nan}
        ]
        for name, result in (("2x2 DiD", self.did), ("TWFE", self.twfe)):
            est = result.table.loc[_effect_term(result)]
            rows.append({"outcome": self.outcome, "estimator": name, "estimate": est["estimate"], "se": est["se"],
                         "ci_low": est["ci_low"], "ci_high": est["ci_high"], "p": est["p"], "nobs": result.nobs})
        for row in rows:
            row["truth"] = math.nan if self.truth is None else self.truth
        return rows

    def headline(self) -> dict:
        """Numbers the report quotes, in percent, rounded to one decimal."""
        fe = self.twfe.table.loc[_effect_term(self.twfe)]
        return {
            "twfe_pct": round(percent(fe["estimate"]), 1),
            "twfe_ci_low_pct": round(percent(fe["ci_low"]), 1),
            "twfe_ci_high_pct": round(percent(fe["ci_high"]), 1),
            "naive_pct": round(percent(self.naive_gap), 1),
            "truth_pct": "n/a (real data)" if self.truth is None else round(percent(self.truth), 1),
        }


ESTIMATE_COLUMNS = {
    "outcome": "outcome", "estimator": "estimator", "estimate": "estimate", "se": "SE",
    "ci_low": "CI low", "ci_high": "CI high", "p": "p", "nobs": "N", "truth": "truth",
}


def estimates_table(results: list[FirstDid]) -> pd.DataFrame:
    """All estimates of one call, rounded to four decimals, with readable column names."""
    table = pd.DataFrame([row for res in results for row in res.rows()]).round(4)
    table["outcome"] = table["outcome"].map(OUTCOME_LABELS)
    table["nobs"] = table["nobs"].astype("Int64")
    return table.rename(columns=ESTIMATE_COLUMNS)


def _effect_term(result: EstimationResult) -> str:
    """The treatment term: 'treat' for TWFE, the interaction for the 2x2."""
    return "treat" if "treat" in result.table.index else result.table.index[-1]


def naive_gap(frame: pd.DataFrame, y: str) -> float:
    """Post-period mean of y among funded minus among unsuccessful firms (biased by selection)."""
    post = frame[frame["post"] == 1]
    means = post.groupby("funded")[y].mean()
    return float(means.loc[1] - means.loc[0])


def first_did(sample: pd.DataFrame, outcome: str, leads: int, lags: int, truth: pd.DataFrame | None) -> FirstDid:
    frame = outcome_frame(sample, outcome)
    y = f"log_{outcome}"
    return FirstDid(
        outcome=outcome,
        did=did_2x2(frame, y=y, treated="funded", post="post", cluster="firm_id", vcov="CR1"),
        twfe=twfe(frame, y=y, regressors=["treat"], unit="firm_id", time="year", vcov="CR1", cluster="firm_id"),
        event=event_study(frame, y=y, unit="firm_id", time="year", cohort="cohort", leads=leads, lags=lags,
                          reference=-1, vcov="CR1", cluster="firm_id"),
        naive_gap=naive_gap(frame, y),
        truth=None if truth is None else true_att(truth, frame, outcome),
    )


def group_sizes(sample: pd.DataFrame) -> pd.DataFrame:
    """Firms and firm-years by group, with pre-period mean log turnover and employment."""
    pre = sample[sample["post"] == 0]
    table = pd.DataFrame({
        "firms": sample.groupby("funded")["firm_id"].nunique(),
        "firm-years": sample.groupby("funded").size(),
        "log turnover, pre": pre.groupby("funded")["log_turnover_eur"].mean().round(3),
        "log employment, pre": pre.groupby("funded")["log_employees"].mean().round(3),
    })
    table.index = table.index.map({1: "funded", 0: "unsuccessful"})
    return table.rename_axis("group").reset_index()


def plot_event_studies(results: list[FirstDid], line: str) -> plt.Figure:
    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 3.6), squeeze=False)
    for ax, res in zip(axes[0], results):
        plot_event_study(res.event, ax=ax)
        ax.set_title(f"Linea {line}: {OUTCOME_LABELS[res.outcome]}")
        ax.set_xlabel("years since project start")
        ax.set_ylabel("effect on log outcome")
    fig.tight_layout()
    return fig
