"""Handling cost: complete check-in conversations through the real bot vs a bare PTB echo bot.

    .venv/bin/python -m bench.handling_cost [--quick] [--people N]

Coach: N people (300; 100 with --quick) are seeded onboarded, with an ACTIVE plan (day 2) and a
check-in due; the coach's real `build_application` runs in a child process, polling the Bot API
stand-in hosted by this process, and its dispatch job sends the N check-ins. Then, timed, every
person answers the check-in by taps, each tap waiting for the bot's next question: "None of
these", pain "4", "Same", "Ice/heat and walks" (4 callback queries per person; the last one is
answered by the thanks and the menu). All N people tap concurrently, as real users would.

Echo: a bare PTB Application (CommandHandler, MessageHandler, CallbackQueryHandler, each replying
with one send_message that carries a button) gets the same N x 4 taps the same way, after having
sent each chat a first message. Echo3 answers each tap with the same three Bot API calls as the
coach (answerCallbackQuery, editMessageText, sendMessage) but no logic or database: it separates
the cost of the extra calls from the cost of the coach itself.

Timed: from the first tap to the bot's answer to the last one, measured here (wall clock). Bot CPU
is the child's user+system CPU over the same interval. The coach's global rate limit is raised to
100,000/s for this run so that Telegram's 30 msg/s (bench.rate_limited) does not hide the handling
cost; its AIORateLimiter is still in the path. Its per-chat pacing (1 s between two messages to
one chat) is set to 0 here: with it, every tap's edit and next question would be a second apart
and the run would measure the pacing (bench.reply_latency shows that). Database: a SQLite file
(the default deployment). The three bots run in turn, --reps times (3; 1 with --quick), and the
median run of each counts.

Last row, for attribution: the same N x 4 taps straight into `CoachService.handle` in this
process (no Telegram, no PTB, no courier; the check-ins rendered by the service's own
`render_followups`; the taps Telegram-shaped, through the adapter's `to_inbound`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

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
from bench._updates import tap_inbound
from tests.support.botapi_standin import SentMessage

FIRST_CHAT = 1_000_001  # seed(): telegram ids are 1_000_000 + person id
COACH_TAPS = ("None of these", "4", "Same", "Ice/heat and walks")
ECHO_TAPS = ("Next", "Next", "Next", "Next")
TARGET_RATIO = 2.0
UNLIMITED = "100000"


async def next_with(api: BenchStandIn, chat: int, label: str | None) -> SentMessage:
    """The chat's next message offering a button `label` (any message when None)."""
    while True:
        message = await api.queues[chat].get()
        if label is None or any(label in text for text, _ in message.buttons()):
            return message


async def converse(api: BenchStandIn, chat: int, taps: tuple[str, ...]) -> None:
    message = await next_with(api, chat, taps[0])
    for index, label in enumerate(taps):
        api.user_taps(chat, message.message_id, message.button_data(label))
        following = taps[index + 1] if index + 1 < len(taps) else None
        message = await next_with(api, chat, following)


async def run_bot(mode: str, people: int, timeout: float) -> dict[str, Any]:
    api = BenchStandIn(keep_records=False)
    api.listen = True
    await api.start()
    path = sqlite_path("handling")
    try:
        if mode == "coach":
            url = f"sqlite:///{path}"
            seed(url, people, now=utc_now(), mode="due_now", kinds=["checkin"])
            child = await Child.spawn(
                "bench._bot_child",
                "coach",
                url,
                api.root_url,
                "--rate",
                UNLIMITED,
                "--per-chat",
                "0",
            )
            taps = COACH_TAPS
        else:
            child = await Child.spawn("bench._bot_child", mode, str(people), api.root_url)
            taps = ECHO_TAPS
        try:
            await child.report("ready", 60)
            deadline = time.monotonic() + 120
            while api.counts["sendMessage"] < people:  # the check-ins / first messages
                if time.monotonic() > deadline:
                    raise RuntimeError(f"only {api.counts['sendMessage']} first messages arrived")
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)
            before = dict(api.counts)
            await child.send("mark")
            mark0 = (await child.report("mark", 30, nth=0))["mark"]
            started = time.perf_counter()
            await asyncio.wait_for(
                asyncio.gather(
                    *(converse(api, chat, taps) for chat in range(FIRST_CHAT, FIRST_CHAT + people))
                ),
                timeout,
            )
            wall = time.perf_counter() - started
            await child.send("mark")
            mark1 = (await child.report("mark", 30, nth=1))["mark"]
            calls = {k: api.counts[k] - before.get(k, 0) for k in api.counts}
            stopped = await asyncio.gather(child.stop(), child.report("final", 60))
            final = stopped[1]["final"]
        except BaseException:
            await child.stop()
            raise
    finally:
        sqlite_remove(path)
        await api.stop()
    updates = people * len(taps)
    answers = len(api._open_callback_ids)  # unanswered queries left (echo does not answer)
    return {
        "wall": wall,
        "updates": updates,
        "cpu": mark1["cpu_s"] - mark0["cpu_s"],
        "calls": calls,
        "unanswered": answers,
        "rss": final["rss_peak_mb"],
    }


async def coach_logic_only(people: int) -> dict[str, Any]:
    """The same taps straight into `CoachService.handle(Inbound(...))`, in this process: no
    Telegram, no PTB, no courier (the outbox rows are written, not sent).

    The check-ins are rendered by the service's own dispatcher step (`render_followups`); after
    each tap the next question's buttons are read back from the outbox (untimed)."""
    from coach.clock import SystemClock
    from coach.coaching.conversation import Coach
    from coach.content import load_content
    from coach.pipeline.service import CoachService
    from coach.settings import Settings
    from coach.storage.database import create_db_engine

    def latest_question(engine: Any, chat: int) -> tuple[str, Any]:
        with engine.connect() as conn:
            text, buttons = conn.execute(
                sa.text(
                    "select text, buttons from outbox_message where chat_id = :c and kind = 'text' "
                    "order by id desc limit 1"
                ),
                {"c": chat},
            ).one()
            conn.rollback()
        return text, json.loads(buttons) if isinstance(buttons, str) else buttons

    path = sqlite_path("logic")
    url = f"sqlite:///{path}"
    try:
        seed(url, people, now=utc_now(), mode="due_now", kinds=["checkin"])
        settings = Settings(database_url=url)
        engine = create_db_engine(url)
        clock = SystemClock()
        coach = Coach(
            engine=engine,
            content=load_content(settings.content_dir),
            clock=clock,
            settings=settings,
        )
        service = CoachService(coach=coach, clock=clock)
        token, ids = service.claim_due_followups(
            owner="bench", lease=timedelta(minutes=10), limit=people
        )
        service.render_followups(ids, token)
        per_tap = dict.fromkeys(COACH_TAPS, 0.0)
        update_ids = iter(range(1, 10 * people * len(COACH_TAPS)))
        for chat in range(FIRST_CHAT, FIRST_CHAT + people):
            for label in COACH_TAPS:
                text, buttons = latest_question(engine, chat)
                inbound = tap_inbound(chat, 1, text, buttons, label, next(update_ids))
                started = time.perf_counter()
                service.handle(inbound)
                per_tap[label] += time.perf_counter() - started
        engine.dispose()
    finally:
        sqlite_remove(path)
    return {
        "updates": people * len(COACH_TAPS),
        "wall": sum(per_tap.values()),
        "per_tap_ms": {k: 1000 * v / max(1, people) for k, v in per_tap.items()},
    }


async def main(people: int, timeout: float, reps: int) -> int:
    modes = ("coach", "echo", "echo3")
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
    for rep in range(reps):
        for mode in modes:  # interleaved, so a slow spell of the machine hits all three
            result = await run_bot(mode, people, timeout)
            runs[mode].append(result)
            print(
                f"rep {rep + 1} {mode}: {result['updates']} updates in {result['wall']:.2f} s",
                file=sys.stderr,
            )
    results = {
        mode: sorted(runs[mode], key=lambda r: r["wall"])[len(runs[mode]) // 2] for mode in modes
    }
    labels = {
        "coach": "coach (build_application)",
        "echo": "PTB echo: 1 sendMessage",
        "echo3": "PTB echo3: answer+edit+send",
    }
    rows = []
    for mode, r in results.items():
        calls = r["calls"]
        walls = sorted(x["wall"] for x in runs[mode])
        rows.append(
            [
                labels[mode],
                f"{r['updates']:,}",
                f"**{r['wall']:.2f}**",
                f"{walls[0]:.2f}-{walls[-1]:.2f} ({len(walls)})",
                f"{r['updates'] / r['wall']:.0f}",
                f"{1000 * r['wall'] / r['updates']:.2f}",
                f"{1000 * r['cpu'] / r['updates']:.2f}",
                f"{calls.get('sendMessage', 0) / r['updates']:.2f} / "
                f"{calls.get('editMessageText', 0) / r['updates']:.2f}",
                f"**{r['wall'] / results['echo']['wall']:.2f}x**",
                f"{r['rss']:.0f}",
            ]
        )
    logic = await coach_logic_only(people)
    echo_ms = 1000 * results["echo"]["wall"] / results["echo"]["updates"]
    logic_ms = 1000 * logic["wall"] / logic["updates"]
    rows.append(
        [
            "coach logic only: CoachService.handle in-process",
            f"{logic['updates']:,}",
            f"{logic['wall']:.2f}",
            "(1)",
            f"{logic['updates'] / logic['wall']:.0f}",
            f"{logic_ms:.2f}",
            "-",
            "-",
            f"({logic_ms / echo_ms:.2f}x)",
            "-",
        ]
    )
    steps = ", ".join(f"{label!r} {ms:.2f} ms" for label, ms in logic["per_tap_ms"].items())
    print("## Handling cost: check-in conversations vs a bare PTB echo bot\n")
    print(f"Command: `{module_command('bench.handling_cost')}`  ")
    print(f"Machine: {machine_line()}  ")
    print(
        f"{people:,} people x 4 taps, all people concurrently; bot in a child process, stand-in "
        f"and driver in the parent; SQLite; median of {reps} interleaved run(s).\n"
    )
    print(
        md_table(
            [
                "bot",
                "updates",
                "wall (s)",
                "min-max (runs)",
                "updates/s",
                "ms per update",
                "bot CPU ms per update",
                "sendMessage / editMessageText per update",
                "wall vs echo",
                "bot peak RSS (MB)",
            ],
            rows,
        )
    )
    print(f"\nCoach logic per tap (in-process, no Telegram): {steps}.\n")
    ratio = results["coach"]["wall"] / results["echo"]["wall"]
    ratio3 = results["coach"]["wall"] / results["echo3"]["wall"]
    print(
        f"Target (coach <= {TARGET_RATIO:.0f}x the echo bot's wall time): "
        f"{'met' if ratio <= TARGET_RATIO else 'MISSED'}: {ratio:.2f}x "
        f"({ratio3:.2f}x an echo bot making the same Bot API calls)."
    )
    return 0


def cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="100 people and one run, not 300 x 3")
    parser.add_argument("--people", type=int, default=None, help="people (4 taps each)")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per bot")
    parser.add_argument("--reps", type=int, default=None, help="interleaved runs (median)")
    args = parser.parse_args()
    people = args.people or (100 if args.quick else 300)
    reps = args.reps or (1 if args.quick else 3)
    started = time.perf_counter()
    code = asyncio.run(main(people, args.timeout, max(1, reps)))
    print(f"\n(benchmark wall time {time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(cli())
