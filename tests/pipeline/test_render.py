"""The offline renderer's handling of Quarto shortcodes, and report formatting."""

from pathlib import Path

import pandas as pd
import pytest

from evaluation.pipeline.render import RenderError, expand_shortcodes
from evaluation.pipeline.report import table_markdown


def test_var_and_include_are_expanded(tmp_path):
    (tmp_path / "part.md").write_text("Included with {{< var a.b >}}.")
    text = "Value {{< var a.b >}}; {{< include part.md >}}"
    assert expand_shortcodes(text, {"a": {"b": "1,194"}}, tmp_path) == "Value 1,194; Included with 1,194."


@pytest.mark.parametrize(
    "text, message",
    [
        ("{{< var a.missing >}}", "no such key"),
        ("{{< include nowhere.md >}}", "file not found"),
        ("{{< video clip.mp4 >}}", "not supported"),
    ],
)
def test_unknown_shortcodes_are_errors_not_blanks(tmp_path, text, message):
    with pytest.raises(RenderError, match=message):
        expand_shortcodes(text, {"a": {"b": 1}}, tmp_path)


def test_an_include_cycle_is_an_error(tmp_path):
    (tmp_path / "self.md").write_text("{{< include self.md >}}")
    with pytest.raises(RenderError, match="includes itself"):
        expand_shortcodes("{{< include self.md >}}", {}, tmp_path)


def test_table_markdown_formats_cells_and_caption():
    frame = pd.DataFrame({"figure": ["members", "grants"], "value": [1194.0, 23.7], "n": pd.array([3685, None], "Int64")})
    md = table_markdown(frame, "A caption")
    assert md.splitlines() == [
        "| figure | value | n |",
        "|:---|---:|---:|",
        "| members | 1,194 | 3,685 |",
        "| grants | 23.7 |  |",
        "",
        ": A caption",
    ]


def test_text_columns_keep_years_as_written():
    frame = pd.DataFrame({"treated": [2017, "never"], "weight": [0.5, 0.5]})
    assert "| 2017 | 0.500 |" in table_markdown(frame, "c")


def test_citations_are_resolved_in_html_and_pdf(tmp_path):
    """The offline renderer runs citeproc for both outputs: no [@key] is left, the
    reference list is printed (the PDF is read back as text)."""
    from pypdf import PdfReader

    from evaluation.pipeline.render import _render_offline

    (tmp_path / "refs.bib").write_text("@article{roth2022, author = {Roth, Jonathan}, title = {Pretest with Caution},"
                                       " journal = {AER: Insights}, year = {2022}}\n")
    source = tmp_path / "doc.qmd"
    source.write_text("---\ntitle: t\nbibliography: refs.bib\n---\n\n# Text\n\nAs shown [@roth2022].\n\n"
                      "# References\n\n::: {#refs}\n:::\n")
    out = tmp_path / "out"
    out.mkdir()
    _render_offline(tmp_path, source, out)
    html = (out / "doc.html").read_text(encoding="utf-8")
    pdf = " ".join(page.extract_text() for page in PdfReader(out / "doc.pdf").pages)
    for text in (html, pdf):
        assert "[@" not in text and "???" not in text
        assert "(Roth 2022)" in text and "Pretest with Caution" in text


WIDE_HEADERS = ["comparison group", "estimator", "outcome", "effect", "CI low", "CI high", "funded used",
                "comparison used", "funded in group", "comparison in group", "firms changing status", "truth", "note"]


def publication_source(tmp_path, body: str) -> Path:
    """A small Quarto project in ``tmp_path``: the real ``_quarto.yml``, a figure, and a
    report whose body is ``body``."""
    import shutil

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    root = Path(__file__).resolve().parents[2]
    shutil.copyfile(root / "_quarto.yml", tmp_path / "_quarto.yml")
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 1])
    fig.savefig(tmp_path / "line.png")
    plt.close(fig)
    source = tmp_path / "doc.qmd"
    source.write_text("---\ntitle: t\n---\n\n" + body, encoding="utf-8")
    (tmp_path / "out").mkdir()
    return source


def test_offline_report_is_typeset_like_a_publication(tmp_path):
    """Numbered sections, "Table N"/"Figure N" captions in document order, @tbl-/@fig-
    as links, MathML, one self-contained HTML file; an A4 PDF whose too-wide table
    goes on a landscape page with its header words whole."""
    from publication import html_problems, landscape_pages, pdf_problems
    from pypdf import PdfReader

    from evaluation.pipeline.render import _render_offline
    from evaluation.pipeline.report import not_estimable_markdown

    small = pd.DataFrame({"call": ["Linea A", "Linea B"], "effect": [4.9, 3.1]})
    wide = pd.DataFrame([["matched non-applicants", "CS-DR", "turnover", 0.05, 0.01, 0.09, 221, 603, 221, 603,
                          12, 0.03, "199 firms with no R&D in any year carry no information and are left out"]],
                        columns=WIDE_HEADERS)
    body = ("# Results\n\nAs @tbl-small and @fig-line show, with the effect read as $100\\,(e^{b}-1)$; "
            "@tbl-wide has every column.\n\n" + table_markdown(small, "Effects", "tbl-small") + "\n"
            + '![A line](line.png){#fig-line fig-alt="A rising line."}\n\n'
            + "# Annex\n\n" + table_markdown(wide, "Every column", "tbl-wide")
            + "\nThe data give no @tbl-gone.\n\n" + not_estimable_markdown("one year only.", "tbl-gone"))
    source = publication_source(tmp_path, body)
    _render_offline(tmp_path, source, tmp_path / "out")
    html = (tmp_path / "out" / "doc.html").read_text(encoding="utf-8")
    pdf = tmp_path / "out" / "doc.pdf"
    assert html_problems(html) == []
    assert pdf_problems(pdf) == []
    assert '<a href="#tbl-small">Table 1</a>' in html and '<a href="#fig-line">Figure 1</a>' in html
    assert '<a href="#tbl-wide">Table 2</a>' in html and "Table 2:</strong> Every column" in html
    assert '<a href="#tbl-gone">Table 3</a>' in html and 'class="callout-note callout"' in html
    assert "<math" in html and 'class="table-wrap"' in html and 'id="TOC"' in html
    assert landscape_pages(pdf) == 1
    text = " ".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "Table 1: Effects" in text and "Figure 1: A line" in text
    assert all(word in text.split() for word in ("comparison", "changing", "status"))


def test_the_checks_catch_a_broken_report(tmp_path):
    """A reference to a missing label and an image from the network are reported."""
    from publication import html_problems, pdf_problems

    from evaluation.pipeline.render import _render_offline

    source = publication_source(tmp_path, "# One\n\nSee @tbl-nowhere.\n\n# Two\n\nText.\n")
    _render_offline(tmp_path, source, tmp_path / "out")
    html = (tmp_path / "out" / "doc.html").read_text(encoding="utf-8")
    html += '<img src="https://example.org/x.png"><script src="//cdn.example.org/mathjax.js"></script>'
    assert set(html_problems(html)) == {
        "unresolved cross-reference @tbl-nowhere", "no 'Table 1'", "no 'Figure 1'",
        "loads https://example.org/x.png from the network", "loads //cdn.example.org/mathjax.js from the network",
        "math needs MathJax or KaTeX instead of MathML"}
    assert set(pdf_problems(tmp_path / "out" / "doc.pdf")) == {
        "unresolved cross-reference @tbl-nowhere", "no 'Table 1'", "no 'Figure 1'"}


def test_quarto_options_reach_the_offline_renderer(tmp_path):
    from evaluation.pipeline.render import format_options, pandoc_options

    (tmp_path / "_quarto.yml").write_text("lang: en\nformat:\n  html:\n    toc: true\n    number-sections: true\n"
                                          "  typst:\n    papersize: a4\n    number-sections: true\n"
                                          "    margin:\n      x: 2cm\n      y: 3cm\n")
    options = format_options(tmp_path)
    html_args, html_meta = pandoc_options(options["html"], "html")
    assert "--toc" in html_args and "--number-sections" in html_args and html_meta == {"lang": "en"}
    typst_args, meta = pandoc_options(options["typst"], "typst")
    assert typst_args == [] and meta["papersize"] == "a4" and meta["section-numbering"] == "1.1.1"
    assert meta["offline-text-width"] == pytest.approx(595.28 - 4 * 72 / 2.54, abs=0.1)
    assert meta["offline-landscape-width"] == pytest.approx(841.89 - 4 * 72 / 2.54, abs=0.1)
    with pytest.raises(RenderError, match="papersize"):
        pandoc_options({"papersize": "folio"}, "typst")


def test_notes_in_place_of_cited_outputs_keep_their_label(tmp_path):
    """A table the text cites but the data cannot give still resolves: its note carries the label."""
    from evaluation.pipeline.report import crossref_label, fill_missing_includes, not_estimable_markdown

    assert crossref_label("tbl", "main_not_yet", "balance_a") == "tbl-main-not-yet-balance-a"
    note = not_estimable_markdown("one year only", "tbl-main-not-yet-balance-a")
    assert note.startswith("::: {#tbl-main-not-yet-balance-a}\n::: {.callout-note}") and note.endswith(":::\n")
    assert not_estimable_markdown("one year only").startswith("::: {.callout-note}")
    source = tmp_path / "report.qmd"
    source.write_text("See @fig-gone-run-plot.\n\n{{< include generated/gone_run/plot.md >}}\n")
    fill_missing_includes(source, ["other_run"])
    assert (tmp_path / "generated" / "gone_run" / "plot.md").read_text().startswith("::: {#fig-gone-run-plot}")
