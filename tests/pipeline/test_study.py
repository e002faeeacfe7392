"""The real study (study.yml's notebooks and report) on the default synthetic data,
built into a temporary folder: the report carries every headline number, the PDF has
pages and figures, and a forced re-run gives a byte-identical results.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from publication import html_problems, landscape_pages, pdf_problems
from pypdf import PdfReader
from typesetting import problems, visible_text

from evaluation.data.programme import CALLS, MEMBERS_TOTAL
from evaluation.pipeline.report import flatten_headline, headline_text
from evaluation.pipeline.runner import run_study

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def study(tmp_path_factory, default_data):
    """study.yml with its data, build and output folders moved to a temporary place."""
    tmp = tmp_path_factory.mktemp("study")
    config = yaml.safe_load((ROOT / "study.yml").read_text())
    config["data"] = {"dir": str(default_data)}
    config["execution"]["build_dir"] = str(tmp / "build")
    config["report"] = {"source": str(ROOT / "reports" / "report.qmd"), "output_dir": str(tmp / "output")}
    for notebook in config["notebooks"]:
        notebook["path"] = str(ROOT / notebook["path"])
    path = tmp / "study.yml"
    path.write_text(yaml.safe_dump(config))
    out = run_study(path)
    return path, out


def test_report_files_exist(study):
    _, out = study
    assert {p.name for p in out.iterdir()} >= {"report.html", "report.pdf", "results.json"}


def test_html_shows_every_headline_number(study):
    _, out = study
    results = json.loads((out / "results.json").read_text())
    html = (out / "report.html").read_text()
    headline = flatten_headline(results)
    assert len(headline) >= 30
    text = visible_text(html)
    missing = {k: headline_text(k, v) for k, v in headline.items() if v is not None and headline_text(k, v) not in text}
    assert not missing, f"headline numbers absent from the HTML: {missing}"
    assert "Synthetic data." in html
    assert "{{<" not in html, "an unexpanded shortcode reached the report"


def test_headline_reproduces_the_published_programme_figures(study):
    _, out = study
    overview = json.loads((out / "results.json").read_text())["headline"]["overview_all"]
    assert overview["members"] == MEMBERS_TOTAL
    for line, call in CALLS.items():
        got = overview[f"linea_{line.lower()}"]
        assert got["submitted"] == call["submitted"] and got["funded"] == call["funded"]
        assert got["firms_funded"] == call["firms_in_funded"]
        assert got["investment_m_eur"] == call["investment_eur"] / 1e6
        assert got["grants_m_eur"] == call["grants_eur"] / 1e6
    assert overview["figures_matching"] == overview["figures_total"]


def test_pdf_has_pages_and_figures(study):
    _, out = study
    pdf = PdfReader(out / "report.pdf")
    assert len(pdf.pages) >= 4
    images = sum(len(page.images) for page in pdf.pages)
    assert images >= 4  # two overview figures and one event-study figure per line
    text = "".join(page.extract_text() for page in pdf.pages)
    assert "Synthetic data" in text
    assert "Linea A" in text and "Linea B" in text


def test_provenance_stamp(study):
    _, out = study
    results = json.loads((out / "results.json").read_text())
    stamp = results["provenance"]
    assert len(stamp["data_sha256"]) == 64
    assert stamp["engine"].startswith(("Quarto", "offline renderer"))
    html = (out / "report.html").read_text()
    for value in (stamp["data_sha256"], stamp["engine"], stamp["packages"]["pandas"]):
        assert value in html


def test_results_are_byte_identical_whatever_the_number_of_jobs(study):
    path, out = study
    first = (out / "results.json").read_bytes()  # study.yml runs 2 jobs on a Dask LocalCluster
    run_study(path, force=True, jobs=1)  # in process, one after the other
    assert (out / "results.json").read_bytes() == first


def test_figures_have_captions_and_alt_text(study):
    _, out = study
    html = (out / "report.html").read_text()
    assert html.count("<figcaption") >= 4
    images = html.split("<img")[1:]
    assert len(images) >= 4
    assert all(' alt="' in img.split(">")[0] for img in images)


def test_the_text_is_typeset_by_the_rules(study):
    """No code name outside code spans, no negative zero or hyphen-minus, years without
    separators, p-values by rule (``typesetting.py``)."""
    _, out = study
    results = json.loads((out / "results.json").read_text())
    overview = results["headline"]["overview_all"]
    years = set(range(int(overview["first_year"]) - 5, int(overview["last_year"]) + 1))
    assert problems((out / "report.html").read_text(), years) == {}


def test_report_is_typeset_like_a_publication(study):
    """Both outputs: numbered sections, tables and figures, every @tbl-/@fig- of the
    sources resolved; a self-contained HTML with MathML; an A4 PDF, the wide tables of
    the annex on landscape pages."""
    _, out = study
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html_problems(html) == []
    assert pdf_problems(out / "report.pdf") == []
    assert "<math" in html
    assert landscape_pages(out / "report.pdf") >= 1
