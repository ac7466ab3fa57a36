"""Dispatch throughput: due follow-ups sent per second by the real Dispatcher, on one core.

    .venv/bin/python -m bench.dispatch_throughput [--quick] [--deadline S] [--db sqlite,postgresql]

100,000 people (10,000 with --quick) each have one follow-up due 30 s ago (morning plan, walk
nudge, care nudge and check-in in turn: a day's mix), seeded directly into a fresh database
(SQLite file, and PostgreSQL 15 on 127.0.0.1 when reachable). Each configuration runs in a fresh
child process (bench/_dispatch_child.py) pinned to one CPU; this process hosts the Bot API
stand-in on loopback, pinned to the other CPU (on a 2-core machine the stand-in has a core of
its own, as Telegram would).

Senders:
* telegram: the coach's TelegramSender over a bare PTB Application built with
  `ApplicationBuilder().token(..).base_url(<stand-in>).build()` (no rate limiter: the stand-in
  has no rate limit here), sending one sendMessage per follow-up over HTTP;
* null: a sender that returns a message id at once: the database and rendering cost alone.
* PTB send_message only (once, no database, no dispatcher): 10,000 plain send_message calls one
  after another through the same kind of bare Application: the HTTP client's own ceiling.

Timed: `Dispatcher.run_once()` from its call to its return (claim, prepare, send, mark sent for
every row). A configuration that has not finished after --deadline seconds is stopped (the row
in hand is finished, the rest released), so the benchmark ends by itself; its rate is over the
rows it sent. Peak RSS: `ru_maxrss` of the child (VmHWM as cross-check).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from bench._common import (
    BenchStandIn,
    Child,
    bench_name,
    machine_line,
    md_table,
    module_command,
    pg_available,
    pg_create,
    pg_drop,
    pin_to_cpu,
    seed,
    sqlite_copy,
    sqlite_path,
    sqlite_remove,
    status_counts,
    utc_now,
)

TARGET_PER_SECOND = 1_000
HTTP_ONLY_COUNT = 10_000


async def run_config(
    kind: str, url: str, api: BenchStandIn, deadline: float, pin: bool, count: int = 0
) -> dict[str, Any]:
    before = api.counts["sendMessage"]
    child = await Child.spawn(
        "bench._dispatch_child",
        kind,
        url,
        api.base_url,
        str(deadline),
        cpu=0 if pin else None,
        env={"BENCH_HTTP_COUNT": str(count)},
    )
    try:
        result = (await child.report("result", deadline + 120))["result"]
    finally:
        await child.stop()
    result["http_sends"] = api.counts["sendMessage"] - before
    if kind != "http":
        result["statuses"] = status_counts(url)
    return result


async def main(
    people: int, deadline: float, databases: list[str], pin: bool, kinds: list[str] | None
) -> int:
    if pin:
        pin_to_cpu(1)
    api = BenchStandIn(keep_records=False)
    await api.start()
    results: list[tuple[str, str, int, dict[str, Any]]] = []
    try:
        count = min(people, HTTP_ONLY_COUNT)
        result = await run_config("http", "sqlite://", api, deadline, pin, count)
        results.append(("-", "PTB send_message only", count, result))
        print(f"http only: {result['sent'] / result['wall_s']:,.0f}/s", file=sys.stderr)
        for database in databases:
            now = utc_now()
            if database == "sqlite":
                template = sqlite_path("dispatch-template")
                seeded = seed(f"sqlite:///{template}", people, now=now, mode="due_now", kinds=kinds)
            else:
                template_name = bench_name("tpl")
                seeded = seed(
                    pg_create(template_name), people, now=now, mode="due_now", kinds=kinds
                )
            print(
                f"{database}: seeded {seeded.due:,} due in {seeded.seconds:.1f} s", file=sys.stderr
            )
            try:
                for kind in ("null", "telegram"):
                    if database == "sqlite":
                        copy = sqlite_copy(template, f"dispatch-{kind}")
                        url = f"sqlite:///{copy}"
                    else:
                        name = bench_name(kind)
                        url = pg_create(name, template=template_name)
                    try:
                        result = await run_config(kind, url, api, deadline, pin)
                    finally:
                        if database == "sqlite":
                            sqlite_remove(Path(copy))
                        else:
                            pg_drop(name)
                    rate = result["sent"] / result["wall_s"]
                    print(
                        f"{database} {kind}: sent {result['sent']:,} in {result['wall_s']:.1f} s "
                        f"= {rate:,.0f}/s, rss {result['rss_peak_mb']:.0f} MB",
                        file=sys.stderr,
                    )
                    results.append((database, kind, seeded.due, result))
            finally:
                if database == "sqlite":
                    sqlite_remove(template)
                else:
                    pg_drop(template_name)
    finally:
        await api.stop()

    rows = []
    for database, kind, due, r in results:
        rate = r["sent"] / r["wall_s"]
        rows.append(
            [
                database,
                kind,
                f"{due:,}",
                f"{r['sent']:,}" + (" (deadline)" if r["stopped_early"] else ""),
                f"{r['http_sends']:,}",
                f"{r['wall_s']:.1f}",
                f"**{rate:,.0f}**",
                f"{1000 * r['wall_s'] / max(1, r['sent']):.2f}",
                f"{r['cpu_s'] / r['wall_s']:.2f}",
                f"**{r['rss_peak_mb']:.0f}**",
                f"{r['vm_hwm_mb']:.0f}",
            ]
        )
    print("## Dispatch throughput (no rate limit)\n")
    print(f"Command: `{module_command('bench.dispatch_throughput')}`  ")
    print(f"Machine: {machine_line()}  ")
    mix = ", ".join(kinds) if kinds else "4 kinds in turn"
    print(
        f"{people:,} people, one follow-up each due ({mix}); dispatcher child pinned to CPU 0, "
        f"stand-in on CPU 1; deadline {deadline:.0f} s per configuration.\n"
    )
    print(
        md_table(
            [
                "database",
                "sender",
                "due",
                "sent",
                "HTTP sendMessage",
                "wall (s)",
                "follow-ups/s",
                "ms each",
                "child CPU/wall",
                "peak RSS (MB)",
                "VmHWM (MB)",
            ],
            rows,
        )
    )
    print()
    for database, kind, _, r in results:
        if kind != "telegram":
            continue
        rate = r["sent"] / r["wall_s"]
        verdict = "met" if rate >= TARGET_PER_SECOND else "MISSED"
        print(
            f"Target (>= {TARGET_PER_SECOND:,}/s on one core) on {database}: {verdict}: "
            f"{rate:,.0f}/s ({rate / TARGET_PER_SECOND:.0%} of target)."
        )
    return 0


def cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="10,000 follow-ups, not 100,000")
    parser.add_argument("--people", type=int, default=None, help="override the number due")
    parser.add_argument(
        "--deadline", type=float, default=40.0, help="seconds before a run is stopped"
    )
    parser.add_argument("--db", default="sqlite,postgresql", help="comma-separated databases")
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    parser.add_argument(
        "--kinds",
        default=None,
        help="comma-separated follow-up kinds due (default: the four daily kinds in turn)",
    )
    args = parser.parse_args()
    databases = [d.strip() for d in args.db.split(",") if d.strip()]
    if "postgresql" in databases and not pg_available():
        print("PostgreSQL is not reachable: skipping it", file=sys.stderr)
        databases.remove("postgresql")
    people = args.people or (10_000 if args.quick else 100_000)
    started = time.perf_counter()
    kinds = args.kinds.split(",") if args.kinds else None
    code = asyncio.run(main(people, args.deadline, databases, not args.no_pin, kinds))
    print(f"\n(benchmark wall time {time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(cli())
