"""Sends follow-ups that are due. Rows in the database are the schedule; this is only the courier.

Claiming: a batch of due rows is claimed in one statement with a lease (PostgreSQL adds
`FOR UPDATE SKIP LOCKED`, so several instances share the work). Each row is marked sent with its
Telegram message id right after its send. A row whose lease expired (its instance died) becomes
claimable again.

Guarantee: in normal operation every follow-up is sent once. Across a crash between a send and
the commit that marks it sent, that one follow-up is sent again when its lease expires
(at-least-once): at most one duplicate per row claimed by the crashed instance, so at most
`dispatch_batch_size` duplicates per crash, and in practice only the row in flight. The lease must
outlast a batch (`lease_seconds` > `dispatch_batch_size` / send rate: 120 s > 200 / 30 per s).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import sqlalchemy as sa
from sqlmodel import col, select

from coach.clock import Clock
from coach.coaching.conversation import Coach
from coach.coaching.replies import Reply
from coach.storage.database import unit_of_work
from coach.storage.models import FollowUp, FollowUpStatus

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BACKOFF_BASE_SECONDS = 30


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
    """5xx, connection error or timeout: try again later, up to a cap.

    A timeout is ambiguous (Telegram may have delivered the message); it is retried, which can
    deliver that one follow-up twice. Losing a check-in is worse than a repeated one.
    """


class PermanentError(SendError):
    """A request Telegram will never accept (400): the follow-up is marked failed."""


class Sender(Protocol):
    async def send(self, chat_id: int, reply: Reply) -> int:
        """Deliver one message; return its message id or raise a SendError."""
        ...


class ChatPacer:
    """At most about one message per second to any one chat (Telegram's per-chat limit).

    The global limit (30/s by default) is the rate limiter's job in the Telegram adapter.
    """

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
        now = self.monotonic()
        previous = self.last.get(chat_id)
        if previous is not None and now - previous < self.interval:
            await self.sleep(self.interval - (now - previous))
            now = self.monotonic()
        self.last[chat_id] = now
        if len(self.last) > 50_000:  # forget chats idle for longer than the interval
            self.last = {c: t for c, t in self.last.items() if now - t < self.interval}


@dataclass
class DispatchReport:
    claimed: int = 0
    sent: int = 0
    skipped: int = 0
    retried: int = 0
    failed: int = 0
    blocked: int = 0
    lag_seconds: list[float] = field(default_factory=list)


def merge_replies(replies: list[Reply], limit: int = 4096) -> list[Reply]:
    """Join a text-only reply with the next one: fewer messages, one notification."""
    merged: list[Reply] = []
    for reply in replies:
        if merged and not merged[-1].buttons and len(merged[-1].text) + len(reply.text) < limit:
            merged[-1] = Reply(f"{merged[-1].text}\n\n{reply.text}", reply.buttons)
        else:
            merged.append(reply)
    return merged


class Dispatcher:
    def __init__(
        self,
        *,
        coach: Coach,
        sender: Sender,
        clock: Clock,
        batch_size: int = 200,
        lease_seconds: int = 120,
        owner: str | None = None,
        per_chat_interval: float = 1.0,
    ) -> None:
        self.coach = coach
        self.engine = coach.engine
        self.sender = sender
        self.clock = clock
        self.batch_size = batch_size
        self.lease = timedelta(seconds=lease_seconds)
        self.owner = owner or uuid.uuid4().hex[:12]
        self.last_run_at: datetime | None = None
        self.pacer = ChatPacer(per_chat_interval)
        self._stopping = False
        self._running = asyncio.Lock()

    def stop(self) -> None:
        """Finish the follow-up in hand, then release the rest of the batch."""
        self._stopping = True

    async def run_once(self) -> DispatchReport:
        """Claim and send batches until nothing is due (one courier at a time per process)."""
        async with self._running:
            return await self._run_batches()

    async def _run_batches(self) -> DispatchReport:
        report = DispatchReport()
        while not self._stopping:
            ids = self.claim_due()
            report.claimed += len(ids)
            if not ids:
                break
            for index, followup_id in enumerate(ids):
                if self._stopping:
                    self.release(ids[index:])
                    break
                pause = await self._deliver(followup_id, report)
                if pause:
                    self.release(ids[index + 1 :])
                    await asyncio.sleep(pause)
                    break
        self.last_run_at = self.clock.now()
        return report

    def claim_due(self) -> list[int]:
        """Claim up to a batch: rows whose lease expired first, then pending rows by due time.

        Two statements rather than one with OR, so each scan follows the (status, due_at) index
        and a claim costs the same however large the backlog is.
        """
        now = self.clock.now()
        token = f"{self.owner}:{uuid.uuid4().hex[:8]}"
        claimable = (
            sa.and_(
                col(FollowUp.status) == FollowUpStatus.CLAIMED, col(FollowUp.lease_until) < now
            ),
            sa.and_(col(FollowUp.status) == FollowUpStatus.PENDING, col(FollowUp.due_at) <= now),
        )
        with unit_of_work(self.engine) as session:
            remaining = self.batch_size
            for condition in claimable:
                due = (
                    select(FollowUp.id)
                    .where(condition)
                    .order_by(col(FollowUp.due_at))
                    .limit(remaining)
                )
                if self.engine.dialect.name == "postgresql":
                    due = due.with_for_update(skip_locked=True)
                result = session.execute(
                    sa.update(FollowUp)
                    .where(col(FollowUp.id).in_(due.scalar_subquery()))
                    .values(
                        status=FollowUpStatus.CLAIMED,
                        claimed_by=token,
                        lease_until=now + self.lease,
                    )
                    .execution_options(synchronize_session=False)
                )
                remaining -= int(result.rowcount or 0)  # type: ignore[attr-defined]
                if remaining <= 0:
                    break
            ids = session.exec(
                select(FollowUp.id)
                .where(FollowUp.claimed_by == token, FollowUp.status == FollowUpStatus.CLAIMED)
                .order_by(col(FollowUp.due_at))
            ).all()
        return [i for i in ids if i is not None]

    def release(self, ids: list[int], *, after: timedelta | None = None) -> None:
        """Give claimed rows back: pending again, or claimable once `after` has passed."""
        if not ids:
            return
        with unit_of_work(self.engine) as session:
            if after is None:
                values: dict[str, object] = {"status": FollowUpStatus.PENDING, "lease_until": None}
            else:
                values = {"lease_until": self.clock.now() + after}
            session.execute(
                sa.update(FollowUp)
                .where(col(FollowUp.id).in_(ids), col(FollowUp.status) == FollowUpStatus.CLAIMED)
                .values(**values)
            )

    async def _deliver(self, followup_id: int, report: DispatchReport) -> float:
        """Send one follow-up; returns seconds to pause everything (flood control), else 0."""
        prepared = self.coach.prepare_followup(followup_id)
        if prepared is None:
            report.skipped += 1
            return 0.0
        message_id: int | None = None
        try:
            for reply in merge_replies(prepared.replies):
                await self.pacer.wait_turn(prepared.chat_id)
                message_id = await self.sender.send(prepared.chat_id, reply)
        except RecipientBlocked:
            report.blocked += 1
            self._settle(followup_id, FollowUpStatus.CANCELLED, "blocked by the person")
            self.coach.on_person_blocked(followup_id)
            return 0.0
        except RetryLater as exc:
            report.retried += 1
            self._retry(followup_id, "flood control", timedelta(seconds=exc.retry_after))
            return exc.retry_after
        except TransientError as exc:
            report.retried += 1
            self._retry(followup_id, f"transient: {type(exc.__cause__ or exc).__name__}", None)
            return 0.0
        except PermanentError as exc:
            report.failed += 1
            self._settle(followup_id, FollowUpStatus.FAILED, f"rejected: {exc}"[:200])
            return 0.0
        now = self.clock.now()
        with unit_of_work(self.engine) as session:
            followup = session.get(FollowUp, followup_id)
            if followup is not None:
                followup.status = FollowUpStatus.SENT
                followup.sent_at = now
                followup.sent_message_id = message_id
                followup.attempts += 1
                followup.lease_until = None
                session.add(followup)
                if followup.due_at is not None:
                    report.lag_seconds.append((now - followup.due_at).total_seconds())
        report.sent += 1
        return 0.0

    def _settle(self, followup_id: int, status: FollowUpStatus, reason: str) -> None:
        with unit_of_work(self.engine) as session:
            followup = session.get(FollowUp, followup_id)
            if followup is not None:
                followup.status = status
                followup.last_error = reason
                followup.lease_until = None
                session.add(followup)

    def _retry(self, followup_id: int, reason: str, after: timedelta | None) -> None:
        with unit_of_work(self.engine) as session:
            followup = session.get(FollowUp, followup_id)
            if followup is None:
                return
            followup.attempts += 1
            followup.last_error = reason
            if followup.attempts >= MAX_ATTEMPTS:
                followup.status = FollowUpStatus.FAILED
                followup.last_error = f"gave up after {followup.attempts} attempts: {reason}"
                followup.lease_until = None
            else:
                backoff = after or timedelta(
                    seconds=BACKOFF_BASE_SECONDS * 2 ** (followup.attempts - 1)
                )
                followup.lease_until = self.clock.now() + backoff
            session.add(followup)
        log.warning("follow-up %s will be retried: %s", followup_id, reason)
