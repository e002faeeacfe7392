"""The data contract: what a study data directory must hold, checked and hashed.

A data directory holds four files (``data/README.md`` documents every column: meaning,
unit, type, allowed values, key):

``dataset.json``
    ``{"name": str, "synthetic": bool, "description": str, ...}``; further keys are
    kept (the synthetic generator adds ``seed`` and ``generator``).
``firms.csv``
    one row per organisation, key ``firm_id``.
``applications.csv``
    one row per firm per submitted project, key (``project_id``, ``firm_id``).
``panel.csv``
    firm-year outcomes of enterprises (``firm_type`` SME or large), key
    (``firm_id``, ``year``).

:func:`load_study_data` reads the files deterministically (every field is read as text
first, so ``firm_id`` and ``ateco`` stay strings and ``"01"`` keeps its zero; only an
empty field is missing), validates them in four passes and hashes them:

0. *file* (before any column is looked at): each file is a regular file (a symbolic
   link to one is followed), UTF-8 text (a leading byte-order mark is dropped; any
   line ending, ``\n``, ``\r\n`` or ``\r``), not empty; a CSV has a header line of
   unique, named columns and at least one row, one row per line (no blank line before
   the last row, no quoted field running over several lines, so data row ``i`` is
   always file line ``i + 2``) with as many fields as the header; ``dataset.json``
   is valid JSON without repeated keys;
1. *format* (pandera, on the raw text, ``lazy=True``): the file has exactly the
   contract's columns (missing and unknown extra columns are errors), required fields
   are not empty, numbers/integers/booleans/ISO dates parse, numbers are finite (no
   ``inf``/``nan``, nothing beyond the float range such as ``1e999``), integers have
   at most 18 digits, dates fall in 1900-2100, categorical columns take their allowed
   values (an integer or float column of a quote-free file whose every value is a plain
   number, digits with at most one dot, passes them all: it is told so from its bytes and
   read typed by pandas' parser, :func:`_plain_dtypes`);
2. *values* (pandera on the typed frame, ``lazy=True``, plus pandas checks that involve
   several columns): ranges, unique keys, rules that tie columns of one row or the rows
   of one project together;
3. *cross-table* (pandas): every ``firm_id`` is known, Linea A applicants are pole
   members who joined by the call year, Linea B applicants are not members, the panel
   holds enterprises only.

Every violation raises :class:`ContractError`, whose message names the file, the
column(s), the failing check and the first offending rows as file line numbers (line 1
is the header, so data row ``i`` (0-based) is line ``i + 2``) with their values.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import pandas as pd

from evaluation.data import programme
from evaluation.data.cache import TABLES, read_cache, write_cache

if TYPE_CHECKING:  # pandera (0.4 s to import) is imported where a schema is built, so that
    # reading the study's data cache (evaluation/data/cache.py) never loads it
    import pandera.pandas as pa
    from pandera.errors import SchemaErrors

__all__ = [
    "ContractError",
    "Failure",
    "StudyData",
    "COLUMNS",
    "CONTRACT_FILES",
    "KEYS",
    "ENTERPRISE_TYPES",
    "NO_POLE",
    "GRANT_CAP_TOLERANCE_EUR",
    "load_study_data",
    "cache_study_data",
    "validate_study_data",
    "read_contract_csv",
    "file_sha256",
    "combined_hash",
    "data_file_digests",
]

CONTRACT_FILES: tuple[str, ...] = ("dataset.json", "firms.csv", "applications.csv", "panel.csv")
"""The files a data directory must hold."""
OPTIONAL_FILES: tuple[str, ...] = ("truth.csv",)
"""Files that are hashed when present (the synthetic generator's true effects) but are
not part of the contract an evaluator's own data must meet."""

NO_POLE = "none"
"""``pole`` value of an organisation that is not a member of any pole."""
ENTERPRISE_TYPES: tuple[str, ...] = ("SME", "large")
"""Firm types that have outcomes in ``panel.csv`` and may apply."""
LINES: tuple[str, ...] = ("A", "B")
ROLES: tuple[str, ...] = ("lead", "partner")
SME_SIZE_CLASSES: tuple[str, ...] = ("micro", "small", "medium")
GRANT_CAP_TOLERANCE_EUR = 0.005
"""``grant_eur <= GRANT_CAP_SHARE * investment_eur + 0.005``: half a cent of slack for
amounts rounded to cents."""
YEAR_RANGE = (1900, 2100)
"""Plausible calendar years (``member_since``, ``call_year``, ``year``)."""

KEYS: dict[str, tuple[str, ...]] = {
    "firms.csv": ("firm_id",),
    "applications.csv": ("project_id", "firm_id"),
    "panel.csv": ("firm_id", "year"),
}

# --------------------------------------------------------------------------- columns
# kind: "str" (non-empty text), "cat" (one of `allowed`), "int", "Int64" (nullable int),
# "float", "bool" (true/false), "date" (ISO YYYY-MM-DD), "ateco" (two digits).


@dataclass(frozen=True)
class _Col:
    name: str
    kind: str
    nullable: bool = False
    allowed: tuple[str, ...] | None = None
    checks: tuple[Callable[[], pa.Check], ...] = ()


_POLES_OR_NONE = tuple(programme.POLES) + (NO_POLE,)


def _ge0() -> pa.Check:
    import pandera.pandas as pa

    return pa.Check.ge(0)


def _year() -> pa.Check:
    import pandera.pandas as pa

    return pa.Check.in_range(*YEAR_RANGE)


def _score() -> pa.Check:
    import pandera.pandas as pa

    return pa.Check.in_range(0, 100)


_SPEC: dict[str, tuple[_Col, ...]] = {
    "firms.csv": (
        _Col("firm_id", "str"),
        _Col("firm_type", "cat", allowed=programme.FIRM_TYPES),
        _Col("size_class", "cat", nullable=True, allowed=programme.SIZE_CLASSES),
        _Col("pole", "cat", allowed=_POLES_OR_NONE),
        _Col("member_since", "Int64", nullable=True, checks=(_year,)),
        _Col("ateco", "ateco"),
        _Col("province", "cat", allowed=programme.PROVINCES),
    ),
    "applications.csv": (
        _Col("project_id", "str"),
        _Col("line", "cat", allowed=LINES),
        _Col("pole", "cat", allowed=tuple(programme.POLES)),
        _Col("call_year", "int", checks=(_year,)),
        _Col("firm_id", "str"),
        _Col("role", "cat", allowed=ROLES),
        _Col("score", "float", checks=(_score,)),
        _Col("funded", "bool"),
        _Col("investment_eur", "float", checks=(_ge0,)),
        _Col("grant_eur", "float", checks=(_ge0,)),
        _Col("start_date", "date"),
        _Col("end_date", "date"),
    ),
    "panel.csv": (
        _Col("firm_id", "str"),
        _Col("year", "int", checks=(_year,)),
        _Col("turnover_eur", "float", nullable=True, checks=(_ge0,)),
        _Col("employees", "float", nullable=True, checks=(_ge0,)),
        _Col("value_added_eur", "float", nullable=True),
        _Col("rd_expenditure_eur", "float", nullable=True, checks=(_ge0,)),
    ),
}

COLUMNS: dict[str, tuple[str, ...]] = {f: tuple(c.name for c in cols) for f, cols in _SPEC.items()}
"""The contract's columns per CSV file, in the order the files should have them."""

# Patterns are matched against whole fields (no anchors needed); none matches a line break.
_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_NON_FINITE = r"[+-]?(?i:inf|infinity|nan)"
_INT = r"[+-]?\d+"
_INT64 = r"[+-]?\d{1,18}"
_BOOL = r"(?i:true|false)"
_DATE = r"\d{4}-\d{2}-\d{2}"
_ATECO = r"\d{2}"


_PLAIN_DIGITS = {_NUMBER: (1, None), _INT: (0, None), _INT64: (0, 18)}
"""Patterns every plain value matches, a plain value being ASCII digits with at most this many
dots, at least one digit and at most this many characters: ``_NUMBER`` (``12.5``, ``.5``, ``7.``),
``_INT`` and ``_INT64``."""


def _all_plain(joined: str, regex: str) -> bool:
    """Whether every value of a column (joined by line breaks, none inside a value) is plain for
    ``regex`` (``_PLAIN_DIGITS``), so matches it. Hand-written because Python's ``re`` takes about
    50 ns a character over a column of millions of values, and byte scans with numpy take a
    tenth of that; ``False`` sends the column to the regular expression (the exact check)."""
    if regex not in _PLAIN_DIGITS or not joined.isascii():
        return False
    dots_allowed, max_length = _PLAIN_DIGITS[regex]
    data = joined.encode("ascii")
    if data.translate(None, b"0123456789.\n" if dots_allowed else b"0123456789\n"):
        return False  # another character: a sign, an exponent, a space, a letter
    lines = b"\n" + data + b"\n"
    if b"\n\n" in lines or b"\n.\n" in lines:
        return False  # an empty value or a lone dot: no digit
    raw = np.frombuffer(lines, np.uint8)
    breaks = np.flatnonzero(raw == 10)
    if max_length is not None and np.diff(breaks).max() - 1 > max_length:
        return False
    if dots_allowed:
        line_of_dot = np.searchsorted(breaks, np.flatnonzero(raw == 46))
        if (np.diff(line_of_dot) == 0).any():
            return False  # two dots in one value
    return True


def _matches(s: pd.Series, regex: str) -> pd.Series:
    """Whether each value matches ``regex`` as a whole (missing: False). When every value is
    plain digits (``_all_plain``) or one regex pass over the joined column finds that every
    value matches or none does (the usual cases), a column is checked at once; value by value
    otherwise."""
    values = s.dropna().astype(object).tolist()
    joined = "\n".join(values)
    if joined.count("\n") == len(values) - 1:  # no value holds a line break
        if _all_plain(joined, regex) or re.fullmatch(rf"(?:{regex})(?:\n(?:{regex}))*", joined):
            return s.notna()
        if not re.search(rf"(?m)^(?:{regex})$", joined):
            return pd.Series(False, index=s.index)
    return s.str.fullmatch(regex).fillna(False).astype(bool)


def _is_iso_date(s: pd.Series) -> pd.Series:
    ok = _matches(s, _DATE)
    parsed = pd.to_datetime(s.where(ok), format="%Y-%m-%d", errors="coerce")
    return ok & parsed.notna()


def _date_year_in_range(s: pd.Series) -> pd.Series:
    """A date's year is plausible (dates that are not ISO dates fail another check)."""
    iso = _matches(s, _DATE)
    year = pd.to_numeric(s.where(iso).str[:4], errors="coerce")
    return ~iso | year.between(*YEAR_RANGE)


class _ColumnPasses:
    """``_matches`` of a column and pattern computed once per validation of a frame: the checks
    of a column share its passes (the number checks both need the number pattern, the integer
    checks the integer pattern), each a regular-expression pass over millions of values at a
    regional pool's scale. Keyed by column name, so one instance serves one frame."""

    def __init__(self):
        self._done: dict[tuple[str, str], pd.Series] = {}

    def __deepcopy__(self, memo):
        return self  # pandera copies the schema's checks: they must keep sharing one memo

    def matches(self, s: pd.Series, regex: str) -> pd.Series:
        key = (str(s.name), regex)
        if key not in self._done:
            self._done[key] = _matches(s, regex)
        return self._done[key]

    def non_finite(self, s: pd.Series) -> pd.Series:
        """``inf``/``nan`` spelled out, looked for only among values that are not numbers (both
        number checks ask; computed once)."""
        key = (str(s.name), _NON_FINITE)
        if key not in self._done:
            rest = s.notna() & ~self.matches(s, _NUMBER)
            out = pd.Series(False, index=s.index)
            if rest.any():
                out[rest] = _matches(s[rest], _NON_FINITE).to_numpy()
            self._done[key] = out
        return self._done[key]

    def is_number(self, s: pd.Series) -> pd.Series:
        return self.matches(s, _NUMBER) | self.non_finite(s)

    def float_values(self, s: pd.Series) -> pd.Series:
        """The column's numbers as float64 (NaN where it holds no number); the finite check
        and the conversion of a column that passed both read it (computed once)."""
        key = (str(s.name), "float64")
        if key not in self._done:
            self._done[key] = pd.to_numeric(s.where(self.matches(s, _NUMBER)), errors="coerce").astype("float64")
        return self._done[key]

    def is_finite(self, s: pd.Series) -> pd.Series:
        """Not ``inf``/``nan`` spelled out, and not a number too large for a float (``1e999``);
        text that is no number at all fails the ``number`` check instead."""
        number = self.matches(s, _NUMBER)
        return ~self.non_finite(s) & (~number | np.isfinite(self.float_values(s)))


def _regex_check(regex: str, name: str, passes: _ColumnPasses) -> pa.Check:
    import pandera.pandas as pa

    return pa.Check(lambda s: passes.matches(s, regex), name=name)


def _raw_column(col: _Col, passes: _ColumnPasses) -> pa.Column:
    import pandera.pandas as pa

    checks: list[pa.Check] = []
    if col.kind == "str":
        checks.append(pa.Check.str_length(min_value=1))
    elif col.kind == "cat":
        checks.append(pa.Check.isin(list(col.allowed or ())))
    elif col.kind in ("int", "Int64"):
        checks.append(_regex_check(_INT, "integer", passes))
        checks.append(pa.Check(lambda s: ~passes.matches(s, _INT) | passes.matches(s, _INT64), name="at most 18 digits"))
    elif col.kind == "float":
        checks.append(pa.Check(passes.is_number, name="number"))
        checks.append(pa.Check(passes.is_finite, name="finite number"))
    elif col.kind == "bool":
        checks.append(_regex_check(_BOOL, "boolean (true/false)", passes))
    elif col.kind == "date":
        checks.append(pa.Check(_is_iso_date, name="ISO date (YYYY-MM-DD)"))
        checks.append(
            pa.Check(_date_year_in_range, name=f"year {YEAR_RANGE[0]}-{YEAR_RANGE[1]}")
        )
    elif col.kind == "ateco":
        checks.append(_regex_check(_ATECO, "ATECO division (two digits)", passes))
    else:  # pragma: no cover - spec error
        raise AssertionError(col.kind)
    return pa.Column(str, checks=checks, nullable=col.nullable, required=True)


def _raw_schema(name: str, passes: _ColumnPasses, skip: list[str]) -> pa.DataFrameSchema:
    """The format checks of table ``name`` but the columns ``skip``, sharing ``passes`` (one per
    frame validated)."""
    import pandera.pandas as pa

    return pa.DataFrameSchema(
        {c.name: _raw_column(c, passes) for c in _SPEC[name] if c.name not in skip}, strict=True,
        name=f"{name} (format)",
    )


_TYPED_DTYPES = {"int": "int64", "Int64": "Int64", "float": "float64", "bool": "bool"}


def _typed_schema(name: str) -> pa.DataFrameSchema:
    import pandera.pandas as pa

    cols = {}
    for c in _SPEC[name]:
        if not c.checks:
            continue
        cols[c.name] = pa.Column(
            _TYPED_DTYPES.get(c.kind), checks=[f() for f in c.checks], nullable=c.nullable
        )
    return pa.DataFrameSchema(cols, strict=False, name=f"{name} (values)")


def _convert(name: str, raw: pd.DataFrame, passes: _ColumnPasses) -> pd.DataFrame:
    """Typed frame from raw text that passed the format pass (with that pass's ``passes``); a
    column the parser typed is taken as it is."""
    out = {}
    for c in _SPEC[name]:
        s = raw[c.name]
        if not pd.api.types.is_string_dtype(s):
            out[c.name] = s
        elif c.kind in ("str", "cat", "ateco"):
            out[c.name] = s.astype("str")
        elif c.kind == "int":
            out[c.name] = s.astype("int64")
        elif c.kind == "Int64":
            out[c.name] = pd.to_numeric(s, errors="raise").astype("Int64")
        elif c.kind == "float":
            out[c.name] = passes.float_values(s)  # every value a finite number or missing
        elif c.kind == "bool":
            out[c.name] = s.str.lower().map({"true": True, "false": False}).astype("bool")
        elif c.kind == "date":
            out[c.name] = pd.to_datetime(s, format="%Y-%m-%d").astype("datetime64[ns]")
    return pd.DataFrame(out, index=raw.index)


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class Failure:
    """One failed check: file, column(s), check name, 0-based data rows and values.

    A failure without columns concerns the whole file, or whole lines of it (``rows``
    then holds their line numbers - 2, ``values`` what is wrong with each). ``note``
    says what is wrong, ``hint`` what to do."""

    file: str
    columns: tuple[str, ...]
    check: str
    rows: tuple[int, ...] = ()
    values: tuple[Any, ...] = ()
    note: str = ""
    hint: str = ""

    MAX_SHOWN = 5

    def _shown(self) -> str:
        """``line 12 (value), line 40 (value), ... (3 more)``."""
        if self.values:
            items = [f"line {r + 2} ({_fmt(v)})" for r, v in zip(self.rows, self.values)]
        else:
            items = [f"line {r + 2}" for r in self.rows]
        shown = ", ".join(items[: self.MAX_SHOWN])
        more = f", ... ({len(self.rows) - self.MAX_SHOWN} more)" if len(self.rows) > self.MAX_SHOWN else ""
        return shown + more

    def describe(self) -> str:
        hint = f"; {self.hint}" if self.hint else ""
        if not self.columns:
            where = f": {self._shown()}" if self.rows else ""
            return f"{self.file}: {self.note}{where}{hint} (fails '{self.check}')"
        cols = ", ".join(f"'{c}'" for c in self.columns)
        noun = "key" if self.file.endswith(".json") else "column"
        what = f"{noun} {cols}" if len(self.columns) == 1 else f"{noun}s {cols}"
        verb = "fails" if len(self.columns) == 1 else "fail"
        if self.check == "column_in_dataframe":
            return f"{self.file}: {what} is missing (fails 'column_in_dataframe')"
        if self.check == "column_in_schema":
            allowed = self.note
            return (
                f"{self.file}: unknown {what} (fails 'column_in_schema'; "
                f"the contract's columns are {allowed})"
            )
        if not self.rows:
            return f"{self.file}: {what} {verb} '{self.check}'" + (f": {self.note}" if self.note else "") + hint
        n = len(self.rows)
        return f"{self.file}: {what} {verb} '{self.check}' on {n} row{'s' if n != 1 else ''}: {self._shown()}{hint}"


_MAX_VALUE_CHARS = 60


def _fmt(v: Any) -> str:
    if isinstance(v, tuple):
        return ", ".join(_fmt(x) for x in v)
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return "<empty>"
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d")
    text = str(v)
    if not text.isprintable():  # control characters (NUL, tab, ...) shown escaped
        text = repr(text)[1:-1]
    if len(text) > _MAX_VALUE_CHARS:
        text = f"{text[: _MAX_VALUE_CHARS - 3]}... ({len(str(v)):,} characters)"
    return text


class ContractError(ValueError):
    """The data break the contract.

    ``file``, ``column`` and ``rows`` describe the first failure (``rows`` are 0-based data
    rows, i.e. file line - 2, so -1 is the header line; ``column`` is ``None`` when the
    whole file or whole lines are at fault, and several columns are joined with
    ``", "``); ``failures`` holds every failure
    found in the file (checks run lazily, so one error reports all the file's problems
    of a pass).
    """

    def __init__(self, failures: list[Failure] | Failure):
        if isinstance(failures, Failure):
            failures = [failures]
        if not failures:  # pragma: no cover - programming error
            raise ValueError("ContractError needs at least one failure")
        self.failures: list[Failure] = list(failures)
        first = self.failures[0]
        self.file: str = first.file
        self.column: str | None = ", ".join(first.columns) if first.columns else None
        self.rows: list[int] = list(first.rows)
        self.check: str = first.check
        super().__init__("\n".join(f.describe() for f in self.failures))


def _whole_file(file: str, check: str, note: str) -> ContractError:
    return ContractError(Failure(file=file, columns=(), check=check, note=note))


def _from_schema_errors(file: str, err: SchemaErrors, name: str) -> list[Failure]:
    fc = err.failure_cases
    failures: list[Failure] = []
    contract_cols = ", ".join(COLUMNS[name])
    for (column, check), grp in fc.groupby(
        [fc["column"].astype(object).fillna(""), fc["check"].astype(str)], sort=False
    ):
        if check in ("column_in_dataframe", "column_in_schema"):
            for case in grp["failure_case"]:
                failures.append(Failure(file, (str(case),), check, note=contract_cols))
            continue
        idx = grp["index"]
        rows, values = [], []
        for i, v in zip(idx, grp["failure_case"]):
            if i is None or (isinstance(i, float) and math.isnan(i)):
                continue
            rows.append(int(i))
            values.append(v)
        order = np.argsort(rows, kind="stable")
        failures.append(
            Failure(
                file,
                (str(column),) if column else (),
                _check_label(check),
                tuple(rows[k] for k in order),
                tuple(values[k] for k in order),
                hint=_check_hint(name, str(column), check),
            )
        )
    return failures


def _check_label(check: str) -> str:
    return "not empty" if check == "not_nullable" else check


_CHECK_HINTS = {
    "number": "write plain numbers with a '.' for decimals, no thousands separators or currency signs (1234.5)",
    "integer": "write whole numbers with digits only (2009, not 2009.0)",
    "at most 18 digits": "write a calendar year such as 2016",
    "boolean (true/false)": "write true or false",
    "ISO date (YYYY-MM-DD)": "write dates as YYYY-MM-DD (2017-12-01)",
    f"year {YEAR_RANGE[0]}-{YEAR_RANGE[1]}": "check the year",
}


def _check_hint(name: str, column: str, check: str) -> str:
    """What to do about a failed format check (the value checks speak for themselves)."""
    if check == "finite number":
        nullable = any(c.name == column and c.nullable for c in _SPEC[name])
        return "write the actual amount" + (", or leave the field empty if it is unknown" if nullable else "")
    return _CHECK_HINTS.get(check, "")


def _mask_failure(
    file: str, columns: tuple[str, ...], check: str, df: pd.DataFrame, mask: pd.Series,
    show: tuple[str, ...] | None = None,
) -> list[Failure]:
    """A failure for the rows where ``mask`` is True (none if no such row)."""
    mask = mask.fillna(True).astype(bool)
    if not mask.any():
        return []
    bad = df.loc[mask, list(show or columns)]
    rows = tuple(int(i) for i in bad.index)
    values = tuple(
        tuple(_fmt(v) for v in rec) if bad.shape[1] > 1 else _fmt(rec[0])
        for rec in bad.itertuples(index=False, name=None)
    )
    return [Failure(file, columns, check, rows, values)]


# --------------------------------------------------------------------------- reading


_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_WORKBOOK_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")  # .xlsx (a ZIP archive), .xls
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
_SAVE_AS_UTF8 = "save the file as UTF-8 (in Excel: 'CSV UTF-8 (comma delimited)')"


def _check_is_file(path: Path, label: str) -> None:
    """A regular file (or a symbolic link to one) is at ``path``; else a clear error."""
    if path.is_file():
        return
    if path.is_symlink() and not path.exists():
        raise _whole_file(
            label, "file exists",
            f"is a symbolic link to {os.readlink(path)}, which does not exist; "
            "point the link at the file or put the file itself here",
        )
    if path.is_dir():
        raise _whole_file(label, "regular file", "is a directory, not a file; put the file itself at this path")
    if path.exists():
        raise _whole_file(
            label, "regular file", "is not a regular file (a device, pipe or socket); put the file itself at this path"
        )
    raise _whole_file(
        label, "file exists",
        "file is missing" + _similar_names(path)
        + "; a data folder holds dataset.json, firms.csv, applications.csv and panel.csv (see data/README.md)",
    )


def _similar_names(path: Path) -> str:
    """``" (the folder has 'Panel.csv' ...)"`` when a file differs only in case or extension."""
    stem = path.name.lower().split(".")[0]
    try:
        names = sorted(
            p.name for p in path.parent.iterdir() if p.name != path.name and p.name.lower().split(".")[0] == stem
        )
    except OSError:
        return ""
    if not names:
        return ""
    listed = ", ".join(f"'{n}'" for n in names[:3])
    return f" (the folder has {listed}; names are case-sensitive and the file must be '{path.name}')"


def _read_bytes(path: Path, label: str, digests: dict[str, str] | None = None) -> bytes:
    """The bytes of the file at ``path``; their sha256 is stored in ``digests`` (when given)
    under the file's name, so that the hash is of the bytes validated."""
    _check_is_file(path, label)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _whole_file(
            label, "readable file", f"cannot be read ({exc.strerror or exc}); check the file's permissions"
        ) from None
    if digests is not None:
        digests[path.name] = hashlib.sha256(data).hexdigest()
    return data


def _split_lines(data: bytes) -> list[bytes]:
    """Lines of ``data`` as a text editor counts them (``\\n``, ``\\r\\n`` or ``\\r`` ends a line)."""
    return _LINE_BREAK.split(data)


def _bad_utf8(data: bytes) -> list[tuple[int, str, bytes]]:
    """(line number, the line's text before the bad bytes, the bad bytes) of every line
    that is not valid UTF-8."""
    bad = []
    for n, line in enumerate(_split_lines(data), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad.append((n, line[: exc.start].decode("utf-8"), line[exc.start : exc.end]))
    return bad


def _byte_note(before: str, raw: bytes) -> str:
    return f"byte 0x{raw.hex().upper()} at character {len(before) + 1}"


def _decode(data: bytes, label: str, csv_header: bool, hint: str = _SAVE_AS_UTF8) -> str:
    """UTF-8 text of a file's bytes (a leading byte-order mark dropped); a clear error
    naming the lines (and, for a CSV, the columns) of bytes that are not UTF-8."""
    if data.startswith(_WORKBOOK_MAGIC):
        raise _whole_file(
            label, "UTF-8 text",
            "is a spreadsheet workbook (Excel .xlsx/.xls), not a text file; "
            "export the sheet with 'Save as' > 'CSV UTF-8 (comma delimited)'",
        )
    data = data.removeprefix(_UTF8_BOM)
    if data.startswith(_UTF16_BOMS):
        raise _whole_file(label, "UTF-8 text", f"is UTF-16 text (it starts with a UTF-16 byte-order mark); {hint}")
    if b"\x00" in data:
        line = len(_split_lines(data[: data.index(b"\x00")]))
        raise _whole_file(
            label, "UTF-8 text",
            f"holds a NUL byte on line {line} (the file is UTF-16 or binary, not UTF-8 text); {hint}",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    bad = _bad_utf8(data)
    header: list[str] = []
    if csv_header and bad[0][0] > 1:
        header = next(csv.reader([_split_lines(data)[0].decode("utf-8")]), [])
    by_column: dict[str, list[tuple[int, str]]] = {}
    for line, before, raw in bad:
        column = ""
        if header and line > 1:
            i = max(len(next(csv.reader([before]), [])) - 1, 0)
            column = header[i] if i < len(header) else ""
        by_column.setdefault(column, []).append((line - 2, _byte_note(before, raw)))
    failures = []
    for column, cases in by_column.items():
        failures.append(Failure(
            label, (column,) if column else (), "UTF-8 text",
            tuple(r for r, _ in cases), tuple(v for _, v in cases),
            note="not valid UTF-8 text", hint=hint,
        ))
    raise ContractError(failures)


def _blank(data: bytes) -> bool:
    """Empty or only ASCII whitespace, as ``not data.strip()`` (which copies the file)."""
    return not data or data.isspace()


def _text_frame(path: Path, label: str, spec: tuple[_Col, ...] = (), digests: dict[str, str] | None = None) -> pd.DataFrame:
    """A CSV file as text: every column a string, an empty field missing; a
    :class:`ContractError` naming the lines when the file is not UTF-8 text with one
    record per line and as many fields on every line as in the header. ``spec``: the
    contract's columns, whose plain numbers may come back typed (:func:`_parse_plain_csv`);
    ``digests``: see :func:`_read_bytes`."""
    data = _read_bytes(path, label, digests)
    if _blank(data.removeprefix(_UTF8_BOM)):
        raise _whole_file(
            label, "not empty",
            "file is empty (no header line); write the header line (the contract's column names, "
            "comma-separated) and one line per row",
        )
    text = _decode(data, label, csv_header=True)
    plain = _parse_plain_csv(data.removeprefix(_UTF8_BOM), label, spec)
    return _frame(*_parse_records(text, label)) if plain is None else plain


def _parse_records(text: str, label: str) -> tuple[list[str], list[list[str]]]:
    """Header and data records of a CSV file's text, line by line with :mod:`csv`; a
    :class:`ContractError` naming the lines that break the format."""
    reader = csv.reader(io.StringIO(text, newline=""))
    records: list[tuple[int, int, list[str]]] = []  # (first line, last line, fields)
    try:
        for fields in reader:
            first = records[-1][1] + 1 if records else 1
            records.append((first, reader.line_num, fields))
    except csv.Error as exc:
        first = records[-1][1] + 1 if records else 1
        if reader.line_num > first:  # the record would run over several lines: an unclosed quote
            raise _whole_file(
                label, "one row per line",
                f"has a quote opened on line {first} that is not closed (the field runs on past line "
                f"{reader.line_num}); close the quote on the line where it opens",
            ) from None
        if "field limit" in str(exc):
            raise _whole_file(
                label, "readable CSV",
                f"line {first} has a value longer than {csv.field_size_limit():,} characters; correct or remove that line",
            ) from None
        raise _whole_file(
            label, "readable CSV", f"line {first} cannot be read as CSV ({exc}); correct or remove that line"
        ) from None
    while records and not records[-1][2]:  # blank lines at the end of the file are harmless
        records.pop()
    header = records[0][2]
    if records[0][1] > 1:
        raise _whole_file(
            label, "one row per line",
            f"the header line has a quoted name that runs on to line {records[0][1]}; "
            "write the header on line 1 alone, without line breaks in the names",
        )
    _check_header(label, header)
    failures: list[Failure] = []
    blank = [first for first, _, fields in records[1:] if not fields]
    if blank:
        failures.append(Failure(
            label, (), "no blank lines", tuple(n - 2 for n in blank),
            note="blank line before the last row",
            hint="delete the blank lines (only the end of the file may have blank lines)",
        ))
    spanning = [(first, last) for first, last, _ in records[1:] if last > first]
    if spanning:
        failures.append(Failure(
            label, (), "one row per line", tuple(a - 2 for a, _ in spanning),
            tuple(f"runs on to line {b}" for _, b in spanning),
            note="quoted field that runs over several lines",
            hint="close the quote on the line where it opens (values may not hold line breaks)",
        ))
    wrong = [(first, len(fields)) for first, last, fields in records[1:] if fields and last == first
             and len(fields) != len(header)]
    if wrong:
        failures.append(Failure(
            label, (), "fields per line", tuple(n - 2 for n, _ in wrong),
            tuple(f"{k} field{'s' if k != 1 else ''}" for _, k in wrong),
            note=f"number of fields differs from the header's {len(header)}",
            hint="look for a missing or extra comma (write numbers without thousands separators: "
                 "1234.5, not 1,234.5; quote text that holds a comma)",
        ))
    if failures:
        raise ContractError(failures)
    return header, [fields for _, _, fields in records[1:]]


def _parse_plain_csv(data: bytes, label: str, spec: tuple[_Col, ...] = ()) -> pd.DataFrame | None:
    """The text frame of a CSV without quotes, ``\\r`` other than in ``\\r\\n`` or blank
    lines (except at the end), with as many fields on every line as in the header: the
    usual export, read by pandas' C parser (about 20x faster than :mod:`csv` and without
    a Python list per line, which at 3.6 million lines held 4 GB). Those conditions make
    its fields exactly :mod:`csv`'s (and the frame :func:`_frame`'s); ``None`` when one
    fails, and :func:`_parse_records` reads the file line by line to say what is wrong.

    ``spec``: the contract's columns of the table; when the header holds exactly them, an
    integer or float column whose every value is plain (:func:`_plain_dtypes`) is converted
    by the parser itself and comes back typed (``int64``, ``float64``) instead of as text."""
    if b'"' in data:
        return None
    if b"\r" in data:
        if data.count(b"\r") != data.count(b"\r\n"):
            return None
        data = data.replace(b"\r\n", b"\n")
    end = len(data)
    while end and data[end - 1] == ord("\n"):  # the blank lines at the end (rstrip would copy the file)
        end -= 1
    first_break = data.find(b"\n", 0, end)
    header = data[: end if first_break < 0 else first_break].decode("utf-8").split(",")
    if len(header) < 2 or first_break < 0:
        return None
    _check_header(label, header)
    body = np.frombuffer(data, dtype=np.uint8, count=end - first_break - 1, offset=first_break + 1)
    dtypes = _plain_dtypes(body, header, spec)
    if dtypes is None:
        return None
    # The lines after the header; skip_blank_lines drops the blank lines at the end only, since a blank
    # line before the last row has one field and _plain_dtypes refused the file.
    return pd.read_csv(io.BytesIO(data), skiprows=1, header=None, names=header, dtype=dtypes, keep_default_na=False,
                       na_values=[""], quoting=csv.QUOTE_NONE, skip_blank_lines=True, index_col=False, engine="c",
                       encoding="utf-8")


_PARSED_KINDS = {"int": "int64", "float": "float64"}
_MAX_PARSED_LENGTH = 127
"""Longest value of a column the parser converts (:func:`_plain_dtypes`); longer ones are not
plain numbers in practice, and the bound keeps a field's sum of :data:`_PLAIN_BYTES` in a byte."""
_PLAIN_BYTES = np.full(256, 2, dtype=np.uint8)
"""Per byte: 0 for a digit or a separator, 1 for a dot, 2 for anything else, so that the sum
over a field (of at most 127 bytes) is at most 1 exactly when it holds digits and at most one dot."""
_PLAIN_BYTES[list(b"0123456789,\n")] = 0
_PLAIN_BYTES[ord(".")] = 1


def _plain_dtypes(raw: np.ndarray, header: list[str], spec: tuple[_Col, ...]) -> dict[str, str] | None:
    """The dtypes pandas' C parser reads the columns of a quote-free file with (``raw``: the bytes
    of its lines after the header, without the line breaks at the end): ``str``, but
    ``int64``/``float64`` for an integer or float column of the contract (``spec``, when the
    header holds exactly its columns) that passes every format check, told from its bytes.
    ``None`` when a line has more or fewer fields than the header, or a field more characters
    than :mod:`csv` reads.

    A column is converted when every value is plain: ASCII digits with at most one dot (none
    in an integer column), at least one digit and at most 127 characters, so it matches
    ``_NUMBER`` (``_INT``) and is a finite float; an integer has at most 18 digits; a float
    column has empty values only when nullable. Then the parser's number and
    :func:`pd.to_numeric`'s are the same (both use pandas' ``precise_xstrtod``; a test
    compares them, whole numbers of up to 127 digits too). Hand-written because no vectorised
    call checks the characters of fields in a byte buffer: one pass over the bytes gives every
    field's sum of :data:`_PLAIN_BYTES`."""
    separators = np.flatnonzero((raw == ord(",")) | (raw == ord("\n")))  # field i + 1 follows separator i
    line_ends = np.flatnonzero(raw[separators] == ord("\n"))  # the fields that end a line, but the last
    fields_per_line = np.diff(line_ends, prepend=-1, append=separators.size)
    line_length = np.diff(np.append(separators[line_ends], raw.size), prepend=-1)
    if (fields_per_line != len(header)).any() or line_length.max() > csv.field_size_limit():
        return None  # csv's limit on a field's length: a line within it holds no field beyond it
    dtypes = dict.fromkeys(header, "str")
    columns = {c.name: c for c in spec if c.kind in _PARSED_KINDS} if set(header) == {c.name for c in spec} else {}
    if not columns:
        return dtypes
    byte_weight = _PLAIN_BYTES[raw]
    # A field's sum: the first field's bytes, then from each separator (weight 0) to the next.
    first = byte_weight[: separators[0]].sum(dtype=np.uint8, keepdims=True)
    weight = np.concatenate((first, np.add.reduceat(byte_weight, separators, dtype=np.uint8)))
    k = len(header)
    line_breaks = separators[k - 1::k]  # field j of line i ends at separator i * k + j, the last at the end
    for name, col in columns.items():
        j = header.index(name)
        start = separators[j - 1::k] + 1 if j else np.concatenate(([0], line_breaks + 1))
        end = separators[j::k] if j < k - 1 else np.append(line_breaks, raw.size)
        w, n = weight[j::k], end - start
        if n.max() > _MAX_PARSED_LENGTH:
            continue
        if col.kind == "int":
            plain = (w == 0).all() and n.min() >= 1 and n.max() <= 18
        else:
            empty = n == 0
            plain = ((w <= 1) & (n - w >= 1) | empty).all() and (col.nullable or not empty.any())
        if plain:
            dtypes[name] = _PARSED_KINDS[col.kind]
    return dtypes


def _check_header(label: str, header: list[str]) -> None:
    if not header:
        raise _whole_file(label, "header line", "line 1 is blank; the header line must be the first line")
    for sep, name in ((";", "semicolons"), ("\t", "tabs")):
        if len(header) == 1 and sep in header[0]:
            raise _whole_file(
                label, "comma-separated",
                f"the header line has no comma but {header[0].count(sep)} {name}; separate the fields with commas "
                "(in Excel: 'CSV UTF-8 (comma delimited)')",
            )
    failures = []
    for i, col in enumerate(header, start=1):
        if not col.strip():
            failures.append(Failure(
                label, (), "column names", note=f"column {i} of the header line has no name",
                hint="name it or delete it (a comma at the end of the header line adds a nameless column)",
            ))
        elif col != col.strip():
            failures.append(Failure(
                label, (col,), "column names", note="the name has spaces around it",
                hint=f"write it as '{col.strip()}'",
            ))
    for col in dict.fromkeys(c for c in header if header.count(c) > 1 and c.strip()):
        places = [i for i, c in enumerate(header, start=1) if c == col]
        failures.append(Failure(
            label, (col,), "unique column names",
            note=f"appears {len(places)} times in the header line (columns {', '.join(map(str, places))})",
            hint="keep one",
        ))
    if failures:
        raise ContractError(failures)


def _frame(header: list[str], rows: list[list[str]]) -> pd.DataFrame:
    """Text frame: every column a string, an empty field missing."""
    raw = pd.DataFrame(rows, columns=header, dtype="str") if rows else pd.DataFrame(
        {c: pd.Series([], dtype="str") for c in header}
    )
    return raw.mask(raw == "")


def read_contract_csv(path: str | Path) -> pd.DataFrame:
    """Read a CSV deterministically as text: every column a string, only an empty field
    missing (no ``NA``/``null`` guessing), UTF-8 (a byte-order mark is tolerated), any
    line ending. :class:`ContractError` when the file is not UTF-8, has blank lines
    before its last row, fields that run over several lines or lines with more or
    fewer fields than its header."""
    return _text_frame(Path(path), str(path))


def _read_table(data_dir: Path, name: str, digests: dict[str, str]) -> pd.DataFrame:
    from pandera.errors import SchemaErrors

    path = data_dir / name
    label = str(path)
    raw = _text_frame(path, label, _SPEC[name], digests)
    if raw.empty:
        raise _whole_file(
            label, "at least one row",
            "has a header but no rows; add the data below the header line (a table of the contract may not be empty)",
        )
    if not set(raw.columns) & set(COLUMNS[name]):
        raise _whole_file(
            label, "header line",
            f"line 1 holds none of the contract's column names ({', '.join(COLUMNS[name])}); "
            "the first line must be the header line",
        )

    # Columns the parser typed already passed their format checks (_plain_dtypes).
    parsed = [c for c in raw.columns if not pd.api.types.is_string_dtype(raw[c])]
    passes = _ColumnPasses()
    try:
        _raw_schema(name, passes, skip=parsed).validate(raw.drop(columns=parsed), lazy=True)
    except SchemaErrors as err:
        raise ContractError(_from_schema_errors(label, err, name)) from None

    typed = _convert(name, raw, passes)
    failures: list[Failure] = []
    try:
        _typed_schema(name).validate(typed, lazy=True)
    except SchemaErrors as err:
        failures += _from_schema_errors(label, err, name)
    key = list(KEYS[name])
    failures += _mask_failure(
        label, tuple(key), "unique key", typed, typed.duplicated(key, keep=False)
    )
    failures += _ROW_RULES[name](label, typed)
    if failures:
        raise ContractError(failures)
    return typed


# --------------------------------------------------------------------------- row rules


def _firms_rules(file: str, df: pd.DataFrame) -> list[Failure]:
    f: list[Failure] = []
    size_empty = df["size_class"].isna()
    f += _mask_failure(
        file, ("size_class",), "size_class empty only for research_org/other", df,
        size_empty & df["firm_type"].isin(ENTERPRISE_TYPES), show=("firm_type", "size_class"),
    )
    f += _mask_failure(
        file, ("size_class",), "SME has size_class micro/small/medium", df,
        (df["firm_type"] == "SME") & ~df["size_class"].isin(SME_SIZE_CLASSES) & ~size_empty,
        show=("firm_type", "size_class"),
    )
    f += _mask_failure(
        file, ("size_class",), "large firm has size_class large", df,
        (df["firm_type"] == "large") & (df["size_class"] != "large") & ~size_empty,
        show=("firm_type", "size_class"),
    )
    f += _mask_failure(
        file, ("member_since",), "member_since empty iff pole == none", df,
        (df["pole"] == NO_POLE) != df["member_since"].isna(), show=("pole", "member_since"),
    )
    return f


def _apps_rules(file: str, df: pd.DataFrame) -> list[Failure]:
    f: list[Failure] = []
    cap = programme.GRANT_CAP_SHARE
    f += _mask_failure(
        file, ("grant_eur",), f"grant_eur <= {cap} * investment_eur", df,
        df["grant_eur"] > cap * df["investment_eur"] + GRANT_CAP_TOLERANCE_EUR,
        show=("grant_eur", "investment_eur"),
    )
    f += _mask_failure(
        file, ("grant_eur",), "grant_eur == 0 when not funded", df,
        ~df["funded"] & (df["grant_eur"] != 0), show=("funded", "grant_eur"),
    )
    f += _mask_failure(
        file, ("start_date", "end_date"), "start_date <= end_date", df,
        df["start_date"] > df["end_date"],
    )
    g = df.groupby("project_id", sort=False)
    for col in ("line", "pole", "call_year", "score", "funded", "start_date", "end_date"):
        inconsistent = g[col].transform("nunique") > 1
        f += _mask_failure(
            file, (col,), "same value on all rows of a project", df, inconsistent,
            show=("project_id", col),
        )
    n_leads = (df["role"] == "lead").groupby(df["project_id"], sort=False).transform("sum")
    f += _mask_failure(
        file, ("role",), "exactly one lead per project", df, n_leads != 1,
        show=("project_id", "role"),
    )
    return f


def _panel_rules(file: str, df: pd.DataFrame) -> list[Failure]:
    return []


_ROW_RULES = {"firms.csv": _firms_rules, "applications.csv": _apps_rules, "panel.csv": _panel_rules}


def _cross_table(data_dir: Path, firms: pd.DataFrame, apps: pd.DataFrame, panel: pd.DataFrame) -> None:
    fa = str(data_dir / "applications.csv")
    fp = str(data_dir / "panel.csv")
    info = firms.set_index("firm_id")[["firm_type", "pole", "member_since"]].rename(
        columns={"pole": "firm_pole"}
    )

    known = apps["firm_id"].isin(info.index)
    failures = _mask_failure(fa, ("firm_id",), "firm_id present in firms.csv", apps, ~known)
    if not failures:
        j = apps.join(info, on="firm_id")
        line_a = j["line"] == "A"
        ok_a = (j["firm_pole"] != NO_POLE) & j["member_since"].notna() & (
            j["member_since"].astype("Float64") <= j["call_year"]
        ).fillna(False).astype(bool)
        failures += _mask_failure(
            fa, ("firm_id",),
            "Linea A applicant is a pole member since the call year or earlier "
            "(firms.csv: pole != none, member_since <= call_year)",
            j, line_a & ~ok_a,
            show=("firm_id", "firm_pole", "member_since", "call_year"),
        )
        failures += _mask_failure(
            fa, ("firm_id",), "Linea B applicant is not a pole member (firms.csv: pole == none)",
            j, (j["line"] == "B") & (j["firm_pole"] != NO_POLE),
            show=("firm_id", "firm_pole"),
        )
    if failures:
        raise ContractError(failures)

    firm = info.index.get_indexer(panel["firm_id"])  # each row's firm in firms.csv (-1: none), one lookup for both checks
    failures = _mask_failure(
        fp, ("firm_id",), "firm_id present in firms.csv", panel, pd.Series(firm < 0, index=panel.index)
    )
    if not failures:
        ftype = pd.Series(info["firm_type"].array.take(firm), index=panel.index)
        enterprise = info["firm_type"].isin(ENTERPRISE_TYPES).to_numpy()[firm]
        failures += _mask_failure(
            fp, ("firm_id",), "panel firm is an enterprise (firms.csv: firm_type SME or large)",
            panel.assign(firm_type=ftype), pd.Series(~enterprise, index=panel.index), show=("firm_id", "firm_type"),
        )
    if failures:
        raise ContractError(failures)


class _DuplicateKeys(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    repeated = [k for k in dict.fromkeys(keys) if keys.count(k) > 1]
    if repeated:
        raise _DuplicateKeys(repeated)
    return dict(pairs)


def _read_dataset(data_dir: Path, digests: dict[str, str]) -> dict[str, Any]:
    path = data_dir / "dataset.json"
    label = str(path)
    template = 'a JSON object such as {"name": "...", "synthetic": false, "description": "..."}'
    data = _read_bytes(path, label, digests)
    if _blank(data.removeprefix(_UTF8_BOM)):
        raise _whole_file(label, "valid JSON", f"file is empty; write {template}")
    text = _decode(data, label, csv_header=False, hint="save the file as UTF-8")
    try:
        meta = json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise _whole_file(
            label, "valid JSON",
            f"is not valid JSON ({exc.msg}: line {exc.lineno}, column {exc.colno}); correct it: the file holds {template}",
        ) from None
    except _DuplicateKeys as exc:
        keys = ", ".join(f"'{k}'" for k in exc.args[0])
        raise _whole_file(
            label, "unique keys", f"repeats the key {keys} in one object; keep one (JSON readers silently keep the last)"
        ) from None
    except RecursionError:
        raise _whole_file(label, "valid JSON", f"is nested too deeply to be read; the file holds {template}") from None
    if not isinstance(meta, dict):
        kind = {list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(type(meta), "a number")
        raise _whole_file(label, "JSON object", f"holds {kind}, not an object; write {template}")
    failures = []
    for key, typ, how in (
        ("name", str, "text in double quotes"),
        ("synthetic", bool, "true or false, without quotes"),
        ("description", str, "text in double quotes"),
    ):
        if key not in meta:
            failures.append(Failure(label, (key,), "required key", note="missing", hint=f"add it ({how})"))
        elif not isinstance(meta[key], typ):
            failures.append(
                Failure(label, (key,), f"is {typ.__name__}", note=f"got {json.dumps(meta[key])}", hint=f"write {how}")
            )
    if failures:
        raise ContractError(failures)
    return meta


# --------------------------------------------------------------------------- hashing


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def combined_hash(digests: dict[str, str]) -> str:
    """sha256 of the lines ``"<digest>  <name>\\n"`` sorted by name: the output of
    ``sha256sum`` on the files, sorted by file name, hashed once more."""
    text = "".join(f"{digests[n]}  {n}\n" for n in sorted(digests))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def data_file_digests(data_dir: str | Path, read: dict[str, str] | None = None) -> dict[str, str]:
    """sha256 of the files of a data directory that the data hash covers: the contract's
    files and the optional ones that are present, by name (sorted). The one place that
    decides which files are hashed: :func:`load_study_data` and the data manifest
    (``python -m evaluation manifest``) both use it. ``read``: the digests of files already
    read, by name (:func:`load_study_data` hashes the bytes it validated); the other files are
    read and hashed here."""
    data_dir = Path(data_dir)
    read = read or {}
    names = sorted(n for n in CONTRACT_FILES + OPTIONAL_FILES if (data_dir / n).is_file())
    return {n: read[n] if n in read else file_sha256(data_dir / n) for n in names}


# --------------------------------------------------------------------------- public API


@dataclass(frozen=True)
class StudyData:
    """Validated study data.

    ``firms``, ``applications``, ``panel``: frames in file order with a 0-based
    RangeIndex (data row ``i`` is file line ``i + 2``); text columns as ``str``,
    integers as ``int64`` (``member_since`` as nullable ``Int64``), ``funded`` as
    ``bool``, dates as ``datetime64[ns]``, amounts and outcomes as ``float64``.
    ``dataset``: the parsed ``dataset.json``. ``sha256``: file name -> hex digest of
    the file's bytes (the four contract files, plus ``truth.csv`` when present).
    ``data_hash``: :func:`combined_hash` of ``sha256``.
    """

    firms: pd.DataFrame
    applications: pd.DataFrame
    panel: pd.DataFrame
    dataset: dict[str, Any]
    sha256: dict[str, str]
    data_hash: str
    data_dir: Path = field(default=Path("."), compare=False)

    @property
    def synthetic(self) -> bool:
        return bool(self.dataset["synthetic"])


def load_study_data(data_dir: str | Path, cache: str | Path | None = None) -> StudyData:
    """Read, validate and hash a data directory; raise :class:`ContractError` on any
    breach of the contract.

    ``cache``: the data cache the study runner wrote (:mod:`evaluation.data.cache`,
    parameter ``data_cache`` of a notebook); when it holds the validated frames of the
    files now in ``data_dir`` under the current contract they are read instead of
    validating again. ``None`` or ``""``: validate."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        if data_dir.exists():
            raise _whole_file(
                str(data_dir), "directory exists",
                "is not a directory; give the folder that holds dataset.json, firms.csv, applications.csv and panel.csv",
            )
        raise _whole_file(str(data_dir), "directory exists", "data directory is missing")
    if cache:
        digests = data_file_digests(data_dir)  # the files as they are now
        cached = read_cache(cache, combined_hash(digests))
        if cached is not None:
            frames, dataset = cached
            return StudyData(**frames, dataset=dataset, sha256=digests, data_hash=combined_hash(digests),
                             data_dir=data_dir)
    read: dict[str, str] = {}  # the digests of the bytes validated, so the hash is theirs
    dataset = _read_dataset(data_dir, read)
    firms = _read_table(data_dir, "firms.csv", read)
    apps = _read_table(data_dir, "applications.csv", read)
    panel = _read_table(data_dir, "panel.csv", read)
    _cross_table(data_dir, firms, apps, panel)
    digests = data_file_digests(data_dir, read)
    return StudyData(
        firms=firms,
        applications=apps,
        panel=panel,
        dataset=dataset,
        sha256=digests,
        data_hash=combined_hash(digests),
        data_dir=data_dir,
    )


def cache_study_data(data: StudyData, cache: str | Path) -> Path | None:
    """Cache the validated ``data`` in the folder ``cache`` for :func:`load_study_data`
    (:mod:`evaluation.data.cache`); returns the entry written, or ``None``."""
    return write_cache(cache, data.data_hash, {t: getattr(data, t) for t in TABLES}, data.dataset)


def validate_study_data(data_dir: str | Path) -> str:
    """Validate a data directory; return its ``data_hash`` or raise :class:`ContractError`."""
    return load_study_data(data_dir).data_hash
