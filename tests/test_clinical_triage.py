"""Triage of answers and free text by the tiers of CLINICAL.md: most urgent wins, never down."""

from __future__ import annotations

from pathlib import Path

import pytest

from coach.clinical.tiers import (
    EMERGENCY_SIGNS,
    FIRST_EVER_OVER_50,
    HIGH_BACK_LOCATION,
    SERIOUS_ACCIDENT_TRIGGER,
    SOON_SIGNS,
    URGENT_SIGNS,
    Finding,
    Tier,
)
from coach.clinical.triage import most_urgent, triage_answers
from coach.clinical.understanding import Reader, reader_for
from coach.content import load_content

_READER: list[Reader] = []


def _reader() -> Reader:
    """The reader of typed messages, built once from the shipped lexicon."""
    if not _READER:
        content = load_content(Path(__file__).resolve().parent.parent / "content")
        assert content.lexicon is not None
        _READER.append(reader_for(content.lexicon))
    return _READER[0]


# The phrasings the regular expressions of the first release caught stay caught by the reader.
def red_flag_in_text(text: str) -> Tier | None:
    top = _reader().read(text).top_tier
    return top if top is not None and top >= Tier.URGENT else None


def crisis_in_text(text: str) -> bool:
    return _reader().read(text).crisis


def low_mood_in_text(text: str) -> bool:
    return any(m.sign == "low_mood" for m in _reader().read(text).present)


ALL_CLEAR = {
    "emergency": "none",
    "location": "lower_back",
    "trigger": "lifting",
    "urgent": "none",
    "soon": "none",
    "age": "under50",
}


def rules(findings: list[Finding]) -> set[str]:
    return {f.rule for f in findings}


# --- the catalogue matches CLINICAL.md -------------------------------------------------------


def test_catalogue_has_every_emergency_trigger_of_clinical_md() -> None:
    assert set(EMERGENCY_SIGNS) == {
        "bladder_retention",
        "incontinence",
        "saddle_numbness",
        "both_legs",
        "sexual_dysfunction",
        "chest_or_breathless",
        "serious_accident",
        "belly_pain_faint",
    }


def test_catalogue_has_every_urgent_trigger_of_clinical_md() -> None:
    assert set(URGENT_SIGNS) == {
        "fever",
        "weight_loss",
        "cancer_history",
        "night_pain",
        "lump_or_shape",
        "osteoporosis_or_steroids",
        "worsening_leg_weakness",
        "immune_unwell",
        "cough_sneeze_worse",
    }


# --- structured answers -----------------------------------------------------------------------


@pytest.mark.parametrize("sign", EMERGENCY_SIGNS)
def test_each_emergency_sign_is_emergency(sign: str) -> None:
    findings = triage_answers({**ALL_CLEAR, "emergency": sign})
    assert Finding(Tier.EMERGENCY, sign) in findings
    assert most_urgent(findings) == Tier.EMERGENCY


@pytest.mark.parametrize("sign", URGENT_SIGNS)
def test_each_urgent_sign_is_urgent(sign: str) -> None:
    findings = triage_answers({**ALL_CLEAR, "urgent": sign})
    assert findings == [Finding(Tier.URGENT, sign)]
    assert most_urgent(findings) == Tier.URGENT


@pytest.mark.parametrize("sign", ["one_leg_numb", "low_mood"])
def test_each_soon_sign_is_soon(sign: str) -> None:
    findings = triage_answers({**ALL_CLEAR, "soon": sign})
    assert findings == [Finding(Tier.SOON, sign)]
    assert most_urgent(findings) == Tier.SOON


def test_soon_both_fires_one_leg_numb_and_low_mood() -> None:
    findings = triage_answers({**ALL_CLEAR, "soon": "both"})
    assert rules(findings) == set(SOON_SIGNS) == {"one_leg_numb", "low_mood"}
    assert all(f.tier == Tier.SOON for f in findings)


def test_first_back_pain_over_50_is_soon() -> None:
    findings = triage_answers({**ALL_CLEAR, "age": FIRST_EVER_OVER_50})
    assert findings == [Finding(Tier.SOON, "first_back_pain_over_50")]


@pytest.mark.parametrize("age", ["under50", "over50_before"])
def test_back_pain_before_or_under_50_is_not_flagged(age: str) -> None:
    assert triage_answers({**ALL_CLEAR, "age": age}) == []


def test_pain_high_between_the_shoulders_is_urgent() -> None:
    findings = triage_answers({**ALL_CLEAR, "location": HIGH_BACK_LOCATION})
    assert findings == [Finding(Tier.URGENT, "high_back_pain")]


@pytest.mark.parametrize("location", ["lower_back", "lower_back_leg", "middle_back"])
def test_other_locations_are_not_flagged(location: str) -> None:
    assert triage_answers({**ALL_CLEAR, "location": location}) == []


def test_pain_after_a_serious_accident_is_emergency() -> None:
    findings = triage_answers({**ALL_CLEAR, "trigger": SERIOUS_ACCIDENT_TRIGGER})
    assert findings == [Finding(Tier.EMERGENCY, "serious_accident")]


@pytest.mark.parametrize(
    "trigger", ["lifting", "sport", "twist", "posture", "minor_fall", "unknown"]
)
def test_ordinary_triggers_are_not_flagged(trigger: str) -> None:
    assert triage_answers({**ALL_CLEAR, "trigger": trigger}) == []


def test_all_none_gives_no_findings() -> None:
    findings = triage_answers(ALL_CLEAR)
    assert findings == []
    assert most_urgent(findings) == Tier.SELF


def test_one_tap_none_at_a_checkin_gives_no_findings() -> None:
    assert triage_answers({"emergency": "none"}) == []


def test_missing_and_unknown_answers_fire_nothing() -> None:
    assert triage_answers({}) == []
    assert triage_answers({"pain": "9", "change": "worse", "emergency": "not_a_sign"}) == []


def test_most_urgent_wins_when_several_fire() -> None:
    findings = triage_answers(
        {
            "emergency": "both_legs",
            "location": HIGH_BACK_LOCATION,
            "trigger": SERIOUS_ACCIDENT_TRIGGER,
            "urgent": "fever",
            "soon": "both",
            "age": FIRST_EVER_OVER_50,
        }
    )
    assert most_urgent(findings) == Tier.EMERGENCY
    assert rules(findings) == {
        "both_legs",
        "serious_accident",
        "fever",
        "high_back_pain",
        "one_leg_numb",
        "low_mood",
        "first_back_pain_over_50",
    }
    # Most urgent first.
    assert [f.tier for f in findings] == sorted((f.tier for f in findings), reverse=True)
    assert findings[0].tier == Tier.EMERGENCY


def test_urgent_beats_soon() -> None:
    findings = triage_answers({**ALL_CLEAR, "urgent": "cancer_history", "soon": "low_mood"})
    assert most_urgent(findings) == Tier.URGENT
    assert findings[0] == Finding(Tier.URGENT, "cancer_history")


@pytest.mark.parametrize("floor", list(Tier))
@pytest.mark.parametrize("later", [[], [Finding(Tier.SOON, "low_mood")]])
def test_most_urgent_never_down_triages_below_the_floor(floor: Tier, later: list[Finding]) -> None:
    assert most_urgent(later, floor=floor) >= floor


def test_emergency_stands_after_a_later_all_clear_checkin() -> None:
    first = most_urgent(triage_answers({**ALL_CLEAR, "emergency": "saddle_numbness"}))
    later = most_urgent(triage_answers({"emergency": "none"}), floor=first)
    assert later == Tier.EMERGENCY


def test_flag_on_a_later_checkin_raises_the_floor() -> None:
    standing = Tier.SOON
    assert most_urgent(triage_answers({"emergency": "incontinence"}), floor=standing) == (
        Tier.EMERGENCY
    )


# --- free text ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "I think I might have wet myself a bit",
        "it's a bit numb down there when I wipe",
        pytest.param(
            "both my legs feel like jelly",
        ),
        pytest.param(
            "my legs feel like jelly",
        ),
        "can't pee properly since this morning",
        pytest.param(
            "can\u2019t pee properly since this morning",
        ),
        "my chest hurts and I'm breathless",
        pytest.param(
            "I've been short of breath",
            id="short-of-breath",
        ),
        pytest.param(
            "a bit of shortness of breath",
        ),
        pytest.param(
            "my bum feels numb",
        ),
        "numbness around my bottom",
        "I can't tell when my bladder is full",
        "lost control of my bowels",
        "both legs are weak",
        "pins and needles in both legs",
        "I can't get an erection since this started",
        "I fell off a ladder yesterday",
        "it started after a car crash",
        "sudden belly pain and I feel faint",
        "I feel clammy",
    ],
)
def test_emergency_phrasings_are_emergency(text: str) -> None:
    assert red_flag_in_text(text) == Tier.EMERGENCY


@pytest.mark.parametrize(
    "text",
    [
        "I've had a fever since yesterday",
        "it's worse at night",
        "I had cancer 5 years ago",
        "it hurts when I cough",
        "it's worse when I sneeze",
        "feeling hot and shivery",
        "I've lost weight without trying",
        "there's a new lump on my spine",
        "I'm on steroids for my asthma",
        "I can't lift my toes",
        "I inject drugs and feel rough",
    ],
)
def test_urgent_phrasings_are_urgent(text: str) -> None:
    assert red_flag_in_text(text) == Tier.URGENT


@pytest.mark.parametrize(
    "text",
    [
        "I'm constipated from the codeine",
        "pain goes down my left leg but no weakness",
        "feeling better, can I use heat now?",
        "thanks!",
        "7",
        "",
    ],
)
def test_hard_negatives_are_not_flagged(text: str) -> None:
    assert red_flag_in_text(text) is None


def test_emergency_beats_urgent_in_the_same_message() -> None:
    assert red_flag_in_text("I have a fever and I wet myself") == Tier.EMERGENCY


def test_free_text_is_case_insensitive() -> None:
    assert red_flag_in_text("CAN'T PEE") == Tier.EMERGENCY


@pytest.mark.parametrize(
    "text",
    [
        "I want to die",
        "I've been thinking about suicide",
        "sometimes I think I'll kill myself",
        "I self-harm when it gets bad",
        "I just want to end it all",
        "Suicidal thoughts again",
        pytest.param(
            "I'd be better off dead",
        ),
        pytest.param(
            "I don't want to live anymore",
        ),
        pytest.param(
            "I keep thinking of ending my life",
        ),
    ],
)
def test_crisis_phrasings_are_detected(text: str) -> None:
    assert crisis_in_text(text) is True


@pytest.mark.parametrize(
    "text",
    [
        "this pain is killing me",
        "I'm dying for a coffee",
        "feeling a bit low today",
        "my back is better",
        "",
    ],
)
def test_crisis_negatives_are_not_detected(text: str) -> None:
    assert crisis_in_text(text) is False


@pytest.mark.parametrize(
    ("text", "tier"),
    [
        ("it feels a bit different when I wipe", Tier.EMERGENCY),
        ("I feel a bit light-headed with this belly pain", Tier.EMERGENCY),
        ("it's hard to get my pee going", Tier.EMERGENCY),
        ("I leaked a bit of wee earlier", Tier.EMERGENCY),
        ("came off my motorbike on Sunday", Tier.EMERGENCY),
        ("I've lost about a stone without trying", Tier.URGENT),
        ("my right foot keeps slapping the floor", Tier.URGENT),
        ("I can't lift the toes on my left foot", Tier.URGENT),
    ],
)
def test_phrasings_found_missing_by_the_vignettes_are_caught(text: str, tier: Tier) -> None:
    assert red_flag_in_text(text) == tier


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("feeling really low and not coping", True),
        ("I can't cope with this any more", True),
        ("the pain is low down in my back", False),
        ("feeling a bit better today", False),
    ],
)
def test_low_mood_in_words_is_recognised(text: str, expected: bool) -> None:
    assert low_mood_in_text(text) is expected
