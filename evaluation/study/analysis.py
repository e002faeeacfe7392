"""First difference-in-differences of funded vs unsuccessful applicants.

For one call and one outcome (in logs) it runs the 2x2 comparison, two-way fixed
effects (firm and year) and an event study, all clustered by firm (CR1), and sets
each estimate beside the naive post-period gap and, on synthetic data, the truth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
import pandas as pd

from evaluation.methods.errors import DesignError
from evaluation.methods.estimators import did_2x2, event_study, plot_event_study, twfe
from evaluation.methods.results import EstimationResult, percent
from evaluation.study import labels
from evaluation.study.design import data_limits, event_window, outcome_frame, true_att


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
            "truth_pct": None if self.truth is None else round(percent(self.truth), 1),
        }


def estimates_table(results: list[FirstDid], skipped: dict[str, str] | None = None) -> pd.DataFrame:
    """All estimates of one call (columns labelled in the report by ``evaluation.study.labels``);
    an outcome that could not be estimated gets one row saying why (column ``note``)."""
    rows = [row for res in results for row in res.rows()]
    rows += [{"outcome": o, "estimator": "not estimable", "note": why} for o, why in (skipped or {}).items()]
    table = pd.DataFrame(rows)
    table["outcome"] = table["outcome"].map(labels.OUTCOMES)
    table["nobs"] = table["nobs"].astype("Int64")
    return table


def first_dids(sample: pd.DataFrame, outcomes: list[str], leads: int, lags: int,
               truth: pd.DataFrame | None) -> tuple[list[FirstDid], dict[str, str]]:
    """:func:`first_did` for each outcome; outcomes these data cannot support are
    returned with the reason instead. ``DesignError`` if none can be estimated."""
    results, skipped = [], {}
    for outcome in outcomes:
        try:
            results.append(first_did(sample, outcome, leads, lags, truth))
        except DesignError as err:
            skipped[outcome] = str(err)
    if not results:
        raise DesignError("no outcome can be estimated: " + "; ".join(f"{labels.OUTCOMES[o]}: {w}" for o, w in skipped.items()))
    return results, skipped


def _effect_term(result: EstimationResult) -> str:
    """The treatment term: 'treat' for TWFE, the interaction for the 2x2."""
    return "treat" if "treat" in result.table.index else result.table.index[-1]


def naive_gap(frame: pd.DataFrame, y: str) -> float:
    """Post-period mean of y among funded minus among unsuccessful firms (biased by selection)."""
    post = frame[frame["post"] == 1]
    means = post.groupby("funded")[y].mean()
    if len(means) < 2:
        raise DesignError("one group has no firm-year after the project start.")
    return float(means.loc[1] - means.loc[0])


def selection_gap(groups: pd.DataFrame) -> float | None:
    """Funded minus unsuccessful pre-start mean log turnover (``group_sizes`` table), or None."""
    pre = groups.set_index("group")["log turnover, pre"]
    return None if pre.isna().any() or len(pre) < 2 else float(pre.loc["funded"] - pre.loc["unsuccessful"])


def first_did(sample: pd.DataFrame, outcome: str, leads: int, lags: int, truth: pd.DataFrame | None) -> FirstDid:
    """2x2, TWFE and event study of one outcome; the event window is cut to the event
    times the data reach (:func:`evaluation.study.design.event_window`)."""
    frame = outcome_frame(sample, outcome)
    y = f"log_{outcome}"
    leads, lags = event_window(frame, leads, lags)
    with data_limits(f"first difference-in-differences of {labels.OUTCOMES[outcome]}"):
        return FirstDid(
            outcome=outcome,
            did=did_2x2(frame, y=y, treated="funded", post="post", cluster="firm_id", vcov="CR1"),
            twfe=twfe(frame, y=y, regressors=["treat"], unit="firm_id", time="year", vcov="CR1", cluster="firm_id"),
            event=event_study(frame, y=y, unit="firm_id", time="year", cohort="cohort", leads=leads, lags=lags,
                              reference=-1, vcov="CR1", cluster="firm_id"),
            naive_gap=naive_gap(frame, y),
            truth=None if truth is None else true_att(truth, frame, outcome),
        )


def describe_event_study(table: pd.DataFrame, what: str) -> str:
    """One sentence on an event study's estimates (index ``e=k``, columns ``estimate``
    or ``att``, ``ci_low, ci_high``), by rule: before the start, whether any interval excludes zero;
    after it, the sign of the estimates whose interval excludes zero."""
    times = pd.Series([int(t.split("=")[1]) for t in table.index], index=table.index)
    excludes = (table["ci_low"] > 0) | (table["ci_high"] < 0)
    pre, post = times < 0, times >= 0
    if pre.any():
        n_pre = int((pre & excludes).sum())
        before = (f"all {int(pre.sum())} pre-start estimates have intervals that include zero" if n_pre == 0 else
                  f"{n_pre} of {int(pre.sum())} pre-start estimates have intervals that exclude zero")
    else:
        before = "no pre-start estimate (one year before the start only, the reference)"
    positive, negative = int((post & (table["ci_low"] > 0)).sum()), int((post & (table["ci_high"] < 0)).sum())
    n_post = int(post.sum())
    if positive == negative == 0:
        after = f"none of the {n_post} post-start intervals excludes zero"
    else:
        parts = [f"{n} {sign}" for n, sign in ((positive, "above zero"), (negative, "below zero")) if n]
        after = f"of the {n_post} post-start estimates, " + " and ".join(parts)
    return f"{what}: {before}; {after}."


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
    fig, axes = plt.subplots(1, len(results), figsize=(3.8 * len(results), 3.4), squeeze=False)
    for ax, res in zip(axes[0], results):
        plot_event_study(res.event, ax=ax)
        ax.set_title(f"Linea {line}: {labels.OUTCOMES[res.outcome]}")
        ax.set_xlabel("years since project start")
        ax.set_ylabel("effect on log outcome")
    fig.tight_layout()
    return fig
