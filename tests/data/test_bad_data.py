"""Malformed data folders that a new user could produce: each is rejected by
``python -m evaluation validate`` with exit code 3 and one clear message naming the
file (and the column and the file line numbers where they apply), never with a
traceback and never as "valid", and without touching the folder. A few valid but
unusual folders (Windows line endings, a byte-order mark, ...) must pass.

Each case is a small function that corrupts a private copy of the default data; line
numbers are file lines (header = line 1), as in every message of the contract.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd
import pytest

from evaluation.data.contract import ContractError, load_study_data, read_contract_csv
from evaluation.pipeline.cli import main

CSV_FILES = ("firms.csv", "applications.csv", "panel.csv")


# --------------------------------------------------------------------- corruptions


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")


def set_field(name: str, line: int, column: str, value: bytes | str) -> Callable[[Path], None]:
    """Write ``value`` (raw bytes, or text encoded as UTF-8) into ``column`` on file
    line ``line`` (the default data hold no quoted fields, so a comma splits fields)."""
    raw = value.encode() if isinstance(value, str) else value

    def corrupt(d: Path) -> None:
        lines = _lines(d / name)
        header = lines[0].decode().split(",")
        fields = lines[line - 1].split(b",")
        fields[header.index(column)] = raw
        lines[line - 1] = b",".join(fields)
        (d / name).write_bytes(b"\n".join(lines))

    return corrupt


def set_line(name: str, line: int, content: bytes) -> Callable[[Path], None]:
    def corrupt(d: Path) -> None:
        lines = _lines(d / name)
        lines[line - 1] = content
        (d / name).write_bytes(b"\n".join(lines))

    return corrupt


def edit_line(name: str, line: int, edit: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def corrupt(d: Path) -> None:
        lines = _lines(d / name)
        lines[line - 1] = edit(lines[line - 1])
        (d / name).write_bytes(b"\n".join(lines))

    return corrupt


def insert_line(name: str, line: int, content: bytes) -> Callable[[Path], None]:
    """Make ``content`` file line ``line``."""
    def corrupt(d: Path) -> None:
        lines = _lines(d / name)
        lines.insert(line - 1, content)
        (d / name).write_bytes(b"\n".join(lines))

    return corrupt


def replace(name: str, old: bytes, new: bytes) -> Callable[[Path], None]:
    def corrupt(d: Path) -> None:
        data = (d / name).read_bytes()
        assert old in data, f"{old!r} not in {name}"
        (d / name).write_bytes(data.replace(old, new, 1))

    return corrupt


def write(name: str, data: bytes) -> Callable[[Path], None]:
    def corrupt(d: Path) -> None:
        (d / name).write_bytes(data)

    return corrupt


def transform(name: str, fn: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def corrupt(d: Path) -> None:
        (d / name).write_bytes(fn((d / name).read_bytes()))

    return corrupt


def header_only(name: str, tail: bytes = b"\n") -> Callable[[Path], None]:
    return transform(name, lambda data: data.split(b"\n")[0] + tail)


def remove(name: str) -> Callable[[Path], None]:
    def corrupt(d: Path) -> None:
        (d / name).unlink()

    return corrupt


def rename(name: str, new: str) -> Callable[[Path], None]:
    def corrupt(d: Path) -> None:
        (d / name).rename(d / new)

    return corrupt


def directory_instead(name: str) -> Callable[[Path], None]:
    def corrupt(d: Path) -> None:
        (d / name).unlink()
        (d / name).mkdir()
        (d / name / "part1.csv").write_text("firm_id\n")

    return corrupt


def dangling_link(name: str) -> Callable[[Path], None]:
    def corrupt(d: Path) -> None:
        (d / name).unlink()
        os.symlink(d.parent / "moved-away" / name, d / name)

    return corrupt


def both(*corruptions: Callable[[Path], None]) -> Callable[[Path], None]:
    def corrupt(d: Path) -> None:
        for c in corruptions:
            c(d)

    return corrupt


def crlf(data: bytes) -> bytes:
    return data.replace(b"\n", b"\r\n")


# --------------------------------------------------------------------- the cases


@dataclass(frozen=True)
class Bad:
    """A corruption and what the message must name: ``file`` (relative to the data
    folder; ``"."`` for the folder itself), the ``column`` (quoted in the message),
    the file ``lines`` and further ``words``."""

    corrupt: Callable[[Path], None]
    file: str
    column: str | None = None
    lines: tuple[int, ...] = ()
    words: tuple[str, ...] = ()


WORKBOOK = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00" + bytes(range(256)) * 4
DATASET_TEMPLATE = b'{"name": "mine", "synthetic": false, "description": "real data"}'

BAD: dict[str, Bad] = {
    # --- empty tables and files
    "applications header only": Bad(header_only("applications.csv"), "applications.csv",
                                    words=("has a header but no rows",)),
    "panel header only": Bad(header_only("panel.csv"), "panel.csv", words=("has a header but no rows",)),
    "firms header only, no line end": Bad(header_only("firms.csv", tail=b""), "firms.csv",
                                          words=("has a header but no rows",)),
    "panel header and blank lines": Bad(header_only("panel.csv", tail=b"\r\n\r\n\r\n"), "panel.csv",
                                        words=("has a header but no rows",)),
    "applications 0 bytes": Bad(write("applications.csv", b""), "applications.csv", words=("file is empty",)),
    "firms only blank lines": Bad(write("firms.csv", b"\n\n  \n"), "firms.csv", words=("file is empty",)),
    "dataset.json 0 bytes": Bad(write("dataset.json", b""), "dataset.json", words=("file is empty",)),
    # --- files that are not there, or not files
    "panel missing": Bad(remove("panel.csv"), "panel.csv", words=("file is missing",)),
    "panel named Panel.csv": Bad(rename("panel.csv", "Panel.csv"), "panel.csv",
                                 words=("file is missing", "'Panel.csv'")),
    "dataset.json missing": Bad(remove("dataset.json"), "dataset.json", words=("file is missing",)),
    "firms is a directory": Bad(directory_instead("firms.csv"), "firms.csv", words=("is a directory",)),
    "panel is a broken link": Bad(dangling_link("panel.csv"), "panel.csv", words=("symbolic link", "does not exist")),
    "data folder is a file": Bad(lambda d: (shutil.rmtree(d), d.write_text("firm_id\n")), ".",
                                 words=("is not a directory",)),
    # --- encoding
    "Latin-1 byte in firms": Bad(set_field("firms.csv", 5, "province", b"T\xe8"), "firms.csv", "province", (5,),
                                 ("UTF-8", "0xE8", "save the file as UTF-8")),
    "Windows-1252 file": Bad(both(set_field("applications.csv", 3, "project_id", b"Citt\xe0-1"),
                                  set_field("applications.csv", 10, "project_id", b"Citt\xe0-2")),
                             "applications.csv", "project_id", (3, 10), ("UTF-8",)),
    "Latin-1 byte in the header": Bad(replace("panel.csv", b"turnover_eur", b"turnover_\x80"), "panel.csv",
                                      lines=(1,), words=("UTF-8",)),
    "UTF-16 with byte-order mark": Bad(transform("firms.csv", lambda b: b.decode().encode("utf-16")), "firms.csv",
                                       words=("UTF-16",)),
    "UTF-16 without byte-order mark": Bad(transform("panel.csv", lambda b: b.decode().encode("utf-16-le")),
                                          "panel.csv", words=("NUL byte on line 1",)),
    "NUL byte in a row": Bad(set_field("panel.csv", 7, "firm_id", b"F\x000002"), "panel.csv", lines=(7,),
                             words=("NUL",)),
    "Excel workbook named .csv": Bad(write("applications.csv", WORKBOOK), "applications.csv", words=("workbook",)),
    "dataset.json in Latin-1": Bad(replace("dataset.json", b"SYNTHETIC DATA", b"DATI SINTETICI \xe8"),
                                   "dataset.json", lines=(2,), words=("UTF-8",)),
    # --- numbers that are not finite
    "turnover 1e999": Bad(set_field("panel.csv", 10, "turnover_eur", "1e999"), "panel.csv", "turnover_eur", (10,),
                          ("finite number",)),
    "employees inf": Bad(set_field("panel.csv", 11, "employees", "inf"), "panel.csv", "employees", (11,),
                         ("finite number",)),
    "value added -inf and NaN": Bad(both(set_field("panel.csv", 12, "value_added_eur", "-inf"),
                                         set_field("panel.csv", 30, "value_added_eur", "NaN")),
                                    "panel.csv", "value_added_eur", (12, 30), ("finite number",)),
    "score nan": Bad(set_field("applications.csv", 4, "score", "nan"), "applications.csv", "score", (4,),
                     ("finite number",)),
    "investment Infinity": Bad(set_field("applications.csv", 6, "investment_eur", "Infinity"), "applications.csv",
                               "investment_eur", (6,), ("finite number",)),
    "grant -1e400": Bad(set_field("applications.csv", 7, "grant_eur", "-1e400"), "applications.csv", "grant_eur",
                        (7,), ("finite number",)),
    # --- lines and fields
    "row cut short": Bad(edit_line("panel.csv", 20, lambda b: b.rsplit(b",", 3)[0]), "panel.csv", lines=(20,),
                         words=("3 fields", "header's 6")),
    "trailing comma on a row": Bad(edit_line("firms.csv", 8, lambda b: b + b","), "firms.csv", lines=(8,),
                                   words=("8 fields",)),
    "thousands separator": Bad(set_field("panel.csv", 30, "turnover_eur", "2,826,187.48"), "panel.csv",
                               lines=(30,), words=("thousands separators",)),
    "thousands separator, quoted": Bad(set_field("panel.csv", 31, "turnover_eur", '"2,826,187.48"'), "panel.csv",
                                       "turnover_eur", (31,), ("'number'",)),
    "decimal comma, quoted": Bad(set_field("panel.csv", 32, "employees", '"16,78"'), "panel.csv", "employees",
                                 (32,), ("'number'",)),
    "blank line between rows": Bad(insert_line("panel.csv", 40, b""), "panel.csv", lines=(40,),
                                   words=("blank line",)),
    "blank first line": Bad(insert_line("firms.csv", 1, b""), "firms.csv", lines=(1,), words=("blank",)),
    "quoted field over two lines": Bad(set_field("applications.csv", 9, "project_id", b'"A-2016\n-001"'),
                                       "applications.csv", lines=(9, 10), words=("several lines",)),
    "quote never closed": Bad(set_field("panel.csv", 15, "firm_id", b'"F00002'), "panel.csv", lines=(15,),
                              words=("not closed",)),
    "very long line": Bad(set_field("panel.csv", 5, "firm_id", "F" + "0" * 200_000), "panel.csv", lines=(5,),
                          words=("longer than 131,072 characters",)),
    "CRLF file with a bad value": Bad(both(set_field("panel.csv", 9, "year", "20l5"), transform("panel.csv", crlf)),
                                      "panel.csv", "year", (9,), ("'integer'",)),
    # --- header
    "semicolon-separated": Bad(transform("firms.csv", lambda b: b.replace(b",", b";")), "firms.csv",
                               words=("semicolons", "commas")),
    "tab-separated": Bad(transform("panel.csv", lambda b: b.replace(b",", b"\t")), "panel.csv", words=("tabs",)),
    "column named twice": Bad(replace("panel.csv", b"rd_expenditure_eur\n", b"year\n"), "panel.csv", "year",
                              words=("unique column names", "2 times")),
    "comma at the end of the header": Bad(edit_line("firms.csv", 1, lambda b: b + b","), "firms.csv",
                                          words=("column 8 of the header line has no name",)),
    "space after a comma in the header": Bad(replace("firms.csv", b",firm_type,", b", firm_type,"), "firms.csv",
                                             " firm_type", words=("spaces",)),
    "no header line": Bad(transform("panel.csv", lambda b: b.split(b"\n", 1)[1]), "panel.csv", lines=(1,),
                          words=("header",)),
    "missing column": Bad(transform("panel.csv", lambda b: b"\n".join(line.rsplit(b",", 1)[0] for line in b.split(b"\n"))),
                          "panel.csv", "rd_expenditure_eur", words=("is missing",)),
    # --- values
    "negative grant": Bad(set_field("applications.csv", 5, "grant_eur", "-100.00"), "applications.csv",
                          "grant_eur", (5,), ("greater_than_or_equal_to(0)",)),
    "negative R&D": Bad(set_field("panel.csv", 50, "rd_expenditure_eur", "-1"), "panel.csv", "rd_expenditure_eur",
                        (50,)),
    "score above 100": Bad(set_field("applications.csv", 2, "score", "850.4"), "applications.csv", "score", (2,)),
    "date that does not exist": Bad(set_field("applications.csv", 12, "end_date", "2019-02-30"), "applications.csv",
                                    "end_date", (12,), ("ISO date",)),
    "date as dd/mm/yyyy": Bad(set_field("applications.csv", 13, "start_date", "01/12/2017"), "applications.csv",
                              "start_date", (13,), ("ISO date",)),
    "date with a time": Bad(set_field("applications.csv", 14, "start_date", "2017-12-01 00:00:00"),
                            "applications.csv", "start_date", (14,), ("ISO date",)),
    "date in year 2999": Bad(set_field("applications.csv", 15, "end_date", "2999-11-30"), "applications.csv",
                             "end_date", (15,), ("year 1900-2100",)),
    "two-digit year": Bad(set_field("panel.csv", 60, "year", "17"), "panel.csv", "year", (60,), ("in_range",)),
    "member_since written as a float": Bad(set_field("firms.csv", 2, "member_since", "2009.0"), "firms.csv",
                                           "member_since", (2,), ("'integer'",)),
    "call_year of 25 digits": Bad(set_field("applications.csv", 3, "call_year", "9" * 25), "applications.csv",
                                  "call_year", (3,), ("at most 18 digits",)),
    "funded as 1": Bad(set_field("applications.csv", 2, "funded", "1"), "applications.csv", "funded", (2,),
                       ("boolean",)),
    # --- dataset.json
    "dataset.json not JSON": Bad(transform("dataset.json", lambda b: b[:-40]), "dataset.json",
                                 words=("not valid JSON", "line")),
    "dataset.json a list": Bad(write("dataset.json", b"[" + DATASET_TEMPLATE + b"]"), "dataset.json",
                               words=("not an object",)),
    "dataset.json synthetic as text": Bad(replace("dataset.json", b'"synthetic": true', b'"synthetic": "yes"'),
                                          "dataset.json", "synthetic", words=("true or false",)),
    "dataset.json without name": Bad(write("dataset.json", b'{"synthetic": false, "description": "x"}'),
                                     "dataset.json", "name", words=("required key",)),
    "dataset.json key twice": Bad(replace("dataset.json", b'"synthetic": true', b'"synthetic": true, "synthetic": false'),
                                  "dataset.json", words=("'synthetic'", "keep one")),
    "dataset.json a directory": Bad(directory_instead("dataset.json"), "dataset.json", words=("is a directory",)),
}


def link_outside(name: str) -> Callable[[Path], None]:
    """Move ``name`` out of the folder and leave a symbolic link to it."""
    def corrupt(d: Path) -> None:
        outside = d.parent / f"elsewhere-{name}"
        (d / name).rename(outside)
        os.symlink(outside, d / name)

    return corrupt


UNUSUAL_BUT_VALID: dict[str, Callable[[Path], None]] = {
    "CRLF line endings": both(*(transform(n, crlf) for n in (*CSV_FILES, "dataset.json"))),
    "byte-order marks": both(*(transform(n, lambda b: b"\xef\xbb\xbf" + b) for n in (*CSV_FILES, "dataset.json"))),
    "CR line endings, no final line end, trailing blank lines": both(
        transform("firms.csv", lambda b: b.replace(b"\n", b"\r")),
        transform("applications.csv", lambda b: b.rstrip(b"\n")),
        transform("panel.csv", lambda b: b + b"\n\n\r\n"),
    ),
    "every field quoted, columns reordered": both(
        transform("panel.csv", lambda b: b"\n".join(b",".join(b'"' + f + b'"' for f in line.split(b",")) if line else line
                                                    for line in b.split(b"\n"))),
        transform("firms.csv", lambda b: b"\n".join(b",".join(line.split(b",")[::-1]) if line else line
                                                    for line in b.split(b"\n"))),
    ),
    "symbolic link to a file outside the folder": link_outside("panel.csv"),
}


# --------------------------------------------------------------------- the tests


def folder_state(d: Path) -> dict[str, str]:
    """Every entry under ``d`` (or ``d`` itself if it is a file): a hash of its bytes,
    the target of a link, or "dir"."""
    entries = [d, *sorted(d.rglob("*"))] if d.is_dir() else [d]
    state = {}
    for p in entries:
        if p.is_symlink():
            state[str(p)] = "link " + os.readlink(p)
        elif p.is_dir():
            state[str(p)] = "dir"
        else:
            state[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return state


def validate(d: Path, capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["validate", str(d)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("case", list(BAD.values()), ids=list(BAD))
def test_bad_data_is_rejected_clearly(case: Bad, data_copy: Path, capsys):
    case.corrupt(data_copy)
    before = folder_state(data_copy)
    code, out, err = validate(data_copy, capsys)
    assert code == 3, f"exit {code}; stdout {out!r}; stderr {err!r}"
    assert "valid" not in out and "Traceback" not in err
    assert err.startswith("error: ")
    path = data_copy if case.file == "." else data_copy / case.file
    assert f"{path}:" in err, err
    if case.column:
        assert f"'{case.column}'" in err, err
    for line in case.lines:
        assert f"line {line}" in err, err
    for word in case.words:
        assert word in err, err
    assert folder_state(data_copy) == before


@pytest.mark.parametrize("corrupt", list(UNUSUAL_BUT_VALID.values()), ids=list(UNUSUAL_BUT_VALID))
def test_unusual_but_valid_data_pass(corrupt, default_data: Path, data_copy: Path, capsys):
    corrupt(data_copy)
    before = folder_state(data_copy)
    code, out, err = validate(data_copy, capsys)
    assert code == 0 and err == "", err
    assert "valid; sha256" in out
    assert folder_state(data_copy) == before
    for name in CSV_FILES:  # the same text, field by field
        default = read_contract_csv(default_data / name)
        pd.testing.assert_frame_equal(read_contract_csv(data_copy / name)[list(default.columns)], default)

def test_the_command_line_exits_3_without_a_traceback(data_copy: Path):
    """The real ``python -m evaluation validate``, in a process of its own."""
    header_only("applications.csv")(data_copy)
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    done = subprocess.run([sys.executable, "-m", "evaluation", "validate", str(data_copy)],
                          capture_output=True, text=True, env=env, cwd=repo)
    assert done.returncode == 3, done
    assert done.stdout == "" and "Traceback" not in done.stderr
    assert done.stderr == (f"error: {data_copy / 'applications.csv'}: has a header but no rows; add the data below "
                           "the header line (a table of the contract may not be empty) (fails 'at least one row')\n")


def test_the_error_points_at_the_line_for_programs_too(data_copy: Path):
    """``ContractError.column``/``rows`` (file line - 2) for a failure found before pandera."""
    set_field("firms.csv", 5, "province", b"T\xe8")(data_copy)
    with pytest.raises(ContractError) as info:
        load_study_data(data_copy)
    err = info.value
    assert (err.file, err.column, err.rows, err.check) == (str(data_copy / "firms.csv"), "province", [3], "UTF-8 text")
