"""The report's answers: verdicts, limitations, conclusions, recommendations and the
Italian summary, each written by a small documented rule from the runs' results.

A verdict is given for every call (Linea A, Linea B) and headline outcome (turnover,
employment) by :func:`verdict` from the main estimate and a list of :class:`Check`
results (:func:`checks`). The rule set:

* **not estimable**: the main estimate (Callaway-Sant'Anna doubly robust against
  unsuccessful applicants, run ``main_unsuccessful``) is missing;
* **negative**: its 95% interval lies below zero;
* **no detectable effect**: its 95% interval includes zero;
* **positive and robust**: its interval lies above zero, a pre-trend test was run and
  passed, and no other check failed;
* **positive but fragile**: its interval lies above zero but a check failed or no
  pre-trend test could be run.

The checks (each "pass", "fail" or "not available"; :data:`ALPHA` = 5%):

* *pre-trends*: R ``did``'s pre-test of the Callaway-Sant'Anna pre-period effects
  (robustness runs) and the joint Wald test of the leads of the first comparison's
  event study (first_did runs, firm clusters); fails when either rejects;
* *comparison groups*: the point estimates against matched non-applicants and
  not-yet-treated firms have the main estimate's sign;
* *estimators*: every other estimator on the main sample has the main estimate's sign;
* *pole clustering*: the wild cluster bootstrap by pole has p < 5%;
* *HonestDiD*: the relative-magnitudes breakdown value M-bar is at least
  :data:`MBAR_ROBUST` (a violation of parallel trends as large as the largest
  pre-period one would not overturn the first post-period effect).

Results are read defensively: a key another notebook has not written yet makes its
check "not available", never an error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from evaluation.data.programme import CALLS
from evaluation.pipeline import narrative
from evaluation.pipeline.narrative import GROUPS, OUTCOMES, Results, interval, lines_in_data, pct
from evaluation.study import formats as fmt
from evaluation.study import labels

ALPHA = 0.05
MBAR_ROBUST = 1.0
"""Breakdown M-bar below which the relative-magnitudes HonestDiD check fails."""
SMD_LIMIT = 0.1
"""Absolute standardised mean difference above which a covariate is called imbalanced."""
SMALL_SAMPLE = 30
"""Funded firms below which a call's sample is called small."""
FEW_CLUSTERS = 10
"""Poles below which cluster-robust inference by pole is called few-cluster inference."""

NOT_ESTIMABLE, NEGATIVE, NO_EFFECT, ROBUST, FRAGILE = (
    "not estimable", "negative", "no detectable effect", "positive and robust", "positive but fragile")
VERDICTS_IT = {NOT_ESTIMABLE: "non stimabile", NEGATIVE: "negativo", NO_EFFECT: "nessun effetto rilevabile",
               ROBUST: "positivo e robusto", FRAGILE: "positivo ma fragile"}
OUTCOMES_IT = labels.OUTCOMES_IT
PASS, FAIL, NA = "pass", "fail", "not available"


@dataclass(frozen=True)
class Check:
    """One robustness check of a main estimate: its name, status and the evidence."""

    name: str
    status: str
    text: str


class Evidence(Results):
    """The results plus the runs' tables (``{run: {key: DataFrame}}``) where given."""

    def __init__(self, results: dict, tables: dict | None = None):
        super().__init__(results)
        self.tables = tables or {}

    def table(self, run: str, key: str):
        return self.tables.get(run, {}).get(key)


def _get(tree: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(tree, dict) or key not in tree:
            return None
        tree = tree[key]
    return tree


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _run(prefix: str, line: str) -> str:
    return f"{prefix}_linea_{line.lower()}"


def main_entry(r: Results, line: str, outcome: str, group: str = "unsuccessful") -> dict | None:
    """The Callaway-Sant'Anna estimate in percent for a call, outcome and comparison group,
    or None when it is missing or incomplete."""
    entry = r.get(f"main_{group}", f"linea_{line.lower()}.{outcome}")
    if isinstance(entry, dict) and all(_is_number(entry.get(k)) for k in ("pct", "ci_low_pct", "ci_high_pct")):
        return entry
    return None


def not_estimable_reason(r: Results, line: str, outcome: str) -> str:
    run = "main_unsuccessful"
    if not r.has(run):
        return f"this study's grid has no run {run}"
    entry = r.get(run, f"linea_{line.lower()}.{outcome}")
    lines = r.number(run, "not_estimable_lines", {}) or {}
    return ((entry or {}).get("not_estimable") if isinstance(entry, dict) else None) or lines.get(line) or r.why_not(run, "estimates")


# --------------------------------------------------------------------------- #
# Checks                                                                       #
# --------------------------------------------------------------------------- #


def leads_wald(model: Any) -> tuple[float, int] | None:
    """Joint Wald test that the event-study leads (terms ``e=-k``, k > 1) are zero,
    from a stored model result (``terms`` and ``vcov``): (p-value, number of leads)."""
    terms, vcov = _get(model, "terms"), _get(model, "vcov")
    if not isinstance(terms, dict) or not isinstance(vcov, dict):
        return None
    names = [t for t in vcov.get("terms", []) if t.startswith("e=-") and t in terms]
    if not names:
        return None
    try:
        order = [vcov["terms"].index(t) for t in names]
        cov = np.asarray(vcov["matrix"], dtype=float)[np.ix_(order, order)]
        b = np.array([terms[t]["estimate"] for t in names], dtype=float)
        stat = float(b @ np.linalg.solve(cov, b))
    except (KeyError, ValueError, TypeError, np.linalg.LinAlgError):
        return None
    from scipy.special import chdtrc  # chi2.sf(stat, k) is chdtrc(k, stat); scipy.stats alone takes 0.4 s to import

    return float(chdtrc(len(names), np.maximum(stat, 0.0))), len(names)  # chi2.sf is 1 below the support


def pretest_p(r: Results, line: str, outcome: str) -> float | None:
    """R did's pre-test p-value of a call and outcome from its robustness run: per outcome
    when the run gives one, else the run's single test, which is of turnover."""
    run = _run("robustness", line)
    for value in (r.get(run, f"outcomes.{outcome}.pretest_p"), r.get(run, f"{outcome}.pretest_p"),
                  r.get(run, f"pretest_p_{outcome}")):
        if _is_number(value):
            return value
    value = r.get(run, "pretest_p")
    return value if outcome == "turnover_eur" and _is_number(value) else None


def pretrend_check(r: Results, line: str, outcome: str) -> Check:
    tests = []
    p = pretest_p(r, line, outcome)
    if p is not None:
        tests.append((p, f"the pre-test of the Callaway-Sant'Anna pre-period effects has {fmt.p_value(p)}"))
    wald = leads_wald(_get(r.number(_run("first_did", line), outcome), "event_study"))
    if wald is not None:
        wp, k = wald
        tests.append((wp, f"the joint test of the {k} leads of the two-way fixed-effects event study has {fmt.p_value(wp)}"))
    if not tests:
        return Check("pre-trends", NA, "no pre-trend test is available")
    failed = [t for p, t in tests if p < ALPHA]
    if failed:
        return Check("pre-trends", FAIL, "pre-trends fail: " + " and ".join(failed) + ", rejecting parallel pre-trends at 5%")
    return Check("pre-trends", PASS, " and ".join(t for _, t in tests) + ", not rejecting parallel pre-trends")


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def groups_check(r: Results, line: str, outcome: str, main: dict) -> Check:
    found, against = [], []
    for group in ("matched", "not_yet"):
        entry = main_entry(r, line, outcome, group)
        if entry is None:
            continue
        found.append(f"{GROUPS[group]} {pct(entry['pct'])}")
        if _sign(entry["pct"]) != _sign(main["pct"]):
            against.append(f"{GROUPS[group]} ({pct(entry['pct'])})")
    if not found:
        return Check("comparison groups", NA, "no other comparison group is available")
    if against:
        return Check("comparison groups", FAIL, "the estimate against " + " and ".join(against) + " has the opposite sign")
    return Check("comparison groups", PASS, "the other comparison groups agree in sign (" + ", ".join(found) + ")")


def estimators_check(r: Results, line: str, outcome: str, main: dict) -> Check:
    rows = r.number("main_unsuccessful", "estimates", []) or []
    others = [row for row in rows if isinstance(row, dict) and row.get("line") == line and row.get("outcome") == outcome
              and row.get("estimator") not in (None, "cs_dr") and _is_number(row.get("att"))]
    if not others:
        return Check("estimators", NA, "no other estimator is available")
    against = [f"{labels.estimator(row['estimator'])} ({pct(round(100 * math.expm1(row['att']), 1))})"
               for row in others if _sign(row["att"]) != _sign(main["pct"])]
    if against:
        return Check("estimators", FAIL, "the estimate by " + " and ".join(against) + " has the opposite sign")
    return Check("estimators", PASS, f"all {len(others)} other estimators agree in sign")


def wild_p(r: Results, line: str, outcome: str) -> tuple[float | None, float | None, Any]:
    run = _run("heterogeneity", line)
    short = {"turnover_eur": ("turnover",), "employees": ("employees", "employment")}.get(outcome, (outcome,))
    for name in short:
        wp = r.get(run, f"wild_p_{name}")
        if _is_number(wp):
            fp = r.get(run, f"firm_p_{name}")
            return wp, fp if _is_number(fp) else None, r.get(run, "n_poles")
    return None, None, r.get(run, "n_poles")


def pole_check(r: Results, line: str, outcome: str) -> Check:
    wp, fp, poles = wild_p(r, line, outcome)
    if wp is None:
        return Check("pole clustering", NA, "inference clustered by pole is not available")
    where = f"the wild cluster bootstrap by pole ({fmt.count(poles)} poles) gives {fmt.p_value(wp)}"
    if wp >= ALPHA:
        if fp is not None and fp < ALPHA:
            return Check("pole clustering", FAIL, f"significance is lost when clustering by pole: {where} "
                         f"({fmt.p_value(fp)} clustered by firm)")
        return Check("pole clustering", FAIL, f"the effect is not significant when clustering by pole either: {where}")
    return Check("pole clustering", PASS, f"{where}, still significant")


def honest_check(r: Results, line: str, outcome: str) -> Check:
    run = _run("robustness", line)
    status = r.number(run, "breakdown_status", {}) if outcome == "turnover_eur" else None
    value = r.get(run, "breakdown_rm")
    per_outcome_status = _get(r.number(run, "by_outcome", {}), outcome, "breakdown_status")
    if isinstance(per_outcome_status, dict):  # the robustness run's per-outcome record
        status, value = per_outcome_status, r.get(run, f"outcomes.{outcome}.breakdown_rm")
    per_outcome = r.get(run, f"{outcome}.breakdown_rm")
    if outcome != "turnover_eur" and _is_number(per_outcome):
        status, value = {"rm": "value"}, per_outcome
    rm = _get(status, "rm") if isinstance(status, dict) else None
    if rm == "value" and _is_number(value):
        if value >= MBAR_ROBUST:
            return Check("HonestDiD", PASS, f"the HonestDiD breakdown value is M-bar = {fmt.number(value)}")
        return Check("HonestDiD", FAIL, f"the HonestDiD breakdown value M-bar = {fmt.number(value)} is below "
                     f"{fmt.number(MBAR_ROBUST)}: a violation of parallel trends smaller than the largest pre-period "
                     "one would overturn the first post-period effect")
    if rm == "not_significant":
        return Check("HonestDiD", FAIL, "in the HonestDiD event study the first post-period effect is not significant "
                     "even under exact parallel trends")
    if rm == "beyond_range":
        return Check("HonestDiD", PASS, "the HonestDiD breakdown value lies beyond the range searched")
    return Check("HonestDiD", NA, "the HonestDiD sensitivity is not available")


def checks(r: Results, line: str, outcome: str, main: dict | None) -> list[Check]:
    out = [pretrend_check(r, line, outcome)]
    if main is not None:
        out += [groups_check(r, line, outcome, main), estimators_check(r, line, outcome, main)]
    return out + [pole_check(r, line, outcome), honest_check(r, line, outcome)]


def verdict(main: dict | None, found: list[Check]) -> str:
    """The verdict on one main estimate from its checks (the rule set of the module)."""
    if main is None or not all(_is_number(main.get(k)) for k in ("pct", "ci_low_pct", "ci_high_pct")):
        return NOT_ESTIMABLE
    if main["ci_high_pct"] < 0:
        return NEGATIVE
    if main["ci_low_pct"] <= 0:
        return NO_EFFECT
    pretrends_passed = any(c.name == "pre-trends" and c.status == PASS for c in found)
    if pretrends_passed and not any(c.status == FAIL for c in found):
        return ROBUST
    return FRAGILE


@dataclass(frozen=True)
class Assessment:
    line: str
    outcome: str
    main: dict | None
    checks: list[Check]
    verdict: str
    reason: str = ""


def assess(r: Results, line: str, outcome: str) -> Assessment:
    main = main_entry(r, line, outcome)
    found = checks(r, line, outcome, main)
    reason = not_estimable_reason(r, line, outcome) if main is None else ""
    return Assessment(line, outcome, main, found, verdict(main, found), reason)


def assessments(r: Results) -> list[Assessment]:
    return [assess(r, line, outcome) for line in lines_in_data(r) for outcome in OUTCOMES]


def evidence_sentence(a: Assessment) -> str:
    """The verdict with its evidence: the main estimate, what weakens it, what supports it."""
    head = f"Linea {a.line}, {OUTCOMES[a.outcome]}: **{a.verdict}**."
    if a.main is None:
        return head + " " + narrative.not_estimable("The main estimate", a.reason)
    text = f"{head} The main estimate is {interval(a.main)}"
    failed = [c.text for c in a.checks if c.status == FAIL]
    passed = [c.text for c in a.checks if c.status == PASS]
    missing = [c.name for c in a.checks if c.status == NA]
    if a.verdict == NO_EFFECT:
        text += ", an interval that includes zero"
    text += "."
    if failed:
        text += " Checks failed: " + "; ".join(failed) + "."
    if passed:
        text += " Checks passed: " + "; ".join(passed) + "."
    if missing:
        text += " Checks not available: " + ", ".join(missing) + "."
    return text


# --------------------------------------------------------------------------- #
# Snippets                                                                     #
# --------------------------------------------------------------------------- #


def verdict_table(r: Results) -> str:
    rows = ["| call | outcome | verdict | effect, % | 95% interval | checks failed |", "|:---|:---|:---|---:|---:|:---|"]
    for a in assessments(r):
        failed = ", ".join(c.name for c in a.checks if c.status == FAIL) or "none"
        if a.main is None:
            rows.append(f"| Linea {a.line} | {OUTCOMES[a.outcome]} | {a.verdict} | | | |")
        else:
            rows.append(f"| Linea {a.line} | {OUTCOMES[a.outcome]} | {a.verdict} | {fmt.number(a.main['pct'], 'percent')} | "
                        f"{fmt.number(a.main['ci_low_pct'], 'percent')} to {fmt.number(a.main['ci_high_pct'], 'percent')} | {failed} |")
    return "\n".join(rows) + ("\n\n: Verdicts by rule (main specification: Callaway-Sant'Anna doubly robust against "
                              "unsuccessful applicants; the checks are defined in the section on the design) {#tbl-verdicts}\n")


def summary_answers(r: Results) -> str:
    """The executive summary's answers to the evaluation questions, verdict first."""
    by_line: dict[str, list[Assessment]] = {}
    for a in assessments(r):
        by_line.setdefault(a.line, []).append(a)
    parts = []
    for number, line in enumerate(narrative.LINES, start=1):
        who = "firms already members of a pole" if line == "A" else "firms new to the poles"
        question = f"**Q{number}. Did Linea A's grants raise the turnover and employment of {who}?**" if line == "A" else \
            f"**Q{number}. Did Linea B's grants raise the turnover and employment of {who}?**"
        if line not in by_line:
            parts.append(f"{question} Not estimable: the data hold no application to Linea {line}.")
            continue
        parts.append(question + "\n\n" + "\n".join(f"- {evidence_sentence(a)}" for a in by_line[line]))
    diff = r.get("main_unsuccessful", "difference_p")
    q3 = "**Q3. Did newcomers (Linea B) gain as much as insiders (Linea A)?** "
    if isinstance(diff, dict) and any(_is_number(diff.get(o)) for o in OUTCOMES):
        differs = [OUTCOMES[o] for o in OUTCOMES if _is_number(diff.get(o)) and diff[o] < ALPHA]
        q3 += ("The test of equal effects has " + " and ".join(
            f"{fmt.p_value(diff[o])} for {OUTCOMES[o]}" for o in OUTCOMES if _is_number(diff.get(o))) + "; "
            + (f"the calls differ at 5% in {' and '.join(differs)}." if differs
               else "no difference between the calls is detectable at 5% (which is not evidence that they are equal)."))
    else:
        q3 += narrative.not_estimable("The difference between the calls", r.why_not("main_unsuccessful", "line_difference"))
    parts.append(q3)
    costs = [narrative.cost_sentence(r, line) for line in lines_in_data(r) if r.has(_run("heterogeneity", line))]
    parts.append("**Q4. What did a job cost?** " + (" ".join(costs) if costs else "The cost-per-job runs are not part of this study's grid."))
    return "\n\n".join(parts)


def budget(r: Results) -> str:
    """The calls' published budgets against the grants the data hold."""
    total_budget = sum(CALLS[line]["budget_eur"] for line in CALLS) / 1e6
    grants = [(line, r.get("overview_all", f"linea_{line.lower()}.grants_m_eur")) for line in CALLS]
    known = [(line, g) for line, g in grants if _is_number(g)]
    text = (f"The two calls had a published budget of {fmt.number(total_budget, 'm_eur')} M EUR ("
            + ", ".join(f"Linea {line} {fmt.number(CALLS[line]['budget_eur'] / 1e6, 'm_eur')} M EUR" for line in CALLS)
            + ") [@regione2017poli].")
    if not known:
        return text + " The grants the data hold are not available (no data overview in this study's grid)."
    granted = sum(g for _, g in known)
    share = 100 * granted / total_budget if len(known) == len(CALLS) else None
    text += (" The data hold grants of " + ", ".join(f"{fmt.number(g, 'm_eur')} M EUR in Linea {line}" for line, g in known))
    if share is not None:
        text += f", {fmt.number(granted, 'm_eur')} M EUR in all: {pct(share)} of the budget"
    return text + "."


def pretrend_leads(r: Results) -> list[str]:
    """Leads of the first comparison's event study whose 95% interval excludes zero."""
    out = []
    for line in lines_in_data(r):
        for outcome in OUTCOMES:
            model = r.number(_run("first_did", line), outcome, {})
            terms = _get(model, "event_study", "terms") if isinstance(model, dict) else None
            if not isinstance(terms, dict):
                continue
            significant = sorted((k for k, v in terms.items() if k.startswith("e=-") and isinstance(v, dict)
                                  and _is_number(v.get("ci_low")) and _is_number(v.get("ci_high"))
                                  and (v["ci_low"] > 0 or v["ci_high"] < 0)), key=lambda k: int(k[2:]))
            if significant:
                signs = {_sign(terms[k]["estimate"]) for k in significant}
                word = "negative" if signs == {-1} else "positive" if signs == {1} else "non-zero"
                leads = ", ".join(f"e = {fmt.number(int(k[2:]))}" for k in significant)
                out.append(f"in Linea {line} the {OUTCOMES[outcome]} leads {leads} of the two-way "
                           f"fixed-effects event study are significantly {word}")
    return out


def imbalance(r: Evidence) -> list[str]:
    out = []
    for line in lines_in_data(r):
        frame = r.table("main_matched", f"balance_{line.lower()}")
        if frame is None or "covariate" not in getattr(frame, "columns", []):
            continue
        for column, how in (("smd_matched", "matching"), ("smd_ipw", "weighting")):
            if column not in frame.columns:
                continue
            values = frame[["covariate", column]].dropna()
            bad = values[values[column].abs() > SMD_LIMIT]
            if len(bad):
                worst = bad.loc[bad[column].abs().idxmax()]
                out.append(f"in Linea {line}, after {how} {len(bad)} of {len(values)} covariates keep an absolute standardised "
                           f"mean difference above {SMD_LIMIT} (largest: {labels.covariate(str(worst['covariate']))}, {fmt.estimate(float(worst[column]))})")
    return out


def limitation_items(r: Evidence) -> list[str]:
    items = []
    all_a = assessments(r)
    for a in all_a:
        for c in a.checks:
            if c.status == FAIL and (c.name == "pre-trends" or c.text.startswith("significance is lost")):
                items.append(f"Linea {a.line}, {OUTCOMES[a.outcome]}: {c.text}.")
    items += [f"Event study: {s}; parallel trends before the start are in doubt there." for s in pretrend_leads(r)]
    zero = [f"Linea {a.line} {OUTCOMES[a.outcome]}" for a in all_a if a.verdict == NO_EFFECT]
    if zero:
        items.append("The main 95% interval includes zero for " + ", ".join(zero)
                     + ": the data cannot tell a small effect from none there.")
    for a in all_a:
        for c in a.checks:
            if c.status == FAIL and c.name == "comparison groups":
                items.append(f"Linea {a.line}, {OUTCOMES[a.outcome]}: {c.text}; the comparison groups do not tell one story.")
    items += [f"Residual imbalance: {s}." for s in imbalance(r)]
    for a in all_a:
        if a.verdict == NOT_ESTIMABLE:
            items.append(narrative.not_estimable(f"Linea {a.line}, {OUTCOMES[a.outcome]}", a.reason))
    for group, label in GROUPS.items():
        run = f"main_{group}"
        if not r.has(run):
            items.append(f"The comparison with {label} is not part of this study's grid.")
            continue
        for line, reason in sorted((r.number(run, "not_estimable_lines", {}) or {}).items()):
            items.append(narrative.not_estimable(f"Linea {line} against {label}", str(reason)))
    for line in lines_in_data(r):
        n = r.get(_run("first_did", line), "n_funded")
        if _is_number(n) and n < SMALL_SAMPLE:
            items.append(f"Linea {line} has only {fmt.count(n)} funded firms (fewer than {SMALL_SAMPLE}): "
                         "estimates are imprecise and large-sample inference is approximate.")
        poles = r.get(_run("heterogeneity", line), "n_poles")
        if _is_number(poles) and poles < FEW_CLUSTERS:
            items.append(f"Linea {line} spans only {fmt.count(poles)} poles: inference clustered by pole rests on "
                         f"few clusters (fewer than {FEW_CLUSTERS}), hence the wild bootstrap, which has little power.")
    items += dose_limitations(r)
    return list(dict.fromkeys(items))


def dose_limitations(r: Results) -> list[str]:
    """By rule from ``dose_response_all``: the calls and headline outcomes whose overall ACRT
    interval includes zero (the data cannot tell whether the effect changes with intensity)."""
    unclear = []
    for key, name in narrative.DOSE_CALLS.items():
        for outcome, label in OUTCOMES.items():
            acrt = r.get(narrative.DOSE_RUN, f"{key}.{outcome}.acrt_o")
            if isinstance(acrt, dict) and acrt.get("ci_low", 0) <= 0 <= acrt.get("ci_high", 0):
                unclear.append(f"{name} {label}")
    if not unclear:
        return []
    return ["Dose-response: the overall ACRT's 95% interval includes zero for " + ", ".join(unclear)
            + ", so the average change of the effect per percentage point of grant intensity is not pinned down; a causal "
            "reading of any slope would also need strong parallel trends (no selection on gains by intensity)."]


def limitations(r: Evidence) -> str:
    items = limitation_items(r)
    if not items:
        return "The diagnostics of this study flag no limitation beyond the general ones below."
    return "The diagnostics of this study flag:\n\n" + "\n".join(f"- {s}" for s in items)


def conclusions(r: Results) -> str:
    by_line: dict[str, list[Assessment]] = {}
    for a in assessments(r):
        by_line.setdefault(a.line, []).append(a)
    out = []
    for line, items in by_line.items():
        groups = {v: [OUTCOMES[a.outcome] for a in items if a.verdict == v] for v in (ROBUST, FRAGILE, NO_EFFECT, NEGATIVE, NOT_ESTIMABLE)}
        sentences = []
        if groups[ROBUST]:
            sentences.append(f"the evidence supports a positive effect on {' and '.join(groups[ROBUST])}, robust to every check available")
        if groups[FRAGILE]:
            sentences.append(f"the effect on {' and '.join(groups[FRAGILE])} is positive in the main specification but fragile: "
                             "suggestive, not conclusive")
        if groups[NO_EFFECT]:
            sentences.append(f"no effect on {' and '.join(groups[NO_EFFECT])} is detectable with these data")
        if groups[NEGATIVE]:
            sentences.append(f"the effect on {' and '.join(groups[NEGATIVE])} is negative")
        if groups[NOT_ESTIMABLE]:
            sentences.append(f"the effect on {' and '.join(groups[NOT_ESTIMABLE])} could not be estimated")
        out.append(f"- **Linea {line}**: " + "; ".join(sentences) + ".")
    if not out:
        return "No call could be assessed with these data."
    return "\n".join(out)


def recommendations(r: Results) -> str:
    """Recommendations by rule from the verdicts and the checks that failed."""
    all_a = assessments(r)
    recs = []
    failed = {c.name for a in all_a for c in a.checks if c.status == FAIL}
    fragile_or_zero = [f"Linea {a.line} {OUTCOMES[a.outcome]}" for a in all_a if a.verdict in (FRAGILE, NO_EFFECT)]
    robust = [f"Linea {a.line} {OUTCOMES[a.outcome]}" for a in all_a if a.verdict == ROBUST]
    if robust:
        recs.append("Where the effect is positive and robust (" + ", ".join(robust) + "), the evidence supports continuing "
                    "the instrument; monitor that the effect persists as more post-project years become available.")
    if fragile_or_zero:
        recs.append("Do not base funding decisions on the effects on " + ", ".join(fragile_or_zero) + " alone; re-estimate "
                    "them when more years after the projects, or more calls, are available.")
    if "pre-trends" in failed:
        recs.append("Where the pre-trend tests fail, collect longer pre-call series and report estimates conditional on "
                    "pre-call trends; treat the affected estimates as upper or lower bounds (see the HonestDiD section).")
    if "pole clustering" in failed:
        recs.append("Inference by pole rests on few clusters; pool future calls (or regions) so that shocks common to a "
                    "pole can be separated from the grant's effect.")
    if "comparison groups" in failed or "estimators" in failed:
        recs.append("The comparison groups or estimators disagree in sign somewhere; a design with a known selection rule, "
                    "such as a regression discontinuity at the merit-score threshold, would settle which comparison is right.")
    if any(a.verdict == NOT_ESTIMABLE for a in all_a):
        recs.append("Collect the data that the designs marked not estimable need (see the limitations).")
    if any(a.verdict == NEGATIVE for a in all_a):
        recs.append("Investigate the negative effects before any further call of the same design.")
    if not recs:
        return "The verdicts give no call-specific recommendation."
    return "\n".join(f"{i}. {s}" for i, s in enumerate(recs, start=1))


# --------------------------------------------------------------------------- #
# Sintesi in italiano                                                          #
# --------------------------------------------------------------------------- #


def numero(value: Any, decimals: int = 0) -> str:
    """A number the Italian way (the rules of ``evaluation.study.formats`` with the Italian
    separators): 1.194 for thousands, 4,9 for decimals, "n.d." if missing."""
    if not _is_number(value):
        return "n.d."
    return fmt.fixed(value, decimals).replace(",", "\u0000").replace(".", ",").replace("\u0000", ".")


def valore_p(p: Any) -> str:
    """A p-value the Italian way: "p = 0,035", "p < 0,001"."""
    return "p " + fmt.p_value(p)[2:].replace(".", ",")


def percento(value: Any) -> str:
    return "n.d." if not _is_number(value) else f"{numero(value, 1)}%"


def sintesi(r: Results) -> str:
    """The Italian summary: the same verdicts and numbers as the executive summary."""
    o = "overview_all"
    parts = []
    if r.synthetic:
        parts.append("**Dati sintetici.** Tutti i numeri di questa sintesi provengono da dati simulati: illustrano il "
                     "metodo e non dicono nulla delle imprese reali né dell'effetto reale del programma.")
    if r.has(o):
        calls = []
        for line in narrative.LINES:
            call = r.get(o, f"linea_{line.lower()}")
            if isinstance(call, dict) and call.get("submitted"):
                calls.append(f"la Linea {line} ha finanziato {numero(call.get('funded'))} progetti su "
                             f"{numero(call.get('submitted'))} ({numero(call.get('firms_funded'))} imprese, "
                             f"{numero(call.get('grants_m_eur'), 1)} M€ di contributi)")
        if calls:
            parts.append("Nei dati " + "; ".join(calls) + ".")
    parts.append("La specificazione principale confronta le imprese finanziate con quelle i cui progetti non sono stati "
                 "finanziati, con lo stimatore doubly robust di Callaway e Sant'Anna (differenze nelle differenze). "
                 "Il giudizio segue regole fisse: il segno e l'intervallo di confidenza al 95% della stima principale, "
                 "i test sui trend precedenti, l'accordo tra gruppi di controllo e stimatori, l'inferenza per polo "
                 "(wild bootstrap) e l'analisi di sensibilità HonestDiD.")
    items = []
    names_it = {"pre-trends": "test sui trend precedenti", "comparison groups": "gruppi di controllo",
                "estimators": "stimatori", "pole clustering": "inferenza per polo", "HonestDiD": "HonestDiD"}
    for a in assessments(r):
        text = f"- **Linea {a.line}, {OUTCOMES_IT[a.outcome]}: {VERDICTS_IT[a.verdict]}.**"
        if a.main is not None:
            text += (f" Stima {percento(a.main['pct'])} (intervallo al 95% da {percento(a.main['ci_low_pct'])} "
                     f"a {percento(a.main['ci_high_pct'])}).")
            failed = [names_it[c.name] for c in a.checks if c.status == FAIL]
            if failed:
                text += " Verifiche non superate: " + ", ".join(failed) + "."
            wp, _, poles = wild_p(r, a.line, a.outcome)
            if wp is not None and wp >= ALPHA:
                text += f" Con errori raggruppati per polo (wild bootstrap, {numero(poles)} poli) {valore_p(wp)}: non significativo."
        items.append(text)
    parts.append("\n".join(items))
    diff = r.get("main_unsuccessful", "difference_p")
    if isinstance(diff, dict) and _is_number(diff.get("turnover_eur")):
        parts.append("Il test di uguaglianza degli effetti tra nuovi entrati (Linea B) e associati (Linea A) dà "
                     + " e ".join(f"{valore_p(diff[o])} per {OUTCOMES_IT[o]}" for o in OUTCOMES if _is_number(diff.get(o))) + ".")
    if any(a.verdict in (FRAGILE, NO_EFFECT) for a in assessments(r)):
        parts.append("Dove l'effetto è fragile o non rilevabile, i risultati vanno letti come indicativi e non conclusivi; "
                     "le sezioni sui limiti e sulle raccomandazioni spiegano perché e che cosa servirebbe.")
    return "\n\n".join(parts)


def _pct_of(log_estimate: Any) -> float | None:
    return round(100 * math.expm1(log_estimate), 1) + 0.0 if _is_number(log_estimate) else None


def disagreements(r: Results) -> str:
    """The estimates of one call and outcome side by side, with the reasons they may
    differ stated where the numbers show the difference."""
    out = []
    for line in lines_in_data(r):
        for outcome in OUTCOMES:
            model = r.number(_run("first_did", line), outcome)
            two = _pct_of(_get(model, "2x2", "terms", "treated:post", "estimate"))
            twfe = r.get(_run("first_did", line), f"{outcome}.twfe_pct")
            found = [("2x2", two), ("two-way fixed effects", twfe if _is_number(twfe) else None)]
            found += [(f"Callaway-Sant'Anna vs {GROUPS[g]}", (main_entry(r, line, outcome, g) or {}).get("pct")) for g in GROUPS]
            known = [(name, v) for name, v in found if _is_number(v)]
            if len(known) < 2:
                continue
            text = (f"- **Linea {line}, {OUTCOMES[outcome]}**: " + "; ".join(f"{name} {pct(v)}" for name, v in known)
                    + f" (range {fmt.number(max(v for _, v in known) - min(v for _, v in known), 'percent')} percentage points).")
            reasons = []
            if two is not None and _is_number(twfe) and abs(two - twfe) >= 2:
                reasons.append("the 2x2 compares all years before with all years after the start, without year effects "
                               "and on an unbalanced panel whose firms change between the periods, while the two-way "
                               "fixed-effects estimate compares each firm with itself year by year")
            ny = (main_entry(r, line, outcome, "not_yet") or {}).get("pct")
            main = (main_entry(r, line, outcome) or {}).get("pct")
            if _is_number(ny) and _is_number(main) and ny < main:
                lags = _get(model, "event_study", "terms")
                first, last = (_get(lags, "e=0", "estimate"), _get(lags, f"e={_last_lag(lags)}", "estimate")) if isinstance(lags, dict) else (None, None)
                growing = _is_number(first) and _is_number(last) and last > first
                reasons.append("the not-yet-treated comparison uses only the years before the last cohort starts, so it "
                               "sees only the first years after a start" + (
                                   f", when the event study shows smaller effects ({pct(_pct_of(first))} at the start "
                                   f"against {pct(_pct_of(last))} later)" if growing else "")
                               + ", and its controls are funded firms about to start, which may already adjust")
            if reasons:
                text += " The estimates differ because " + "; and ".join(reasons) + "."
            out.append(text)
    if not out:
        return "Too few estimates are available to compare."
    return ("The estimates of each call and outcome, by design (percent):\n\n" + "\n".join(out))


def _last_lag(terms: dict) -> int:
    lags = [int(k[2:]) for k in terms if k.startswith("e=") and not k.startswith("e=-") and k[2:].isdigit()]
    return max(lags) if lags else 0


SNIPPETS: dict[str, Callable[[Evidence], str]] = {
    "disagreements": disagreements,
    "verdict_table": verdict_table,
    "summary_answers": summary_answers,
    "budget": budget,
    "limitations": limitations,
    "conclusions": conclusions,
    "recommendations": recommendations,
    "sintesi": sintesi,
}


def write_text_snippets(results: dict, out_dir: Path, tables: dict | None = None) -> None:
    """Write ``<name>.md`` for every snippet of ``SNIPPETS`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    r = Evidence(results, tables)
    for name, make in SNIPPETS.items():
        (out_dir / f"{name}.md").write_text(make(r).strip() + "\n", encoding="utf-8")
