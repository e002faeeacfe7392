"""Callaway-Sant'Anna group-time ATTs (``att_gt``) and their aggregations (``aggte``)."""

from evaluation.methods.estimators.staggered.preparation import (
    AggteResult,
    AttGtResult,
    StaggeredWarning,
    UnbalancedPanelWarning,
    aggte,
    att_gt,
    plot_staggered_event_study,
)

__all__ = [
    "AggteResult",
    "AttGtResult",
    "StaggeredWarning",
    "UnbalancedPanelWarning",
    "aggte",
    "att_gt",
    "plot_staggered_event_study",
]
