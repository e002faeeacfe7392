"""docs/methods.md checks itself.

The guide's ```python blocks run in order in one namespace, from the repository root.
Each results table of the guide (header ``| quantity | ours | reference | source |``)
must be, character for character, the table printed by the code block just above it:
so the "ours" column is what the library computes, at the rounding shown. The
"reference" column is checked separately against the files of tests/methods/reference/
read here (not through the guide's code), and each pair must agree to one unit of the
last digit shown. Rows without a reference must say so in their source.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
from pathlib import Path
from statistics import NormalDist
from typing import NamedTuple

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "methods.md"
REFERENCE = ROOT / "tests" / "methods" / "reference"
HEADER = "| quantity | ours | reference | source |"
NONE = "—"  # a cell without a value
BLOCK = re.compile(r"^```python\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)

# Pinned here because no file holds it; the guide states the source. R did's README and
# vignette print, for att_gt(yname="lemp", gname="first.treat", idname="countyreal",
# tname="year", xformla=~1, data=mpdta): "P-value for pre-test of parallel trends
# assumption:  0.16812" (also asserted in tests/methods/test_staggered.py).
R_DID_PRETEST_P = 0.16812


class Row(NamedTuple):
    quantity: str
    ours: str
    reference: str
    source: str


class Segment(NamedTuple):
    line: int  # line of the guide where the code block starts
    code: str
    tables: list[list[str]]  # results tables between this block and the next


def results_tables(text: str) -> list[list[str]]:
    """The tables that start with HEADER, each as its stripped lines."""
    tables, current = [], None
    for line in text.splitlines():
        line = line.strip()
        if current is not None and line.startswith("|"):
            current.append(line)
            continue
        current = None
        if line == HEADER:
            current = [line]
            tables.append(current)
    return tables


def segments(text: str) -> list[Segment]:
    matches = list(BLOCK.finditer(text))
    out = []
    for i, match in enumerate(matches):
        following = text[match.end(): matches[i + 1].start() if i + 1 < len(matches) else len(text)]
        out.append(Segment(text.count("\n", 0, match.start()) + 1, match.group(1), results_tables(following)))
    return out


def rows(table: list[str]) -> list[Row]:
    assert table[0] == HEADER and re.fullmatch(r"\|-+\|-+:\|-+:\|-+\|", table[1]), table[:2]
    out = []
    for line in table[2:]:
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        assert len(cells) == 4, f"not four cells: {line}"
        out.append(Row(*cells))
    return out


def run_guide(text: str) -> list[str]:
    """Execute the python blocks in order in one namespace, cwd = repository root; the
    standard output of each block."""
    namespace: dict = {"__name__": "docs_methods_guide"}
    outputs = []
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        for segment in segments(text):
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                exec(compile(segment.code, f"{GUIDE}:{segment.line}", "exec"), namespace)  # noqa: S102
            outputs.append(buffer.getvalue())
    finally:
        os.chdir(cwd)
    return outputs


def table_problems(text: str, outputs: list[str]) -> list[str]:
    """Differences between the guide's tables and those its code printed."""
    problems = []
    for segment, output in zip(segments(text), outputs, strict=True):
        printed, shown = results_tables(output), segment.tables
        if len(printed) != len(shown):
            problems.append(f"block at line {segment.line}: prints {len(printed)} table(s), the guide shows "
                            f"{len(shown)} after it")
        for p_table, s_table in zip(printed, shown):
            for p_line, s_line in zip(p_table, s_table):
                if p_line != s_line:
                    problems.append(f"block at line {segment.line}: code prints\n  {p_line}\nguide shows\n  {s_line}")
            if len(p_table) != len(s_table):
                problems.append(f"block at line {segment.line}: {len(p_table)} printed lines, {len(s_table)} shown")
    return problems


def reference_values() -> dict[str, float]:
    """Every reference value the guide may show, by its quantity label, from the files."""
    book = pd.read_csv(REFERENCE / "jtrain_example_14_1.csv", index_col="term")
    club = pd.read_csv(REFERENCE / "clubsandwich_cr2.csv")
    club = club[club["model"] == "firm_fe_cluster_firm"].set_index("term")
    attgt = pd.read_csv(REFERENCE / "r_did_2.5.0_mpdta_attgt.csv")
    attgt = attgt[attgt["scenario"] == "mpdta_nev_dr"]
    aggte = pd.read_csv(REFERENCE / "r_did_2.5.0_mpdta_aggte.csv")
    aggte = aggte[aggte["scenario"] == "mpdta_nev_dr"]

    ref: dict[str, float] = {}
    for term, row in book.iterrows():
        ref[f"`{term}` coefficient"] = row["coef"]
        ref[f"`{term}` SE, usual"] = row["se_usual"]
        ref[f"`{term}` SE, CR0"] = row["se_arellano"]
    ref["`grant_1` as a percent change"] = 100 * math.expm1(book.loc["grant_1", "coef"])
    for term, row in club.iterrows():
        ref[f"`{term}` SE, CR2"] = row["se"]
        ref[f"`{term}` df, CR2"] = row["df"]
        ref[f"`{term}` p, CR2"] = row["p"]
    for row in attgt.itertuples():
        ref[f"ATT({row.group},{row.t})"] = row.att
        ref[f"ATT({row.group},{row.t}) SE"] = row.se
    ref["pre-test p-value"] = R_DID_PRETEST_P

    def overall(kind):
        return aggte.loc[aggte["type"] == kind, ["overall_att", "overall_se"]].iloc[0]

    ref["simple ATT"], ref["simple ATT SE"] = overall("simple")
    ref["dynamic, mean of e≥0"], ref["dynamic, mean of e≥0 SE"] = overall("dynamic")
    ref["group, overall"], ref["group, overall SE"] = overall("group")
    for row in aggte[aggte["type"] == "dynamic"].itertuples():
        e = int(row.egt)
        ref[f"dynamic, e={e}"], ref[f"dynamic, e={e} SE"] = row.att_egt, row.se_egt
        if e >= 0:  # Sun-Abraham = CS with a universal base, equal to the varying base after treatment
            ref[f"Sun-Abraham, e={e}"] = row.att_egt
    for row in aggte[aggte["type"] == "group"].itertuples():
        ref[f"group, g={int(row.egt)}"] = row.att_egt
    # A single pre-period: the 2x2 of the 2004 cohort against the never treated is its group effect.
    ref["2x2 of 2004 vs never"] = ref["group, g=2004"]
    centre, se = overall("dynamic")
    z = NormalDist().inv_cdf(0.975)
    ref["usual 95% CI, lower"], ref["usual 95% CI, upper"] = centre - z * se, centre + z * se
    return ref


def decimals(cell: str) -> int:
    return len(cell.split(".")[1]) if "." in cell else 0


def reference_problems(text: str) -> list[str]:
    """Reference cells that differ from the files, pairs that disagree, unsourced rows."""
    expected = reference_values()
    problems, seen = [], set()
    for table in results_tables(text):
        for row in rows(table):
            if row.quantity in seen:
                problems.append(f"{row.quantity}: label used twice")
            seen.add(row.quantity)
            if row.ours == NONE:
                problems.append(f"{row.quantity}: no value of ours")
            if row.reference == NONE:
                if not row.source.startswith("none"):
                    problems.append(f"{row.quantity}: no reference, but the source does not say 'none'")
                continue
            if row.source.startswith("none"):
                problems.append(f"{row.quantity}: a reference value with source {row.source!r}")
            if row.quantity not in expected:
                problems.append(f"{row.quantity}: reference value {row.reference} has no entry in reference_values()")
                continue
            d = decimals(row.reference)
            want = f"{expected[row.quantity]:.{d}f}"
            if row.reference != want:
                problems.append(f"{row.quantity}: reference shown {row.reference}, the file gives {want}")
            if abs(float(row.ours) - float(row.reference)) > 1.000001 * 10.0 ** -d:
                problems.append(f"{row.quantity}: ours {row.ours} and reference {row.reference} disagree")
    return problems


@pytest.fixture(scope="module")
def guide():
    text = GUIDE.read_text(encoding="utf-8")
    return text, run_guide(text)


def test_guide_tables_are_what_its_code_prints(guide):
    text, outputs = guide
    assert len(results_tables(text)) >= 8
    assert sum(len(s.tables) for s in segments(text)) == len(results_tables(text)), "a table before any code"
    problems = table_problems(text, outputs)
    assert not problems, "\n".join(problems)


def test_guide_references_match_the_reference_files(guide):
    text, _ = guide
    problems = reference_problems(text)
    assert not problems, "\n".join(problems)


def test_the_checks_catch_a_typo_and_a_wrong_reference(guide):
    text, outputs = guide
    ours_row = "| `grant` coefficient | -0.252315 |"
    assert ours_row in text
    typo = text.replace(ours_row, "| `grant` coefficient | -0.252351 |")
    assert table_problems(typo, outputs)
    reference_row = "| simple ATT | -0.0400 | -0.0400 |"
    assert reference_row in text
    wrong = text.replace(reference_row, "| simple ATT | -0.0400 | -0.0410 |")
    assert len(reference_problems(wrong)) == 2  # differs from the file, and from ours
    unsourced = text.replace("| — | none in tests/methods/reference |", "| — | R did 2.5.0 |", 1)
    assert reference_problems(unsourced)
    changed_estimate = outputs[:]
    changed_estimate[1] = changed_estimate[1].replace("-0.252315", "-0.252316")
    assert table_problems(text, changed_estimate)
