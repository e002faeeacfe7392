"""Callaway-Sant'Anna group-time ATTs (``att_gt``) and their aggregations (``aggte``).

Implements, for balanced panels, the estimators of R's ``did`` package (Callaway &
Sant'Anna 2021, ``att_gt(panel = TRUE)`` and ``aggte``) with the 2x2 estimators of
``DRDID`` (Sant'Anna & Zhao 2020) that ``did`` calls for panels, and, for unbalanced
panels (``allow_unbalanced_panel=True``), DRDID's repeated-cross-section estimators as
``did`` applies them. Formulas and conventions: ``docs/estimators.md``.

``results``             the result types and warnings
``preparation``         R ``did``'s sample rules; the balanced (wide) and unbalanced (long) layouts
``panel_2x2``           DRDID's 2x2 estimators for panels, with their influence functions
``cross_section_2x2``   DRDID's 2x2 estimators for repeated cross sections (unbalanced panels)
``inference``           analytic standard errors, multiplier bootstrap, intervals, pre-test
``group_time``          ``att_gt``: the ATT(g,t) cells and their influence functions
``aggregation``         ``aggte``
``plot``                ``plot_staggered_event_study``
"""

from evaluation.methods.estimators.staggered.aggregation import aggte
from evaluation.methods.estimators.staggered.group_time import att_gt
from evaluation.methods.estimators.staggered.plot import plot_staggered_event_study
from evaluation.methods.estimators.staggered.results import AggteResult, AttGtResult, StaggeredWarning, UnbalancedPanelWarning

__all__ = [
    "AggteResult",
    "AttGtResult",
    "StaggeredWarning",
    "UnbalancedPanelWarning",
    "aggte",
    "att_gt",
    "plot_staggered_event_study",
]
