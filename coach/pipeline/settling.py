"""How a send ends, written down: each settle is one short unit of work, fenced by the claim's
token, run in a worker thread by the courier (which retries it through a short outage)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import timedelta

import sqlalchemy as sa

from coach.clock import Clock
from coach.pipeline.sending import MAX_ATTEMPTS
from coach.storage import followups, outbox
from coach.storage.database import unit_of_work
from coach.storage.models import FollowUpStatus, OutboxMessage

log = logging.getLogger(__name__)


class Settling:
    def __init__(self, engine: sa.Engine, clock: Clock, on_blocked: Callable[[int], None]) -> None:
        self.engine = engine
        self.clock = clock
        self.on_blocked = on_blocked  # person id → mark blocked, cancel follow-ups (own unit)

    def sent(self, sent: list[tuple[int, int | None]], token: str) -> list[int]:
        with unit_of_work(self.engine) as session:
            return outbox.mark_sent_many(session, sent=sent, token=token, now=self.clock.now())

    def retry(
        self,
        rows: Sequence[OutboxMessage],
        token: str,
        wait: timedelta,
        reason: str,
        counts: bool,
    ) -> bool:
        """Put the chat's remaining rows in the waiting state; True if the first one gave up."""
        first = rows[0]
        with unit_of_work(self.engine) as session:
            outbox.mark_retry(
                session,
                message_ids=[r.id for r in rows if r.id is not None],
                token=token,
                at=self.clock.now() + wait,
                reason=reason,
                counts_as_attempt=counts,
                max_attempts=MAX_ATTEMPTS,
            )
            assert first.id is not None
            gave_up = bool(outbox.failed_among(session, [first.id]))
            if gave_up and first.followup_id is not None:
                followups.settle(
                    session,
                    followup_id=first.followup_id,
                    status=FollowUpStatus.FAILED,
                    reason=f"gave up after {MAX_ATTEMPTS} attempts: {reason}",
                )
        if counts:
            log.warning("outbox row %s will be retried: %s", first.id, reason)
        return gave_up

    def failed(self, row: OutboxMessage, token: str, reason: str) -> None:
        with unit_of_work(self.engine) as session:
            assert row.id is not None
            owned = outbox.mark_failed(session, message_id=row.id, token=token, reason=reason)
            if owned and row.followup_id is not None:
                followups.settle(
                    session,
                    followup_id=row.followup_id,
                    status=FollowUpStatus.FAILED,
                    reason=reason,
                )

    def release(self, ids: list[int | None], token: str) -> None:
        with unit_of_work(self.engine) as session:
            outbox.release(session, message_ids=[i for i in ids if i is not None], token=token)

    def blocked(self, row: OutboxMessage) -> None:
        with unit_of_work(self.engine) as session:
            if row.person_id is not None:
                outbox.cancel_for_person(
                    session, person_id=row.person_id, reason="blocked by the person"
                )
            else:
                assert row.id is not None
                outbox.cancel_one(session, message_id=row.id, reason="blocked")
            if row.followup_id is not None:
                followups.settle(
                    session,
                    followup_id=row.followup_id,
                    status=FollowUpStatus.CANCELLED,
                    reason="blocked by the person",
                )
        if row.person_id is not None:
            self.on_blocked(row.person_id)
