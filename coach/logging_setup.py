"""Logging: one line per event, key=value, with the id of the update being handled.

Never logged: the token, a message's text, a health answer. Libraries that would log them at
DEBUG (python-telegram-bot logs whole updates and request parameters, httpx logs URLs that
contain the token) are held at INFO or WARNING whatever the coach's own level is.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from contextvars import ContextVar

current_update: ContextVar[str] = ContextVar("current_update", default="-")

QUIET_LIBRARIES = {
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "telegram": logging.INFO,
    "apscheduler": logging.WARNING,
    "alembic.runtime.plugins": logging.WARNING,  # seven "setup plugin" lines at every start
    # Its 429 report is a traceback; the courier waits as asked and logs one line of its own.
    "telegram.ext.AIORateLimiter": logging.CRITICAL,
    "tornado.access": logging.WARNING,
}


class UpdateContext(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.update = current_update.get()
        return True


class RedactSecrets(logging.Filter):
    """Last line of defence: a secret that reaches a log line anyway is blanked out."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        exc_text = record.exc_text
        changed = False
        for secret in self.secrets:
            if secret in message:
                message, changed = message.replace(secret, "[redacted]"), True
            if exc_text and secret in exc_text:
                exc_text = exc_text.replace(secret, "[redacted]")
                record.exc_text = exc_text
        if changed:
            record.msg, record.args = message, ()
        return True


def configure_logging(level: str, secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter(
            "%(asctime)s level=%(levelname)s logger=%(name)s update=%(update)s msg=%(message)s"
        )
    )
    handler.addFilter(UpdateContext())
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    numeric = logging.getLevelName(level)
    for name, floor in QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(max(floor, numeric if isinstance(numeric, int) else 0))
