"""The one result type every estimator returns.

``EstimationResult.table`` is a tidy :class:`pandas.DataFrame` indexed by ``term``
with the columns ``estimate, se, ci_low, ci_high, p`` (and ``df``, the degrees of
freedom of the reference distribution, ``inf`` for the normal). Intervals are at
``1 - alpha`` (95% by default) and use the same reference distribution as ``p``.

Estimators with influence functions (Callaway-Sant'Anna) carry them in ``extra``;
aggregation reads them there. ``design`` keeps what the wild cluster
bootstrap needs to re-run a regression (or a function that builds it,
:meth:`EstimationResult.linear_design`); it is never serialised.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

TABLE_COLUMNS = ("estimate", "se", "ci_low", "ci_high", "p", "df")


def percent(log_points: float) -> float:
    """A log-point effect as a percent change: ``100 (exp(b) - 1)``."""
    return 100.0 * math.expm1(log_points)


def log_points(pct: float) -> float:
    """A percent change as log points: ``log(1 + pct / 100)``."""
    return math.log1p(pct / 100.0)


@dataclass
class EstimationResult:
    """Estimates, their inference and how they were obtained.

    Attributes
    ----------
    table : DataFrame indexed by ``term`` with ``estimate, se, ci_low, ci_high, p, df``.
    nobs : observations used (after dropping rows with missing values).
    vcov_type : ``"iid"``, ``"HC1"``, ``"CR0"``, ``"CR1"`` or ``"CR2"``.
    estimator : ``"did_2x2"``, ``"twfe"``, ``"event_study"``, ...
    y : name of the outcome column.
    n_clusters : number of clusters (``None`` for iid/HC1).
    cluster : name of the cluster column (``None`` for iid/HC1).
    vcov : covariance matrix of the reported terms (DataFrame, term x term).
    alpha : 1 - confidence level of ``ci_low, ci_high``.
    extra : estimator-specific, JSON-serialisable facts (cell means, binning, ...).
    design : what :func:`evaluation.methods.inference.wild_cluster_bootstrap` needs, or a
        function building it on first use (:meth:`linear_design`); not serialised.
    """

    table: pd.DataFrame
    nobs: int
    vcov_type: str
    estimator: str
    y: str
    n_clusters: int | None = None
    cluster: str | None = None
    vcov: pd.DataFrame | None = None
    alpha: float = 0.05
    extra: dict[str, Any] = field(default_factory=dict)
    design: Any = field(default=None, repr=False, compare=False)

    @property
    def params(self) -> pd.Series:
        """The point estimates, indexed by term."""
        return self.table["estimate"]

    def linear_design(self):
        """``design``, built (once) if the estimator deferred it."""
        if callable(self.design):
            self.design = self.design()
        return self.design

    def summary(self) -> str:
        """A readable, fixed-width summary of the table and the inference used."""
        level = round(100 * (1 - self.alpha))
        lines = [
            f"{self.estimator}: {self.y}",
            f"observations: {self.nobs}",
            f"inference: {self.vcov_type}"
            + (f", {self.n_clusters} clusters of {self.cluster}" if self.n_clusters else ""),
            f"intervals: {level}%, reference distribution t(df) (df = inf: normal)",
            "",
            self.table.to_string(float_format=lambda v: f"{v:.6g}"),
        ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable and deterministic (terms in table order)."""
        terms = {
            str(term): {column: to_plain(row[column]) for column in self.table.columns}
            for term, row in self.table.iterrows()
        }
        out: dict[str, Any] = {
            "estimator": self.estimator,
            "y": self.y,
            "nobs": int(self.nobs),
            "vcov_type": self.vcov_type,
            "cluster": self.cluster,
            "n_clusters": None if self.n_clusters is None else int(self.n_clusters),
            "alpha": float(self.alpha),
            "terms": terms,
            "extra": to_plain(self.extra),
        }
        if self.vcov is not None:
            out["vcov"] = {
                "terms": [str(t) for t in self.vcov.index],
                "matrix": [[to_plain(v) for v in row] for row in self.vcov.to_numpy()],
            }
        return out


def to_plain(value: Any, nonfinite=str) -> Any:
    """Numpy/pandas scalars and containers to plain Python for JSON. JSON has no
    inf/nan: ``nonfinite`` maps them (default ``str``: readable and round-trippable via
    ``float()``; ``evaluation.pipeline.outputs`` maps them to ``None``)."""
    if isinstance(value, dict):
        return {str(k): to_plain(v, nonfinite) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray, pd.Series)):
        return [to_plain(v, nonfinite) for v in list(value)]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else nonfinite(value)
    return value
