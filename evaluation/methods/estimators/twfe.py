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
    frame, codes = _prepare(data, y, regressors, unit, time, weights, cluster, "twfe")
    columns = [frame[name].to_numpy(float) for name in regressors]
    return fit_panel(frame, codes, columns, regressors, y, unit, time, time_effects, weights, vcov,
                     cluster or unit, alpha, "twfe", extra={})


def _prepare(data, y, regressor_columns, unit, time, weights, cluster, estimator):
    """The complete rows and their :func:`_panel.panel_codes` (duplicate pairs raise)."""
    used = [y, *regressor_columns, unit, time] + [c for c in (weights, cluster) if c]
    frame = _panel.complete_rows(data, used, estimator)
    return frame, _panel.panel_codes(frame, unit, time)


def fit_panel(
    frame: pd.DataFrame,
    codes,
    regressor_columns: list[np.ndarray],
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
    """Absorb the effects, check rank, fit and build the result (shared with event_study, sun_abraham).

    ``codes`` are the frame's :func:`_panel.panel_codes`. For iid, HC1, CR0 and CR1 the
    regression runs on ``y`` and the regressors net of unit and period effects
    (:func:`_panel.absorb_effects`): by Frisch-Waugh-Lovell the slopes, residuals and
    slope covariances equal those with explicit period dummies (whose number counts in
    K). CR2 needs the design with the dummies (:func:`_panel.dummy_design`); for the
    other types the result builds it only when the wild bootstrap asks for it.
    """
    w = _panel.check_weights(frame, weights) if weights else None
    (unit_codes, units), (time_codes, periods) = codes
    n_periods = len(periods)
    time_codes = time_codes if time_effects else None
    n_user = len(regressor_names)
    dummy_names = [f"{time}={p}" for p in periods[1:]] if time_effects else []
    names = list(regressor_names) + dummy_names
    clusters = unit_codes if cluster == unit else _panel.cluster_codes(frame, cluster)
    nested = cluster == unit or _panel.units_nested_in_clusters(unit_codes, clusters)

    columns = [frame[y].to_numpy(float), *regressor_columns]

    def linear_design(values, names, n_partialled):
        return LinearDesign(X=values[:, 1:], y=values[:, 0], names=names, clusters=clusters,
                            n_absorbed=len(units), absorbed_nested=nested, weighted=w is not None,
                            n_partialled=n_partialled)

    def with_dummies():
        return linear_design(_panel.dummy_design(columns, unit_codes, time_codes, n_periods, w), names, 0)

    scale_before = np.sqrt([float(c @ c) for c in regressor_columns]
                           + (list(np.bincount(time_codes)[1:]) if time_effects else []))
    check_order = list(range(n_user, len(names))) + list(range(n_user))

    def check(gram):
        _panel.check_rank(gram, scale_before, names, check_order, estimator, within=True)

    if vcov == "CR2":
        design = with_dummies()
        check(design.X.T @ design.X)
        keep = None
    else:
        values = _panel.absorb_effects(columns, unit_codes, time_codes, n_periods, w, check)
        design = linear_design(values, list(regressor_names), len(dummy_names))
        keep = with_dummies
    extra = {**extra, "n_units": design.n_absorbed, "time_effects": bool(time_effects),
             "weights": weights}
    return _panel.estimate(design, list(regressor_names), vcov, estimator, y, cluster, alpha, extra, keep)
