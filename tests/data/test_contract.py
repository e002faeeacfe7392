"""The data contract rejects bad data with errors that name file, column and rows.

One synthetic data set is generated per session; each test copies it and corrupts one
thing. Line numbers in messages are file lines (header = line 1, data row i = i + 2).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluation.data import programme
from evaluation.data.contract import (
    COLUMNS,
    CONTRACT_FILES,
    ContractError,
    combined_hash,
    file_sha256,
    load_study_data,
    read_contract_csv,
    validate_study_data,
)
from evaluation.data.synthetic import generate

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def clean_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("contract") / "data"
    generate(out, n_nonmembers=600)
    return out


@pytest.fixture
def data_dir(clean_dir: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "data"
    shutil.copytree(clean_dir, dst)
    return dst


def _read(d: Path, name: str) -> pd.DataFrame:
    return read_contract_csv(d / name)


def _write(d: Path, name: str, df: pd.DataFrame) -> None:
    df.to_csv(d / name, index=False, lineterminator="\n")


def _raises(d: Path) -> ContractError:
    with pytest.raises(ContractError) as info:
        load_study_data(d)
    return info.value


# ------------------------------------------------------------------ the valid case


def test_clean_data_load_with_contract_dtypes(clean_dir: Path):
    data = load_study_data(clean_dir)
    assert data.dataset["synthetic"] is True
    f, a, p = data.firms, data.applications, data.panel
    assert list(f.columns) == list(COLUMNS["firms.csv"])
    assert list(a.columns) == list(COLUMNS["applications.csv"])
    assert list(p.columns) == list(COLUMNS["panel.csv"])
    assert str(f["member_since"].dtype) == "Int64"
    assert a["funded"].dtype == bool
    assert a["call_year"].dtype == np.int64 and p["year"].dtype == np.int64
    assert str(a["start_date"].dtype).startswith("datetime64")
    assert pd.api.types.is_string_dtype(f["firm_id"]) and pd.api.types.is_string_dtype(f["ateco"])
    assert p["employees"].dtype == np.float64
    # hashes: one per file, over the file bytes; data_hash over the sorted pairs
    assert set(CONTRACT_FILES) <= set(data.sha256)
    for name, digest in data.sha256.items():
        assert digest == file_sha256(clean_dir / name)
    assert data.data_hash == combined_hash(data.sha256) == validate_study_data(clean_dir)


def test_strings_stay_strings_and_hash_tracks_bytes(data_dir: Path):
    before = load_study_data(data_dir).data_hash
    firms = _read(data_dir, "firms.csv")
    firms.loc[3, "ateco"] = "01"
    _write(data_dir, "firms.csv", firms)
    data = load_study_data(data_dir)
    assert data.firms.loc[3, "ateco"] == "01"
    assert data.data_hash != before


def test_hashes_are_of_the_bytes_validated(data_dir: Path, monkeypatch):
    """Each file is read once: its digest is that of the bytes validated (a byte-order mark and
    \\r\\n included), also when the file changes after it was read; the runner's check
    (``ensure_data``) compares them with the digests taken before."""
    from evaluation.data import contract

    firms = data_dir / "firms.csv"
    firms.write_bytes(b"\xef\xbb\xbf" + firms.read_bytes().replace(b"\n", b"\r\n"))
    validated = {name: file_sha256(data_dir / name) for name in CONTRACT_FILES}
    cross_table = contract._cross_table

    def change_panel_after_reading(*args):
        (data_dir / "panel.csv").write_bytes((data_dir / "panel.csv").read_bytes() + b"\n")
        return cross_table(*args)

    monkeypatch.setattr(contract, "_cross_table", change_panel_after_reading)
    data = load_study_data(data_dir)
    assert {name: data.sha256[name] for name in CONTRACT_FILES} == validated
    assert data.sha256["panel.csv"] != file_sha256(data_dir / "panel.csv")
    assert data.data_hash == combined_hash(data.sha256)


# ------------------------------------------------------------------ structure


def test_missing_file(data_dir: Path):
    (data_dir / "panel.csv").unlink()
    err = _raises(data_dir)
    assert err.file == str(data_dir / "panel.csv")
    assert "panel.csv" in str(err) and "missing" in str(err)


def test_missing_column(data_dir: Path):
    panel = _read(data_dir, "panel.csv").drop(columns=["employees"])
    _write(data_dir, "panel.csv", panel)
    err = _raises(data_dir)
    assert err.file.endswith("panel.csv") and err.column == "employees"
    assert re.search(r"panel\.csv: column 'employees' is missing", str(err))


def test_extra_column_is_rejected(data_dir: Path):
    firms = _read(data_dir, "firms.csv").assign(nace_rev2="C")
    _write(data_dir, "firms.csv", firms)
    err = _raises(data_dir)
    assert err.file.endswith("firms.csv") and err.column == "nace_rev2"
    assert "unknown column 'nace_rev2'" in str(err)


def test_missing_dataset_synthetic_flag(data_dir: Path):
    meta = (data_dir / "dataset.json").read_text()
    (data_dir / "dataset.json").write_text(meta.replace('"synthetic": true', '"synthetic": "yes"'))
    err = _raises(data_dir)
    assert err.file.endswith("dataset.json") and err.column == "synthetic"


# ------------------------------------------------------------------ values


def test_text_in_numeric_column_names_rows(data_dir: Path):
    panel = _read(data_dir, "panel.csv")
    panel.loc[[10, 20], "turnover_eur"] = ["n/a", "12,5"]
    _write(data_dir, "panel.csv", panel)
    err = _raises(data_dir)
    assert err.file.endswith("panel.csv") and err.column == "turnover_eur"
    assert err.rows == [10, 20]
    msg = str(err)
    assert "column 'turnover_eur' fails 'number' on 2 rows: line 12 (n/a), line 22 (12,5)" in msg


def test_duplicate_firm_year(data_dir: Path):
    panel = _read(data_dir, "panel.csv")
    panel = pd.concat([panel, panel.iloc[[5]]], ignore_index=True)
    _write(data_dir, "panel.csv", panel)
    err = _raises(data_dir)
    last = len(panel) - 1
    assert err.file.endswith("panel.csv") and err.column == "firm_id, year"
    assert err.rows == [5, last]
    fid, year = panel.loc[5, "firm_id"], panel.loc[5, "year"]
    assert (
        f"columns 'firm_id', 'year' fail 'unique key' on 2 rows: line 7 ({fid}, {year}), "
        f"line {last + 2} ({fid}, {year})"
    ) in str(err)


def test_negative_employees(data_dir: Path):
    panel = _read(data_dir, "panel.csv")
    panel.loc[12, "employees"] = "-3"
    panel.loc[57, "employees"] = "-1.0"
    _write(data_dir, "panel.csv", panel)
    err = _raises(data_dir)
    assert err.rows == [12, 57] and err.column == "employees"
    assert str(err) == (
        f"{data_dir / 'panel.csv'}: column 'employees' fails 'greater_than_or_equal_to(0)' "
        "on 2 rows: line 14 (-3.0), line 59 (-1.0)"
    )


def test_bad_category_and_empty_key(data_dir: Path):
    firms = _read(data_dir, "firms.csv")
    firms.loc[4, "province"] = "MI"
    firms.loc[8, "firm_id"] = np.nan
    _write(data_dir, "firms.csv", firms)
    msg = str(_raises(data_dir))
    assert "column 'province' fails \"isin(" in msg or "column 'province' fails 'isin(" in msg
    assert "line 6 (MI)" in msg
    assert "column 'firm_id' fails 'not empty' on 1 row: line 10" in msg


def test_grant_above_cap(data_dir: Path):
    apps = _read(data_dir, "applications.csv")
    i = int(np.flatnonzero(apps["funded"] == "true")[3])
    inv = float(apps.loc[i, "investment_eur"])
    apps.loc[i, "grant_eur"] = f"{0.9 * inv:.2f}"
    _write(data_dir, "applications.csv", apps)
    err = _raises(data_dir)
    assert err.file.endswith("applications.csv") and err.column == "grant_eur"
    assert err.rows == [i]
    assert f"fails 'grant_eur <= {programme.GRANT_CAP_SHARE} * investment_eur' on 1 row: line {i + 2}" in str(err)


def test_size_class_must_match_firm_type(data_dir: Path):
    firms = _read(data_dir, "firms.csv")
    i = int(np.flatnonzero(firms["firm_type"] == "large")[0])
    firms.loc[i, "size_class"] = "small"
    _write(data_dir, "firms.csv", firms)
    err = _raises(data_dir)
    assert err.column == "size_class" and err.rows == [i]
    assert f"line {i + 2} (large, small)" in str(err)


def test_inconsistent_project_fields(data_dir: Path):
    apps = _read(data_dir, "applications.csv")
    pid = apps["project_id"].iloc[0]
    rows = np.flatnonzero(apps["project_id"] == pid)
    apps.loc[rows[0], "score"] = "99.99"
    _write(data_dir, "applications.csv", apps)
    err = _raises(data_dir)
    assert err.column == "score" and err.rows == list(rows)
    assert "same value on all rows of a project" in str(err)


# ------------------------------------------------------------------ cross-table


def test_unknown_firm_id(data_dir: Path):
    apps = _read(data_dir, "applications.csv")
    apps.loc[3, "firm_id"] = "ZZ99999"
    _write(data_dir, "applications.csv", apps)
    err = _raises(data_dir)
    assert err.file.endswith("applications.csv") and err.column == "firm_id" and err.rows == [3]
    assert "fails 'firm_id present in firms.csv' on 1 row: line 5 (ZZ99999)" in str(err)


def test_unknown_firm_in_panel(data_dir: Path):
    panel = _read(data_dir, "panel.csv")
    panel.loc[0, "firm_id"] = "ZZ99999"
    _write(data_dir, "panel.csv", panel)
    err = _raises(data_dir)
    assert err.file.endswith("panel.csv") and err.rows == [0] and "line 2 (ZZ99999)" in str(err)


def test_panel_firm_that_is_no_enterprise(data_dir: Path):
    firms = _read(data_dir, "firms.csv")
    others = firms.loc[~firms["firm_type"].isin(["SME", "large"]), ["firm_id", "firm_type"]].head(2)
    panel = _read(data_dir, "panel.csv")
    panel.loc[[0, 7, 9], "firm_id"] = [others.iloc[0, 0], others.iloc[1, 0], others.iloc[0, 0]]
    _write(data_dir, "panel.csv", panel)
    err = _raises(data_dir)
    assert err.file.endswith("panel.csv") and err.column == "firm_id" and err.rows == [0, 7, 9]
    (first, first_type), (second, second_type) = others.itertuples(index=False)
    assert str(err).endswith(
        "fails 'panel firm is an enterprise (firms.csv: firm_type SME or large)' on 3 rows: "
        f"line 2 ({first}, {first_type}), line 9 ({second}, {second_type}), line 11 ({first}, {first_type})"
    )


def test_linea_a_non_member(data_dir: Path):
    apps = _read(data_dir, "applications.csv")
    firms = _read(data_dir, "firms.csv")
    outsider = sorted(
        set(firms.loc[(firms["pole"] == "none"), "firm_id"]) - set(apps["firm_id"])
    )[0]
    i = int(np.flatnonzero(apps["line"] == "A")[7])
    apps.loc[i, "firm_id"] = outsider
    _write(data_dir, "applications.csv", apps)
    err = _raises(data_dir)
    assert err.file.endswith("applications.csv") and err.column == "firm_id" and err.rows == [i]
    assert "Linea A applicant is a pole member" in str(err)
    assert f"line {i + 2} ({outsider}, none, <empty>, 2016)" in str(err)


def test_linea_a_member_joined_after_call(data_dir: Path):
    apps = _read(data_dir, "applications.csv")
    firms = _read(data_dir, "firms.csv")
    i = int(np.flatnonzero(apps["line"] == "A")[0])
    j = int(np.flatnonzero(firms["firm_id"] == apps.loc[i, "firm_id"])[0])
    firms.loc[j, "member_since"] = "2017"
    _write(data_dir, "firms.csv", firms)
    err = _raises(data_dir)
    assert err.rows == [i] and "member_since <= call_year" in str(err)


def test_linea_b_member(data_dir: Path):
    apps = _read(data_dir, "applications.csv")
    firms = _read(data_dir, "firms.csv")
    i = int(np.flatnonzero(apps["line"] == "B")[0])
    j = int(np.flatnonzero(firms["firm_id"] == apps.loc[i, "firm_id"])[0])
    firms.loc[j, ["pole", "member_since"]] = ["ICT", "2012"]
    _write(data_dir, "firms.csv", firms)
    err = _raises(data_dir)
    assert err.file.endswith("applications.csv") and err.rows == [i]
    assert "Linea B applicant is not a pole member" in str(err)


def test_two_leads(data_dir: Path):
    apps = _read(data_dir, "applications.csv")
    partner = int(np.flatnonzero(apps["role"] == "partner")[0])
    pid = apps.loc[partner, "project_id"]
    apps.loc[partner, "role"] = "lead"
    _write(data_dir, "applications.csv", apps)
    err = _raises(data_dir)
    rows = list(np.flatnonzero(apps["project_id"] == pid))
    assert err.file.endswith("applications.csv") and err.column == "role" and err.rows == rows
    msg = str(err)
    assert "fails 'exactly one lead per project'" in msg
    for r in rows[:5]:
        assert f"line {r + 2} ({pid}, " in msg


# ------------------------------------------------------------------ documentation


def test_every_contract_column_is_documented():
    readme = (REPO / "data" / "README.md").read_text(encoding="utf-8")
    for name, cols in COLUMNS.items():
        assert f"`{name}`" in readme
        for col in cols:
            assert f"`{col}`" in readme, f"{name}:{col} not documented in data/README.md"


@pytest.mark.parametrize("text", [
    "a,b,c\n1,2,3\n4,,6\n",                      # plain: pandas' C parser
    "\ufeffa,b,c\r\n1,2,3\r\n4,5,\r\n\r\n\r\n",  # byte-order mark, CRLF, blank lines at the end
    "a,b,c\n1,2,3\n4,5,6",                       # no line break after the last row
    "a,b,c\n 1 ,x y,NA\nnull,,-\n",              # spaces and NA-like text stay text
    'a,b,c\n1,"2,5",3\n4,"x""y",6\n',            # quotes: read line by line with csv
    "a,b,c\r1,2,3\r4,5,6\r",                     # old Mac line ends: csv
])
def test_plain_and_quoted_csv_read_alike(tmp_path: Path, text: str):
    """The fast reader of quote-free files (pandas' C parser) and the csv module give the
    same text frame: every field as written, an empty field missing."""
    import csv

    path = tmp_path / "t.csv"
    path.write_bytes(text.encode("utf-8"))
    rows = list(csv.reader(text.removeprefix("\ufeff").splitlines()))
    while rows and not rows[-1]:
        rows.pop()
    expected = pd.DataFrame(rows[1:], columns=rows[0], dtype="str")
    pd.testing.assert_frame_equal(read_contract_csv(path), expected.mask(expected == ""))


@pytest.mark.parametrize("text, message", [
    ("a,b,c\n1,2,3\n\n4,5,6\n", "blank line before the last row"),
    ("a,b,c\n1,2,3\n4,5\n", "number of fields differs"),
    ("a,b,c\n1,2,3\n4,5,6,7\n", "number of fields differs"),
    ("a,b,b\n1,2,3\n", "appears 2 times"),
])
def test_quote_free_csv_errors_name_lines(tmp_path: Path, text: str, message: str):
    """A quote-free file that breaks the format falls back to the line-by-line reader,
    whose error says what is wrong."""
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(ContractError, match=message):
        read_contract_csv(path)


def test_plain_digit_shortcut_agrees_with_the_patterns():
    """``_all_plain`` (a byte scan for columns of plain digits) only says "every value matches"
    when the regular expression agrees, and ``_matches`` gives the regular expression's answer
    value by value, on random columns of digits, dots and the characters that break the
    patterns (signs, exponents, spaces, letters, a non-ASCII digit, empty values)."""
    import random

    from evaluation.data.contract import _INT, _INT64, _NUMBER, _all_plain, _matches

    rng = random.Random(20170601)
    shortcuts = 0
    for _ in range(3000):
        values = ["".join(rng.choice("0123456789..-+eE x\u0661" if rng.random() < 0.3 else "0123456789.")
                          for _ in range(rng.randint(0, 21))) for _ in range(rng.randint(1, 6))]
        column = pd.Series(values, dtype="str")
        for regex in (_NUMBER, _INT, _INT64):
            exact = column.str.fullmatch(regex).fillna(False).astype(bool)
            if _all_plain("\n".join(values), regex):
                shortcuts += 1
                assert exact.all(), (regex, values)
            assert (_matches(column, regex).to_numpy() == exact.to_numpy()).all(), (regex, values)
            assert all(bool(re.fullmatch(regex, v)) == e for v, e in zip(values, exact))
    assert shortcuts > 300  # the shortcut is taken, not only refused


def test_numbers_typed_by_the_parser_agree_with_the_text_path(tmp_path: Path, monkeypatch):
    """A panel whose integer and float columns the C parser converts itself (plain values,
    ``_plain_dtypes``) loads the same typed frame as the text path (the format checks on the
    text, then ``_convert``), and a panel that breaks the contract fails with the same message,
    on random columns of plain values, empty values, values that are not plain (signs,
    exponents, spaces, letters, ``inf``, two dots, a lone dot) and whole numbers or decimals
    of up to 400 digits; and a float column that is not nullable keeps its empty values as text."""
    import random

    from evaluation.data import contract

    rng = random.Random(20170601)
    special = ["-3", "+1.5", "1e6", "1E999", " 12", "x", "inf", "NaN", "1.2.3", ".", "7.", ".5", "0012", "x" * 128,
               "." * 256, "1" * 127 + ".", "1" * 128]

    def number(whole: bool) -> str:
        r = rng.random()
        if r < 0.04:
            return ""
        if r < 0.08:
            return rng.choice(special)
        if r < 0.1:
            return "9" * rng.choice([17, 18, 19, 25, 400]) + ("" if whole or rng.random() < 0.5 else ".5")
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 22)))
        if whole:
            return digits
        cut = rng.randint(0, len(digits))
        return digits[:cut] + "." + digits[cut:] if rng.random() < 0.7 else digits

    def outcome(n: int, p: float) -> list[str]:
        if rng.random() < 0.2:  # whole numbers only (to_numeric reads them as integers first)
            return [str(rng.randint(0, 10 ** rng.choice([3, 17, 19, 30, 126]))) for _ in range(n)]
        return [number(whole=rng.random() < 0.5) if rng.random() < p else f"{rng.randint(0, 10**6)}.{rng.randint(0, 99):02d}"
                for _ in range(n)]

    typed_by_parser = 0
    for case in range(60 + len(special)):
        n = rng.randint(1, 8)
        p = rng.choice([0.0, 0.0, 0.05, 0.3]) if case < 60 else 0.0
        panel = pd.DataFrame({
            "firm_id": [f"F{i}" for i in range(n)],
            "year": [number(whole=True) if rng.random() < p else str(rng.randint(2010, 2022)).zfill(rng.randint(4, 6))
                     for _ in range(n)],
            **{c: outcome(n, p) for c in ("turnover_eur", "employees", "value_added_eur", "rd_expenditure_eur")},
        })
        if case >= 60:  # one value that is not plain in an otherwise plain column
            panel.iloc[rng.randrange(n), rng.randrange(1, 6)] = special[case - 60]
        d = tmp_path / str(case)
        d.mkdir()
        (d / "panel.csv").write_text(panel.to_csv(index=False, lineterminator="\n"), encoding="utf-8")
        results = []
        for parsed_kinds in (contract._PARSED_KINDS, {}):
            monkeypatch.setattr(contract, "_PARSED_KINDS", parsed_kinds)
            try:
                results.append(contract._read_table(d, "panel.csv", {}))
            except ContractError as exc:
                results.append(str(exc))
        fast, text = results
        if isinstance(text, str):
            assert fast == text
        else:
            pd.testing.assert_frame_equal(fast, text, check_exact=True)
        monkeypatch.setattr(contract, "_PARSED_KINDS", {"int": "int64", "float": "float64"})
        raw = contract._text_frame(d / "panel.csv", "panel.csv", contract._SPEC["panel.csv"])
        typed_by_parser += sum(not pd.api.types.is_string_dtype(raw[c]) for c in raw.columns)
    assert typed_by_parser > 100  # the shortcut is taken, not only refused
    spec = (contract._Col("a", "float"), contract._Col("b", "float", nullable=True))
    for body, dtypes in ((b"1,\n2,3", {"a": "float64", "b": "float64"}), (b",1\n2,3", {"a": "str", "b": "float64"}),
                         (b"1,2\n3,", {"a": "float64", "b": "float64"}), (b"1,2\n,", {"a": "str", "b": "float64"})):
        assert contract._plain_dtypes(np.frombuffer(body, dtype=np.uint8), ["a", "b"], spec) == dtypes
