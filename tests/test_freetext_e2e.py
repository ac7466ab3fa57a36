"""Typed words through the real bot (loopback Bot API stand-in, manual clock): a red flag typed
after a check-in days later, denials and unclear words at the emergency question, questions about
signs, the safety net, pain in words, and the words kept as a health answer."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from tests.support.bot_harness import SELF_CARE_CHECK, USER_ID, BotHarness, at


def _texts(replies: list) -> str:  # type: ignore[type-arg]
    return "\n".join(m.text or "" for m in replies)


async def _checkin(bot: BotHarness, pain: str) -> None:
    await bot.tap("None of these")
    await bot.say(pain)  # typed, in words or digits
    await bot.tap("Same")
    await bot.tap("Ice/heat and walks")


def _typed_readings(bot: BotHarness) -> list[tuple[str, list[dict[str, str]]]]:
    with bot.coach.engine.connect() as db:
        rows = db.execute(sa.text("select decision, mentions from typed_reading order by id"))
        return [(d, m if isinstance(m, list) else json.loads(m)) for d, m in rows]


async def test_a_flag_typed_after_the_day3_checkin_brings_the_emergency_question(
    bot: BotHarness,
) -> None:
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK)
    await bot.advance_to(at(2, 19, 0))
    await _checkin(bot, "about a five")
    await bot.advance_to(at(3, 19, 0))
    await _checkin(bot, "it's a 5 today")
    replies = await bot.say("the back's ok but no wee since breakfast and it feels blocked")
    question = replies[-1]
    assert "You mentioned new trouble passing urine" in (question.text or "")
    labels = [label for label, _ in question.buttons()]
    assert labels[0] == "Yes, that's happening now" and "None of these" in labels
    replies = await bot.tap("Yes, that's happening now")
    assert (replies[0].text or "").startswith("Call 999 now")
    with bot.coach.engine.connect() as db:
        status, tier = db.execute(sa.text("select status, tier from episode")).one()
        pains = db.execute(sa.text("select pain from checkin order by day")).scalars().all()
    assert (status, tier) == ("halted_emergency", 3)
    assert pains == [5, 5]  # "about a five" and "it's a 5 today" were pain scores
    decision, mentions = _typed_readings(bot)[-1]
    assert decision == "screened_emergency"
    assert mentions[0]["sign"] == "bladder_retention" and "wee" in mentions[0]["words"]


async def test_a_denial_at_the_emergency_question_is_taken_as_none_of_these(
    bot: BotHarness,
) -> None:
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK)
    await bot.advance_to(at(2, 19, 0))  # the check-in opens on the emergency re-screen
    replies = await bot.say("no numbness down there and my waterworks are fine")
    text = _texts(replies)
    assert 'taken that as "none of these"' in text
    assert "Call 999 now" not in text
    assert "How bad is the pain" in (replies[-1].text or "")  # the check-in carries on
    with bot.coach.engine.connect() as db:
        status = db.execute(sa.text("select status from episode")).scalar_one()
        answer = db.execute(
            sa.text("select value from answer where question = 'checkin.emergency'")
        ).scalar_one()
    assert status == "active" and answer == "none"
    assert _typed_readings(bot)[-1][0] == "denial_taken_as_none"


async def test_unclear_words_at_the_emergency_question_ask_again_never_alarm(
    bot: BotHarness,
) -> None:
    await bot.onboard()
    replies = await bot.say("hmm not sure really")
    assert "couldn't tell" in _texts(replies)
    assert "Do you have any of these right now?" in (replies[-1].text or "")
    assert "Call" not in _texts(replies)
    replies = await bot.say("i've wet myself a couple of times today")
    assert (replies[0].text or "").startswith("Call 999 now")  # a sign typed there: the advice


async def test_a_question_about_a_sign_lists_the_emergency_signs_then_answers(
    bot: BotHarness,
) -> None:
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK)
    replies = await bot.say("is it bad if my legs tingle?")
    text = _texts(replies)
    assert text.index("Call 999 or go to the emergency department") < text.index("You asked")
    assert "Something new or worrying?" in [label for label, _ in replies[-1].buttons()]
    replies = await bot.tap("Something new or worrying?")
    assert "Do you have any of these right now?" in (replies[-1].text or "")


async def test_someone_elses_illness_gets_a_kind_word_and_no_screening(bot: BotHarness) -> None:
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK)
    replies = await bot.say("my dad had prostate cancer years ago")
    text = _texts(replies)
    assert "Thank you for telling me" in text
    assert "What you wrote might be important" not in text
    replies = await bot.say("🙂🔥💪")
    assert "Something new or worrying?" in [label for label, _ in replies[-1].buttons()]
    assert "If someone with you has this now" not in text  # a past illness, not an emergency


async def test_someone_elses_emergency_sign_says_where_urgent_help_is(bot: BotHarness) -> None:
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK)
    replies = await bot.say("typing for my husband, he hasn't been able to pee since this morning")
    text = _texts(replies)
    assert "Thank you for telling me" in text
    assert "If someone with you has this now, they need urgent medical help: call 999" in text
    assert "Do you have any of these right now?" not in text  # no screening of the person


async def test_a_negative_pain_score_is_refused_not_stored(bot: BotHarness) -> None:
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK[:4])
    replies = await bot.say("-1")
    assert "couldn't read one pain score" in _texts(replies)
    replies = await bot.say("a solid seven out of 10")
    assert "any of these apply to you" in (replies[-1].text or "")  # the next question
    with bot.coach.engine.connect() as db:
        baseline = db.execute(sa.text("select baseline_pain from episode")).scalar_one()
    assert baseline == 7


async def test_one_leg_numbness_reported_at_the_start_is_asked_again_at_checkins(
    bot: BotHarness,
) -> None:
    await bot.onboard()
    check = [*SELF_CARE_CHECK[:6], "Numb or tingling in one leg", "Under 50"]
    replies = await bot.symptom_check(check)
    assert "book a doctor, physiotherapist or pharmacist" in _texts(replies)
    await bot.advance_to(at(2, 19, 0))
    await _checkin(bot, "5")
    question = bot.messages()[-1]
    assert "numbness or tingling in one leg" in (question.text or "")
    replies = await bot.tap("Numb or tingling in one leg")
    text = _texts(replies)
    assert "numbness or tingling in one leg that isn't fading" in text  # SOON, with its reason
    assert "Thanks for checking in" in text  # and the check-in completes


async def test_a_flag_typed_in_reply_to_the_reminder_is_asked_about_then_the_checkin_resumes(
    bot: BotHarness,
) -> None:
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK)
    await bot.advance_to(at(2, 19, 0))
    await bot.tap("None of these")  # the emergency re-screen, then the check-in waits at pain
    await bot.advance_to(at(2, 21, 0))
    assert "gentle reminder" in _texts(bot.messages()[-2:])
    replies = await bot.say("sorry! been a long day, a bit shivery tonight tbh")
    assert "You mentioned a fever, high temperature or shivering" in (replies[-1].text or "")
    replies = await bot.tap("None of these")
    assert "How bad is the pain" in (replies[-1].text or "")  # back where the check-in was


async def test_crisis_words_with_a_sign_get_crisis_support_and_the_emergency_question(
    bot: BotHarness,
) -> None:
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK)
    replies = await bot.say("I want to end it all, and now I can't feel my bum either")
    assert "You don't have to cope alone" in (replies[0].text or "")
    assert "You mentioned numbness or changed feeling" in (replies[-1].text or "")


# ---------------------------------------------------------------------- the second reader
# Words the lexicon has no family for, read by the second reader (whole_message.py) as a possible
# emergency: the emergency question with the whole list, never a named sign, never an alarm.
UNNAMED_SIGN = "things just aren't working right downstairs since the spasm"


async def test_words_only_the_second_reader_understands_bring_the_emergency_question(
    bot: BotHarness,
) -> None:
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK)
    await bot.advance_to(at(2, 19, 0))
    await _checkin(bot, "a four")
    replies = await bot.say(UNNAMED_SIGN)
    question = replies[-1]
    assert "could be one of the signs that need help straight away" in (question.text or "")
    assert "You mentioned" not in _texts(replies)  # it cannot know which sign: it names none
    labels = [label for label, _ in question.buttons()]
    assert "None of these" in labels and len(labels) >= 8  # the whole list
    decision, mentions = _typed_readings(bot)[-1]
    assert decision == "screened_possible_emergency"
    assert mentions[0]["sign"] is None and "downstairs" in mentions[0]["words"]
    replies = await bot.tap(labels[0])
    assert (replies[0].text or "").startswith("Call 999 now")
    await bot.say("/mydata")
    documents = [m for m in bot.api.messages_to(USER_ID) if m.method == "sendDocument"]
    exported = json.dumps(json.loads(documents[-1].file_bytes or b"{}"))
    assert "screened_possible_emergency" in exported and "downstairs" in exported


async def test_a_none_after_the_second_readers_question_carries_on_where_it_was(
    bot: BotHarness,
) -> None:
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK)
    replies = await bot.say(UNNAMED_SIGN)
    assert "could be one of the signs" in (replies[-1].text or "")
    replies = await bot.tap("None of these")
    assert "Call" not in _texts(replies)
    with bot.coach.engine.connect() as db:
        status = db.execute(sa.text("select status from episode")).scalar_one()
    assert status == "active"


async def test_at_the_emergency_question_the_second_reader_only_asks_again(
    bot: BotHarness,
) -> None:
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK)
    await bot.advance_to(at(2, 19, 0))  # the check-in opens on the emergency re-screen
    replies = await bot.say(UNNAMED_SIGN)
    text = _texts(replies)
    assert "Call 999" not in text and "couldn't tell" in text
    assert "Do you have any of these right now?" in (replies[-1].text or "")
    with bot.coach.engine.connect() as db:
        status = db.execute(sa.text("select status from episode")).scalar_one()
    assert status == "active"


@pytest.mark.parametrize(
    ("typed", "then_tap", "answer"),
    [
        # The first head: the whole message is very unlikely to report a sign.
        (
            "the baby peed on me during the nappy change lol, anyway back is a 5",
            "None of these",
            "How bad is the pain",  # the check-in carries on
        ),
        # The second head: someone else's sign the lexicon misread as the person's own. The
        # person can still confirm with one tap, and gets the EMERGENCY advice.
        (
            "a woman in my pilates class lost control of her bladder",
            "Leaking or no control of bladder/bowels",
            "Call 999",
        ),
    ],
)
async def test_a_sign_the_second_reader_doubts_is_confirmed_with_a_tap_not_taken_as_an_alarm(
    bot: BotHarness, typed: str, then_tap: str, answer: str
) -> None:
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK)
    await bot.advance_to(at(2, 19, 0))  # the check-in opens on the emergency re-screen
    replies = await bot.say(typed)
    text = _texts(replies)
    assert "Call 999" not in text
    assert "You mentioned" in text and "Is that happening now?" in text
    assert "Do you have any of these right now?" in (replies[-1].text or "")
    assert _typed_readings(bot)[-1][0] == "typed_sign_to_confirm"
    with bot.coach.engine.connect() as db:
        status = db.execute(sa.text("select status from episode")).scalar_one()
    assert status == "active"
    replies = await bot.tap(then_tap)
    assert answer in _texts(replies)
