"""Sending under Telegram's global limit: achieved rate and 429s received.

    .venv/bin/python -m bench.rate_limited [--quick] [--count N] [--no-baseline]

The stand-in answers 429 (retry_after=1) to a sendMessage beyond 30 accepted in the last rolling
second (`api.rate_limit(30)`), like Telegram's ~30 messages/s per bot. The bot is the coach's
real `build_application` (AIORateLimiter(overall_max_rate=1, overall_time_period=1/30,
max_retries=0) from the default `global_rate_per_second=30`; per-chat interval 1 s; the
dispatch job every 15 s, first after 0.5 s), started in a child process as `coach run` starts
it, over a SQLite file seeded with 600 follow-ups (200 with --quick) due 30 s ago (four kinds in
turn, one per person). The dispatcher renders them into the outbox and the courier sends them,
8 chats at a time, through that limiter.

Measured by the stand-in, in this process: the instants of accepted sendMessage calls and the
429s it answered. Achieved rate = (accepted - 1) / (last accepted - first accepted); the largest
number accepted in any rolling second shows the bursts. The run ends when every follow-up was
accepted, or after a deadline.

Baseline, same run (unless --no-baseline): the same bot with the limiter the coach had before,
`AIORateLimiter(overall_max_rate=30, overall_time_period=1)` (a bucket of 30), swapped in.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import sys
import time
from typing import Any

from bench._common import (
    BenchStandIn,
    Child,
    machine_line,
    md_table,
    module_command,
    outbox_counts,
    seed,
    sqlite_path,
    sqlite_remove,
    status_counts,
    utc_now,
)

TELEGRAM_LIMIT = 30
TARGET_RATE = 29.0


def max_in_window(times: list[float], window: float = 1.0) -> int:
    best = 0
    for i, t in enumerate(times):
        j = bisect.bisect_left(times, t + window)
        best = max(best, j - i)
    return best


async def run_variant(count: int, deadline: float, bucket: int | None) -> dict[str, Any]:
    """One run with a fresh stand-in and database; `bucket`: the baseline limiter."""
    api = BenchStandIn()
    await api.start()
    api.rate_limit(TELEGRAM_LIMIT)
    path = sqlite_path("rate")
    url = f"sqlite:///{path}"
    args = ["coach", url, api.root_url] + (["--bucket", str(bucket)] if bucket else [])
    try:
        seeded = seed(url, count, now=utc_now(), mode="due_now")
        child = await Child.spawn("bench._bot_child", *args)
        try:
            await child.report("ready", 60)
            started = time.monotonic()
            while api.counts["sendMessage"] < seeded.due and time.monotonic() - started < deadline:
                await asyncio.sleep(0.05)
            finished = time.monotonic()
            await asyncio.sleep(0.5)  # nothing more should arrive
            final = (await asyncio.gather(child.stop(), child.report("final", 60)))[1]["final"]
        except BaseException:
            await child.stop()
            raise
        statuses = status_counts(url)
        outbox = outbox_counts(url)
    finally:
        sqlite_remove(path)
        await api.stop()
    times = list(api.send_times)
    accepted = len(times)
    span = times[-1] - times[0] if accepted > 1 else float("nan")
    return {
        "due": seeded.due,
        "accepted": accepted,
        "rejected": api.rejected_429,
        "rate": (accepted - 1) / span if accepted > 1 else 0.0,
        "overall": accepted / (times[-1] - started) if accepted else 0.0,
        "burst": max_in_window(times),
        "span": span,
        "took": finished - started,
        "statuses": statuses,
        "outbox": outbox,
        "rss": final["rss_peak_mb"],
    }


async def main(count: int, deadline: float, baseline: bool) -> int:
    variants: list[tuple[str, int | None]] = [("coach: build_application as is", None)]
    if baseline:
        variants.append((f"baseline: the limiter before, a bucket of {TELEGRAM_LIMIT}", 30))
    results = []
    for label, bucket in variants:
        result = await run_variant(count, deadline, bucket)
        print(f"{label}: {result['rate']:.1f}/s, {result['rejected']} x 429", file=sys.stderr)
        results.append((label, result))
    print("## Rate-limited sending (stand-in limit: 30 sendMessage per rolling second)\n")
    print(f"Command: `{module_command('bench.rate_limited')}`  ")
    print(f"Machine: {machine_line()}\n")
    rows = []
    for label, r in results:
        rows.append(
            [
                label,
                f"{r['due']:,}",
                f"{r['accepted']:,}" + ("" if r["accepted"] >= r["due"] else " (deadline)"),
                f"**{r['rejected']}**",
                f"**{r['rate']:.2f}**",
                f"{r['overall']:.1f}",
                r["burst"],
                f"{r['span']:.1f}",
                f"{r['statuses'].get('sent', 0)} / "
                f"{sum(n for k, n in r['outbox'].items() if k != 'sent')}",
                f"{r['rss']:.0f}",
            ]
        )
    print(
        md_table(
            [
                "limiter",
                "due",
                "accepted",
                "429s received",
                "achieved rate (msg/s)",
                "from start (msg/s)",
                "max in a rolling second",
                "span (s)",
                "follow-ups sent / outbox rows not sent",
                "bot peak RSS (MB)",
            ],
            rows,
        )
    )
    print()
    for label, r in results:
        met = r["rate"] >= TARGET_RATE and r["rejected"] == 0
        print(
            f"Target (>= {TARGET_RATE:.0f} msg/s with zero 429s), {label}: "
            f"{'met' if met else 'MISSED'}: {r['rate']:.2f} msg/s, {r['rejected']} x 429 "
            f"(run took {r['took']:.1f} s)."
        )
    return 0


def cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="200 follow-ups, not 600")
    parser.add_argument("--count", type=int, default=None, help="follow-ups due")
    parser.add_argument("--deadline", type=float, default=120.0, help="seconds before giving up")
    parser.add_argument(
        "--no-baseline", action="store_true", help="run only the coach's own limiter"
    )
    args = parser.parse_args()
    count = args.count or (200 if args.quick else 600)
    started = time.perf_counter()
    code = asyncio.run(main(count, args.deadline, not args.no_baseline))
    print(f"\n(benchmark wall time {time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(cli())
