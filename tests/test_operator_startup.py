"""What an operator sees when the coach cannot start: the real `coach` command in a subprocess.

Every start-up failure is one line on stderr, `coach: ...`, naming the setting and what to do,
with exit code 2 (change a setting) or 3 (a dependency stayed down), and no traceback unless
COACH_LOG_LEVEL=DEBUG. Secrets (the token, the webhook secret, the database password) appear in
no output at all, whatever fails: start-up, a handler, or an uncaught error.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from tests.conftest import TOKEN
from tests.support.botapi_standin import BotApiStandIn
from tests.test_operations import _free_port

ROOT = Path(__file__).resolve().parent.parent
WEBHOOK_SECRET = "Webhook-S3cret-value-for-tests"
DB_PASSWORD = "Db-Passw0rd-never-shown"
SECRETS = (TOKEN, TOKEN.split(":")[1], WEBHOOK_SECRET, DB_PASSWORD)


def _env(tmp_path: Path, **values: str) -> dict[str, str]:
    """The caller's environment without any coach setting, plus `values`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("COACH_") and k != "TELEGRAM_BOT_TOKEN"
    }
    env |= {"COACH_DATA_DIR": str(tmp_path / "data"), "COACH_STOP_GRACE_SECONDS": "2"}
    env |= values
    return env


def _coach(tmp_path: Path, *args: str, **values: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coach", *args],
        env=_env(tmp_path, **values),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def _coach_async(tmp_path: Path, *args: str, **values: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "coach",
        *args,
        env=_env(tmp_path, **values),
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def _assert_one_line(code: int, stdout: str, stderr: str, expected_code: int, setting: str) -> str:
    output = stdout + stderr
    assert code == expected_code, output
    failures = [line for line in stderr.splitlines() if line.startswith("coach: ")]
    assert len(failures) == 1, output
    assert setting in failures[0], output
    assert "Traceback" not in output, output
    for secret in SECRETS:
        assert secret not in output
    return failures[0]


def _closed_port_url(password: str = DB_PASSWORD) -> str:
    return f"postgresql+psycopg://coach:{password}@127.0.0.1:{_free_port()}/coach"


@pytest.mark.parametrize("command", ["run", "migrate"])
def test_a_malformed_database_url_is_one_line(tmp_path: Path, command: str) -> None:
    result = _coach(
        tmp_path,
        command,
        TELEGRAM_BOT_TOKEN=TOKEN,
        COACH_DATABASE_URL=f"postgresql+psycopg://coach:{DB_PASSWORD}@db:port/coach",
    )
    line = _assert_one_line(
        result.returncode, result.stdout, result.stderr, 2, "COACH_DATABASE_URL"
    )
    assert "postgresql+psycopg://" in line  # says what a good one looks like


@pytest.mark.parametrize("command", ["run", "migrate"])
def test_an_unreachable_database_past_the_wait_is_one_line_and_exit_3(
    tmp_path: Path, command: str
) -> None:
    result = _coach(
        tmp_path,
        command,
        TELEGRAM_BOT_TOKEN=TOKEN,
        COACH_DATABASE_URL=_closed_port_url(),
        COACH_DATABASE_WAIT_SECONDS="0",
    )
    line = _assert_one_line(
        result.returncode, result.stdout, result.stderr, 3, "COACH_DATABASE_URL"
    )
    assert "COACH_DATABASE_WAIT_SECONDS" in line


def test_the_traceback_is_shown_only_at_debug_level(tmp_path: Path) -> None:
    result = _coach(
        tmp_path,
        "migrate",
        COACH_DATABASE_URL=_closed_port_url(),
        COACH_DATABASE_WAIT_SECONDS="0",
        COACH_LOG_LEVEL="DEBUG",
    )
    assert result.returncode == 3
    assert "Traceback" in result.stderr
    assert DB_PASSWORD not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("COACH_HTTP_LISTEN", "nonsense", "host:port"),
        ("COACH_HTTP_LISTEN", "127.0.0.1:99999", "out of range"),
        ("COACH_WEBHOOK_LISTEN", "0.0.0.0:http", "host:port"),
        ("COACH_DEFAULT_EMERGENCY_NUMBER", "", "number"),
        ("COACH_DEFAULT_EMERGENCY_NUMBER", "   ", "number"),
        ("COACH_BOT_API_URL", "api.telegram.org", "https://"),
        ("COACH_DATABASE_URL", "mysql://coach@db/coach", "postgresql+psycopg"),
    ],
)
def test_a_malformed_setting_is_one_line_naming_it(
    tmp_path: Path, name: str, value: str, reason: str
) -> None:
    result = _coach(tmp_path, "run", TELEGRAM_BOT_TOKEN=TOKEN, **{name: value})
    line = _assert_one_line(result.returncode, result.stdout, result.stderr, 2, name)
    assert reason in line


async def test_an_unreachable_bot_api_is_one_line_and_exit_3(tmp_path: Path) -> None:
    code, out, err = await _coach_async(
        tmp_path,
        "run",
        TELEGRAM_BOT_TOKEN=TOKEN,
        COACH_BOT_API_URL=f"http://127.0.0.1:{_free_port()}",
        COACH_HTTP_LISTEN="",
    )
    _assert_one_line(code, out, err, 3, "COACH_BOT_API_URL")


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
async def test_a_rejected_token_is_one_line_without_the_token(tmp_path: Path, level: str) -> None:
    async with BotApiStandIn(token="987654321:" + "Z" * 35) as api:  # any other token: 401
        code, out, err = await _coach_async(
            tmp_path,
            "run",
            TELEGRAM_BOT_TOKEN=TOKEN,
            COACH_WEBHOOK_SECRET=WEBHOOK_SECRET,
            COACH_BOT_API_URL=api.root_url,
            COACH_HTTP_LISTEN="",
            COACH_LOG_LEVEL=level,  # DEBUG: the most the coach ever prints, traceback included
        )
    if level == "INFO":
        _assert_one_line(code, out, err, 2, "TELEGRAM_BOT_TOKEN")
        return
    assert code == 2, out + err
    assert "Traceback" in err and "InvalidToken" in err
    for secret in SECRETS:
        assert secret not in out + err


@pytest.mark.parametrize("setting", ["COACH_HTTP_LISTEN", "COACH_WEBHOOK_LISTEN"])
async def test_a_listen_address_in_use_is_one_line(tmp_path: Path, setting: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = f"127.0.0.1:{taken.getsockname()[1]}"
        values = {"COACH_HTTP_LISTEN": "", setting: busy}
        if setting == "COACH_WEBHOOK_LISTEN":
            values |= {
                "COACH_MODE": "webhook",
                "COACH_WEBHOOK_URL": "https://coach.example.org/telegram",
                "COACH_WEBHOOK_SECRET": WEBHOOK_SECRET,
            }
        async with BotApiStandIn(token=TOKEN) as api:
            code, out, err = await _coach_async(
                tmp_path, "run", TELEGRAM_BOT_TOKEN=TOKEN, COACH_BOT_API_URL=api.root_url, **values
            )
    line = _assert_one_line(code, out, err, 2, f"{setting}={busy}")
    assert "in use" in line


def _broken_content(tmp_path: Path) -> Path:
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    path = content / "en" / "coach.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    del data["ui"]["help"]
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_simulate_with_broken_content_is_one_line_naming_the_file(tmp_path: Path) -> None:
    path = _broken_content(tmp_path)
    result = _coach(tmp_path, "simulate", "recovery", COACH_CONTENT_DIR=str(path.parent.parent))
    line = _assert_one_line(result.returncode, result.stdout, result.stderr, 2, str(path))
    assert "ui.help" in line


def test_an_unknown_journey_is_reported_on_stderr(tmp_path: Path) -> None:
    result = _coach(tmp_path, "simulate", "no-such-journey")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "no-such-journey" in result.stderr and "improving" in result.stderr


def _with_password(database_url: str) -> str:
    """PostgreSQL trusts loopback here: a password in the URL is carried along, not needed."""
    if not database_url.startswith("postgresql"):
        return database_url
    url = sa.make_url(database_url).set(password=DB_PASSWORD)
    return url.render_as_string(hide_password=False)


def test_migrate_names_the_database_without_its_password(tmp_path: Path, database_url: str) -> None:
    database = _with_password(database_url)
    result = _coach(tmp_path, "migrate", COACH_DATABASE_URL=database)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("database is up to date: ")
    assert ("***" in result.stdout) == (database != database_url)
    assert DB_PASSWORD not in result.stdout + result.stderr
    assert "alembic" not in result.stderr  # Alembic's start-up lines stay below INFO


def test_help_names_the_settings_the_docs_and_the_journeys(tmp_path: Path) -> None:
    run = _coach(tmp_path, "run", "--help").stdout
    for needed in ("TELEGRAM_BOT_TOKEN", ".env", "COACH_DATABASE_URL", "docs/operations.md"):
        assert needed in run
    assert "COACH_DATABASE_URL" in _coach(tmp_path, "migrate", "--help").stdout
    simulate = _coach(tmp_path, "simulate", "--help").stdout
    for journey in ("improving", "persisting", "worsening", "emergency_day4", "recovery"):
        assert journey in simulate
    version = _coach(tmp_path, "--version")
    assert version.returncode == 0 and version.stdout.startswith("coach 0.")


async def _read_until(stream: asyncio.StreamReader, lines: list[str], needle: str) -> None:
    async def read() -> None:
        while line := (await stream.readline()).decode():
            lines.append(line)
            if needle in line:
                return
        raise AssertionError("the coach's output ended before: " + needle)

    try:
        await asyncio.wait_for(read(), 30)
    except TimeoutError:
        raise AssertionError(f"no {needle!r} in 30 s:\n" + "".join(lines)) from None


async def test_secrets_stay_out_of_the_output_when_handling_fails(
    tmp_path: Path, database_url: str
) -> None:
    """A running coach whose sends fail with errors that quote every secret (as a proxy that
    echoes the request path would): the traceback is logged, every secret in it blanked."""
    database = _with_password(database_url)
    secrets = [TOKEN, WEBHOOK_SECRET, *([DB_PASSWORD] if database != database_url else [])]
    echo = f"/bot{TOKEN}/sendMessage " + " ".join(f"secret={s}" for s in secrets[1:])
    port = _free_port()
    async with BotApiStandIn(token=TOKEN) as api:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "coach",
            "run",
            env=_env(
                tmp_path,
                TELEGRAM_BOT_TOKEN=TOKEN,
                COACH_WEBHOOK_SECRET=WEBHOOK_SECRET,
                COACH_DATABASE_URL=database,
                COACH_BOT_API_URL=api.root_url,
                COACH_HTTP_LISTEN=f"127.0.0.1:{port}",
                COACH_LOG_LEVEL="DEBUG",
            ),
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        assert process.stdout is not None
        lines: list[str] = []
        try:
            await _read_until(process.stdout, lines, "coach started")
            # A 401 inside a handler: python-telegram-bot raises InvalidToken quoting the answer.
            api.fail_next("sendMessage", 401, description=f"Unauthorized: {echo}")
            api.fail_next("getUpdates", 502, description=f"Bad Gateway: {echo}")
            api.user_sends_text(4242, "/start")
            await _read_until(process.stdout, lines, "error while sending a reply")
            process.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(process.wait(), 20)
        finally:
            if process.returncode is None:
                process.kill()
        output = "".join(lines) + (await process.stdout.read()).decode()
    assert code == 0, output
    assert "telegram.error.InvalidToken: Unauthorized: /bot[redacted]/sendMessage" in output
    for secret in secrets:
        assert secret not in output


LAST_RESORT = """
import asyncio, logging, sys, threading
from coach.logging_setup import configure_logging, loop_exception_handler
secret = sys.argv[1]
configure_logging("INFO", [secret])

def fail():
    try:
        raise KeyError(f"inner {secret}")
    except KeyError as exc:
        raise RuntimeError(f"outer {secret}") from exc

try:
    fail()
except RuntimeError:
    logging.getLogger("coach.test").exception("handler failed with %s", secret)
thread = threading.Thread(target=fail)
thread.start()
thread.join()
loop = asyncio.new_event_loop()
loop.set_exception_handler(loop_exception_handler)
try:
    fail()
except RuntimeError as exc:
    loop.call_exception_handler({"message": f"task {secret}", "exception": exc})
fail()
"""


def test_chained_tracebacks_and_last_resort_handlers_are_redacted(tmp_path: Path) -> None:
    secret = TOKEN.split(":")[1]
    result = subprocess.run(
        [sys.executable, "-c", LAST_RESORT, secret],
        env=_env(tmp_path),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1  # the last error is uncaught
    assert output.count("The above exception was the direct cause") == 4, output
    assert "the coach stopped on an unexpected error" in output
    assert "unexpected error in thread" in output
    assert "unexpected error in the event loop" in output
    assert output.count("[redacted]") == 10  # 1 + 1 messages, 4 tracebacks of 2 exceptions
    assert secret not in output
