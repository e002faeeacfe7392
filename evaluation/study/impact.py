"""The evaluation proper: the ATT of funding for one call, comparison group,
outcome and estimator, on log outcomes, beside the synthetic truth.

Estimators (``ESTIMATORS``):

* ``twfe``: two-way fixed effects (firm, year) of ``log y`` on ``treat``, CR1 by firm;
* ``cs_dr``: Callaway-Sant'Anna doubly robust (Sant'Anna-Zhao) with the pre-call
  means of log turnover and log employment as covariates, simple aggregation
  (never-treated controls; not-yet-treated controls for group ``not_yet``),
  clustered by firm: the delete-one-firm jackknife with t critical values up to 5,000
  firms, the analytic influence-function interval above (``CS_INFERENCE``,
  ``evaluation.methods.estimators.small_sample``);
* ``matched_did``: nearest-neighbour matching on the propensity score (logit on
  pre-call size, sector, province, pole, levels and growth of turnover, employment
  and value added; caliper 0.2 SD of the logit; with replacement) after min-max
  common-support trimming, then weighted TWFE;
* ``ipw_did``: the same score, ATT weights ``e/(1-e)`` for controls, weighted TWFE.

Every estimate is one ``Estimate`` row with the ATT in log points; ``percent`` turns
it into a percent change. Matching and weighting are not available for group
``not_yet`` (all firms are funded) and raise ``DesignError``. What the data cannot
support (an empty outcome, no firm with pre-call data, one pole to cluster on) is a
``DesignError`` whose message says why; :func:`estimate_line` turns it into a row
without an estimate and with that reason in ``note``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from evaluation.data.contract import StudyData
from evaluation.methods.errors import DesignError
from evaluation.methods.estimators import aggte, att_gt, twfe
from evaluation.methods.estimators.small_sample import simple_att
from evaluation.methods.inference import FewClustersWarning, wild_cluster_bootstrap
from evaluation.methods.matching import (
    SeparationError,
    ipw_weights,
    matched_did,
    nearest_neighbour_match,
    propensity_score,
    trim_common_support,
)
from evaluation.study import formats as fmt
from evaluation.study import labels
from evaluation.study.comparison import firm_key, pre_call_covariates, treated_indicator, with_firm_codes
from evaluation.study.design import OUTCOMES, UNBALANCED_PANEL, data_limits, outcome_frame, true_att, true_effects

ESTIMATORS = ("twfe", "cs_dr", "matched_did", "ipw_did")
CS_COVARIATES = ("pre_mean_log_turnover_eur", "pre_mean_log_employees")
CS_INFERENCE = "auto"
"""Interval of ``cs_dr``: ``small_sample.simple_att``'s ``"auto"`` rule (delete-one-firm
jackknife with t critical values up to 5,000 firms, the analytic influence-function
interval above); ``"analytic"`` restores the normal interval of ``aggte``."""
SCORE_OUTCOMES = ("turnover_eur", "employees", "value_added_eur")
"""Outcomes whose pre-call level and growth enter the propensity score (R&D is left
out: firms without R&D have no log R&D, and the score refuses missing values)."""


@dataclass(frozen=True)
class Estimate:
    line: str
    group: str
    outcome: str
    estimator: str
    att: float
    se: float
    ci_low: float
    ci_high: float
    p: float
    n_treated: int | None
    n_control: int | None
    truth: float | None
    note: str = ""

    def as_row(self) -> dict:
        return asdict(self)

    @classmethod
    def not_estimable(cls, line: str, group: str, outcome: str, estimator: str, reason: str) -> "Estimate":
        nan = math.nan
        return cls(line, group, outcome, estimator, nan, nan, nan, nan, nan, None, None, None, note=reason)

    @property
    def estimated(self) -> bool:
        return math.isfinite(self.att)


@dataclass(frozen=True)
class Weights:
    """Propensity score weights of one sample: matched and IPW firm weights (index: every firm
    of the sample, ``firm_id`` sorted), and the covariates behind them (for the balance table)."""
    covariates: pd.DataFrame
    treated: pd.Series
    matched: pd.Series
    ipw: pd.Series
    trimmed: int
    dropped: tuple[str, ...]
    no_pre_data: int = 0


def fit_score(covariates: pd.DataFrame, treated: pd.Series) -> tuple[pd.Series, tuple[str, ...]]:
    """Propensity score; a categorical covariate with a level held by one group only
    (perfect separation) is dropped and named in the returned tuple. Separation by a
    numeric covariate is not repaired: it raises ``SeparationError``."""
    dropped: list[str] = []
    while True:
        try:
            return propensity_score(covariates, treated).score, tuple(dropped)
        except SeparationError as err:
            column = err.covariate.split("=")[0]
            if "=" not in err.covariate or column not in covariates.columns:
                raise
            covariates = covariates.drop(columns=column)
            dropped.append(column)


def score_weights(sample: pd.DataFrame, seed: int) -> Weights:
    """Propensity score (``fit_score``), common-support trimming, matching and IPW weights by firm.

    A covariate no firm has (an outcome never reported, or one pre-call year only for
    growth) is left out and named in ``dropped``; firms still missing a covariate (no
    pre-call data: they entered the panel after the call, or a value is missing) are
    excluded, weight 0, and counted in ``no_pre_data``."""
    covariates = pre_call_covariates(sample, outcomes=SCORE_OUTCOMES)
    treated = treated_indicator(sample)
    empty = [c for c in covariates.columns if covariates[c].isna().all()]
    covariates = covariates.drop(columns=empty)
    complete = covariates.notna().all(axis=1)
    for side, label in ((1, "funded"), (0, "comparison")):
        if not (complete & (treated == side)).any():
            raise DesignError(f"no {label} firm has pre-call data for the propensity score "
                              f"({', '.join(covariates.columns)}).")
    with data_limits("propensity score"):
        score, dropped = fit_score(covariates[complete], treated[complete])
    keep = trim_common_support(score, treated[complete])
    kept = treated[complete][keep]
    if not (kept == 1).any() or not (kept == 0).any():
        raise DesignError("common-support trimming left one side of the comparison empty.")
    matched = nearest_neighbour_match(score[keep], kept, caliper=0.2, seed=seed).weights
    return Weights(covariates[complete], treated[complete], matched.reindex(treated.index, fill_value=0.0),
                   ipw_weights(score[keep], kept).reindex(treated.index, fill_value=0.0),
                   trimmed=int((~keep).sum()), dropped=(*empty, *dropped), no_pre_data=int((~complete).sum()))


def _balanced_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of the firms observed in every year of ``frame`` (the balanced rule)."""
    firm = firm_key(frame)
    years = frame.groupby(firm)["year"].nunique()
    return frame[frame[firm].isin(years.index[years == frame["year"].nunique()])]


def _firm_counts(frame: pd.DataFrame) -> tuple[int, int]:
    ever = frame.groupby(firm_key(frame))["treat"].max()
    return int((ever == 1).sum()), int((ever == 0).sum())


def cs_covariates(sample: pd.DataFrame) -> pd.DataFrame:
    """The covariates of ``cs_dr`` (``CS_COVARIATES``, by firm) of a comparison sample."""
    return pre_call_covariates(sample, outcomes=("turnover_eur", "employees"))[list(CS_COVARIATES)]


def n_firms(sample: pd.DataFrame) -> int:
    """Firms of a sample whose ``firm_code`` is 0, 1, ... (``with_firm_codes``)."""
    return int(sample["firm_code"].max()) + 1 if len(sample) else 0


def by_code(by_firm: pd.DataFrame | pd.Series, sample: pd.DataFrame) -> pd.DataFrame | pd.Series:
    """A firm-level frame of ``sample`` (one row per firm, index ``firm_id`` sorted, as
    ``pre_call_covariates`` and ``Weights`` hold them) indexed by ``firm_code`` instead: with the
    sample's codes 0, 1, ... (``with_firm_codes``) the firm's row is its code."""
    if len(by_firm) != n_firms(sample):
        raise ValueError(f"{len(by_firm)} firm rows for a sample of {n_firms(sample)} firms: not the sample's firm-level frame")
    return by_firm.reset_index(drop=True).rename_axis("firm_code")


def with_firm_values(frame: pd.DataFrame, by_firm: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (rows of a sample) with the columns of ``by_firm`` (``by_code`` of the sample's
    firm-level frame) on each row, taken by ``firm_code``: no join on the text ids."""
    codes = frame["firm_code"].to_numpy()
    return frame.assign(**{c: by_firm[c].to_numpy()[codes] for c in by_firm.columns})


ESTIMATE_COLUMNS = ("firm_id", "firm_code", "year", "funded", "treated_group", "cohort", "treat")
"""The columns of a sample the estimates read, beside the outcome's (``estimate``)."""


def estimate(sample: pd.DataFrame, line: str, group: str, outcome: str, estimator: str,
             weights: Weights | None, truth: pd.DataFrame | None, balanced: bool = not UNBALANCED_PANEL,
             covariates: pd.DataFrame | None = None) -> Estimate:
    """One ATT (log points) with its firm-clustered 95% interval. ``balanced`` drops
    firms not observed every year from the Callaway-Sant'Anna estimate (else R
    ``did``'s unbalanced-panel estimator uses them). ``covariates``: ``cs_covariates(sample)``
    if already computed (computed here when None)."""
    sample = with_firm_codes(sample)  # firm-level frames of the sample line up with its codes
    used = {*ESTIMATE_COLUMNS, f"log_{outcome}", *OUTCOMES}  # copy these, not the whole sample, for the outcome's rows
    frame = outcome_frame(sample[[c for c in sample.columns if c in used]], outcome)
    with data_limits(f"{labels.estimator(estimator, short=True)} estimate of {labels.OUTCOMES[outcome]}"):
        return _estimate(frame, sample, line, group, outcome, estimator, weights, truth, balanced, covariates)


def _estimate(frame, sample, line, group, outcome, estimator, weights, truth, balanced, covariates) -> Estimate:
    y = f"log_{outcome}"
    if estimator == "cs_dr":
        if covariates is None:
            covariates = cs_covariates(sample)
        available = [c for c in CS_COVARIATES if covariates[c].notna().any()]  # an outcome never reported is left out
        if not available:
            raise DesignError("no firm reports turnover or employment before the call, the covariates of the doubly robust estimator.")
        data = with_firm_values(frame, by_code(covariates[available], sample)).dropna(subset=available)
        kept = _balanced_rows(data) if balanced else data
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # cells att_gt cannot estimate are left out, as in R did
            result = simple_att(kept, y, "year", "firm_code", "cohort", covariates=available,
                                control="not_yet" if group == "not_yet" else "never", inference=CS_INFERENCE,
                                allow_unbalanced_panel=not balanced)
        row = {"estimate": result.att, "se": result.se, "ci_low": result.ci_low, "ci_high": result.ci_high,
               "p": result.p}
        counts = _firm_counts(kept)
    elif estimator == "twfe":
        result = twfe(frame, y, ["treat"], "firm_code", "year", vcov="CR1", cluster="firm_code")
        row = result.table.loc["treat"]
        counts = _firm_counts(frame)
    elif estimator in ("matched_did", "ipw_did"):
        if weights is None:
            raise DesignError(f"{estimator} needs propensity-score weights, which group {group!r} does not have")
        firm_weights = weights.matched if estimator == "matched_did" else weights.ipw
        result = matched_did(frame, y, by_code(firm_weights, sample), unit="firm_code")
        row = result.table.loc["treat"]
        counts = (result.extra["n_treated_firms"], result.extra["n_control_firms"])
    else:
        raise DesignError(f"unknown estimator {estimator!r}; choose from {ESTIMATORS}")
    return Estimate(line, group, outcome, estimator, float(row["estimate"]), float(row["se"]),
                    float(row["ci_low"]), float(row["ci_high"]), float(row["p"]), *counts,
                    truth=None if truth is None else true_att(truth, frame, outcome))


SCORE_ESTIMATORS = ("matched_did", "ipw_did")


def estimate_line(sample: pd.DataFrame, line: str, group: str, outcomes: list[str], estimators: list[str],
                  truth: pd.DataFrame | None, seed: int,
                  balanced: bool = not UNBALANCED_PANEL) -> tuple[list[Estimate], Weights | None]:
    """Every (outcome, estimator) for one call's ``comparison_sample(data, line, group)``.

    The caller builds the sample once and passes it to the other analyses of the same
    comparison too (at 300,000 firms building it takes about 2 s). The propensity score is
    fitted only when a score estimator is requested (and the group has untreated firms);
    an (outcome, estimator) the data cannot support comes back as
    :meth:`Estimate.not_estimable` with the reason."""
    weights, score_problem = None, ""
    if group != "not_yet" and any(e in SCORE_ESTIMATORS for e in estimators):
        try:
            weights = score_weights(sample, seed)
        except (DesignError, SeparationError) as err:
            score_problem = f"no propensity score: {err}"
    usable = [e for e in estimators if group != "not_yet" or e not in SCORE_ESTIMATORS]
    covariates = None
    if "cs_dr" in usable:
        try:
            covariates = cs_covariates(sample)  # once for every outcome
        except DesignError:
            pass  # each cs_dr estimate then meets the same error and reports it
    rows = []
    for o in outcomes:
        for e in usable:
            if e in SCORE_ESTIMATORS and weights is None:
                rows.append(Estimate.not_estimable(line, group, o, e, score_problem))
                continue
            try:
                rows.append(estimate(sample, line, group, o, e, weights, truth, balanced, covariates))
            except DesignError as err:
                rows.append(Estimate.not_estimable(line, group, o, e, str(err)))
    return rows, weights


def line_difference(a: Estimate, b: Estimate) -> dict:
    """Linea A minus Linea B: the two calls fund disjoint firms and use disjoint
    controls, so the estimates are independent and ``se = sqrt(se_A^2 + se_B^2)``;
    normal 95% interval and two-sided p."""
    diff = a.att - b.att  # NaN when either call's estimate is missing
    se = math.hypot(a.se, b.se)
    z = stats.norm.ppf(0.975)
    return {"outcome": a.outcome, "estimator": a.estimator, "difference": diff, "se": se,
            "ci_low": diff - z * se, "ci_high": diff + z * se, "p": float(2 * stats.norm.sf(abs(diff / se)))}


def estimates_frame(estimates: list[Estimate]) -> pd.DataFrame:
    frame = pd.DataFrame([e.as_row() for e in estimates])
    truth = frame["truth"].astype(float)
    frame["covered"] = np.where(truth.notna() & frame["att"].notna(),
                                (frame["ci_low"] <= truth) & (truth <= frame["ci_high"]), np.nan)
    return frame


HETEROGENEITY_BY = ("pole", "size_class", "sector")
MIN_SUBGROUP_FIRMS = 5


def heterogeneity(sample: pd.DataFrame, outcome: str, by: str, truth: pd.DataFrame | None) -> pd.DataFrame:
    """ATT by subgroup of the funded firms (``by`` in ``HETEROGENEITY_BY``), each
    against all comparison firms: Callaway-Sant'Anna without covariates, simple
    aggregation, clustered by firm. Subgroups with fewer than ``MIN_SUBGROUP_FIRMS``
    funded firms are reported with no estimate."""
    frame = outcome_frame(sample, outcome)
    firm_level = frame.groupby("firm_id")[[by, "funded"]].first()
    rows = []
    for level, firms in firm_level[firm_level["funded"] == 1].groupby(by)[by]:
        n = len(firms)
        row = {"by": labels.VARIABLES[by], "level": labels.level(by, level), "n_treated": n}
        if n >= MIN_SUBGROUP_FIRMS:
            sub = frame[frame["firm_id"].isin(firms.index) | (frame["funded"] == 0)]
            try:
                with data_limits(f"{labels.VARIABLES[by]} {labels.level(by, level)}"):
                    agg = aggte(att_gt(sub, y=f"log_{outcome}", time="year", unit="firm_id", cohort="cohort",
                                       method="reg", cluster="firm_id", allow_unbalanced_panel=UNBALANCED_PANEL),
                                kind="simple")
            except DesignError as err:
                row["note"] = str(err)
                rows.append(row)
                continue
            z = stats.norm.ppf(0.975)
            row.update(att=agg.overall_att, se=agg.overall_se, ci_low=agg.overall_att - z * agg.overall_se,
                       ci_high=agg.overall_att + z * agg.overall_se,
                       truth=None if truth is None else true_att(truth, sub, outcome))
        rows.append(row)
    table = pd.DataFrame(rows)
    for column in ("att", "se", "ci_low", "ci_high", "truth"):
        if column not in table:
            table[column] = np.nan
    return table


def grant_intensity(sample: pd.DataFrame, data: StudyData, outcome: str) -> dict:
    """Effect per 100,000 EUR of grant: TWFE (firm, year; CR1 by firm) of ``log y`` on
    ``treat x grant / 100,000``, a dose-response line through zero (log points per
    100,000 EUR)."""
    grants = data.applications[data.applications["funded"]].groupby("firm_id")["grant_eur"].sum()
    frame = outcome_frame(sample, outcome)
    funded_grants = grants.reindex(frame.loc[frame["funded"] == 1, "firm_id"].unique())
    if funded_grants.nunique() < 2:
        raise DesignError("every funded firm has the same grant, so there is no variation in grant size to relate to the effect.")
    frame = frame.assign(grant_100k=frame["treat"] * frame["firm_id"].map(grants).fillna(0.0) / 1e5)
    with data_limits(f"effect per 100,000 EUR on {labels.OUTCOMES[outcome]}"):
        row = twfe(frame, f"log_{outcome}", ["grant_100k"], "firm_id", "year", vcov="CR1").table.loc["grant_100k"]
    return {"outcome": outcome, **{k: float(row[k]) for k in ("estimate", "se", "ci_low", "ci_high", "p")},
            "mean_grant_eur": float(grants.reindex(frame.loc[frame["funded"] == 1, "firm_id"].unique()).mean())}


def cost_per_job(sample: pd.DataFrame, data: StudyData, line: str, group: str = "unsuccessful",
                 truth: pd.DataFrame | None = None, balanced: bool = not UNBALANCED_PANEL) -> dict:
    """Jobs created by funding and grants per job, with 95% intervals.

    Estimand: jobs in an average year after the start,
    ``J = sum_{funded firm-years, t >= start} (Y_it - Y_it(0)) / (P / N)``: employees
    (annual work units) beyond what the ``N`` funded firms would have employed
    without the grant, summed over their ``P`` post-start firm-years and divided by
    their average number of post-start years ``P / N``; i.e. ``J = N x ATT`` with the
    ATT in levels averaged over post-start firm-years.

    Estimator: the study's Callaway-Sant'Anna doubly robust estimate (same covariates,
    controls, simple aggregation and interval as ``estimate(..., "cs_dr")``) on
    employees in *levels*, times ``N``. Levels, not logs: total jobs are held mostly
    by a few large firms, and applying the average firm's log effect to their
    employment is biased whenever effects differ with size. The price is precision:
    a large firm's yearly swings enter in full, and the delete-one-firm jackknife
    (t with few degrees of freedom when a few firms carry the variance) says so.

    Interval: grants are fixed, so ``J``'s 95% interval is ``N`` times the ATT's. Cost
    per job ``C = G / J``, ``G`` the grants of these funded firms in ``line``: defined
    only when ``J > 0`` (NaN otherwise); interval ``[G / J_high, G / J_low]``, unbounded
    above (inf) when ``J_low <= 0`` (the data do not rule out that no job was created),
    NaN at both ends when ``J_high <= 0``.

    With ``truth`` (synthetic data) the estimand itself on the same firm-years:
    ``true_jobs = sum Y_it (1 - exp(-tau_it)) / (P / N)`` with the true log effect
    ``tau_it`` of ``truth.csv`` (so ``Y_it(0) = Y_it exp(-tau_it)``), and
    ``true_cost_per_job_eur = G / true_jobs``.
    """
    frame = outcome_frame(sample, "employees")
    covariates = cs_covariates(sample)
    available = [c for c in CS_COVARIATES if covariates[c].notna().any()]
    if not available:
        raise DesignError("no firm reports turnover or employment before the call, the covariates of the doubly robust estimator.")
    kept = frame.join(covariates[available], on="firm_id").dropna(subset=available)
    if balanced:
        kept = _balanced_rows(kept)
    post = kept[kept["treat"] == 1]
    if post.empty:
        raise DesignError("no funded firm with pre-call data is observed after its project start.")
    with data_limits("Callaway-Sant'Anna estimate of employment in levels"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cells att_gt cannot estimate are left out, as in R did
        effect = simple_att(kept, "employees", "year", "firm_id", "cohort", covariates=available,
                            control="not_yet" if group == "not_yet" else "never", inference=CS_INFERENCE,
                            allow_unbalanced_panel=not balanced)
    firms = post["firm_id"].unique()
    n, years = len(firms), len(post) / len(firms)
    apps = data.applications
    grants = float(apps.loc[apps["funded"] & (apps["line"] == line) & apps["firm_id"].isin(firms), "grant_eur"].sum())

    point, low, high = n * effect.att, n * effect.ci_low, n * effect.ci_high
    result = {"funded_firms": n, "post_years": years, "grants_eur": grants,
              "att_employees": effect.att, "inference": effect.method,
              "jobs": point, "jobs_se": n * effect.se, "jobs_ci_low": low, "jobs_ci_high": high,
              **dict(zip(("cost_per_job_eur", "ci_low", "ci_high"), grant_cost(grants, point, low, high))),
              "true_jobs": None, "true_cost_per_job_eur": None}
    if truth is not None:
        tau = true_effects(truth, "employees").reindex(pd.MultiIndex.from_frame(post[["firm_id", "year"]])).fillna(0.0)
        true_jobs = float((-post["employees"].to_numpy() * np.expm1(-tau.to_numpy())).sum()) / years
        result.update(true_jobs=true_jobs, true_cost_per_job_eur=grant_cost(grants, true_jobs, true_jobs, true_jobs)[0])
    return result


def grant_cost(grants: float, jobs: float, jobs_low: float, jobs_high: float) -> tuple[float, float, float]:
    """Grants per job ``G / J`` and its interval ``[G / J_high, G / J_low]`` (``G / J``
    decreases in ``J``): the cost is NaN when ``J <= 0``, the upper end inf when
    ``J_low <= 0 < J_high``, both ends NaN when ``J_high <= 0``."""
    def cost(j: float) -> float:
        return grants / j if j > 0 else math.nan

    if not jobs_high > 0:
        return cost(jobs), math.nan, math.nan
    return cost(jobs), cost(jobs_high), math.inf if jobs_low <= 0 else cost(jobs_low)


JOBS_SIGNIFICANT = 2
"""Significant figures of jobs in the report: their intervals span hundreds or thousands."""
EUR_SIGNIFICANT = 3
"""Significant figures of EUR per job in the report."""


def significant(value: float | None, digits: int) -> int | None:
    """``value`` rounded to ``digits`` significant figures, as an int (jobs and EUR
    are reported as whole numbers); None for None, NaN and infinities."""
    if value is None or not math.isfinite(value):
        return None
    if value == 0:
        return 0
    return int(round(value, digits - 1 - math.floor(math.log10(abs(value)))))


def cost_headline(cost: dict) -> dict:
    """Headline numbers of :func:`cost_per_job`, rounded (``JOBS_SIGNIFICANT``,
    ``EUR_SIGNIFICANT``); None where a cost is not defined or unbounded."""
    head = {"jobs": significant(cost["jobs"], JOBS_SIGNIFICANT),
            "jobs_ci_low": significant(cost["jobs_ci_low"], JOBS_SIGNIFICANT),
            "jobs_ci_high": significant(cost["jobs_ci_high"], JOBS_SIGNIFICANT),
            "jobs_funded_firms": int(cost["funded_firms"]),
            "cost_per_job_eur": significant(cost["cost_per_job_eur"], EUR_SIGNIFICANT),
            "cost_ci_low": significant(cost["ci_low"], EUR_SIGNIFICANT),
            "cost_ci_high": significant(cost["ci_high"], EUR_SIGNIFICANT)}
    if cost["true_jobs"] is not None:
        head.update(true_jobs=significant(cost["true_jobs"], JOBS_SIGNIFICANT),
                    true_cost_per_job_eur=significant(cost["true_cost_per_job_eur"], EUR_SIGNIFICANT),
                    true_jobs_covered=bool(cost["jobs_ci_low"] <= cost["true_jobs"] <= cost["jobs_ci_high"]))
    return head


def cost_table(cost: dict) -> pd.DataFrame:
    """The cost-per-job table: jobs and EUR per job, estimate and 95% interval (and the
    synthetic truth), rounded as in :func:`cost_headline`; an unbounded end reads
    "unbounded", a cost with no job behind it "not defined"."""
    def eur(value: float) -> int | str:
        return "unbounded" if value == math.inf else "not defined" if not math.isfinite(value) else significant(value, EUR_SIGNIFICANT)

    def jobs(value: float) -> int | None:
        return significant(value, JOBS_SIGNIFICANT)

    rows = [{"measure": "jobs created, average year after the start", "rounded_estimate": jobs(cost["jobs"]),
             "rounded_ci_low": jobs(cost["jobs_ci_low"]), "rounded_ci_high": jobs(cost["jobs_ci_high"])},
            {"measure": "grants per job created (EUR)", "rounded_estimate": eur(cost["cost_per_job_eur"]),
             "rounded_ci_low": eur(cost["ci_low"]), "rounded_ci_high": eur(cost["ci_high"])}]
    if cost["true_jobs"] is not None:
        rows[0]["rounded_truth"] = jobs(cost["true_jobs"])
        rows[1]["rounded_truth"] = eur(cost["true_cost_per_job_eur"])
    return pd.DataFrame(rows)


def cost_caption(cost: dict, line: str) -> str:
    """Caption of :func:`cost_table`, from the numbers it describes."""
    text = (f"Linea {line}: jobs created by funding in an average year after the project start, for "
            f"{fmt.count(cost['funded_firms'])} funded firms (Callaway-Sant'Anna doubly robust effect on employees in levels "
            f"times the number of funded firms; 95% interval by {cost['inference']}), and grants per job "
            f"({fmt.eur(significant(cost['grants_eur'], EUR_SIGNIFICANT))} EUR of grants divided by the jobs; the interval "
            "inverts the jobs interval, unbounded above when that includes zero). Jobs rounded to "
            f"{JOBS_SIGNIFICANT} and EUR to {EUR_SIGNIFICANT} significant figures")
    if cost["true_jobs"] is not None:
        text += "; true values from the synthetic data's known effect on the same firm-years"
    return text


def pole_clustered(sample: pd.DataFrame, outcome: str, seed: int, B: int = 9999) -> dict:
    """Sensitivity to clustering by pole (only 7 clusters): TWFE with CR1 by firm, CR1
    by pole, and the restricted wild cluster bootstrap by pole with Webb weights
    (p-value and interval by test inversion)."""
    frame = outcome_frame(sample, outcome)
    poles = frame["pole"].nunique()
    if poles < 2:
        raise DesignError("the funded and comparison firms all belong to a single pole, so standard errors cannot be clustered by pole.")
    with data_limits("two-way fixed effects clustered by pole"):
        return _pole_clustered(frame, outcome, seed, B)


def _pole_clustered(frame: pd.DataFrame, outcome: str, seed: int, B: int) -> dict:
    by_firm = twfe(frame, f"log_{outcome}", ["treat"], "firm_id", "year", vcov="CR1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewClustersWarning)  # few clusters: the point of this sensitivity
        by_pole = twfe(frame, f"log_{outcome}", ["treat"], "firm_id", "year", vcov="CR1", cluster="pole")
    wild = wild_cluster_bootstrap(by_pole, "treat", B=B, weights="webb", seed=seed)
    firm_row, pole_row = by_firm.table.loc["treat"], by_pole.table.loc["treat"]
    return {"outcome": outcome, "estimate": float(firm_row["estimate"]), "p_cr1_firm": float(firm_row["p"]),
            "p_cr1_pole": float(pole_row["p"]), "p_wild_pole": float(wild.p),
            "wild_ci_low": float(wild.ci_low), "wild_ci_high": float(wild.ci_high), "n_poles": int(by_pole.n_clusters)}


def dynamic_effects(sample: pd.DataFrame, outcome: str, group: str, n_boot: int, seed: int):
    """Callaway-Sant'Anna event study (``aggte`` dynamic, no covariates) with a
    multiplier-bootstrap uniform band, clustered by firm."""
    frame = outcome_frame(with_firm_codes(sample), outcome)
    with data_limits(f"event study of {labels.OUTCOMES[outcome]}"):
        result = att_gt(frame, y=f"log_{outcome}", time="year", unit="firm_code", cohort="cohort", method="reg",
                        control="not_yet" if group == "not_yet" else "never", cluster="firm_code",
                        allow_unbalanced_panel=UNBALANCED_PANEL)
        return aggte(result, kind="dynamic", min_e=-5, max_e=4, n_boot=n_boot, seed=seed)


def plot_event_studies(results: dict, title: str):
    """One panel per (line, outcome) from ``dynamic_effects`` results keyed by label, at
    most two in a row, so that the report prints their labels at 7 pt or more."""
    import matplotlib.pyplot as plt

    from evaluation.methods.estimators import plot_staggered_event_study

    ncols = max(1, min(2, len(results)))
    nrows = math.ceil(len(results) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.8 * ncols, 3.2 * nrows + 0.4), squeeze=False)
    for ax in axes.flat[len(results):]:
        ax.set_visible(False)
    for ax, (label, result) in zip(axes.flat, results.items()):
        plot_staggered_event_study(result, ax=ax)
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("years since project start")
        ax.set_ylabel("effect on log outcome")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def plot_forest(table: pd.DataFrame, title: str):
    """Forest plot of ``heterogeneity`` rows: estimate and 95% interval per subgroup,
    one block per grouping variable, the truth as a cross where known."""
    import matplotlib.pyplot as plt

    shown = table.dropna(subset=["att"]).reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(6.5, 0.32 * len(shown) + 1.2))
    y = np.arange(len(shown))[::-1]
    ax.errorbar(shown["att"], y, xerr=[shown["att"] - shown["ci_low"], shown["ci_high"] - shown["att"]],
                fmt="o", color="C0", capsize=3, label="estimate, 95% CI")
    if "truth" in shown and shown["truth"].notna().any():
        ax.plot(shown["truth"], y, "x", color="C3", label="true effect (synthetic)")
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(y, [f"{b}: {lv} (n={n})" for b, lv, n in zip(shown["by"], shown["level"], shown["n_treated"])], fontsize=8)
    ax.set_xlabel("effect on log outcome (log points)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig
