"""Scale of scheduling: start-up time and peak RSS with 1,000 / 10,000 / 100,000 people.

    .venv/bin/python -m bench.scale_startup [--quick] [--reps N]

For each size a SQLite database is seeded directly (bulk inserts): people with zone, check-in
time and consent, an ACTIVE episode each, and their four pending follow-ups for the next local
day (morning plan, two nudges, check-in) with the due instants the coach's planner computes.

Each start runs in a fresh child process (bench/_startup_child.py) against the Bot API stand-in
on loopback, hosted by this process. Two designs, same database, same machine, same run:

* ours: `build_application` as `coach run` does it; follow-ups stay rows in the database, the job
  queue holds one repeating dispatch job whatever the number of people.
* naive: the same application plus what a PTB user writes first: load every person with an
  active plan and add one `job_queue.run_daily(callback, time=<check-in time, tz-aware in the
  person's zone>, days=every day)` job per person, before the application starts.

Timed: from just before the child is spawned to the coach's own Poller running, after
initialize + post_init (getMe, setMyCommands), application.start() (job queue started) and
deleteWebhook, in the order `coach run` does them: the bot takes updates and runs jobs. Peak
RSS is `ru_maxrss` of the child, read 1.5 s after ready (after the first dispatch tick); the
kernel's VmHWM is shown beside it as a cross-check. The child's CPU time (user + system) up to
ready is shown too: unlike the wall time it does not grow when other processes share the CPUs.
Quick mode: 1,000 and 10,000 people only.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from bench._common import (
    BenchStandIn,
    Child,
    machine_line,
    md_table,
    module_command,
    seed,
    sqlite_path,
    sqlite_remove,
    utc_now,
)

TARGET_SECONDS = 2.0
TARGET_MB = 150.0


async def start_once(design: str, url: str, api: BenchStandIn, timeout: float) -> dict[str, Any]:
    child = await Child.spawn("bench._startup_child", design, url, api.root_url)
    try:
        result = await child.report("marks", timeout)
    finally:
        await child.stop()
    marks = result["marks"]
    t0 = child.spawned_at

    def span(a: str, b: str) -> float:
        return marks[b] - marks[a] if a in marks and b in marks else 0.0

    return {
        "ready": marks["ready"] - t0,
        "python": marks["child_first_line"] - t0,
        "imports": span("child_first_line", "imported"),
        "migrate": span("imported", "migrated"),
        "build": span("migrated", "built"),
        "schedule": span("built", "scheduled"),
        "initialize": span("scheduled" if "scheduled" in marks else "built", "initialized"),
        "start": span("initialized", "started"),
        "polling": span("started", "ready"),
        "cpu": result["cpu_ready_s"],
        "jobs": result["jobs_in_queue"],
        "rss": result["rss_peak_mb"],
        "rss_ready": result["rss_ready_mb"],
        "hwm": result["vm_hwm_mb"],
    }


async def main(quick: bool, reps: int) -> int:
    sizes = [1_000, 10_000] if quick else [1_000, 10_000, 100_000]
    api = BenchStandIn(keep_records=False)
    await api.start()
    rows: list[list[object]] = []
    results: dict[tuple[int, str], dict[str, Any]] = {}
    seeded_info: list[str] = []
    try:
        for people in sizes:
            path = sqlite_path(f"startup-{people}")
            url = f"sqlite:///{path}"
            try:
                seeded = seed(url, people, now=utc_now(), mode="next_day")
                seeded_info.append(
                    f"{people:,} people: {seeded.followups:,} pending follow-ups "
                    f"(seeded in {seeded.seconds:.1f} s)"
                )
                print(f"seeded {seeded_info[-1]}", file=sys.stderr)
                for design in ("ours", "naive"):
                    runs = reps if (design == "ours" or people < 100_000) else 1
                    attempts = [
                        await start_once(design, url, api, timeout=240) for _ in range(runs)
                    ]
                    attempts.sort(key=lambda r: r["ready"])
                    median = attempts[len(attempts) // 2]
                    median["runs"] = runs
                    median["spread"] = (attempts[0]["ready"], attempts[-1]["ready"])
                    results[(people, design)] = median
                    print(
                        f"{people:>7} {design:5} ready={median['ready']:.2f}s "
                        f"rss={median['rss']:.0f}MB",
                        file=sys.stderr,
                    )
            finally:
                sqlite_remove(path)
    finally:
        await api.stop()

    for (people, design), r in results.items():
        rows.append(
            [
                f"{people:,}",
                design,
                f"**{r['ready']:.2f}**",
                f"{r['spread'][0]:.2f}-{r['spread'][1]:.2f} ({r['runs']})",
                f"{r['cpu']:.2f}",
                f"{r['python'] + r['imports']:.2f}",
                f"{r['migrate']:.2f}",
                f"{r['build']:.2f}",
                f"{r['schedule']:.2f}" if design == "naive" else "-",
                f"{r['initialize']:.2f}",
                f"{r['start']:.2f}",
                f"{r['polling']:.2f}",
                f"{r['jobs']:,}",
                f"**{r['rss']:.0f}**",
                f"{r['hwm']:.0f}",
            ]
        )
    print("## Scale of scheduling: start-up time and peak memory\n")
    print(f"Command: `{module_command('bench.scale_startup')}`  ")
    print(f"Machine: {machine_line()}  ")
    print("Database: SQLite file; " + "; ".join(seeded_info) + "\n")
    print(
        md_table(
            [
                "people",
                "design",
                "ready (s)",
                "min-max (runs)",
                "child CPU to ready (s)",
                "python+imports",
                "migrate",
                "build_application",
                "load+run_daily",
                "initialize+post_init",
                "start (job queue)",
                "deleteWebhook+Poller",
                "jobs in queue",
                "peak RSS (MB)",
                "VmHWM (MB)",
            ],
            rows,
        )
    )
    print()
    biggest = max(sizes)
    ours = results[(biggest, "ours")]
    naive = results[(biggest, "naive")]
    smallest = results[(min(sizes), "ours")]
    ok = ours["ready"] <= TARGET_SECONDS and ours["rss"] <= TARGET_MB
    print(
        f"Target (ours at {biggest:,} people: <= {TARGET_SECONDS:.0f} s and <= {TARGET_MB:.0f} MB, "
        f"flat): {'met' if ok else 'MISSED'}: {ours['ready']:.2f} s, {ours['rss']:.0f} MB "
        f"(at {min(sizes):,}: {smallest['ready']:.2f} s, {smallest['rss']:.0f} MB). "
        f"Naive at {biggest:,}: {naive['ready']:.2f} s ({naive['ready'] / ours['ready']:.1f}x), "
        f"{naive['rss']:.0f} MB ({naive['rss'] / ours['rss']:.1f}x)."
    )
    return 0


def cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="1,000 and 10,000 people only")
    parser.add_argument("--reps", type=int, default=3, help="starts per size and design (median)")
    args = parser.parse_args()
    started = time.perf_counter()
    code = asyncio.run(main(args.quick, max(1, args.reps)))
    print(f"\n(benchmark wall time {time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(cli())
