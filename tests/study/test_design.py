"""The rule that times a firm's treatment (data/README.md, "reference year"): a funded
firm's reference year is the earliest start of its funded projects in the line, whatever
its unfunded applications; an unsuccessful applicant's is the earliest planned start."""

from __future__ import annotations

import pandas as pd

from evaluation.data.contract import load_study_data
from evaluation.study.design import applicant_sample


def _add_project(applications: pd.DataFrame, project_id: str, firm_id: str, start: str) -> pd.DataFrame:
    """One more unfunded single-firm project of the first Linea A call (a lead, 300,000 EUR, 24 months);
    ``applications`` as read from the CSV, every column text."""
    row = applications[applications["line"] == "A"].iloc[0].copy()
    start_date = pd.Timestamp(start)
    end_date = start_date + pd.DateOffset(months=24) - pd.Timedelta(days=1)
    row.update({"project_id": project_id, "firm_id": firm_id, "role": "lead", "funded": "false",
                "investment_eur": "300000.00", "grant_eur": "0.00",
                "start_date": start, "end_date": end_date.strftime("%Y-%m-%d")})
    return pd.concat([applications, row.to_frame().T], ignore_index=True)


def test_unfunded_applications_do_not_move_a_funded_firms_start(data_copy):
    path = data_copy / "applications.csv"
    applications = pd.read_csv(path, dtype=str, keep_default_na=False)
    funded_a = applications[(applications["line"] == "A") & (applications["funded"] == "true")]
    firm = funded_a["firm_id"].iloc[0]
    funded_start = int(funded_a.loc[funded_a["firm_id"] == firm, "start_date"].min()[:4])
    unsuccessful = applications.loc[(applications["line"] == "A") & (applications["funded"] == "false"), "firm_id"]
    loser = unsuccessful.iloc[0]
    loser_start = int(applications.loc[applications["firm_id"] == loser, "start_date"].min()[:4])
    for project_id, who, start in (("A-X-EARLY", firm, f"{funded_start - 2}-03-01"),
                                   ("A-X-LATE", firm, f"{funded_start + 1}-03-01"),
                                   ("A-X-LOSER", loser, f"{loser_start - 1}-03-01")):
        applications = _add_project(applications, project_id, who, start)
    applications.to_csv(path, index=False)

    sample = applicant_sample(load_study_data(data_copy), "A")
    by_firm = sample.groupby("firm_id")[["funded", "reference_year"]].first()
    assert by_firm.loc[firm, "funded"] == 1
    assert by_firm.loc[firm, "reference_year"] == funded_start  # neither unfunded project moves it
    assert by_firm.loc[loser, "funded"] == 0
    assert by_firm.loc[loser, "reference_year"] == loser_start - 1  # the earliest planned start
