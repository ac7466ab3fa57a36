"""The dispatcher's claim query with a large backlog: the one-statement OR it used to be, and the
two-step claim `Dispatcher.claim_due()` now makes (the change this experiment motivated).

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
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import col, select

from bench._common import (
    bench_name,
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
from coach.clock import SystemClock
from coach.coaching.conversation import Coach
from coach.content import load_content
from coach.scheduling.dispatcher import Dispatcher
from coach.settings import Settings
from coach.storage.database import create_db_engine, unit_of_work
from coach.storage.models import FollowUp, FollowUpStatus


def claim_single_or(dispatcher: Dispatcher) -> list[int]:
    """The claim as it was before this experiment landed: one statement with an OR."""
    now = dispatcher.clock.now()
    token = f"{dispatcher.owner}:{uuid.uuid4().hex[:8]}"
    with unit_of_work(dispatcher.engine) as session:
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
            .limit(dispatcher.batch_size)
        )
        if dispatcher.engine.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        session.execute(
            sa.update(FollowUp)
            .where(col(FollowUp.id).in_(due.scalar_subquery()))
            .values(
                status=FollowUpStatus.CLAIMED, claimed_by=token, lease_until=now + dispatcher.lease
            )
            .execution_options(synchronize_session=False)
        )
        ids = session.exec(
            select(FollowUp.id)
            .where(FollowUp.claimed_by == token, FollowUp.status == FollowUpStatus.CLAIMED)
            .order_by(col(FollowUp.due_at))
        ).all()
    return [i for i in ids if i is not None]


def time_claims(url: str, claims: int, variant: str) -> tuple[float, int]:
    settings = Settings(database_url=url)
    engine = create_db_engine(url)
    clock = SystemClock()
    coach = Coach(
        engine=engine, content=load_content(settings.content_dir), clock=clock, settings=settings
    )
    dispatcher = Dispatcher(coach=coach, sender=None, clock=clock)  # type: ignore[arg-type]
    claim = dispatcher.claim_due if variant == "two-step" else lambda: claim_single_or(dispatcher)
    claim()  # warm the connection and the statement cache
    got = 0
    started = time.perf_counter()
    for _ in range(claims):
        got += len(claim())
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed / claims, got


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
    rows = []
    for database in databases:
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
