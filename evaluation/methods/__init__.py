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
Dose-response (``evaluation.methods.dose_response``)
    :func:`dose_response`: difference in differences with a continuous treatment
    (Callaway, Goodman-Bacon & Sant'Anna 2024), ATT(d), ACRT(d), uniform bands.
Power (``evaluation.methods.power``)
    :func:`mde`, :func:`mde_curve`, :func:`recommended_design`, :class:`PanelMoments`.
Reading results
    :func:`percent` (log points to percent), :func:`log_points`, :class:`DesignError`
    (data that cannot support an estimate).
"""

import importlib

_WHERE = {
    "AggteResult": "evaluation.methods.estimators",
    "AttGtResult": "evaluation.methods.estimators",
    "DesignError": "evaluation.methods.errors",
    "EstimationResult": "evaluation.methods.results",
    "FewClustersWarning": "evaluation.methods.inference",
    "PanelMoments": "evaluation.methods.power",
    "aggte": "evaluation.methods.estimators",
    "att_gt": "evaluation.methods.estimators",
    "bacon": "evaluation.methods.estimators",
    "balance_table": "evaluation.methods.matching",
    "breakdown_value": "evaluation.methods.honest_did",
    "cs_event_study_inputs": "evaluation.methods.honest_did",
    "did_2x2": "evaluation.methods.estimators",
    "dose_response": "evaluation.methods.dose_response",
    "event_study": "evaluation.methods.estimators",
    "event_study_inputs": "evaluation.methods.honest_did",
    "honest_sensitivity": "evaluation.methods.honest_did",
    "imputation": "evaluation.methods.estimators",
    "ipw_weights": "evaluation.methods.matching",
    "log_points": "evaluation.methods.results",
    "matched_did": "evaluation.methods.matching",
    "mde": "evaluation.methods.power",
    "mde_curve": "evaluation.methods.power",
    "nearest_neighbour_match": "evaluation.methods.matching",
    "original_cs": "evaluation.methods.honest_did",
    "percent": "evaluation.methods.results",
    "plot_event_study": "evaluation.methods.estimators",
    "plot_love": "evaluation.methods.matching",
    "plot_sensitivity": "evaluation.methods.honest_did",
    "plot_staggered_event_study": "evaluation.methods.estimators",
    "poisson_did": "evaluation.methods.estimators",
    "propensity_score": "evaluation.methods.matching",
    "recommended_design": "evaluation.methods.power",
    "simple_att": "evaluation.methods.estimators.small_sample",
    "sun_abraham": "evaluation.methods.estimators",
    "trim_common_support": "evaluation.methods.matching",
    "twfe": "evaluation.methods.estimators",
    "wild_cluster_bootstrap": "evaluation.methods.inference",
}
"""Each public name and the module that defines it. Names load on first use (PEP 562), so
importing one module of the library (say ``evaluation.methods.errors``) does not import
statsmodels, scipy and matplotlib through every estimator."""

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
