"""What a send can meet and how the coach paces itself: Telegram's answers mapped to what to do
next, per-chat pacing, and the backoff between failed attempts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from coach.storage.models import OutboxMessage

MAX_ATTEMPTS = 8
BACKOFF_FIRST_SECONDS = 2.0
BACKOFF_MAX_SECONDS = 300.0


@dataclass(frozen=True)
class HandOff:
    """A claim the courier lends to a unit of work: the reply it writes is claimed in the same
    transaction, so it goes out right after commit without a claim round trip."""

    token: str
    lease: timedelta


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
    """About one message per `interval` seconds to any one chat over time (Telegram's limit),
    with short bursts allowed: a tap's answer (the "✓ chosen" edit and the next question) goes
    out at once instead of a second apart. Telegram tolerates short bursts in one chat; a 429
    that still comes is waited out by the courier."""

    def __init__(
        self,
        interval: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        burst: int = 3,
    ) -> None:
        self.interval = interval
        self.monotonic = monotonic
        self.sleep = sleep
        self.burst = max(burst, 1)
        # Per chat: (tokens left, when counted). A token is one message; one comes back per
        # interval, up to `burst`.
        self.tokens: dict[int, tuple[float, float]] = {}

    async def wait_turn(self, chat_id: int) -> None:
        if self.interval <= 0:
            return
        now = self.monotonic()
        tokens, counted = self.tokens.get(chat_id, (float(self.burst), now))
        tokens = min(self.burst, tokens + (now - counted) / self.interval)
        if tokens < 1:
            await self.sleep((1 - tokens) * self.interval)
            now = self.monotonic()
            tokens = 1.0
        self.tokens[chat_id] = (tokens - 1, now)
        if len(self.tokens) > 50_000:  # forget chats whose bucket has filled up again
            full = self.burst * self.interval
            self.tokens = {c: v for c, v in self.tokens.items() if now - v[1] < full}


def backoff(attempts: int) -> timedelta:
    """Wait after the n-th failed attempt: 2 s, 4 s, 8 s ... at most 5 minutes."""
    return timedelta(
        seconds=min(BACKOFF_FIRST_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS)
    )
