"""The Observatory's assessment as data: every point either names the study result
that speaks to it or says which data would make it testable."""

from evaluation.study.observatory import ASSESSMENT, CATEGORIES, PILOT_INDICATORS


def test_every_point_is_evidenced_or_says_what_data_are_missing():
    for point in ASSESSMENT:
        assert point.category in CATEGORIES
        assert (point.evidence is None) != (point.data_needed is None), point.english


def test_every_category_of_the_seed_is_present():
    assert {p.category for p in ASSESSMENT} == set(CATEGORIES)


def test_pilot_indicators_as_in_the_seed():
    # seed 000 lists four result indicators for each pilot
    assert {k: len(v) for k, v in PILOT_INDICATORS.items()} == {"Business Accelerator": 4, "Meet the corporates": 4}
