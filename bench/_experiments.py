"""Prototypes of the changes bench/README.md proposes for coach/, to measure them (not the coach's
code; no benchmark uses them unless BENCH_EXPERIMENT is set).

    BENCH_EXPERIMENT=batch-marks,no-wait-query,one-db-thread,open-index python -m bench.<x> ...

batch-marks: the courier writes its "sent" marks in one unit of work per batch (one executemany
    UPDATE of the outbox rows, fenced by the claim token as `outbox.mark_sent` is, and one of their
    follow-ups) instead of one unit of work per row; also at most every 50 rows within a batch.
no-wait-query: `deliver_chat` (the reply path) asks the database when the chat's next row is due
    only after a send that did not go through (a retry); after a clean send there is nothing to
    wait for, and the query is a unit of work (on SQLite, BEGIN IMMEDIATE) per update.
one-db-thread: `asyncio.to_thread` runs in a pool of one thread, so units of work never wait on
    each other's SQLite write lock (whose busy handler sleeps 1-100 ms per try).
claim-alias: `outbox.claim` reuses one `aliased(OutboxMessage)` instead of building a new alias
    (and re-adapting its columns) on every call.
open-index: the courier's claim for any chat (`deliver_due`) becomes `claim_open` below, over
    partial indexes of the open rows (OPEN_INDEXES, created if missing).

They are applied to a built application by `apply(runtime)`: the courier object's class is
swapped for a subclass; nothing else changes.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from coach.pipeline import courier as courier_module
from coach.pipeline.courier import Courier, DeliveryReport
from coach.storage import outbox
from coach.storage.database import unit_of_work
from coach.storage.models import FollowUp, OutboxMessage, OutboxStatus

FLUSH_EVERY = 50


def active() -> set[str]:
    return {x.strip() for x in os.environ.get("BENCH_EXPERIMENT", "").split(",") if x.strip()}


class BatchedMarks(Courier):
    """The courier with its "sent" marks batched (experiment)."""

    _marks: list[tuple[int, str, int | None, int | None, datetime]]

    async def _settle(self, settle: Callable[..., Any], *args: Any) -> Any:
        if getattr(settle, "__func__", None) is Courier._settle_sent:
            row, token, message_id = args
            marks = self.__dict__.setdefault("_marks", [])
            marks.append((row.id, token, message_id, row.followup_id, self.clock.now()))
            if len(marks) >= FLUSH_EVERY:
                await self._flush_marks()
            return True
        return await super()._settle(settle, *args)

    async def _send_claimed(self, claimed: Any) -> DeliveryReport:
        try:
            return await super()._send_claimed(claimed)
        finally:
            await self._flush_marks()

    async def _flush_marks(self) -> None:
        marks = self.__dict__.get("_marks") or []
        self.__dict__["_marks"] = []
        if marks:
            await asyncio.to_thread(self._mark_all, marks)

    def _mark_all(self, marks: list[tuple[int, str, int | None, int | None, datetime]]) -> None:
        outbox_t: sa.Table = OutboxMessage.__table__  # type: ignore[attr-defined]
        followup_t: sa.Table = FollowUp.__table__  # type: ignore[attr-defined]
        sent = (
            outbox_t.update()
            .where(
                outbox_t.c.id == sa.bindparam("b_id"),
                outbox_t.c.claimed_by == sa.bindparam("b_token"),
                outbox_t.c.status == "sending",
            )
            .values(
                status="sent",
                sent_at=sa.bindparam("b_at"),
                sent_message_id=sa.bindparam("b_tg"),
                lease_until=None,
                text="",
                buttons=[],
                document_body=None,
            )
        )
        followup_sent = (
            followup_t.update()
            .where(followup_t.c.id == sa.bindparam("b_id"))
            .values(
                status="sent", sent_at=sa.bindparam("b_at"), sent_message_id=sa.bindparam("b_tg")
            )
        )
        with unit_of_work(self.engine) as session:
            connection = session.connection()
            connection.execute(
                sent,
                [{"b_id": i, "b_token": t, "b_tg": tg, "b_at": at} for i, t, tg, _, at in marks],
            )
            followups = [{"b_id": f, "b_tg": tg, "b_at": at} for _, _, tg, f, at in marks if f]
            if followups:
                connection.execute(followup_sent, followups)


class NoWaitQuery(Courier):
    """`deliver_chat` without the due-time query after a clean send (experiment)."""

    async def deliver_chat(self, chat_id: int) -> DeliveryReport:
        report = DeliveryReport()
        for _ in range(courier_module.INLINE_ROUNDS):
            claimed = await self._claim(chat_id=chat_id)
            if claimed[1]:
                report.add(await self._send_claimed(claimed))
            if not (report.retried or report.failed):
                break  # everything claimed went out: nothing of this chat is waiting
            wait = await asyncio.to_thread(self._seconds_until_chat_due, chat_id)
            if wait is None or wait > courier_module.INLINE_WAIT_SECONDS or self.stopping:
                break
            await self.sleep(wait)
        return report


class Both(BatchedMarks, NoWaitQuery):
    pass


# Partial indexes of the open rows: in id order (the claim's scan) and by chat (its NOT EXISTS
# on the chat's earlier rows, which PostgreSQL otherwise answers with a scan of the whole table).
OPEN_INDEXES = (
    "CREATE INDEX IF NOT EXISTS ix_bench_outbox_open ON outbox_message (id) "
    "WHERE status IN ('pending', 'retry', 'sending')",
    "CREATE INDEX IF NOT EXISTS ix_bench_outbox_open_chat ON outbox_message (chat_id, id) "
    "WHERE status IN ('pending', 'retry', 'sending')",
)
_SQLITE_OPEN_CLAIM = """
    UPDATE outbox_message SET status = 'sending', claimed_by = :token, lease_until = :lease
    WHERE id IN (
        SELECT o.id FROM outbox_message AS o INDEXED BY ix_bench_outbox_open
        WHERE o.status IN ('pending', 'retry', 'sending')
          AND ((o.status IN ('pending', 'retry') AND o.next_attempt_at <= :now)
               OR (o.status = 'sending' AND o.lease_until < :now))
          AND NOT EXISTS (
              SELECT 1 FROM outbox_message AS e
              WHERE e.chat_id = o.chat_id AND e.id < o.id
                AND e.status IN ('pending', 'retry', 'sending')
                AND NOT ((e.status IN ('pending', 'retry') AND e.next_attempt_at <= :now)
                         OR (e.status = 'sending' AND e.lease_until < :now)))
        ORDER BY o.id LIMIT :limit)
"""
_EARLIER = aliased(OutboxMessage)  # built once: a new alias per call costs ~3 ms of adapting


def claim_open(
    session: Session,
    *,
    token: str,
    now: datetime,
    lease_until: datetime,
    limit: int,
    chat_id: int | None = None,
) -> list[OutboxMessage]:
    """Prototype of `coach.storage.outbox.claim` for any chat (a chat's own claim is unchanged):
    one more term, `status IN ('pending','retry','sending')`, so the planner can walk the partial
    indexes OPEN_INDEXES in id order and stop after the batch instead of collecting and sorting
    every deliverable row; on PostgreSQL the per-chat advisory lock is taken only on deliverable
    rows (CASE), not on every row the scan passes (PostgreSQL orders the cheaper function first)."""
    if chat_id is not None:
        return _original_claim(
            session, token=token, now=now, lease_until=lease_until, limit=limit, chat_id=chat_id
        )
    deliverable = outbox._deliverable(OutboxMessage, now)
    if session.get_bind().dialect.name == "sqlite":
        # SQLite's planner prefers a MULTI-INDEX OR and a sort, and SQLAlchemy renders no
        # INDEXED BY: the same statement, written out.
        timestamp = OutboxMessage.__table__.c.lease_until.type  # type: ignore[attr-defined]
        session.execute(
            sa.text(_SQLITE_OPEN_CLAIM).bindparams(
                sa.bindparam("lease", type_=timestamp), sa.bindparam("now", type_=timestamp)
            ),
            {"token": token, "lease": lease_until, "now": now, "limit": limit},
        )
    else:
        blocked_by_earlier = (
            select(_EARLIER.id)
            .where(
                _EARLIER.chat_id == OutboxMessage.chat_id,
                col(_EARLIER.id) < col(OutboxMessage.id),
                col(_EARLIER.status).in_(outbox.OPEN),
                sa.not_(outbox._deliverable(_EARLIER, now)),
            )
            .exists()
        )
        chat_lock = sa.func.pg_try_advisory_xact_lock(
            sa.literal(outbox._CHAT_LOCK_BIT, type_=sa.BigInteger()).op("#")(
                col(OutboxMessage.chat_id)
            )
        )
        candidates = (
            select(OutboxMessage.id)
            .where(
                col(OutboxMessage.status).in_(outbox.OPEN),
                sa.case((deliverable, chat_lock), else_=sa.false()),
                sa.not_(blocked_by_earlier),
            )
            .order_by(col(OutboxMessage.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        session.execute(
            sa.update(OutboxMessage)
            .where(col(OutboxMessage.id).in_(candidates.scalar_subquery()))
            .values(status=OutboxStatus.SENDING, claimed_by=token, lease_until=lease_until)
            .execution_options(synchronize_session=False)
        )
    return list(
        session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.claimed_by == token, OutboxMessage.status == OutboxStatus.SENDING)
            .order_by(col(OutboxMessage.id))
        ).all()
    )


_original_claim = outbox.claim


def apply(courier: Courier) -> str:
    """Apply the experiments named in BENCH_EXPERIMENT; returns their names ("" for none)."""
    names = active()
    if "claim-alias" in names:
        # `outbox.claim` builds `aliased(OutboxMessage)` anew on every call; reuse one.
        outbox.aliased = lambda _entity: _EARLIER  # type: ignore[attr-defined,assignment]
    if "open-index" in names:
        with courier.engine.begin() as connection:
            for statement in OPEN_INDEXES:
                connection.exec_driver_sql(statement)
        courier_module.outbox.claim = claim_open  # type: ignore[assignment]
    if "one-db-thread" in names:
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(1))
    if {"batch-marks", "no-wait-query"} <= names:
        courier.__class__ = Both
    elif "batch-marks" in names:
        courier.__class__ = BatchedMarks
    elif "no-wait-query" in names:
        courier.__class__ = NoWaitQuery
    return ",".join(sorted(names))
