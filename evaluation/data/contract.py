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
empty field is missing), validates them in three passes and hashes them:

1. *format* (pandera, on the raw text, ``lazy=True``): the file has exactly the
   contract's columns (missing and unknown extra columns are errors), required fields
   are not empty, numbers/integers/booleans/ISO dates parse, categorical columns take
   their allowed values;
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

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from evaluation.data import programme

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
    return pa.Check.ge(0)


def _year() -> pa.Check:
    return pa.Check.in_range(*YEAR_RANGE)


def _score() -> pa.Check:
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

_FLOAT_RE = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_INT_RE = r"^[+-]?\d+$"
_BOOL_RE = r"^(?i:true|false)$"
_DATE_RE = r"^\d{4}-\d{2}-\d{2}$"
_ATECO_RE = r"^\d{2}$"


def _is_iso_date(s: pd.Series) -> pd.Series:
    ok = s.str.fullmatch(_DATE_RE).fillna(False).astype(bool)
    parsed = pd.to_datetime(s.where(ok), format="%Y-%m-%d", errors="coerce")
    return ok & parsed.notna()


def _regex_check(regex: str, name: str) -> pa.Check:
    return pa.Check(lambda s: s.str.fullmatch(regex).fillna(False).astype(bool), name=name)


def _raw_column(col: _Col) -> pa.Column:
    checks: list[pa.Check] = []
    if col.kind == "str":
        checks.append(pa.Check.str_length(min_value=1))
    elif col.kind == "cat":
        checks.append(pa.Check.isin(list(col.allowed or ())))
    elif col.kind in ("int", "Int64"):
        checks.append(_regex_check(_INT_RE, "integer"))
    elif col.kind == "float":
        checks.append(_regex_check(_FLOAT_RE, "number"))
    elif col.kind == "bool":
        checks.append(_regex_check(_BOOL_RE, "boolean (true/false)"))
    elif col.kind == "date":
        checks.append(pa.Check(_is_iso_date, name="ISO date (YYYY-MM-DD)"))
    elif col.kind == "ateco":
        checks.append(_regex_check(_ATECO_RE, "ATECO division (two digits)"))
    else:  # pragma: no cover - spec error
        raise AssertionError(col.kind)
    return pa.Column(str, checks=checks, nullable=col.nullable, required=True)


def _raw_schema(name: str) -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {c.name: _raw_column(c) for c in _SPEC[name]}, strict=True, name=f"{name} (format)"
    )


_TYPED_DTYPES = {"int": "int64", "Int64": "Int64", "float": "float64", "bool": "bool"}


def _typed_schema(name: str) -> pa.DataFrameSchema:
    cols = {}
    for c in _SPEC[name]:
        if not c.checks:
            continue
        cols[c.name] = pa.Column(
            _TYPED_DTYPES.get(c.kind), checks=[f() for f in c.checks], nullable=c.nullable
        )
    return pa.DataFrameSchema(cols, strict=False, name=f"{name} (values)")


def _convert(name: str, raw: pd.DataFrame) -> pd.DataFrame:
    """Typed frame from raw text that passed the format pass."""
    out = {}
    for c in _SPEC[name]:
        s = raw[c.name]
        if c.kind in ("str", "cat", "ateco"):
            out[c.name] = s.astype("str")
        elif c.kind == "int":
            out[c.name] = s.astype("int64")
        elif c.kind == "Int64":
            out[c.name] = pd.to_numeric(s, errors="raise").astype("Int64")
        elif c.kind == "float":
            out[c.name] = pd.to_numeric(s, errors="raise").astype("float64")
        elif c.kind == "bool":
            out[c.name] = s.str.lower().map({"true": True, "false": False}).astype("bool")
        elif c.kind == "date":
            out[c.name] = pd.to_datetime(s, format="%Y-%m-%d").astype("datetime64[ns]")
    return pd.DataFrame(out, index=raw.index)


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class Failure:
    """One failed check: file, column(s), check name, 0-based data rows and values."""

    file: str
    columns: tuple[str, ...]
    check: str
    rows: tuple[int, ...] = ()
    values: tuple[Any, ...] = ()
    note: str = ""

    MAX_SHOWN = 5

    def describe(self) -> str:
        if not self.columns:
            return f"{self.file}: {self.note} (fails '{self.check}')"
        cols = ", ".join(f"'{c}'" for c in self.columns)
        what = f"column {cols}" if len(self.columns) == 1 else f"columns {cols}"
        verb = "fails" if len(self.columns) == 1 else "fail"
        if self.check == "column_in_dataframe":
            return f"{self.file}: {what} is missing (fails 'column_in_dataframe')"
        if self.check == "column_in_schema":
            allowed = ", ".join(self.note.split(",")) if self.note else ""
            return (
                f"{self.file}: unknown {what} (fails 'column_in_schema'; "
                f"the contract's columns are {allowed})"
            )
        if not self.rows:
            return f"{self.file}: {what} {verb} '{self.check}'" + (f": {self.note}" if self.note else "")
        shown = ", ".join(
            f"line {r + 2} ({_fmt(v)})" for r, v in list(zip(self.rows, self.values))[: self.MAX_SHOWN]
        )
        more = f", ... ({len(self.rows) - self.MAX_SHOWN} more)" if len(self.rows) > self.MAX_SHOWN else ""
        n = len(self.rows)
        return f"{self.file}: {what} {verb} '{self.check}' on {n} row{'s' if n != 1 else ''}: {shown}{more}"


def _fmt(v: Any) -> str:
    if isinstance(v, tuple):
        return ", ".join(_fmt(x) for x in v)
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return "<empty>"
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d")
    return str(v)


class ContractError(ValueError):
    """The data break the contract.

    ``file``, ``column`` and ``rows`` describe the first failure (``rows`` are 0-based data
    rows, i.e. file line - 2; ``column`` is ``None`` when the whole file is at fault,
    and several columns are joined with ``", "``); ``failures`` holds every failure
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
            )
        )
    return failures


def _check_label(check: str) -> str:
    return "not empty" if check == "not_nullable" else check


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


def read_contract_csv(path: str | Path) -> pd.DataFrame:
    """Read a CSV deterministically as text: every column a string, only an empty field
    missing (no ``NA``/``null`` guessing), UTF-8 (a byte-order mark is tolerated)."""
    return pd.read_csv(
        path,
        dtype=str,
        keep_default_na=False,
        na_values=[""],
        encoding="utf-8-sig",
        skip_blank_lines=True,
    )


def _read_table(data_dir: Path, name: str) -> pd.DataFrame:
    path = data_dir / name
    label = str(path)
    if not path.is_file():
        raise _whole_file(label, "file exists", "file is missing")
    try:
        raw = read_contract_csv(path)
    except pd.errors.EmptyDataError:
        raise _whole_file(label, "readable CSV", "file is empty (no header line)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise _whole_file(label, "readable CSV", f"cannot be parsed: {exc}") from None
    dup_cols = [c for c in raw.columns if "." in c and c.split(".")[0] in raw.columns]
    if dup_cols:
        raise _whole_file(label, "unique column names", f"repeated columns {dup_cols}")

    try:
        _raw_schema(name).validate(raw, lazy=True)
    except SchemaErrors as err:
        raise ContractError(_from_schema_errors(label, err, name)) from None

    typed = _convert(name, raw)
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
    n_leads = g["role"].transform(lambda s: int((s == "lead").sum()))
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

    known = panel["firm_id"].isin(info.index)
    failures = _mask_failure(fp, ("firm_id",), "firm_id present in firms.csv", panel, ~known)
    if not failures:
        ftype = panel["firm_id"].map(info["firm_type"])
        failures += _mask_failure(
            fp, ("firm_id",), "panel firm is an enterprise (firms.csv: firm_type SME or large)",
            panel.assign(firm_type=ftype), ~ftype.isin(ENTERPRISE_TYPES), show=("firm_id", "firm_type"),
        )
    if failures:
        raise ContractError(failures)


def _read_dataset(data_dir: Path) -> dict[str, Any]:
    path = data_dir / "dataset.json"
    label = str(path)
    if not path.is_file():
        raise _whole_file(label, "file exists", "file is missing")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _whole_file(label, "valid JSON", str(exc)) from None
    if not isinstance(meta, dict):
        raise _whole_file(label, "JSON object", f"top level is {type(meta).__name__}")
    failures = []
    for key, typ in (("name", str), ("synthetic", bool), ("description", str)):
        if key not in meta:
            failures.append(Failure(label, (key,), "required key", note="missing"))
        elif not isinstance(meta[key], typ):
            failures.append(
                Failure(label, (key,), f"is {typ.__name__}", note=f"got {meta[key]!r}")
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


def data_file_digests(data_dir: str | Path) -> dict[str, str]:
    """sha256 of the files of a data directory that the data hash covers: the contract's
    files and the optional ones that are present, by name (sorted). The one place that
    decides which files are hashed: :func:`load_study_data` and the data manifest
    (``python -m evaluation manifest``) both use it."""
    data_dir = Path(data_dir)
    names = sorted(n for n in CONTRACT_FILES + OPTIONAL_FILES if (data_dir / n).is_file())
    return {n: file_sha256(data_dir / n) for n in names}


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


def load_study_data(data_dir: str | Path) -> StudyData:
    """Read, validate and hash a data directory; raise :class:`ContractError` on any
    breach of the contract."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise _whole_file(str(data_dir), "directory exists", "data directory is missing")
    dataset = _read_dataset(data_dir)
    firms = _read_table(data_dir, "firms.csv")
    apps = _read_table(data_dir, "applications.csv")
    panel = _read_table(data_dir, "panel.csv")
    _cross_table(data_dir, firms, apps, panel)
    digests = data_file_digests(data_dir)
    return StudyData(
        firms=firms,
        applications=apps,
        panel=panel,
        dataset=dataset,
        sha256=digests,
        data_hash=combined_hash(digests),
        data_dir=data_dir,
    )


def validate_study_data(data_dir: str | Path) -> str:
    """Validate a data directory; return its ``data_hash`` or raise :class:`ContractError`."""
    return load_study_data(data_dir).data_hash
