"""Turns due follow-ups into outbox rows, then has the courier deliver everything due.

Rows in the database are the schedule; the scheduler only wakes this. A due follow-up is claimed
(owner token, lease), rendered once under its person's lock into the outbox in the same
transaction that marks it, and from then on only its outbox row is retried: a retry can never
re-render it (no silent-day counted twice, no new check-in, no stale buttons). Rendering is
database work only, so a batch takes milliseconds per row, far inside the lease; delivery has its
own fenced, renewed claims (see `courier`).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from coach.clock import Clock
from coach.pipeline.courier import Courier, DeliveryReport
from coach.pipeline.service import CoachService

log = logging.getLogger(__name__)

RENDER_CHUNK = 50  # follow-ups rendered per trip to a worker thread


@dataclass
class DispatchReport:
    """One dispatch round: follow-ups claimed and what became of them, plus all deliveries."""

    claimed: int = 0
    sent: int = 0  # follow-up messages delivered
    skipped: int = 0
    retried: int = 0
    failed: int = 0
    blocked: int = 0
    replies_sent: int = 0  # interactive replies delivered late (after a retry)
    lost_claims: int = 0
    lag_seconds: list[float] = field(default_factory=list)

    def add_delivery(self, delivery: DeliveryReport) -> None:
        self.sent += delivery.followups_sent
        self.replies_sent += delivery.sent - delivery.followups_sent
        self.retried += delivery.retried
        self.failed += delivery.failed
        self.blocked += delivery.blocked
        self.lost_claims += delivery.lost_claims
        self.lag_seconds += delivery.lag_seconds


class Dispatcher:
    def __init__(
        self,
        *,
        service: CoachService,
        courier: Courier,
        clock: Clock,
        batch_size: int = 200,
        lease_seconds: int = 120,
        owner: str | None = None,
    ) -> None:
        self.service = service
        self.courier = courier
        self.clock = clock
        self.batch_size = batch_size
        self.lease = timedelta(seconds=lease_seconds)
        self.owner = owner or uuid.uuid4().hex[:12]
        self.last_run_at: datetime | None = None
        self._stopping = False
        self._running = asyncio.Lock()

    def stop(self) -> None:
        """Finish what is in hand, then give the rest back."""
        self._stopping = True
        self.courier.stop()

    async def wait_idle(self) -> None:
        """Return once no round is running (used when stopping)."""
        async with self._running:
            return

    async def run_once(self) -> DispatchReport:
        """Render every due follow-up, then deliver everything due (one round at a time)."""
        async with self._running:
            report = DispatchReport()
            while not self._stopping:
                token, ids = await asyncio.to_thread(
                    self.service.claim_due_followups,
                    owner=self.owner,
                    lease=self.lease,
                    limit=self.batch_size,
                )
                report.claimed += len(ids)
                if not ids:
                    break
                for start in range(0, len(ids), RENDER_CHUNK):
                    chunk = ids[start : start + RENDER_CHUNK]
                    if self._stopping:
                        await asyncio.to_thread(self.service.release_followups, ids[start:], token)
                        break
                    rendered = await asyncio.to_thread(self.service.render_followups, chunk, token)
                    report.skipped += rendered.skipped
                    report.failed += rendered.failed
                    report.lost_claims += rendered.lost_claims
            report.add_delivery(await self.courier.deliver_due())
            self.last_run_at = self.clock.now()
            return report
