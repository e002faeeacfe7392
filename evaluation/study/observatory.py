"""The European Cluster Observatory's assessment of Piedmont's cluster policy.

Content of seed ``000`` (``data/seeds/000_994f868af143dcef.txt``: EOCIC / CSIL
presentation), translated into English with the Italian terms kept. Each point says
whether the evaluation's data can speak to it: ``evidence`` names the finding that
answers its own question (:func:`evidence`), with a verdict set by rule (``VERDICTS``),
otherwise ``data_needed`` says why these data cannot and what data would.

Verdicts are read against the point as the Observatory states it: for a strength,
"supports" means the evidence agrees it is a strength; for a weakness, risk or
obstacle, that the evidence agrees it is a problem; for a strategy or recommendation,
that the evidence favours it.
"""

from __future__ import annotations

from dataclasses import dataclass

from evaluation.study import formats as fmt

SUPPORTS, CONTRADICTS, INCONCLUSIVE, NOT_TESTABLE_VERDICT = "supports", "contradicts", "inconclusive", "not testable"
VERDICTS = (SUPPORTS, CONTRADICTS, INCONCLUSIVE, NOT_TESTABLE_VERDICT)


@dataclass(frozen=True)
class Finding:
    """The evidence for one point: a sentence with numbers from the data, and its verdict (one of ``VERDICTS``)."""
    text: str
    verdict: str


@dataclass(frozen=True)
class Point:
    category: str
    italian: str
    english: str
    evidence: str | None = None
    data_needed: str | None = None


NOT_ESTIMABLE = "Not estimable with these data"
NOT_TESTABLE = "not testable with these data"

ASSESSMENT: tuple[Point, ...] = (
    # Punti di forza (strengths)
    Point("strength", "I clusters individuati poggiano su competenze e specializzazioni regionali esistenti",
          "The clusters rest on existing regional competences and specialisations",
          data_needed="the region's employment by sector (e.g. ISTAT's business register) to set the poles' sectors "
                      "beside the region's specialisations; the data hold the sectors of members and applicants only"),
    Point("strength", "Coinvolgimento e partecipazione di reti di soggetti pubblici e privati",
          "Networks of public and private actors (universities, technology parks, research centres, firms, SMEs) "
          "take part in designing and implementing the cluster policy",
          evidence="participation"),
    Point("strength", "Continuità del supporto politico", "Continuity of political support",
          evidence="continuity"),
    Point("strength", "Integrazione tra la strategia di specializzazione intelligente e i cluster",
          "Integration between the smart specialisation strategy (S3) and the clusters",
          data_needed="projects classified by S3 area and technology trajectory"),
    Point("strength", "Conoscenza e consapevolezza del processo di applicazione della S3",
          "Knowledge and awareness of how the S3 is implemented among the main actors of the regional ecosystem",
          data_needed="a survey of members and stakeholders"),
    # Debolezza (weaknesses)
    Point("weakness", "Collaborazione ristretta all'ambito regionale (inadeguatezza dei fondi nazionali)",
          "Collaboration confined to the region (national funds inadequate)",
          data_needed="partners' locations and extra-regional or international projects"),
    Point("weakness", "Integrazione tra i poli di innovazione e gli altri attori dell'ecosistema regionale",
          "Integration between the poles and the other actors of the regional ecosystem",
          evidence="newcomers"),
    Point("weakness", "Coordinamento di alcune attività orizzontali dei poli; standard di qualità/servizio comuni",
          "Coordination of some horizontal activities of the poles; common quality and service standards",
          data_needed="the services each pole delivers and their quality indicators; the data hold R&D projects only"),
    Point("weakness", "Ruolo dei poli focalizzato sulla ricerca collaborativa",
          "The poles' role is focused on collaborative research; other important areas of cluster policy are "
          "still little integrated in their activity",
          data_needed="services delivered by the poles beyond R&D projects (training, internationalisation, start-up support)"),
    # Opportunità (opportunities)
    Point("opportunity", "Cambiamenti tecnologici e nuovi trend (economia circolare, automazione, digitalizzazione)",
          "Technological change and new trends of national and European economic policy (circular economy, "
          "automation, digitalisation)", data_needed="projects classified by technology"),
    Point("opportunity", "Processo di revisione della strategia di specializzazione intelligente",
          "The revision of the smart specialisation strategy (better links between policy competences, a revised "
          "technology roadmap)", data_needed="the revised S3 and its mapping to poles"),
    Point("opportunity", "Realizzazione della Città della Salute", "Building the Città della Salute (health city)",
          data_needed="life-science firms' links to the new hospital and research campus"),
    Point("opportunity", "Centro di Competenza su Advanced Manufacturing",
          "The Competence Centre on Advanced Manufacturing", data_needed="firms' use of the competence centre"),
    # Rischi (risks)
    Point("risk", "Incertezza sul finanziamento dei poli ed eccessiva dipendenza dai fondi strutturali",
          "Uncertain funding of the poles and excessive dependence on intermediating structural funds",
          data_needed="the poles' own budgets by source and year; the data hold the grants paid to firms' projects, "
                      "not how the poles themselves are funded"),
    Point("risk", "Mancanza di coordinamento tra politiche regionali e nazionali (Sabatini, Centri di Competenza)",
          "Lack of coordination between regional and national policies (Nuova Sabatini, Centri di Competenza)",
          data_needed="firms' receipt of national incentives in the same years"),
    Point("risk", "Cambiamento demografico, ritardi nella formazione di profili richiesti dal mercato",
          "Demographic change; delays in training the profiles the market requires",
          data_needed="the workforce by age and qualification, and vacancies by profile; the panel counts annual work "
                      "units only, so an employment effect does not answer this point"),
    # Ostacoli (obstacles)
    Point("obstacle", "Finanziamento dell'attività dei poli di innovazione", "Funding of the poles' activity",
          data_needed="the poles' budgets and sources of revenue"),
    Point("obstacle", "Capacità dei poli di agire come integratori di sistema e catalizzatori di risorse",
          "The poles' capacity to act fully as system integrators and catalysts of resources",
          evidence="leverage"),
    Point("obstacle", "Compartimentalizzazione delle politiche (innovazione, lavoro, formazione, PMI)",
          "Compartmentalised policies (innovation, labour, training, SMEs) and experimentation with new instruments",
          data_needed="linked records of firms' participation in other regional measures"),
    # Strategie possibili (strategies)
    Point("strategy", "Rafforzamento delle capacità interne (Pilot Action: performance-based call, cluster management excellence)",
          "Poles: strengthen internal capacity (pilot action: a performance-based call, cluster management excellence)",
          data_needed="indicators of each pole's management and services (e.g. the cluster management excellence "
                      "labels) over time"),
    Point("strategy", "Azioni a sostegno delle start-up innovative",
          "Cluster-policy instruments: actions supporting innovative start-ups",
          data_needed="founding dates and the register of innovative start-ups: firms.csv records no founding year or "
                      "start-up status, so start-ups cannot be told from other small firms (a size class is not an age)"),
    Point("strategy", "Internazionalizzazione, formazione, digitalizzazione: continuazione dei percorsi in atto",
          "Internationalisation, training, digitalisation: continue the current paths",
          data_needed="export and training outcomes of funded firms"),
    # Raccomandazioni (recommendations: the key issues of the regional cluster policy)
    Point("recommendation", "Rafforzamento del ruolo dei poli di innovazione",
          "Strengthen the role of the poles: read the repositioning opportunities of the productive system in the "
          "current cycle, broaden the services to member firms, integrate with the other actors of the ecosystem, "
          "act as key actors of the S3", evidence="insiders"),
    Point("recommendation", "Rafforzamento della dinamica imprenditoriale",
          "Strengthen entrepreneurial dynamics: a wider range of instruments, with four critical areas: innovative "
          "start-ups and high-growth firms, training and skills, digitalisation, internationalisation",
          data_needed="founding dates, training, digital-adoption and export records of firms; the data hold none of "
                      "them (no founding year, so no start-ups)"),
    Point("recommendation", "Monitoraggio e valutazione",
          "Monitoring and evaluation: continue strengthening the monitoring and evaluation of regional policies, "
          "with more attention to results and impacts", evidence="this_evaluation"),
    Point("recommendation", "Business Accelerator (bando pilota)",
          "Business accelerator pilot: a call in one or two S3 sectors for (non-financial) acceleration services "
          "to innovative start-ups, by university incubators, technology parks and poles; annual calls for three "
          "years and an evaluation; services for 3-6 months", evidence="power_accelerator"),
    Point("recommendation", "Meet the corporates (bando pilota)",
          "\"Meet the corporates\" pilot: matchmaking between innovative start-ups or high-growth SMEs and large "
          "buyers, by poles, trade associations, university incubators and CeiPiemonte; annual calls for three "
          "years and an evaluation", evidence="power_meet_corporates"),
)

CATEGORIES = {
    "strength": "Punti di forza (strengths)",
    "weakness": "Punti di debolezza (weaknesses)",
    "opportunity": "Opportunità (opportunities)",
    "risk": "Rischi (risks)",
    "obstacle": "Ostacoli (obstacles)",
    "strategy": "Strategie possibili (strategies)",
    "recommendation": "Raccomandazioni dell'Osservatorio (recommendations)",
}

PILOT_INDICATORS: dict[str, tuple[str, ...]] = {
    "Business Accelerator": (
        "number of SMEs taking part in the programme",
        "economic performance of the SMEs in the following 3 years",
        "number of SMEs growing in the national or international market",
        "number of SMEs receiving funding from private investors",
    ),
    "Meet the corporates": (
        "number of meetings organised and of participating SMEs",
        "number of large buyers involved from outside the region",
        "number of supply contracts signed",
        "turnover and exports of the SMEs involved in the following 3 years",
    ),
}
"""The result indicators the Observatory proposes for its two pilots (seed 000)."""


ALPHA = 0.05
"""Significance level of the rules: an interval "above zero" is a 95% interval excluding zero."""
LEVERAGE_MARGIN = 0.10
"""Private co-investment per EUR of grant counts as beyond what the grant rules require
when it exceeds the rules' minimum, ``(1 - GRANT_CAP_SHARE) / GRANT_CAP_SHARE``, by more
than this share."""


def not_testable(reason: str) -> Finding:
    return Finding(f"{NOT_ESTIMABLE}: {reason.strip()}", NOT_TESTABLE_VERDICT)


def effect_verdict(intervals: list[tuple[float, float]]) -> str:
    """The verdict of a set of 95% intervals on a claimed benefit: "supports" when one
    lies above zero and none below, "contradicts" when one lies below zero and none above,
    otherwise (all include zero, or they disagree) "inconclusive"."""
    above = any(lo > 0 for lo, _ in intervals)
    below = any(hi < 0 for _, hi in intervals)
    if above and not below:
        return SUPPORTS
    if below and not above:
        return CONTRADICTS
    return INCONCLUSIVE


def pilot_findings(plan, target_percent: float, participants_per_call: int, problem: str | None = None) -> dict[str, Finding]:
    """The two pilots' evidence from the power plan (:func:`evaluation.study.pilots.pilot_plan`,
    rows accelerator then meet-the-corporates): "supports" when three annual calls of
    ``participants_per_call`` detect ``target_percent`` (MDE <= target: the recommended
    evaluation can find such an effect), "inconclusive" otherwise (it needs more
    participants, named); not testable without a plan (``problem``)."""
    keys = ("power_accelerator", "power_meet_corporates")
    if plan is None:
        return {key: not_testable(problem or "no power plan") for key in keys}
    found = {}
    for key, row in zip(keys, plan.itertuples()):
        text = (f"With three annual calls of {participants_per_call} participants the minimum detectable turnover effect "
                f"is {fmt.percent(row.mde_percent)}; ")
        needed = row.needed_per_call
        if needed is None or needed != needed:  # None or NaN: no size up to the search's limit is enough
            text += f"no number of participants up to 10,000 per call detects {target_percent:g}%."
        else:
            text += f"{fmt.count(int(needed))} participants per call detect {target_percent:g}%."
        found[key] = Finding(text, SUPPORTS if row.mde_percent <= target_percent else INCONCLUSIVE)
    return found


def evidence(data, truth, seed: int, power: dict[str, Finding]) -> dict[str, Finding]:
    """The evidence for each ``Point.evidence`` key: a sentence with numbers computed from
    the data (effects: Callaway-Sant'Anna doubly robust against unsuccessful applicants,
    as in the main results) and a verdict by rule. ``power`` holds the two pilots'
    findings (:func:`pilot_findings`). Evidence these data cannot give is "not testable"
    and reads "Not estimable with these data: <reason>".

    Rules: ``participation`` supports when the members include research organisations or
    other non-enterprise bodies and enterprises, contradicts when only one of the two;
    ``continuity`` (published facts, seeds 000 and 001) supports when the poles were funded
    in two programming periods or more; ``newcomers`` is inconclusive (the contract keeps
    a Linea B firm outside the poles, so whether it joined one later is not recorded);
    ``leverage`` contradicts the obstacle when private co-investment per EUR of grant
    exceeds the rules' minimum by more than ``LEVERAGE_MARGIN`` in every call, else
    supports it; ``insiders`` by :func:`effect_verdict` on Linea A's turnover and
    employment effects, an outcome whose pre-trend test rejects at ``ALPHA`` counting as
    inconclusive; ``this_evaluation`` supports the recommendation when fewer than half of
    the points are testable with these data."""
    from evaluation.data import programme
    from evaluation.methods.errors import DesignError
    from evaluation.methods.results import percent
    from evaluation.study import impact, labels, robustness
    from evaluation.study.comparison import comparison_sample
    from evaluation.study.design import lines_in, no_line_reason

    firms, apps = data.firms, data.applications
    members = firms[firms["pole"] != "none"]
    funded = apps[apps["funded"]]
    present = lines_in(data)

    def participation() -> Finding:
        if members.empty:
            raise DesignError("firms.csv lists no pole member.")
        types = members["firm_type"].value_counts()
        enterprises = int(types.get("SME", 0) + types.get("large", 0))
        others = int(len(members) - enterprises)
        applicants = apps.loc[apps["line"] == "A", "firm_id"].nunique()
        names = {"SME": "SMEs", "large": "large firms", "research_org": "research organisations", "other": "other organisations"}
        text = (f"The {len(members):,} pole members are " + ", ".join(f"{n:,} {names.get(t, t)}" for t, n in types.items())
                + f"; {applicants:,} of them ({applicants / len(members):.0%}) applied to Linea A. The data say who "
                "is a member, not who took part in designing the policy.")
        return Finding(text, SUPPORTS if enterprises and others else CONTRADICTS)

    def continuity() -> Finding:
        periods = programme.PROGRAMMING_PERIODS_FUNDING_POLES
        created = programme.POLES_CREATED
        text = (f"Published facts, not these data: the poles were created in {created['000']} (seed 000) or "
                f"{created['001']} (seed 001; the two sources differ by a year) with POR FESR 2007-2013 funds, "
                f"reorganised and refinanced in {programme.POLES_RELAUNCHED}: funded in {len(periods)} programming periods "
                f"({' and '.join(periods)}).")
        return Finding(text, SUPPORTS if len(periods) >= 2 else INCONCLUSIVE)

    def newcomers() -> Finding:
        if "B" not in present:
            raise DesignError(no_line_reason("B"))
        b = apps[apps["line"] == "B"]
        text = (f"Linea B reached {b['firm_id'].nunique():,} firms from outside the poles "
                f"({b.loc[b['funded'], 'firm_id'].nunique():,} funded), beside {apps.loc[apps['line'] == 'A', 'firm_id'].nunique():,} "
                "member firms in Linea A; whether the newcomers joined a pole or kept working with members afterwards is "
                "not recorded (the data keep a Linea B firm outside the poles).")
        return Finding(text, INCONCLUSIVE)

    def leverage() -> Finding:
        minimum = (1 - programme.GRANT_CAP_SHARE) / programme.GRANT_CAP_SHARE
        ratios = {}
        for line in present:
            rows = funded[funded["line"] == line]
            if rows["grant_eur"].sum() > 0:
                ratios[line] = (rows["investment_eur"].sum() - rows["grant_eur"].sum()) / rows["grant_eur"].sum()
        if not ratios:
            raise DesignError("no grant was paid, so there is no co-investment to measure.")
        beyond = all(v > minimum * (1 + LEVERAGE_MARGIN) for v in ratios.values())
        text = ("Private co-investment per EUR of grant: " + ", ".join(f"{v:.2f} EUR (Linea {k})" for k, v in ratios.items())
                + f", against the {minimum:.2f} EUR the {programme.GRANT_CAP_SHARE:.0%} grant cap requires at least: "
                + ("funded projects drew private resources beyond the rules' minimum" if beyond
                   else "co-investment is about what the rules require, no sign of resources drawn beyond them")
                + " (co-investment measures the projects' resources, not how much of them the poles drew in).")
        return Finding(text, CONTRADICTS if beyond else SUPPORTS)

    def insiders() -> Finding:
        if "A" not in present:
            raise DesignError(no_line_reason("A"))
        outcomes = ["turnover_eur", "employees"]
        sample = comparison_sample(data, "A", "unsuccessful")
        rows, _ = impact.estimate_line(sample, "A", "unsuccessful", outcomes, ["cs_dr"], truth, seed)
        found = {e.outcome: e for e in rows if e.estimated}
        if not found:
            raise DesignError("Linea A: " + " ".join(e.note for e in rows))
        parts, intervals = [], []
        for outcome, e in found.items():
            part = (f"{labels.outcome(outcome)} {fmt.percent(percent(e.att))} (95% CI "
                    f"{fmt.number(percent(e.ci_low), 'percent')} to {fmt.number(percent(e.ci_high), 'percent')})")
            try:
                tests = robustness.pretrend_tests(sample, outcome)
                p = float(tests.loc[tests["test"].isin(["att_gt pre-test", "event study F"]), "p"].min())
            except DesignError:
                p = None
            if p is not None and p < ALPHA:
                part += f", but its pre-trend test rejects parallel trends ({fmt.p_value(p)}), so it is not counted"
            else:
                intervals.append((e.ci_low, e.ci_high))
            parts.append(part)
        text = "Effect of funding on pole members (Linea A): " + "; ".join(parts) + "."
        return Finding(text, effect_verdict(intervals) if intervals else INCONCLUSIVE)

    items = {"participation": participation, "continuity": continuity, "newcomers": newcomers,
             "leverage": leverage, "insiders": insiders}
    found: dict[str, Finding] = {}
    for key, make in items.items():
        try:
            found[key] = make()
        except DesignError as err:
            found[key] = not_testable(str(err))
    found.update(power)
    testable = sum(p.evidence is not None and p.evidence != "this_evaluation" and found[p.evidence].verdict != NOT_TESTABLE_VERDICT
                   for p in ASSESSMENT)
    found["this_evaluation"] = Finding(
        f"This evaluation could confront {testable + 1} of the Observatory's {len(ASSESSMENT)} points with evidence (this "
        "one included); the others need data that monitoring does not collect today (see each point).",
        SUPPORTS if testable + 1 < len(ASSESSMENT) / 2 else INCONCLUSIVE)
    return found


def assessment_table(category: str, found: dict[str, Finding]):
    """One table of the assessment: Italian point, English point, the evidence (or
    why these data cannot test it and what data would), and the verdict."""
    import pandas as pd

    rows = []
    for p in ASSESSMENT:
        if p.category != category:
            continue
        finding = found[p.evidence] if p.evidence else Finding(f"{NOT_TESTABLE}; needs {p.data_needed}", NOT_TESTABLE_VERDICT)
        rows.append({"punto (italiano)": p.italian, "point": p.english, "evidence": finding.text, "verdict": finding.verdict})
    return pd.DataFrame(rows)


def verdict_counts(found: dict[str, Finding]) -> dict[str, int]:
    """Points per verdict, every verdict of ``VERDICTS`` present (0 if none)."""
    counts = dict.fromkeys(VERDICTS, 0)
    for p in ASSESSMENT:
        counts[found[p.evidence].verdict if p.evidence else NOT_TESTABLE_VERDICT] += 1
    return counts
