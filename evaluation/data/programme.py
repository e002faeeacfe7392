"""Published figures and rules of the Poli di Innovazione programme.

Every figure here is quoted from a source document kept in ``data/seeds/``:

* ``001`` = ``data/seeds/001_5c385bb5ec77c479.txt`` (Regione Piemonte, "Il sistema
  regionale dei POLI di INNOVAZIONE", figures as of June 2017);
* the programme rules (grant cap, minimum cost, duration, large firms with SMEs) are
  those of the POR FESR 2014-2020 calls as summarised in the project's DESIGN notes.

The synthetic generator is calibrated to these numbers, the data overview notebook
recomputes them from the data, and the report prints both side by side.
"""

from __future__ import annotations

POLES: tuple[str, ...] = ("Agrifood", "Biopmed", "CGreen", "Clever", "MESAP", "Pointex", "ICT")
"""The seven poles of 2014-2020 (seed 001), in the order the region lists them."""

POLE_DOMAINS: dict[str, str] = {
    "Agrifood": "Agroalimentare (agri-food)",
    "Biopmed": "Scienze della vita e salute (life sciences and health)",
    "CGreen": "Chimica verde e nuovi materiali (green chemistry, new materials)",
    "Clever": "Energia e tecnologie pulite (energy and clean technologies)",
    "MESAP": "Smart products and manufacturing",
    "Pointex": "Tessile (textiles)",
    "ICT": "Tecnologie dell'informazione e della comunicazione (ICT)",
}

MEMBERS_JUNE_2017: dict[str, int] = {"SME": 858, "large": 133, "research_org": 60, "other": 43}
"""Pole members by type, June 2017 survey (seed 001, section 1), as listed "among" the
1,194 members; the four add up to 1,094 (see ``MEMBERS_NOT_BROKEN_DOWN``)."""

MEMBERS_TOTAL = 1194

MEMBERS_NOT_BROKEN_DOWN = MEMBERS_TOTAL - sum(MEMBERS_JUNE_2017.values())
"""100: the source gives 1,194 members "tra cui" (among which) 858 + 133 + 60 + 43 =
1,094, so 100 members are not broken down by type. The study files them under the
residual type ``other`` (43 + 100 = 143)."""

CALLS: dict[str, dict[str, float]] = {
    "A": {
        "budget_eur": 35_000_000,
        "submitted": 113,
        "funded": 75,
        "firms_in_funded": 221,
        "investment_eur": 49_800_000,
        "grants_eur": 23_700_000,
    },
    "B": {
        "budget_eur": 15_000_000,
        "submitted": 53,
        "funded": 34,
        "firms_in_funded": 70,
        "investment_eur": 21_200_000,
        "grants_eur": 9_300_000,
    },
}
"""The two 2014-2020 calls (seed 001, section 2). Linea A: firms already members of a
pole; Linea B: firms never associated with a pole. Amounts in EUR as published (to
0.1 M EUR)."""

CALL_FOR = {"A": "firms already members of a pole", "B": "firms never associated with a pole"}

GRANT_CAP_SHARE = 0.60
"""A grant covers at most 60% of a firm's eligible project cost."""
MIN_PROJECT_COST_EUR = 300_000
"""A project costs at least 300,000 EUR (sum over its partners)."""
MAX_PROJECT_MONTHS = 24
"""A project lasts at most 24 months."""

PROVINCES: tuple[str, ...] = ("TO", "CN", "AL", "NO", "AT", "BI", "VC", "VB")
"""Piedmont's eight provinces (Torino is a metropolitan city)."""

FIRM_TYPES: tuple[str, ...] = ("SME", "large", "research_org", "other")
SIZE_CLASSES: tuple[str, ...] = ("micro", "small", "medium", "large")
"""EU size classes (Recommendation 2003/361/EC): micro < 10 employees, small < 50,
medium < 250, large otherwise."""

POLES_CREATED: dict[str, int] = {"000": 2008, "001": 2009}
"""Year of the twelve poles' creation by source, which differ by one year: seed 000 (the
European Cluster Observatory, ``data/seeds/000_994f868af143dcef.txt``, line 5: "Nel 2008 il
Piemonte crea 12 poli di innovazione") and seed 001 (Regione Piemonte, June 2017,
``data/seeds/001_5c385bb5ec77c479.txt``, section "Nascita": "Nel 2009, tramite i fondi del
POR FESR 2007/2013, il Piemonte attiva 12 Poli di Innovazione"). The figures below follow
seed 001."""
POLES_RELAUNCHED = 2015
"""Both seeds: in 2015, under the POR FESR 2014-2020, the poles were reorganised into 7
thematic areas and refinanced (seed 001, section "Rilancio"; seed 000, "Nel 2015 i poli
vengono riorganizzati")."""
PROGRAMMING_PERIODS_FUNDING_POLES: tuple[str, ...] = ("POR FESR 2007-2013", "POR FESR 2014-2020")
"""The programming periods that funded the poles (seeds 000 and 001)."""

PROGRAMME_IN_NUMBERS: tuple[tuple[str, float, str, str], ...] = (
    # (indicator, value, unit, period) -- all from seed 001, sections "Nascita", "Rilancio" and 1-5.
    ("Poles created (POR FESR 2007-2013)", 12, "poles", "2009 (2008 according to seed 000)"),
    ("Poles after the 2015 reorganisation (S3 thematic areas)", 7, "poles", "2015"),
    ("Pole members", 1194, "organisations", "June 2017"),
    ("Cumulated R&D investment by members in regionally funded projects", 487, "M EUR", "2007-2013"),
    ("R&D investment activated by the pole measures (3 annual programmes)", 240, "M EUR", "2007-2013"),
    ("Grants awarded by the pole measures", 126, "M EUR", "2007-2013"),
    ("Research, innovation and feasibility projects activated", 600, "projects (over)", "2007-2013"),
    ("Patents: Agrifood", 5, "patents", "2007-2013"),
    ("Patents: energy and clean technologies", 36, "patents", "2007-2013"),
    ("Patents: biotechnology", 12, "patents", "2007-2013"),
    ("Agreements with training agencies", 47, "agreements", "June 2017"),
    ("Collaborations with research organisations", 195, "collaborations", "June 2017"),
    ("Participation of members in the Strategic Research Agendas", 30, "% of members", "June 2017"),
    ("Participation in the Strategic Research Agendas, previous programme", 49, "% of members", "2007-2013"),
    ("Extra-regional and international collaborations", 200, "collaborations (over)", "June 2017"),
)
"""The second seed's programme figures (Regione Piemonte, June 2017). The participation
rates are not comparable across programmes: the 2014-2020 programme was still running
and research organisations no longer take part as grant beneficiaries."""
