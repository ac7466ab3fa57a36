"""Logging: one line per event, key=value, with the id of the update being handled.

Never logged: the token, a message's text, a health answer. Libraries that would log them at
DEBUG (python-telegram-bot logs whole updates and request parameters, httpx logs URLs that
contain the token) are held at INFO or WARNING whatever the coach's own level is.

Secrets are blanked by construction: the formatter renders the whole record first (message,
traceback with every chained exception, stack) and redacts the finished text, and every last-
resort path (an uncaught exception, a thread's, an unraisable one, a warning) goes through it.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterable
from contextvars import ContextVar
from types import TracebackType
from typing import Any

current_update: ContextVar[str] = ContextVar("current_update", default="-")

REDACTED = "[redacted]"

QUIET_LIBRARIES = {
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "telegram": logging.INFO,
    "telegram.ext.Application": logging.WARNING,  # "Application started", "... stop() complete"
    "apscheduler": logging.WARNING,
    # Alembic announces its plugins, its dialect and each step at every start: noise for an
    # operator; the coach says itself which database it uses.
    "alembic": logging.WARNING,
    # Its 429 report is a traceback; the courier waits as asked and logs one line of its own.
    "telegram.ext.AIORateLimiter": logging.CRITICAL,
    "tornado.access": logging.WARNING,
}

log = logging.getLogger("coach")


class Redactor:
    """The secrets of this process, and the one function that blanks them out of any text."""

    def __init__(self) -> None:
        self.secrets: list[str] = []

    def remember(self, secrets: Iterable[str]) -> None:
        known = {*self.secrets, *(s for s in secrets if s)}
        # Longest first, so a secret that contains another is blanked whole.
        self.secrets = sorted(known, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text


redact = Redactor()


class UpdateContext(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.update = current_update.get()
        return True


class RedactingFormatter(logging.Formatter):
    """Formats the record completely, then redacts: nothing reaches the stream unredacted."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(level: str, secrets: Iterable[str] = ()) -> None:
    redact.remember(secrets)
    handler = logging.StreamHandler()
    handler.setFormatter(
        RedactingFormatter(
            "%(asctime)s level=%(levelname)s logger=%(name)s update=%(update)s msg=%(message)s"
        )
    )
    handler.addFilter(UpdateContext())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    numeric = logging.getLevelName(level)
    for name, floor in QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(max(floor, numeric if isinstance(numeric, int) else 0))
    logging.captureWarnings(True)
    install_last_resort_handlers()


def _uncaught(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, tb)
        return
    log.critical("the coach stopped on an unexpected error", exc_info=(kind, value, tb))


def _uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None or issubclass(args.exc_type, SystemExit):
        return
    log.error(
        "unexpected error in thread %s",
        getattr(args.thread, "name", "?"),
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )


def _unraisable(unraisable: Any) -> None:
    value = unraisable.exc_value
    log.error(
        "exception ignored in %r",
        unraisable.object,
        exc_info=(type(value), value, unraisable.exc_traceback) if value is not None else None,
    )


def install_last_resort_handlers() -> None:
    """Route every exception Python would print itself through the redacting log handler."""
    sys.excepthook = _uncaught
    threading.excepthook = _uncaught_in_thread
    sys.unraisablehook = _unraisable


def loop_exception_handler(loop: object, context: dict[str, Any]) -> None:
    """asyncio's last resort, through the same handler (install with loop.set_exception_handler)."""
    error = context.get("exception")
    log.error(
        "unexpected error in the event loop: %s",
        context.get("message", "-"),
        exc_info=(type(error), error, error.__traceback__) if error is not None else None,
    )


def report_failure(message: str) -> None:
    """A start-up failure: one redacted line on stderr, whatever the logging set-up."""
    print(f"coach: {redact(message)}", file=sys.stderr, flush=True)
