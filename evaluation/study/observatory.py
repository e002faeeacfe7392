"""The European Cluster Observatory's assessment of Piedmont's cluster policy.

Content of seed ``000`` (``data/seeds/000_994f868af143dcef.txt``: EOCIC / CSIL
presentation), translated into English with the Italian terms kept. Each point says
whether the evaluation's data can speak to it: ``evidence`` names the study result
that does (filled in by the report from ``results.json``), otherwise
``data_needed`` says what data would make it testable.
"""

from __future__ import annotations

from dataclasses import dataclass


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
          evidence="members_by_pole"),
    Point("strength", "Coinvolgimento e partecipazione di reti di soggetti pubblici e privati",
          "Networks of public and private actors (universities, technology parks, research centres, firms, SMEs) "
          "take part in designing and implementing the cluster policy",
          evidence="participation"),
    Point("strength", "Continuità del supporto politico", "Continuity of political support",
          data_needed="the policy history: calls, budgets and rules per programming period"),
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
          evidence="pole_concentration"),
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
          evidence="cost_effectiveness"),
    Point("risk", "Mancanza di coordinamento tra politiche regionali e nazionali (Sabatini, Centri di Competenza)",
          "Lack of coordination between regional and national policies (Nuova Sabatini, Centri di Competenza)",
          data_needed="firms' receipt of national incentives in the same years"),
    Point("risk", "Cambiamento demografico, ritardi nella formazione di profili richiesti dal mercato",
          "Demographic change; delays in training the profiles the market requires",
          evidence="employment"),
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
          evidence="pole_concentration"),
    Point("strategy", "Azioni a sostegno delle start-up innovative",
          "Cluster-policy instruments: actions supporting innovative start-ups", evidence="size_heterogeneity"),
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
          evidence="size_heterogeneity"),
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


def evidence(data, truth, seed: int, power_note: dict[str, str]) -> dict[str, str]:
    """The study's evidence for each ``Point.evidence`` key, as short sentences with
    numbers computed from the data (Callaway-Sant'Anna doubly robust against
    unsuccessful applicants for effects, as in the main results). ``power_note`` holds
    the two pilots' power-analysis sentences (from ``evaluation.methods.power``). A piece of
    evidence these data cannot give reads "Not estimable with these data: <reason>"."""
    import math

    from evaluation.methods.errors import DesignError
    from evaluation.methods.results import percent
    from evaluation.study import impact
    from evaluation.study.comparison import comparison_sample
    from evaluation.study.design import lines_in, no_line_reason

    firms, apps = data.firms, data.applications
    members = firms[firms["pole"] != "none"]
    by_pole = members["pole"].value_counts()
    funded = apps[apps["funded"]]
    grants_by_pole = funded.groupby("pole")["grant_eur"].sum().sort_values(ascending=False)
    present = lines_in(data)

    def line_estimates(line: str) -> dict:
        if line not in present:
            raise DesignError(no_line_reason(line))
        rows, _ = impact.estimate_line(data, line, "unsuccessful", ["turnover_eur", "employees"], ["cs_dr"], truth, seed)
        found = {e.outcome: e for e in rows}
        for e in found.values():
            if not e.estimated:
                raise DesignError(f"Linea {line}: {e.note}")
        return found

    def pct(e: impact.Estimate) -> str:
        return f"{percent(e.att):.1f}% (95% CI {percent(e.ci_low):.1f} to {percent(e.ci_high):.1f})"

    def leverage(line: str) -> str:
        rows = funded[funded["line"] == line]
        if rows["grant_eur"].sum() <= 0:
            return f"no grants in Linea {line}"
        return f"{(rows['investment_eur'].sum() - rows['grant_eur'].sum()) / rows['grant_eur'].sum():.2f} EUR (Linea {line})"

    def members_by_pole() -> str:
        if by_pole.empty:
            raise DesignError("firms.csv lists no pole member.")
        if len(by_pole) == 1:
            return f"All {by_pole.iloc[0]:,} members in the data belong to one pole ({by_pole.index[0]})."
        top = min(3, len(by_pole))
        return (f"Members per pole range from {by_pole.min():,} ({by_pole.idxmin()}) to {by_pole.max():,} "
                f"({by_pole.idxmax()}); the {top} largest pole(s) hold {by_pole.nlargest(top).sum() / by_pole.sum():.0%} of members.")

    def participation() -> str:
        applicants_a = apps.loc[apps["line"] == "A", "firm_id"].nunique()
        first = (f"{applicants_a:,} of {len(members):,} pole members ({applicants_a / len(members):.0%}) applied to Linea A"
                 if len(members) else "The data hold no pole member")
        return f"{first}; {apps.loc[apps['line'] == 'B', 'firm_id'].nunique():,} firms new to the poles applied to Linea B."

    def newcomers() -> str:
        diff = impact.line_difference(line_estimates("B")["turnover_eur"], line_estimates("A")["turnover_eur"])
        return (f"Turnover effect for newcomers (Linea B) minus insiders (Linea A): {diff['difference']:.3f} log points "
                f"(95% CI {diff['ci_low']:.3f} to {diff['ci_high']:.3f}, p = {diff['p']:.2f}).")

    def pole_concentration() -> str:
        if grants_by_pole.empty:
            raise DesignError("no project was funded.")
        text = (f"The largest pole by grants ({grants_by_pole.index[0]}) received "
                f"{grants_by_pole.iloc[0] / grants_by_pole.sum():.0%} of all grants")
        poles = impact.heterogeneity(comparison_sample(data, "A", "unsuccessful"), "turnover_eur", "pole", truth).dropna(subset=["att"])
        if len(poles) >= 2:
            text += (f"; Linea A turnover effects by pole range from {poles['att'].min():.3f} to {poles['att'].max():.3f} "
                     f"log points over {len(poles)} poles with at least {impact.MIN_SUBGROUP_FIRMS} funded firms")
        return text + "."

    def cost_effectiveness() -> str:
        parts = []
        for line in present:
            cost = impact.cost_per_job(comparison_sample(data, line, "unsuccessful"), data, line)
            if not math.isfinite(cost["cost_per_job_eur"]):
                parts.append(f"not defined in Linea {line}: its employment effect is not above zero, so no job was created")
            else:
                upper = "unbounded, the employment interval including zero" if math.isinf(cost["ci_high"]) else f"{cost['ci_high']:,.0f} EUR"
                parts.append(f"{cost['cost_per_job_eur']:,.0f} EUR in Linea {line} (95% interval {cost['ci_low']:,.0f} EUR to {upper})")
        return "Grants per job created: " + "; ".join(parts) + "."

    def employment() -> str:
        return "Employment effect: " + ", ".join(f"Linea {line} {pct(line_estimates(line)['employees'])}" for line in present) + "."

    def size_heterogeneity() -> str:
        sizes = impact.heterogeneity(comparison_sample(data, "A", "unsuccessful"), "turnover_eur", "size_class", truth)
        sizes = sizes.dropna(subset=["att"]).set_index("level")
        if sizes.empty:
            raise DesignError(f"no size class has {impact.MIN_SUBGROUP_FIRMS} or more funded Linea A firms.")
        return "Linea A turnover effect by size class (log points): " + ", ".join(f"{lvl} {row.att:.3f}" for lvl, row in sizes.iterrows()) + "."

    items = {
        "members_by_pole": members_by_pole,
        "participation": participation,
        "newcomers": newcomers,
        "pole_concentration": pole_concentration,
        "cost_effectiveness": cost_effectiveness,
        "employment": employment,
        "leverage": lambda: "Private co-investment per EUR of grant: " + ", ".join(leverage(line) for line in present) + ".",
        "size_heterogeneity": size_heterogeneity,
        "insiders": lambda: f"Turnover effect for pole members (Linea A): {pct(line_estimates('A')['turnover_eur'])}.",
        "this_evaluation": lambda: ("This report: a counterfactual evaluation re-run from the data in one command, with its "
                                    "estimators validated against R and against a known truth (appendices)."),
    }
    found = {}
    for key, make in items.items():
        try:
            found[key] = make()
        except DesignError as err:
            found[key] = f"{NOT_ESTIMABLE}: {err}"
    return {**found, **power_note}


def assessment_table(category: str, found: dict[str, str]):
    """One table of the assessment: Italian point, English point, the evidence (or
    what data would make it testable)."""
    import pandas as pd

    rows = [
        {"punto (italiano)": p.italian, "point": p.english,
         "evidence": found[p.evidence] if p.evidence else f"{NOT_TESTABLE}; needs {p.data_needed}"}
        for p in ASSESSMENT if p.category == category
    ]
    return pd.DataFrame(rows)
