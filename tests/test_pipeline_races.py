"""Two coach instances on one PostgreSQL database race on one person (webhook mode behind a load
balancer): all handling of one person is serialised, so every race has one coherent outcome.

Each race is run in threads (two engines, two services) and the worst ones also in two processes.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa
from telegram import Bot, Update

from coach.clock import SystemClock
from coach.coaching.conversation import Coach
from coach.pipeline.service import CoachService
from coach.storage.database import create_db_engine
from coach.telegram_adapter.inbound import to_inbound
from tests.conftest import TOKEN
from tests.support.bot_harness import USER_ID, BotHarness


@pytest.fixture
async def bot(postgres_url: str) -> AsyncIterator[BotHarness]:
    harness = BotHarness(database_url=postgres_url, token=TOKEN, clock=None)
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()


async def _stop_polling(bot: BotHarness) -> None:
    """From here on the test hands updates to the racing instances itself."""
    assert bot.poller is not None
    await bot.poller.stop()


def _take(bot: BotHarness, queue: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Queue an update at the stand-in (as Telegram would build it) and take it back."""
    update = queue()
    bot.api._pending = [u for u in bot.api._pending if u["update_id"] != update["update_id"]]
    return update


def _service(url: str, bot: BotHarness) -> CoachService:
    coach = bot.coach
    engine = create_db_engine(url)
    other = Coach(
        engine=engine, content=coach.content, clock=SystemClock(), settings=coach.settings
    )
    return CoachService(coach=other, clock=SystemClock())


def _race_in_threads(url: str, bot: BotHarness, updates: list[dict[str, Any]]) -> list[str]:
    services = [_service(url, bot) for _ in updates]
    barrier = threading.Barrier(len(updates))
    tg = Bot(TOKEN)

    def run(service: CoachService, raw: dict[str, Any]) -> str:
        inbound = to_inbound(Update.de_json(raw, tg))
        with service.engine.connect():
            pass
        barrier.wait()
        try:
            service.handle(inbound)  # type: ignore[arg-type]
            return "ok"
        except Exception as exc:
            return type(exc).__name__

    try:
        with ThreadPoolExecutor(len(updates)) as pool:
            results = list(pool.map(run, services, updates))
    finally:
        for service in services:
            service.engine.dispose()
    return results


async def _race_in_processes(url: str, updates: list[dict[str, Any]]) -> list[str]:
    start_at = time.time() + 4.0  # both workers import and connect, then go at once
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.support.race_worker",
            url,
            str(start_at),
            json.dumps(raw),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        for raw in updates
    ]
    outputs = [await asyncio.wait_for(w.communicate(), 60) for w in workers]
    return [out.decode().strip().splitlines()[-1] for out, _ in outputs]


def _rows(bot: BotHarness, sql: str, **params: object) -> list[Any]:
    with bot.coach.engine.connect() as db:
        return list(db.execute(sa.text(sql), params).all())


def _outbox_texts(bot: BotHarness) -> list[str]:
    return [r[0] for r in _rows(bot, "select text from outbox_message where status <> 'sent'")]


async def _at_emergency_question(bot: BotHarness) -> None:
    await bot.onboard()
    await _stop_polling(bot)


def _tap(bot: BotHarness, label: str) -> dict[str, Any]:
    message = bot.message_with_button(label)
    return _take(
        bot, lambda: bot.api.user_taps(USER_ID, message.message_id, message.button_data(label))
    )


@pytest.mark.parametrize("where", ["threads", "processes"])
async def test_none_of_these_racing_a_red_flag_gives_one_coherent_answer(
    bot: BotHarness, postgres_url: str, where: str
) -> None:
    await _at_emergency_question(bot)
    updates = [_tap(bot, "None of these"), _tap(bot, "Numb around genitals")]
    if where == "threads":
        results = _race_in_threads(postgres_url, bot, updates)
    else:
        results = await _race_in_processes(postgres_url, updates)
    assert results == ["ok", "ok"]
    answers = _rows(bot, "select question, value from answer where question = 'emergency'")
    assert len(answers) == 1, answers
    texts = "\n".join(_outbox_texts(bot))
    emergency = "Call 999 now" in texts
    next_question = "Where does it hurt" in texts
    assert emergency != next_question, texts  # one outcome, never both
    assert (answers[0][1] == "saddle_numbness") == emergency


async def test_two_different_answers_to_one_question_apply_one(
    bot: BotHarness, postgres_url: str
) -> None:
    await bot.onboard()
    await bot.tap("None of these")
    await _stop_polling(bot)
    updates = [_tap(bot, "Lower back"), _tap(bot, "Middle back")]
    assert _race_in_threads(postgres_url, bot, updates) == ["ok", "ok"]
    assert len(_rows(bot, "select 1 from answer where question = 'location'")) == 1
    texts = _outbox_texts(bot)
    # One tap applied (the next question), the other answered as stale (the question again).
    assert sum("When did it start" in t for t in texts) == 2
    assert sum("belongs to an earlier message" in t for t in texts) == 1
    # What the person was shown as chosen is what was stored.
    edits = _rows(bot, "select text from outbox_message where kind = 'edit' and status <> 'sent'")
    location = _rows(bot, "select location from episode")[0][0]
    assert len(edits) == 1
    shown = {"lower_back": "✓ Lower back", "middle_back": "✓ Middle back"}[location]
    assert edits[0][0].startswith(shown)  # the next question took the answered one's place


async def test_declining_consent_racing_accepting_it_leaves_a_consistent_person(
    bot: BotHarness, postgres_url: str
) -> None:
    await bot.say("/start")
    await _stop_polling(bot)
    updates = [_tap(bot, "I agree"), _tap(bot, "No thanks")]
    assert _race_in_threads(postgres_url, bot, updates) == ["ok", "ok"]
    consent = _rows(bot, "select consent_at from person")[0][0]
    texts = "\n".join(_outbox_texts(bot))
    declined = "I won't keep any health answers" in texts
    if consent is not None:
        assert not declined, texts
    else:
        assert declined and "time zone" not in texts.lower(), texts


async def test_an_answer_racing_stop_never_deadlocks_and_the_stop_holds(
    bot: BotHarness, postgres_url: str
) -> None:
    await bot.onboard()
    await bot.symptom_check(
        [
            "None of these",
            "Lower back",
            "Today",
            "Lifting or bending",
            "6",
            "None of these",
            "None of these",
            "Under 50",
        ]
    )
    await bot.say("/checkin")
    await _stop_polling(bot)
    updates = [
        _tap(bot, "None of these"),
        _take(bot, lambda: bot.api.user_sends_text(USER_ID, "/stop")),
    ]
    results = await asyncio.wait_for(
        asyncio.to_thread(_race_in_threads, postgres_url, bot, updates), 30
    )
    assert results == ["ok", "ok"]
    state = _rows(bot, "select state, flow from person")[0]
    assert state[0] == "stopped" and state[1] is None
    assert _rows(bot, "select count(*) from followup where status = 'pending'")[0][0] == 0


async def test_two_checkins_at_once_make_one_checkin(bot: BotHarness, postgres_url: str) -> None:
    await bot.onboard()
    await bot.symptom_check(
        [
            "None of these",
            "Lower back",
            "Today",
            "Lifting or bending",
            "6",
            "None of these",
            "None of these",
            "Under 50",
        ]
    )
    await _stop_polling(bot)
    updates = [_take(bot, lambda: bot.api.user_sends_text(USER_ID, "/checkin")) for _ in range(2)]
    assert _race_in_threads(postgres_url, bot, updates) == ["ok", "ok"]
    assert _rows(bot, "select count(*) from checkin")[0][0] == 1


@pytest.mark.parametrize("where", ["threads", "processes"])
async def test_a_new_persons_start_on_two_instances_makes_one_person(
    bot: BotHarness, postgres_url: str, where: str
) -> None:
    await _stop_polling(bot)
    updates = [_take(bot, lambda: bot.api.user_sends_text(USER_ID, "/start")) for _ in range(2)]
    if where == "threads":
        results = _race_in_threads(postgres_url, bot, updates)
    else:
        results = await _race_in_processes(postgres_url, updates)
    assert results == ["ok", "ok"]
    assert _rows(bot, "select count(*) from person")[0][0] == 1
    texts = _outbox_texts(bot)
    assert not any("went wrong" in t for t in texts), texts  # no unique-constraint error
    assert len(texts) == 2 and all("Do you agree?" in t for t in texts)


@pytest.mark.parametrize("where", ["threads", "processes"])
async def test_the_same_update_on_two_instances_is_handled_once(
    bot: BotHarness, postgres_url: str, where: str
) -> None:
    await _stop_polling(bot)
    update = _take(bot, lambda: bot.api.user_sends_text(USER_ID, "/start"))
    if where == "threads":
        results = _race_in_threads(postgres_url, bot, [update, update])
    else:
        results = await _race_in_processes(postgres_url, [update, update])
    assert results == ["ok", "ok"]
    assert len(_outbox_texts(bot)) == 1
    assert _rows(bot, "select count(*) from inbox_update")[0][0] == 1
