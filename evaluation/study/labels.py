"""The report's words for the study's names: outcomes, estimators, comparison groups,
covariates, subgroup variables and their values, and table columns.

One registry, used by tables, figures, captions and prose, so that no identifier of
the code (``turnover_eur``, ``cs_dr``, ``size_class=large``) reaches the report's text.
Labels are English and lower case (they stand inside sentences); the programme's own
names stay Italian (Linea A, Polo di Innovazione, the poles' names). A name with no
entry is returned as it is, so a test over the rendered report finds it.
"""

from __future__ import annotations

OUTCOMES = {
    "turnover_eur": "turnover",
    "employees": "employment",
    "value_added_eur": "value added",
    "labour_productivity": "labour productivity",
    "rd_expenditure_eur": "R&D expenditure",
    "jobs": "jobs created",
}
OUTCOMES_IT = {"turnover_eur": "fatturato", "employees": "occupazione"}
"""The headline outcomes in the Italian summary."""

ESTIMATORS = {
    "cs_dr": "Callaway-Sant'Anna doubly robust",
    "cs_dr_levels": "Callaway-Sant'Anna doubly robust in levels",
    "cs": "Callaway-Sant'Anna",
    "twfe": "two-way fixed effects",
    "matched_did": "matched difference in differences",
    "ipw_did": "inverse-probability-weighted difference in differences",
    "poisson": "Poisson, zeros kept",
    "imputation": "imputation (Borusyak-Jaravel-Spiess)",
}
"""Estimators in prose."""
ESTIMATOR_ABBREVIATIONS = {
    "cs_dr": "CS-DR", "cs_dr_levels": "CS-DR in levels", "cs": "CS", "twfe": "TWFE", "matched_did": "matched DiD",
    "ipw_did": "IPW DiD", "poisson": "Poisson PPML", "imputation": "imputation",
}
"""Estimators in table cells and figure legends (the captions spell them out)."""

GROUPS = {"unsuccessful": "unsuccessful applicants", "matched": "matched non-applicants",
          "not_yet": "not-yet-treated funded firms"}
"""Comparison groups."""

VARIABLES = {
    "pole": "Polo di Innovazione", "firm_pole": "Polo di Innovazione", "size_class": "size class", "sector": "sector",
    "province": "province", "firm_type": "type of organisation", "line": "call",
}
"""Firm characteristics: covariates and the variables of subgroups."""
LEVELS = {
    "sector": {"manufacturing": "manufacturing", "trade_construction": "trade and construction", "ict": "ICT",
               "professional_rd": "professional services and R&D", "other": "other sectors"},
    "firm_pole": {"none": "no pole", "other": "other poles"},
    "pole": {"none": "no pole", "other": "other poles"},
    "province": {"other": "other provinces"},
    "size_class": {"other": "other size classes", "missing": "no size class"},
    "firm_type": {"SME": "SMEs", "large": "large firms", "research_org": "research organisations", "other": "others"},
}
"""Values of firm characteristics that are codes; other values (pole names, province
codes, size classes) are words already."""

COVARIATE_PATTERNS = {"pre_mean_log_": "pre-call mean of log {}", "pre_growth_log_": "pre-call yearly growth of log {}"}
"""Covariates derived from an outcome (``evaluation.study.comparison.pre_call_covariates``)."""


def outcome(name: str) -> str:
    return OUTCOMES.get(name, name)


def estimator(name: str, short: bool = False) -> str:
    return (ESTIMATOR_ABBREVIATIONS if short else ESTIMATORS).get(name, name)


def group(name: str) -> str:
    return GROUPS.get(name, name)


def level(variable: str, value: object) -> str:
    """A value of a firm characteristic: ``level("sector", "ict")`` is "ICT"."""
    return LEVELS.get(variable, {}).get(str(value), str(value))


def covariate(name: str) -> str:
    """A covariate: ``pre_mean_log_turnover_eur`` is "pre-call mean of log turnover",
    a dummy ``size_class=large`` is "size class: large"."""
    variable, _, value = name.partition("=")
    if value:
        return f"{VARIABLES.get(variable, variable)}: {level(variable, value)}"
    for prefix, words in COVARIATE_PATTERNS.items():
        if name.startswith(prefix):
            return words.format(outcome(name[len(prefix):]))
    return VARIABLES.get(name, name)


COLUMNS: dict[str, tuple[str, str]] = {
    # column name in the CSV table: (header in the report, number kind of evaluation.study.formats)
    "line": ("call", "text"), "outcome": ("outcome", "text"), "estimator": ("estimator", "text"),
    "label": ("estimator", "text"), "covariate": ("covariate", "text"), "note": ("note", "text"),
    "by": ("subgroup of", "text"), "level": ("subgroup", "text"), "group": ("group", "text"),
    "att": ("ATT", "estimate"), "estimate": ("estimate", "estimate"), "difference": ("A \u2212 B", "estimate"),
    "se": ("SE", "estimate"), "ci_low": ("95% CI low", "estimate"), "ci_high": ("95% CI high", "estimate"),
    "p": ("p", "p"), "truth": ("true effect", "estimate"), "nobs": ("firm-years", "count"),
    "n_treated": ("funded firms", "count"), "n_control": ("comparison firms", "count"),
    "firms": ("firms", "count"), "firm-years": ("firm-years", "count"),
    "log turnover, pre": ("log turnover, pre", "estimate"), "log employment, pre": ("log employment, pre", "estimate"),
    # balance
    "smd_before": ("SMD before", "estimate"), "smd_matched": ("SMD matched", "estimate"), "smd_ipw": ("SMD IPW", "estimate"),
    "vr_before": ("VR before", "estimate"), "vr_matched": ("VR matched", "estimate"),
    # heterogeneity
    "mean_grant_eur": ("mean grant, EUR", "eur"), "p_cr1_firm": ("p, clustered by firm", "p"),
    "p_cr1_pole": ("p, clustered by pole", "p"), "p_wild_pole": ("p, wild bootstrap by pole", "p"),
    "wild_ci_low": ("wild bootstrap 95% CI low", "estimate"), "wild_ci_high": ("wild bootstrap 95% CI high", "estimate"),
    "n_poles": ("poles", "count"),
    "measure": ("measure", "text"), "rounded_estimate": ("estimate", "number"), "rounded_ci_low": ("95% CI low", "number"),
    "rounded_ci_high": ("95% CI high", "number"), "rounded_truth": ("true value (synthetic data)", "number"),
    # R&D, in percent or percentage points
    "effect": ("effect", "percent"), "effect_ci_low": ("95% CI low", "percent"), "effect_ci_high": ("95% CI high", "percent"),
    "true_effect": ("true effect", "percent"), "group_treated": ("funded in group", "count"),
    "group_control": ("comparison in group", "count"), "switchers": ("firms changing R&D status", "count"),
    "n_treated_used": ("funded used", "count"), "n_control_used": ("comparison used", "count"),
    # robustness
    "test": ("test", "text"), "statistic": ("statistic", "estimate"), "df1": ("df1", "df"), "df2": ("df2", "df"),
    "reject": ("rejects at 5%", "bool"), "e": ("event time", "count"), "significant": ("significant at 5%", "bool"),
    "check": ("check", "text"), "covers_zero": ("interval covers zero", "bool"), "years": ("years", "text"),
    "dropped": ("pole left out", "text"), "change": ("change", "estimate"),
    "lb": ("robust 95% CI low", "estimate"), "ub": ("robust 95% CI high", "estimate"), "method": ("method", "text"),
    "delta": ("restriction", "text"), "M": ("M-bar or M", "number"), "target": ("target", "text"),
    "term": ("comparison", "text"), "type": ("type", "text"), "treated": ("treated cohort", "year"),
    "control": ("comparison cohort", "year"), "weight": ("weight", "estimate"),
    # regression discontinuity at the funding threshold
    "call": ("call", "text"), "h": ("bandwidth, points", "number"), "h_mse": ("MSE-optimal bandwidth, points", "number"),
    "bandwidth": ("bandwidth", "text"), "design": ("design", "text"), "factor": ("bandwidth factor", "number"),
    "projects_left": ("projects below", "count"), "projects_right": ("projects at or above", "count"),
    "firms_left": ("firms below", "count"), "firms_right": ("firms at or above", "count"),
    "mde80": ("jump detectable with 80% power", "estimate"), "t": ("t", "estimate"),
    "h_left": ("bandwidth below, points", "number"), "h_right": ("bandwidth above, points", "number"),
    # dose-response by grant intensity (continuous-treatment DiD)
    "quantile": ("funded firms' intensity", "text"), "dose": ("grant intensity, % of turnover", "number"),
    "acrt": ("ACRT(d)", "estimate"), "att_band_low": ("ATT(d) uniform band low", "estimate"),
    "att_band_high": ("ATT(d) uniform band high", "estimate"), "acrt_band_low": ("ACRT(d) uniform band low", "estimate"),
    "acrt_band_high": ("ACRT(d) uniform band high", "estimate"), "truth_att": ("true ATT(d)", "estimate"),
    "truth_acrt": ("true ACRT(d)", "estimate"), "knots": ("interior knots", "count"),
    # power of the pre-trend tests (Roth 2022)
    "event_study": ("event study", "text"), "power": ("power", "number"), "slope": ("trend per year", "estimate"),
    "bias_first": ("bias, first post year", "estimate"), "bias_mean": ("bias, mean of post years", "estimate"),
    "bias_mean_if_passed": ("bias if the pre-test passed", "estimate"),
    "estimate_mean": ("estimate, mean of post years", "estimate"),
    # programme and pilots
    "matches": ("matches", "bool"), "pre_periods": ("pre-call years", "count"), "post_periods": ("years after", "count"),
    "participants_per_call": ("participants per call", "count"), "mde_percent": ("MDE, %", "percent"),
    "needed_per_call": ("needed per call", "count"), "members": ("members", "count"),
}
"""Every table column whose name is a code, or whose numbers need a kind other than the
default (whole numbers with separators, other numbers at most 3 decimals)."""

VALUES: dict[str, dict[str, str]] = {
    "outcome": OUTCOMES,
    "estimator": ESTIMATOR_ABBREVIATIONS,
    "delta": {"DeltaRM": "relative magnitudes (M-bar)", "DeltaSD": "smoothness (M)"},
    "method": {"Original": "original interval", "C-LF": "conditional least favourable (C-LF)",
               "FLCI": "fixed-length interval (FLCI)"},
    "dropped": {"none": "none (all poles)"},
    "test": {"att_gt pre-test": "Callaway-Sant'Anna pre-test (R did)", "wald": "joint Wald test of the leads",
             "individual": "no lead significant"},
    "control": {"never": "never treated"},
    "measure": {"att_o": "overall ATT", "acrt_o": "overall ACRT"},
}
"""Codes in text columns, by column."""


def column(name: str) -> tuple[str, str | None]:
    """(header, number kind) of a table column; kind None where the registry has none."""
    label, kind = COLUMNS.get(name, (name, None))
    return label, kind


def cell_text(column_name: str, value: str) -> str:
    """A text cell: covariates by :func:`covariate`, codes by ``VALUES``."""
    if column_name == "covariate":
        return covariate(value)
    return VALUES.get(column_name, {}).get(value, value)
