"""The dispatcher's own promises: per-chat pacing and releasing its batch when told to stop."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from coach.coaching.replies import Reply
from coach.scheduling.dispatcher import ChatPacer
from tests.conftest import TOKEN
from tests.support.bot_harness import BotHarness
from tests.test_dispatch_under_load_and_faults import followup_statuses, seed_due_nudges


async def test_pacer_spaces_messages_to_one_chat_by_a_second_and_not_other_chats() -> None:
    now = [100.0]
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = ChatPacer(monotonic=lambda: now[0], sleep=fake_sleep)
    await pacer.wait_turn(1)
    await pacer.wait_turn(2)  # another chat: no wait
    now[0] += 0.25
    await pacer.wait_turn(1)  # same chat a quarter second later: waits the rest
    assert slept == [0.75]
    now[0] += 5
    await pacer.wait_turn(1)
    assert slept == [0.75]


async def test_stop_finishes_the_followup_in_hand_and_releases_the_rest(sqlite_url: str) -> None:
    bot = BotHarness(database_url=sqlite_url, token=TOKEN)
    await bot.start()
    try:
        seed_due_nudges(sqlite_url, 10, due=bot.clock.now() - timedelta(minutes=1))
        dispatcher = bot.runtime.dispatcher
        real_sender = dispatcher.sender
        sent: list[int] = []

        class StopAfterFirst:
            async def send(self, chat_id: int, reply: Reply) -> int:
                message_id = await real_sender.send(chat_id, reply)
                sent.append(chat_id)
                dispatcher.stop()  # SIGTERM arrives while the first send is in flight
                return message_id

        dispatcher.sender = StopAfterFirst()
        report = await dispatcher.run_once()
        assert report.sent == 1 and len(sent) == 1
        assert followup_statuses(sqlite_url) == Counter({"sent": 1, "pending": 9})
    finally:
        await bot.stop()
