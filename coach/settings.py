"""One settings object, read from the environment and an optional `.env` file.

Start-up fails fast, with one line naming the variable to set, when one is missing or malformed.
"""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from coach.content.location import content_root

# Telegram tokens look like "123456789:AA...": a numeric bot id, a colon, 30+ url-safe characters.
TOKEN_PATTERN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{30,}$")
LISTEN_PATTERN = re.compile(r"^(?P<host>[^\s:]*):(?P<port>\d{1,5})$")


class StartupError(Exception):
    """The coach cannot start; the message is one line for the operator naming what to do.

    Exit code 2: the configuration must change. Exit code 3: a dependency (the database, the Bot
    API) did not answer after retrying; a restart later may succeed.
    """

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class SettingsError(StartupError):
    """Configuration that cannot start the coach; the message is one line for the operator."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="COACH_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    telegram_bot_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("TELEGRAM_BOT_TOKEN")
    )
    data_dir: Path = Path("data")
    database_url: str | None = None
    bot_api_url: str = "https://api.telegram.org"
    content_dir: Path = Field(default_factory=content_root)
    default_timezone: str = "Europe/London"
    default_checkin_time: time = time(19, 0)
    default_emergency_number: str = "112"
    morning_time: time = time(8, 0)
    quiet_start: time = time(22, 0)
    quiet_end: time = time(8, 0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    dispatch_interval_seconds: float = Field(default=15.0, gt=0)
    dispatch_batch_size: int = Field(default=200, gt=0)
    lease_seconds: int = Field(default=120, gt=0)
    catch_up_hours: float = Field(default=3.0, ge=0)
    reminder_after_minutes: int = Field(default=120, gt=0)
    silent_days_before_asking: int = Field(default=3, gt=0)
    global_rate_per_second: float = Field(default=30.0, gt=0)
    per_chat_interval_seconds: float = Field(default=1.0, ge=0)
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_listen: str = "0.0.0.0:8443"
    http_listen: str = "127.0.0.1:8080"
    stop_grace_seconds: float = Field(default=20.0, gt=0)
    database_wait_seconds: float = Field(default=60.0, ge=0)
    retention_days: int | None = Field(default=None, gt=0)
    flood_max_updates: int = Field(default=20, gt=0)
    flood_window_seconds: float = Field(default=10.0, gt=0)

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @field_validator("bot_api_url")
    @classmethod
    def _http_root(cls, value: str) -> str:
        if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value.strip()):
            raise ValueError("use the root of a Bot API server, e.g. https://api.telegram.org")
        return value.strip().rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None  # unset or empty: the SQLite file under COACH_DATA_DIR
        try:
            url = make_url(value.strip())
            url.get_dialect().import_dbapi()
        except (NoSuchModuleError, ImportError):  # NoSuchModuleError is an ArgumentError too
            raise ValueError(
                "names a database or driver the coach does not have; use "
                "postgresql+psycopg://user:password@host:5432/coach or sqlite:////path/coach.sqlite3"
            ) from None
        except (ArgumentError, ValueError):
            raise ValueError(
                "not a database URL; use e.g. postgresql+psycopg://user:password@host:5432/coach "
                "or sqlite:////path/to/coach.sqlite3"
            ) from None
        return value.strip()

    @field_validator("default_emergency_number")
    @classmethod
    def _emergency_number(cls, value: str) -> str:
        if not re.fullmatch(r"\+?[0-9][0-9 -]{0,19}", value.strip()):
            raise ValueError("set the number people should call, e.g. 112, 999 or 911")
        return value.strip()

    @field_validator("webhook_listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        return _checked_listen(value)

    @field_validator("http_listen")
    @classmethod
    def _listen_or_off(cls, value: str) -> str:
        return "" if not value.strip() else _checked_listen(value)

    @field_validator("webhook_secret")
    @classmethod
    def _telegram_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram accepts 1-256 characters of A-Z, a-z, 0-9, _ and -.
        if value is not None and not re.fullmatch(
            r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()
        ):
            raise ValueError("use 1-256 characters: letters, digits, _ and -")
        return value

    def check_mode(self) -> None:
        if self.mode == "webhook":
            if not self.webhook_url or not self.webhook_url.startswith("https://"):
                raise SettingsError(
                    "COACH_WEBHOOK_URL must be the public https:// URL Telegram calls "
                    "when COACH_MODE=webhook"
                )
            if self.webhook_secret is None:
                raise SettingsError(
                    "COACH_WEBHOOK_SECRET is not set: webhook mode needs a secret "
                    "(e.g. openssl rand -hex 32)"
                )

    def secret_values(self) -> list[str]:
        """What must never be printed: the token, the webhook secret, the database password."""
        found: list[str] = []
        if self.telegram_bot_token is not None:
            token = self.telegram_bot_token.get_secret_value().strip()
            found += [token, token.partition(":")[2]]
        if self.webhook_secret is not None:
            found.append(self.webhook_secret.get_secret_value())
        if self.database_url:
            # As written in the URL (perhaps %-escaped) and as the driver sends it.
            found += [
                urlsplit(self.database_url).password or "",
                make_url(self.database_url).password or "",
            ]
        return [value for value in found if value]

    @property
    def database_shown(self) -> str:
        """The database URL without its password, for logs and `coach migrate`."""
        return make_url(self.resolved_database_url).render_as_string(hide_password=True)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'coach.sqlite3').resolve()}"

    def require_token(self) -> str:
        """The bot token, or a one-line SettingsError saying what to set."""
        if self.telegram_bot_token is None or not self.telegram_bot_token.get_secret_value():
            raise SettingsError(
                "TELEGRAM_BOT_TOKEN is not set: put the token from @BotFather in the environment "
                "or in .env"
            )
        token = self.telegram_bot_token.get_secret_value().strip()
        if not TOKEN_PATTERN.match(token):
            raise SettingsError(
                "TELEGRAM_BOT_TOKEN is malformed: expected the form 123456789:ABC... "
                "exactly as @BotFather gave it"
            )
        return token


def load_settings(**overrides: object) -> Settings:
    """Read settings; turn validation errors into one operator-readable line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        name = "TELEGRAM_BOT_TOKEN" if field == "telegram_bot_token" else f"COACH_{field.upper()}"
        reason = str(first["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"{name} is invalid: {reason}") from None


def _checked_listen(value: str) -> str:
    """host:port with a port from 0 to 65535 (0 picks a free port)."""
    match = LISTEN_PATTERN.fullmatch(value.strip())
    if match is None:
        raise ValueError("expected host:port, e.g. 127.0.0.1:8080")
    if int(match["port"]) > 65535:
        raise ValueError(f"port {match['port']} is out of range: use 1-65535")
    return value.strip()
