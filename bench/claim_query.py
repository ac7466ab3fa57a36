"""The dispatcher's claim query with a large backlog: the one-statement OR it used to be, and the
two-step claim `coach.storage.followups.claim_due` now makes (the change this experiment
motivated).

    .venv/bin/python -m bench.claim_query [--quick] [--claims K]

Supporting evidence for a change proposed in bench/README.md, not one of the four benchmarks.
100,000 follow-ups (10,000 with --quick) are due at once (seeded as in dispatch_throughput).
The old claim took the next 200 with one statement whose WHERE is
`(status='pending' AND due_at<=now) OR (status='claimed' AND lease_until<now)` and ORDER BY
due_at LIMIT 200: the OR makes SQLite (MULTI-INDEX OR) and PostgreSQL (BitmapOr) collect every
due row and sort them for each batch, so a claim costs O(backlog).

The two-step claim (now the dispatcher's) uses two statements in the same transaction, each an
index range scan in due_at order that stops after the batch: first expired leases, then pending
rows due (`... WHERE status=:s AND due_at<=:now ORDER BY due_at LIMIT :n [FOR UPDATE SKIP LOCKED]`).

Timed: K claims of 200 rows (25 by default) in a row, in this process, on a fresh copy each.

Second table: the courier's outbox claim (`coach.storage.outbox.claim`, any chat, as
`Courier.deliver_due` makes it) over the same backlog rendered to outbox rows (as
bench.dispatch_throughput seeds them), each batch marked sent before the next claim. Its WHERE is
`(status IN ('pending','retry') AND next_attempt_at<=now) OR (status='sending' AND
lease_until<now)` ORDER BY id LIMIT 200, plus a NOT EXISTS on the chat's earlier rows. The
variant is the prototype `bench._experiments.claim_open`: the same query with `AND status IN
('pending','retry','sending')` and partial indexes on `outbox_message (id)` and `(chat_id, id)`
`WHERE status IN ('pending','retry','sending')`, so the planner can walk the open rows in id order
and stop after the batch, and answer the NOT EXISTS from the chat's open rows (on PostgreSQL also
the per-chat advisory lock taken only on deliverable rows).
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import col, select

from bench._common import (
    bench_name,
    checkpoint,
    machine_line,
    md_table,
    module_command,
    pg_available,
    pg_create,
    pg_drop,
    seed,
    sqlite_path,
    sqlite_remove,
    utc_now,
)
from bench._experiments import OPEN_INDEXES, claim_open
from bench.dispatch_throughput import prepare_outbox
from coach.storage import followups, outbox
from coach.storage.database import create_db_engine, unit_of_work
from coach.storage.models import FollowUp, FollowUpStatus, OutboxMessage, OutboxStatus

BATCH = 200  # Settings.dispatch_batch_size
LEASE = timedelta(seconds=120)  # Settings.lease_seconds


def claim_single_or(engine: sa.Engine) -> list[int]:
    """The claim as it was before the two-step claim landed: one statement with an OR."""
    now = utc_now()
    token = f"bench:{uuid.uuid4().hex[:8]}"
    with unit_of_work(engine) as session:
        due = (
            select(FollowUp.id)
            .where(
                sa.or_(
                    sa.and_(
                        col(FollowUp.status) == FollowUpStatus.PENDING,
                        col(FollowUp.due_at) <= now,
                    ),
                    sa.and_(
                        col(FollowUp.status) == FollowUpStatus.CLAIMED,
                        col(FollowUp.lease_until) < now,
                    ),
                )
            )
            .order_by(col(FollowUp.due_at))
            .limit(BATCH)
        )
        if engine.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        session.execute(
            sa.update(FollowUp)
            .where(col(FollowUp.id).in_(due.scalar_subquery()))
            .values(status=FollowUpStatus.CLAIMED, claimed_by=token, lease_until=now + LEASE)
            .execution_options(synchronize_session=False)
        )
        ids = session.exec(
            select(FollowUp.id)
            .where(FollowUp.claimed_by == token, FollowUp.status == FollowUpStatus.CLAIMED)
            .order_by(col(FollowUp.due_at))
        ).all()
    return [i for i in ids if i is not None]


def claim_two_step(engine: sa.Engine) -> list[int]:
    """The claim the dispatcher makes now (`coach.storage.followups.claim_due`), in the same
    unit of work `CoachService.claim_due_followups` opens for it."""
    now = utc_now()
    with unit_of_work(engine) as session:
        _, ids = followups.claim_due(
            session, owner="bench", now=now, lease_until=now + LEASE, limit=BATCH
        )
    return ids


def time_claims(url: str, claims: int, variant: str) -> tuple[float, int]:
    engine = create_db_engine(url)
    claim = claim_two_step if variant == "two-step" else claim_single_or
    claim(engine)  # warm the connection and the statement cache
    got = 0
    started = time.perf_counter()
    for _ in range(claims):
        got += len(claim(engine))
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed / claims, got


def time_outbox_claims(url: str, claims: int, variant: str) -> tuple[float, int, int | None]:
    """K claims of 200 outbox rows (any chat), each batch then marked sent (untimed), as the
    courier's `deliver_due` goes through a backlog. Also returns, on PostgreSQL, the advisory
    locks the last claim's transaction holds (the statistics are those of the full backlog)."""
    engine = create_db_engine(url)
    if variant != "as now":
        with engine.begin() as conn:
            for statement in OPEN_INDEXES:
                conn.exec_driver_sql(statement)
        checkpoint(url)
    elapsed, got, locks = 0.0, 0, None
    for n in range(claims + 1):
        now = utc_now()
        token = f"bench:{n}"
        started = time.perf_counter()
        with unit_of_work(engine) as session:
            claim = outbox.claim if variant == "as now" else claim_open
            ids = [
                row.id
                for row in claim(
                    session, token=token, now=now, lease_until=now + LEASE, limit=BATCH
                )
            ]
            counting = time.perf_counter()
            if n == claims and engine.dialect.name == "postgresql":
                locks = session.execute(
                    sa.text(
                        "select count(*) from pg_locks "
                        "where locktype = 'advisory' and pid = pg_backend_pid()"
                    )
                ).scalar()
            counted = time.perf_counter() - counting  # not part of the claim
        if n:  # the first one warms the connection and the statement cache
            elapsed += time.perf_counter() - started - counted
            got += len(ids)
        with unit_of_work(engine) as session:
            session.execute(
                sa.update(OutboxMessage)
                .where(col(OutboxMessage.claimed_by) == token)
                .values(status=OutboxStatus.SENT, lease_until=None)
            )
    engine.dispose()
    return elapsed / claims, got, locks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="10,000 due, not 100,000")
    parser.add_argument("--claims", type=int, default=25, help="claims of 200 timed")
    parser.add_argument("--db", default="sqlite,postgresql", help="comma-separated databases")
    args = parser.parse_args()
    people = 10_000 if args.quick else 100_000
    databases = [d for d in args.db.split(",") if d]
    if "postgresql" in databases and not pg_available():
        databases.remove("postgresql")
    rows: list[list[str]] = []
    outbox_rows: list[list[str]] = []
    for database in databases:
        for variant in ("as now", "prototype: partial indexes on open rows"):
            if database == "sqlite":
                path = sqlite_path("claim-outbox")
                url = f"sqlite:///{path}"
            else:
                name = bench_name("claim_outbox")
                url = pg_create(name)
            try:
                seed(url, people, now=utc_now(), mode="due_now")
                prepare_outbox(url)
                seconds, got, locks = time_outbox_claims(url, args.claims, variant)
            finally:
                if database == "sqlite":
                    sqlite_remove(Path(path))
                else:
                    pg_drop(name)
            print(f"{database} outbox {variant}: {1000 * seconds:.1f} ms", file=sys.stderr)
            outbox_rows.append(
                [
                    database,
                    f"{people:,}",
                    variant,
                    f"**{1000 * seconds:.1f}**",
                    f"{1000 * seconds / BATCH:.3f}",
                    f"{got:,}",
                    "-" if locks is None else f"{locks:,}",
                ]
            )
        results = {}
        for variant in ("one OR (before)", "two-step"):
            if database == "sqlite":
                path = sqlite_path("claim")
                url = f"sqlite:///{path}"
            else:
                name = bench_name("claim")
                url = pg_create(name)
            try:
                seed(url, people, now=utc_now(), mode="due_now")
                results[variant] = time_claims(url, args.claims, variant)
            finally:
                if database == "sqlite":
                    sqlite_remove(Path(path))
                else:
                    pg_drop(name)
            print(f"{database} {variant}: {1000 * results[variant][0]:.1f} ms", file=sys.stderr)
        for variant, (seconds, got) in results.items():
            rows.append(
                [
                    database,
                    f"{people:,}",
                    variant,
                    f"**{1000 * seconds:.1f}**",
                    f"{1000 * seconds / 200:.3f}",
                    f"{got:,}",
                ]
            )
    print("## Claim query with a large backlog (experiment)\n")
    print(f"Command: `{module_command('bench.claim_query')}`  ")
    print(f"Machine: {machine_line()}\n")
    print(
        md_table(
            ["database", "due backlog", "claim", "ms per claim of 200", "ms per row", "claimed"],
            rows,
        )
    )
    print("\nThe courier's outbox claim (any chat), the same backlog rendered to outbox rows:\n")
    print(
        md_table(
            [
                "database",
                "outbox backlog",
                "claim",
                "ms per claim of 200",
                "ms per row",
                "claimed",
                "advisory locks held by the last claim",
            ],
            outbox_rows,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
