"""Event-study plot of the staggered estimators (``aggte(..., kind="dynamic")``)."""

from __future__ import annotations

import numpy as np

from evaluation.methods.estimators.staggered.results import AggteResult


def plot_staggered_event_study(result: AggteResult, ax=None):
    """Event-study plot of ``aggte(..., kind="dynamic")``: estimates, pointwise intervals
    (error bars) and, when the result was bootstrapped, the uniform band (shaded).

    Also accepts a ``sun_abraham`` or ``imputation`` result (terms ``"e=k"``), drawing
    their pointwise intervals. Returns the matplotlib axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    table = result.table
    if "key" in table.columns:
        if getattr(result, "kind", None) != "dynamic":
            raise ValueError("plot_staggered_event_study needs aggte(..., kind='dynamic')")
        e = table["key"].to_numpy(float)
        est = table["att"].to_numpy(float)
        low, high = table["ci_low_pointwise"].to_numpy(float), table["ci_high_pointwise"].to_numpy(float)
        uniform = "n_boot" in result.extra
    else:
        e = np.array([float(term.split("=")[1]) for term in table.index])
        est = table["estimate"].to_numpy(float)
        low, high = table["ci_low"].to_numpy(float), table["ci_high"].to_numpy(float)
        uniform = False
    level = round(100 * (1 - result.alpha))
    if uniform:
        ax.fill_between(e, table["ci_low"].to_numpy(float), table["ci_high"].to_numpy(float),
                        color="C0", alpha=0.2, step=None, label=f"{level}% uniform band")
    colors = np.where(e >= 0, "C3", "C0")
    for xi, yi, lo, hi, col in zip(e, est, low, high, colors):
        ax.errorbar([xi], [yi], yerr=[[yi - lo], [hi - yi]], fmt="o", capsize=3, color=col)
    ax.errorbar([], [], yerr=[], fmt="o", color="grey", capsize=3, label=f"estimate, {level}% pointwise CI")
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.axvline(-0.5, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("periods relative to treatment (e = t - g)")
    ax.set_ylabel(f"effect on {result.y}")
    ax.legend(frameon=False)
    return ax
