"""The checks of ``typesetting.py`` on planted strings: each rule finds what it is for,
and nothing inside code spans, math or URLs."""

from __future__ import annotations

from typesetting import problems

CLEAN = ("<p>Linea A: 6.2% (95% interval \u22120.4 to 12.1), p = 0.035 and p &lt; 0.001; 1,006 firms from 2012 to 2017; "
         "p = 0,035 in Italian; e = \u22124; 2014-2020 and the run <code>main_not_yet</code>, "
         '<span class="math inline">Y_it=1</span>, https://example.org/observatory_en.</p>')


def test_a_clean_text_passes():
    assert problems(CLEAN, years={2012, 2017}) == {}


def test_every_rule_finds_its_planted_string():
    bad = ("<p>cs_dr against not_yet; firm_pole=Agrifood and size_class=large; 0.0 and -0.0 and \u22120.00; "
           "a change of -1.5; 2,017; p = 0.0, p = 0.0201, p &lt; 0.0001 and p = 0.000</p>")
    found = problems(bad, years={2017})
    assert found["identifier"] == ["cs_dr", "firm_pole", "not_yet", "size_class"]
    assert found["name=value"] == ["firm_pole=A", "size_class=l"]
    assert found["negative zero"] == ["-0.0", "\u22120.00"]
    assert len(found["hyphen for minus"]) == 2  # -0.0 and -1.5
    assert found["year with separator"] == ["2,017"]
    assert found["p-value"] == ["p = 0.0", "p = 0.0201", "p < 0.0001", "p = 0.000"]


def test_the_data_providers_own_words_are_left_out():
    html = "<p>Data: <code>mine</code>. Test data set \u2018short_one_pole\u2019 by tests/foreign_data.py.</p>"
    assert problems(html, set()) == {"identifier": ["foreign_data", "short_one_pole"]}
    assert problems(html, set(), quoted=("Test data set 'short_one_pole' by tests/foreign_data.py.",)) == {}
