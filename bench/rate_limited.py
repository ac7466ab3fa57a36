"""Sending under Telegram's global limit: achieved rate and 429s received.

    .venv/bin/python -m bench.rate_limited [--quick] [--count N]

The stand-in answers 429 (retry_after=1) to a sendMessage beyond 30 accepted in the last rolling
second (`api.rate_limit(30)`), like Telegram's ~30 messages/s per bot. The bot is the coach's
real `build_application` (AIORateLimiter with overall_max_rate=settings.global_rate_per_second,
default 30, overall_time_period=1, max_retries=0; the dispatch job every 15 s, first after
0.5 s), started in a child process as `run_polling` starts it, over a SQLite file seeded with
600 follow-ups (200 with --quick) due 30 s ago (four kinds in turn).

Measured by the stand-in, in this process: the instants of accepted sendMessage calls and the
429s it answered. Achieved rate = (accepted - 1) / (last accepted - first accepted); the largest
number accepted in any rolling second shows the bursts. The run ends when every follow-up was
accepted, or after a deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import sys
import time

from bench._common import (
    BenchStandIn,
    Child,
    machine_line,
    md_table,
    module_command,
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


async def main(count: int, deadline: float) -> int:
    api = BenchStandIn()
    await api.start()
    api.rate_limit(TELEGRAM_LIMIT)
    path = sqlite_path("rate")
    url = f"sqlite:///{path}"
    try:
        seeded = seed(url, count, now=utc_now(), mode="due_now")
        child = await Child.spawn("bench._bot_child", "coach", url, api.root_url)
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
    finally:
        sqlite_remove(path)
        await api.stop()

    times = list(api.send_times)
    accepted = len(times)
    span = times[-1] - times[0] if accepted > 1 else float("nan")
    rate = (accepted - 1) / span if accepted > 1 else 0.0
    overall = accepted / (times[-1] - started) if accepted else 0.0
    rejected = api.rejected_429
    print("## Rate-limited sending (stand-in limit: 30 sendMessage per rolling second)\n")
    print(f"Command: `{module_command('bench.rate_limited')}`  ")
    print(f"Machine: {machine_line()}\n")
    print(
        md_table(
            [
                "due",
                "accepted",
                "429s received",
                "achieved rate (msg/s)",
                "incl. first tick (msg/s)",
                "max in a rolling second",
                "span (s)",
                "rows sent / retried later",
                "bot peak RSS (MB)",
            ],
            [
                [
                    f"{seeded.due:,}",
                    f"{accepted:,}" + ("" if accepted >= seeded.due else " (deadline)"),
                    f"**{rejected}**",
                    f"**{rate:.1f}**",
                    f"{overall:.1f}",
                    max_in_window(times),
                    f"{span:.1f}",
                    f"{statuses.get('sent', 0)} / {statuses.get('claimed', 0)}",
                    f"{final['rss_peak_mb']:.0f}",
                ]
            ],
        )
    )
    print()
    met = rate >= TARGET_RATE and rejected == 0
    print(
        f"Target (>= {TARGET_RATE:.0f} msg/s with zero 429s): {'met' if met else 'MISSED'}: "
        f"{rate:.1f} msg/s, {rejected} x 429 (run took {finished - started:.1f} s)."
    )
    return 0


def cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="200 follow-ups, not 600")
    parser.add_argument("--count", type=int, default=None, help="follow-ups due")
    parser.add_argument("--deadline", type=float, default=120.0, help="seconds before giving up")
    args = parser.parse_args()
    count = args.count or (200 if args.quick else 600)
    started = time.perf_counter()
    code = asyncio.run(main(count, args.deadline))
    print(f"\n(benchmark wall time {time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(cli())
