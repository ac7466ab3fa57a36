"""Delivery throughput through the outbox: messages per second from outbox rows to the Bot API.

    .venv/bin/python -m bench.dispatch_throughput [--quick] [--deadline S] [--db sqlite,postgresql]

100,000 people (10,000 with --quick) each have one follow-up due (morning plan, walk nudge, care
nudge and check-in in turn: a day's mix), seeded directly into a fresh database (SQLite file, and
PostgreSQL 15 on 127.0.0.1 when reachable). The first 8 are rendered by the coach's own
`CoachService.render_followups` (the dispatcher's render step); every other follow-up then gets
the outbox row its kind rendered to (bulk insert) and is marked queued, as the render leaves it:
100,000 outbox rows waiting, one per chat, the text and keyboard the coach really sends.

Each configuration runs in a fresh child process (bench/_dispatch_child.py) pinned to CPU 0; this
process hosts the Bot API stand-in on loopback, pinned to CPU 1 (PostgreSQL is not pinned). The
child wires everything with the coach's `build_application`, unthrottled: global rate
1,000,000/s, per-chat interval 0. Rows:

* PTB send_message only (baseline, same run): no database; plain `bot.send_message` calls, 8 at a
  time, through the same bot (PTB, httpx, AIORateLimiter): what the HTTP path allows by itself.
* deliver, telegram: `Courier.deliver_due()` with the coach's `TelegramSender`: claim 200 rows,
  send 8 chats at a time, mark each row (and its follow-up) sent.
* deliver, null: the same with a sender that returns a message id at once: the database alone.
* render (the other half of `Dispatcher.run_once`, for scale): claim due follow-ups and render
  each into the outbox in its own unit of work, nothing sent.

A configuration still running after --deadline seconds (40) is stopped (the message in hand is
finished, the rest of the batch given back), so the benchmark ends by itself; its rate is over
what it did in that time. The rate over the first and the second half of the rows is shown too,
to see whether it falls as sent rows pile up in the table.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench._child import cpu_seconds
from bench._common import (
    BenchStandIn,
    Child,
    bench_name,
    checkpoint,
    machine_line,
    md_table,
    module_command,
    outbox_counts,
    pg_available,
    pg_create,
    pg_drop,
    pin_to_cpu,
    seed,
    sqlite_copy,
    sqlite_path,
    sqlite_remove,
    utc_now,
)

TARGET_PER_SECOND = 1_000
HTTP_ONLY_COUNT = 20_000
SAMPLE = 8


def prepare_outbox(url: str) -> dict[str, int]:
    """Render the first SAMPLE due follow-ups with the coach's own service, then give every other
    due follow-up the outbox row its kind rendered to, and mark it queued. Returns rows by kind."""
    from coach.clock import SystemClock
    from coach.coaching.conversation import Coach
    from coach.content import load_content
    from coach.pipeline.service import CoachService
    from coach.settings import Settings
    from coach.storage.database import create_db_engine
    from coach.storage.models import FollowUp, OutboxMessage

    settings = Settings(database_url=url)
    engine = create_db_engine(url)
    clock = SystemClock()
    coach = Coach(
        engine=engine, content=load_content(settings.content_dir), clock=clock, settings=settings
    )
    service = CoachService(coach=coach, clock=clock, catch_up_hours=settings.catch_up_hours)
    token, ids = service.claim_due_followups(
        owner="bench", lease=timedelta(minutes=10), limit=SAMPLE
    )
    service.render_followups(ids, token)
    outbox_t: sa.Table = OutboxMessage.__table__  # type: ignore[attr-defined]
    followup_t: sa.Table = FollowUp.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        samples = {
            str(kind): row
            for kind, *row in conn.execute(
                sa.select(
                    followup_t.c.kind,
                    outbox_t.c.kind,
                    outbox_t.c.text,
                    outbox_t.c.buttons,
                    outbox_t.c.next_attempt_at,
                    outbox_t.c.expires_at,
                    outbox_t.c.created_at,
                ).join(followup_t, followup_t.c.id == outbox_t.c.followup_id)
            )
        }
        due = conn.execute(
            sa.select(followup_t.c.id, followup_t.c.person_id, followup_t.c.kind)
            .where(followup_t.c.status == "pending", followup_t.c.due_at <= utc_now())
            .order_by(followup_t.c.due_at)
        ).all()
        conn.rollback()
    with engine.begin() as conn:
        for start in range(0, len(due), 5000):
            rows = []
            for followup_id, person_id, kind in due[start : start + 5000]:
                message_kind, text, buttons, next_at, expires, created = samples[str(kind)]
                rows.append(
                    {
                        "person_id": person_id,
                        "chat_id": 1_000_000 + person_id,
                        "kind": message_kind,
                        "text": text,
                        "buttons": buttons,
                        "followup_id": followup_id,
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": next_at,
                        "expires_at": expires,
                        "created_at": created,
                    }
                )
            conn.execute(outbox_t.insert(), rows)
        conn.execute(
            followup_t.update()
            .where(
                followup_t.c.status == "pending",
                followup_t.c.id.in_(sa.select(outbox_t.c.followup_id)),
            )
            .values(status="queued", attempts=1)
        )
        by_kind = {
            str(kind): int(n)
            for kind, n in conn.execute(
                sa.select(followup_t.c.kind, sa.func.count())
                .join(outbox_t, followup_t.c.id == outbox_t.c.followup_id)
                .group_by(followup_t.c.kind)
            )
        }
    engine.dispose()
    checkpoint(url)
    return by_kind


PYSPY = False  # --pyspy: sample with py-spy instead
PROFILE_DIR: Path | None = None  # --profile: cProfile stats of each child go there
CONFIGS = (("deliver", "null"), ("deliver", "telegram"), ("render", "-"))
ONLY: set[str] = set()  # --only: a subset of CONFIGS, e.g. {"deliver-null"}


async def run_config(
    part: str, kind: str, url: str, api: BenchStandIn, deadline: float, pin: bool, count: int = 0
) -> dict[str, Any]:
    before = api.counts["sendMessage"]
    env = {"BENCH_HTTP_COUNT": str(count)}
    if PROFILE_DIR is not None:
        PROFILE_DIR.mkdir(parents=True, exist_ok=True)
        database = url.split(":", 1)[0].split("+", 1)[0] if url != "-" else "none"
        name = f"{database}-{part}-{kind.strip('-') or 'x'}"
        variable = "BENCH_PYSPY" if PYSPY else "BENCH_PROFILE"
        env[variable] = str(PROFILE_DIR / f"{name}.{'pyspy' if PYSPY else 'prof'}")
    child = await Child.spawn(
        "bench._dispatch_child",
        part,
        kind,
        url,
        api.root_url,
        str(deadline),
        cpu=0 if pin else None,
        env=env,
    )
    try:
        await child.report("started", 120)
        parent_cpu, parent_wall = cpu_seconds(), time.perf_counter()
        result = (await child.report("result", deadline + 120))["result"]
        result["standin_cpu_s"] = cpu_seconds() - parent_cpu
        result["standin_wall_s"] = time.perf_counter() - parent_wall
    finally:
        await child.stop()
    result["http_sends"] = api.counts["sendMessage"] - before
    if part != "http":
        result["outbox"] = outbox_counts(url)
        if part == "render":  # claimed and then rendered (the rest was given back at the stop)
            result["rendered"] = sum(result["outbox"].values())
    return result


def halves(progress: list[list[float]], total: int) -> str:
    """Rate over the first and the second half of the rows sent (from the progress marks)."""
    if len(progress) < 4:
        return "-"
    middle = progress[len(progress) // 2 - 1]
    last = progress[-1]
    first_rate = middle[0] / middle[1]
    second_rate = (last[0] - middle[0]) / (last[1] - middle[1])
    return f"{first_rate:,.0f} / {second_rate:,.0f}"


class Databases:
    """A seeded template per database and throwaway copies of it."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.made: list[str] = []

    def new(self, prefix: str, template: str | None = None) -> str:
        if self.database == "sqlite":
            path = (
                sqlite_copy(Path(template.split("///", 1)[1]), prefix)
                if template
                else sqlite_path(prefix)
            )
            url = f"sqlite:///{path}"
        else:
            source = sa.make_url(template).database if template else None
            url = pg_create(bench_name(prefix), template=source)
        self.made.append(url)
        return url

    def drop(self, url: str) -> None:
        if self.database == "sqlite":
            sqlite_remove(Path(url.split("///", 1)[1]))
        else:
            database = sa.make_url(url).database
            assert database is not None
            pg_drop(database)
        self.made.remove(url)

    def drop_all(self) -> None:
        for url in list(self.made):
            self.drop(url)


async def main(people: int, deadline: float, databases: list[str], pin: bool) -> int:
    if pin:
        pin_to_cpu(1)
    api = BenchStandIn(keep_records=False)
    await api.start()
    results: list[tuple[str, str, str, int, dict[str, Any]]] = []
    by_kind: dict[str, int] = {}
    try:
        count = min(people, HTTP_ONLY_COUNT)
        result = await run_config("http", "-", "-", api, deadline, pin, count)
        results.append(("-", "PTB send_message only, 8 at a time", "-", count, result))
        print(f"http only: {result['sent'] / result['wall_s']:,.0f}/s", file=sys.stderr)
        for database in databases:
            dbs = Databases(database)
            try:
                now: datetime = utc_now()
                due_tpl = dbs.new("due-tpl")
                seeded = seed(due_tpl, people, now=now, mode="due_now")
                outbox_tpl = dbs.new("outbox-tpl", template=due_tpl)
                started = time.perf_counter()
                by_kind = prepare_outbox(outbox_tpl)
                print(
                    f"{database}: seeded {seeded.due:,} due in {seeded.seconds:.1f} s, outbox in "
                    f"{time.perf_counter() - started:.1f} s",
                    file=sys.stderr,
                )
                for part, kind in CONFIGS:
                    if ONLY and f"{part}-{kind}".strip("-") not in ONLY:
                        continue
                    url = dbs.new(
                        f"{part}-{kind}", template=outbox_tpl if part == "deliver" else due_tpl
                    )
                    try:
                        result = await run_config(part, kind, url, api, deadline, pin)
                    finally:
                        dbs.drop(url)
                    done = result["sent"] if part == "deliver" else result["rendered"]
                    print(
                        f"{database} {part} {kind}: {done:,} in {result['wall_s']:.1f} s = "
                        f"{done / result['wall_s']:,.0f}/s, rss {result['rss_peak_mb']:.0f} MB, "
                        f"outbox {result['outbox']}",
                        file=sys.stderr,
                    )
                    label = f"deliver, {kind}" if part == "deliver" else "render into the outbox"
                    results.append((database, label, part, seeded.due, result))
            finally:
                dbs.drop_all()
    finally:
        await api.stop()

    rows = []
    for database, label, part, due, r in results:
        done = r["rendered"] if part == "render" else r["sent"]
        rate = done / r["wall_s"]
        rows.append(
            [
                database,
                label,
                f"{due:,}",
                f"{done:,}" + (" (deadline)" if r["stopped_early"] else ""),
                f"{r['http_sends']:,}",
                f"{r['wall_s']:.1f}",
                f"**{rate:,.0f}**",
                halves(r.get("progress", []), done),
                f"{1000 * r['wall_s'] / max(1, done):.2f}",
                f"{1000 * r['cpu_s'] / max(1, done):.2f}",
                f"{r['cpu_s'] / r['wall_s']:.2f}",
                f"{r['standin_cpu_s'] / r['standin_wall_s']:.2f}",
                f"**{r['rss_peak_mb']:.0f}**",
            ]
        )
    print("## Delivery throughput through the outbox (unthrottled)\n")
    print(f"Command: `{module_command('bench.dispatch_throughput')}`  ")
    print(f"Machine: {machine_line()}  ")
    mix = ", ".join(f"{k} {v:,}" for k, v in sorted(by_kind.items()))
    print(
        f"{people:,} people, one follow-up each, rendered to one outbox row each ({mix}); child "
        f"pinned to CPU 0, stand-in on CPU 1; global rate 1,000,000/s, per-chat interval 0; "
        f"deadline {deadline:.0f} s per configuration.\n"
    )
    print(
        md_table(
            [
                "database",
                "what",
                "rows",
                "done",
                "HTTP sendMessage",
                "wall (s)",
                "per second",
                "1st / 2nd half (/s)",
                "ms each",
                "child CPU ms each",
                "child CPU/wall",
                "stand-in CPU/wall",
                "peak RSS (MB)",
            ],
            rows,
        )
    )
    print()
    for database, label, part, _, r in results:
        if part != "deliver":
            continue
        rate = r["sent"] / r["wall_s"]
        verdict = "met" if rate >= TARGET_PER_SECOND else "MISSED"
        print(
            f"Target (>= {TARGET_PER_SECOND:,} messages/s) on {database}, {label}: {verdict}: "
            f"{rate:,.0f}/s ({rate / TARGET_PER_SECOND:.0%} of target)."
        )
    return 0


def cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="10,000 rows, not 100,000")
    parser.add_argument("--people", type=int, default=None, help="override the number of rows")
    parser.add_argument(
        "--deadline", type=float, default=40.0, help="seconds before a run is stopped"
    )
    parser.add_argument("--db", default="sqlite,postgresql", help="comma-separated databases")
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    parser.add_argument(
        "--only",
        default=None,
        help="comma-separated subset of deliver-null, deliver-telegram, render (the PTB row stays)",
    )
    parser.add_argument(
        "--pyspy",
        type=Path,
        default=None,
        help="sample each child with py-spy (pip install py-spy) into this dir",
    )
    parser.add_argument(
        "--profile", type=Path, default=None, help="write each child's cProfile stats to this dir"
    )
    args = parser.parse_args()
    global PROFILE_DIR, PYSPY
    PROFILE_DIR = args.profile or args.pyspy
    PYSPY = args.pyspy is not None
    ONLY.update(x.strip() for x in (args.only or "").split(",") if x.strip())
    databases = [d.strip() for d in args.db.split(",") if d.strip()]
    if "postgresql" in databases and not pg_available():
        print("PostgreSQL is not reachable: skipping it", file=sys.stderr)
        databases.remove("postgresql")
    people = args.people or (10_000 if args.quick else 100_000)
    started = time.perf_counter()
    code = asyncio.run(main(people, args.deadline, databases, not args.no_pin))
    print(f"\n(benchmark wall time {time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(cli())
