"""The message pipeline under faults: every update handled once, every reply delivered once.

Each test here reproduces a failure found by trying the coach against a Bot API stand-in that
injects errors; each failed on the code before the pipeline (inbox, per-person lock, outbox).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa
from telegram import Update

from coach.pipeline.courier import MAX_ATTEMPTS
from tests.support.bot_harness import SELF_CARE_CHECK, USER_ID, BotHarness, at

OTHER = 515151


def _count(bot: BotHarness, sql: str, **params: object) -> int:
    with bot.coach.engine.connect() as db:
        return int(db.execute(sa.text(sql), params).scalar_one())


def _texts(bot: BotHarness, user_id: int = USER_ID) -> list[str]:
    return [m.text or "" for m in bot.messages(user_id)]


# ---------------------------------------------------------------- Telegram errors mid-conversation


async def test_a_429_while_answering_a_tap_is_waited_out_and_the_next_question_arrives_once(
    bot: BotHarness,
) -> None:
    await bot.onboard()
    # The next question takes the answered one's place: an edit carries it.
    bot.api.fail_next("editMessageText", 429, retry_after=2)
    before = bot.clock.now()
    replies = await bot.tap("None of these")
    assert any("Where does it hurt" in (m.text or "") for m in replies)
    assert sum("Where does it hurt" in t for t in _texts(bot)) == 1
    # Telegram's wait was honoured (on the coach's clock) and is not a failed attempt.
    assert bot.clock.now() - before >= timedelta(seconds=2)
    assert _count(bot, "select max(attempts) from outbox_message") == 0
    assert await bot.tap("Lower back")  # the buttons work: the person is not stranded


async def test_a_502_on_the_reply_and_a_500_on_the_edit_lose_nothing_and_double_nothing(
    bot: BotHarness,
) -> None:
    await bot.onboard()
    bot.api.fail_next("sendMessage", 502)
    bot.api.fail_next("editMessageText", 500)
    replies = await bot.tap("None of these")
    assert any("Where does it hurt" in (m.text or "") for m in replies)
    assert sum("Where does it hurt" in t for t in _texts(bot)) == 1
    edits = [m for m in bot.api.messages_to(USER_ID) if m.method == "editMessageText"]
    assert any("✓ None of these" in (m.text or "") for m in edits)
    assert _count(bot, "select count(*) from outbox_message where status <> 'sent'") == 0


async def test_an_answer_survives_a_long_telegram_outage_and_arrives_with_the_next_dispatch(
    bot: BotHarness,
) -> None:
    await bot.onboard()
    bot.api.fail_next("editMessageText", 502, times=6)  # longer than the in-line retries
    await bot.tap("None of these")
    assert not any("Where does it hurt" in t for t in _texts(bot))
    assert _count(bot, "select count(*) from outbox_message where status = 'retry'") == 1
    for _ in range(6):
        await bot.advance(timedelta(minutes=1))  # the background sender retries (backoff 2^n s)
    assert sum("Where does it hurt" in t for t in _texts(bot)) == 1


async def test_a_429_on_a_followup_never_counts_as_a_failed_attempt(bot: BotHarness) -> None:
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK)
    # More flood-control answers in a row than the cap on failed attempts (which was 5).
    bot.api.fail_next("sendMessage", 429, times=MAX_ATTEMPTS + 1, retry_after=30)
    await bot.advance_to(at(2, 19, 0))
    for _ in range(MAX_ATTEMPTS + 1):
        await bot.advance(timedelta(seconds=31))
    checkins = [t for t in _texts(bot) if "Time for your check-in (day 2)" in t]
    assert len(checkins) == 1
    assert _count(bot, "select count(*) from followup where status = 'failed'") == 0
    assert _count(bot, "select max(attempts) from outbox_message") == 0


async def test_transient_errors_on_a_checkin_render_it_once_and_never_count_silent_days(
    bot: BotHarness,
) -> None:
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK)
    bot.api.fail_next("sendMessage", 502, times=3)
    await bot.advance_to(at(2, 19, 0))
    for _ in range(3):
        await bot.advance(timedelta(seconds=20))
    day2 = [m for m in bot.messages() if "Time for your check-in (day 2)" in (m.text or "")]
    assert len(day2) == 1
    assert not any("haven't heard from you" in t for t in _texts(bot))
    assert _count(bot, "select count(*) from checkin") == 1
    # Its buttons are live: the copy delivered late answers the check-in.
    replies = await bot.tap("None of these", message=day2[0])
    assert any("How bad is the pain" in (m.text or "") for m in replies)
    # Unanswered from here on: day 3 is one silent day, never "a few days".
    await bot.advance_to(at(3, 19, 0))
    assert not any("haven't heard from you" in t for t in _texts(bot))


# ---------------------------------------------------------------- updates handled once


async def test_the_same_update_delivered_twice_is_handled_once(bot: BotHarness) -> None:
    await bot.onboard()
    question = bot.message_with_button("None of these")
    update = bot.api.user_taps(USER_ID, question.message_id, question.button_data("None of these"))
    bot.injected += 1
    await bot.settled()
    answers = _count(bot, "select count(*) from answer")
    sent = len(bot.messages())
    again = Update.de_json(update, bot.runtime.bot)
    assert again is not None
    await bot.runtime.process(again)  # a re-delivery (lost offset, webhook retry, 2nd instance)
    assert _count(bot, "select count(*) from answer") == answers
    assert len(bot.messages()) == sent
    assert (
        _count(bot, "select count(*) from inbox_update where update_id = :u", u=update["update_id"])
        == 1
    )


# ---------------------------------------------------------------- taps bound to their chat


async def test_a_tap_from_someone_else_on_a_message_in_my_chat_is_refused(bot: BotHarness) -> None:
    await bot.onboard()
    question = bot.message_with_button("None of these")
    before = len(bot.api.messages_to(USER_ID))
    bot.api.user_taps(
        OTHER, question.message_id, question.button_data("None of these"), chat_id=USER_ID
    )
    bot.injected += 1
    await bot.settled()
    assert len(bot.api.messages_to(USER_ID)) == before  # nothing sent to my chat
    assert bot.api.messages_to(OTHER) == []
    assert _count(bot, "select count(*) from person where telegram_user_id = :u", u=OTHER) == 0
    assert _count(bot, "select count(*) from answer") == 0  # my question is still open
    answers = bot.api.calls_to("answerCallbackQuery")
    assert "someone else's chat" in str(answers[-1].get("text"))
    assert await bot.tap("None of these")  # and I can still answer it myself


async def test_the_refusal_of_someone_elses_tap_is_in_the_tappers_language(
    bot: BotHarness,
) -> None:
    await bot.onboard()
    question = bot.message_with_button("None of these")
    bot.api.user_taps(
        OTHER,
        question.message_id,
        question.button_data("None of these"),
        chat_id=USER_ID,
        language_code="de",
    )
    bot.injected += 1
    await bot.settled()
    alert = str(bot.api.calls_to("answerCallbackQuery")[-1].get("text"))
    assert "Chat einer anderen Person" in alert, alert


async def test_a_tap_in_a_group_is_refused_and_nothing_is_stored(bot: BotHarness) -> None:
    group = -100123
    bot.api.user_sends_text(USER_ID, "/start", chat_id=group, chat_type="group")
    bot.injected += 1
    await bot.settled()
    sent = bot.api.messages_to(group)
    assert sent and "private" in (sent[-1].text or "")
    # A member taps a (forged) coach button in the group.
    bot.api.user_taps(OTHER, sent[-1].message_id, "a:checkin", chat_id=group, strict=False)
    bot.injected += 1
    await bot.settled()
    assert _count(bot, "select count(*) from person") == 0
    assert len(bot.api.messages_to(group)) == len(sent)


# ---------------------------------------------------------------- blocking both ways


async def test_block_then_unblock_and_start_reschedules_the_plan(bot: BotHarness) -> None:
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK)
    bot.api.block(USER_ID)
    report = await bot.advance_to(at(2, 8, 10))  # the next morning's steps meet the 403
    assert report.blocked >= 1
    assert _count(bot, "select count(*) from person where blocked") == 1
    assert _count(bot, "select count(*) from followup where status = 'pending'") == 0
    bot.api.unblock(USER_ID)
    await bot.advance(timedelta(hours=1))
    replies = await bot.say("/start")
    assert replies
    assert _count(bot, "select count(*) from person where blocked") == 0
    assert _count(bot, "select count(*) from followup where status = 'pending'") > 0
    report = await bot.advance_to(at(2, 19, 0))
    assert any("Time for your check-in (day 2)" in t for t in _texts(bot))


async def test_my_chat_member_kicked_then_member_blocks_and_unblocks(bot: BotHarness) -> None:
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK)
    await bot.send_raw("user_blocks_bot")
    assert _count(bot, "select count(*) from followup where status = 'pending'") == 0
    await bot.send_raw("user_unblocks_bot")
    assert _count(bot, "select count(*) from person where blocked") == 0
    assert _count(bot, "select count(*) from followup where status = 'pending'") > 0


# ---------------------------------------------------------------- health tells the truth


async def test_a_401_on_get_updates_makes_healthz_unhealthy(bot: BotHarness) -> None:
    await bot.advance(timedelta(seconds=1))
    async with httpx.AsyncClient() as client:
        url = f"http://127.0.0.1:{bot.runtime.http_port}/healthz"
        assert (await client.get(url)).status_code == 200
        bot.api.fail_next("getUpdates", 401)
        await bot.api.wait_for(
            lambda: bot.runtime.health.updates_stopped is not None, 10, "polling to stop"
        )
        response = await client.get(url)
    assert response.status_code == 503
    assert "token" in response.json()["updates"]


async def test_a_bug_in_handling_is_answered_with_buttons_and_not_retried(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await bot.onboard()
    answers = _count(bot, "select count(*) from answer")

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(bot.runtime.service, "_queue_outcome", broken)
    replies = await bot.tap("None of these")
    assert "went wrong" in (replies[-1].text or "")
    assert replies[-1].buttons(), "the apology offers the way on"
    # The failed unit was rolled back whole (no half-applied answer), and the update is recorded
    # as handled, so a re-delivery cannot loop on the bug.
    assert _count(bot, "select count(*) from answer") == answers
    assert _count(bot, "select count(*) from inbox_update") == bot.injected


async def test_a_reply_behind_a_followup_in_another_senders_hands_goes_out_when_it_is_done(
    bot: BotHarness,
) -> None:
    """A follow-up of this chat is being sent by another sender (the dispatcher's batch) when
    the person writes: the reply cannot overtake it, and it must not wait for the next dispatch
    round either. It goes out as soon as the earlier message is settled."""
    await bot.onboard()
    courier = bot.runtime.courier

    async def clock_and_real_pause(seconds: float) -> None:
        bot.clock.advance(timedelta(seconds=seconds))
        await asyncio.sleep(min(seconds, 0.05))  # the other sender needs real time to finish

    courier.sleep = clock_and_real_pause
    now = bot.clock.now()
    with bot.coach.engine.begin() as db:
        person_id = db.execute(
            sa.text("select id from person where telegram_user_id = :u"), {"u": USER_ID}
        ).scalar_one()
        db.execute(
            sa.text(
                "insert into outbox_message (person_id, chat_id, kind, text, buttons, status,"
                " attempts, next_attempt_at, expires_at, claimed_by, lease_until, created_at)"
                " values (:p, :c, 'text', 'a walk nudge', '[]', 'sending', 0, :now, :later,"
                " 'dispatcher:batch', :later, :now)"
            ),
            {"p": person_id, "c": USER_ID, "now": now, "later": now + timedelta(minutes=2)},
        )

    async def other_sender_finishes() -> None:
        await asyncio.sleep(0.3)
        with bot.coach.engine.begin() as db:
            db.execute(
                sa.text("update outbox_message set status = 'sent' where text = 'a walk nudge'")
            )

    finishing = asyncio.create_task(other_sender_finishes())
    replies = await bot.say("/help")
    await finishing
    assert replies, "the reply waited for the next dispatch round"
    assert _count(bot, "select count(*) from outbox_message where status <> 'sent'") == 0


async def test_the_next_question_takes_the_answered_ones_place_or_comes_anew(
    bot: BotHarness,
) -> None:
    """In a questionnaire the next question replaces the answered one (one message, no new
    notification). If Telegram will not edit that message (too old, deleted), the question is
    sent as a new message: the person is never left without it."""
    await bot.onboard()
    question = bot.message_with_button("None of these")
    sends_before = len(bot.api.messages_to(USER_ID, methods=["sendMessage"]))
    await bot.tap("None of these")
    now_shown = bot.api.current_message(USER_ID, question.message_id)
    assert now_shown["text"].startswith("✓ None of these")
    assert "Where does it hurt" in now_shown["text"] and now_shown.get("reply_markup")
    assert len(bot.api.messages_to(USER_ID, methods=["sendMessage"])) == sends_before

    bot.api.fail_next("editMessageText", 400, description="Bad Request: message can't be edited")
    replies = await bot.tap("Lower back")
    fresh = [m for m in replies if m.method == "sendMessage"]
    assert len(fresh) == 1 and "When did" in (fresh[0].text or ""), [m.text for m in replies]
    assert await bot.tap("Today")  # and its buttons work
