"""R&D, the direct outcome of an R&D grant, read with its zeros.

The study's outcomes enter in logs (``design.add_timing_and_logs``), and a firm-year with
no R&D has no log: the log effect on R&D is estimated on firm-years with positive R&D,
which selects on the outcome. Three measures of the same comparison:

* ``extensive``: the effect on the share of firms doing R&D, a linear probability DiD of
  ``1[rd_expenditure_eur > 0]`` on every firm-year where R&D is reported, with the study's
  estimators (``cs_dr``: Callaway-Sant'Anna doubly robust as in ``impact``; ``twfe``), in
  percentage points;
* ``proportional``: the ATT in levels over the counterfactual mean,
  ``E[y(1) - y(0) | D=1] / E[y(0) | D=1]``, by Poisson PPML with firm and year effects and
  one effect per (start year, year) cell, year effects by size class
  (``evaluation.methods.estimators.poisson``; Wooldridge 2023, Chen & Roth 2024), zeros kept, in percent;
* ``log_positive``: the study's log estimate (``impact.estimate``, ``cs_dr``) on firm-years
  with positive R&D only: a sub-sample selected on the outcome, shown with the firms it keeps.

The truth of synthetic data (``truth.csv``) gives effects on logs: ``y(1) = y(0) exp(tau)``,
which moves positive values and leaves a zero at zero, so the true effect on the share doing
R&D is zero; the true proportional effect is ``log(sum y / sum y exp(-tau))`` over the funded
firm-years after the start (log points), zeros included.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from evaluation.data.programme import SIZE_CLASSES
from evaluation.methods.errors import DesignError
from evaluation.methods.estimators import twfe
from evaluation.methods.estimators.poisson import poisson_did
from evaluation.methods.estimators.small_sample import simple_att
from evaluation.study import impact, labels
from evaluation.study.comparison import firm_key, pre_call_covariates, with_firm_codes
from evaluation.study.design import UNBALANCED_PANEL, data_limits, true_effects

RD = "rd_expenditure_eur"
MEASURES = {"extensive": "share of firms doing R&D (percentage points)",
            "proportional": "R&D in levels, zeros kept (percent, Poisson)",
            "log_positive": "log R&D, firms with positive R&D in the year only (percent; selection on the outcome)"}
EXTENSIVE_ESTIMATORS = ("cs_dr", "twfe")


def _firms(frame: pd.DataFrame, side: str = "treated_group") -> tuple[int, int]:
    """Funded (treated side) and comparison firms in ``frame``."""
    ever = frame.groupby(firm_key(frame))[side].max()
    return int((ever == 1).sum()), int((ever == 0).sum())


def rd_frame(sample: pd.DataFrame) -> pd.DataFrame:
    """Firm-years of ``sample`` where R&D is reported (zero or positive), with
    ``does_rd = 1[rd_expenditure_eur > 0]``; ``DesignError`` when either side has none."""
    if RD not in sample.columns or sample[RD].isna().all():
        raise DesignError("panel.csv reports no value of R&D expenditure for these firms (the column is empty).")
    frame = sample[sample[RD].notna()].reset_index(drop=True)
    frame = frame.assign(does_rd=(frame[RD] > 0).astype(int))
    funded, comparison = _firms(frame)
    if not funded or not comparison:
        raise DesignError(f"no {'funded' if not funded else 'comparison'} firm reports R&D expenditure in panel.csv.")
    return frame


def switchers(frame: pd.DataFrame) -> int:
    """Firms whose R&D status (``does_rd``) changes between the years they are observed."""
    return int((frame.groupby(firm_key(frame))["does_rd"].nunique() > 1).sum())


def extensive_margin(sample: pd.DataFrame, group: str, estimator: str, truth: pd.DataFrame | None,
                     balanced: bool = not UNBALANCED_PANEL) -> dict:
    """Linear probability DiD of ``does_rd`` (percentage points, 95% interval clustered by firm).
    With no firm changing status the firm effects absorb the indicator and every DiD is zero
    whatever the sample: the row says so (``switchers = 0``, estimate 0, no interval)."""
    sample = with_firm_codes(sample)  # firm-level covariates line up with the codes
    frame = rd_frame(sample)
    row = {"measure": "extensive", "estimator": estimator, "switchers": switchers(frame),
           "truth": None if truth is None else 0.0}
    funded, comparison = _firms(frame)
    if row["switchers"] == 0:
        return {**row, "estimate": 0.0, "se": 0.0, "ci_low": math.nan, "ci_high": math.nan, "p": math.nan,
                "n_treated": funded, "n_control": comparison,
                "note": "no firm starts or stops R&D in these years, so the share doing R&D cannot move: zero by construction"}
    with data_limits(f"{labels.estimator(estimator, short=True)} estimate of the share doing R&D"):
        if estimator == "twfe":
            result = twfe(frame, "does_rd", ["treat"], "firm_code", "year", vcov="CR1", cluster="firm_code").table.loc["treat"]
            values = {k: float(result[k]) for k in ("estimate", "se", "ci_low", "ci_high", "p")}
            counts = _firms(frame, "treat")
        elif estimator == "cs_dr":
            covariates = pre_call_covariates(sample, outcomes=("turnover_eur", "employees"))[list(impact.CS_COVARIATES)]
            available = [c for c in impact.CS_COVARIATES if covariates[c].notna().any()]
            if not available:
                raise DesignError("no firm reports turnover or employment before the call, the covariates of the doubly robust estimator.")
            data = impact.with_firm_values(frame, impact.by_code(covariates[available], sample)).dropna(subset=available)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # cells att_gt cannot estimate are left out, as in R did
                result = simple_att(data, "does_rd", "year", "firm_code", "cohort", covariates=available,
                                    control="not_yet" if group == "not_yet" else "never", inference=impact.CS_INFERENCE,
                                    allow_unbalanced_panel=not balanced)
            values = {"estimate": result.att, "se": result.se, "ci_low": result.ci_low, "ci_high": result.ci_high, "p": result.p}
            counts = _firms(data, "treat")
        else:
            raise DesignError(f"unknown estimator {estimator!r} for the share doing R&D; choose from {EXTENSIVE_ESTIMATORS}")
    return {**row, **{k: 100 * v if k != "p" else v for k, v in values.items()},
            "n_treated": counts[0], "n_control": counts[1], "note": ""}


def true_proportional(truth: pd.DataFrame, frame: pd.DataFrame) -> float:
    """``log(sum y / sum y exp(-tau))`` over the funded firm-years after the start in ``frame``
    (``y`` observed R&D, zeros included; ``tau`` the true log effect): the estimand of ``proportional``."""
    treated = frame[frame["treat"] == 1]
    tau = true_effects(truth, RD).reindex(pd.MultiIndex.from_frame(treated[["firm_id", "year"]])).fillna(0.0).to_numpy()
    y = treated[RD].to_numpy(float)
    return float(np.log(y.sum()) - np.log((y * np.exp(-tau)).sum()))


MIN_STRATUM_FIRMS = 5
"""Size classes with fewer comparison firms reporting R&D than this are pooled into ``"other"``."""


def size_strata(frame: pd.DataFrame) -> pd.Series:
    """Size class of each firm-year for the Poisson year effects. A class held by fewer than
    ``MIN_STRATUM_FIRMS`` comparison firms with positive R&D joins the nearest class in size
    order (``programme.SIZE_CLASSES``; the smaller one on a tie) that has enough, as size trends
    vary smoothly with size; a single stratum when ``size_class`` is absent, holds other values,
    or no class has enough."""
    single = pd.Series("all", index=frame.index)
    if "size_class" not in frame or not frame["size_class"].isin(SIZE_CLASSES).all():
        return single
    firm = firm_key(frame)
    positive = frame.groupby(firm)[RD].transform("sum") > 0
    comparison = frame[positive & (frame["treated_group"] == 0)].groupby("size_class")[firm].nunique()
    enough = [rank for rank, c in enumerate(SIZE_CLASSES) if comparison.get(c, 0) >= MIN_STRATUM_FIRMS]
    if not enough:
        return single
    nearest = {c: SIZE_CLASSES[min(enough, key=lambda e: (abs(e - rank), e))] for rank, c in enumerate(SIZE_CLASSES)}
    return frame["size_class"].map(nearest)


def proportional_effect(sample: pd.DataFrame, truth: pd.DataFrame | None) -> dict:
    """Poisson PPML proportional effect (``poisson_did``, cells by start year and year, year
    effects by size class (``size_strata``): multiplicative parallel trends within size classes,
    as the log estimate conditions on pre-call size) in log points of the ratio
    ``E[y(1)] / E[y(0)]`` over the funded firm-years. Interval: the delete-one-firm jackknife
    (``vcov="CV3"``), because a few large firms hold most R&D in levels and the CR1 sandwich
    then under-covers (tests/methods/test_poisson_did.py)."""
    frame = rd_frame(with_firm_codes(sample))
    frame = frame.assign(stratum=size_strata(frame))
    with data_limits("Poisson estimate of R&D in levels"):
        result = poisson_did(frame, RD, "firm_code", "year", "cohort", strata="stratum", vcov="CV3")
    row = result.table.loc["ATT"]
    used = frame[frame.groupby("firm_code")[RD].transform("sum") > 0]
    n_treated, n_control = _firms(used, "treat")
    return {"measure": "proportional", "estimator": "poisson", **{k: float(row[k]) for k in ("estimate", "se", "ci_low", "ci_high", "p")},
            "n_treated": n_treated, "n_control": n_control, "switchers": switchers(frame),
            "truth": None if truth is None else true_proportional(truth, frame),
            "note": f"{result.extra['units_all_zero']} firms with no R&D in any year carry no information and are left out"
            if result.extra["units_all_zero"] else ""}


def rd_effects(sample: pd.DataFrame, line: str, group: str, truth: pd.DataFrame | None,
               log_estimate: impact.Estimate | None = None, balanced: bool = not UNBALANCED_PANEL) -> pd.DataFrame:
    """The three measures for one call and comparison group, one row each (``extensive`` once
    per estimator of ``EXTENSIVE_ESTIMATORS``): ``measure, estimator, estimate, se, ci_low,
    ci_high, p, n_treated, n_control`` (firms used), ``group_treated, group_control`` (firms of
    the comparison reporting R&D), ``switchers``, ``truth``, ``note``. Extensive in percentage
    points; proportional and log in log points (``percent`` gives the percent effect). A measure
    the data cannot support is a row with ``note`` and no estimate. ``log_estimate``: the study's
    ``cs_dr`` estimate of log R&D, when already computed."""
    frame = rd_frame(sample)
    group_treated, group_control = _firms(frame)
    rows = []
    for estimator in EXTENSIVE_ESTIMATORS:
        try:
            rows.append(extensive_margin(sample, group, estimator, truth, balanced))
        except DesignError as err:
            rows.append({"measure": "extensive", "estimator": estimator, "note": str(err)})
    try:
        rows.append(proportional_effect(sample, truth))
    except DesignError as err:
        rows.append({"measure": "proportional", "estimator": "poisson", "note": str(err)})
    if log_estimate is None:
        log_estimate = impact.estimate(sample, line, group, RD, "cs_dr", None, truth, balanced)
    log_row = {"measure": "log_positive", "estimator": log_estimate.estimator, "note": log_estimate.note}
    if log_estimate.estimated:
        log_row.update(estimate=log_estimate.att, se=log_estimate.se, ci_low=log_estimate.ci_low,
                       ci_high=log_estimate.ci_high, p=log_estimate.p, n_treated=log_estimate.n_treated,
                       n_control=log_estimate.n_control, truth=log_estimate.truth)
    rows.append(log_row)
    table = pd.DataFrame(rows).assign(line=line, group=group, group_treated=group_treated, group_control=group_control)
    columns = ["line", "group", "measure", "estimator", "estimate", "se", "ci_low", "ci_high", "p", "n_treated",
               "n_control", "group_treated", "group_control", "switchers", "truth", "note"]
    for column in columns:
        if column not in table:
            table[column] = np.nan
    table["note"] = table["note"].fillna("")
    return table[columns]


def _pct(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else round(100 * math.expm1(value), 1)


def headline(table: pd.DataFrame) -> dict:
    """The numbers the report quotes for one call, from ``rd_effects``: the extensive margin of
    ``cs_dr`` (percentage points, 1 decimal), the proportional and log effects (percent), the
    firms each uses and the firms of the comparison reporting R&D. A measure without an
    estimate carries ``not_estimable`` with the reason."""
    rows = {(m, e): row for (m, e), row in table.set_index(["measure", "estimator"]).iterrows()}
    first = table.iloc[0]
    out: dict = {"group_treated": int(first["group_treated"]), "group_control": int(first["group_control"]),
                 "switchers": None if pd.isna(first["switchers"]) else int(first["switchers"])}
    for key, (measure, estimator) in {"extensive": ("extensive", "cs_dr"), "proportional": ("proportional", "poisson"),
                                      "log_positive": ("log_positive", "cs_dr")}.items():
        row = rows.get((measure, estimator))
        if row is None or pd.isna(row["estimate"]):
            out[key] = {"not_estimable": "" if row is None else row["note"]}
            continue
        if measure == "extensive":
            values = {"pp": round(float(row["estimate"]), 1),
                      "ci_low_pp": None if pd.isna(row["ci_low"]) else round(float(row["ci_low"]), 1),
                      "ci_high_pp": None if pd.isna(row["ci_high"]) else round(float(row["ci_high"]), 1),
                      "truth_pp": None if pd.isna(row["truth"]) else round(float(row["truth"]), 1)}
        else:
            values = {"pct": _pct(row["estimate"]), "ci_low_pct": _pct(row["ci_low"]), "ci_high_pct": _pct(row["ci_high"]),
                      "truth_pct": None if pd.isna(row["truth"]) else _pct(row["truth"])}
        out[key] = {**values, "n_treated": int(row["n_treated"]), "n_control": int(row["n_control"])}
    return out


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """``rd_effects`` rows for the report: every effect in percent or percentage points."""
    shown = table.copy()
    logs = shown["measure"] != "extensive"
    for column in ("estimate", "ci_low", "ci_high", "truth"):
        values = pd.to_numeric(shown[column], errors="coerce")
        shown[column] = np.where(logs, 100 * np.expm1(values), values)
    shown["measure"] = shown["measure"].map(MEASURES)
    shown["estimator"] = shown["estimator"].map(labels.ESTIMATOR_ABBREVIATIONS)
    shown = shown.drop(columns=["group", "se", "p"] + (["truth"] if shown["truth"].isna().all() else []))
    return shown.rename(columns={"estimate": "effect", "ci_low": "effect_ci_low", "ci_high": "effect_ci_high",
                                 "truth": "true_effect", "n_treated": "n_treated_used", "n_control": "n_control_used"})
