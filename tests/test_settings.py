"""Settings come from the environment and `.env`; start-up fails with one line naming a variable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from coach.settings import SettingsError, load_settings

TOKEN = "123456789:" + "A" * 35


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No coach variables from the outside, and no stray .env: work in an empty directory."""
    for name in list(os.environ):
        if name.upper().startswith("COACH_") or name.upper() == "TELEGRAM_BOT_TOKEN":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_missing_token_names_telegram_bot_token() -> None:
    settings = load_settings()
    with pytest.raises(SettingsError) as caught:
        settings.require_token()
    assert "TELEGRAM_BOT_TOKEN" in str(caught.value)


def test_empty_token_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "")
    with pytest.raises(SettingsError, match="TELEGRAM_BOT_TOKEN"):
        load_settings().require_token()


@pytest.mark.parametrize(
    "token",
    [
        "not-a-token",
        "987654321",
        "123456789:short",
        "abc:" + "A" * 35,
        "123456789:" + "A" * 30 + "!!!!!",
        "123456789 " + "A" * 35,
    ],
)
def test_malformed_token_is_refused_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", token)
    with pytest.raises(SettingsError) as caught:
        load_settings().require_token()
    message = str(caught.value)
    assert "TELEGRAM_BOT_TOKEN" in message
    assert token not in message
    assert "\n" not in message


def test_valid_looking_token_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    assert load_settings().require_token() == TOKEN


def test_token_with_surrounding_whitespace_is_accepted_stripped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", f"  {TOKEN}\n")
    assert load_settings().require_token() == TOKEN


def test_token_never_appears_in_repr_or_str(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    settings = load_settings()
    secret_part = TOKEN.split(":")[1]
    for shown in (repr(settings), str(settings), repr(settings.model_dump())):
        assert secret_part not in shown


def test_webhook_secret_never_appears_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COACH_WEBHOOK_SECRET", "s3cr3t-webhook-value")
    settings = load_settings()
    assert "s3cr3t-webhook-value" not in repr(settings)
    assert "s3cr3t-webhook-value" not in str(settings)


def test_bad_default_timezone_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COACH_DEFAULT_TIMEZONE", "Mars/Olympus_Mons")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "COACH_DEFAULT_TIMEZONE" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_bad_log_level_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COACH_LOG_LEVEL", "VERBOSE")
    with pytest.raises(SettingsError, match="COACH_LOG_LEVEL"):
        load_settings()


def test_good_default_timezone_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COACH_DEFAULT_TIMEZONE", "America/New_York")
    assert load_settings().default_timezone == "America/New_York"


def test_default_database_is_a_sqlite_file_under_the_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data_dir = tmp_path / "coach-data"
    monkeypatch.setenv("COACH_DATA_DIR", str(data_dir))
    url = load_settings().resolved_database_url
    assert url.startswith("sqlite:///")
    database = Path(url.removeprefix("sqlite:///"))
    assert database.is_absolute()
    assert database.parent == data_dir.resolve()
    assert database.suffix in {".sqlite3", ".sqlite", ".db"}


def test_relative_default_data_dir_resolves_under_the_working_directory(tmp_path: Path) -> None:
    url = load_settings().resolved_database_url
    database = Path(url.removeprefix("sqlite:///"))
    assert database.is_relative_to(tmp_path.resolve())


def test_explicit_database_url_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COACH_DATABASE_URL", "postgresql+psycopg://coach@db/coach")
    assert load_settings().resolved_database_url == "postgresql+psycopg://coach@db/coach"


@pytest.mark.parametrize("url", ["http://localhost:8081/", "http://localhost:8081//"])
def test_bot_api_url_trailing_slash_is_stripped(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("COACH_BOT_API_URL", url)
    assert load_settings().bot_api_url == "http://localhost:8081"


def test_default_bot_api_url_is_telegram() -> None:
    assert load_settings().bot_api_url == "https://api.telegram.org"


def test_values_are_read_from_dot_env_in_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        f"TELEGRAM_BOT_TOKEN={TOKEN}\n"
        "COACH_DEFAULT_TIMEZONE=Europe/Berlin\n"
        "COACH_BOT_API_URL=http://botapi.local/\n",
        encoding="utf-8",
    )
    settings = load_settings()
    assert settings.require_token() == TOKEN
    assert settings.default_timezone == "Europe/Berlin"
    assert settings.bot_api_url == "http://botapi.local"


def test_environment_beats_dot_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("COACH_DEFAULT_TIMEZONE=Europe/Berlin\n", encoding="utf-8")
    monkeypatch.setenv("COACH_DEFAULT_TIMEZONE", "Asia/Tokyo")
    assert load_settings().default_timezone == "Asia/Tokyo"


def test_bad_value_in_dot_env_names_the_variable(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("COACH_DEFAULT_TIMEZONE=Nowhere/Town\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="COACH_DEFAULT_TIMEZONE"):
        load_settings()


@pytest.mark.parametrize("listen", ["127.0.0.1:0", "0.0.0.0:8443", "localhost:65535", ":8080"])
def test_listen_addresses_take_host_and_port(monkeypatch: pytest.MonkeyPatch, listen: str) -> None:
    monkeypatch.setenv("COACH_WEBHOOK_LISTEN", listen)
    assert load_settings().webhook_listen == listen


def test_an_empty_health_address_switches_the_endpoint_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COACH_HTTP_LISTEN", "")
    assert load_settings().http_listen == ""


def test_the_secrets_to_redact_include_the_database_password_as_written_and_decoded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("COACH_WEBHOOK_SECRET", "hook-secret")
    monkeypatch.setenv("COACH_DATABASE_URL", "postgresql+psycopg://coach:p%40ss-word@db/coach")
    settings = load_settings()
    assert set(settings.secret_values()) == {
        TOKEN,
        TOKEN.split(":")[1],
        "hook-secret",
        "p%40ss-word",
        "p@ss-word",
    }
    assert settings.database_shown == "postgresql+psycopg://coach:***@db/coach"


def test_the_default_content_is_the_one_shipped_with_the_coach() -> None:
    content = load_settings().content_dir
    assert (content / "sources.yaml").is_file()
    assert (content / "en" / "coach.yaml").is_file()
