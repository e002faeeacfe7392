"""How numbers appear in the report, by kind: one rule per kind, applied to tables,
figure captions and prose alike. The data (CSV tables, ``results.json``) keep the
numbers; these functions only write them.

Conventions:

* ``estimate``: log points, standard errors, standardised differences, test
  statistics: 3 decimals (0.032, 0.009);
* ``percent`` (and percentage points): 1 decimal; the caller writes the unit, and
  never writes "%" beside log points;
* ``p``: 3 decimals, "< 0.001" below 0.0005 (``p_value`` writes "p = 0.035", "p < 0.001");
* ``eur`` and ``count``: whole numbers with thousands separators (53,400 EUR; 1,006 firms);
* ``m_eur``: millions of EUR, 1 decimal (23.7);
* ``year``: plain (2017, never 2,017);
* ``df``: degrees of freedom, whole; infinite ones (a normal or chi-squared reference) "∞";
* ``bool``: yes / no;
* ``number``: anything else, as stored, at most 3 decimals, thousands separators;
* ``text``: a table column of words, printed as it is (a "2015" there stays "2015").

Negative numbers take the true minus sign (U+2212), and a number that rounds to zero is
never negative ("0.0", not "-0.0"). Missing values (None, NaN) are "n/a".
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

MINUS = "\u2212"
INFINITY = "\u221e"
MISSING = "n/a"
DECIMALS = {"estimate": 3, "percent": 1, "m_eur": 1, "p": 3}
WHOLE = ("eur", "count", "year", "df")
KINDS = (*DECIMALS, *WHOLE, "bool", "number", "text")


def _missing(value: Any) -> bool:
    """None, NaN or pandas' NA."""
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _signed(text: str) -> str:
    """``text`` of a formatted number with the true minus; a rounded zero loses its sign."""
    if text.startswith("-"):
        digits = text[1:]
        return digits if not any(c in "123456789" for c in digits) else MINUS + digits
    return text


def fixed(value: float, decimals: int, separators: bool = True) -> str:
    """``value`` with ``decimals`` decimals, thousands separators and the true minus."""
    if math.isinf(value):
        return ("" if value > 0 else MINUS) + INFINITY
    return _signed(f"{value:{',' if separators else ''}.{decimals}f}")


def number(value: Any, kind: str = "number") -> str:
    """``value`` written by the rule of ``kind`` (see the module)."""
    if kind not in KINDS:
        raise ValueError(f"unknown number kind {kind!r}; one of {KINDS}")
    if _missing(value):
        return MISSING
    if isinstance(value, bool) or kind == "bool":
        return "yes" if value else "no"
    if isinstance(value, str) or kind == "text":
        return str(value)
    if kind == "p":
        return "< 0.001" if value < 0.0005 else fixed(value, 3)
    if kind in DECIMALS:
        return fixed(float(value), DECIMALS[kind])
    if kind == "year":
        return str(int(value))
    if kind == "df":
        return INFINITY if math.isinf(value) else fixed(float(value), 0)
    if kind in WHOLE or isinstance(value, int) or float(value).is_integer():
        return fixed(float(value), 0)
    return _signed(f"{round(float(value), 3):,}")


def estimate(value: Any) -> str:
    return number(value, "estimate")


def percent(value: Any) -> str:
    """A percent with its sign: "6.2%"."""
    return MISSING if _missing(value) else number(value, "percent") + "%"


def points(value: Any) -> str:
    """Percentage points: "1.5 percentage points"."""
    return MISSING if _missing(value) else number(value, "percent") + " percentage points"


def p_value(p: Any) -> str:
    """A p-value as prose quotes it: "p = 0.035", "p < 0.001"."""
    text = number(p, "p")
    return "p " + text if text.startswith("<") else f"p = {text}"


def count(value: Any) -> str:
    return number(value, "count")


def eur(value: Any) -> str:
    """EUR amounts, whole, with separators; the caller writes "EUR"."""
    return number(value, "eur")


def year(value: Any) -> str:
    return number(value, "year")


def cell(value: Any, kind: str = "number") -> str:
    """A table cell: blank when missing, text as it is (a number written as text, such as
    "-2400" beside "unbounded", by the rule of ``kind``), numbers by ``kind``."""
    if _missing(value):
        return ""
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, str) and kind != "text":
        try:
            parsed = float(value.replace(",", ""))
        except ValueError:
            return value
        if not math.isfinite(parsed) and kind != "df":
            return value
        value = int(parsed) if parsed.is_integer() and "." not in value else parsed
    return number(value, kind)
