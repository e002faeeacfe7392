"""Two-way fixed effects regression (unit and, optionally, period effects)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation.methods.estimators import _panel
from evaluation.methods.inference import LinearDesign
from evaluation.methods.results import EstimationResult


def twfe(
    data: pd.DataFrame,
    y: str,
    regressors: list[str],
    unit: str,
    time: str,
    time_effects: bool = True,
    weights: str | None = None,
    vcov: str = "CR1",
    cluster: str | None = None,
    alpha: float = 0.05,
) -> EstimationResult:
    """Regress ``y`` on ``regressors`` with unit fixed effects and (optionally) period effects.

    ``y_it = x_it' b + a_i + d_t + u_it``, estimated by the within transformation
    (identical slopes to OLS with unit and period dummies). ``weights`` names a
    column of positive weights (WLS). ``vcov`` is one of ``iid, HC1, CR0, CR1, CR2``
    (formulas and df in :mod:`evaluation.methods.inference`); ``cluster`` defaults to ``unit``.
    Rows with a missing value in a used column are dropped with a
    ``MissingValuesWarning``. Raises ``ValueError`` for duplicate (unit, time) pairs,
    regressors without within-unit variation or collinear regressors, a single
    cluster. ``.table`` reports ``regressors`` only; period effects are not reported.
    """
    regressors = list(regressors)
    frame, values = _prepare(data, y, regressors, unit, time, weights, cluster, "twfe")
    return fit_panel(frame, values, regressors, y, unit, time, time_effects, weights, vcov,
                     cluster or unit, alpha, "twfe", extra={})


def _prepare(data, y, regressor_columns, unit, time, weights, cluster, estimator):
    used = [y, *regressor_columns, unit, time] + [c for c in (weights, cluster) if c]
    frame = _panel.complete_rows(data, used, estimator)
    _panel.check_unique_pairs(frame, unit, time)
    return frame, frame[regressor_columns].to_numpy(float)


def fit_panel(
    frame: pd.DataFrame,
    regressor_values: np.ndarray,
    regressor_names: list[str],
    y: str,
    unit: str,
    time: str,
    time_effects: bool,
    weights: str | None,
    vcov: str,
    cluster: str,
    alpha: float,
    estimator: str,
    extra: dict,
) -> EstimationResult:
    """Within-transform, check rank, fit and build the result (shared with event_study)."""
    w = _panel.check_weights(frame, weights) if weights else None
    unit_codes = pd.factorize(frame[unit], sort=True)[0]
    X_before, names = regressor_values, list(regressor_names)
    if time_effects:
        dummies, dummy_names = _panel.period_dummies(frame[time], time)
        X_before, names = np.column_stack([X_before, dummies]), names + dummy_names
    stacked = np.column_stack([frame[y].to_numpy(float), X_before])
    within = _panel.demean_by_unit(stacked, unit_codes, w)
    if w is not None:
        within *= np.sqrt(w)[:, None]
    X = within[:, 1:]
    n_user = len(regressor_names)
    check_order = list(range(n_user, X.shape[1])) + list(range(n_user))
    _panel.check_rank(X, X_before, names, check_order, estimator, within=True)
    clusters = _panel.cluster_codes(frame, cluster)
    design = LinearDesign(
        X=X,
        y=within[:, 0],
        names=names,
        clusters=clusters,
        n_absorbed=int(unit_codes.max()) + 1,
        absorbed_nested=_panel.units_nested_in_clusters(unit_codes, clusters),
        weighted=w is not None,
    )
    extra = {**extra, "n_units": design.n_absorbed, "time_effects": bool(time_effects),
             "weights": weights}
    return _panel.estimate(design, list(regressor_names), vcov, estimator, y, cluster, alpha, extra)
