"""The canonical 2x2 difference in differences."""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation.methods.estimators import _panel
from evaluation.methods.inference import LinearDesign
from evaluation.methods.results import EstimationResult

DID_TERM = "treated:post"
"""Name of the difference-in-differences term in ``.table``."""


def _binary(frame: pd.DataFrame, column: str) -> np.ndarray:
    values = frame[column]
    if values.dtype == bool:
        values = values.astype(int)
    bad = ~values.isin([0, 1])
    if bad.any():
        raise ValueError(f"did_2x2: column {column!r} must be 0/1 or bool; rows {_panel._few(frame.index[bad])} are not")
    if values.nunique() < 2:
        raise ValueError(f"did_2x2: column {column!r} has no variation (always {values.iloc[0]})")
    return values.to_numpy(float)


def did_2x2(
    data: pd.DataFrame,
    y: str,
    treated: str,
    post: str,
    cluster: str | None = None,
    vcov: str | None = None,
    alpha: float = 0.05,
) -> EstimationResult:
    """OLS of ``y`` on 1, treated, post and treated x post over observations.

    The ``"treated:post"`` estimate equals
    ``(mean[T, post] - mean[T, pre]) - (mean[C, post] - mean[C, pre])``; the four
    cell means and counts are in ``extra["cells"]``. ``treated`` and ``post`` are 0/1
    or bool columns. ``vcov`` defaults to ``"CR1"`` when ``cluster`` is given and to
    ``"HC1"`` otherwise. Terms: ``Intercept, treated, post, treated:post``.
    """
    used = [y, treated, post] + ([cluster] if cluster else [])
    frame = _panel.complete_rows(data, used, "did_2x2")
    d, t = _binary(frame, treated), _binary(frame, post)
    outcome = frame[y].to_numpy(float)
    cells = {}
    for name, (dv, tv) in {"treated_post": (1, 1), "treated_pre": (1, 0),
                           "control_post": (0, 1), "control_pre": (0, 0)}.items():
        in_cell = (d == dv) & (t == tv)
        if not in_cell.any():
            raise ValueError(f"did_2x2: no observation with {treated}={dv} and {post}={tv}")
        cells[name] = {"mean": float(outcome[in_cell].mean()), "n": int(in_cell.sum())}
    names = ["Intercept", "treated", "post", DID_TERM]
    X = np.column_stack([np.ones_like(d), d, t, d * t])
    design = LinearDesign(X=X, y=outcome, names=names, clusters=_panel.cluster_codes(frame, cluster))
    vcov = vcov or ("CR1" if cluster else "HC1")
    extra = {"cells": cells, "treated": treated, "post": post}
    return _panel.estimate(design, names, vcov, "did_2x2", y, cluster, alpha, extra)
