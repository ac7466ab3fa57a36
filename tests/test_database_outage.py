"""The database goes away and comes back: no input consumed that could not be stored, no reply
lost or doubled, no follow-up sent twice, and start-up waits instead of crashing.

The outage is real: the coach talks to the real PostgreSQL server through a TCP proxy that the
test cuts (open connections drop, new ones are refused) and restores.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from coach.storage.database import migrate
from coach.storage.models import OutboxMessage
from tests.conftest import TOKEN
from tests.support.bot_harness import USER_ID, BotHarness
from tests.support.botapi_standin import BotApiStandIn, post_update_to_webhook
from tests.support.db_proxy import DatabaseProxy
from tests.test_dispatch_under_load_and_faults import seed_due_nudges
from tests.test_operations import _free_port, _wait_healthy


@pytest.fixture
def proxied(postgres_url: str) -> Iterator[tuple[DatabaseProxy, str, str]]:
    """(proxy, URL through the proxy, direct URL for the test's own checks)."""
    migrate(postgres_url)
    proxy, url = DatabaseProxy.for_url(postgres_url)
    try:
        yield proxy, url, postgres_url
    finally:
        proxy.stop()


@pytest.fixture
async def bot_on_proxy(
    proxied: tuple[DatabaseProxy, str, str],
) -> AsyncIterator[BotHarness]:
    harness = BotHarness(database_url=proxied[1], token=TOKEN)
    await harness.start()
    try:
        yield harness
    finally:
        proxied[0].ensure_up()
        await harness.stop()


def _scalar(url: str, sql: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as db:
            return int(db.execute(sa.text(sql)).scalar_one())
    finally:
        engine.dispose()


async def test_a_tap_during_an_outage_is_kept_by_telegram_and_answered_once_after(
    bot_on_proxy: BotHarness, proxied: tuple[DatabaseProxy, str, str]
) -> None:
    bot, (proxy, _, direct) = bot_on_proxy, proxied
    await bot.onboard()
    question = bot.message_with_button("None of these")
    proxy.cut()
    retries = bot.poll_retries
    bot.api.user_taps(USER_ID, question.message_id, question.button_data("None of these"))
    bot.injected += 1
    await bot.api.wait_for(lambda: bot.poll_retries >= retries + 3, 10, "three retries")
    # Not consumed: polling paused, so Telegram still holds the update, and nothing was said.
    assert [u for u in bot.api.pending_updates if "callback_query" in u]
    assert not any("Where does it hurt" in (m.text or "") for m in bot.messages())
    proxy.restore()
    await bot.settled()
    assert sum("Where does it hurt" in (m.text or "") for m in bot.messages()) == 1
    assert _scalar(direct, "select count(*) from answer") == 1


async def test_webhook_answers_503_during_an_outage_and_handles_the_retry_once(
    proxied: tuple[DatabaseProxy, str, str],
) -> None:
    from coach.clock import ManualClock
    from coach.settings import Settings
    from coach.telegram_adapter.app import build_application, start_webhook
    from tests.support.bot_harness import START

    proxy, url, direct = proxied
    port = _free_port()
    async with BotApiStandIn(token=TOKEN) as api:
        settings = Settings(
            database_url=url,
            bot_api_url=api.root_url,
            http_listen="",
            mode="webhook",
            webhook_url="https://coach.example.org/telegram",
            webhook_secret="s3cret-value",
            webhook_listen=f"127.0.0.1:{port}",
            dispatch_interval_seconds=3600,
        )
        application = build_application(settings, TOKEN, clock=ManualClock(START))
        await application.initialize()
        await application.start()
        server, _ = await start_webhook(application, settings)
        hook = f"http://127.0.0.1:{port}/telegram"
        try:
            update = api.user_sends_text(USER_ID, "/start")
            proxy.cut()
            assert await post_update_to_webhook(hook, update, "s3cret-value") == 503
            assert api.messages_to(USER_ID) == []
            proxy.restore()
            assert await post_update_to_webhook(hook, update, "s3cret-value") == 200
            # Telegram retries an update it got no answer for: handled once all the same.
            assert await post_update_to_webhook(hook, update, "s3cret-value") == 200
            await api.wait_for_messages(USER_ID, 1)
            sent = [m for m in api.messages_to(USER_ID) if m.method == "sendMessage"]
            assert sent and "not a diagnosis" in (sent[0].text or "")
            assert sum("not a diagnosis" in (m.text or "") for m in sent) == 1, api.dump()
            assert _scalar(direct, "select count(*) from person") == 1
        finally:
            server.stop()
            await application.stop()
            await application.shutdown()
            if application.post_shutdown:
                await application.post_shutdown(application)


async def test_losing_the_database_mid_batch_sends_each_followup_once_without_delay(
    bot_on_proxy: BotHarness, proxied: tuple[DatabaseProxy, str, str]
) -> None:
    bot, (proxy, _, direct) = bot_on_proxy, proxied
    people = 30
    seed_due_nudges(direct, people, due=bot.clock.now() - timedelta(minutes=1))
    courier = bot.runtime.courier
    courier.concurrency = 1  # one message in flight, so the cut lands between a send and its mark
    real_sender = courier.sender
    sends = 0

    class CutAfterFifth:
        async def send(self, message: OutboxMessage) -> int | None:
            nonlocal sends
            message_id = await real_sender.send(message)
            sends += 1
            if sends == 5:
                proxy.cut()
                asyncio.get_running_loop().call_later(1.0, proxy.restore)
            return message_id

    courier.sender = CutAfterFifth()
    report = await bot.runtime.dispatch()
    chats = [m.chat_id for m in bot.api.sent if m.method == "sendMessage"]
    assert len(chats) == people and len(set(chats)) == people, "lost or doubled"
    assert report.sent == people  # all in the same round: nothing waited for a lease to lapse
    assert _scalar(direct, "select count(*) from outbox_message where status <> 'sent'") == 0


def _env(tmp_path: Path, api_url: str, database_url: str, http_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COACH_")}
    env.update(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "COACH_BOT_API_URL": api_url,
            "COACH_DATABASE_URL": database_url,
            "COACH_HTTP_LISTEN": f"127.0.0.1:{http_port}",
            "COACH_DISPATCH_INTERVAL_SECONDS": "1",
        }
    )
    return env


async def test_start_up_waits_for_the_database_and_then_serves(
    tmp_path: Path, proxied: tuple[DatabaseProxy, str, str]
) -> None:
    proxy, url, _ = proxied
    proxy.cut()
    port = _free_port()
    async with BotApiStandIn(token=TOKEN) as api:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "coach",
            "run",
            env=_env(tmp_path, api.root_url, url, port),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        seen: list[str] = []
        try:
            assert process.stdout is not None
            while not any("database not reachable" in line for line in seen):
                line = await asyncio.wait_for(process.stdout.readline(), 30)
                assert line, "the coach exited instead of waiting:\n" + "".join(seen)
                seen.append(line.decode())
            proxy.restore()
            await _wait_healthy(port, process, 30)
            process.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(process.wait(), 15)
        finally:
            if process.returncode is None:
                process.kill()
        output = "".join(seen) + (await process.stdout.read()).decode()
    assert code == 0, output
    waiting = [line for line in output.splitlines() if "database not reachable" in line]
    assert waiting and all("COACH_DATABASE_URL" in line for line in waiting), output
    assert "Traceback" not in output


async def test_start_up_gives_up_after_the_wait_with_one_line_and_exit_3(
    tmp_path: Path, proxied: tuple[DatabaseProxy, str, str]
) -> None:
    proxy, url, _ = proxied
    proxy.cut()
    env = _env(tmp_path, "http://127.0.0.1:9", url, _free_port())
    env["COACH_DATABASE_WAIT_SECONDS"] = "1"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "coach",
        "run",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    code = await asyncio.wait_for(process.wait(), 30)
    output = (await process.stdout.read()).decode() if process.stdout else ""
    assert code == 3, output
    assert "Traceback" not in output
    assert output.strip().splitlines()[-1].count("COACH_DATABASE_URL") == 1


async def test_healthz_says_unhealthy_while_the_database_is_away_and_recovers_by_itself(
    bot_on_proxy: BotHarness, proxied: tuple[DatabaseProxy, str, str]
) -> None:
    import httpx

    bot, proxy = bot_on_proxy, proxied[0]
    await bot.advance(timedelta(seconds=1))  # the dispatcher has run
    url = f"http://127.0.0.1:{bot.runtime.http_port}/healthz"
    async with httpx.AsyncClient(timeout=20) as client:
        assert (await client.get(url)).status_code == 200
        proxy.cut()
        response = await client.get(url)
        assert response.status_code == 503
        assert response.json()["database"].startswith("unreachable")
        proxy.restore()
        await bot.advance(timedelta(seconds=1))
        assert (await client.get(url)).status_code == 200
