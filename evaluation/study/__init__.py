"""The Piedmont study: from validated data to the evaluation's estimates.

``design`` (analysis samples of applicants, outcomes in logs) -> ``comparison``
(comparison groups and pre-call covariates) -> ``analysis`` (first 2x2, TWFE and event
study), ``impact`` (the evaluation proper: several estimators, groups and lines),
``robustness`` (estimators, placebos, HonestDiD) -> ``observatory`` (the European Cluster
Observatory's assessment beside the evidence) and ``pilots`` (power of the pilots'
evaluation); ``overview`` describes the data. Estimation is delegated to
:mod:`evaluation.methods`.
"""
