"""Analysis samples: from the validated data to firm-year frames the estimators take.

The first design: funded versus unsuccessful applicants of one call (Linea A or
B). Each applicant's reference year is the start year of its project (planned start
for unsuccessful projects), so both groups have an event time
``event_time = year - reference_year``; ``post = event_time >= 0``.
Outcomes enter in logs (``log_<outcome>``), so effects read as log points
(``100 * (exp(b) - 1)`` percent); non-positive values have no log and are missing.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.data.contract import StudyData
from evaluation.methods.errors import DesignError
from evaluation.study import labels

OUTCOMES = ("turnover_eur", "employees", "value_added_eur", "rd_expenditure_eur")
"""Outcome columns of ``panel.csv``."""
DERIVED_OUTCOMES = {"labour_productivity": ("value_added_eur", "employees")}
"""Ratios analysed in logs: log(value added / employees) = log value added - log employees."""
ANALYSIS_OUTCOMES = OUTCOMES + tuple(DERIVED_OUTCOMES)


@contextlib.contextmanager
def data_limits(what: str):
    """Turn an estimator's refusal of these data (``ValueError`` such as "no
    never-treated units" or "no variation", a singular matrix) into a
    :class:`DesignError` that names ``what`` was being estimated."""
    try:
        yield
    except DesignError:
        raise
    except (ValueError, np.linalg.LinAlgError, ZeroDivisionError) as err:
        raise DesignError(f"{what}: {err}") from err


UNBALANCED_PANEL = True
"""The study's rule for firms not observed in every year of an outcome: Callaway and
Sant'Anna with R ``did``'s unbalanced-panel estimator (``allow_unbalanced_panel=TRUE``:
every firm-year is used; on a balanced sample it is the panel estimator). The balanced
rule (firms with a gap dropped) is the ``balanced_panel`` parameter of the main-results
notebook."""


def lines_in(data: StudyData) -> tuple[str, ...]:
    """The calls (``"A"``, ``"B"``) with at least one application in the data."""
    return tuple(line for line in ("A", "B") if (data.applications["line"] == line).any())


def no_line_reason(line: str) -> str:
    return f"applications.csv holds no application to Linea {line}, so this call cannot be evaluated."


def applicant_sample(data: StudyData, line: str) -> pd.DataFrame:
    """Firm-year panel of the applicants of ``line`` with treatment timing.

    Columns: panel columns, ``funded`` (0/1), ``reference_year``, ``event_time``,
    ``post`` (0/1), ``treat`` = funded x post, ``cohort`` (reference year if funded,
    0 if not: the never-treated convention of R ``did``), ``log_<outcome>``. A firm
    with a funded project takes the earliest start of its *funded* projects as its
    reference year (an earlier unfunded application does not treat it); an
    unsuccessful applicant takes the earliest planned start of its projects.
    """
    apps = data.applications[data.applications["line"] == line]
    if apps.empty:
        raise DesignError(no_line_reason(line))
    apps = apps.assign(reference_year=apps["start_date"].dt.year)
    firms = apps.groupby("firm_id", as_index=False).agg(funded=("funded", "max"), reference_year=("reference_year", "min"))
    funded_apps = apps[apps["funded"]].groupby("firm_id").agg(start=("reference_year", "min"), pole=("pole", "first"))
    firms["reference_year"] = firms["firm_id"].map(funded_apps["start"]).fillna(firms["reference_year"]).astype(int)
    any_pole = firms["firm_id"].map(apps.groupby("firm_id")["pole"].first())
    firms["pole"] = firms["firm_id"].map(funded_apps["pole"]).astype(object).where(firms["funded"], any_pole)
    firms["funded"] = firms["funded"].astype(int)
    for group, label in ((1, "funded"), (0, "unsuccessful")):
        if not (firms["funded"] == group).any():
            raise DesignError(f"Linea {line} has no {label} applicants in applications.csv, so funded and "
                              "unsuccessful applicants cannot be compared.")
    return add_timing_and_logs(panel_of(data, firms)).sort_values(["firm_id", "year"], ignore_index=True)


def panel_of(data: StudyData, firms: pd.DataFrame) -> pd.DataFrame:
    """The panel rows of the firms in ``firms`` (one row per ``firm_id``) with ``firms``' other
    columns, in panel order: the inner join ``panel.merge(firms, on="firm_id")`` done by one
    lookup of each panel row's firm (a regional panel holds millions of rows)."""
    if not firms["firm_id"].is_unique:
        raise ValueError("panel_of: firms must hold one row per firm_id")
    row = pd.Index(firms["firm_id"]).get_indexer(data.panel["firm_id"])
    kept = row >= 0
    panel = data.panel[kept].reset_index(drop=True)
    return panel.assign(**{c: firms[c].array.take(row[kept]) for c in firms.columns if c != "firm_id"})


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
    """Rows of ``sample`` where ``log_<outcome>`` is observed; ``DesignError`` when no
    treated or no comparison firm has one (a firm-year missing this outcome stays in
    the frames of the others)."""
    if outcome not in ANALYSIS_OUTCOMES:
        raise DesignError(f"unknown outcome {outcome!r}; choose from {ANALYSIS_OUTCOMES}")
    frame = sample[sample[f"log_{outcome}"].notna()].reset_index(drop=True)
    side = next((c for c in ("treated_group", "funded", "cohort") if c in frame.columns), None)
    treated = (frame[side].fillna(0) > 0).astype(int) if side else pd.Series(dtype=int)
    parts = [part for part in DERIVED_OUTCOMES.get(outcome, (outcome,)) if part in sample.columns]
    if parts and all(sample[part].isna().all() for part in parts):
        raise DesignError(f"panel.csv reports no value of {labels.OUTCOMES[outcome]} for these firms (the column is empty).")
    for value, label in ((1, "funded"), (0, "comparison")):
        if side and not (treated == value).any():
            raise DesignError(f"no {label} firm has a positive value of {labels.OUTCOMES[outcome]} in panel.csv.")
    return frame


def event_window(frame: pd.DataFrame, leads: int, lags: int) -> tuple[int, int]:
    """``leads`` and ``lags`` of an event study cut to the event times the funded firms
    of ``frame`` reach (``leads = 1`` pools every pre-start year into the reference
    year -1). ``DesignError`` when no funded firm is seen both before and after its start."""
    e = frame.loc[frame["funded"] == 1, "event_time"]
    if e.empty or e.max() < 0 or e.min() > -1:
        raise DesignError("no funded firm is observed both before and after its project start, "
                          "so there is no difference in differences.")
    return max(1, min(int(leads), int(-e.min()))), max(0, min(int(lags), int(e.max())))


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
