"""Panel estimators: 2x2 DiD, two-way fixed effects and event studies.

Each returns an :class:`evaluation.methods.results.EstimationResult`; the inference
(``vcov``: iid, HC1, CR0, CR1, CR2) is documented in :mod:`evaluation.methods.inference`
and, for users, in ``docs/estimators.md``.
"""

from evaluation.methods.estimators.did import DID_TERM, did_2x2
from evaluation.methods.estimators.event_study import event_study, plot_event_study
from evaluation.methods.estimators.twfe import twfe

__all__ = ["DID_TERM", "did_2x2", "event_study", "plot_event_study", "twfe"]
from evaluation.methods.estimators.staggered import (
    AggteResult,
    AttGtResult,
    aggte,
    att_gt,
    plot_staggered_event_study,
)

__all__ += ["AggteResult", "AttGtResult", "aggte", "att_gt", "plot_staggered_event_study"]
from evaluation.methods.estimators.bacon import bacon
from evaluation.methods.estimators.imputation import imputation
from evaluation.methods.estimators.sun_abraham import sun_abraham

__all__ += ["bacon", "imputation", "sun_abraham"]
from evaluation.methods.estimators.poisson import poisson_did

__all__ += ["poisson_did"]
