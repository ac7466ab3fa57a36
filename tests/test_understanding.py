"""The reader of typed messages (coach.clinical.understanding), with the shipped lexicon."""

from __future__ import annotations

from pathlib import Path

import pytest

from coach.clinical.tiers import Tier
from coach.clinical.understanding import (
    LexiconError,
    Reader,
    Status,
    build_lexicon,
    pain_score,
    reader_for,
)
from coach.content import ContentError, load_content

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def reader() -> Reader:
    content = load_content(ROOT / "content")
    assert content.lexicon is not None
    return reader_for(content.lexicon)


def _status(reader: Reader, text: str, sign: str) -> Status | None:
    found = [m for m in reader.read(text).mentions if m.sign == sign]
    return found[0].status if found else None


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("my bits have gone numb", "saddle_numbness"),
        ("can't feel the loo roll when I wipe", "saddle_numbness"),
        ("no wee since breakfast and it feels blocked", "bladder_retention"),
        ("knees gave way on both sides", "both_legs"),
        ("woke up and the bed was wet", "incontinence"),
        ("night sweats and shivery", "fever"),
        ("my clothes are hanging off me, lost weight", "weight_loss"),
        ("pain between my shoulder blades", "high_back_pain"),
    ],
)
def test_signs_in_peoples_own_words_are_present(reader: Reader, text: str, sign: str) -> None:
    assert _status(reader, text, sign) == Status.PRESENT


@pytest.mark.parametrize(
    ("text", "sign", "status"),
    [
        ("no problems with my waterworks", "bladder_retention", Status.NEGATED),
        ("not breathless at all", "chest_or_breathless", Status.NEGATED),
        ("my legs aren't weak", "both_legs", Status.NEGATED),
        ("my dad had cancer", "cancer_history", Status.OTHER_PERSON),
        ("cancer runs in my family", "cancer_history", Status.OTHER_PERSON),
        ("fell off a horse as a kid", "serious_accident", Status.PAST),
        ("tingling in my right leg this morning but it's gone now", "one_leg_numb", Status.PAST),
        ("is it bad if my legs tingle?", "both_legs", Status.ASKED),
        ("should I worry about numbness down there?", "saddle_numbness", Status.ASKED),
    ],
)
def test_context_sets_mentions_aside(reader: Reader, text: str, sign: str, status: Status) -> None:
    assert _status(reader, text, sign) == status


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("no fever, my legs are jelly", "both_legs"),  # a new clause ends the negation
        ("not really, just finding it hard to get my pee going, it's fine", "bladder_retention"),
        ("probably nothing but my bum feels numb", "saddle_numbness"),  # minimiser, not denial
        ("I had breast cancer five years ago", "cancer_history"),  # a past cancer counts now
        ("I didn't realise I'd wet myself until I stood up", "incontinence"),
        ("my wife says my legs are numb", "both_legs"),  # told by someone, still their own
    ],
)
def test_minimisers_and_new_clauses_keep_a_report_present(
    reader: Reader, text: str, sign: str
) -> None:
    assert _status(reader, text, sign) == Status.PRESENT


def test_typos_are_corrected_but_short_words_are_never_fuzzed(reader: Reader) -> None:
    assert _status(reader, "tinglig round my bum", "saddle_numbness") == Status.PRESENT
    assert _status(reader, "both lefs are numb", "both_legs") == Status.PRESENT
    assert reader.canonical("bum") == "bum"  # never "numb*": three letters are never corrected
    assert reader.canonical("leaning") == "leaning"  # a real word, not "leaking"
    assert reader.read("my back hurts when leaning over the sink").mentions == ()


def test_a_reading_names_the_words_that_triggered_it(reader: Reader) -> None:
    reading = reader.read("the ice helped but my bits have gone numb")
    assert reading.top_tier == Tier.EMERGENCY
    assert reading.present[0].sign == "saddle_numbness"
    assert reading.present[0].words == "bits … numb"


def test_crisis_words_are_recognised_as_before(reader: Reader) -> None:
    for text in (
        "I want to kill myself",
        "thinking about suicide",
        "honestly I'd be better off dead",
        "I don't want to live like this",
        "I've been self-harming",
    ):
        assert reader.read(text).crisis, text
    assert not reader.read("this pain is killing me").crisis


def test_only_denials_at_the_emergency_question(reader: Reader) -> None:
    assert reader.read("no numbness and my bladder is fine").only_denials
    assert not reader.read("no numbness but I can't pee").only_denials
    assert not reader.read("not sure").only_denials


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("6", 6),
        ("6/10", 6),
        ("about a six", 6),
        ("it's an 8 today", 8),
        ("a solid seven out of 10", 7),
        ("0", 0),
        ("ten", 10),
        ("-1", None),
        ("11", None),
        ("7 or 8", None),
        ("took 2 tablets, pain 5", None),
        ("3.5", None),
        ("none of these", None),
    ],
)
def test_pain_scores_in_words(text: str, score: int | None) -> None:
    assert pain_score(text) == score


def _minimal(**over: object) -> list[tuple[str, dict[str, object]]]:
    base: dict[str, object] = {
        "source": "x",
        "concepts": {"a": ["numb"]},
        "signs": {},
        "context": {},
        "crisis": ["kill myself"],
    }
    return [("test.yaml", {**base, **over})]


def test_a_malformed_lexicon_is_refused_naming_the_entry() -> None:
    with pytest.raises(LexiconError, match="no words for sign"):
        build_lexicon(_minimal())
    with pytest.raises(LexiconError, match="must be quoted"):
        build_lexicon(_minimal(concepts={"a": [False]}))
    with pytest.raises(LexiconError, match="unknown concept 'b'"):
        build_lexicon(_minimal(signs={"fever": [["b"]]}))
    with pytest.raises(LexiconError, match="unknown context kind"):
        build_lexicon(_minimal(context={"maybe": ["perhaps"]}))


def test_a_lexicon_file_with_an_unknown_source_stops_loading(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(ROOT / "content", tmp_path / "content")
    path = tmp_path / "content" / "en" / "lexicon" / "mood.yaml"
    path.write_text(path.read_text().replace("source: nhs_mental_health", "source: nowhere"))
    with pytest.raises(ContentError, match=r"mood\.yaml: entry source names unknown source"):
        load_content(tmp_path / "content")
