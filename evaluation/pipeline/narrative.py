"""The report's data-dependent sentences, written by rule from the runs' results.

Every paragraph of ``reports/report.qmd`` whose truth depends on the data is a
snippet made here (``generated/text/<name>.md``) from ``results.json``: the headline
numbers of each run and, where a run could not estimate something, its
``not_estimable`` reason. A rule decides each qualitative word ("most of the gap",
"includes zero", "no job created"), so the text stays true of any data that meet
the contract; what is missing is said to be missing, with the reason.

Run ids follow ``study.yml``: ``overview_all``, ``first_did_linea_a``,
``main_unsuccessful``, ``heterogeneity_linea_a``, ``robustness_linea_a``,
``observatory_all``, ...; a run absent from the grid is reported as such.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

from evaluation.study import formats as fmt
from evaluation.study import labels

LINES = ("A", "B")
GROUPS = labels.GROUPS
OUTCOMES = {o: labels.outcome(o) for o in ("turnover_eur", "employees")}
"""The headline outcomes, in the order the text quotes them."""
MOST = 0.5
"""Share of the naive post-period gap that the pre-start gap must reach for the text
to call most of the naive gap selection."""


class Results:
    """Read access to the study's ``results.json`` by run and dotted key."""

    def __init__(self, results: dict, montecarlo: dict | None = None):
        self.runs = results.get("runs", {})
        self.montecarlo = montecarlo
        self.synthetic = bool(results.get("synthetic"))

    def has(self, run: str) -> bool:
        return run in self.runs

    def get(self, run: str, key: str = "") -> Any:
        """Headline value at ``key`` (dotted), or None when absent."""
        value: Any = self.runs.get(run, {}).get("headline", {})
        for part in filter(None, key.split(".")):
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
        return value

    def number(self, run: str, key: str, default: Any = None) -> Any:
        return self.runs.get(run, {}).get("numbers", {}).get(key, default)

    def why_not(self, run: str, output: str) -> str:
        """Why ``output`` of ``run`` is missing: the run's own reason, or the grid's."""
        if run not in self.runs:
            return f"this study's grid has no run {run}"
        reason = self.runs[run].get("not_estimable", {}).get(output)
        return reason or "not produced"


pct = fmt.percent


def interval(entry: dict) -> str:
    return f"{pct(entry['pct'])} (95% interval {pct(entry['ci_low_pct'])} to {pct(entry['ci_high_pct'])})"


def significance(entry: dict) -> str:
    """By rule: whether the 95% interval excludes zero, and on which side."""
    if entry["ci_low_pct"] > 0:
        return "above zero"
    if entry["ci_high_pct"] < 0:
        return "below zero"
    return "an interval that includes zero"


def _line_run(prefix: str, line: str) -> str:
    return f"{prefix}_linea_{line.lower()}"


def lines_in_data(r: Results) -> list[str]:
    """Calls with applications, from the overview's counts (both when it did not run)."""
    if not r.has("overview_all"):
        return list(LINES)
    return [line for line in LINES if (r.get("overview_all", f"linea_{line.lower()}.submitted") or 0) > 0]


def line_runs(r: Results, prefix: str) -> list[tuple[str, str]]:
    """``(line, run)`` for each call in the data whose run of notebook ``prefix`` produced results."""
    return [(line, run) for line in lines_in_data(r) if r.has(run := _line_run(prefix, line))]


def _sentence_case_inside(reason: str) -> str:
    """A reason written as a sentence, to follow a colon: its first letter in lower case unless
    the first word reads as a name (a capital inside it, as HonestDiD, or a capitalised word
    after it, as Linea A)."""
    words = reason.split(maxsplit=2)
    first = words[0] if words else ""
    is_name = any(c.isupper() for c in first[1:]) or (len(words) > 1 and words[1][:1].isupper())
    return reason if not reason or is_name else reason[0].lower() + reason[1:]


def not_estimable(what: str, reason: str) -> str:
    reason = reason.strip().rstrip(".")
    return f"{what}: not estimable with these data ({_sentence_case_inside(reason) if reason else 'no reason given'})."


# --------------------------------------------------------------------------- #
# Snippets                                                                     #
# --------------------------------------------------------------------------- #


def summary_data(r: Results) -> str:
    o = "overview_all"
    if not r.has(o):
        return "The data overview is not part of this study's grid."
    text = (f"The data hold {fmt.count(r.get(o, 'members'))} pole members and a panel of "
            f"{fmt.count(r.get(o, 'enterprises_in_panel'))} enterprises observed from {fmt.year(r.get(o, 'first_year'))} "
            f"to {fmt.year(r.get(o, 'last_year'))}.")
    for line in LINES:
        call = r.get(o, f"linea_{line.lower()}")
        if not call or not call.get("submitted"):
            text += f" The data hold no application to Linea {line}."
            continue
        text += (f" Linea {line} funded {fmt.count(call['funded'])} of {fmt.count(call['submitted'])} projects "
                 f"({fmt.count(call['firms_funded'])} firms, {fmt.number(call['grants_m_eur'], 'm_eur')} M EUR of grants).")
    return text


def summary_first(r: Results) -> str:
    items = []
    for line in LINES:
        run = _line_run("first_did", line)
        head = r.get(run)
        if line not in lines_in_data(r):
            items.append(f"- **Linea {line}**: the data hold no application to this call.")
            continue
        if not head or "n_funded" not in head:
            items.append(f"- **Linea {line}**: " + not_estimable("the first comparison", r.why_not(run, "estimates")))
            continue
        effects = [f"{OUTCOMES[o]} {interval({'pct': head[o]['twfe_pct'], 'ci_low_pct': head[o]['twfe_ci_low_pct'], 'ci_high_pct': head[o]['twfe_ci_high_pct']})}"
                   for o in OUTCOMES if o in head]
        items.append(f"- **Linea {line}** ({fmt.count(head['n_funded'])} funded, "
                     f"{fmt.count(head['n_unsuccessful'])} unsuccessful applicants): " + "; ".join(effects) + ".")
    text = ("First results compare funded firms with applicants whose projects were not funded, with two-way "
            "fixed effects for firm and year (95% intervals clustered by firm):\n\n" + "\n".join(items))
    selection = [s for s in (selection_sentence(r, line) for line in LINES) if s]
    truth = [f"{pct(r.get(_line_run('first_did', line), 'turnover_eur.truth_pct'))} (Linea {line})" for line in LINES
             if r.get(_line_run("first_did", line), "turnover_eur.truth_pct") is not None]
    if selection:
        text += "\n\n" + " ".join(selection)
    if truth:
        text += ("\n\nThese synthetic data carry their true effect; on turnover it is " + " and ".join(truth)
                 + " on average over the funded firm-years.")
    return text


def selection_sentence(r: Results, line: str) -> str:
    """The naive post-start gap set beside the pre-start gap, with the verdict by rule
    (both gaps in log points): with no positive naive gap there is nothing to explain;
    "most of the naive gap" is selection when the pre-start gap is at least ``MOST`` of
    it, "part" when it is positive but smaller, and neither when it is not positive."""
    run = _line_run("first_did", line)
    naive, gap, did = r.get(run, "turnover_eur.naive_pct"), r.get(run, "pre_gap_log_turnover"), r.get(run, "turnover_eur.twfe_pct")
    if naive is None or did is None:
        return ""
    text = (f"In Linea {line} a naive comparison of turnover after the start would report {pct(naive)}, "
            f"against {pct(did)} by difference in differences")
    employment = r.get(run, "employees.naive_pct")
    if employment is not None:
        text += f" (employment: {pct(employment)} naive, {pct(r.get(run, 'employees.twfe_pct'))} by difference in differences)"
    if gap is None:
        return text + "."
    naive_log = math.log1p(naive / 100)
    if naive_log <= 0:
        verdict = "funded firms show no turnover advantage after the start even before any adjustment"
    elif gap >= naive_log:
        verdict = "the whole naive gap, and more, was already there before the start: selection, not effect"
    elif gap >= MOST * naive_log:
        verdict = "most of the naive gap was already there before the start: selection, not effect"
    elif gap > 0:
        verdict = "part of the naive gap was already there before the start"
    else:
        verdict = "the naive gap was not there before the start"
    return text + (f"; before the start funded firms' mean log turnover differed from unsuccessful applicants' by "
                   f"{fmt.estimate(gap)} log points, and {verdict}.")


def summary_main(r: Results) -> str:
    run = "main_unsuccessful"
    parts = []
    for line in lines_in_data(r):
        entry = r.get(run, f"linea_{line.lower()}.turnover_eur")
        if entry and "pct" in entry:
            parts.append(f"Linea {line}: {interval(entry)}, {significance(entry)}")
        else:
            reason = (entry or {}).get("not_estimable") or r.number(run, "not_estimable_lines", {}).get(line) or r.why_not(run, "estimates")
            parts.append(not_estimable(f"Linea {line}", reason).rstrip("."))
    text = ("The main specification, Callaway and Sant'Anna's doubly robust estimator against unsuccessful "
            "applicants, which allows effects to differ by start year and over time, gives these turnover effects: "
            + "; ".join(parts) + ".")
    diff = r.get(run, "difference_p")
    if diff:
        text += (" The test of equal effects for newcomers and insiders has p = "
                 + " and ".join(f"{fmt.number(p, 'p')} for {OUTCOMES[o]}" for o, p in diff.items() if o in OUTCOMES) + ".")
    costs = [cost_sentence(r, line) for line in lines_in_data(r) if r.has(_line_run("heterogeneity", line))]
    return text + (" " + " ".join(costs) if costs else "")


def cost_sentence(r: Results, line: str) -> str:
    """Jobs created and grants per job in one call, hedged by rule on the jobs interval
    (``jobs`` in an average year after the start, ``cost_ci_unbounded`` when its 95%
    interval reaches zero); on synthetic data the true figures beside them, with
    whether the interval covers the truth."""
    run = _line_run("heterogeneity", line)
    head = r.get(run)
    if not head or head.get("jobs") is None:
        return not_estimable(f"Jobs created and cost per job in Linea {line}", r.why_not(run, "cost_per_job"))
    jobs = (f"about {fmt.count(head['jobs'])} jobs (annual work units) in an average year after the start "
            f"(95% interval {fmt.count(head['jobs_ci_low'])} to {fmt.count(head['jobs_ci_high'])})")
    if head.get("cost_per_job_eur") is None:
        text = (f"In Linea {line} funding changed employment at the {fmt.count(head['jobs_funded_firms'])} funded firms by "
                f"{jobs}: not above zero at the point estimate, so there is no cost per job")
        if head.get("cost_ci_low") is not None:  # the jobs interval reaches above zero
            text += f"; the interval allows costs from {fmt.eur(head['cost_ci_low'])} EUR per job upward"
        text += "."
    elif r.number(run, "cost_ci_unbounded"):  # the jobs interval reaches zero: no job is certain
        text = (f"In Linea {line} funding may have created {jobs} at the {fmt.count(head['jobs_funded_firms'])} funded firms, "
                "but the interval includes zero, so the data cannot rule out that no job was created; at the point estimate "
                f"each job cost about {fmt.eur(head['cost_per_job_eur'])} EUR of grants (95% interval "
                f"{fmt.eur(head['cost_ci_low'])} EUR to unbounded).")
    else:
        text = (f"In Linea {line} funding created {jobs} at the {fmt.count(head['jobs_funded_firms'])} funded firms; "
                f"each job cost about {fmt.eur(head['cost_per_job_eur'])} EUR of grants (95% interval "
                f"{fmt.eur(head['cost_ci_low'])} EUR to {fmt.eur(head['cost_ci_high'])} EUR).")
    if head.get("true_jobs") is not None:
        true_cost = head.get("true_cost_per_job_eur")
        text += (f" These are synthetic data with a known effect: the true figure is about {fmt.count(head['true_jobs'])} jobs"
                 + (f" and {fmt.eur(true_cost)} EUR per job" if true_cost is not None else ", so no cost per job")
                 + f", {'inside' if head.get('true_jobs_covered') else 'outside'} the jobs interval.")
    return text


def programme_match(r: Results) -> str:
    if not r.has("overview_all"):
        return ""
    return (f"The same figures recomputed from the study's data ({fmt.count(r.get('overview_all', 'figures_matching'))} "
            f"of {fmt.count(r.get('overview_all', 'figures_total'))} match):")


def main_table(r: Results) -> str:
    """The percent table of the main estimator: comparison groups x calls."""
    truth = any(r.get(f"main_{g}", f"linea_{line.lower()}.{o}.truth_pct") is not None
                for g in GROUPS for line in LINES for o in OUTCOMES)
    header = ["comparison group", "call", "turnover, %", "95% interval", "employment, %", "95% interval"]
    if truth:
        header.append("true turnover / employment, %")
    rows = []
    for group, label in GROUPS.items():
        run = f"main_{group}"
        for line in lines_in_data(r):
            cells = [label, f"Linea {line}"]
            reason = None
            for o in OUTCOMES:
                entry = r.get(run, f"linea_{line.lower()}.{o}")
                if entry and "pct" in entry:
                    cells += [fmt.number(entry["pct"], "percent"),
                              f"{fmt.number(entry['ci_low_pct'], 'percent')} to {fmt.number(entry['ci_high_pct'], 'percent')}"]
                else:
                    reason = (entry or {}).get("not_estimable") or r.number(run, "not_estimable_lines", {}).get(line) or r.why_not(run, "estimates")
                    cells += ["not estimable", ""]
            if truth:
                values = [r.get(run, f"linea_{line.lower()}.{o}.truth_pct") for o in OUTCOMES]
                cells.append(" / ".join(fmt.number(v, "percent") for v in values))
            rows.append((cells, reason))
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(":---" if i < 2 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells, _ in rows]
    notes = sorted({f"{cells[0]}, {cells[1]}: {reason}" for cells, reason in rows if reason})
    text = "\n".join(lines) + "\n\n: Main results: effect of funding on turnover and employment (percent, Callaway-Sant'Anna doubly robust), by comparison group and call {#tbl-main-results}\n"
    if notes:
        text += "\nNot estimable with these data: " + "; ".join(notes) + "\n"
    caveats = pretrend_caveats(r)
    if caveats:
        text += "\n" + caveats + "\n"
    return text


def line_differences(r: Results) -> str:
    parts = []
    for group, label in GROUPS.items():
        diff = r.get(f"main_{group}", "difference_p")
        if diff:
            parts.append(f"against {label} " + " and ".join(f"{fmt.number(p, 'p')} ({OUTCOMES[o]})" for o, p in diff.items() if o in OUTCOMES))
    if not parts:
        return not_estimable("The difference between the calls", r.why_not("main_unsuccessful", "line_difference"))
    return "The p-values of the test of equal effects are " + "; ".join(parts) + "."


def cost_effectiveness(r: Results) -> str:
    parts = []
    for line in lines_in_data(r):
        run = _line_run("heterogeneity", line)
        per_100k = r.get(run, "per_100k_turnover_pct")
        if per_100k is not None:
            parts.append(f"Each extra 100,000 EUR of grant is associated with a change in turnover of {pct(per_100k)} in Linea {line} "
                          "(a dose-response line through zero; it compares firms with larger and smaller grants, which differ in other ways too).")
        elif r.has(run):
            parts.append(not_estimable(f"The effect per 100,000 EUR in Linea {line}", r.why_not(run, "intensity")))
        if r.has(run):
            parts.append(cost_sentence(r, line))
    return " ".join(parts)


POLE_OUTCOMES = {"turnover": "turnover", "employees": "employment"}
"""Headline keys (``wild_p_<key>``, ``firm_p_<key>``) of the pole-clustered inference, and their words."""


def pole_clustering(r: Results) -> str:
    parts = []
    for line, run in line_runs(r, "heterogeneity"):
        poles = r.get(run, "n_poles")
        shown = [(word, r.get(run, f"firm_p_{key}"), r.get(run, f"wild_p_{key}")) for key, word in POLE_OUTCOMES.items()]
        shown = [(word, firm_p, wild_p) for word, firm_p, wild_p in shown if wild_p is not None]
        if not shown:
            parts.append(not_estimable(f"Clustering by pole in Linea {line}", r.why_not(run, "pole_clustering")))
            continue
        for word, firm_p, wild_p in shown:
            verdict = ("the two agree on significance at 5%" if (firm_p < 0.05) == (wild_p < 0.05)
                       else "significance at 5% depends on the clustering")
            parts.append(f"For the {word} effect in Linea {line} the firm-clustered p-value is {fmt.number(firm_p, 'p')} and the "
                         f"wild bootstrap by pole ({fmt.count(poles)} poles) gives {fmt.number(wild_p, 'p')}: {verdict}.")
    return ("With few poles, p-values clustered by pole need the wild cluster bootstrap. " + " ".join(parts)) if parts else ""


_outcome_word = labels.outcome
p_value = fmt.p_value


def robustness_outcomes(r: Results, run: str) -> dict[str, dict]:
    """Per outcome the numbers a robustness run reports: headline ``outcomes.<outcome>``
    (``pretest_p``, ``event_study_p``, ``breakdown_rm``, ``breakdown_sd``) merged with
    numbers ``by_outcome.<outcome>`` (``reject``, ``significant_leads``,
    ``breakdown_status``). Results written before the outcome dimension existed give
    turnover from the keys ``pretest_p``, ``breakdown_*`` and ``breakdown_status``."""
    head = r.get(run, "outcomes")
    if head is None:
        legacy = {k: r.get(run, k) for k in ("pretest_p", "breakdown_rm", "breakdown_sd")}
        status = r.number(run, "breakdown_status", {})
        if legacy["pretest_p"] is None and not status:
            return {}
        return {"turnover_eur": {**{k: v for k, v in legacy.items() if v is not None}, "breakdown_status": status}}
    extra = r.number(run, "by_outcome", {})
    order = [*OUTCOMES, *sorted(set(head) - set(OUTCOMES))]  # turnover, employment, then any other
    return {o: {**head[o], **extra.get(o, {})} for o in order if o in head}


def pretrend_rejected(entry: dict, alpha: float = 0.05) -> bool | None:
    """Whether parallel pre-trends are rejected for one outcome: the notebook's ``reject``
    (either joint test has p < ``alpha``) or, without it, the rounded p-values; None when
    no pre-test was estimated."""
    if "reject" in entry:
        return bool(entry["reject"])
    ps = [entry[k] for k in ("pretest_p", "event_study_p") if entry.get(k) is not None]
    return None if not ps else min(ps) < alpha


def pretrend_caveat(r: Results, line: str, outcome: str) -> str:
    """The warning to set beside an estimate whose pre-trend test failed, by rule
    (:func:`pretrend_rejected`); "" when the test passed or was not estimated."""
    entry = robustness_outcomes(r, _line_run("robustness", line)).get(outcome)
    if not entry or not pretrend_rejected(entry):
        return ""
    word = _outcome_word(outcome)
    tests = [f"{name} {p_value(entry[k])}" for k, name in (("pretest_p", "R `did`'s pre-test"), ("event_study_p", "event-study F test"))
             if entry.get(k) is not None]
    return (f"The pre-trend test against unsuccessful applicants rejects parallel trends for {word} in Linea {line} "
            f"({', '.join(tests)}): the {word} estimate should not be read as causal without the HonestDiD bounds.")


def pretrend_caveats(r: Results) -> str:
    """Every :func:`pretrend_caveat` of the calls in the data, for the places that quote the estimates."""
    return " ".join(c for c in (pretrend_caveat(r, line, o) for line in lines_in_data(r) for o in OUTCOMES) if c)


def _leads(entry: dict) -> str:
    leads = entry.get("significant_leads") or []
    if not leads:
        return ""
    return ("; event-study leads significant at 5%: "
            + ", ".join(f"e = {fmt.number(lead['e'])} ({fmt.estimate(lead['estimate'])} log points, {p_value(lead['p'])})" for lead in leads))


def robustness(r: Results) -> str:
    """Per call and outcome the pre-trend verdict by rule (:func:`pretrend_rejected`),
    with the tests' p-values and the leads significant one by one; a failed test gets
    the warning of :func:`pretrend_caveat`."""
    parts = []
    for line, run in line_runs(r, "robustness"):
        entries = robustness_outcomes(r, run)
        if not entries:
            parts.append(not_estimable(f"The pre-trend tests in Linea {line}", r.why_not(run, "pretrend")))
            continue
        sentences = []
        for outcome, entry in entries.items():
            word = _outcome_word(outcome)
            rejected = pretrend_rejected(entry)
            if rejected is None:
                reason = r.number(run, "outcome_not_estimable", {}).get("pretrend", {}).get(outcome) or r.why_not(run, "pretrend")
                sentences.append(not_estimable(f"The pre-trend test for {word} in Linea {line}", reason))
                continue
            tests = [f"{name} {p_value(entry[k])}" for k, name in (("pretest_p", "R `did`'s pre-test"), ("event_study_p", "the event-study F test"))
                     if entry.get(k) is not None]
            if rejected:
                sentences.append(f"In Linea {line} the pre-trend test rejects parallel trends for {word} ({', '.join(tests)}"
                                 f"{_leads(entry)}): the {word} estimate should not be read as causal without the HonestDiD bounds.")
            else:
                sentences.append(f"In Linea {line}, for {word}, {' and '.join(tests)}: neither rejects parallel pre-trends "
                                 f"at 5%{_leads(entry)}.")
        for outcome, reason in r.number(run, "outcome_not_estimable", {}).get("pretrend", {}).items():
            if outcome not in entries:
                sentences.append(not_estimable(f"The pre-trend test for {_outcome_word(outcome)} in Linea {line}", reason))
        parts.append(" ".join(sentences))
    if not parts:
        return ""
    return ("How far can the main numbers be trusted? The pre-trend tests compare funded firms with unsuccessful "
            "applicants before the start; a test that rejects says the two groups were already drifting apart before any grant. " + " ".join(parts))


def sensitivity(r: Results) -> str:
    """Per call and outcome the HonestDiD breakdown values (status by rule: a value, not
    significant even at 0, beyond the range searched); where the pre-trend test failed,
    what the robust intervals allow one to say."""
    words = {"not_significant": "none (the effect is not significant even under exact parallel trends)",
             "beyond_range": "beyond the range searched"}
    parts = []
    for line, run in line_runs(r, "robustness"):
        entries = {o: e for o, e in robustness_outcomes(r, run).items() if e.get("breakdown_status")}
        if not entries:
            parts.append(not_estimable(f"HonestDiD in Linea {line}", r.why_not(run, "honestdid")))
            continue
        for outcome, entry in entries.items():
            status, word = entry["breakdown_status"], _outcome_word(outcome)
            values = []
            for key, symbol in (("rm", "M-bar"), ("sd", "M")):
                if key in status:
                    value = entry.get(f"breakdown_{key}")
                    values.append(f"{symbol} = {fmt.number(value)}" if status[key] == "value" else f"{symbol}: {words[status[key]]}")
            if "sd" not in status:
                values.append("M: not computed (smoothness bounds need two pre-period estimates besides the reference year)")
            text = f"In Linea {line} the breakdown values of the first post-period effect on {word} are " + ", ".join(values) + "."
            if pretrend_rejected(entry):
                rm = status.get("rm")
                if rm == "value":
                    text += (f" Its pre-trend test failed, so the {word} effect can be called significant only if the "
                             f"post-start violation of parallel trends is at most {fmt.number(entry['breakdown_rm'])} "
                             "times the largest pre-start one.")
                elif rm == "beyond_range":
                    text += (f" Its pre-trend test failed, but the {word} effect stays significant over the whole range "
                             "of violations searched.")
                else:
                    text += (f" Its pre-trend test failed and the first post-period effect on {word} is not significant even "
                             f"under exact parallel trends: these data give no robust evidence of an effect on {word}.")
            parts.append(text)
        for outcome, reason in r.number(run, "outcome_not_estimable", {}).get("honestdid", {}).items():
            if outcome not in entries:
                parts.append(not_estimable(f"HonestDiD for {_outcome_word(outcome)} in Linea {line}", reason))
    return " ".join(parts)


POWER_OUTCOMES_CS = {"twfe": "the two-way fixed-effects event study", "cs": "the Callaway-Sant'Anna event study"}


def pretrend_power(r: Results) -> str:
    """Per call and outcome, Roth's (2022) power analysis of the pre-tests (headline
    ``pretrend_power.<outcome>.<twfe|cs>`` of ``robustness_linea_*``): the yearly trend the
    "no significant lead" rule and the Wald test detect with 80% power, the bias it gives
    the mean post-period estimate; by rule, whether that bias is at least as large as the
    estimate (|bias| >= |estimate|: a trend the pre-test would often miss could explain it)."""
    parts = []
    for line, run in line_runs(r, "robustness"):
        power = r.get(run, "pretrend_power")
        if not power:
            parts.append(not_estimable(f"The power of the pre-trend tests in Linea {line}", r.why_not(run, "pretrend_power")))
            continue
        for outcome in [*(o for o in OUTCOMES if o in power), *sorted(set(power) - set(OUTCOMES))]:
            studies = power[outcome]
            for key, words in POWER_OUTCOMES_CS.items():
                e = studies.get(key)
                if not e:
                    continue
                bias, est = e["bias_mean_individual_80"], e["estimate_mean"]
                verdict = ("at least as large as the estimate itself, so a violation the pre-tests would miss one time in five "
                           "could account for all of it" if abs(bias) >= abs(est) else
                           "smaller than the estimate, so such a violation would explain only part of it")
                parts.append(
                    f"In Linea {line}, for {_outcome_word(outcome)} in {words}, the rule \"no lead significant\" detects a "
                    f"linear pre-trend of {fmt.number(e['individual_50'])} log points a year half of the time and one of "
                    f"{fmt.number(e['individual_80'])} with 80% probability (joint Wald test: {fmt.number(e['wald_50'])} and "
                    f"{fmt.number(e['wald_80'])}). The latter would shift the mean post-period estimate by "
                    f"{fmt.number(bias)} ({fmt.number(e['bias_if_passed_individual_80'])} on average in the samples that pass "
                    f"the pre-test), {verdict} ({fmt.number(est)}).")
    return " ".join(parts)


DISCONTINUITY_RUN = "discontinuity_all"
DISCONTINUITY_CALLS = {"linea_a": "Linea A", "linea_b": "Linea B", "pooled": "both calls pooled"}


def discontinuity(r: Results) -> str:
    """The jump at the funding threshold (headline ``threshold``) per call and pooled (headline of
    ``discontinuity_all``): estimate and robust interval of the change in each headline
    outcome, by rule above/below zero or including it; the window's projects; the jump
    detectable with 80% power; the continuity check of the pre-call level and the
    density test (p < 0.05: "jumps", else "no evidence"); the truth on synthetic data."""
    run = DISCONTINUITY_RUN
    if not r.has(run):
        return not_estimable("The regression discontinuity", r.why_not(run, "rd_estimates"))
    parts = [f"The threshold is {fmt.number(r.get(run, 'threshold'))} points; each window holds at least "
             f"{fmt.number(r.get(run, 'min_projects_side'))} projects on each side."]
    for key, name in DISCONTINUITY_CALLS.items():
        entry = r.get(run, key)
        if not entry:
            continue
        for outcome in OUTCOMES:
            e = entry.get(outcome)
            if not e:
                continue
            side = "above zero" if e["ci_low"] > 0 else "below zero" if e["ci_high"] < 0 else "an interval that includes zero"
            text = (f"For {name}, the jump in the change of log {OUTCOMES[outcome]} at the threshold is {fmt.number(e['estimate'])} "
                    f"log points (robust 95% interval {fmt.number(e['ci_low'])} to {fmt.number(e['ci_high'])}, {side}), from "
                    f"{fmt.count(e['projects_left'])} projects below and {fmt.count(e['projects_right'])} at or above it within "
                    f"{fmt.number(e['h'])} points ({fmt.count(e['firms_left'])} and {fmt.count(e['firms_right'])} firm applications); "
                    f"only a jump of {fmt.number(e['mde80'])} log points or more would be detected with 80% probability.")
            if "continuity_p" in e:
                text += (" The pre-call level " + ("jumps at the threshold too (" if e["continuity_p"] < 0.05 else
                         "shows no jump at the threshold (") + fmt.p_value(e["continuity_p"]) + ").")
            if "truth" in e:
                inside = e["ci_low"] <= e["truth"] <= e["ci_high"]
                text += (f" The true effect of the funded projects near the threshold is {fmt.number(e['truth'])}, "
                         + ("inside" if inside else "outside") + " the interval.")
            parts.append(text)
        if "density_p" in entry:
            parts.append(f"The density of the scores of {name} " + ("jumps at the threshold, a sign that scores may have been "
                         "pushed over it" if entry["density_p"] < 0.05 else "shows no evidence of a jump at the threshold")
                         + f" ({fmt.p_value(entry['density_p'])}).")
    for what, reason in r.number(run, "not_estimable", {}).items():
        parts.append(not_estimable(what, reason))
    if len(parts) == 1:
        return not_estimable("The regression discontinuity", r.why_not(run, "rd_estimates"))
    return " ".join(parts)


DOSE_RUN = "dose_response_all"
DOSE_CALLS = {"linea_a": "Linea A", "linea_b": "Linea B", "pooled": "both calls pooled"}


def _side(e: dict) -> str:
    return "above zero" if e["ci_low"] > 0 else "below zero" if e["ci_high"] < 0 else "an interval that includes zero"


def dose_response(r: Results) -> str:
    """The dose-response by grant intensity (headline of ``dose_response_all``), per call and
    pooled, per headline outcome: the overall ATT and ACRT with their 95% intervals (above or
    below zero, or including it, by rule); by rule from the ACRT's interval, whether the effect
    rises or falls with intensity on average or the average slope is not pinned down, and the
    same from the uniform band of ACRT(d) at the median intensity; on synthetic data the
    true values, inside or outside the intervals, and the share of intensities where the
    uniform band covers the true curve; what could not be estimated and why."""
    run = DOSE_RUN
    if not r.has(run):
        return not_estimable("The dose-response by grant intensity", r.why_not(run, "dose_aggregates"))
    parts = []
    for key, name in DOSE_CALLS.items():
        entry = r.get(run, key) or {}
        for outcome, label in OUTCOMES.items():
            e = entry.get(outcome)
            if not e:
                continue
            att, acrt = e["att_o"], e["acrt_o"]
            average = ("so on average the effect " + ("rises" if acrt["ci_low"] > 0 else "falls") + " with intensity"
                       if acrt["ci_low"] > 0 or acrt["ci_high"] < 0 else "so the average slope is not pinned down")
            trend = f"{average}."
            m = e.get("median")
            if m:
                local = {"low": m["acrt_band_low"], "high": m["acrt_band_high"]}
                word = ("rises" if local["low"] > 0 else "falls" if local["high"] < 0 else None)
                trend += (f" At the median intensity, {fmt.number(m['dose'])}% of pre-call turnover, the effect is "
                          f"{fmt.estimate(m['att'])} log points and its slope {fmt.estimate(m['acrt'])} per percentage point "
                          f"(uniform band {fmt.estimate(m['acrt_band_low'])} to {fmt.estimate(m['acrt_band_high'])}): "
                          + (f"the effect {word} with intensity there, a causal reading of which needs strong parallel trends."
                             if word else "these data cannot tell whether the effect changes with intensity there."))
            text = (f"For {name} ({fmt.count(e['n_treated'])} funded firms, {fmt.count(e['n_control'])} unsuccessful applicants), "
                    f"the effect on log {label} at each funded firm's own intensity averages {fmt.estimate(att['estimate'])} log points "
                    f"(95% interval {fmt.estimate(att['ci_low'])} to {fmt.estimate(att['ci_high'])}, {_side(att)}); one more percentage "
                    f"point of intensity adds on average {fmt.estimate(acrt['estimate'])} log points (95% interval "
                    f"{fmt.estimate(acrt['ci_low'])} to {fmt.estimate(acrt['ci_high'])}, {_side(acrt)}), {trend}")
            if "truth" in att and "truth" in acrt:
                inside = [("inside" if x["ci_low"] <= x["truth"] <= x["ci_high"] else "outside") for x in (att, acrt)]
                where = f"both {inside[0]}" if inside[0] == inside[1] else f"{inside[0]} and {inside[1]}"
                text += (f" The true values of the synthetic data are {fmt.estimate(att['truth'])} and "
                         f"{fmt.estimate(acrt['truth'])}, {where} the intervals")
                if "band_share_pct" in e:
                    text += f"; the uniform band covers the true curve at {fmt.percent(e['band_share_pct'])} of the intensities shown"
                text += "."
            parts.append(text)
    for what, reason in r.number(run, "not_estimable", {}).items():
        parts.append(not_estimable(what, reason))
    if not parts:
        return not_estimable("The dose-response by grant intensity", r.why_not(run, "dose_aggregates"))
    return "\n\n".join(parts)  # one paragraph per call and outcome


def observatory(r: Results) -> str:
    """How many of the Observatory's points the data can answer, the verdicts' counts (set
    by rule in ``evaluation.study.observatory``), and the sources' two dates of the poles' creation."""
    run = "observatory_all"
    if not r.has(run):
        return ""
    text = (f"{fmt.count(r.get(run, 'testable'))} of its {fmt.count(r.get(run, 'points'))} points could be confronted "
            f"with data of this kind, and {fmt.count(r.get(run, 'estimable'))} with these data; for the others the "
            "tables say which data would make them testable or why these data do not.")
    verdicts = r.get(run, "verdicts")
    if verdicts:
        said = [f"{phrase} {fmt.count(verdicts[k])}" for k, phrase in
                (("supports", "supports"), ("contradicts", "contradicts"), ("inconclusive", "is inconclusive on")) if k in verdicts]
        text += (" Each point's verdict is set by a rule written beside its evidence and read against the point as "
                 "stated (for a weakness, \"supports\" means the evidence agrees it is a weakness): of the "
                 f"{fmt.count(r.get(run, 'points'))} points, the evidence " + ", ".join(said[:-1]) + " and " + said[-1]
                 + f"; {fmt.count(verdicts.get('not_testable', 0))} are not testable with these data.")
    created = r.number(run, "poles_created")  # years, in numbers: a headline int would print as 2,008
    if created and len(set(created.values())) > 1:
        text += (f" The two sources date the poles' creation differently: {created['seed_000']} in the Observatory's "
                 f"presentation (seed 000: \"Nel {created['seed_000']} il Piemonte crea 12 poli di innovazione\") and "
                 f"{created['seed_001']} in the Region's report (seed 001: \"Nel {created['seed_001']}, tramite i fondi del "
                 "POR FESR 2007/2013, il Piemonte attiva 12 Poli\"); the figures below follow the Region.")
    return text


def pilots(r: Results) -> str:
    run = "observatory_all"
    if not r.has(run):
        return ""
    head = r.get(run)
    if head.get("accelerator_mde_pct") is None:
        return not_estimable("The power analysis", r.why_not(run, "pilot_plan"))

    def needed(key: str) -> str:
        return "more than 10,000" if head.get(key) is None else fmt.count(head[key])

    return (f"For the economic-performance indicator, an evaluation that compares participants with four comparison "
            f"firms each, controlling for pre-call turnover (ANCOVA), would detect a turnover effect of "
            f"{pct(head['accelerator_mde_pct'])} (accelerator) or {pct(head['meet_corporates_mde_pct'])} "
            f"(\"meet the corporates\") with three calls of {fmt.count(head['participants_per_call'])} participants; "
            f"detecting {pct(head['target_percent'])} needs about {needed('accelerator_needed')} and "
            f"{needed('meet_corporates_needed')} participants per call.")


MONTECARLO_FILE = "montecarlo/study_validation.json"
"""The Monte Carlo of the study's specifications, under ``reports/``: a copy as data of
``tests/study/montecarlo/RESULTS_study.md``, written by ``study_validation.py``."""
NOMINAL = 0.95
"""Nominal coverage of the report's intervals."""


def read_montecarlo(path: Path) -> dict | None:
    """The recorded Monte Carlo (``source``, ``command``, ``rows``), or None without the file."""
    import json

    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def binomial_range(n: int, p: float = NOMINAL, level: float = 0.95) -> tuple[int, int]:
    """Central range ``[lo, hi]`` of X ~ Binomial(n, p): ``P(X < lo) <= (1 - level)/2``
    and ``P(X > hi) <= (1 - level)/2``, each the tightest such bound."""
    pmf = [math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(n + 1)]
    tail = (1 - level) / 2
    lo = next(k for k in range(n + 1) if sum(pmf[:k + 1]) > tail)
    hi = next(k for k in range(n, -1, -1) if sum(pmf[k:]) > tail)
    return lo, hi


def _below(n: int, p: float = NOMINAL) -> float:
    """P(X < lo) for X ~ Binomial(n, p), lo the lower end of :func:`binomial_range`."""
    lo, _ = binomial_range(n, p)
    return sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(lo))


def _spec(row: dict) -> str:
    return (f"Linea {row['line']}, {labels.estimator(row['estimator'])} against "
            f"{labels.group(row['group'])}, {_outcome_word(row['outcome'])}")


def _coverage_pct(share: float) -> str:
    return pct(100 * share)


def montecarlo_table(r: Results) -> str:
    """The recorded Monte Carlo as a table: bias and RMSE in log points, coverage of the 95% interval in percent."""
    mc = r.montecarlo
    if not mc:
        return "The Monte Carlo record (`reports/" + MONTECARLO_FILE + "`) is not part of this report's sources."
    header = "| call | comparison group | estimator | outcome | unit | draws | mean truth | bias | RMSE | mean se | coverage, % |"
    lines = [header, "|:---|:---|:---|:---|:---|---:|---:|---:|---:|---:|---:|"]
    for row in mc["rows"]:
        lines.append(f"| Linea {row['line']} | {labels.group(row['group'])} | "
                     f"{labels.estimator(row['estimator'], short=True)} | {_outcome_word(row['outcome'])} | "
                     f"{row.get('unit', 'log points')} | {fmt.count(row['draws'])} | "
                     + " | ".join(fmt.estimate(row[k]) for k in ("mean_truth", "bias", "rmse", "mean_se"))
                     + f" | {fmt.number(100 * row['coverage'], 'percent')} |")
    return (f"@tbl-montecarlo gives the bias, RMSE and coverage of each of the {fmt.count(len(mc['rows']))} specifications "
            "over draws of the synthetic data.\n\n"
            + "\n".join(lines) + f"\n\n: Monte Carlo of every specification over draws of the synthetic data "
            f"(`{mc['command']}`, recorded in `{mc['source']}`): bias, RMSE and mean standard error in the row's unit "
            "against each draw's own truth; coverage of the 95% interval {#tbl-montecarlo}\n")


def validation(r: Results) -> str:
    """Coverage of the truth in this draw, judged by rule against the binomial range of
    ``n`` intervals each covering with probability ``NOMINAL``; the estimates that miss;
    the Monte Carlo's specifications whose coverage over its draws falls outside the
    binomial range of its draw count."""
    mc_rows = {(m["line"], m["group"], m["estimator"], m["outcome"]): m for m in (r.montecarlo or {}).get("rows", [])}
    counts = [(g, label, r.get(f"main_{g}", "covered"), r.get(f"main_{g}", "estimates")) for g, label in GROUPS.items()]
    known = [(g, label, c, n) for g, label, c, n in counts if c is not None and n]
    if not known:
        text = ("These data carry no known true effect (`truth.csv`), so the estimates cannot be checked against it "
                "here. The estimators are validated against R and against simulated truths in the test suite "
                "(`tests/`, `tests/methods/montecarlo/`), and the study's specifications over draws of the synthetic "
                "data in the Monte Carlo below.")
    else:
        parts = []
        for group, label, covered, n in known:
            lo, hi = binomial_range(n)
            verdict = ("within" if lo <= covered <= hi else "below" if covered < lo else "above")
            part = (f"Against {label} the 95% intervals contain the truth in {fmt.count(covered)} of {fmt.count(n)} "
                    f"estimates ({_coverage_pct(covered / n)}): {verdict} "
                    f"the range {lo} to {hi} that 95% of draws would give if each interval covered with probability "
                    f"{fmt.number(NOMINAL)} independently (binomial)")
            missed = [e for e in r.number(f"main_{group}", "estimates", []) if e.get("covered") == 0]
            if missed:
                names = []
                for e in missed:
                    mc = mc_rows.get((e["line"], e["group"], e["estimator"], e["outcome"]))
                    names.append(_spec(e) + ("" if mc is None else f" (Monte Carlo coverage {_coverage_pct(mc['coverage'])})"))
                part += "; the intervals that miss: " + "; ".join(names)
            parts.append(part)
        text = ("On synthetic data with `truth.csv` the true effect of every funded firm in every year is known, so each "
                "estimate above can be set beside the average true effect over the same funded firm-years (the `truth` "
                f"columns). Nominal coverage is {_coverage_pct(NOMINAL)}. "
                + ". ".join(parts) + ". The estimates of one draw share its data and are not independent, so the "
                "binomial range is a guide; coverage is judged over many draws, below.")
    mc = r.montecarlo
    if not mc:
        return text + " The Monte Carlo record is not part of this report's sources."
    rows = mc["rows"]
    low = []
    for row in rows:
        lo, _ = binomial_range(int(row["draws"]))
        if round(row["coverage"] * row["draws"]) < lo:
            low.append(f"{_spec(row)} ({_coverage_pct(row['coverage'])})")
    draws = sorted({int(row["draws"]) for row in rows})
    ranges = ", ".join(f"{binomial_range(d)[0]} of {d} draws" for d in draws)
    text += (f"\n\nThe Monte Carlo (`{mc['command']}`) estimates all {len(rows)} specifications on each of its draws. "
             f"A specification whose interval covers with probability {fmt.number(NOMINAL)} covers at least {ranges} "
             f"in 97.5% of such experiments or more, so about {fmt.number(round(len(rows) * _below(draws[0]), 1))} of "
             f"{len(rows)} specifications would fall short by chance alone; ")
    if low:
        text += (f"{len(low)} of {len(rows)} specifications fall short of that, so their intervals are too narrow or "
                 "their estimates biased for these designs: " + "; ".join(low) + ".")
    else:
        text += f"none of the {len(rows)} specifications falls short of that."
    return text


def _rd_interval(entry: dict, unit: str) -> str:
    key = "pp" if unit == "pp" else "pct"
    show = fmt.points if unit == "pp" else pct
    return (f"{show(entry[key])} (95% interval {show(entry[f'ci_low_{key}'])} to {show(entry[f'ci_high_{key}'])}, "
            f"{significance({'ci_low_pct': entry[f'ci_low_{key}'], 'ci_high_pct': entry[f'ci_high_{key}']})})")


def rd_sentence(r: Results, group: str, line: str) -> str:
    """R&D in one call against one comparison group, by rule: the share of firms doing R&D
    (zero by construction when no firm starts or stops R&D), the proportional effect in levels
    with the zeros, and the log estimate named as the sub-sample of positive R&D it is, with
    the firms it keeps against the firms of the group."""
    run = f"main_{group}"
    head = r.get(run, f"rd.linea_{line.lower()}")
    if not head:
        return not_estimable(f"R&D in Linea {line} against {GROUPS[group]}", r.why_not(run, "rd_effects"))
    n_t, n_c = head["group_treated"], head["group_control"]
    text = [f"In Linea {line} against {GROUPS[group]} ({fmt.count(n_t)} funded and {fmt.count(n_c)} comparison firms report R&D, zero or positive)"]
    ext = head["extensive"]
    if head.get("switchers") == 0:
        text.append("no firm starts or stops doing R&D in these years, so the share of firms doing R&D cannot differ "
                    "between the groups and the effect on it is zero by construction")
    elif "pp" in ext and ext.get("ci_low_pp") is not None:
        text.append(f"the share of firms doing R&D changes by {_rd_interval(ext, 'pp')} "
                    f"({fmt.count(head['switchers'])} firms start or stop R&D)")
    else:
        text.append(not_estimable("the effect on the share doing R&D", ext.get("not_estimable", "")).rstrip("."))
    prop = head["proportional"]
    if "pct" in prop:
        text.append(f"R&D in levels, zeros included, changes by {_rd_interval(prop, 'pct')} (Poisson, "
                    f"{fmt.count(prop['n_treated'])} funded and {fmt.count(prop['n_control'])} comparison firms: "
                    "firms with no R&D in any year carry no information on a proportional effect)")
    else:
        text.append(not_estimable("the proportional effect on R&D in levels", prop.get("not_estimable", "")).rstrip("."))
    log = head["log_positive"]
    if "pct" in log:
        left_out = (n_t - log["n_treated"]) + (n_c - log["n_control"])
        kept = (f"it keeps {fmt.count(log['n_treated'])} of the {fmt.count(n_t)} funded and "
                f"{fmt.count(log['n_control'])} of the {fmt.count(n_c)} comparison firms")
        if left_out > 0:
            kept += f", leaving out {fmt.count(left_out)} firms without positive R&D"
        else:
            kept += ", so here the selection leaves out no firm, only firm-years without R&D if any"
        text.append(f"the log estimate, {_rd_interval(log, 'pct')}, is computed on firm-years with positive R&D only, a "
                    f"sub-sample selected on the outcome: {kept}")
    sentence = text[0] + " " + "; ".join(text[1:]) + "."
    truths = [(label, entry.get(key)) for label, entry, key in
              (("share doing R&D", ext, "truth_pp"), ("levels", prop, "truth_pct"), ("logs of positive values", log, "truth_pct"))
              if isinstance(entry, dict) and entry.get(key) is not None]
    if truths:
        sentence += (" The synthetic data's true effects over the same funded firm-years are "
                     + ", ".join(f"{fmt.points(v) if label == 'share doing R&D' else pct(v)} ({label})"
                                 for label, v in truths) + ".")
    return sentence


def rd_effects(r: Results) -> str:
    parts = [rd_sentence(r, group, line) for group in GROUPS if r.has(f"main_{group}") for line in lines_in_data(r)]
    return "\n\n".join(parts) if parts else not_estimable("R&D with its zeros", "this study's grid has no main-results run")


SNIPPETS: dict[str, Callable[[Results], str]] = {
    "summary_data": summary_data,
    "summary_first": summary_first,
    "summary_main": summary_main,
    "programme_match": programme_match,
    "main_table": main_table,
    "line_differences": line_differences,
    "rd_effects": rd_effects,
    "cost_effectiveness": cost_effectiveness,
    "pole_clustering": pole_clustering,
    "robustness": robustness,
    "sensitivity": sensitivity,
    "pretrend_power": pretrend_power,
    "discontinuity": discontinuity,
    "dose_response": dose_response,
    "observatory": observatory,
    "pilots": pilots,
    "validation": validation,
    "montecarlo": montecarlo_table,
}


def write_text_snippets(results: dict, out_dir: Path, montecarlo: dict | None = None) -> None:
    """Write ``<name>.md`` for every snippet of ``SNIPPETS`` into ``out_dir`` (``montecarlo``:
    :func:`read_montecarlo` of the report's sources, for the validation appendix)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    r = Results(results, montecarlo)
    for name, make in SNIPPETS.items():
        (out_dir / f"{name}.md").write_text(make(r).strip() + "\n", encoding="utf-8")
