"""Regression discontinuity at the funding threshold of the merit score.

A project is funded when its merit score ``s`` reaches the call's threshold ``c``
(sharp design; if some projects break the rule, the design is fuzzy and the funded
indicator is the treatment, ``rdrobust``'s ``fuzzy=``). The running variable is
``x = s - c``; pooling the calls uses each call's own threshold and a call indicator as
covariate. The estimand is the jump at ``x = 0`` of the conditional mean of an outcome:
a *local* effect of funding for projects scoring at the threshold, not the average
effect of all funded projects.

Unit: the project. The score and the funding decision are a project's, so the running
variable has one value per project; each project's outcome is the mean over its firms
(firm-level outcomes, below). Firm-level rows clustered by project would repeat each score
as a mass point, and with the few distinct scores near a threshold ``rdrobust`` could not
select a bandwidth on them. A firm in two projects of one call enters both means, so those
two projects are not independent; the tables count such firms.

Outcomes per firm, on logs: ``pre`` the mean before the call year, ``post`` the mean from
the (planned) project start on, ``change = post - pre`` (the main outcome: the firm
effect cancels) and ``post`` as a level; ``pre`` is the covariate whose continuity at the
cutoff checks the design (no jump expected).

Estimation: ``rdrobust`` (Calonico, Cattaneo and Titiunik 2014): local linear fit on each
side, triangular kernel, MSE-optimal bandwidth (``rdbwselect``, ``mserd``), conventional
point estimate with the robust bias-corrected 95% interval and p-value. When the
MSE-optimal window holds fewer than ``MIN_PROJECTS_SIDE`` projects on a side (scores can
leave a gap around the threshold), it is widened to the smallest that holds them, and the
table says so (``h_mse`` beside ``h``). Density: ``rddensity``
(Cattaneo, Jansson and Ma 2020), robust jackknife p-value. Power: with robust standard
error ``se``, the jump detectable with 80% power by a two-sided 5% test is
``(z_0.975 + z_0.8) se = 2.80 se``.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from evaluation.data.contract import StudyData
from evaluation.methods.errors import DesignError
from evaluation.study import labels
from evaluation.study.design import applicant_sample, true_effects

MIN_PROJECTS_SIDE = 10  # projects (distinct scores) a side needs, in the data and in the window
MDE_FACTOR = float(stats.norm.isf(0.025) + stats.norm.ppf(0.8))
MEASURES = {"change": "change from before the call to after", "post": "level after the start",
            "pre": "level before the call (continuity check)"}


def project_frame(data: StudyData, line: str, threshold: float, outcomes,
                  truth: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per project of ``line``: ``line, project_id, score, x = score - threshold,
    funded, firms, shared_firms`` (its firms in another project of the call too) and per
    outcome the means over its firms of ``pre_<o>, post_<o>, change_<o>`` (each firm's means
    of ``log_<o>`` before the call year and from its reference year on) and, with a truth,
    ``truth_<o>`` (the firms' mean true log effect over their post years, funded projects)."""
    sample = applicant_sample(data, line)
    apps = data.applications[data.applications["line"] == line]
    call_year = int(apps["call_year"].min())
    firms = pd.DataFrame({"firm_id": apps["firm_id"].unique()})
    for o in outcomes:
        y = f"log_{o}"
        post_rows = sample[sample["event_time"] >= 0].dropna(subset=[y])
        firms[f"pre_{o}"] = firms["firm_id"].map(sample[sample["year"] < call_year].groupby("firm_id")[y].mean())
        firms[f"post_{o}"] = firms["firm_id"].map(post_rows.groupby("firm_id")[y].mean())
        firms[f"change_{o}"] = firms[f"post_{o}"] - firms[f"pre_{o}"]
        if truth is not None:
            keys = pd.MultiIndex.from_frame(post_rows[["firm_id", "year"]])
            per_year = pd.Series(true_effects(truth, o).reindex(keys).to_numpy(), index=post_rows["firm_id"].to_numpy())
            firms[f"truth_{o}"] = firms["firm_id"].map(per_year.groupby(level=0).mean())
    rows = apps[["project_id", "firm_id", "score", "funded"]].merge(firms, on="firm_id", how="left")
    rows["shared"] = rows["firm_id"].map(apps["firm_id"].value_counts()) > 1
    values = [c for c in rows.columns if c.split("_")[0] in ("pre", "post", "change", "truth")]
    projects = rows.groupby("project_id", as_index=False).agg(
        score=("score", "first"), funded=("funded", "first"), firms=("firm_id", "size"), shared_firms=("shared", "sum"),
        **{c: (c, "mean") for c in values})
    projects["funded"] = projects["funded"].astype(int)
    for c in [c for c in values if c.startswith("truth_")]:
        projects[c] = projects[c].where(projects["funded"] == 1)
    projects.insert(0, "line", line)
    projects.insert(3, "x", projects["score"] - threshold)
    return projects


def _sides(frame: pd.DataFrame, what: str) -> float:
    """DesignError unless each side of the cutoff has ``MIN_PROJECTS_SIDE`` projects with
    distinct scores; returns the smallest bandwidth holding that many on each side."""
    reach = []
    for side, mask in (("below", frame["x"] < 0), ("at or above", frame["x"] >= 0)):
        distinct = np.sort(frame.loc[mask, "x"].abs().unique())
        if len(distinct) < MIN_PROJECTS_SIDE:
            raise DesignError(f"{int(mask.sum())} projects with data, with {len(distinct)} distinct scores, score {side} "
                              f"the threshold in {what}; a discontinuity needs at least {MIN_PROJECTS_SIDE} distinct "
                              "scores on each side.")
        reach.append(distinct[MIN_PROJECTS_SIDE - 1])
    return float(max(reach)) * (1 + 1e-9)


def _quiet(fn, *args, **kwargs):
    """Call rdrobust/rddensity without their printed notes and warnings."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _fuzzy(frame: pd.DataFrame) -> bool:
    """True when funding does not follow the threshold for every firm."""
    return bool(((frame["x"] >= 0) != (frame["funded"] == 1)).any())


def jump(frame: pd.DataFrame, y: str, h: float | None = None, what: str = "") -> dict:
    """``rdrobust`` of project column ``y`` on ``x`` at 0: local linear, triangular kernel,
    bandwidth ``h`` or else the MSE-optimal one widened to hold ``MIN_PROJECTS_SIDE``
    projects a side; fuzzy on ``funded`` when the rule is broken; a call indicator as
    covariate when calls are pooled. Returns ``estimate`` (conventional), ``se`` (robust),
    ``ci_low, ci_high, p`` (robust bias-corrected), ``h``, ``h_mse``, projects and firms
    within ``h`` on each side, ``mde80 = 2.80 se``, ``design`` (sharp/fuzzy), ``bandwidth``
    (how ``h`` was chosen; when ``rdbwselect`` fails the smallest window is used)."""
    from rdrobust import rdbwselect, rdrobust

    d = frame.dropna(subset=[y])
    h_min = _sides(d, what or y)
    kwargs = {"c": 0.0, "fuzzy": d["funded"].to_numpy(float) if _fuzzy(d) else None,
              "covs": (d["line"] == d["line"].iloc[0]).to_numpy(float) if d["line"].nunique() > 1 else None}
    yv, xv = d[y].to_numpy(float), d["x"].to_numpy(float)
    h_mse = np.nan
    if h is None:
        try:
            h_mse = float(_quiet(rdbwselect, yv, xv, **kwargs).bws.iloc[0, 0])
            bandwidth = "MSE-optimal" if h_mse >= h_min else f"MSE-optimal widened to {MIN_PROJECTS_SIDE} projects a side"
        except Exception:  # rdrobust reports data it cannot fit with a bare Exception
            bandwidth = f"MSE-optimal not computable; {MIN_PROJECTS_SIDE} projects a side"
        h = h_min if np.isnan(h_mse) else max(h_mse, h_min)
    else:
        bandwidth = "given"
    try:
        r = _quiet(rdrobust, yv, xv, h=h, **kwargs)
    except Exception as err:
        raise DesignError(f"rdrobust could not fit the local regressions of {what or y} ({err}).") from err
    inside = d[d["x"].abs() <= h]
    left, right = inside[inside["x"] < 0], inside[inside["x"] >= 0]
    se = float(r.se.loc["Robust", "Std. Err."])
    return {"estimate": float(r.coef.loc["Conventional", "Coeff"]), "se": se,
            "ci_low": float(r.ci.loc["Robust", "CI Lower"]), "ci_high": float(r.ci.loc["Robust", "CI Upper"]),
            "p": float(r.pv.loc["Robust", "P>|z|"]), "h": float(h), "h_mse": h_mse, "bandwidth": bandwidth,
            "projects_left": len(left), "projects_right": len(right),
            "firms_left": int(left["firms"].sum()), "firms_right": int(right["firms"].sum()),
            "mde80": MDE_FACTOR * se, "design": "fuzzy" if _fuzzy(d) else "sharp"}


def true_jump(frame: pd.DataFrame, outcome: str, h: float) -> float:
    """The estimand's truth on synthetic data: the mean true effect of the funded projects
    within ``h`` above the cutoff (each its firms' mean), with the triangular kernel's
    weights ``1 - x/h``: the local average the estimate targets. NaN when none has a truth."""
    d = frame[(frame["x"] >= 0) & (frame["x"] <= h)].dropna(subset=[f"truth_{outcome}"])
    if d.empty:
        return float("nan")
    return float(np.average(d[f"truth_{outcome}"], weights=1 - d["x"] / h + 1e-12))


def rd_table(frame: pd.DataFrame, outcomes, call: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """One row per outcome and measure (change, post level, pre-call level) with
    :func:`jump`'s columns, plus ``truth`` for the change (synthetic data). Also the
    reasons of the rows that could not be estimated, by ``"<outcome> <measure>"``."""
    rows, missed = [], {}
    for o in outcomes:
        for measure in MEASURES:
            key = f"{o} {measure}"
            try:
                res = jump(frame, f"{measure}_{o}", what=f"{call} ({labels.outcome(o)})")
            except DesignError as err:
                missed[key] = str(err)
                continue
            truth = true_jump(frame, o, res["h"]) if measure == "change" and f"truth_{o}" in frame else np.nan
            rows.append({"call": call, "outcome": labels.outcome(o), "measure": MEASURES[measure], **res, "truth": truth})
    if not rows:
        raise DesignError(" ".join(dict.fromkeys(missed.values())))
    table = pd.DataFrame(rows)
    if table["truth"].isna().all():
        table = table.drop(columns="truth")
    return table, missed


def density_test(frame: pd.DataFrame, what: str) -> dict:
    """``rddensity`` on the projects' scores at the threshold: robust
    jackknife t and p of the jump in the density, bandwidths, projects on each side."""
    from rddensity import rddensity

    projects = frame
    _sides(projects, what)
    try:
        r = _quiet(rddensity, projects["x"].to_numpy(float), c=0.0)
    except Exception as err:  # as rdrobust, a bare Exception for data it cannot fit
        raise DesignError(f"rddensity could not estimate the density of {what} on both sides ({err}).") from err
    return {"call": what, "t": float(r.test["t_jk"]), "p": float(r.test["p_jk"]),
            "h_left": float(r.h["left"]), "h_right": float(r.h["right"]),
            "projects_left": int((projects["x"] < 0).sum()), "projects_right": int((projects["x"] >= 0).sum())}


def bandwidth_sensitivity(frame: pd.DataFrame, outcome: str, call: str, factors=(0.5, 0.75, 1.0, 1.5, 2.0)) -> pd.DataFrame:
    """The change's jump at multiples of the data-driven bandwidth; a factor whose window
    leaves too few projects on a side gets a note instead of numbers."""
    y = f"change_{outcome}"
    h0 = jump(frame, y, what=call)["h"]
    rows = []
    for f in factors:
        try:
            rows.append({"call": call, "outcome": labels.outcome(outcome), "factor": f,
                         **jump(frame, y, h=f * h0, what=call), "note": ""})
        except DesignError as err:
            rows.append({"call": call, "outcome": labels.outcome(outcome), "factor": f, "h": f * h0, "note": str(err)})
    return pd.DataFrame(rows)


def plot(frame: pd.DataFrame, outcome: str, h: float, title: str, bins: int = 10):
    """RD plot of the projects' change in log ``outcome``: means in ``bins`` equal-width
    bins of the score on each side (area by projects), and the local linear fit (triangular kernel) within ``h``."""
    y = f"change_{outcome}"
    d = frame.dropna(subset=[y])
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for side, colour, span in ((d[d["x"] < 0], "tab:gray", (-h, 0.0)), (d[d["x"] >= 0], "tab:blue", (0.0, h))):
        edges = np.linspace(side["x"].min(), side["x"].max(), bins + 1)
        cut = pd.cut(side["x"], edges, include_lowest=True)
        means = side.groupby(cut, observed=True).agg(x=("x", "mean"), y=(y, "mean"), n=(y, "size"))
        ax.scatter(means["x"], means["y"], s=12 + 6 * means["n"], color=colour, alpha=0.8)
        near = side[side["x"].abs() <= h]
        if len(near) >= 2 and near["x"].nunique() >= 2:
            w = 1 - near["x"].abs() / h
            slope, intercept = np.polyfit(near["x"], near[y], 1, w=np.sqrt(w))
            grid = np.linspace(*span, 20)
            ax.plot(grid, intercept + slope * grid, color=colour)
    ax.axvline(0, color="black", lw=0.8, ls="--")
    ax.set_xlabel("merit score minus the call's threshold (points)")
    ax.set_ylabel(f"change in log {labels.outcome(outcome)}")
    ax.set_title(title)
    fig.tight_layout()
    return fig
