"""The running coach behind the Telegram adapter: processes one update from end to end.

update → `to_inbound` → flood guard → `CoachService.handle` in a worker thread (inbox, the
person's lock, the journey, the outbox, one commit) → answer the tap → the courier sends what the
chat is owed, at once. `process` raises DatabaseUnavailable when the update could not be stored:
the poller then holds its offset and the webhook answers 503, so Telegram keeps the update.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta

from telegram import Bot, Update
from telegram.error import TelegramError
from tornado.httpserver import HTTPServer

from coach.coaching.conversation import Coach
from coach.content import Content
from coach.logging_setup import current_update
from coach.observability import CoachMetrics, HealthState
from coach.pipeline.courier import Courier
from coach.pipeline.dispatcher import Dispatcher, DispatchReport
from coach.pipeline.sending import HandOff
from coach.pipeline.service import CoachService, Handled
from coach.storage.database import DatabaseUnavailable
from coach.telegram_adapter.inbound import ForeignTap, kind_of, to_inbound

log = logging.getLogger(__name__)

PURGE_EVERY = 3600.0
LATE_AFTER_SECONDS = 60


class FloodGuard:
    """At most `limit` updates per person in `window` seconds; beyond that, one polite note."""

    def __init__(self, limit: int = 20, window: float = 10.0) -> None:
        self.limit, self.window = limit, window
        self.seen: dict[int, deque[float]] = {}
        self.warned: dict[int, float] = {}

    def allow(self, user_id: int) -> tuple[bool, bool]:
        """(handle this update?, send the slow-down note?)"""
        now = time.monotonic()
        recent = self.seen.setdefault(user_id, deque())
        while recent and now - recent[0] > self.window:
            recent.popleft()
        recent.append(now)
        if len(self.seen) > 10_000:  # forget idle people so memory stays flat
            for uid in [u for u, q in self.seen.items() if not q or now - q[-1] > self.window]:
                self.seen.pop(uid, None)
                self.warned.pop(uid, None)
        if len(recent) <= self.limit:
            return True, False
        warn = now - self.warned.get(user_id, -self.window) > self.window
        if warn:
            self.warned[user_id] = now
        return False, warn


@dataclass
class CoachRuntime:
    """What the adapter needs while running; kept in `application.bot_data["runtime"]`."""

    bot: Bot
    service: CoachService
    courier: Courier
    dispatcher: Dispatcher
    content: Content
    metrics: CoachMetrics
    health: HealthState
    flood_guard: FloodGuard = field(default_factory=FloodGuard)
    retention: timedelta | None = None
    last_purge: float = 0.0
    # Called after each update is fully processed (tests wait on it).
    on_processed: Callable[[Update], None] | None = None
    replying: set[asyncio.Task[None]] = field(default_factory=set)
    http_server: HTTPServer | None = None
    http_port: int | None = None

    @property
    def coach(self) -> Coach:
        return self.service.coach

    async def process(self, update: Update) -> None:
        """Handle one update end to end. Raises DatabaseUnavailable if it could not be stored."""
        current_update.set(str(update.update_id))
        self.metrics.updates_handled.labels(kind_of(update)).inc()
        inbound = to_inbound(update)
        if isinstance(inbound, ForeignTap):
            with contextlib.suppress(TelegramError):
                await self.bot.answer_callback_query(
                    inbound.callback_query_id,
                    self.coach.coaching.content_for(None, inbound.language_code).ui(
                        "foreign_button"
                    ),
                    show_alert=True,
                )
        elif inbound is not None:
            allowed, warn = self.flood_guard.allow(inbound.user.user_id)
            if not allowed:
                inbound = replace(inbound, kind="flooded", warn=warn)
            hand_off = self.courier.new_hand_off()
            try:
                handled = await asyncio.to_thread(self.service.handle, inbound, hand_off)
            except DatabaseUnavailable:
                self.health.database_reachable = False
                raise
            self.health.database_reachable = True
            # Stored and committed: the update is done as far as Telegram is concerned, so the
            # poller moves on (and the webhook answers 200) while the reply goes out beside it.
            task = asyncio.create_task(self._answer(update, handled, hand_off))
            self.replying.add(task)
            task.add_done_callback(self.replying.discard)
            return
        if self.on_processed is not None:
            self.on_processed(update)

    async def _answer(self, update: Update, handled: Handled, hand_off: HandOff) -> None:
        try:
            # The tap's spinner is stopped while the reply goes out, not before it.
            stop_spinner = (
                asyncio.create_task(self._stop_spinner(update, handled.ack))
                if update.callback_query is not None
                else None
            )
            await self.courier.deliver_chat(handled.chat_id, handled.handed, hand_off)
            if stop_spinner is not None:
                await stop_spinner
        except DatabaseUnavailable:
            # Committed in the outbox: the background sender delivers it once the database is back.
            log.warning("database unreachable while sending a reply: it will follow")
        except Exception:
            log.exception("error while sending a reply: the outbox keeps it for the next round")
        finally:
            if self.on_processed is not None:
                self.on_processed(update)

    @staticmethod
    async def _stop_spinner(update: Update, ack: str | None) -> None:
        # An old query can no longer be answered; the reply still goes out.
        assert update.callback_query is not None
        with contextlib.suppress(TelegramError):
            await update.callback_query.answer(ack)

    async def wait_replies(self) -> None:
        """Let the replies in flight finish (when stopping)."""
        if self.replying:
            await asyncio.gather(*list(self.replying), return_exceptions=True)

    async def dispatch(self) -> DispatchReport:
        """Send what is due and count it (the scheduler's job; tests call it directly)."""
        report = await self.dispatcher.run_once()
        record_dispatch(self.metrics, report)
        if time.monotonic() - self.last_purge > PURGE_EVERY:
            self.last_purge = time.monotonic()
            purged = await asyncio.to_thread(self.service.purge, self.retention)
            if purged:
                log.info("retention: erased %d closed episode(s)", purged)
        return report


def record_dispatch(metrics: CoachMetrics, report: DispatchReport) -> None:
    for outcome in ("sent", "skipped", "retried", "failed", "blocked"):
        amount = getattr(report, outcome)
        if amount:
            metrics.followups.labels(outcome).inc(amount)
    for lag in report.lag_seconds:
        metrics.dispatch_lag.observe(max(lag, 0.0))
        if lag > LATE_AFTER_SECONDS:
            metrics.followups_late.inc()
    metrics.last_dispatch.set_to_current_time()
