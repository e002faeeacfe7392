"""The whole study on data sets that `evaluation/data/synthetic/` did not make
(`tests/pipeline/foreign_data.py`): each reaches a report, says "not estimable" with the reason
where its data cannot support a design, and asserts nothing its data do not show."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import pytest
import yaml
from foreign_data import SCENARIOS, Scenario, write, write_jtrain
from typesetting import problems, visible_text

from evaluation.pipeline.report import flatten_headline, headline_text
from evaluation.pipeline.runner import run_study

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow

EXPECTED_NOTES = {
    "short_one_pole": ["holds no application to Linea B",
                       "cannot be clustered by pole",
                       "Placebo start dates need two years or more before the first project start"],
    "one_call_b_no_nonapplicants": ["holds no application to Linea A",
                                    "no pool to match"],
    "unbalanced_messy": ["panel.csv reports no value of R&D expenditure for these firms (the column is empty)"],
    "near_unit_root_null": [],
    "jtrain": ["holds no application to Linea B", "cannot be clustered by pole", "no pool to match"],
}
JTRAIN = Scenario("jtrain", synthetic=False)
"""Wooldridge's jtrain mapped into the contract (``write_jtrain``); only ``name`` and
``synthetic`` of this record are used."""


@pytest.fixture(scope="module", params=[*SCENARIOS, JTRAIN], ids=lambda s: s.name)
def report(request, tmp_path_factory):
    scenario = request.param
    tmp = tmp_path_factory.mktemp(scenario.name)
    data = write_jtrain(tmp / "data") if scenario is JTRAIN else write(scenario, tmp / "data")
    config = yaml.safe_load((ROOT / "study.yml").read_text())
    config["data"] = {"dir": str(data), "generate_synthetic": False}
    config["execution"]["build_dir"] = str(tmp / "build")
    config["report"] = {"source": str(ROOT / "reports" / "report.qmd"), "output_dir": str(tmp / "output")}
    for notebook in config["notebooks"]:
        notebook["path"] = str(ROOT / notebook["path"])
    (tmp / "study.yml").write_text(yaml.safe_dump(config))
    out = run_study(tmp / "study.yml")
    results = json.loads((out / "results.json").read_text())
    return scenario, results, (out / "report.html").read_text(), out


def test_reaches_a_report(report):
    _, _, html, out = report
    assert (out / "report.pdf").stat().st_size > 10_000
    assert "{{<" not in html and "?var:" not in html


def test_every_headline_number_is_in_the_report(report):
    _, results, html, _ = report
    text = visible_text(html)
    missing = {k: v for k, v in flatten_headline(results).items() if v is not None and headline_text(k, v) not in text}
    assert not missing


def plain_text(html: str) -> str:
    text = unescape(re.sub(r"<[^>]+>", " ", html))
    return re.sub(r"\s+", " ", text.replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"'))


def test_the_text_is_typeset_by_the_rules(report):
    """No code name outside code spans, no negative zero or hyphen-minus, years without
    separators, p-values by rule (``typesetting.py``), whatever the data."""
    _, results, html, out = report
    overview = results["headline"].get("overview_all", {})
    years = set(range(int(overview.get("first_year", 2005)) - 5, int(overview.get("last_year", 2025)) + 1))
    description = json.loads((out.parent / "data" / "dataset.json").read_text())["description"]
    assert problems(html, years, quoted=(description,)) == {}


def test_says_why_a_design_is_not_estimable(report):
    """Every not-estimable output the report includes stands there with its reason."""
    scenario, results, html, _ = report
    text = plain_text(html)
    for note in EXPECTED_NOTES[scenario.name]:
        assert note in text, f"{scenario.name}: expected the note {note!r}"
    included = set(re.findall(r"include generated/(\w+)/(\w+)\.md", (ROOT / "reports" / "report.qmd").read_text()))
    for run_id, run in results["runs"].items():
        for key, reason in run.get("not_estimable", {}).items():
            if (run_id, key) in included:
                assert reason[1:60] in text, f"{run_id}/{key}: {reason!r} not in the report"


def test_the_banner_and_the_truth_follow_the_data(report):
    scenario, _, html, _ = report
    assert ("Synthetic data." in html) == scenario.synthetic
    assert "evaluation.data.synthetic" not in html.split("Provenance")[0]
    assert "calibrated to the programme" not in html
    assert "synthetic data carry their true effect" not in html  # none of these data has a truth.csv
    assert "no known true effect" in html


def test_no_sentence_of_the_default_data(report):
    """Words the old report always printed, whatever the data said."""
    _, _, html, _ = report
    assert "near zero before" not in html and "most after-matching dots" not in html
    # the old cost sentence turned a negative employment effect into "about -N jobs" created at a cost
    assert "unbounded EUR" not in html and not re.search(r"(would amount to|created) about -[0-9]", html)
    if re.search(r"by about -[0-9][0-9,]* jobs", html):  # a negative jobs estimate is read as such
        assert "so there is no cost per job" in html
