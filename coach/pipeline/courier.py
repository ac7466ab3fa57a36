"""The one sender: delivers every outbox row (replies and follow-ups alike) through Telegram.

- Per chat, rows go out in the order they were written, about one per second per chat
  (`ChatPacer`); the global rate is the Telegram adapter's rate limiter.
- A flood-control answer (429) pauses all sending for `retry_after` and puts the chat's rows in
  the waiting state; it is not a failed attempt. 5xx, network errors and timeouts are retried with
  backoff, up to `MAX_ATTEMPTS` failed attempts. 403 means the person blocked the bot: their
  waiting rows and follow-ups are cancelled. 400 marks that row failed and the chat goes on.
- Claims are fenced: each claim has an owner token and a lease that is renewed while the batch is
  being sent; only the owner can settle a row.
- A timed-out send may in fact have been delivered. The coach retries it (losing a reply or a
  check-in is worse than repeating one): at most one duplicate per timed-out message. Delivered
  rows are marked sent in groups (`MARK_BATCH`, and at the end of each batch), so a crash between
  sends and their mark repeats those messages when the lease runs out: at most `MARK_BATCH` (20)
  plus `concurrency` (8) duplicates per crash, once each; a reply on the interactive path is
  marked as soon as its chat is done. A database
  outage between a send and its mark is waited out (see `_settle`), so it repeats nothing unless
  it outlasts most of a lease.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa

from coach.clock import Clock
from coach.pipeline.sending import (
    MAX_ATTEMPTS,
    ChatPacer,
    HandOff,
    PermanentError,
    RecipientBlocked,
    RetryLater,
    Sender,
    TransientError,
    backoff,
)
from coach.pipeline.settling import Settling
from coach.storage import outbox
from coach.storage.database import DatabaseUnavailable, unit_of_work
from coach.storage.models import OutboxMessage

__all__ = [  # the sending vocabulary is re-exported for the transports
    "MAX_ATTEMPTS",
    "ChatPacer",
    "Courier",
    "DeliveryReport",
    "PermanentError",
    "RecipientBlocked",
    "RetryLater",
    "Sender",
    "TransientError",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

# On the interactive path a short wait (a 429's retry_after, the first 5xx backoffs) is waited out
# in line, so the person gets the next question without waiting for the next dispatch tick.
INLINE_WAIT_SECONDS = 10.0
INLINE_ROUNDS = 16
INLINE_POLL_FIRST_SECONDS = 0.05
# While the database is away in the middle of a batch, a settle is retried (the message already
# went out: marking it must not be dropped) for at most this share of the lease.
SETTLE_PATIENCE_SHARE = 0.8
SETTLE_RETRY_FIRST_SECONDS = 0.1
# Delivered rows are marked sent in one unit of work per this many (and at the end of a batch):
# one commit instead of one per message. A crash can then repeat up to this many messages plus
# those in flight (see the module docstring).
MARK_BATCH = 20
MARK_AFTER_SECONDS = 0.25  # ...or once the oldest unmarked row is this old


@dataclass
class DeliveryReport:
    """What one delivery round did; `followups_*` count rows that carry a follow-up."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    blocked: int = 0
    lost_claims: int = 0
    followups_sent: int = 0
    followups_retried: int = 0
    followups_failed: int = 0
    lag_seconds: list[float] = field(default_factory=list)

    def add(self, other: DeliveryReport) -> None:
        for name in (
            "sent",
            "retried",
            "failed",
            "blocked",
            "lost_claims",
            "followups_sent",
            "followups_retried",
            "followups_failed",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.lag_seconds += other.lag_seconds


class Courier:
    def __init__(
        self,
        *,
        engine: sa.Engine,
        sender: Sender,
        clock: Clock,
        on_blocked: Callable[[int], None],
        owner: str | None = None,
        lease_seconds: float = 120.0,
        batch_size: int = 200,
        per_chat_interval: float = 1.0,
        concurrency: int = 8,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.engine = engine
        self.sender = sender
        self.clock = clock
        self.settling = Settling(engine, clock, on_blocked)
        self.owner = owner or uuid.uuid4().hex[:12]
        self.lease = timedelta(seconds=lease_seconds)
        self.batch_size = batch_size
        self.pacer = ChatPacer(per_chat_interval, sleep=sleep)
        self.concurrency = concurrency
        self.sleep = sleep
        self.paused_until: datetime | None = None
        self.stopping = False
        self.last_run_at: datetime | None = None

    def stop(self) -> None:
        """Finish the message in hand, then give the rest of the batch back."""
        self.stopping = True

    # ------------------------------------------------------------------ entry points

    def new_hand_off(self) -> HandOff:
        """A claim token for a unit of work to claim the reply it writes (see CoachService)."""
        return HandOff(token=f"{self.owner}:{uuid.uuid4().hex[:8]}", lease=self.lease)

    async def deliver_chat(
        self,
        chat_id: int,
        handed: Sequence[OutboxMessage] = (),
        hand_off: HandOff | None = None,
    ) -> DeliveryReport:
        """Send what one chat is owed, now (after a reply was committed); short waits in line.

        Rows `handed` over already claimed (with `hand_off`'s token) go out at once; when all of
        them are delivered there is nothing else to ask the database about this chat."""
        report = DeliveryReport()
        if handed and hand_off is not None:
            report.add(await self._send_claimed((hand_off.token, list(handed))))
            if report.sent == len(handed):
                return report
        deadline = self.clock.now() + timedelta(seconds=INLINE_WAIT_SECONDS)
        poll = INLINE_POLL_FIRST_SECONDS
        for _ in range(INLINE_ROUNDS):
            claimed = await self._claim(chat_id=chat_id)
            if claimed[1]:
                report.add(await self._send_claimed(claimed))
            wait = await asyncio.to_thread(self._seconds_until_chat_due, chat_id)
            if wait is None or self.stopping:
                break
            if wait == 0 and not claimed[1]:
                # Due but not claimable: an earlier message of this chat is in another sender's
                # hands (a follow-up in the dispatcher's batch). Look again shortly rather than
                # leave the reply to the next dispatch round.
                wait, poll = poll, min(poll * 2, 1.0)
            if self.clock.now() + timedelta(seconds=wait) > deadline:
                break
            await self.sleep(wait)
        return report

    async def deliver_due(self) -> DeliveryReport:
        """Send everything due, batch after batch, until nothing is left to claim."""
        report = DeliveryReport()
        await asyncio.to_thread(self._expire)
        while not self.stopping:
            claimed = await self._claim(chat_id=None)
            if not claimed[1]:
                break
            report.add(await self._send_claimed(claimed))
        self.last_run_at = self.clock.now()
        return report

    async def next_attempt_in(self) -> float | None:
        """Seconds until the earliest waiting row may be tried (for the scheduler's wake-up)."""

        def query() -> datetime | None:
            with unit_of_work(self.engine) as session:
                return outbox.next_attempt(session)

        at = await asyncio.to_thread(query)
        return None if at is None else max((at - self.clock.now()).total_seconds(), 0.0)

    # ------------------------------------------------------------------ claiming

    async def _claim(self, *, chat_id: int | None) -> tuple[str, list[OutboxMessage]]:
        token = f"{self.owner}:{uuid.uuid4().hex[:8]}"

        def claim() -> list[OutboxMessage]:
            now = self.clock.now()
            with unit_of_work(self.engine) as session:
                return outbox.claim(
                    session,
                    token=token,
                    now=now,
                    lease_until=now + self.lease,
                    limit=self.batch_size,
                    chat_id=chat_id,
                )

        return token, await asyncio.to_thread(claim)

    def _seconds_until_chat_due(self, chat_id: int) -> float | None:
        with unit_of_work(self.engine) as session:
            at = outbox.next_attempt(session, chat_id=chat_id)
        if at is None:
            return None
        return max((at - self.clock.now()).total_seconds(), 0.0)

    def _expire(self) -> None:
        with unit_of_work(self.engine) as session:
            outbox.expire(session, now=self.clock.now())

    # ------------------------------------------------------------------ sending

    async def _send_claimed(self, claimed: tuple[str, list[OutboxMessage]]) -> DeliveryReport:
        token, rows = claimed
        report = DeliveryReport()
        if not rows:
            return report
        by_chat: dict[int, list[OutboxMessage]] = {}
        for row in rows:
            by_chat.setdefault(row.chat_id, []).append(row)
        heartbeat = asyncio.create_task(self._keep_lease(token))
        gate = asyncio.Semaphore(self.concurrency)
        # Delivered rows across the batch's chats, marked sent together (see MARK_BATCH).
        unmarked: list[tuple[OutboxMessage, int | None]] = []
        oldest = [0.0]  # when the oldest unmarked row was sent (monotonic)

        async def one_chat(chat_rows: list[OutboxMessage]) -> None:
            async with gate:
                delivered: list[tuple[OutboxMessage, int | None]] = []
                try:
                    await self._send_rows(token, chat_rows, report, delivered)
                finally:
                    if delivered and not unmarked:
                        oldest[0] = time.monotonic()
                    unmarked.extend(delivered)
            if unmarked and (
                len(unmarked) >= MARK_BATCH or time.monotonic() - oldest[0] >= MARK_AFTER_SECONDS
            ):
                taken = unmarked[:]
                del unmarked[:]
                await self._mark_delivered(token, taken, report)

        try:
            await asyncio.gather(*(one_chat(chat_rows) for chat_rows in by_chat.values()))
        finally:
            heartbeat.cancel()
            if unmarked:
                await self._mark_delivered(token, unmarked, report)
        return report

    async def _keep_lease(self, token: str) -> None:
        """Renew the batch's lease while it is being sent, so it cannot lapse mid-batch."""
        period = max(self.lease.total_seconds() / 3, 0.05)

        def renew() -> None:
            with unit_of_work(self.engine) as session:
                outbox.renew(session, token=token, lease_until=self.clock.now() + self.lease)

        while True:
            await asyncio.sleep(period)
            try:
                await asyncio.to_thread(renew)
            except Exception:  # the next settle will find out whether the claim still holds
                log.warning("could not renew the outbox lease")

    async def _wait_if_paused(self) -> None:
        if self.paused_until is not None:
            remaining = (self.paused_until - self.clock.now()).total_seconds()
            if remaining > 0:
                await self.sleep(remaining)

    async def _send_rows(
        self,
        token: str,
        rows: Sequence[OutboxMessage],
        report: DeliveryReport,
        delivered: list[tuple[OutboxMessage, int | None]],
    ) -> None:
        for index, row in enumerate(rows):
            if self.stopping:
                await asyncio.to_thread(self.settling.release, [r.id for r in rows[index:]], token)
                return
            await self._wait_if_paused()
            if row.kind != "edit":  # marking an answered question is no new message
                await self.pacer.wait_turn(row.chat_id)
            try:
                message_id = await self.sender.send(row)
            except RecipientBlocked:
                report.blocked += 1
                await self._settle(self.settling.blocked, row)
                return
            except RetryLater as exc:
                wait = timedelta(seconds=exc.retry_after)
                self.paused_until = self.clock.now() + wait
                log.info("Telegram asked to wait %.0f s (429): sending paused", exc.retry_after)
                rest = rows[index:]
                await self._settle(self.settling.retry, rest, token, wait, "flood control", False)
                report.retried += 1
                report.followups_retried += 1 if row.followup_id else 0
                return
            except TransientError as exc:
                rest = rows[index:]
                reason = f"transient: {type(exc.__cause__ or exc).__name__}"
                failed = await self._settle(
                    self.settling.retry, rest, token, backoff(row.attempts + 1), reason, True
                )
                if failed:
                    report.failed += 1
                    report.followups_failed += 1 if row.followup_id else 0
                else:
                    report.retried += 1
                    report.followups_retried += 1 if row.followup_id else 0
                return
            except PermanentError as exc:
                report.failed += 1
                report.followups_failed += 1 if row.followup_id else 0
                await self._settle(self.settling.failed, row, token, f"rejected: {exc}")
                continue
            delivered.append((row, message_id))

    async def _mark_delivered(
        self,
        token: str,
        delivered: list[tuple[OutboxMessage, int | None]],
        report: DeliveryReport,
    ) -> None:
        sent = [(row.id, message_id) for row, message_id in delivered if row.id is not None]
        owned = set(await self._settle(self.settling.sent, sent, token))
        now = self.clock.now()
        for row, _ in delivered:
            if row.id not in owned:
                report.lost_claims += 1
                log.warning("outbox row %s was sent after its claim lapsed", row.id)
            report.sent += 1
            if row.followup_id:
                report.followups_sent += 1
                if row.created_at is not None:
                    report.lag_seconds.append((now - row.created_at).total_seconds())

    # ------------------------------------------------------------------ settling (in threads)

    async def _settle(self, settle: Callable[..., T], *args: Any) -> T:
        """Run a settle in a worker thread; if the database is away, keep trying (the message
        is already out, so dropping its mark would send it again) for most of a lease. Past
        that, another sender may take the row over, and the error goes up."""
        deadline = time.monotonic() + self.lease.total_seconds() * SETTLE_PATIENCE_SHARE
        delay = SETTLE_RETRY_FIRST_SECONDS
        while True:
            try:
                return await asyncio.to_thread(settle, *args)
            except DatabaseUnavailable:
                if time.monotonic() + delay > deadline:
                    raise
                log.warning("database unreachable while settling a send: retrying")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
