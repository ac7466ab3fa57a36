"""Data rights, log hygiene, and everything odd a chat can throw at the coach."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import SQLModel
from telegram import Update

from tests.conftest import TOKEN
from tests.support.bot_harness import SELF_CARE_CHECK, START, USER_ID, BotHarness
from tests.support.botapi_standin import BotApiStandIn, SentMessage
from tests.test_operations import _coach_env, _free_port, _wait_healthy

OTHER_USER = 515151


def _rows_about(bot: BotHarness, person_id: int | None, user_id: int) -> dict[str, int]:
    """Scan every table of the schema for rows that point at the person."""
    counts: dict[str, int] = {}
    with bot.coach.engine.connect() as db:
        for table in SQLModel.metadata.sorted_tables:
            if "telegram_user_id" in table.c:
                n = db.execute(
                    sa.select(sa.func.count())
                    .select_from(table)
                    .where(table.c.telegram_user_id == user_id)
                ).scalar_one()
            elif "person_id" in table.c:
                n = db.execute(
                    sa.select(sa.func.count())
                    .select_from(table)
                    .where(table.c.person_id == person_id)
                ).scalar_one()
            elif table.name == "checkin":
                n = db.execute(
                    sa.text(
                        "select count(*) from checkin c join episode e on e.id = c.episode_id "
                        "where e.person_id = :p"
                    ),
                    {"p": person_id},
                ).scalar_one()
            else:
                continue
            counts[table.name] = n
    return counts


def _person_id(bot: BotHarness, user_id: int) -> int:
    with bot.coach.engine.connect() as db:
        return int(
            db.execute(
                sa.text("select id from person where telegram_user_id = :u"), {"u": user_id}
            ).scalar_one()
        )


async def test_mydata_sends_everything_held_as_json(bot: BotHarness) -> None:
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK)
    await bot.say("/mydata")
    documents = [m for m in bot.api.messages_to(USER_ID) if m.method == "sendDocument"]
    assert len(documents) == 1
    assert documents[0].file_bytes is not None
    data = json.loads(documents[0].file_bytes)
    assert data["person"]["timezone"] == "Europe/London"
    assert data["person"]["consent_version"]
    assert {a["question"]: a["value"] for a in data["answers"]}["pain"] == "6"
    assert data["episodes"][0]["baseline_pain"] == 6
    assert any(f["kind"] == "checkin" for f in data["follow_ups"])
    assert any(d["rule"] == "no_red_flags" for d in data["decisions"])


# Tables that hold nothing about anyone (update ids and times only): erasure leaves them alone.
HOLDS_NO_PERSONAL_DATA = frozenset({"inbox_update"})
# What only the person's own Telegram id can point at: their row, and their private chat's id.
BY_TELEGRAM_ID = ("telegram_user_id", "chat_id")
ERASED = "everything I held about you is erased"


def _person_rows(
    bot: BotHarness, user_id: int, person_id: int
) -> dict[str, dict[tuple[object, ...], tuple[object, ...]]]:
    """Every row of every table that points at the person, by table: primary key -> row.

    A row points at the person through their Telegram id (`telegram_user_id`, or `chat_id`: the
    id of a private chat is the user's id), through `person_id`, or through a foreign key to a
    row that does (a check-in through its episode, an answer through its check-in, an outbox
    message through its follow-up). Tables come parents first, so one pass follows every key.
    """
    found: dict[str, dict[tuple[object, ...], tuple[object, ...]]] = {}
    with bot.coach.engine.connect() as db:
        for table in SQLModel.metadata.sorted_tables:
            if table.name in HOLDS_NO_PERSONAL_DATA:
                continue
            conditions: list[sa.ColumnElement[bool]] = []
            for column in table.c:
                if column.name in BY_TELEGRAM_ID:
                    conditions.append(column == user_id)
                elif column.name == "person_id":
                    conditions.append(column == person_id)
                for key in column.foreign_keys:
                    parents = [pk[0] for pk in found.get(key.column.table.name, {})]
                    conditions.append(column.in_(parents) if parents else sa.false())
            assert conditions, (
                f"table {table.name} has no column that can point at a person: scan it here, or "
                "add it to HOLDS_NO_PERSONAL_DATA if it really holds nothing about anyone"
            )
            keys = list(table.primary_key.columns)
            rows = db.execute(sa.select(table).where(sa.or_(*conditions))).mappings().all()
            found[table.name] = {
                tuple(row[k.name] for k in keys): tuple(row.values()) for row in rows
            }
    return found


async def _answer_the_checkin(bot: BotHarness, user_id: int, pain: str) -> None:
    await bot.tap("None of these", user_id)  # the emergency re-screen
    await bot.tap(pain, user_id)
    await bot.tap("Better", user_id)
    await bot.tap("Ice/heat and walks", user_id)


async def test_delete_erases_every_row_about_the_person_and_nothing_else(bot: BotHarness) -> None:
    for user_id in (USER_ID, OTHER_USER):
        await bot.onboard(user_id=user_id)
        await bot.symptom_check(SELF_CARE_CHECK, user_id=user_id)
    # Day 2, 19:00 London: both check-ins arrive on time (inside the catch-up window) and are
    # answered, so there are check-ins, their answers and the follow-ups' outbox rows to erase.
    await bot.advance_to(START.replace(hour=19) + timedelta(days=1))
    for user_id in (USER_ID, OTHER_USER):
        assert "Time for your check-in (day 2)" in (bot.messages(user_id)[-1].text or "")
        await _answer_the_checkin(bot, user_id, pain="4")
        # A typed denial: a decision taken from typed words, kept with its words.
        await bot.say("no problems with my waterworks", user_id)
    mine, theirs = _person_id(bot, USER_ID), _person_id(bot, OTHER_USER)
    before = _person_rows(bot, USER_ID, mine)
    theirs_before = _person_rows(bot, OTHER_USER, theirs)
    scanned = set(before) | HOLDS_NO_PERSONAL_DATA
    assert scanned == {t.name for t in SQLModel.metadata.sorted_tables}
    empty = sorted(name for name, rows in before.items() if not rows)
    assert not empty, f"nothing about the person in {empty} before /delete: the scan proves little"
    assert not set(before["person"]) & set(theirs_before["person"])
    with bot.coach.engine.connect() as db:
        completed = db.execute(
            sa.text(
                "select count(*) from checkin c join episode e on e.id = c.episode_id "
                "where e.person_id = :p and c.completed_at is not null and c.pain = 4"
            ),
            {"p": mine},
        ).scalar_one()
        followup_messages = db.execute(
            sa.text(
                "select count(*) from outbox_message "
                "where person_id = :p and followup_id is not null and status = 'sent'"
            ),
            {"p": mine},
        ).scalar_one()
    assert completed == 1 and followup_messages >= 1

    replies = await bot.say("/delete")
    assert "can't be undone" in (replies[-1].text or "")
    replies = await bot.tap("Yes, erase everything")
    assert ERASED in (replies[-1].text or "")
    answered = len(bot.messages())

    after = _person_rows(bot, USER_ID, mine)
    # Sending the confirmation needs the chat id, so its own outbox rows (the tick on the /delete
    # question, and the confirmation) are the one thing left: new, of no person, and emptied of
    # what they said once delivered, like every sent message.
    left = {name: sorted(rows.values()) for name, rows in after.items() if rows}
    assert set(left) <= {"outbox_message"}, f"left after /delete: {left}"
    columns = SQLModel.metadata.tables["outbox_message"].c.keys()
    confirmation = [dict(zip(columns, row, strict=True)) for row in left.get("outbox_message", [])]
    assert [row["kind"] for row in confirmation] == ["edit", "text"], confirmation
    for row in confirmation:
        assert row["id"] not in {pk[0] for pk in before["outbox_message"]}
        assert row["person_id"] is None and row["followup_id"] is None
        assert (row["status"], row["text"], row["buttons"], row["document_body"]) == (
            "sent",
            "",
            [],
            None,
        )
    with bot.coach.engine.connect() as db:  # by primary key too: nothing orphaned either
        for name, rows in before.items():
            (key,) = SQLModel.metadata.tables[name].primary_key.columns
            still = db.execute(sa.select(key).where(key.in_([pk[0] for pk in rows]))).all()
            assert not still, f"{name}: rows {still} survived /delete"
    # The other person's rows are all there, unchanged.
    assert _person_rows(bot, OTHER_USER, theirs) == theirs_before

    # Nothing more is ever sent to the erased person; the other person's plan goes on.
    theirs_sent = len(bot.messages(OTHER_USER))
    await bot.advance_to(START.replace(hour=19) + timedelta(days=2))
    assert len(bot.messages()) == answered
    assert len(bot.messages(OTHER_USER)) > theirs_sent
    assert _person_rows(bot, USER_ID, mine)["person"] == {}


async def test_delete_can_be_cancelled(bot: BotHarness) -> None:
    await bot.onboard()
    await bot.say("/delete")
    replies = await bot.tap("No, keep it")
    assert "Nothing was erased" in (replies[-1].text or "")
    assert _rows_about(bot, _person_id(bot, USER_ID), USER_ID)["person"] == 1


async def test_closed_episodes_are_erased_after_the_retention_period(bot: BotHarness) -> None:
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK)
    await bot.say("/stop")
    assert bot.runtime.service.purge(timedelta(days=30)) == 0
    bot.clock.advance(timedelta(days=31))
    assert bot.runtime.service.purge(timedelta(days=30)) == 1
    with bot.coach.engine.connect() as db:
        assert db.execute(sa.text("select count(*) from episode")).scalar_one() == 0
        assert (
            db.execute(
                sa.text("select count(*) from answer where episode_id is not null")
            ).scalar_one()
            == 0
        )


async def test_logs_of_a_full_journey_hold_no_token_text_or_health_answer(
    tmp_path: Path,
) -> None:
    port = _free_port()
    env = _coach_env(tmp_path, "", port) | {
        "COACH_LOG_LEVEL": "DEBUG",
        "COACH_DISPATCH_INTERVAL_SECONDS": "0.2",
    }
    async with BotApiStandIn(token=TOKEN) as api:
        env["COACH_BOT_API_URL"] = api.root_url
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "coach",
            "run",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            await _wait_healthy(port, process, 30)

            def offering(label: str) -> SentMessage | None:
                # The latest record of a message is what it shows now (a next question may
                # have taken an answered one's place).
                latest = {m.message_id: m for m in api.messages_to(USER_ID)}
                return next(
                    (
                        m
                        for m in reversed(latest.values())
                        if any(label in t for t, _ in m.buttons())
                    ),
                    None,
                )

            async def tap(label: str) -> None:
                await api.wait_for(lambda: offering(label) is not None, timeout=10, what=label)
                message = offering(label)
                assert message is not None
                before = len(api.messages_to(USER_ID))
                api.user_taps(USER_ID, message.message_id, message.button_data(label))
                await api.wait_for(lambda: len(api.messages_to(USER_ID)) > before, what=label)

            api.user_sends_text(USER_ID, "/start")
            for label in ["I agree", "UK (London)", "19:00", *SELF_CARE_CHECK]:
                await tap(label)
            await api.wait_for(
                lambda: offering("Check in now") is not None, timeout=10, what="plan"
            )
            before = len(api.messages_to(USER_ID))
            api.user_sends_text(USER_ID, "it feels a bit numb down there zebra-secret")
            await api.wait_for(
                lambda: len(api.messages_to(USER_ID)) > before, timeout=10, what="an answer"
            )
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 15)
        finally:
            if process.returncode is None:
                process.kill()
        output = (await process.stdout.read()).decode() if process.stdout else ""
    assert "update=" in output and "level=DEBUG" in output  # structured, and really at DEBUG
    for secret in (
        TOKEN,
        TOKEN.split(":")[1],
        "zebra-secret",
        "numb down there",
        "Lifting or bending",
        "Lower back",
        "q:",
    ):
        assert secret not in output, f"{secret!r} leaked into the logs"


async def test_stickers_photos_and_edits_get_a_short_answer_and_lose_nothing(
    bot: BotHarness,
) -> None:
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK[:3])  # in the middle of the symptom check
    replies = await bot.send_raw("user_sends_sticker")
    assert "I can only read text and button taps" in (replies[0].text or "")
    assert "What set it off?" in (replies[-1].text or "")  # the waiting question comes back
    replies = await bot.send_raw("user_sends_photo")
    assert "What set it off?" in (replies[-1].text or "")
    edited = {
        "edited_message": {
            "message_id": 1,
            "date": 1,
            "edit_date": 2,
            "text": "10",
            "chat": {"id": USER_ID, "type": "private", "first_name": "T"},
            "from": {"id": USER_ID, "is_bot": False, "first_name": "T"},
        },
    }
    bot.inject(edited)
    await bot.settled()
    replies = await bot.tap("Lifting or bending")
    assert "How bad is the pain" in (replies[-1].text or "")


async def test_huge_emoji_and_right_to_left_text_get_a_helpful_reply(bot: BotHarness) -> None:
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK)
    replies = await bot.say("x" * 4000)
    assert "That's a long message" in (replies[0].text or "")
    replies = await bot.say("🙂🔥💪")
    assert "What would you like to do?" in (replies[-1].text or "")
    replies = await bot.say("مرحبا، ظهري يؤلمني")
    assert replies and replies[-1].buttons()


async def test_unknown_and_mid_check_commands_keep_the_check_going(bot: BotHarness) -> None:
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK[:2])
    replies = await bot.say("/frobnicate")
    assert "I don't know that command" in (replies[0].text or "")
    replies = await bot.say("/help")
    assert "/checkin" in (replies[0].text or "")
    assert "When did it start?" in (replies[-1].text or "")
    replies = await bot.tap("Today")
    assert "What set it off?" in (replies[-1].text or "")


async def test_double_taps_and_old_buttons_are_answered_gracefully(bot: BotHarness) -> None:
    await bot.onboard()
    question = bot.message_with_button("None of these")
    await bot.tap("None of these", message=question)
    before = len(bot.messages())
    bot.api.user_taps(
        USER_ID,
        question.message_id,
        question.button_data("None of these") if question.buttons() else "q:1:none",
        strict=False,
    )
    bot.injected += 1
    await bot.settled()
    replies = bot.messages()[before:]
    assert "That button belongs to an earlier message" in (replies[0].text or "")
    assert "Where does it hurt most?" in (replies[-1].text or "")
    with bot.coach.engine.connect() as db:
        count = db.execute(sa.text("select count(*) from answer where question='emergency'"))
        assert count.scalar_one() == 1  # the double tap was not recorded twice


async def test_forged_callback_data_cannot_touch_another_persons_data(bot: BotHarness) -> None:
    await bot.onboard()
    await bot.onboard(user_id=OTHER_USER)
    theirs = bot.message_with_button("None of these", user_id=OTHER_USER)
    data = theirs.button_data("Numb around genitals")
    # I replay the other person's button data from my own chat.
    before = len(bot.messages())
    bot.api.user_taps(USER_ID, bot.messages()[-1].message_id, data, strict=False)
    bot.injected += 1
    await bot.settled()
    with bot.coach.engine.connect() as db:
        tiers = dict(
            db.execute(
                sa.text(
                    "select p.telegram_user_id, e.tier from episode e "
                    "join person p on p.id = e.person_id"
                )
            ).all()
        )
    assert tiers[OTHER_USER] == 0  # their episode untouched
    assert bot.messages()[before:]  # I got an answer about my own conversation


async def test_group_chats_get_an_explanation_and_nothing_is_stored(bot: BotHarness) -> None:
    group_id = -100777
    bot.api.user_sends_text(USER_ID, "/start", chat_type="group", chat_id=group_id)
    bot.injected += 1
    await bot.settled()
    assert "only in private chats" in (bot.api.last_message_to(group_id).text or "")
    with bot.coach.engine.connect() as db:
        assert db.execute(sa.text("select count(*) from person")).scalar_one() == 0


async def test_a_flood_from_one_person_is_throttled_politely(sqlite_url: str) -> None:
    harness = BotHarness(
        database_url=sqlite_url, token=TOKEN, flood_max_updates=5, flood_window_seconds=60
    )
    await harness.start()
    try:
        for _ in range(12):
            harness.api.user_sends_text(USER_ID, "hello")
        await harness.api.wait_until_updates_consumed()
        await harness.api.wait_for(lambda: len(harness.messages()) >= 6, timeout=10)
        # Dropped updates never reach the last handler group, so count what did: 5 handled.
        await harness.api.wait_for(lambda: harness.processed >= 5, timeout=10)
        texts = [m.text or "" for m in harness.messages()]
        assert sum("faster than I can keep up" in t for t in texts) == 1
        assert len(texts) == 6  # five answered, one polite note, the rest dropped
    finally:
        await harness.stop()


async def test_blocking_the_bot_stops_follow_ups_and_unblocking_restores_them(
    bot: BotHarness,
) -> None:
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK)
    bot.api.user_blocks_bot(USER_ID)  # queues the my_chat_member update Telegram sends
    bot.injected += 1
    await bot.settled()
    with bot.coach.engine.connect() as db:
        assert db.execute(sa.text("select blocked from person")).scalar_one()
        assert (
            db.execute(sa.text("select count(*) from followup where status='pending'")).scalar_one()
            == 0
        )
    bot.api.user_unblocks_bot(USER_ID)
    bot.injected += 1
    await bot.settled()
    with bot.coach.engine.connect() as db:
        assert (
            db.execute(sa.text("select count(*) from followup where status='pending'")).scalar_one()
            > 0
        )


async def test_a_403_while_sending_a_followup_marks_the_person_blocked(bot: BotHarness) -> None:
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK)
    bot.api.block(USER_ID)
    # The first follow-up: the next morning's steps (the day the plan starts has nothing more).
    report = await bot.advance(timedelta(hours=22, minutes=10))
    assert report.blocked == 1
    with bot.coach.engine.connect() as db:
        assert db.execute(sa.text("select blocked from person")).scalar_one()
        assert (
            db.execute(sa.text("select count(*) from followup where status='pending'")).scalar_one()
            == 0
        )


async def test_a_429_on_a_followup_is_retried_after_retry_after(bot: BotHarness) -> None:
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK)
    bot.api.fail_next("sendMessage", 429, retry_after=1)
    report = await bot.advance(timedelta(hours=22, minutes=10))  # the next morning's steps
    assert report.retried == 1 and report.sent == 0
    report = await bot.advance(timedelta(seconds=5))
    assert report.sent == 1
    assert "Good morning" in (bot.messages()[-1].text or "")


# The property: whatever update arrives, the real handlers never raise (neither to the
# application's error handler nor into the service's catch-all, which logs and answers "something
# went wrong"), a person who wrote in a private chat always gets an answer, every update is
# recorded in the inbox exactly once, and the same update delivered again is not handled again.
_texts = st.one_of(
    st.text(max_size=300),
    st.sampled_from(
        [
            "/start",
            "/checkin",
            "/today",
            "/progress",
            "/settings",
            "/pause",
            "/resume",
            "/stop",
            "/help",
            "/emergency",
            "/mydata",
            "/nope",
            "7",
            "10/10",
            "paris",
            "19:30",
            "wet myself",
            "both legs numb",
        ]
    ),
)


class _ErrorRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _inbox_ids(bot: BotHarness) -> list[int]:
    with bot.coach.engine.connect() as db:
        return [int(i) for i in db.execute(sa.text("select update_id from inbox_update")).scalars()]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    actions=st.lists(
        st.tuples(st.sampled_from(["text", "tap", "sticker"]), _texts, st.text(max_size=64)),
        min_size=1,
        max_size=6,
    )
)
async def test_random_updates_never_crash_and_always_get_an_answer(
    bot: BotHarness, actions: list[tuple[str, str, str]]
) -> None:
    errors: list[BaseException] = []
    assert bot.application is not None
    original = bot.application.error_handlers.copy()
    logged = _ErrorRecords()
    sorry = bot.coach.content.ui("something_went_wrong")

    async def remember(update: object, context: object) -> None:
        errors.append(context.error)  # type: ignore[attr-defined]

    async def deliver() -> list[str]:
        """Let the bot take the update just queued; what it sent in answer."""
        before = len(bot.messages())
        bot.injected += 1
        await bot.settled()
        return [m.text or "" for m in bot.messages()[before:]]

    bot.application.error_handlers.clear()
    bot.application.add_error_handler(remember)
    logging.getLogger().addHandler(logged)
    inbox_before = _inbox_ids(bot)
    sent: list[dict[str, object]] = []
    try:
        for kind, text, data in actions:
            if kind == "text" or (kind == "tap" and not bot.messages()):
                update = bot.api.user_sends_text(USER_ID, text or ".")
            elif kind == "sticker":
                update = bot.api.user_sends_sticker(USER_ID)
            else:
                update = bot.api.user_taps(
                    USER_ID,
                    bot.messages()[-1].message_id,
                    data.encode()[:64].decode(errors="ignore") or "x",
                    strict=False,
                )
            sent.append(update)
            answer = await deliver()
            assert answer, f"no answer to {kind} {text!r} {data!r}"
            failed = [t for t in answer if sorry in t]
            assert not failed, f"handling {kind} {text!r} {data!r} failed inside: {failed}"
        # The last update delivered again (a webhook retry, a lost polling offset): not handled
        # twice, so no second answer and no second inbox row.
        before = len(bot.messages())
        bot.injected += 1
        await bot.runtime.process(Update.de_json(sent[-1], bot.application.bot))
        assert len(bot.messages()) == before, "a re-delivered update was answered again"
    finally:
        logging.getLogger().removeHandler(logged)
        bot.application.error_handlers.clear()
        bot.application.error_handlers.update(original)
    assert errors == []
    assert [r.getMessage() for r in logged.records] == []
    inbox_after = _inbox_ids(bot)
    ids = [int(u["update_id"]) for u in sent]  # type: ignore[call-overload]
    assert len(set(ids)) == len(ids)
    assert sorted(set(inbox_after) - set(inbox_before)) == sorted(ids)
    assert len(inbox_after) == len(set(inbox_after)) == len(inbox_before) + len(ids)
