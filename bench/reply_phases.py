"""Where one update's time goes in the pipeline: in-process, one person at a time, no HTTP.

    .venv/bin/python -m bench.reply_phases [--people N] [--db sqlite,postgresql]

Supporting evidence for bench/README.md (section 4). N people (50) each go through the same 12
steps as bench.reply_latency (/start, then 11 taps of onboarding and the symptom check), one
update after the other in this process: `CoachService.handle` (the unit of work that stores the
update and writes the outbox rows; the updates are Telegram-shaped and go through the adapter's
own `to_inbound`, see bench/_updates.py), then `Courier.deliver_chat(chat)` exactly as the runtime
calls it, with a sender that returns at once (no HTTP, no PTB). Timed, per update: handle, and
inside deliver_chat the claim (`outbox.claim` in its unit of work), each "sent" mark
(`Settling.sent`, one unit of work for the chat's rows) and the "what is still due" query
(`Courier._seconds_until_chat_due`), each where it runs (in the worker thread). Nothing runs
concurrently, so there is no lock waiting: this is the work itself. BENCH_EXPERIMENT=<names>
applies prototypes of proposed changes (bench/_experiments.py) to the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
from bench._updates import tap_inbound, text_inbound

TAPS = (
    "I agree",
    "UK (London)",
    "19:00",
    "None of these",
    "Lower back",
    "Today",
    "Lifting or bending",
    "6",
    "None of these",
    "None of these",
    "Under 50",
)


HANDLE = "handle (store + decide + outbox)"
DELIVER = "deliver_chat (claim, send, marks, query)"
INSIDE = ("claim", "sent marks (one unit per chat)", "still-due query")


class Keep:
    """A sender that returns at once and keeps each chat's latest question."""

    def __init__(self) -> None:
        self.ids = itertools.count(100)
        self.last: dict[int, Any] = {}

    async def send(self, message: Any) -> int:
        if message.kind == "text":
            self.last[message.chat_id] = message
        return next(self.ids)


async def measure(
    url: str, people: int, hand_off: bool
) -> tuple[dict[str, float], dict[str, float], int]:
    from coach.clock import SystemClock
    from coach.coaching.conversation import Coach
    from coach.content import load_content
    from coach.pipeline import courier as courier_module
    from coach.pipeline.courier import Courier
    from coach.pipeline.service import CoachService
    from coach.settings import Settings
    from coach.storage.database import create_db_engine

    seconds: dict[str, float] = defaultdict(float)
    calls: dict[str, float] = defaultdict(float)

    def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                seconds[name] += time.perf_counter() - started
                calls[name] += 1

        return wrapper

    settings = Settings(database_url=url)
    engine = create_db_engine(url)
    clock = SystemClock()
    coach = Coach(
        engine=engine, content=load_content(settings.content_dir), clock=clock, settings=settings
    )
    service = CoachService(coach=coach, clock=clock)
    sender = Keep()
    courier = Courier(
        engine=engine, sender=sender, clock=clock, on_blocked=lambda _: None, per_chat_interval=0
    )
    if os.environ.get("BENCH_EXPERIMENT"):  # prototypes of proposed changes (bench/_experiments)
        from bench._experiments import apply

        apply(courier)
    courier.settling.sent = timed("sent marks (one unit per chat)", courier.settling.sent)  # type: ignore[method-assign]
    courier._seconds_until_chat_due = timed(  # type: ignore[method-assign]
        "still-due query", courier._seconds_until_chat_due
    )
    original_claim = courier_module.outbox.claim
    courier_module.outbox.claim = timed("claim", original_claim)  # type: ignore[assignment]
    handle = timed(HANDLE, service.handle)
    update_ids = itertools.count(1)
    try:
        for person in range(people):
            chat = 7_000_001 + person
            lent = courier.new_hand_off() if hand_off else None
            handled = handle(text_inbound(chat, "/start", next(update_ids)), lent)
            started = time.perf_counter()
            await courier.deliver_chat(chat, handled.handed, lent)
            seconds[DELIVER] += time.perf_counter() - started
            for label in TAPS:
                question = sender.last[chat]
                lent = courier.new_hand_off() if hand_off else None
                handled = handle(
                    tap_inbound(chat, 5, question.text, question.buttons, label, next(update_ids)),
                    lent,
                )
                started = time.perf_counter()
                await courier.deliver_chat(chat, handled.handed, lent)
                seconds[DELIVER] += time.perf_counter() - started
    finally:
        courier_module.outbox.claim = original_claim  # type: ignore[assignment]
        engine.dispose()
    calls[DELIVER] = people * (len(TAPS) + 1)
    return seconds, calls, people * (len(TAPS) + 1)


async def main(people: int, databases: list[str]) -> int:
    rows = []
    paths = {"claim": False, "hand-off": True}
    for database in databases:
        for path_name, hand_off in paths.items():
            if database == "sqlite":
                path = sqlite_path("phases")
                url = f"sqlite:///{path}"
            else:
                name = bench_name("phases")
                url = pg_create(name)
            try:
                seed(url, 0, now=utc_now(), mode="due_now")  # the schema only
                seconds, calls, updates = await measure(url, people, hand_off)
            finally:
                if database == "sqlite":
                    sqlite_remove(Path(path))
                else:
                    pg_drop(name)
            total = seconds[HANDLE] + seconds[DELIVER]
            for phase in (HANDLE, DELIVER, *INSIDE):
                inside = phase in INSIDE
                rows.append(
                    [
                        database,
                        path_name,
                        ("  of which " if inside else "") + phase,
                        f"{calls[phase] / updates:.2f}",
                        f"**{1000 * seconds[phase] / updates:.2f}**",
                        f"{seconds[phase] / total:.0%}",
                    ]
                )
            rows.append(
                [
                    database,
                    path_name,
                    "**total per update**",
                    "",
                    f"**{1000 * total / updates:.2f}**",
                    "100%",
                ]
            )
    print("## Where one update's time goes (in-process, one at a time, no HTTP)\n")
    print(f"Command: `{module_command('bench.reply_phases')}`  ")
    print(f"Machine: {machine_line()}\n")
    print(f"{people} people x {len(TAPS) + 1} updates (the reply_latency conversation).\n")
    headers = ["database", "reply path", "phase", "calls per update", "ms per update", "share"]
    print(md_table(headers, rows))
    return 0


def cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--db", default="sqlite,postgresql", help="comma-separated databases")
    args = parser.parse_args()
    databases = [d.strip() for d in args.db.split(",") if d.strip()]
    if "postgresql" in databases and not pg_available():
        print("PostgreSQL is not reachable: skipping it", file=sys.stderr)
        databases.remove("postgresql")
    return asyncio.run(main(args.people, databases))


if __name__ == "__main__":
    sys.exit(cli())
