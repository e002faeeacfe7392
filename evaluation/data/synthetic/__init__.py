"""Synthetic default data, calibrated to the published programme figures.

EVERY NUMBER THIS GENERATOR WRITES IS SYNTHETIC. The data imitate the shape of the
Poli di Innovazione programme so that the study runs end to end without the
confidential firm data; they are not observations of any real firm.

``generate(out_dir, seed)`` writes the four contract files (see
:mod:`evaluation.data.contract` and ``data/README.md``) plus ``truth.csv`` (the true effect
of every funded firm-year), byte-identical for the same arguments, atomically;
``python -m evaluation.data.synthetic OUT_DIR`` does the same from the command line.
The data-generating process is documented in ``parameters`` and ``data/README.md``.

``parameters``    the data-generating process, every constant it draws with, the true effect
``firms``         pole members and non-member enterprises, their employment level
``applications``  the two calls: applicants, projects, scores, dates, costs and grants
``panel``         the firm-year outcomes and the true effect they carry
``simulation``    ``simulate``: all tables in memory, drawn in a fixed order
``writing``       the files' bytes, atomic replacement of the folder, ``generate``, the CLI
"""

from evaluation.data.synthetic.firms import member_type_counts
from evaluation.data.synthetic.parameters import (
    CALL_YEAR,
    DEFAULT_SEED,
    EFFECT_MAX,
    INTENSITY_HALF,
    INTENSITY_YEARS,
    OUTCOMES,
    RAMP_YEARS,
    START_YEARS,
    TRUTH_COLUMNS,
    true_effect,
)
from evaluation.data.synthetic.simulation import SyntheticData, simulate
from evaluation.data.synthetic.writing import generate

__all__ = [
    "DEFAULT_SEED",
    "OUTCOMES",
    "EFFECT_MAX",
    "INTENSITY_HALF",
    "INTENSITY_YEARS",
    "RAMP_YEARS",
    "CALL_YEAR",
    "START_YEARS",
    "true_effect",
    "member_type_counts",
    "simulate",
    "generate",
    "SyntheticData",
    "TRUTH_COLUMNS",
]
