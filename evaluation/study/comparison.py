"""Comparison groups for the funded firms of one call, and their pre-call covariates.

The comparison group is a study parameter. :func:`comparison_sample` builds, for
Linea A or B, a firm-year frame with the columns of
:func:`evaluation.study.design.applicant_sample` for one of three groups:

``"unsuccessful"``
    funded versus unsuccessful applicants of the same line (the first design). The
    reference year of each firm is its project's (planned) start year.
``"matched"``
    funded applicants versus *non-applicant* enterprises that could have applied:
    Linea A, pole members (``pole != "none"``) that joined by the call year; Linea B,
    enterprises that are not pole members. Firms that applied to either line are not
    in the pool (unsuccessful applicants are group ``"unsuccessful"``). Non-applicants
    have no start year, so they get a *pseudo reference year*: by default the lower
    median of the funded firms' start years (Linea A 2017, Linea B 2018 in the default
    data). The pool is meant to be cut down by matching or weighting
    (:mod:`evaluation.methods.matching`) on :func:`pre_call_covariates`.
``"not_yet"``
    funded firms only, using the staggered start years: ``cohort`` = start year. The
    rule: the sample keeps the years *before the last cohort's start year*, so that in
    every kept year the last cohort (at least) is not yet treated; firms of earlier
    cohorts are the treated side (``treat = 1`` from their start year on), firms of
    the last cohort are the controls (never observed treated in the window). With
    three or more cohorts the middle ones are controls before and treated after their
    start, and a two-way fixed-effects regression also uses already-treated firms as
    controls; :func:`evaluation.methods.estimators.att_gt` avoids that.

Columns of every sample: the panel columns, ``funded`` (0/1), ``reference_year``,
``event_time = year - reference_year``, ``post = (event_time >= 0)``,
``treat = funded x post``, ``cohort`` (reference year if funded, 0 if not: R ``did``'s
never-treated convention), ``log_<outcome>`` (missing where the outcome is not
positive), ``pole`` (the project's pole for applicants, the membership pole from
``firms.csv`` for non-applicants), and the firm-level columns

* ``treated_group`` (0/1): the firm is on the treated side of this comparison
  (``funded`` for the first two groups, ``cohort < last cohort`` for ``"not_yet"``);
* ``call_year``: the line's call year (pre-call covariates use the years before it);
* ``size_class``, ``province``, ``firm_pole`` (membership pole, ``"none"`` for
  non-members) from ``firms.csv``, and ``sector`` (:func:`sector_group` of ``ateco``);
* ``firm_code``: the firm's position among the sample's firm ids in sorted order (0, 1, ...).
  Firm-level frames of a sample (:func:`treated_indicator`, :func:`pre_call_covariates`) are
  indexed by those sorted ids, so their row ``firm_code`` is the firm's. The study groups firms
  and passes the estimators their unit and cluster by this integer (:func:`firm_key`): it makes
  the same groups in the same order as ``firm_id``, and hashing text ids is most of the cost of
  grouping a regional pool of hundreds of thousands of firms.

``firms.csv`` records one size class per firm; the study treats it as a pre-call
characteristic (on real data with a size class measured after the call, rely on the
pre-period employment in :func:`pre_call_covariates` instead).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation.data.contract import ENTERPRISE_TYPES, NO_POLE, StudyData
from evaluation.methods.errors import DesignError
from evaluation.study.design import OUTCOMES, add_timing_and_logs, applicant_sample, no_line_reason, panel_of

GROUPS = ("unsuccessful", "matched", "not_yet")
LINES = ("A", "B")

SECTOR_GROUPS = (
    ("manufacturing", 10, 33),
    ("trade_construction", 41, 47),
    ("ict", 58, 63),
    ("professional_rd", 69, 75),
)
"""ATECO 2007 division ranges of the sector groups (inclusive); every other division
is ``"other"``."""

CATEGORICAL_COVARIATES = ("size_class", "sector", "province", "firm_pole")
"""Firm characteristics that :func:`pre_call_covariates` returns as categories."""


def sector_group(ateco: pd.Series) -> pd.Series:
    """Sector group of ATECO 2007 divisions (two-digit strings), see ``SECTOR_GROUPS``."""
    division = pd.to_numeric(ateco, errors="raise")
    out = pd.Series("other", index=ateco.index, dtype=object)
    for name, low, high in SECTOR_GROUPS:
        out[(division >= low) & (division <= high)] = name
    return out.astype(str)


def comparison_sample(
    data: StudyData, line: str, group: str, reference_year: int | None = None
) -> pd.DataFrame:
    """Firm-year frame of the funded firms of ``line`` and the comparison ``group``.

    ``group`` is ``"unsuccessful"``, ``"matched"`` or ``"not_yet"`` (module docstring:
    who is in it, the columns, the reference years). ``reference_year`` sets the
    pseudo reference year of the non-applicants of ``"matched"`` (default: the lower
    median of the funded firms' start years); it is an error for the other groups.
    Raises :class:`~evaluation.study.design.DesignError` for an unknown line or group and
    when either side of the comparison is empty. Rows are sorted by firm and year.
    """
    if line not in LINES:
        raise DesignError(f"unknown line {line!r}; choose from {LINES}")
    if group not in GROUPS:
        raise DesignError(f"unknown comparison group {group!r}; choose from {GROUPS}")
    if reference_year is not None and group != "matched":
        raise DesignError("reference_year is the pseudo start year of non-applicants; only group 'matched' has them")
    apps = data.applications[data.applications["line"] == line]
    if apps.empty:
        raise DesignError(no_line_reason(line))
    call_year = int(apps["call_year"].min())
    if group == "unsuccessful":
        sample = applicant_sample(data, line)
        sample["treated_group"] = sample["funded"]
    elif group == "matched":
        sample = _matched_pool(data, line, apps, call_year, reference_year)
    else:
        sample = _not_yet(data, line, apps)
    return _add_firm_columns(sample, data, call_year)


def _funded_firms(apps: pd.DataFrame, line: str) -> pd.DataFrame:
    funded = apps[apps["funded"]]
    if funded.empty:
        raise DesignError(f"Linea {line} has no funded applicants in applications.csv.")
    return (
        funded.assign(reference_year=funded["start_date"].dt.year)
        .groupby("firm_id", as_index=False)
        .agg(reference_year=("reference_year", "min"), pole=("pole", "first"))
        .assign(funded=1)
    )


def _matched_pool(
    data: StudyData, line: str, apps: pd.DataFrame, call_year: int, reference_year: int | None
) -> pd.DataFrame:
    funded = _funded_firms(apps, line)
    if reference_year is None:
        reference_year = int(np.quantile(funded["reference_year"], 0.5, method="lower"))
    firms = data.firms
    eligible = firms["firm_type"].isin(ENTERPRISE_TYPES) & ~firms["firm_id"].isin(data.applications["firm_id"])
    if line == "A":
        member_by_call = firms["member_since"].astype("Float64") <= call_year
        eligible &= (firms["pole"] != NO_POLE) & member_by_call.fillna(False).astype(bool)
        who = f"pole members (joined by {call_year})"
    else:
        eligible &= firms["pole"] == NO_POLE
        who = "non-member enterprises"
    pool = firms.loc[eligible, ["firm_id", "pole"]].assign(funded=0, reference_year=int(reference_year))
    pool = pool[pool["firm_id"].isin(data.panel["firm_id"])]
    if pool.empty:
        raise DesignError(
            f"the data hold no non-applicant {who} with panel data, so there is no pool to match Linea {line}'s funded firms from."
        )
    return _firm_years(data, pd.concat([funded, pool], ignore_index=True), treated=lambda f: f["funded"])


def _not_yet(data: StudyData, line: str, apps: pd.DataFrame) -> pd.DataFrame:
    funded = _funded_firms(apps, line)
    cohorts = sorted(funded["reference_year"].unique())
    if len(cohorts) < 2:
        raise DesignError(
            f"every funded project of Linea {line} starts in {cohorts[0]}, so no funded firm is "
            "not yet treated while another is (this comparison needs two start years or more)."
        )
    last = int(cohorts[-1])
    sample = _firm_years(data, funded, treated=lambda f: (f["reference_year"] < last).astype(int))
    sample = sample[sample["year"] < last]
    if sample.empty or sample["treated_group"].nunique() < 2:
        raise DesignError(f"the panel has no year before Linea {line}'s last start year {last} with firms of both earlier and later starts.")
    return sample.reset_index(drop=True)


def _firm_years(data: StudyData, firms: pd.DataFrame, treated) -> pd.DataFrame:
    """Merge a firm table (firm_id, funded, reference_year, pole) with the panel and
    add the timing and log columns of :func:`evaluation.study.design.applicant_sample`."""
    firms = firms.assign(treated_group=treated(firms).astype(int))
    sample = panel_of(data, firms)
    for side, label in ((1, "treated"), (0, "comparison")):
        if not (sample["treated_group"] == side).any():
            raise DesignError(f"the {label} side has no firm with panel data.")
    return add_timing_and_logs(sample)


def _add_firm_columns(sample: pd.DataFrame, data: StudyData, call_year: int) -> pd.DataFrame:
    """The firm columns of ``firms.csv``, ``call_year`` and ``firm_code``, rows sorted by firm and
    year. Firms are coded once (sorted ids), and the codes do the join and the sort."""
    codes, ids = pd.factorize(sample["firm_id"], sort=True)
    firms = data.firms.set_index("firm_id").reindex(ids)
    by_firm = {"size_class": firms["size_class"], "sector": sector_group(firms["ateco"]),
               "province": firms["province"], "firm_pole": firms["pole"]}
    out = sample.assign(**{name: column.array.take(codes) for name, column in by_firm.items()}, call_year=call_year)
    order = np.lexsort((sample["year"].to_numpy(), codes))  # (firm_id, year) is unique: one order
    out = out.take(order).reset_index(drop=True)
    out["firm_code"] = codes[order]
    return out


def firm_key(frame: pd.DataFrame) -> str:
    """The column that identifies firms in ``frame``: ``firm_code`` when it has one (a
    :func:`comparison_sample` or rows of it), else ``firm_id``."""
    return "firm_code" if "firm_code" in frame.columns else "firm_id"


def with_firm_codes(sample: pd.DataFrame) -> pd.DataFrame:
    """``sample`` with ``firm_code`` 0, 1, ... in sorted ``firm_id`` order, so that a firm-level
    frame of it lines up with the codes: added when missing, renumbered after rows were dropped
    (e.g. a pole left out), ``sample`` itself when they already line up."""
    if "firm_code" not in sample.columns:
        return sample.assign(firm_code=pd.factorize(sample["firm_id"], sort=True)[0])
    codes = sample["firm_code"].to_numpy()
    renumbered = _consecutive(codes)
    return sample if renumbered is codes else sample.assign(firm_code=renumbered)


def _consecutive(codes: np.ndarray) -> np.ndarray:
    """Non-negative integer codes renumbered 0, 1, ... in the same order (``codes`` itself when they are)."""
    present = np.zeros(int(codes.max()) + 1 if len(codes) else 0, bool)
    present[codes] = True
    return codes if present.all() else (np.cumsum(present) - 1)[codes]


def _firm_groups(sample: pd.DataFrame) -> tuple[np.ndarray, pd.Index]:
    """Each row's firm as a code 0, 1, ... in sorted ``firm_id`` order, and the ids in that order."""
    if "firm_code" not in sample.columns:
        codes, ids = pd.factorize(sample["firm_id"], sort=True)
        return codes, pd.Index(ids, name="firm_id")
    codes = _consecutive(sample["firm_code"].to_numpy())
    ids = np.empty(int(codes.max()) + 1 if len(codes) else 0, dtype=object)
    ids[codes] = sample["firm_id"].to_numpy(dtype=object)
    return codes, pd.Index(ids, dtype=sample["firm_id"].dtype, name="firm_id")


def treated_indicator(sample: pd.DataFrame) -> pd.Series:
    """One 0/1 value per firm (index ``firm_id``, sorted): ``treated_group`` of a
    :func:`comparison_sample` frame, else ``funded``."""
    column = "treated_group" if "treated_group" in sample.columns else "funded"
    codes, ids = _firm_groups(sample)
    by_firm = sample.groupby(codes, sort=True)[column]
    if (by_firm.nunique() > 1).any():
        raise DesignError(f"column {column!r} changes within a firm; it must be a firm-level 0/1 indicator")
    return by_firm.first().astype(int).set_axis(ids).rename("treated")


def pre_call_window(sample: pd.DataFrame) -> tuple[int, int]:
    """Years whose outcomes describe firms before the programme: the panel's first year
    to the year before the call; when the panel starts in or after the call year, to
    the year before the first project start of the treated side (still untreated)."""
    first = int(sample["year"].min())
    last = int(sample["call_year"].min()) - 1
    if last < first:
        treated = sample.loc[sample["treated_group"] == 1, "reference_year"] if "treated_group" in sample else sample.loc[sample["funded"] == 1, "reference_year"]
        last = int(treated.min()) - 1
    return first, last


def pre_call_covariates(
    sample: pd.DataFrame,
    pre_years: tuple[int, int] | None = None,
    outcomes: tuple[str, ...] = OUTCOMES,
    min_level_count: int = 5,
) -> pd.DataFrame:
    """One row per firm (index ``firm_id``, sorted) of characteristics before the call.

    Categorical columns (strings): ``size_class``, ``sector``, ``province``,
    ``firm_pole``. A level held by fewer than ``min_level_count`` treated firms or
    fewer than ``min_level_count`` control firms (:func:`treated_indicator`) is pooled
    into ``"other"``: a level (almost) absent from one group predicts treatment
    perfectly, and :func:`evaluation.methods.matching.propensity_score` would refuse it. A
    column left with a single level (e.g. ``firm_pole`` in Linea B, all ``"none"``) is
    dropped. (If ``"other"`` itself is held by one group only, the propensity score
    still refuses it: then drop the column or raise ``min_level_count``.)

    Numeric columns, for each ``outcome``, over the pre-call years ``pre_years =
    (first, last)`` (inclusive; default: the panel's first year to ``call_year - 1``):

    * ``pre_mean_log_<outcome>``: mean of ``log_<outcome>`` over the years observed;
    * ``pre_growth_log_<outcome>``: average yearly log growth between the first and
      the last observed pre-call year, ``(log y_last - log y_first) / (last - first)``.

    The default window is :func:`pre_call_window`.

    Both are missing (NaN) when a firm has fewer observed years than they need (one,
    two); e.g. firms without R&D have no log R&D. They are not imputed:
    :func:`evaluation.methods.matching.propensity_score` refuses missing covariates, so drop
    such firms or outcomes deliberately.
    """
    needed = ["firm_id", "year", *CATEGORICAL_COVARIATES, *(f"log_{o}" for o in outcomes)]
    if pre_years is None:
        needed.append("call_year")
    missing = [c for c in needed if c not in sample.columns]
    if missing:
        raise DesignError(f"pre_call_covariates: sample lacks columns {missing}; build it with comparison_sample")
    first, last = pre_years if pre_years is not None else pre_call_window(sample)
    if first > last:
        raise DesignError(f"the panel has no year before the call ({first}-{last}), so there are no pre-call characteristics.")
    codes, firm_ids = _firm_groups(sample)  # integers in firm_id order: hashing text ids is most of the cost at scale
    firms = sample.groupby(codes, sort=True)
    out = pd.DataFrame(index=firm_ids)
    treated = treated_indicator(sample)
    for column in CATEGORICAL_COVARIATES:
        values = firms[column].first().set_axis(out.index).fillna("missing").astype(str)
        counts = pd.crosstab(values, treated).reindex(columns=[0, 1], fill_value=0).min(axis=1)
        values = values.where(~values.isin(counts.index[counts < min_level_count]), "other")
        if values.nunique() > 1:
            out[column] = values
    in_window = ((sample["year"] >= first) & (sample["year"] <= last)).to_numpy()
    pre = sample.loc[in_window, ["year", *(f"log_{o}" for o in outcomes)]].assign(_firm=codes[in_window])
    for outcome in outcomes:
        observed = pre.loc[pre[f"log_{outcome}"].notna(), ["_firm", "year", f"log_{outcome}"]]
        by_firm = observed.sort_values(["_firm", "year"]).groupby("_firm")
        ends = by_firm.agg(
            y0=(f"log_{outcome}", "first"), y1=(f"log_{outcome}", "last"),
            t0=("year", "first"), t1=("year", "last"),
        )
        span = (ends["t1"] - ends["t0"]).where(ends["t1"] > ends["t0"])
        positions = pd.RangeIndex(len(firm_ids))
        out[f"pre_mean_log_{outcome}"] = by_firm[f"log_{outcome}"].mean().reindex(positions).to_numpy()
        out[f"pre_growth_log_{outcome}"] = ((ends["y1"] - ends["y0"]) / span).reindex(positions).to_numpy()
    return out
