"""The offline renderer's handling of Quarto shortcodes, and report formatting."""

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
