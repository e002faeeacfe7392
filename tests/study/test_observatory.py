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


def test_points_get_evidence_on_their_own_question():
    """Evidence that answered another question is gone: funding of the poles is not a cost
    per job, demographic change is not an employment effect, start-ups are not size classes."""
    from evaluation.study.observatory import ASSESSMENT

    by_english = {p.english.split(";")[0].split(":")[0]: p for p in ASSESSMENT}
    for point in ("Uncertain funding of the poles and excessive dependence on intermediating structural funds",
                  "Demographic change", "Cluster-policy instruments"):
        assert by_english[point].evidence is None, point
    startups = by_english["Cluster-policy instruments"].data_needed
    assert "founding year" in startups and "size class" in startups
    assert {p.evidence for p in ASSESSMENT} >= {"continuity", "participation", "leverage", "insiders"}
    assert not {"cost_effectiveness", "employment", "size_heterogeneity", "members_by_pole"} & {p.evidence for p in ASSESSMENT}


def test_effect_verdict_rules():
    from evaluation.study.observatory import CONTRADICTS, INCONCLUSIVE, SUPPORTS, effect_verdict

    assert effect_verdict([(0.01, 0.05), (-0.01, 0.02)]) == SUPPORTS
    assert effect_verdict([(-0.05, -0.01)]) == CONTRADICTS
    assert effect_verdict([(-0.01, 0.02)]) == INCONCLUSIVE
    assert effect_verdict([(0.01, 0.05), (-0.05, -0.01)]) == INCONCLUSIVE  # they disagree


def test_pilot_findings_rules():
    import pandas as pd

    from evaluation.study.observatory import INCONCLUSIVE, NOT_TESTABLE_VERDICT, SUPPORTS, pilot_findings

    plan = pd.DataFrame({"mde_percent": [8.0, 16.0], "needed_per_call": [20, None]})
    found = pilot_findings(plan, 10.0, 30)
    assert found["power_accelerator"].verdict == SUPPORTS and "is 8.0%" in found["power_accelerator"].text
    assert found["power_meet_corporates"].verdict == INCONCLUSIVE
    assert "no number of participants up to 10,000" in found["power_meet_corporates"].text
    missing = pilot_findings(None, 10.0, 30, problem="the panel has one year.")
    assert {f.verdict for f in missing.values()} == {NOT_TESTABLE_VERDICT}
    assert "the panel has one year" in missing["power_accelerator"].text


def test_assessment_table_and_verdict_counts():
    from evaluation.study.observatory import (
        ASSESSMENT,
        NOT_TESTABLE_VERDICT,
        SUPPORTS,
        VERDICTS,
        Finding,
        assessment_table,
        verdict_counts,
    )

    found = {p.evidence: Finding("evidence", SUPPORTS) for p in ASSESSMENT if p.evidence}
    table = assessment_table("risk", found)
    assert list(table.columns) == ["punto (italiano)", "point", "evidence", "verdict"]
    assert set(table["verdict"]) <= set(VERDICTS)
    counts = verdict_counts(found)
    assert counts[SUPPORTS] == sum(p.evidence is not None for p in ASSESSMENT)
    assert counts[NOT_TESTABLE_VERDICT] == sum(p.evidence is None for p in ASSESSMENT)
    assert sum(counts.values()) == len(ASSESSMENT)


def test_poles_creation_dates_as_in_the_seeds():
    """Seed 000 says 2008, seed 001 says 2009 (data/seeds/, quoted in programme.POLES_CREATED)."""
    from pathlib import Path

    from evaluation.data.programme import POLES_CREATED

    seeds = Path(__file__).resolve().parents[2] / "data" / "seeds"
    assert f"Nel {POLES_CREATED['000']} il Piemonte crea 12 poli" in (seeds / "000_994f868af143dcef.txt").read_text()
    assert f"Nel {POLES_CREATED['001']}, tramite i fondi del POR FESR" in (seeds / "001_5c385bb5ec77c479.txt").read_text()
