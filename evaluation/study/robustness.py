r"""Robustness checks of the evaluation: pre-trends, placebos, leave-one-pole-out,
estimators side by side, and the Goodman-Bacon decomposition.

Every function takes a firm-year study frame (:func:`evaluation.study.comparison.comparison_sample`
or :func:`evaluation.study.design.applicant_sample`) and an outcome of
``design.ANALYSIS_OUTCOMES``; estimation is on ``log_<outcome>`` (rows where it is
observed, :func:`evaluation.study.design.outcome_frame`), with firm (``firm_id``) and year
(``year``) effects and standard errors clustered by firm. Timing follows the samples'
``cohort`` convention: ``cohort`` is the project start year of a funded firm and 0 for a
never-treated comparison firm (R ``did``); ``treat = 1[cohort > 0 and year >= cohort]``.
When a frame has no never-treated firm (group ``"not_yet"``), the Callaway-Sant'Anna
estimates use not-yet-treated controls and Sun-Abraham the last-treated cohort.

Each function returns a tidy DataFrame, one row per estimate (``estimate, se, ci_low,
ci_high, p`` in log points, 95% intervals).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from evaluation.methods.errors import DesignError
from evaluation.methods.estimators import aggte, att_gt, bacon, event_study, imputation, sun_abraham, twfe
from evaluation.methods.estimators.staggered import StaggeredWarning, UnbalancedPanelWarning
from evaluation.methods.matching import SeparationError
from evaluation.study import labels
from evaluation.study.design import UNBALANCED_PANEL, data_limits, outcome_frame

Z = float(stats.norm.ppf(0.975))
UNIT, TIME, COHORT = "firm_id", "year", "cohort"


def _log_frame(sample: pd.DataFrame, outcome: str) -> tuple[pd.DataFrame, str]:
    frame = outcome_frame(sample, outcome)
    for column in (UNIT, TIME, COHORT):
        if column not in frame.columns:
            raise DesignError(f"robustness: the sample lacks column {column!r}; build it with comparison_sample")
    return frame, f"log_{outcome}"


def _has_never_treated(frame: pd.DataFrame) -> bool:
    last = frame[TIME].max()
    cohort = frame[COHORT].fillna(0)
    return bool(((cohort == 0) | (cohort > last)).any())


def _cs_control(frame: pd.DataFrame) -> str:
    return "never" if _has_never_treated(frame) else "not_yet"


def _normal_row(estimate: float, se: float) -> dict:
    return {"estimate": float(estimate), "se": float(se), "ci_low": float(estimate - Z * se),
            "ci_high": float(estimate + Z * se), "p": float(2 * stats.norm.sf(abs(estimate / se)))}


def _table_row(result, term: str) -> dict:
    row = result.table.loc[term]
    return {k: float(row[k]) for k in ("estimate", "se", "ci_low", "ci_high", "p")}


def _cs_simple(frame: pd.DataFrame, y: str, covariates=None, method: str = "reg") -> dict:
    """Callaway-Sant'Anna, simple aggregation, analytic se clustered by firm (normal interval)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnbalancedPanelWarning)
        res = att_gt(frame, y=y, time=TIME, unit=UNIT, cohort=COHORT, covariates=covariates,
                     control=_cs_control(frame), method=method, cluster=UNIT, allow_unbalanced_panel=UNBALANCED_PANEL)
    agg = aggte(res, kind="simple")
    return _normal_row(agg.overall_att, agg.overall_se)


def _treat(frame: pd.DataFrame, cohort: str = COHORT) -> pd.Series:
    g = frame[cohort].fillna(0)
    return ((g > 0) & (frame[TIME] >= g)).astype(int)


# --------------------------------------------------------------------------- #
# Pre-trends                                                                   #
# --------------------------------------------------------------------------- #


def pretrend_tests(sample: pd.DataFrame, outcome: str, leads: int = 5, lags: int = 4,
                   alpha: float = 0.05) -> pd.DataFrame:
    """Joint tests that the pre-treatment effects are zero.

    1. ``event study Wald``: :func:`evaluation.methods.estimators.event_study` (``leads`` and
       ``lags``, cut to the event times observed, end points binned, reference ``e = -1``, CR1 by firm) gives the
       pre-period coefficients ``b`` (``e = -leads .. -2``, ``q`` of them) and their
       covariance ``V``; ``W = b' V^-1 b`` with p from chi2(q) (``df1 = q``).
    2. ``event study F``: ``F = W / q`` with p from F(q, G - 1), G the number of firm
       clusters (``df2``), the small-sample version usual with clustered errors.
    3. ``att_gt pre-test``: R ``did``'s Wald pre-test of :func:`att_gt` (no
       covariates, ``method="reg"``, varying base period): every pre-treatment ATT(g,t)
       is 0, ``W = n a' V^-1 a``, p from chi2(df).

    Columns ``test, statistic, df1, df2, p, reject`` (``p < alpha``). ``attrs["leads"]``:
    the event study's pre-period coefficients one by one (``term, e, estimate, se, p``,
    CR1 by firm, reference ``e = -1``).
    """
    frame, y = _log_frame(sample, outcome)
    g = frame[COHORT].fillna(0)
    e = (frame[TIME] - g)[g > 0]
    if e.empty or e.min() > -2:
        raise DesignError("a pre-trend test needs funded firms observed two years or more before their start; "
                          "with one pre-start year there is nothing to test.")
    lags = int(min(lags, max(e.max(), 0)))  # no dummies for event times nobody reaches
    leads = int(min(leads, -e.min()))
    with data_limits("pre-trend test"):
        es = event_study(frame, y, UNIT, TIME, COHORT, leads=leads, lags=lags, vcov="CR1")
        pre = [t for t in es.table.index if int(t.split("=")[1]) < -1]
        b = es.table.loc[pre, "estimate"].to_numpy()
        V = es.vcov.loc[pre, pre].to_numpy()
        W = float(b @ np.linalg.solve(V, b))
        q, G = len(pre), int(es.n_clusters)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnbalancedPanelWarning)
            cs = att_gt(frame, y=y, time=TIME, unit=UNIT, cohort=COHORT, control=_cs_control(frame), method="reg",
                        allow_unbalanced_panel=UNBALANCED_PANEL)
    rows = [
        {"test": "event study Wald", "statistic": W, "df1": q, "df2": np.inf, "p": float(stats.chi2.sf(W, q))},
        {"test": "event study F", "statistic": W / q, "df1": q, "df2": G - 1,
         "p": float(stats.f.sf(W / q, q, G - 1))},
        {"test": "att_gt pre-test", "statistic": float(cs.pretest["W"]), "df1": int(cs.pretest["df"]),
         "df2": np.inf, "p": float(cs.pretest["p"])},
    ]
    out = pd.DataFrame(rows)
    out["reject"] = out["p"] < alpha
    out.attrs["pre_terms"] = pre
    terms = sorted(es.table.index[es.table.index.str.startswith("e=")], key=lambda t: int(t.split("=")[1]))
    out.attrs["event_study"] = {"betahat": es.table.loc[terms, "estimate"].to_numpy(float),
                                "sigma": es.vcov.loc[terms, terms].to_numpy(float), "num_pre": q,
                                "num_post": len(terms) - q, "rel_times": [int(t.split("=")[1]) for t in terms]}
    leads_table = es.table.loc[pre, ["estimate", "se", "p"]].astype(float)
    out.attrs["leads"] = leads_table.rename_axis("term").reset_index().assign(e=[int(t.split("=")[1]) for t in pre])
    return out


def by_outcome(check, sample: pd.DataFrame, outcomes, **kwargs) -> tuple[pd.DataFrame, dict[str, str]]:
    """``check(sample, outcome, **kwargs)`` for every outcome, stacked with an ``outcome``
    column (``labels.OUTCOMES``) first. Returns ``(table, not_estimable)``, the latter
    ``{outcome: reason}`` for the outcomes whose check raised ``DesignError``; raises
    ``DesignError`` (the distinct reasons joined) when no outcome could be checked.
    ``table.attrs["by_outcome"]`` keeps each check's own ``attrs`` by outcome."""
    parts, skipped, attrs = [], {}, {}
    for outcome in outcomes:
        try:
            part = check(sample, outcome, **kwargs)
        except DesignError as err:
            skipped[outcome] = str(err)
            continue
        attrs[outcome], part = dict(part.attrs), part.copy()
        part.attrs = {}  # attrs holding frames cannot be compared by concat
        part.insert(0, "outcome", labels.OUTCOMES[outcome])
        parts.append(part)
    if not parts:
        raise DesignError(" ".join(dict.fromkeys(skipped.values())))
    table = pd.concat(parts, ignore_index=True)
    table.attrs["by_outcome"] = attrs
    return table, skipped


# --------------------------------------------------------------------------- #
# Placebos                                                                     #
# --------------------------------------------------------------------------- #


def _placebo_estimates(frame: pd.DataFrame, y: str, cohort: str, estimators) -> list[dict]:
    placebo = frame.assign(cohort=frame[cohort], treat=_treat(frame, cohort))
    rows = []
    for estimator in estimators:
        if estimator == "cs":
            row = _cs_simple(placebo, y)
        elif estimator == "twfe":
            row = _table_row(twfe(placebo, y, ["treat"], UNIT, TIME, vcov="CR1"), "treat")
        elif estimator == "imputation":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", StaggeredWarning)
                row = _table_row(imputation(placebo, y, UNIT, TIME, COHORT), "ATT")
        else:
            raise ValueError(f"unknown estimator {estimator!r}; choose from 'cs', 'twfe', 'imputation'")
        rows.append({"estimator": estimator, **row})
    return rows


def placebo_dates(sample: pd.DataFrame, outcome: str, shift: int = 2,
                  estimators=("cs", "twfe", "imputation")) -> pd.DataFrame:
    """Placebo treatment dates: each funded firm's start moved ``shift`` years earlier,
    on the years before the earliest real start only.

    The window is ``first year .. min(cohort) - 1``, so no real treatment is in it and
    the placebo effect is 0 under parallel trends and no anticipation. Placebo cohort
    ``cohort - shift`` (0 stays 0); firms whose placebo start is at or before the first
    year are dropped (no pre-period). Estimators: ``"cs"`` Callaway-Sant'Anna without
    covariates (outcome regression = unconditional DiD; the study's pre-call covariates
    would be measured inside the window), simple aggregation; ``"twfe"``;
    ``"imputation"`` (BJS ATT). Columns ``check, estimator, estimate, se, ci_low,
    ci_high, p, covers_zero, years``.
    """
    if shift < 1:
        raise ValueError(f"shift must be >= 1, got {shift}")
    frame, y = _log_frame(sample, outcome)
    g = frame[COHORT].fillna(0)
    first_start = int(g[g > 0].min())
    shift = min(shift, first_start - int(frame[TIME].min()) - 1)  # a shorter panel gets a shorter shift
    if shift < 1:
        raise DesignError(f"placebo start dates need two years or more before the first project start ({first_start}); "
                          f"the panel starts in {int(frame[TIME].min())}.")
    frame = frame[frame[TIME] < first_start]
    placebo = np.where(g.loc[frame.index] > 0, g.loc[frame.index] - shift, 0)
    first_year = int(frame[TIME].min()) if len(frame) else first_start
    drop = (placebo > 0) & (placebo <= first_year)
    frame = frame.assign(_placebo_cohort=placebo)[~drop]
    if not (frame["_placebo_cohort"] > 0).any():
        raise DesignError(f"no funded firm has a placebo start after {first_year} with a shift of {shift} years; "
                          f"the panel has too few years before {first_start}")
    with data_limits("placebo start dates"):
        rows = _placebo_estimates(frame, y, "_placebo_cohort", estimators)
    out = pd.DataFrame([{"check": f"placebo date (start - {shift})", **r} for r in rows])
    out["covers_zero"] = (out["ci_low"] <= 0) & (out["ci_high"] >= 0)
    out["years"] = f"{first_year}-{first_start - 1}"
    return out


def placebo_outcome(sample: pd.DataFrame, outcome: str, lag: int = 3,
                    estimators=("cs", "twfe", "imputation")) -> pd.DataFrame:
    """Placebo outcome: the outcome ``lag`` years earlier, ``y_{i,t-lag}``, with the real
    treatment dates.

    Only years ``t < min(cohort) + lag`` are kept, so for every funded firm (start
    ``g >= min(cohort)``) the placebo outcome of a kept year is a pre-treatment value
    (``t - lag < g``): the grant cannot have affected it, and the DiD on it is 0 unless
    pre-treatment trends differ (or firms anticipated the grant). Same estimators and
    columns as :func:`placebo_dates`.
    """
    if lag < 1:
        raise ValueError(f"lag must be >= 1, got {lag}")
    frame, y = _log_frame(sample, outcome)
    g = frame[COHORT].fillna(0)
    first_start = int(g[g > 0].min())
    lag = min(lag, first_start - int(frame[TIME].min()) - 1)  # a shorter panel gets a shorter lag
    if lag < 1:
        raise DesignError(f"a placebo outcome needs two years or more before the first project start ({first_start}); "
                          f"the panel starts in {int(frame[TIME].min())}.")
    lagged = frame[[UNIT, TIME, y]].assign(**{TIME: frame[TIME] + lag}).rename(columns={y: "_lagged"})
    frame = frame.merge(lagged, on=[UNIT, TIME], how="inner")
    frame = frame[frame[TIME] < first_start + lag].drop(columns=[y]).rename(columns={"_lagged": y})
    if frame.empty or not (frame[COHORT] > 0).any():
        raise DesignError(f"no years with a {lag}-year lag before {first_start + lag} for the placebo outcome")
    with data_limits("placebo outcome"):
        rows = _placebo_estimates(frame, y, COHORT, estimators)
    out = pd.DataFrame([{"check": f"placebo outcome ({labels.OUTCOMES[outcome]} {lag} years earlier)", **r} for r in rows])
    out["covers_zero"] = (out["ci_low"] <= 0) & (out["ci_high"] >= 0)
    out["years"] = f"{int(frame[TIME].min())}-{int(frame[TIME].max())}"
    return out


# --------------------------------------------------------------------------- #
# Leave one pole out                                                           #
# --------------------------------------------------------------------------- #


def _group_label(frame: pd.DataFrame) -> str:
    return "unsuccessful" if _has_never_treated(frame) else "not_yet"


def leave_one_pole_out(sample: pd.DataFrame, outcome: str, estimator: str = "cs_dr", by: str = "pole",
                       line: str = "") -> pd.DataFrame:
    """The main estimate dropping, in turn, every firm (funded and comparison) whose
    ``by`` (the project's pole for funded firms) is one of the poles of the funded firms.

    ``estimator``: ``"cs_dr"`` (as :func:`evaluation.study.impact.estimate`: doubly robust
    Callaway-Sant'Anna with the pre-call means of log turnover and log employment,
    simple aggregation, clustered by firm) or ``"twfe"``. The first row (``dropped =
    "none"``) is the full-sample estimate; ``change`` is each estimate minus it.
    Columns ``dropped, estimate, se, ci_low, ci_high, p, n_treated, n_control, change``.
    """
    from evaluation.study.impact import estimate

    if estimator not in ("cs_dr", "twfe"):
        raise ValueError(f"estimator must be 'cs_dr' or 'twfe', got {estimator!r}")
    if by not in sample.columns:
        raise DesignError(f"leave_one_pole_out: the sample lacks column {by!r}")
    frame, _ = _log_frame(sample, outcome)
    group = _group_label(frame)
    poles = sorted(sample.loc[sample[COHORT].fillna(0) > 0, by].dropna().unique())
    rows = []
    for dropped in ["none", *poles]:
        sub = sample if dropped == "none" else sample[sample[by] != dropped]
        if dropped != "none" and not (sub[COHORT].fillna(0) > 0).any():
            rows.append({"dropped": dropped, "note": "every funded firm belongs to this pole: nothing is left to estimate."})
            continue
        try:
            e = estimate(sub, line, group, outcome, estimator, None, None)
        except DesignError as err:
            if dropped == "none":
                raise
            rows.append({"dropped": dropped, "note": str(err)})
            continue
        rows.append({"dropped": dropped, "estimate": e.att, "se": e.se, "ci_low": e.ci_low, "ci_high": e.ci_high,
                     "p": e.p, "n_treated": e.n_treated, "n_control": e.n_control})
    out = pd.DataFrame(rows)
    out["change"] = out["estimate"] - out["estimate"].iloc[0]
    return out


# --------------------------------------------------------------------------- #
# Estimators side by side                                                      #
# --------------------------------------------------------------------------- #

SIDE_BY_SIDE = {"twfe": "TWFE", "cs_dr": "Callaway-Sant'Anna (DR)", "sun_abraham": "Sun-Abraham",
                "imputation": "imputation (BJS)", "matched_did": "matched DiD"}


def sun_abraham_att(frame: pd.DataFrame, y: str) -> dict:
    """Sun-Abraham overall ATT: the event-time IW estimates ``e >= 0`` averaged with the
    shares of treated firm-years at each ``e``, ``w_e = N_e / sum_{e>=0} N_e``. Since each
    IW estimate weights CATT(g,e) by the cohorts' shares of ``N_e``, this is the average of
    CATT(g,e) weighted by the treated firm-years in each cell, ``N_ge / N`` — the same
    estimand as the TWFE, BJS and CS-simple ATTs. Variance ``w' V w`` (shares fixed);
    t(G-1) interval as ``sun_abraham``."""
    control = "never" if _has_never_treated(frame) else "last"
    res = sun_abraham(frame, y, UNIT, TIME, COHORT, control=control, vcov="CR1")
    g = frame[COHORT].fillna(0).to_numpy(float)
    t = frame[TIME].to_numpy(float)
    g = np.where(g > t.max(), 0.0, g)
    keep = (g > 0) & (g > t.min()) & (t >= g)
    if control == "last":
        last = g[g > 0].max()
        keep &= (g != last) & (t < last)
    counts = pd.Series(t[keep] - g[keep]).value_counts()
    terms = [f"e={int(e)}" for e in sorted(counts.index)]
    missing = [term for term in terms if term not in res.table.index]
    if missing:
        raise RuntimeError(f"sun_abraham_att: terms {missing} not estimated")
    w = counts.sort_index().to_numpy(float)
    w /= w.sum()
    b = float(w @ res.table.loc[terms, "estimate"].to_numpy())
    se = float(np.sqrt(w @ res.vcov.loc[terms, terms].to_numpy() @ w))
    df = float(res.table["df"].iloc[0])
    crit = float(stats.t.ppf(0.975, df))
    return {"estimate": b, "se": se, "ci_low": b - crit * se, "ci_high": b + crit * se,
            "p": float(2 * stats.t.sf(abs(b / se), df)), "weights": dict(zip(terms, w.tolist()))}


def estimators_side_by_side(sample: pd.DataFrame, outcome: str, seed: int = 1,
                            estimators=tuple(SIDE_BY_SIDE)) -> pd.DataFrame:
    """The ATT of ``log_<outcome>`` by five estimators on the same sample, outcome,
    firm and year effects and firm clusters.

    * ``twfe``: TWFE of ``log y`` on ``treat`` (CR1), :func:`evaluation.study.impact.estimate`;
    * ``cs_dr``: Callaway-Sant'Anna doubly robust with the study's covariates, simple
      aggregation (post-treatment ATT(g,t) weighted by group size), as ``impact``;
    * ``sun_abraham``: the IW event study aggregated over ``e >= 0`` with weights equal
      to the treated firm-years at each ``e`` (:func:`sun_abraham_att`);
    * ``imputation``: Borusyak-Jaravel-Spiess, the ``"ATT"`` over all treated firm-years;
    * ``matched_did``: nearest-neighbour propensity-score matching then weighted TWFE
      (``impact.score_weights`` with ``seed``); in a ``"not_yet"`` sample the last
      cohort, never observed treated, is the comparison side. When the score cannot be
      fitted (``DesignError``, ``SeparationError``) the row is empty with the reason in
      ``note``.

    Columns ``estimator, label, estimate, se, ci_low, ci_high, p, note``.
    """
    from evaluation.study.impact import estimate, score_weights

    frame, y = _log_frame(sample, outcome)
    group = _group_label(frame)
    rows = []
    for name in estimators:
        row, note = None, ""
        try:
            if name in ("twfe", "cs_dr"):
                e = estimate(sample, "", group, outcome, name, None, None)
                row = {"estimate": e.att, "se": e.se, "ci_low": e.ci_low, "ci_high": e.ci_high, "p": e.p}
            elif name == "sun_abraham":
                with data_limits("Sun-Abraham"):
                    row = sun_abraham_att(frame, y)
                note = "weights: treated firm-years by event time"
                row.pop("weights")
            elif name == "imputation":
                with warnings.catch_warnings(), data_limits("imputation"):
                    warnings.simplefilter("ignore", StaggeredWarning)
                    row = _table_row(imputation(frame, y, UNIT, TIME, COHORT), "ATT")
            elif name == "matched_did":
                if group == "not_yet":
                    raise DesignError("no untreated comparison firms to match (group 'not_yet')")
                e = estimate(sample, "", group, outcome, name, score_weights(sample, seed), None)
                row = {"estimate": e.att, "se": e.se, "ci_low": e.ci_low, "ci_high": e.ci_high, "p": e.p}
            else:
                raise ValueError(f"unknown estimator {name!r}; choose from {tuple(SIDE_BY_SIDE)}")
        except (DesignError, SeparationError) as err:
            note = str(err)
        nan = dict.fromkeys(("estimate", "se", "ci_low", "ci_high", "p"), np.nan)
        rows.append({"estimator": name, "label": SIDE_BY_SIDE[name], **(row or nan), "note": note})
    return pd.DataFrame(rows)


def plot_side_by_side(table: pd.DataFrame, ax=None, title: str | None = None, truth: float | None = None):
    """Estimates with 95% intervals, one row per estimator; returns the Figure."""
    import matplotlib.pyplot as plt

    shown = table.dropna(subset=["estimate"]).reset_index(drop=True)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.0, 0.45 * len(shown) + 1.2))
    else:
        fig = ax.figure
    pos = np.arange(len(shown))[::-1]
    ax.errorbar(shown["estimate"], pos, xerr=[shown["estimate"] - shown["ci_low"], shown["ci_high"] - shown["estimate"]],
                fmt="o", capsize=3, color="C0", label="estimate, 95% CI")
    if truth is not None:
        ax.axvline(truth, color="C3", ls="--", lw=0.9, label="true effect (synthetic)")
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(pos, shown["label"])
    ax.set_xlabel("ATT (log points)")
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- #
# Goodman-Bacon                                                                #
# --------------------------------------------------------------------------- #


def bacon_table(sample: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """Goodman-Bacon (2021) decomposition of the TWFE coefficient of ``treat`` on
    ``log_<outcome>`` (:func:`evaluation.methods.estimators.bacon`).

    The decomposition needs a balanced panel: firms not observed (with the log outcome)
    in every year are dropped first. One row per 2x2 comparison: ``type, treated,
    control, estimate, weight``. ``attrs``: ``twfe`` (TWFE coefficient of ``treat``
    on the same balanced frame, firm and year effects), ``weighted_sum`` (``sum weight x
    estimate``, equal to ``twfe``), ``by_type`` (weight and weighted mean estimate by
    comparison type), ``dropped_firms``.
    """
    frame, y = _log_frame(sample, outcome)
    n_years = frame[TIME].nunique()
    counts = frame.groupby(UNIT)[TIME].nunique()
    balanced = frame[frame[UNIT].isin(counts.index[counts == n_years])]
    balanced = balanced.assign(treat=_treat(balanced))
    with data_limits(f"Goodman-Bacon decomposition ({int((counts < n_years).sum())} of {len(counts)} firms dropped "
                     "for not being observed every year)"):
        result = bacon(balanced, y, UNIT, TIME, COHORT)
        table = result.table[["type", "treated", "control", "estimate", "weight"]].reset_index()
        for column in ("treated", "control"):  # cohort years (or "never"), not quantities
            table[column] = table[column].map(lambda v: str(int(v)) if isinstance(v, (int, float, np.integer, np.floating)) and float(v).is_integer() else str(v))
        coef = float(twfe(balanced, y, ["treat"], UNIT, TIME, vcov="iid").table.loc["treat", "estimate"])
    table.attrs.update(twfe=coef, weighted_sum=float((table["weight"] * table["estimate"]).sum()),
                       by_type=result.extra["by_type"], dropped_firms=int((counts < n_years).sum()))
    return table


def plot_side_by_side_outcomes(table: pd.DataFrame, truths: dict | None = None, title: str = ""):
    """:func:`plot_side_by_side` for a table of :func:`by_outcome`, one panel per
    ``outcome`` label, one above the other (the estimators' names are long); ``truths``:
    label -> true effect, or None. Returns the Figure."""
    import matplotlib.pyplot as plt

    labels = [label for label in dict.fromkeys(table["outcome"]) if table.loc[table["outcome"] == label, "estimate"].notna().any()]
    rows = max(int(table.loc[table["outcome"] == label, "estimate"].notna().sum()) for label in labels) if labels else 1
    fig, axes = plt.subplots(max(len(labels), 1), 1, figsize=(6.5, (0.4 * rows + 1.2) * max(len(labels), 1)), squeeze=False)
    for ax, label in zip(axes[:, 0], labels):
        plot_side_by_side(table[table["outcome"] == label], ax=ax, title=f"{title}log {label}".strip(),
                          truth=(truths or {}).get(label))
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- #
# HonestDiD                                                                    #
# --------------------------------------------------------------------------- #


def honest_did_table(sample: pd.DataFrame, outcome: str, group: str = "unsuccessful",
                     rm_values=(0.0, 0.5, 1.0, 1.5, 2.0), sd_values=(0.0, 0.005, 0.01, 0.02)) -> pd.DataFrame:
    """HonestDiD (Rambachan-Roth) robust 95% sets for the Callaway-Sant'Anna event study of
    ``log_<outcome>`` (outcome regression, universal base period, ``e = -5 .. 3``; never-
    treated controls, not-yet-treated for ``group="not_yet"``), for the first post-period
    effect and the average of post periods, under relative magnitudes (M-bar,
    ``rm_values``) and smoothness (M, ``sd_values``; only with two pre-period estimates or
    more), beside the original interval. ``attrs["breakdown"]``: ``{"RM": M-bar, "SD": M}``
    breakdown values of the first post-period effect (NaN: not significant even at 0;
    inf: beyond the range searched)."""
    from evaluation.methods import honest_did

    frame = outcome_frame(sample, outcome)
    with data_limits("Callaway-Sant'Anna event study for HonestDiD"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnbalancedPanelWarning)
            event = aggte(att_gt(frame, y=f"log_{outcome}", time=TIME, unit=UNIT, cohort=COHORT, method="reg",
                                 base_period="universal", control="not_yet" if group == "not_yet" else "never",
                                 allow_unbalanced_panel=UNBALANCED_PANEL), kind="dynamic", min_e=-5, max_e=3)
        inputs = honest_did.cs_event_study_inputs(event)
    if inputs["num_pre"] < 1:
        raise DesignError("HonestDiD bounds the post-period violation of parallel trends by the pre-period ones; "
                          "the event study has no pre-period estimate besides the reference year.")
    restrictions = ("RM", "SD") if inputs["num_pre"] >= 2 else ("RM",)  # smoothness needs two pre-period slopes
    rows = []
    with data_limits("HonestDiD"):
        for target in (None, "average"):
            for restriction, values in (("RM", rm_values), ("SD", sd_values)):
                if restriction in restrictions:
                    rows.append(honest_did.honest_sensitivity(**inputs, restriction=restriction, m_values=list(values),
                                                              l_vec=target).assign(target=target or "first post-period"))
            rows.append(honest_did.original_cs(**inputs, l_vec=target).assign(target=target or "first post-period"))
        table = pd.concat(rows, ignore_index=True)
        table.attrs["breakdown"] = {r: float(honest_did.breakdown_value(**inputs, restriction=r)) for r in restrictions}
    rel = [e for e in event.table["key"].astype(int) if e != -1]
    table.attrs["event_study"] = {**inputs, "rel_times": rel}
    return table


PRETREND_POWER_SOURCES = {"pretrend": "event study (TWFE, firm clusters)",
                          "honestdid": "Callaway-Sant'Anna event study (HonestDiD's)"}


def pretrend_power_table(tables: dict, powers=(0.5, 0.8), alpha: float = 0.05) -> pd.DataFrame:
    """Roth's (2022) power analysis of the pre-trend tests for every event study behind
    ``tables`` (``{"pretrend": pretrend_tests table, "honestdid": honest_did_table table}``,
    as stacked by :func:`by_outcome`; ``None`` for one not estimated): the slope per year of
    a linear violation that the joint Wald test and the "no significant lead" test detect
    with each power, and the bias it implies for the first and the average post-period
    estimate, unconditionally and given that the test passed
    (:func:`evaluation.methods.pretrend_power.power_table`). Columns ``outcome,
    event_study, test, power, slope, bias_first, bias_mean, bias_mean_if_passed,
    estimate_mean``; DesignError when no event study has a pre-period estimate to test."""
    from evaluation.methods.pretrend_power import power_table

    parts, failed = [], []
    for key, source in PRETREND_POWER_SOURCES.items():
        table = tables.get(key)
        for outcome, attrs in ({} if table is None else table.attrs["by_outcome"]).items():
            inputs = attrs.get("event_study")
            if inputs is None or inputs["num_pre"] < 1 or inputs["num_post"] < 1:
                continue
            try:
                part = power_table(**inputs, powers=powers, alpha=alpha)
            except (ValueError, np.linalg.LinAlgError) as err:  # a singular or zero covariance of the leads
                failed.append(f"{source}, {labels.OUTCOMES[outcome]}: {err}")
                continue
            parts.append(part.assign(outcome=labels.OUTCOMES[outcome], event_study=source))
    if not parts:
        raise DesignError("no event study has both a pre-period estimate to test and a post-period estimate"
                          + (" with a usable covariance (" + "; ".join(failed) + ")" if failed else "") + ".")
    cols = ["outcome", "event_study", "test", "power", "slope", "bias_first", "bias_mean", "bias_mean_if_passed",
            "estimate_mean"]
    return pd.concat(parts, ignore_index=True)[cols]


def plot_pretrend_power(tables: dict, power: pd.DataFrame, key: str = "honestdid", title: str = ""):
    """Roth's (2022) picture for the event study of ``tables[key]`` (as in
    :func:`pretrend_power_table`): the estimates with 95% intervals by year relative to the
    start, and the linear trends ``slope (t - r)`` through the reference year that the
    "no significant lead" test detects with 50% and 80% probability (rows of ``power``);
    one panel per outcome; returns the Figure."""
    import matplotlib.pyplot as plt

    source = PRETREND_POWER_SOURCES[key]
    by_outcome = {o: a["event_study"] for o, a in tables[key].attrs["by_outcome"].items() if a.get("event_study")}
    shown = [o for o in by_outcome if ((power["outcome"] == labels.OUTCOMES[o]) & (power["event_study"] == source)).any()]
    if not shown:
        raise DesignError(f"no {source} with a power analysis to draw.")
    ncols = min(2, len(shown))
    nrows = math.ceil(len(shown) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.8 * ncols, 3.4 * nrows), squeeze=False)
    for ax in axes.flat[len(shown):]:
        ax.set_visible(False)
    for ax, outcome in zip(axes.flat, shown):
        es = by_outcome[outcome]
        rel = np.asarray(es["rel_times"], dtype=float)
        half = 1.96 * np.sqrt(np.diag(np.asarray(es["sigma"], dtype=float)))
        ax.errorbar(rel, es["betahat"], yerr=half, fmt="o", color="tab:blue", ms=4, capsize=2, label="estimate, 95% interval")
        ax.plot([-1], [0], "o", mfc="white", color="tab:blue", ms=4)
        rows = power[(power["outcome"] == labels.OUTCOMES[outcome]) & (power["event_study"] == source)
                     & (power["test"] == "individual")].set_index("power")
        span = np.array([rel.min(), rel.max()])
        for p, style in ((0.5, ":"), (0.8, "--")):
            if p in rows.index:
                ax.plot(span, rows.loc[p, "slope"] * (span + 1), style, color="tab:red",
                        label=f"trend detected with {int(round(100 * p))}% power")
        ax.axhline(0, color="black", lw=0.6)
        ax.axvline(-0.5, color="grey", lw=0.6, ls=":")
        ax.set_title(f"{title}log {labels.OUTCOMES[outcome]}".strip(), fontsize=10)
        ax.set_xlabel("years since the start (reference year \u22121)")
        ax.set_ylabel("effect (log points)")
        ax.legend(frameon=False, fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def plot_honest_did_outcomes(table: pd.DataFrame, title: str = ""):
    """Robust intervals of the first post-period effect against M-bar (relative
    magnitudes) beside the original interval, one panel per ``outcome`` of a
    :func:`by_outcome` table of :func:`honest_did_table`; returns the Figure."""
    import matplotlib.pyplot as plt

    from evaluation.methods import honest_did

    outcomes = list(dict.fromkeys(table["outcome"]))
    ncols = max(1, min(2, len(outcomes)))
    nrows = math.ceil(len(outcomes) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.8 * ncols, 3.4 * nrows), squeeze=False)
    for ax in axes.flat[len(outcomes):]:
        ax.set_visible(False)
    for ax, outcome in zip(axes.flat, outcomes):
        part = table[(table["outcome"] == outcome) & (table["target"] == "first post-period")]
        original = part[part["method"] == "Original"] if "method" in part else None
        honest_did.plot_sensitivity(part[part["delta"] == "DeltaRM"], original=original, ax=ax)
        ax.set_title(f"{title}log {outcome}".strip(), fontsize=10)
        ax.set_xlabel("M-bar (relative magnitudes)")
        ax.set_ylabel("robust 95% interval (log points)")
        handles, names = ax.get_legend_handles_labels()
        words = {"Original": "original interval"}
        ax.legend(handles, [words.get(n, "robust interval, relative magnitudes") for n in names],
                  frameon=False, fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- #
# Summary for the report                                                       #
# --------------------------------------------------------------------------- #


def _breakdown_entry(value: float | None, digits: int) -> tuple[float | None, str]:
    """(value, status): a rounded number with ``"value"``; None with ``"not_significant"``
    (NaN: not significant even under exact parallel trends) or ``"beyond_range"`` (inf)."""
    if value is None or np.isnan(value):
        return None, "not_significant"
    return (None, "beyond_range") if np.isinf(value) else (round(float(value), digits), "value")


def outcome_summary(pretrend: pd.DataFrame | None, honest: pd.DataFrame | None, alpha: float = 0.05) -> dict[str, dict]:
    """Per outcome (keys of ``labels.OUTCOMES``) the numbers the report quotes, from
    :func:`by_outcome` tables of :func:`pretrend_tests` and :func:`honest_did_table`:

    * ``pretest_p``: R ``did``'s pre-test p; ``event_study_p``: the event-study F p
      (3 decimals); ``reject``: either test has ``p < alpha`` (parallel pre-trends rejected);
    * ``significant_leads``: the event-study leads with ``p < alpha``, ``[{"e", "estimate",
      "p"}]`` (log points, 4 decimals);
    * ``breakdown_rm`` (2 decimals), ``breakdown_sd`` (4 decimals) and ``breakdown_status``
      ``{"rm"|"sd": "value" | "not_significant" | "beyond_range"}``.
    """
    by_label = {label: key for key, label in labels.OUTCOMES.items()}
    out: dict[str, dict] = {}
    if pretrend is not None:
        for label, part in pretrend.groupby("outcome", sort=False):
            outcome = by_label[label]
            tests = part.set_index("test")["p"]
            entry = {"pretest_p": round(float(tests["att_gt pre-test"]), 3),
                     "event_study_p": round(float(tests["event study F"]), 3)}
            entry["reject"] = bool(tests[["att_gt pre-test", "event study F"]].min() < alpha)
            leads = pretrend.attrs.get("by_outcome", {}).get(outcome, {}).get("leads")
            entry["significant_leads"] = [] if leads is None else [
                {"e": int(row.e), "estimate": round(float(row.estimate), 4), "p": round(float(row.p), 4)}
                for row in leads.sort_values("e").itertuples() if row.p < alpha]
            out[outcome] = entry
    if honest is not None:
        for outcome, attrs in honest.attrs.get("by_outcome", {}).items():
            entry, status = out.setdefault(outcome, {}), {}
            for restriction, digits in (("RM", 2), ("SD", 4)):
                if restriction in attrs.get("breakdown", {}):
                    entry[f"breakdown_{restriction.lower()}"], status[restriction.lower()] = _breakdown_entry(
                        attrs["breakdown"][restriction], digits)
            entry["breakdown_status"] = status
    return out
