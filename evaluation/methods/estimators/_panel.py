"""Shared plumbing of the panel estimators: input checks, within transformation, results.

Why hand-written rather than linearmodels' ``PanelOLS``: CR2 needs the transformed
design itself (``PanelOLS`` keeps it private), its small-sample conventions differ
from Stata's/fixest's CR1 and it has no CR2 or Satterthwaite df. The within
transformation here is exact for unbalanced panels without iterating: unit effects
are absorbed by (weighted) unit demeaning and time effects enter as explicit period
dummies. The tests check the point estimates against ``PanelOLS``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from evaluation.methods.inference import (
    CLUSTERED_TYPES,
    LinearDesign,
    covariance,
    fit_ols,
    table_from,
)
from evaluation.methods.results import EstimationResult

RANK_TOLERANCE = 1e-10


class MissingValuesWarning(UserWarning):
    """Rows with missing values in the model's columns were dropped."""


def _few(items, n: int = 5) -> str:
    items = list(items)
    shown = ", ".join(map(str, items[:n]))
    return shown + (f", ... ({len(items)} in all)" if len(items) > n else "")


def complete_rows(data: pd.DataFrame, columns: list[str], estimator: str) -> pd.DataFrame:
    """The rows of ``data`` with no missing value in ``columns`` (warns if any dropped)."""
    missing_columns = [c for c in dict.fromkeys(columns) if c not in data.columns]
    if missing_columns:
        raise ValueError(f"{estimator}: column(s) {missing_columns} not in the data")
    frame = data[list(dict.fromkeys(columns))]
    incomplete = frame.isna()
    if incomplete.to_numpy().any():
        counts = {c: int(n) for c, n in incomplete.sum().items() if n}
        warnings.warn(
            f"{estimator}: dropped {int(incomplete.any(axis=1).sum())} of {len(frame)} rows "
            f"with missing values (per column: {counts})",
            MissingValuesWarning,
            stacklevel=3,
        )
        return data.loc[~incomplete.any(axis=1)]
    return data


def check_unique_pairs(frame: pd.DataFrame, unit: str, time: str) -> None:
    """Raise if a (unit, time) pair appears more than once, listing a few."""
    duplicated = frame.duplicated([unit, time], keep=False)
    if duplicated.any():
        pairs = frame.loc[duplicated, [unit, time]].drop_duplicates().itertuples(index=False)
        raise ValueError(
            f"duplicate ({unit!r}, {time!r}) pairs, e.g. {_few(tuple(p) for p in pairs)}; "
            "a panel needs one row per unit and period"
        )


def check_weights(frame: pd.DataFrame, weights: str) -> np.ndarray:
    w = frame[weights].to_numpy(float)
    bad = np.flatnonzero(~(w > 0))
    if bad.size:
        raise ValueError(f"column {weights!r} must be positive; rows {_few(frame.index[bad])} are not")
    return w


def period_dummies(time_values: pd.Series, name: str) -> tuple[np.ndarray, list[str]]:
    """Dummies for every period but the first (sorted), named ``"<time>=<period>"``."""
    codes, periods = pd.factorize(time_values, sort=True)
    dummies = np.zeros((len(codes), max(len(periods) - 1, 0)))
    rows = np.flatnonzero(codes > 0)
    dummies[rows, codes[rows] - 1] = 1.0
    return dummies, [f"{name}={p}" for p in periods[1:]]


def demean_by_unit(values: np.ndarray, unit_codes: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Subtract (weighted) unit means from each column: the within transformation."""
    w = np.ones(len(unit_codes)) if weights is None else weights
    totals = np.bincount(unit_codes, weights=w)
    out = np.empty_like(values, dtype=float)
    for j in range(values.shape[1]):
        means = np.bincount(unit_codes, weights=w * values[:, j]) / totals
        out[:, j] = values[:, j] - means[unit_codes]
    return out


def check_rank(
    X: np.ndarray, X_before: np.ndarray, names: list[str], check_order: list[int], estimator: str, within: bool
) -> None:
    """Raise naming the regressors that have no variation or are collinear.

    ``X`` is the design after the within transformation (``within=True``) and
    ``X_before`` before it. Columns are examined in ``check_order`` (time dummies
    first, so that the user's regressors are the ones named); a column is collinear
    when its residual on the columns kept so far is below ``RANK_TOLERANCE`` of its norm.
    """
    where = " within units" if within else ""
    norms = np.sqrt((X * X).sum(0))
    scale_before = np.sqrt((X_before * X_before).sum(0))
    flat = [names[j] for j in check_order if norms[j] <= RANK_TOLERANCE * max(scale_before[j], 1.0)]
    if flat:
        raise ValueError(f"{estimator}: {flat} have no variation{where}, so they cannot be estimated")
    gram = (X.T @ X) / np.outer(norms, norms)
    kept: list[int] = []
    collinear: list[str] = []
    for j in check_order:
        cross = gram[kept, j]
        residual = gram[j, j] - (cross @ np.linalg.solve(gram[np.ix_(kept, kept)], cross) if kept else 0.0)
        if residual <= RANK_TOLERANCE:
            collinear.append(names[j])
        else:
            kept.append(j)
    if collinear:
        effects = " and the fixed effects" if within else ""
        raise ValueError(f"{estimator}: {collinear} are collinear with the other regressors{effects}; drop them")


def units_nested_in_clusters(unit_codes: np.ndarray, cluster_codes: np.ndarray) -> bool:
    pairs = pd.DataFrame({"u": unit_codes, "g": cluster_codes}).drop_duplicates()
    return not pairs["u"].duplicated().any()


def cluster_codes(frame: pd.DataFrame, cluster: str | None) -> np.ndarray | None:
    return None if cluster is None else pd.factorize(frame[cluster], sort=True)[0]


def estimate(
    design: LinearDesign,
    report: list[str],
    vcov: str,
    estimator: str,
    y: str,
    cluster: str | None,
    alpha: float,
    extra: dict,
) -> EstimationResult:
    """OLS on ``design``, covariance of type ``vcov``, the result for the terms in ``report``."""
    fit = fit_ols(design)
    V, df = covariance(design, fit, vcov)
    idx = [design.names.index(term) for term in report]
    coef, V, df = fit.coef[idx], V[np.ix_(idx, idx)], df[idx]
    se, low, high, p = table_from(coef, V, df, alpha)
    table = pd.DataFrame(
        {"estimate": coef, "se": se, "ci_low": low, "ci_high": high, "p": p, "df": df},
        index=pd.Index(report, name="term"),
    )
    clustered = vcov in CLUSTERED_TYPES
    return EstimationResult(
        table=table,
        nobs=design.nobs,
        vcov_type=vcov,
        estimator=estimator,
        y=y,
        n_clusters=design.n_clusters if clustered else None,
        cluster=cluster if clustered else None,
        vcov=pd.DataFrame(V, index=table.index, columns=table.index),
        alpha=alpha,
        extra=extra,
        design=design,
    )
