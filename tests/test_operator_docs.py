"""What the operator guide and the README tell an operator to type works, and keeps the token off
the command line."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import TOKEN
from tests.support.botapi_standin import BotApiStandIn

ROOT = Path(__file__).resolve().parent.parent
GUIDE = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _code(markdown: str) -> str:
    return "\n".join(re.findall(r"```[a-z]*\n(.*?)```", markdown, re.S))


async def test_the_get_webhook_info_command_asks_the_configured_bot_api() -> None:
    command = re.search(r'python -c "(.*getWebhookInfo.*)"', GUIDE)
    assert command is not None
    async with BotApiStandIn(token=TOKEN) as api:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COACH_")}
        env |= {"TELEGRAM_BOT_TOKEN": TOKEN, "COACH_BOT_API_URL": api.root_url + "/"}
        code, out, err = await _run(sys.executable, "-c", command.group(1), env=env)
    assert code == 0, err
    info = json.loads(out)
    assert info["url"] == "" and "pending_update_count" in info


async def _run(*command: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def test_no_example_puts_a_token_on_the_command_line() -> None:
    token_like = re.compile(r"TELEGRAM_BOT_TOKEN=\d{3,}:\S+\s+\S*(bin/|coach|docker)")
    for name, text in (("README.md", README), ("docs/operations.md", GUIDE)):
        assert token_like.search(_code(text)) is None, name


def test_the_readme_starts_the_coach_from_dot_env() -> None:
    code = _code(README)
    assert "cp .env.example .env" in code and "bin/run-coach" in code


def test_the_reserved_default_language_setting_is_gone_everywhere() -> None:
    for path in (ROOT / "README.md", ROOT / ".env.example", ROOT / "docs" / "operations.md"):
        assert "COACH_DEFAULT_LANGUAGE" not in path.read_text(encoding="utf-8")
    assert "default_language" not in (ROOT / "coach" / "settings.py").read_text(encoding="utf-8")
