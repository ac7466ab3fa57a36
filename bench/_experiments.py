"""Prototypes of the changes bench/README.md proposes for coach/, to measure them (not the coach's
code; no benchmark uses them unless BENCH_EXPERIMENT is set).

    BENCH_EXPERIMENT=one-db-thread,open-index python -m bench.<x> ...

(The batch-marks and no-wait-query prototypes landed in coach/pipeline/courier.py: "sent" marks
in groups, and replies handed over by their unit of work without a claim or a due-time query.)
one-db-thread: `asyncio.to_thread` runs in a pool of one thread, so units of work never wait on
    each other's SQLite write lock (whose busy handler sleeps 1-100 ms per try).
claim-alias: `outbox.claim` reuses one `aliased(OutboxMessage)` instead of building a new alias
    (and re-adapting its columns) on every call.
open-index: the courier's claim for any chat (`deliver_due`) becomes `claim_open` below, over
    partial indexes of the open rows (OPEN_INDEXES, created if missing).

They are applied to a built application by `apply(courier)`; nothing else changes.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from coach.pipeline import courier as courier_module
from coach.pipeline.courier import Courier
from coach.storage import outbox
from coach.storage.models import OutboxMessage, OutboxStatus


def active() -> set[str]:
    return {x.strip() for x in os.environ.get("BENCH_EXPERIMENT", "").split(",") if x.strip()}


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
    return ",".join(sorted(names))
