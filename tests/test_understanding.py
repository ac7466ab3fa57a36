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


@pytest.mark.parametrize(
    ("text", "sign", "status"),
    [
        # A sign over within minutes or hours today still counts for chest pain and breath; the
        # same words years ago, or before "today" in the sentence, do not.
        ("sharp pain in my chest an hour ago, mostly gone now", "chest_or_breathless", "present"),
        ("short of breath this morning, it's passed now", "chest_or_breathless", "present"),
        ("had a tight chest years ago, today it's my back", "chest_or_breathless", "past"),
        ("my partner had chest pain this morning", "chest_or_breathless", "other_person"),
        # Ages and years are past cues whatever the number.
        ("fell off a horse when I was 12", "serious_accident", "past"),
        ("came off my motorbike when I was 37", "serious_accident", "past"),
        ("had a car crash in 2020, all good now", "serious_accident", "past"),
        ("when I was walking to the shop both legs gave way", "both_legs", "present"),
        # A question the message itself says is not a report is asked about; a failing sign
        # whose own words are "not happening" is still reported.
        ("would losing feeling in my bum be serious? not happening", "saddle_numbness", "asked"),
        ("erections not happening since sunday?", "sexual_dysfunction", "present"),
        ("the whole house has a fever, the kids and the wife", "fever", "other_person"),
        # "Both of them" may follow in the next sentence, read with that sentence's context.
        ("My leg doesn't feel like mine. Both of them actually.", "both_legs", "present"),
        ("My left leg is numb. Not both of them though.", "both_legs", "negated"),
        # Over now: an emergency sign is asked about all the same (it may have come and gone
        # today; cauda equina signs can), a same-day sign is set aside, and the distant past
        # sets both aside.
        ("had a funny numb bum earlier but it's fine now", "saddle_numbness", "present"),
        ("wet myself this morning, ok now", "incontinence", "present"),
        ("had a temperature on monday, gone now", "fever", "past"),
        ("wet the bed as a kid", "incontinence", "past"),
    ],
)
def test_when_and_whose_a_sign_is(reader: Reader, text: str, sign: str, status: str) -> None:
    assert _status(reader, text, sign) == Status(status)


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("sat on the 🚽 for ages and nothing happens", "bladder_retention"),
        ("nowt on the wee front since brekkie", "bladder_retention"),
        ("only dribs and drabs when I pee", "bladder_retention"),
        ("woke up to a soaked bed", "incontinence"),
        ("found poo in my pants, never felt it", "incontinence"),
        ("the water comes away without my knowing", "incontinence"),
        ("rt leg numb, lft leg numb as well", "both_legs"),
        ("my legs feel like they don't belong to me, both of them", "both_legs"),
        ("things aren't working downstairs", "sexual_dysfunction"),
        ("no morning glory this week", "sexual_dysfunction"),
        ("the mare bucked me off", "serious_accident"),
        ("a lorry clipped my car and it spun round", "serious_accident"),
        ("my foot smacks down when I walk", "worsening_leg_weakness"),
        ("pain between my scapulas", "high_back_pain"),
        ("a new bend in my spine in the photos", "lump_or_shape"),
    ],
)
def test_widened_word_families(reader: Reader, text: str, sign: str) -> None:
    assert _status(reader, text, sign) == Status.PRESENT


@pytest.mark.parametrize(
    "text",
    [
        "slapped some deep heat on my foot",
        "my flip flops slap on my feet when I walk",
        "the telly downstairs isn't working",
        "the stuff downstairs is a bit odd, neighbours are loud",
        "my car spun its wheels on the ice",
        "thrown my back out mucking out the horse",
        "I went off on my bike for a gentle ride",
        "woke up soaked in sweat",
        "I've been sat on the loo for ages reading",
        "r u ok to chat? left my leg brace at home, right",
    ],
)
def test_widened_words_do_not_alarm_on_ordinary_talk(reader: Reader, text: str) -> None:
    assert reader.read(text).top_tier != Tier.EMERGENCY


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


@pytest.mark.parametrize(
    ("text", "sign", "status"),
    [
        # A temperature given as a number: feverish, or normal (which says there is no fever).
        ("temp is 38.7 this morning", "fever", Status.PRESENT),
        ("thermometer says 101.3", "fever", Status.PRESENT),
        ("temperature 36.9 this morning, all normal", "fever", Status.NEGATED),
        # A number that a lexicon term also spells ("38 degrees") still reads as any number.
        ("had a car crash when i was 38, all fine since", "serious_accident", Status.PAST),
        ("a fever of 39 degrees", "fever", Status.PRESENT),
    ],
)
def test_numbers_in_messages(reader: Reader, text: str, sign: str, status: Status) -> None:
    assert _status(reader, text, sign) == status


def test_a_normal_temperature_is_no_fever(reader: Reader) -> None:
    assert _status(reader, "took my temp, 36.8", "fever") is None
    assert reader.read("took my temp, 36.8").outcome() == "none"


@pytest.mark.parametrize(
    "text",
    [
        "can barely feel my bum when i wipe",  # an opening "can" with the subject left out
        "can't feel anything down there",
    ],
)
def test_a_statement_that_opens_with_can_is_a_report(reader: Reader, text: str) -> None:
    assert _status(reader, text, "saddle_numbness") == Status.PRESENT


def test_a_question_that_opens_with_can_still_asks(reader: Reader) -> None:
    assert _status(reader, "can a bad back make your bum go numb?", "saddle_numbness") in (
        Status.ASKED,
        None,
    )
    assert reader.read("can a bad back make your bum go numb?").outcome() == "question"


def test_german_statements_without_ich_are_reports() -> None:
    lexicon = load_content(ROOT / "content", "de").lexicon
    assert lexicon is not None
    german = reader_for(lexicon)
    assert german.read("kann seit heut früh nich pinkeln, kommt nix").outcome() == "emergency"
    assert german.read("Kann Ischias beide Beine betreffen?").outcome() == "question"


def test_a_sign_said_with_its_own_negation_is_not_undone_by_a_second_one(reader: Reader) -> None:
    assert _status(reader, "i can't pee normally", "bladder_retention") == Status.PRESENT
    assert _status(reader, "love life is fine thanks, no issues there", "sexual_dysfunction") == (
        Status.NEGATED
    )
    lexicon = load_content(ROOT / "content", "fr").lexicon
    assert lexicon is not None
    french = reader_for(lexicon)
    # "ne … pas" around the verb is one negation, and it is the sign's own.
    assert french.read("le pipi ne sort pas").outcome() == "emergency"
    assert french.read("je n'arrive plus à uriner normalement").outcome() == "emergency"
    assert french.read("je n'ai aucun problème pour uriner, tout est normal").outcome() == "none"


def test_an_emoji_ends_a_clause_like_a_full_stop(reader: Reader) -> None:
    text = "it's not even my period 😭 keep leaking wee without feeling it"
    assert _status(reader, text, "incontinence") == Status.PRESENT
    assert _status(reader, "no numbness 😅 legs fine", "both_legs") == Status.NEGATED


def test_a_first_person_inside_the_signs_words_makes_it_the_persons_own(reader: Reader) -> None:
    text = "someone went into the back of me on the roundabout yesterday"
    assert _status(reader, text, "serious_accident") == Status.PRESENT
    assert _status(reader, "my sister is really depressed, im minding her kids", "low_mood") != (
        Status.PRESENT
    )


def test_a_past_cue_between_the_signs_words_sets_it_in_the_past(reader: Reader) -> None:
    text = "fell off a wall as a kid and landed on my back, never bothered me since"
    assert _status(reader, text, "serious_accident") == Status.PAST
    assert _status(
        reader, "fell off a ladder yesterday and landed on my back", "serious_accident"
    ) == (Status.PRESENT)


def test_a_checklist_answered_in_turn_is_a_denial(reader: Reader) -> None:
    text = "Pins and needles? No. Numb legs? No. Bladder? Normal."
    assert _status(reader, text, "both_legs") == Status.NEGATED
    assert _status(reader, "numb legs? yes, since this morning", "both_legs") == Status.PRESENT


@pytest.mark.parametrize(
    "text",
    [
        "my legs both went numb after sitting cross-legged but it wore off in a few minutes",
        "couldnt feel my bum earlier but its gone now",
        "both legs went numb for a second then fine",
    ],
)
def test_an_emergency_sign_said_to_be_over_is_asked_and_confirmed_not_taken(
    text: str, reader: Reader
) -> None:
    # Still asked ("Is that happening now?": it may have happened today), never an alarm.
    reading = reader.read(text)
    assert reading.top_tier == Tier.EMERGENCY and reading.doubted


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("im a man in my 50s and i cant pee since this morning", "bladder_retention"),
        ("i'm in my 20s and both my legs went numb today", "both_legs"),
        ("female in my forties, wet myself this morning", "incontinence"),
    ],
)
def test_a_decade_of_life_is_the_persons_age_not_the_past(
    text: str, sign: str, reader: Reader
) -> None:
    assert _status(reader, text, sign) == Status.PRESENT
    assert not reader.read(text).doubted


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("watched a video of a woman who couldnt feel it when she wiped", "saddle_numbness"),
        (
            "on the ward a fella came in who'd lost all feeling round his back passage",
            "saddle_numbness",
        ),
        (
            "the lady next door went down with sudden agony in her back and tummy, grey and sweaty",
            "belly_pain_faint",
        ),
    ],
)
def test_strangers_in_stories_are_someone_else(text: str, sign: str, reader: Reader) -> None:
    assert _status(reader, text, sign) == Status.OTHER_PERSON


@pytest.mark.parametrize(
    ("text", "status"),
    [
        (
            "can you lose control of your bowels from a bad back? it just happened twice today",
            Status.PRESENT,
        ),
        ("is it bad if my chest is tight? ive had it for an hour", Status.PRESENT),
        ("is it bad if my chest is tight? just wondering", Status.ASKED),
        ("is it bad if my chest is tight? my wife keeps asking", Status.ASKED),
    ],
)
def test_a_question_then_its_the_persons_own_now_is_a_report(
    text: str, status: Status, reader: Reader
) -> None:
    found = [m for m in reader.read(text).mentions if m.tier == Tier.EMERGENCY]
    assert found and found[0].status == status
