"""HonestDiD: sensitivity of event-study conclusions to violations of parallel trends.

Rambachan & Roth (2023), "A More Credible Approach to Parallel Trends", *Review of
Economic Studies* 90(5), 2555-2591 ("RR" below), implemented from the paper and the
documented behaviour of the authors' R package ``HonestDiD`` (no code copied).

Setting and conventions
-----------------------
``betahat`` stacks the event-study coefficients in time order, the ``num_pre``
pre-period coefficients first (event times ``-num_pre, ..., -1`` relative to the
omitted reference period, which RR call period 0), then the ``num_post``
post-period coefficients (periods ``1, ..., num_post``). ``sigma`` is their
covariance. RR decompose ``beta = delta + (0, tau_post)``: ``delta`` is the
difference in trends (the violation of parallel trends), normalised to
``delta_0 = 0`` in the reference period, and ``tau_post`` the dynamic effects. The
target is ``theta = l_vec' tau_post`` (default ``l_vec = e_1``, the first
post-period; ``l_vec="average"`` gives the average of the post periods).

Files
-----
``sensitivity``
    the public entry points: :func:`honest_sensitivity`, :func:`original_cs`,
    :func:`breakdown_value`, :func:`event_study_inputs`, :func:`cs_event_study_inputs`,
    :func:`plot_sensitivity`.
``restrictions``
    ``Delta^SD(M)`` and ``Delta^RM(Mbar)`` as polyhedra, and the identified set.
``fixed_length_ci``
    the optimal fixed-length confidence interval (``"FLCI"``, default for SD).
``arp_test_inversion``
    the ARP conditional and hybrid tests (``"Conditional"``, ``"C-LF"``, default for
    RM) and :func:`robust_interval`, the robust interval at one ``M``.
``r_random_draws``
    the Monte Carlo draws, optionally R's own (``r_compat=True``).
``arguments``
    checks of the arguments; the methods each restriction allows.
"""

from evaluation.methods.honest_did.arp_test_inversion import arp_test, robust_interval
from evaluation.methods.honest_did.fixed_length_ci import flci
from evaluation.methods.honest_did.r_random_draws import r_normal_draws
from evaluation.methods.honest_did.restrictions import identified_set, rm_polyhedra, sd_constraints
from evaluation.methods.honest_did.sensitivity import (
    RESULT_COLUMNS,
    breakdown_value,
    cs_event_study_inputs,
    event_study_inputs,
    honest_sensitivity,
    original_cs,
    plot_sensitivity,
)

__all__ = [
    "honest_sensitivity",
    "original_cs",
    "breakdown_value",
    "robust_interval",
    "arp_test",
    "flci",
    "identified_set",
    "sd_constraints",
    "rm_polyhedra",
    "event_study_inputs",
    "cs_event_study_inputs",
    "plot_sensitivity",
    "r_normal_draws",
    "RESULT_COLUMNS",
]
