"""Counterfactual impact evaluation of Piedmont's Poli di Innovazione.

Layers, in the one direction data flows:
``programme`` (published figures) -> ``contract`` (validated, hashed data) and
``synthetic`` (default data) -> ``design`` (analysis samples) -> ``estimators`` /
``inference`` (tested estimators, common ``results`` type) -> ``config`` / ``runner``
(papermill over study.yml) -> ``report`` (assembly and rendering).
"""

__version__ = "0.1.0"
