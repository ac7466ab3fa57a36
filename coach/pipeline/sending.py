"""What a send can meet and how the coach paces itself: Telegram's answers mapped to what to do
next, per-chat pacing, and the backoff between failed attempts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Protocol

from coach.storage.models import OutboxMessage

MAX_ATTEMPTS = 8
BACKOFF_FIRST_SECONDS = 2.0
BACKOFF_MAX_SECONDS = 300.0


class SendError(Exception):
    """A send that did not go through; subclasses say what to do about it."""


class RecipientBlocked(SendError):
    """The person blocked the bot (Telegram 403)."""


class RetryLater(SendError):
    """Flood control (Telegram 429): wait `retry_after` seconds before sending anything."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"retry after {retry_after}s")
        self.retry_after = retry_after


class TransientError(SendError):
    """5xx, connection error or timeout: try again later, up to a cap."""


class PermanentError(SendError):
    """A request Telegram will never accept (400)."""


class Sender(Protocol):
    async def send(self, message: OutboxMessage) -> int | None:
        """Deliver one outbox row; return Telegram's message id or raise a SendError."""
        ...


class ChatPacer:
    """At most about one message per `interval` seconds to any one chat (Telegram's limit)."""

    def __init__(
        self,
        interval: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.interval = interval
        self.monotonic = monotonic
        self.sleep = sleep
        self.last: dict[int, float] = {}

    async def wait_turn(self, chat_id: int) -> None:
        if self.interval <= 0:
            return
        now = self.monotonic()
        previous = self.last.get(chat_id)
        if previous is not None and now - previous < self.interval:
            await self.sleep(self.interval - (now - previous))
            now = self.monotonic()
        self.last[chat_id] = now
        if len(self.last) > 50_000:  # forget chats idle for longer than the interval
            self.last = {c: t for c, t in self.last.items() if now - t < self.interval}


def backoff(attempts: int) -> timedelta:
    """Wait after the n-th failed attempt: 2 s, 4 s, 8 s ... at most 5 minutes."""
    return timedelta(
        seconds=min(BACKOFF_FIRST_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS)
    )
