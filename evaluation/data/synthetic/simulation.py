"""``simulate``: the synthetic tables in memory, drawn from one random generator in a
fixed order (firms, employment, Linea A, Linea B, panel and true effect), with the
dataset description written to ``dataset.json``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from evaluation.data.contract import COLUMNS
from evaluation.data.synthetic.applications import make_applications
from evaluation.data.synthetic.firms import add_employment_level, make_firms
from evaluation.data.synthetic.panel import make_panel
from evaluation.data.synthetic.parameters import (
    CALL_YEAR,
    DEFAULT_NONMEMBERS,
    DEFAULT_SEED,
    EFFECT_MAX,
    GENERATOR,
    GENERATOR_VERSION,
    INTENSITY_HALF,
    INTENSITY_YEARS,
    RAMP_YEARS,
)


@dataclass(frozen=True)
class SyntheticData:
    """The generated tables (typed, unformatted) and the dataset description."""

    firms: pd.DataFrame
    applications: pd.DataFrame
    panel: pd.DataFrame
    truth: pd.DataFrame
    dataset: dict


def simulate(
    seed: int = DEFAULT_SEED,
    first_year: int = 2012,
    last_year: int = 2022,
    n_nonmembers: int = DEFAULT_NONMEMBERS,
    effect_scale: float = 1.0,
) -> SyntheticData:
    """Draw the synthetic tables in memory. ``effect_scale`` multiplies the true effect
    (0 gives the untreated potential outcomes with the same random draws)."""
    if not first_year <= 2016 < 2019 < last_year:
        raise ValueError("the panel must cover 2016-2020 (first_year <= 2016, last_year >= 2020)")
    if n_nonmembers < 500:
        raise ValueError("n_nonmembers must be at least 500 (Linea B needs applicants)")
    rng = np.random.default_rng(seed)
    firms = make_firms(rng, n_nonmembers)
    add_employment_level(rng, firms)

    ent = firms["firm_type"].isin(("SME", "large")).to_numpy()
    member = firms["member"].to_numpy()
    elig_a = ent & member & (firms["member_since"].to_numpy() <= CALL_YEAR["A"])
    apps_a = make_applications(rng, firms, "A", elig_a)
    elig_b = ent & ~member
    apps_b = make_applications(rng, firms, "B", elig_b)
    apps = pd.concat([apps_a, apps_b], ignore_index=True)
    firms["applicant"] = firms.index.isin(apps["_row"])

    fund = apps[apps["funded"]].copy()
    fund["start_year"] = pd.to_datetime(fund["start_date"]).dt.year
    fund = fund.sort_values("firm_id", kind="stable")
    panel, truth = make_panel(rng, firms, ent, fund, first_year, last_year, effect_scale)

    firms_out = firms[list(COLUMNS["firms.csv"])].copy()
    firms_out["member_since"] = firms_out["member_since"].where(firms["member"], -1)
    apps_out = apps[list(COLUMNS["applications.csv"])].copy()

    dataset = {
        "name": "synthetic-default",
        "synthetic": True,
        "description": (
            "SYNTHETIC DATA: every number in these files is simulated; no row describes a "
            "real firm. The data are calibrated to the published figures of Piedmont's "
            "Poli di Innovazione programme (Regione Piemonte, June 2017; evaluation/data/"
            "programme.py): 1,194 pole members (858 SMEs, 133 large firms, 60 research "
            "organisations, 43 others); Linea A 113 projects submitted, 75 funded, 221 "
            "firms, 49.8 M EUR investment, 23.7 M EUR grants; Linea B 53 submitted, 34 "
            "funded, 70 firms, 21.2 M EUR, 9.3 M EUR. Firm outcomes, selection into the "
            "calls and the true effects (truth.csv) follow the data-generating process "
            "documented in evaluation/data/synthetic/parameters.py and data/README.md."
        ),
        "seed": int(seed),
        "generator": GENERATOR,
        "generator_version": GENERATOR_VERSION,
        "first_year": int(first_year),
        "last_year": int(last_year),
        "n_nonmembers": int(n_nonmembers),
        "effect_scale": float(effect_scale),
        "true_effect": {
            "formula": (
                "effect_log = max[outcome] * I / (I + intensity_half) * min(1, (event_time + 1) / 3), "
                "event_time >= 0; I = grant_eur / mean turnover_eur in the intensity_years years before the call year"
            ),
            "max": EFFECT_MAX,
            "intensity_half": INTENSITY_HALF,
            "intensity_years": INTENSITY_YEARS,
            "ramp_years": RAMP_YEARS,
        },
    }
    return SyntheticData(
        firms=firms_out.sort_values("firm_id", kind="stable").reset_index(drop=True),
        applications=apps_out.sort_values(["project_id", "firm_id"], kind="stable").reset_index(drop=True),
        panel=panel.sort_values(["firm_id", "year"], kind="stable").reset_index(drop=True),
        truth=truth.sort_values(["firm_id", "year", "outcome"], kind="stable").reset_index(drop=True),
        dataset=dataset,
    )
