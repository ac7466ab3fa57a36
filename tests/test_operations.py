"""Health, metrics, webhook mode and graceful shutdown."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from coach.clock import ManualClock
from coach.settings import Settings
from coach.storage.database import migrate
from coach.telegram_adapter.app import build_application, start_webhook
from tests.conftest import TOKEN
from tests.support.bot_harness import START, USER_ID, BotHarness
from tests.support.botapi_standin import BotApiStandIn, post_update_to_webhook


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _get(bot: BotHarness, path: str) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(f"http://127.0.0.1:{bot.runtime.http_port}{path}")


async def test_healthz_is_200_when_database_and_dispatcher_are_fine(bot: BotHarness) -> None:
    await bot.advance(timedelta(seconds=1))  # the dispatcher runs
    response = await _get(bot, "/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


async def test_healthz_is_503_when_the_dispatcher_has_not_run_recently(bot: BotHarness) -> None:
    await bot.advance(timedelta(seconds=1))
    bot.clock.advance(timedelta(hours=4))  # no dispatch for longer than 3 intervals
    response = await _get(bot, "/healthz")
    assert response.status_code == 503
    assert response.json()["dispatcher"].startswith("stale")


async def test_metrics_count_updates_and_episodes_but_nothing_about_people(
    bot: BotHarness,
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
    await bot.advance(timedelta(hours=22, minutes=10))  # the next morning's steps are sent
    response = await _get(bot, "/metrics")
    assert response.status_code == 200
    body = response.text
    assert 'coach_updates_handled_total{kind="callback_query"}' in body
    assert "coach_active_episodes 1.0" in body
    assert 'coach_triage_outcomes{tier="SELF"} 1.0' in body
    assert 'coach_followups_total{outcome="sent"}' in body
    assert str(USER_ID) not in body and "Lower back" not in body


async def test_webhook_refuses_a_wrong_secret_and_handles_the_right_one(sqlite_url: str) -> None:
    migrate(sqlite_url)
    port = _free_port()
    async with BotApiStandIn(token=TOKEN) as api:
        settings = Settings(
            database_url=sqlite_url,
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
        try:
            assert api.webhook_secret_token == "s3cret-value"
            url = f"http://127.0.0.1:{port}/telegram"
            update = api.user_sends_text(USER_ID, "/start")
            assert await post_update_to_webhook(url, update, "wrong") == 403
            assert await post_update_to_webhook(url, update, None) == 403
            await asyncio.sleep(0)  # let any wrongly accepted update run (none should)
            assert api.messages_to(USER_ID) == []
            assert await post_update_to_webhook(url, update, "s3cret-value") == 200
            replies = await api.wait_for_messages(USER_ID, 1)
            assert "not a diagnosis" in (replies[0].text or "")
        finally:
            server.stop()
            await application.stop()
            await application.shutdown()
            if application.post_shutdown:
                await application.post_shutdown(application)


def _coach_env(tmp_path: Path, api_url: str, http_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COACH_")}
    env.update(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "COACH_BOT_API_URL": api_url,
            "COACH_DATA_DIR": str(tmp_path / "data"),
            "COACH_HTTP_LISTEN": f"127.0.0.1:{http_port}",
            "COACH_DISPATCH_INTERVAL_SECONDS": "1",
        }
    )
    return env


async def _wait_healthy(port: int, process: asyncio.subprocess.Process, seconds: float) -> None:
    async with httpx.AsyncClient() as client:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline:
            assert process.returncode is None, "the coach exited before becoming healthy"
            try:
                if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)  # polling a real process's start-up; not a timed assertion
    raise AssertionError("/healthz never answered 200")


async def test_coach_run_starts_serves_health_and_stops_cleanly_on_sigterm(
    tmp_path: Path,
) -> None:
    port = _free_port()
    async with BotApiStandIn(token=TOKEN) as api:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "coach",
            "run",
            env=_coach_env(tmp_path, api.root_url, port),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            await _wait_healthy(port, process, 30)
            api.user_sends_text(USER_ID, "/start")
            await api.wait_for_messages(USER_ID, 1, timeout=10)
            process.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(process.wait(), 15)
        finally:
            if process.returncode is None:
                process.kill()
        output = (await process.stdout.read()).decode() if process.stdout else ""
        assert code == 0, output
        assert "coach stopped" in output
        # Libraries' start-up and shutdown chatter stays below INFO: the INFO lines are the coach's.
        info_from = set(re.findall(r"level=INFO logger=(\S+)", output))
        assert info_from and all(name.startswith("coach.") for name in info_from), info_from
        assert TOKEN not in output and TOKEN.split(":")[1] not in output
        assert "/start" not in output


def test_a_missing_token_stops_start_up_with_one_clear_line(tmp_path: Path) -> None:
    import subprocess

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("COACH_") and k != "TELEGRAM_BOT_TOKEN"
    }
    result = subprocess.run(
        [sys.executable, "-m", "coach", "run"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "TELEGRAM_BOT_TOKEN" in lines[0]


def test_webhook_mode_without_a_secret_refuses_to_start(tmp_path: Path) -> None:
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("COACH_")}
    env |= {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "COACH_MODE": "webhook",
        "COACH_WEBHOOK_URL": "https://coach.example.org/hook",
    }
    result = subprocess.run(
        [sys.executable, "-m", "coach", "run"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "COACH_WEBHOOK_SECRET" in result.stderr


@pytest.mark.parametrize("missing", ["ui.help", "plan.ice.steps.0.source"])
def test_broken_content_stops_start_up_naming_the_entry(tmp_path: Path, missing: str) -> None:
    import shutil
    import subprocess

    import yaml

    content = tmp_path / "content"
    shutil.copytree(Path(__file__).resolve().parent.parent / "content", content)
    path = content / "en" / "coach.yaml"
    data = yaml.safe_load(path.read_text())
    if missing == "ui.help":
        del data["ui"]["help"]
    else:
        del data["plan"]["ice"]["steps"][0]["source"]
    path.write_text(yaml.safe_dump(data))
    env = {k: v for k, v in os.environ.items() if not k.startswith("COACH_")}
    env |= {"TELEGRAM_BOT_TOKEN": TOKEN, "COACH_CONTENT_DIR": str(content)}
    result = subprocess.run(
        [sys.executable, "-m", "coach", "run"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert missing.rsplit(".", 1)[0].split(".")[0] in result.stderr
