"""Data overview: the programme's published figures recomputed from the data."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from evaluation.data import programme
from evaluation.data.contract import StudyData
from evaluation.study import labels


def programme_figures(data: StudyData) -> pd.DataFrame:
    """Published figure beside the same figure computed from the data.

    Members count organisations with a pole; call figures count funded projects,
    distinct firms in funded projects and funded investment and grants (M EUR, one
    decimal as published).
    """
    members = data.firms[data.firms["pole"] != "none"]
    rows = [("Pole members", "all", programme.MEMBERS_TOTAL, len(members))]
    for firm_type, published in programme.MEMBERS_JUNE_2017.items():
        label = f"Pole members: {labels.level('firm_type', firm_type)}"
        if firm_type == "other":  # the source's breakdown leaves 100 members unclassified
            published += programme.MEMBERS_NOT_BROKEN_DOWN
            label += f" ({programme.MEMBERS_JUNE_2017['other']} listed + {programme.MEMBERS_NOT_BROKEN_DOWN} not broken down)"
        rows.append((label, "all", published, int((members["firm_type"] == firm_type).sum())))
    for line, call in programme.CALLS.items():
        apps = data.applications[data.applications["line"] == line]
        funded = apps[apps["funded"]]
        rows += [
            ("Projects submitted", f"Linea {line}", call["submitted"], apps["project_id"].nunique()),
            ("Projects funded", f"Linea {line}", call["funded"], funded["project_id"].nunique()),
            ("Firms in funded projects", f"Linea {line}", call["firms_in_funded"], funded["firm_id"].nunique()),
            ("Investment, M EUR", f"Linea {line}", call["investment_eur"] / 1e6, round(funded["investment_eur"].sum() / 1e6, 1)),
            ("Grants, M EUR", f"Linea {line}", call["grants_eur"] / 1e6, round(funded["grant_eur"].sum() / 1e6, 1)),
        ]
    table = pd.DataFrame(rows, columns=["figure", "call", "published", "in the data"])
    table["matches"] = (table["published"] - table["in the data"]).abs() < 1e-9
    return table


def members_by_pole(data: StudyData) -> pd.DataFrame:
    """Count of pole members by pole and type (long format)."""
    members = data.firms[data.firms["pole"] != "none"]
    counts = members.groupby(["pole", "firm_type"]).size().rename("members").reset_index()
    counts["firm_type"] = counts["firm_type"].map(labels.LEVELS['firm_type'])
    return counts


def funding_by_pole(data: StudyData) -> pd.DataFrame:
    """Funded grants (M EUR) by pole and line."""
    funded = data.applications[data.applications["funded"]]
    grants = funded.groupby(["pole", "line"])["grant_eur"].sum().div(1e6).rename("grants_m_eur").reset_index()
    grants["line"] = "Linea " + grants["line"]
    return grants


def plot_by_pole(frame: pd.DataFrame, value: str, hue: str, ylabel: str) -> plt.Figure:
    """Bars of ``value`` for each pole (in the region's order), one colour per ``hue``."""
    import seaborn as sns  # only here: the other notebooks importing this module need not load it

    fig, ax = plt.subplots(figsize=(7, 3.8))
    sns.barplot(data=frame, x="pole", y=value, hue=hue, order=list(programme.POLES), ax=ax)
    ax.set_xlabel("Polo di Innovazione")
    ax.set_ylabel(ylabel)
    ax.legend(title=None, fontsize=8)
    fig.tight_layout()
    return fig


def published_calls() -> pd.DataFrame:
    """The seed's table of the two 2014-2020 calls (amounts in M EUR)."""
    rows = [
        {
            "call": f"Linea {line}",
            "budget (M EUR)": call["budget_eur"] / 1e6,
            "projects submitted": call["submitted"],
            "projects funded": call["funded"],
            "firms in funded projects": call["firms_in_funded"],
            "investment (M EUR)": call["investment_eur"] / 1e6,
            "grants (M EUR)": call["grants_eur"] / 1e6,
        }
        for line, call in programme.CALLS.items()
    ]
    return pd.DataFrame(rows)


def published_members() -> pd.DataFrame:
    """The seed's count of pole members by type (June 2017)."""
    rows = [{"type": labels.level('firm_type', t), "members": n} for t, n in programme.MEMBERS_JUNE_2017.items()]
    rows.append({"type": "not broken down by type in the source", "members": programme.MEMBERS_NOT_BROKEN_DOWN})
    return pd.DataFrame([*rows, {"type": "all", "members": programme.MEMBERS_TOTAL}])


def programme_in_numbers() -> pd.DataFrame:
    """The second seed's figures on the poles (members, investment, projects, patents,
    training agreements, collaborations, participation in the research agendas) and
    the two 2014-2020 calls."""
    calls = [
        (f"Linea {line}: {label}", value, unit, "2014-2020")
        for line, call in programme.CALLS.items()
        for label, value, unit in (
            ("projects submitted", call["submitted"], "projects"),
            ("projects funded", call["funded"], "projects"),
            ("firms in funded projects", call["firms_in_funded"], "firms"),
            ("investment", call["investment_eur"] / 1e6, "M EUR"),
            ("grants", call["grants_eur"] / 1e6, "M EUR"),
        )
    ]
    return pd.DataFrame([*programme.PROGRAMME_IN_NUMBERS, *calls], columns=["indicator", "value", "unit", "period"])
