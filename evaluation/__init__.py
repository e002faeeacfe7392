"""Counterfactual impact evaluation of Piedmont's Poli di Innovazione.

Four layers, imports only downward:

``evaluation.data``     the contract, the programme's figures, the synthetic default data;
``evaluation.methods``  the estimator library, usable on its own (imports no other layer);
``evaluation.study``    analysis samples, comparison groups, the evaluation, robustness,
                        the Observatory's assessment;
``evaluation.pipeline`` study.yml, notebook runs through papermill, report assembly and
                        rendering, the command line (``python -m evaluation``).
"""

__version__ = "0.1.0"
