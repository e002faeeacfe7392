"""The result types of ``att_gt`` and ``aggte`` and the warnings of the staggered estimators."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evaluation.methods.estimators.staggered.inference import MultiplierDraws, SampleInfluence
from evaluation.methods.results import EstimationResult, to_plain


class UnbalancedPanelWarning(UserWarning):
    """Units not observed in every period were dropped (R ``did``, ``panel=TRUE``)."""


class StaggeredWarning(UserWarning):
    """Units or cells dropped for a reason R ``did`` also warns about."""



@dataclass
class AttGtResult(EstimationResult):
    """``att_gt`` result: an :class:`EstimationResult` with influence functions.

    ``table`` is indexed by ``term`` (``"ATT(g,t)"``) with columns ``group, time, att,
    se, ci_low, ci_high, p, post``; ``ci_low, ci_high`` are a uniform band when
    ``n_boot > 0`` (``extra["crit"]`` is its critical value), else pointwise normal.
    ``influence`` is the ``n x k`` influence-function matrix (``did``'s ``inffunc``,
    one row per unit of ``units``), built on access from ``sample_influence`` (the same
    matrix kept per 2x2 sample, :class:`.SampleInfluence`); ``multiplier`` the bootstrap's draws
    (:class:`.MultiplierDraws`, with ``n_boot > 0``); ``pretest`` the Wald pre-test; the arrays needed by
    :func:`aggte` are kept as attributes and not serialised.
    """

    sample_influence: SampleInfluence | None = field(default=None, repr=False, compare=False)
    multiplier: MultiplierDraws | None = field(default=None, repr=False, compare=False)
    units: np.ndarray | None = field(default=None, repr=False, compare=False)
    unit_cohort: np.ndarray | None = field(default=None, repr=False, compare=False)
    unit_weights: np.ndarray | None = field(default=None, repr=False, compare=False)
    unit_cluster: np.ndarray | None = field(default=None, repr=False, compare=False)
    pretest: dict[str, Any] = field(default_factory=dict)

    @property
    def influence(self) -> np.ndarray | None:
        return None if self.sample_influence is None else self.sample_influence.dense()

    @property
    def params(self) -> pd.Series:
        return self.table["att"]

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["pretest"] = to_plain(self.pretest)
        return out


@dataclass
class AggteResult(EstimationResult):
    """``aggte`` result: ``table`` with ``key, att, se, ci_low, ci_high, p`` (and the
    pointwise interval), ``overall_att``, ``overall_se`` and the aggregate influence
    functions (``influence``, ``overall_influence``; not serialised)."""

    kind: str = "simple"
    overall_att: float = float("nan")
    overall_se: float = float("nan")
    influence: np.ndarray | None = field(default=None, repr=False, compare=False)
    overall_influence: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def params(self) -> pd.Series:
        return self.table["att"]

    def summary(self) -> str:
        return (
            f"{super().summary()}\n\noverall ({self.kind}): att = {self.overall_att:.6g}, "
            f"se = {self.overall_se:.6g}"
        )

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.update(kind=self.kind, overall_att=to_plain(self.overall_att),
                   overall_se=to_plain(self.overall_se))
        return out
