"""The dispatcher's own promises: per-chat pacing and releasing its batch when told to stop."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from coach.pipeline.courier import ChatPacer
from coach.storage.models import OutboxMessage
from tests.conftest import TOKEN
from tests.support.bot_harness import USER_ID, BotHarness
from tests.test_dispatch_under_load_and_faults import followup_statuses, seed_due_nudges


async def test_pacer_allows_a_short_burst_then_one_a_second_per_chat() -> None:
    now = [100.0]
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = ChatPacer(monotonic=lambda: now[0], sleep=fake_sleep, burst=3)
    for _ in range(3):  # a tap's answer: edit, reply, and one more, at once
        await pacer.wait_turn(1)
    await pacer.wait_turn(2)  # another chat: no wait
    assert slept == []
    now[0] += 0.25
    await pacer.wait_turn(1)  # the fourth within a quarter second waits for a token
    assert slept == [0.75]
    await pacer.wait_turn(1)  # and the next one a whole interval
    assert slept == [0.75, 1.0]
    now[0] += 10  # a quiet while refills the burst, no more
    for _ in range(3):
        await pacer.wait_turn(1)
    assert slept == [0.75, 1.0]
    await pacer.wait_turn(1)
    assert slept == [0.75, 1.0, 1.0]


async def test_stop_finishes_the_followup_in_hand_and_releases_the_rest(sqlite_url: str) -> None:
    bot = BotHarness(database_url=sqlite_url, token=TOKEN)
    await bot.start()
    try:
        seed_due_nudges(sqlite_url, 10, due=bot.clock.now() - timedelta(minutes=1))
        dispatcher = bot.runtime.dispatcher
        courier = bot.runtime.courier
        real_sender = courier.sender
        sent: list[int] = []

        class StopAfterFirst:
            async def send(self, message: OutboxMessage) -> int | None:
                message_id = await real_sender.send(message)
                sent.append(message.chat_id)
                dispatcher.stop()  # SIGTERM arrives while the first send is in flight
                return message_id

        courier.sender = StopAfterFirst()
        report = await dispatcher.run_once()
        # Each message already in flight (one per chat being served at once) finishes.
        in_flight = len(sent)
        assert report.sent == in_flight and 1 <= in_flight <= courier.concurrency < 10
        # All ten were rendered once into the outbox; the rest wait there, untouched, for the
        # next instance (released, not failed, not counted as attempts).
        rest = 10 - in_flight
        assert followup_statuses(sqlite_url) == Counter({"sent": in_flight, "queued": rest})
        with bot.coach.engine.connect() as db:
            waiting = db.execute(sa.text("select status, attempts from outbox_message")).all()
        assert sorted(waiting) == sorted([("sent", 0)] * in_flight + [("pending", 0)] * rest)
    finally:
        await bot.stop()


async def test_a_followup_that_cannot_be_rendered_fails_alone(sqlite_url: str) -> None:
    """Follow-ups are rendered many to a unit of work: one that raises (a bug, injected here)
    is settled as failed and its neighbours in the same unit still go out."""
    bot = BotHarness(database_url=sqlite_url, token=TOKEN)
    await bot.start()
    try:
        seed_due_nudges(sqlite_url, 5, due=bot.clock.now() - timedelta(minutes=1))
        coach = bot.runtime.service.coach
        real_render = coach.render_followup
        broken: list[int] = []

        def render_or_break(session: Any, followup: Any) -> Any:
            if not broken:  # the first one of the unit meets a bug, after writing something
                broken.append(followup.id)
                followup.attempts = 99
                session.flush()
                raise RuntimeError("a bug while rendering")
            return real_render(session, followup)

        coach.render_followup = render_or_break  # type: ignore[method-assign]
        report = await bot.runtime.dispatcher.run_once()
        assert report.sent == 4 and report.failed == 1
        assert followup_statuses(sqlite_url) == Counter({"sent": 4, "failed": 1})
        with bot.coach.engine.connect() as db:
            attempts, error = db.execute(
                sa.text("select attempts, last_error from followup where id = :id"),
                {"id": broken[0]},
            ).one()
        assert (attempts, error) == (0, "error while rendering")  # its own work was undone
    finally:
        await bot.stop()


async def test_marking_an_answered_question_does_not_use_up_the_chats_pace(
    bot: BotHarness,
) -> None:
    """Telegram's one-message-a-second per chat is about new messages: the "✓ chosen" edit of
    the answered question goes out beside the next question without waiting its turn."""
    await bot.onboard()
    slept: list[float] = []

    async def record(seconds: float) -> None:
        slept.append(seconds)

    courier = bot.runtime.courier
    courier.pacer = ChatPacer(1.0, monotonic=lambda: 0.0, sleep=record, burst=1)
    replies = await bot.tap("None of these")
    assert any("Where" in (m.text or "") for m in replies)
    assert bot.api.messages_to(USER_ID, methods=["editMessageText"])
    assert slept == []  # one new message, one edit: within a burst of one
