"""Analysis samples: from the validated data to firm-year frames the estimators take.

First design (issue 2): funded versus unsuccessful applicants of one call (Linea A or
B). Each applicant's reference year is the start year of its project (planned start
for unsuccessful projects), so both groups have an event time
``event_time = year - reference_year``; ``post = event_time >= 0``.
Outcomes enter in logs (``log_<outcome>``), so effects read as log points
(``100 * (exp(b) - 1)`` percent); non-positive values have no log and are missing.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from .contract import StudyData

OUTCOMES = ("turnover_eur", "employees", "value_added_eur", "rd_expenditure_eur")
"""Outcome columns of ``panel.csv``."""
DERIVED_OUTCOMES = {"labour_productivity": ("value_added_eur", "employees")}
"""Ratios analysed in logs: log(value added / employees) = log value added - log employees."""
ANALYSIS_OUTCOMES = OUTCOMES + tuple(DERIVED_OUTCOMES)
OUTCOME_LABELS = {
    "turnover_eur": "turnover",
    "employees": "employment",
    "value_added_eur": "value added",
    "labour_productivity": "labour productivity",
    "rd_expenditure_eur": "R&D expenditure",
}


def percent(log_points: float) -> float:
    """A log-point effect as a percent change: ``100 (exp(b) - 1)``."""
    return 100.0 * math.expm1(log_points)


def log_points(pct: float) -> float:
    """A percent change as log points: ``log(1 + pct / 100)``."""
    return math.log1p(pct / 100.0)


class DesignError(ValueError):
    """The requested design cannot be built from these data (e.g. an empty group)."""


def applicant_sample(data: StudyData, line: str) -> pd.DataFrame:
    """Firm-year panel of the applicants of ``line`` with treatment timing.

    Columns: panel columns, ``funded`` (0/1), ``reference_year``, ``event_time``,
    ``post`` (0/1), ``treat`` = funded x post, ``cohort`` (reference year if funded,
    0 if not: the never-treated convention of R ``did``), ``log_<outcome>``.
    """
    apps = data.applications[data.applications["line"] == line]
    if apps.empty:
        raise DesignError(f"applications.csv: no applications for line {line!r}")
    firms = (
        apps.assign(reference_year=apps["start_date"].dt.year)
        .groupby("firm_id", as_index=False)
        .agg(funded=("funded", "max"), reference_year=("reference_year", "min"), pole=("pole", "first"))
    )
    firms["funded"] = firms["funded"].astype(int)
    for group, label in ((1, "funded"), (0, "unsuccessful")):
        if not (firms["funded"] == group).any():
            raise DesignError(f"applications.csv: line {line!r} has no {label} applicants, so no comparison is possible")
    sample = data.panel.merge(firms, on="firm_id", how="inner", validate="many_to_one")
    return add_timing_and_logs(sample).sort_values(["firm_id", "year"], ignore_index=True)


def add_timing_and_logs(sample: pd.DataFrame) -> pd.DataFrame:
    """Add ``event_time``, ``post``, ``treat``, ``cohort`` (from ``funded`` and
    ``reference_year``) and ``log_<outcome>`` for every analysis outcome."""
    sample = sample.copy()
    sample["event_time"] = sample["year"] - sample["reference_year"]
    sample["post"] = (sample["event_time"] >= 0).astype(int)
    sample["treat"] = sample["funded"] * sample["post"]
    sample["cohort"] = np.where(sample["funded"] == 1, sample["reference_year"], 0)
    for outcome in OUTCOMES:
        values = sample[outcome].astype(float)
        sample[f"log_{outcome}"] = np.log(values.where(values > 0))
    for ratio, (numerator, denominator) in DERIVED_OUTCOMES.items():
        sample[f"log_{ratio}"] = sample[f"log_{numerator}"] - sample[f"log_{denominator}"]
    return sample


def outcome_frame(sample: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """Rows of ``sample`` where ``log_<outcome>`` is observed."""
    if outcome not in ANALYSIS_OUTCOMES:
        raise DesignError(f"unknown outcome {outcome!r}; choose from {ANALYSIS_OUTCOMES}")
    return sample[sample[f"log_{outcome}"].notna()].reset_index(drop=True)


def load_truth(data_dir: str | Path) -> pd.DataFrame | None:
    """The synthetic data's true effects (``truth.csv``), or None for real data."""
    path = Path(data_dir) / "truth.csv"
    return pd.read_csv(path, dtype={"firm_id": str}) if path.exists() else None


def true_att(truth: pd.DataFrame, sample: pd.DataFrame, outcome: str) -> float:
    """Average true effect (log points) over the funded firm-years with ``post == 1`` in
    ``sample``: the estimand of the DiD estimates for this sample."""
    treated = sample.loc[(sample["treat"] == 1) & sample[f"log_{outcome}"].notna(), ["firm_id", "year"]]
    return float(true_effects(truth, outcome).reindex(pd.MultiIndex.from_frame(treated)).fillna(0.0).mean())


def true_effects(truth: pd.DataFrame, outcome: str) -> pd.Series:
    """True effect (log points) by (firm_id, year); a ratio's is the difference of its parts'."""
    def effect(name: str) -> pd.Series:
        rows = truth[truth["outcome"] == name]
        return rows.set_index(["firm_id", "year"])["effect_log"]

    if outcome in DERIVED_OUTCOMES:
        numerator, denominator = DERIVED_OUTCOMES[outcome]
        return effect(numerator).sub(effect(denominator), fill_value=0.0)
    return effect(outcome)
