r"""The synthetic generator's parameters, the data-generating process they enter, and
the true effect.

Every constant the generator draws with is here, by the part of the process it
belongs to (the true effect, the calls, the organisations, the outcomes); the
process itself is documented below and in ``data/README.md``. The other modules of
:mod:`evaluation.data.synthetic` implement it: ``firms``, ``applications``, ``panel``.

Data-generating process
=======================

Organisations (``firms.csv``)
-----------------------------
* 1,194 pole members (``programme.MEMBERS_TOTAL``): exactly 858 SMEs, 133 large
  firms and 60 research organisations (``programme.MEMBERS_JUNE_2017``), and 143
  "other" organisations: the source's 43 others plus the 100 members its total counts
  but its breakdown leaves out (see ``programme.MEMBERS_NOT_BROKEN_DOWN``); pole drawn with probabilities
  ``POLE_WEIGHTS`` (unequal pole sizes); ``member_since`` in 2009-2017 with
  probabilities ``MEMBER_SINCE_P`` (most joined when the poles started, 2009-2010).
* ``n_nonmembers`` enterprises (default 3,000) with ``pole = none``: 4% large, the
  rest SMEs.
* SME size class: members micro/small/medium = 0.30/0.42/0.28, non-members
  0.45/0.40/0.15. Large firms are ``large``; research organisations have no size
  class; "other" organisations are micro or small half of the time, else empty.
* ATECO 2007 division: members by pole (``POLE_SECTORS``), non-members from a broad
  regional mix (``NONMEMBER_SECTORS``); research organisations 72/85, others 94/70/82.
* Province: ``PROVINCE_P`` (Torino about half).
* Unobserved firm effect :math:`\alpha_i \sim N(0, 1)`.

Outcomes (``panel.csv``), enterprises only, years ``first_year..last_year``
---------------------------------------------------------------------------
For firm *i* of size class *s* in year *t* (untreated potential outcomes):

.. math::

   \log L_{it} &= \ell_i + \gamma^L_{s t} + e^L_{it} \\
   \log T_{it} &= \ell_i + p_i + \gamma^T_{s t} + e^T_{it} + 0.5\, e^L_{it} \\
   \log V_{it} &= \ell_i + p_i + v_i + \gamma^V_{s t} + e^T_{it} + 0.5\, e^L_{it} + e^V_{it} \\
   \log R_{it} &= \ell_i + p_i + r_i + \gamma^R_{s t} + e^T_{it} + 0.5\, e^L_{it} + e^R_{it}

* employment level :math:`\ell_i = \log lo_s + u_i (\log hi_s - \log lo_s)` with
  :math:`u_i = \Phi(0.4\alpha_i + 0.92 z_i)` and class bounds micro [1.5, 9.5], small
  [10, 49.5], medium [50, 249.5]; large firms :math:`250 e^{E_i}`,
  :math:`E_i \sim \mathrm{Exp}(1)` capped at 20,000 AWU.
* turnover per AWU :math:`p_i = \log 140{,}000 + 0.25\alpha_i + c_s + 0.4\,\mathrm{trade}_i
  + N(0, 0.3^2)`, :math:`c_s` = -0.2/0/0.1/0.25 (micro/small/medium/large).
* value-added share :math:`v_i = \log(0.25 + 0.15\,\Phi(0.5\alpha_i + 0.87 z'_i))`
  (25-40% of turnover, never negative).
* R&D intensity :math:`r_i = \log \min(0.25, 0.012\, e^{0.35\alpha_i + 0.4\,\mathrm{KI}_i
  + 0.3\,\mathrm{member}_i + N(0, 0.5^2)})`; R&D is zero for firms that do no R&D
  (probability of doing R&D 0.30 + 0.20 KI + 0.05 size rank + 0.20 member; every
  applicant does R&D). KI = manufacturing (ATECO 10-33), ICT (58-63) or R&D (72).
* time effects by size class, :math:`\gamma^k_{st} = c_k M_{st} + d^k_s (t - t_0)`,
  with :math:`M_{st}` the cumulated macro growth path ``MACRO_GROWTH`` (2012-13
  recession, 2020 Covid drop scaled by ``COVID_AMPLITUDE[s]``: 1.2/1.1/1.0/0.9),
  :math:`c_k` = ``MACRO_LOADING`` (turnover 1, employees 0.4, value added 1.2, R&D
  0.8) and size-class trends :math:`d_s` = ``SIZE_TREND`` (-0.005/-0.0015/+0.002/+0.004
  per year; half of that for employees). Trends differ mildly by size class and do
  not depend on anything else, so parallel trends hold conditional on size class.
* AR(1) noise :math:`e^k_{it} = 0.6 e^k_{i,t-1} + \sqrt{1-0.6^2}\,\sigma_k \eta_{it}`,
  stationary from the first year, :math:`\sigma` = ``NOISE_SD`` (turnover 0.10,
  employees 0.06, value added 0.08, R&D 0.30).

Applications (``applications.csv``) and selection
-------------------------------------------------
* Linea A (call 2016): members (SME or large, ``member_since <= 2016``). Linea B
  (call 2017): non-members. Each firm applies at most once.
* Who applies: weighted sampling without replacement (Gumbel top-k) with
  :math:`\log w_i = 0.7\alpha_i + a_s + 0.5\,\mathrm{KI}_i + 0.3\,\mathrm{TO}_i`,
  :math:`a_s` = -0.9/-0.2/0.3/0.6.
* Merit: firm quality :math:`q_i = 0.8\alpha_i + 0.15\,\mathrm{rank}_s + N(0, 0.6^2)`.
  The 221 (A) / 70 (B) applicants with the highest :math:`q` form the 75 / 34 funded
  projects, the others the 38 / 19 unfunded projects. Project score
  :math:`= 60 + 12(\bar q_p - c)` (clipped to [0, 100], 2 decimals), with *c* between
  the funded and unfunded quality, so projects scoring at least 60 are exactly the
  funded ones (a sharp threshold) and the score correlates with the firm effect.
* Project sizes: funded A 2-8 firms summing to 221, funded B 2-5 summing to 70,
  unfunded A ``2 + Poisson(1)``, B ``2 + Poisson(0.15)``. Every project has an SME
  (so a large firm never applies without one); the lead is the firm with the
  largest share of the cost; project pole = lead's pole (Linea A) or the pole of
  the lead's sector (Linea B).
* Cost: project cost = 300,000 EUR + an extra share, funded extras scaled so that
  funded investment sums exactly to the published total (whole euros, largest
  remainder rounding); partners' shares proportional to :math:`L^{0.4}` times
  log-normal noise. Grants: rate 0.55/0.52/0.47/0.35 (micro/small/medium/large) times
  log-normal noise, rescaled and water-filled under the cap
  ``floor(0.6 * cost)`` to sum exactly to the published grants.
* Dates: start on the first of a month, Linea A 2017-2018, Linea B 2018-2019
  (planned dates for unfunded projects from the same ranges); duration 12-24 months
  (funded 18-24); end = start + months - 1 day.

True effect (``truth.csv``)
---------------------------
The effect rises with grant intensity, the grant relative to the size of the firm, so
it is concentrated in small firms, as the Italian evidence suggests (Bronzini and
Iachini 2014 find effects of R&D grants in small firms and none in large ones). For
funded firm *i* (of either line) with grant intensity

.. math::

   I_i = \frac{\text{grant}_i}{\text{mean turnover of } i \text{ in the three years before the call}}

(untreated turnover, as observed in ``panel.csv``; the years of the panel among the
three), in year *t* with event time :math:`e = t - \text{start year} \ge 0`, the log
outcome *k* is raised by

.. math::

   \tau_k(I, e) = \beta_k \cdot \frac{I}{I + I_{1/2}} \cdot \min\{1, (e + 1)/3\}

with :math:`\beta` = ``EFFECT_MAX`` (turnover 0.20, employees 0.12, value added
0.25, R&D 0.50: the effect at very high intensity), :math:`I_{1/2}` =
``INTENSITY_HALF`` = 0.02 (a grant worth 2% of a year's turnover gets half of it). The
two lines differ only through their firms' intensities. At the default calibration a
micro firm (median intensity about 0.1) gets about 0.8 of the maximum, a small one
about 0.45, a medium one 0.15 and a large one 0.05; the average true effect on
turnover of Linea A's funded firms from the third year on is about 6%, near the +6.2%
over three years IRES Piemonte (2020) found for pole members, and about 9% for Linea
B's smaller, more intensely funded firms. The effect builds up over three years (1/3, 2/3, then
full). Before the start year and for every non-funded firm the effect is zero.
``truth.csv`` has one row per funded firm, year from the start year on, and outcome.
"""

from __future__ import annotations

import numpy as np

from evaluation.data import programme

GENERATOR = "evaluation.data.synthetic"
FORMER_GENERATORS = ("evaluation.synthetic",)
"""Names earlier versions wrote into dataset.json: their folders may be regenerated too."""
GENERATOR_VERSION = "2"
DEFAULT_SEED = 20170601
DEFAULT_NONMEMBERS = 3000

OUTCOMES: tuple[str, ...] = ("turnover_eur", "employees", "value_added_eur", "rd_expenditure_eur")
SIZES: tuple[str, ...] = programme.SIZE_CLASSES  # micro, small, medium, large
SIZE_RANK = {s: i for i, s in enumerate(SIZES)}

# --- true effect ------------------------------------------------------------------
EFFECT_MAX: dict[str, float] = {
    "turnover_eur": 0.20,
    "employees": 0.12,
    "value_added_eur": 0.25,
    "rd_expenditure_eur": 0.50,
}
"""The true log effect at very high grant intensity, by outcome."""
INTENSITY_HALF = 0.02
"""The grant intensity (grant / pre-call yearly turnover) that gets half of ``EFFECT_MAX``."""
INTENSITY_YEARS = 3
"""Pre-call years whose mean turnover is the denominator of grant intensity."""
RAMP_YEARS = 3

# --- calls --------------------------------------------------------------------------
CALL_YEAR: dict[str, int] = {"A": 2016, "B": 2017}
START_YEARS: dict[str, tuple[int, int]] = {"A": (2017, 2018), "B": (2018, 2019)}
START_YEAR_P: dict[str, tuple[float, float]] = {"A": (0.6, 0.4), "B": (0.55, 0.45)}
PROJECT_SIZE_RANGE: dict[str, tuple[int, int]] = {"A": (2, 8), "B": (2, 5)}
UNFUNDED_EXTRA_POISSON: dict[str, float] = {"A": 1.0, "B": 0.15}
GRANT_RATE: dict[str, float] = {"micro": 0.55, "small": 0.52, "medium": 0.47, "large": 0.35}

# --- organisations ------------------------------------------------------------------
POLE_WEIGHTS: dict[str, float] = {
    "Agrifood": 0.13, "Biopmed": 0.11, "CGreen": 0.15, "Clever": 0.17,
    "MESAP": 0.21, "Pointex": 0.07, "ICT": 0.16,
}
MEMBER_SINCE_P: dict[int, float] = {
    2009: 0.30, 2010: 0.14, 2011: 0.10, 2012: 0.09, 2013: 0.08,
    2014: 0.08, 2015: 0.08, 2016: 0.07, 2017: 0.06,
}
SME_SIZE_P = {"member": (0.30, 0.42, 0.28), "nonmember": (0.45, 0.40, 0.15)}
NONMEMBER_LARGE_SHARE = 0.04
PROVINCE_P: dict[str, float] = {
    "TO": 0.50, "CN": 0.14, "AL": 0.09, "NO": 0.08, "AT": 0.05, "BI": 0.05, "VC": 0.04, "VB": 0.05,
}
POLE_SECTORS: dict[str, dict[str, float]] = {
    "Agrifood": {"10": 0.55, "11": 0.15, "01": 0.15, "28": 0.05, "46": 0.10},
    "Biopmed": {"21": 0.30, "32": 0.25, "72": 0.25, "26": 0.10, "86": 0.10},
    "CGreen": {"20": 0.35, "22": 0.30, "38": 0.15, "24": 0.10, "71": 0.10},
    "Clever": {"35": 0.30, "27": 0.25, "43": 0.20, "71": 0.15, "28": 0.10},
    "MESAP": {"28": 0.35, "29": 0.20, "25": 0.20, "26": 0.10, "22": 0.05, "62": 0.10},
    "Pointex": {"13": 0.55, "14": 0.25, "20": 0.10, "46": 0.10},
    "ICT": {"62": 0.50, "63": 0.15, "61": 0.10, "26": 0.10, "58": 0.05, "70": 0.10},
}
NONMEMBER_SECTORS: dict[str, float] = {
    "10": 0.05, "13": 0.02, "14": 0.01, "20": 0.02, "22": 0.03, "25": 0.07, "26": 0.02,
    "27": 0.02, "28": 0.06, "29": 0.03, "32": 0.02, "41": 0.05, "43": 0.08, "45": 0.04,
    "46": 0.12, "47": 0.09, "49": 0.04, "56": 0.05, "62": 0.05, "63": 0.01, "69": 0.04,
    "70": 0.03, "71": 0.04, "73": 0.02, "82": 0.03, "86": 0.01,
}
TRADE_SECTORS = {"45", "46", "47"}
SECTOR_POLE: dict[str, str] = {
    "01": "Agrifood", "10": "Agrifood", "11": "Agrifood", "21": "Biopmed", "32": "Biopmed",
    "86": "Biopmed", "72": "Biopmed", "20": "CGreen", "22": "CGreen", "24": "CGreen",
    "38": "CGreen", "35": "Clever", "27": "Clever", "41": "Clever", "43": "Clever",
    "25": "MESAP", "28": "MESAP", "29": "MESAP", "13": "Pointex", "14": "Pointex",
    "26": "ICT", "58": "ICT", "61": "ICT", "62": "ICT", "63": "ICT",
}

# --- outcomes -----------------------------------------------------------------------
EMPLOYEE_BOUNDS = {"micro": (1.5, 9.5), "small": (10.0, 49.5), "medium": (50.0, 249.5)}
PRODUCTIVITY_EUR = 140_000.0
PRODUCTIVITY_SIZE = {"micro": -0.2, "small": 0.0, "medium": 0.1, "large": 0.25}
MACRO_GROWTH: dict[int, float] = {
    2012: -0.025, 2013: -0.020, 2014: 0.000, 2015: 0.010, 2016: 0.012, 2017: 0.018,
    2018: 0.010, 2019: 0.003, 2020: -0.090, 2021: 0.070, 2022: 0.035,
}
"""Log growth of the macro index in a year (other years: 0.01)."""
COVID_AMPLITUDE = {"micro": 1.2, "small": 1.1, "medium": 1.0, "large": 0.9}
MACRO_LOADING = {"turnover_eur": 1.0, "employees": 0.4, "value_added_eur": 1.2, "rd_expenditure_eur": 0.8}
SIZE_TREND = {"micro": -0.005, "small": -0.0015, "medium": 0.002, "large": 0.004}
NOISE_SD = {"turnover_eur": 0.10, "employees": 0.06, "value_added_eur": 0.08, "rd_expenditure_eur": 0.30}
AR_RHO = 0.6


def is_knowledge_intensive(ateco: np.ndarray) -> np.ndarray:
    """Whether each ATECO division is knowledge-intensive: manufacturing (10-33), ICT
    (58-63) or R&D (72)."""
    a = ateco.astype(int)
    return ((a >= 10) & (a <= 33)) | ((a >= 58) & (a <= 63)) | (a == 72)


TRUTH_COLUMNS: tuple[str, ...] = ("firm_id", "line", "year", "event_time", "outcome", "effect_log")


def true_effect(outcome: str, intensity, event_time) -> np.ndarray | float:
    """The true effect on the log of ``outcome`` for a funded firm with grant
    ``intensity`` (0 before the start year):
    ``EFFECT_MAX[outcome] * I / (I + INTENSITY_HALF) * ramp(event_time)``.
    Vectorised over ``intensity`` and ``event_time``."""
    e = np.asarray(event_time, dtype=float)
    i = np.asarray(intensity, dtype=float)
    ramp = np.where(e >= 0, np.minimum(1.0, (e + 1.0) / RAMP_YEARS), 0.0)
    out = EFFECT_MAX[outcome] * i / (i + INTENSITY_HALF) * ramp
    return float(out) if out.ndim == 0 else out
