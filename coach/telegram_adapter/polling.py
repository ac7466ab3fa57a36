"""Long polling that never consumes an update it could not store.

Telegram forgets an update once `getUpdates` is called with a higher offset. This loop asks for
the next offset only after every update of the previous batch has been handled and committed, so
while the database is unreachable polling simply pauses (Telegram keeps undelivered updates for
24 hours) and the update in hand is retried, with backoff and one log line per attempt.

Within a batch, different people's updates are handled concurrently and one person's in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, TelegramError

from coach.storage.database import DatabaseUnavailable
from coach.telegram_adapter.runtime import CoachRuntime

log = logging.getLogger(__name__)

POLL_TIMEOUT_SECONDS = 30
RETRY_FIRST_SECONDS = 1.0
RETRY_MAX_SECONDS = 30.0


class Poller:
    def __init__(
        self,
        runtime: CoachRuntime,
        *,
        allowed_updates: list[str],
        poll_timeout: int = POLL_TIMEOUT_SECONDS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.runtime = runtime
        self.allowed_updates = allowed_updates
        self.poll_timeout = poll_timeout
        self.sleep = sleep
        self.offset: int | None = None
        self.running = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.running = True
        self._task = asyncio.create_task(self._run(), name="poll-updates")

    async def stop(self) -> None:
        """Stop polling; confirm to Telegram the updates already handled (and only those)."""
        self.running = False
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self.offset is not None:
            with contextlib.suppress(TelegramError):
                await self.runtime.bot.get_updates(offset=self.offset, timeout=0, limit=1)

    async def _run(self) -> None:
        try:
            await self._loop()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug in the loop must not leave /healthz saying ok
            self.runtime.health.updates_stopped = f"polling stopped: {type(exc).__name__}"
            log.exception("polling stopped unexpectedly")

    async def _loop(self) -> None:
        delay = RETRY_FIRST_SECONDS
        bot = self.runtime.bot
        while self.running:
            try:
                updates = await bot.get_updates(
                    offset=self.offset,
                    timeout=self.poll_timeout,
                    allowed_updates=self.allowed_updates,
                )
            except InvalidToken:
                self.runtime.health.updates_stopped = "token rejected by Telegram"
                log.error(
                    "Telegram rejected the token (401): polling stopped. Set TELEGRAM_BOT_TOKEN "
                    "to the token @BotFather gave and restart the coach"
                )
                self.running = False
                return
            except Conflict:
                log.warning(
                    "another process is polling with this token (409 Conflict): run exactly one "
                    "polling instance, or use COACH_MODE=webhook for several; retrying in %.0f s",
                    delay,
                )
                await self.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)
                continue
            except (NetworkError, TelegramError) as exc:
                log.warning(
                    "getUpdates failed (%s): retrying in %.0f s (check COACH_BOT_API_URL)",
                    type(exc).__name__,
                    delay,
                )
                await self.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)
                continue
            delay = RETRY_FIRST_SECONDS
            if updates:
                await self.handle_batch(list(updates))
                self.offset = updates[-1].update_id + 1

    async def handle_batch(self, updates: list[Update]) -> None:
        """Every update of the batch stored and handled before the offset moves on."""
        by_person: dict[int | None, list[Update]] = {}
        for update in updates:
            user = update.effective_user
            by_person.setdefault(user.id if user else None, []).append(update)

        async def in_order(person_updates: list[Update]) -> None:
            for update in person_updates:
                await self.handle_until_stored(update)

        await asyncio.gather(*(in_order(u) for u in by_person.values()))

    async def handle_until_stored(self, update: Update) -> None:
        delay, attempt = RETRY_FIRST_SECONDS, 1
        while True:
            try:
                await self.runtime.process(update)
                return
            except DatabaseUnavailable as exc:
                log.warning(
                    "database unreachable (attempt %d, %s): update kept, polling paused, "
                    "retrying in %.0f s (check COACH_DATABASE_URL and the database server)",
                    attempt,
                    exc,
                    delay,
                )
                await self.sleep(delay)
                delay, attempt = min(delay * 2, RETRY_MAX_SECONDS), attempt + 1
            except Exception:
                # Handling already recorded what it could; one bad update must not stop polling.
                log.exception("error while processing an update")
                return
