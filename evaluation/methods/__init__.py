"""The estimator library: difference in differences and what it needs, usable on its own.

It imports nothing from the study (``evaluation.data``, ``evaluation.study``,
``evaluation.pipeline``): any panel with a unit, a period and an outcome column will
do. Every estimator returns an :class:`EstimationResult` (``table`` with ``estimate,
se, ci_low, ci_high, p, df``); ``docs/methods.md`` is a guide on ``mpdta`` and
``jtrain``, ``docs/estimators.md`` the reference.

Estimators (``evaluation.methods.estimators``)
    :func:`did_2x2`, :func:`twfe`, :func:`event_study`, :func:`att_gt` and
    :func:`aggte` (Callaway & Sant'Anna), :func:`sun_abraham`, :func:`imputation`
    (Borusyak, Jaravel & Spiess), :func:`bacon` (Goodman-Bacon decomposition),
    :func:`simple_att` (CS simple ATT with small-sample inference), :func:`poisson_did`
    (proportional effect in levels with zeros kept, Poisson pseudo-maximum likelihood).
Inference (``evaluation.methods.inference``)
    iid, HC1, CR0, CR1 and CR2 covariances of every linear estimator (``vcov=``) and
    :func:`wild_cluster_bootstrap` for few clusters.
Selection on observables (``evaluation.methods.matching``)
    :func:`propensity_score`, :func:`trim_common_support`,
    :func:`nearest_neighbour_match`, :func:`ipw_weights`, :func:`balance_table`,
    :func:`plot_love`, :func:`matched_did`.
Sensitivity to parallel trends (``evaluation.methods.honest_did``)
    :func:`honest_sensitivity`, :func:`breakdown_value`, :func:`original_cs`,
    :func:`event_study_inputs`, :func:`cs_event_study_inputs`, :func:`plot_sensitivity`
    (Rambachan & Roth 2023, as the R package HonestDiD).
Power (``evaluation.methods.power``)
    :func:`mde`, :func:`mde_curve`, :func:`recommended_design`, :class:`PanelMoments`.
Reading results
    :func:`percent` (log points to percent), :func:`log_points`, :class:`DesignError`
    (data that cannot support an estimate).
"""

from evaluation.methods.errors import DesignError
from evaluation.methods.estimators import (
    AggteResult,
    AttGtResult,
    aggte,
    att_gt,
    bacon,
    did_2x2,
    event_study,
    imputation,
    plot_event_study,
    plot_staggered_event_study,
    poisson_did,
    sun_abraham,
    twfe,
)
from evaluation.methods.estimators.small_sample import simple_att
from evaluation.methods.honest_did import (
    breakdown_value,
    cs_event_study_inputs,
    event_study_inputs,
    honest_sensitivity,
    original_cs,
    plot_sensitivity,
)
from evaluation.methods.inference import FewClustersWarning, wild_cluster_bootstrap
from evaluation.methods.matching import (
    balance_table,
    ipw_weights,
    matched_did,
    nearest_neighbour_match,
    plot_love,
    propensity_score,
    trim_common_support,
)
from evaluation.methods.power import PanelMoments, mde, mde_curve, recommended_design
from evaluation.methods.results import EstimationResult, log_points, percent

__all__ = [
    "AggteResult", "AttGtResult", "DesignError", "EstimationResult", "FewClustersWarning", "PanelMoments",
    "aggte", "att_gt", "bacon", "balance_table", "breakdown_value", "cs_event_study_inputs", "did_2x2",
    "event_study", "event_study_inputs", "honest_sensitivity", "imputation", "ipw_weights", "log_points",
    "matched_did", "mde", "mde_curve", "nearest_neighbour_match", "original_cs", "percent", "plot_event_study",
    "plot_love", "plot_sensitivity", "poisson_did", "plot_staggered_event_study", "propensity_score", "recommended_design",
    "simple_att", "sun_abraham", "trim_common_support", "twfe", "wild_cluster_bootstrap",
]
