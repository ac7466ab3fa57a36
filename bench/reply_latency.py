"""Reply latency: tap -> next question, with 200 people conversing at once while follow-ups go out.

    .venv/bin/python -m bench.reply_latency [--quick] [--people N] [--think MIN,MAX]
        [--followup-rate R] [--db sqlite,postgresql]

Each of N people (200; 10 with --quick) goes through the coach's onboarding and symptom check as a
person would: /start, then 11 taps ("I agree", "UK (London)", "19:00", "None of these", "Lower
back", "Today", "Lifting or bending", "6", "None of these", "None of these", "Under 50"), each
after reading the bot's question for a think time drawn uniformly from --think (2-8 s; 0.3-0.7 s
with --quick), and never before the question has arrived. People start at random moments within
the first think time. Latency of a step = from the moment the update is queued at the stand-in
(`user_sends_text` / `user_taps`, which wakes the bot's long poll) to the moment the stand-in
receives the sendMessage carrying the next question (the message offering the next button; after
the last tap, the plan with its menu). Both instants are read in this process with
`time.monotonic()`.

Bots, each in a fresh child process (bench/_bot_child.py) pinned to CPU 0; this process (the
stand-in and the 200 people) is pinned to CPU 1; PostgreSQL is not pinned:

* coach: the real `build_application`, started as `coach run` starts it (its own Poller), over a
  fresh SQLite file or PostgreSQL database. Its global rate limit is raised to 100,000/s (the
  stand-in has none, and at this pace 200 people need ~80 chat messages a second, more than
  Telegram's ~30/s: see bench.rate_limited); its per-chat interval is 0 in the main rows and the
  shipped 1 s in the "as shipped" row. While the people talk, follow-ups of other people fall due
  at --followup-rate a second (10; a day's mix of kinds, seeded due evenly over the expected run)
  and the coach's dispatch job (every 15 s, its default; 3 s with --quick) renders and sends them.
* bare PTB (baseline, same run): a python-telegram-bot Application with PTB's own updater and
  `concurrent_updates=True`, no database and no logic, that makes the coach's Bot API calls per
  update with the coach's own words and keyboards (answerCallbackQuery, editMessageText with
  "✓ <label>", sendMessage; replayed from what the first coach run sent person 1), and sends the
  same number of background messages (the coach's follow-up texts) in the same bursts.

Bot CPU per update = the child's user+system CPU over the conversation window / updates handled,
background included (both bots carry the same background). The full run adds a "quiet" pair
(no follow-ups, no background) for the cost ratio without it. Every run has a deadline; the
benchmark stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
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
    sqlite_path,
    sqlite_remove,
    utc_now,
)
from tests.support.botapi_standin import SentMessage

FIRST_PERSON = 5_000_001  # telegram user/chat ids of the people who talk (seeded ones: 1_000_001+)
# (what the person does, the button the next question offers): None = sends "/start"
STEPS: tuple[tuple[str | None, str], ...] = (
    (None, "I agree"),
    ("I agree", "UK (London)"),
    ("UK (London)", "19:00"),
    ("19:00", "None of these"),
    ("None of these", "Lower back"),
    ("Lower back", "Today"),
    ("Today", "Lifting or bending"),
    ("Lifting or bending", "6"),
    ("6", "None of these"),
    ("None of these", "None of these"),
    ("None of these", "Under 50"),
    ("Under 50", "Check in now"),
)
STEP_NAMES = ["/start"] + [f"{tap}" for tap, _ in STEPS[1:]]
TARGET_P95_MS = 250.0
TARGET_COST_RATIO = 1.5
UNLIMITED = "100000"
PYSPY = False  # --pyspy: sample with py-spy instead
PROFILE_DIR: Path | None = None  # --profile: each child's cProfile stats go there


@dataclass(frozen=True)
class Config:
    bot: str  # "coach" or "bare"
    database: str | None = None  # coach: "sqlite" / "postgresql"
    per_chat: float = 0.0
    followups: bool = True

    @property
    def label(self) -> str:
        if self.bot == "bare":
            return "bare PTB: answer+edit+send"
        shipped = " (as shipped)" if self.per_chat else ""
        return f"coach{shipped}"


@dataclass
class Outcome:
    config: Config
    latencies: list[float] = field(default_factory=list)  # seconds, every step of everyone
    by_step: list[list[float]] = field(default_factory=lambda: [[] for _ in STEPS])
    timeouts: int = 0
    window: float = 0.0
    cpu: float = 0.0
    calls: dict[str, int] = field(default_factory=dict)
    background: int = 0
    rss: float = 0.0
    transcript: dict[str, Any] | None = None


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))
    return ordered[index]


def rows_of(message: SentMessage) -> list[list[list[str]]]:
    rows = (message.reply_markup or {}).get("inline_keyboard") or []
    return [[[str(b["text"]), str(b.get("callback_data"))] for b in row] for row in rows]


async def next_offering(
    api: BenchStandIn, chat: int, label: str, timeout: float
) -> tuple[SentMessage, list[SentMessage]]:
    """The chat's next message offering a button `label`, and every message pulled to get it."""
    pulled: list[SentMessage] = []
    deadline = time.monotonic() + timeout
    while True:
        message = await asyncio.wait_for(api.queues[chat].get(), deadline - time.monotonic())
        pulled.append(message)
        if any(label in text for text, _ in message.buttons()):
            return message, pulled


async def converse(
    api: BenchStandIn,
    chat: int,
    think: tuple[float, float],
    rng: random.Random,
    outcome: Outcome,
    timeout: float,
    capture: bool,
) -> None:
    await asyncio.sleep(rng.uniform(0, think[1]))
    message: SentMessage | None = None
    steps: list[dict[str, Any]] = []
    for index, (tap, expect) in enumerate(STEPS):
        if index:
            await asyncio.sleep(rng.uniform(*think))
        started = time.monotonic()
        if tap is None:
            api.user_sends_text(chat, "/start")
        else:
            assert message is not None
            api.user_taps(chat, message.message_id, message.button_data(tap))
        try:
            message, pulled = await next_offering(api, chat, expect, timeout)
        except TimeoutError:
            outcome.timeouts += len(STEPS) - index
            return
        outcome.latencies.append(message.at - started)
        outcome.by_step[index].append(message.at - started)
        if capture:
            steps.append(
                {
                    "messages": [
                        {
                            "text": m.text,
                            "buttons": rows_of(m),
                            "in_place": m.method == "editMessageText",
                        }
                        for m in pulled
                    ],
                    "offered": [b for row in rows_of(message) for b in row],
                }
            )
    if capture:
        outcome.transcript = {"steps": steps}


async def run(
    config: Config,
    people: int,
    think: tuple[float, float],
    followup_rate: float,
    dispatch_interval: float,
    transcript: Path,
    seed_value: int,
) -> Outcome:
    outcome = Outcome(config)
    chats = set(range(FIRST_PERSON, FIRST_PERSON + people))
    api = BenchStandIn(keep_records=False)
    api.listen = True
    api.listen_chats = chats
    await api.start()
    expected = len(STEPS) * sum(think) / 2 + think[1]  # the run's length, roughly
    background = round(followup_rate * expected) if config.followups else 0
    path: Path | None = None
    pg_name: str | None = None
    try:
        if config.bot == "coach":
            if config.database == "postgresql":
                pg_name = bench_name("latency")
                url = pg_create(pg_name)
            else:
                path = sqlite_path("latency")
                url = f"sqlite:///{path}"
            seed(url, background, now=utc_now(), mode="spread", lead=0.0, span=expected)
            args = ["coach", url, api.root_url, "--rate", UNLIMITED]
            args += ["--per-chat", str(config.per_chat)]
            args += ["--dispatch-interval", str(dispatch_interval)]
        else:
            args = ["replay", str(transcript), api.root_url]
            if background:
                args += ["--background-rate", str(followup_rate)]
                args += ["--background-span", str(expected)]
                args += ["--dispatch-interval", str(dispatch_interval)]
        env = {}
        if PROFILE_DIR is not None:
            PROFILE_DIR.mkdir(parents=True, exist_ok=True)
            name = f"{config.bot}-{config.database or 'none'}-{config.per_chat:g}"
            name += "-followups" if config.followups else "-quiet"
            variable = "BENCH_PYSPY" if PYSPY else "BENCH_PROFILE"
            env[variable] = str(PROFILE_DIR / f"{name}.{'pyspy' if PYSPY else 'prof'}")
        child = await Child.spawn("bench._bot_child", *args, cpu=0, env=env)
        try:
            await child.report("ready", 60)
            before = dict(api.counts)
            await child.send("mark")
            mark0 = (await child.report("mark", 30, nth=0))["mark"]
            started = time.monotonic()
            rng = random.Random(seed_value)
            timeout = 30.0 + think[1]
            await asyncio.wait_for(
                asyncio.gather(
                    *(
                        converse(
                            api,
                            chat,
                            think,
                            random.Random(rng.random()),
                            outcome,
                            timeout,
                            capture=chat == FIRST_PERSON and config.bot == "coach",
                        )
                        for chat in sorted(chats)
                    )
                ),
                expected * 4 + 120,
            )
            outcome.window = time.monotonic() - started
            await child.send("mark")
            mark1 = (await child.report("mark", 30, nth=1))["mark"]
            outcome.cpu = mark1["cpu_s"] - mark0["cpu_s"]
            outcome.calls = {k: api.counts[k] - before.get(k, 0) for k in api.counts}
            outcome.background = outcome.calls.get("sendMessage", 0) - outcome.calls.get(
                "sendMessage (listened chats)", 0
            )
            stopped = await asyncio.gather(child.stop(), child.report("final", 60))
            outcome.rss = stopped[1]["final"]["rss_peak_mb"]
        except BaseException:
            await child.stop()
            raise
    finally:
        if path is not None:
            sqlite_remove(path)
        if pg_name is not None:
            pg_drop(pg_name)
        await api.stop()
    if outcome.transcript is not None:
        outcome.transcript["background"] = [
            {
                "text": s["text"],
                "buttons": rows_of(SentMessage(0, 0, s["text"], s["markup"], "", 0)),
            }
            for s in api.samples
        ] or [{"text": "Time for your check-in", "buttons": []}]
    return outcome


def ms(seconds: float) -> str:
    return f"{1000 * seconds:,.0f}"


async def main(
    people: int,
    think: tuple[float, float],
    followup_rate: float,
    dispatch_interval: float,
    configs: list[Config],
    seed_value: int,
) -> int:
    pin_to_cpu(1)
    transcript = Path(tempfile.mkdtemp(prefix="coach-bench-")) / "transcript.json"
    outcomes: list[Outcome] = []
    try:
        for config in configs:
            if config.bot == "bare" and not transcript.exists():
                raise RuntimeError("the bare bot replays the first coach run: run a coach first")
            outcome = await run(
                config, people, think, followup_rate, dispatch_interval, transcript, seed_value
            )
            if outcome.transcript is not None and not transcript.exists():
                transcript.write_text(json.dumps(outcome.transcript))
            outcomes.append(outcome)
            print(
                f"{config}: p50 {ms(percentile(outcome.latencies, 0.5))} ms, p95 "
                f"{ms(percentile(outcome.latencies, 0.95))} ms, {outcome.timeouts} timeouts, "
                f"{1000 * outcome.cpu / max(1, len(outcome.latencies)):.1f} CPU ms/update",
                file=sys.stderr,
            )
    finally:
        transcript.unlink(missing_ok=True)
        transcript.parent.rmdir()

    def cpu_per_update(o: Outcome) -> float:
        return o.cpu / max(1, len(o.latencies))

    bare = {o.config.followups: o for o in outcomes if o.config.bot == "bare"}
    rows = []
    for o in outcomes:
        c = o.config
        updates = len(o.latencies)
        calls = [
            o.calls.get(m, 0) / max(1, updates)
            for m in (
                "answerCallbackQuery",
                "editMessageText (listened chats)",
                "sendMessage (listened chats)",
            )
        ]
        peer = bare.get(c.followups)
        ratio = (
            f"**{cpu_per_update(o) / cpu_per_update(peer):.2f}x**"
            if peer is not None and c.bot == "coach"
            else "1.00x"
            if c.bot == "bare"
            else "-"
        )
        rows.append(
            [
                c.label,
                c.database or "-",
                f"{c.per_chat:g} s" if c.bot == "coach" else "-",
                f"{followup_rate:g}/s, {o.background:,} sent" if c.followups else "none (quiet)",
                f"{updates:,}" + (f" ({o.timeouts} timed out)" if o.timeouts else ""),
                f"**{ms(percentile(o.latencies, 0.5))}**",
                f"**{ms(percentile(o.latencies, 0.95))}**",
                ms(percentile(o.latencies, 0.99)),
                ms(max(o.latencies, default=float("nan"))),
                f"{updates / o.window:.1f}" if o.window else "-",
                f"{1000 * cpu_per_update(o):.1f}",
                ratio,
                " / ".join(f"{x:.2f}" for x in calls),
                f"{o.rss:.0f}",
            ]
        )
    print("## Reply latency: tap -> next question, people conversing while follow-ups go out\n")
    print(f"Command: `{module_command('bench.reply_latency')}`  ")
    print(f"Machine: {machine_line()}  ")
    print(
        f"{people} people x {len(STEPS)} steps (onboarding + symptom check), think time "
        f"{think[0]:g}-{think[1]:g} s; follow-ups {followup_rate:g}/s due during the run, dispatch "
        f"every {dispatch_interval:g} s; bot in a child pinned to CPU 0, stand-in and people on "
        f"CPU 1; coach global rate {UNLIMITED}/s. Latencies in ms.\n"
    )
    print(
        md_table(
            [
                "bot",
                "database",
                "per-chat interval",
                "follow-ups during the run",
                "updates",
                "p50",
                "p95",
                "p99",
                "max",
                "updates/s",
                "bot CPU ms per update",
                "CPU vs bare",
                "answer / edit / send per update",
                "bot peak RSS (MB)",
            ],
            rows,
        )
    )
    print("\nBy step (p50 / p95, ms):\n")
    print(
        md_table(
            ["bot", "database", "per-chat", "follow-ups", *STEP_NAMES],
            [
                [
                    o.config.label,
                    o.config.database or "-",
                    f"{o.config.per_chat:g}",
                    "yes" if o.config.followups else "no",
                    *(
                        f"{ms(percentile(step, 0.5))} / {ms(percentile(step, 0.95))}"
                        for step in o.by_step
                    ),
                ]
                for o in outcomes
            ],
        )
    )
    print()
    for o in outcomes:
        c = o.config
        if c.bot != "coach" or not c.followups:
            continue
        p95 = 1000 * percentile(o.latencies, 0.95)
        verdict = "met" if p95 <= TARGET_P95_MS and not o.timeouts else "MISSED"
        print(
            f"Target p95 <= {TARGET_P95_MS:.0f} ms, {c.label} on {c.database}: {verdict}: "
            f"{p95:,.0f} ms."
        )
    for o in outcomes:
        c = o.config
        peer = bare.get(c.followups)
        if c.bot != "coach" or c.per_chat or peer is None:
            continue
        ratio = cpu_per_update(o) / cpu_per_update(peer)
        verdict = "met" if ratio <= TARGET_COST_RATIO else "MISSED"
        print(
            f"Target cost <= {TARGET_COST_RATIO:g}x the bare bot's, {c.database}, "
            f"{'with follow-ups' if c.followups else 'quiet'}: {verdict}: {ratio:.2f}x "
            f"({1000 * cpu_per_update(o):.1f} vs {1000 * cpu_per_update(peer):.1f} CPU ms/update)."
        )
    return 0


def cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="10 people, short think times")
    parser.add_argument("--people", type=int, default=None)
    parser.add_argument("--think", default=None, help="think time range in seconds, e.g. 2,8")
    parser.add_argument("--followup-rate", type=float, default=10.0, help="follow-ups due a second")
    parser.add_argument("--dispatch-interval", type=float, default=None)
    parser.add_argument("--db", default="sqlite,postgresql", help="comma-separated databases")
    parser.add_argument("--no-extra", action="store_true", help="skip the as-shipped/quiet rows")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the think times")
    parser.add_argument(
        "--pyspy",
        type=Path,
        default=None,
        help="sample each child with py-spy (pip install py-spy) into this dir",
    )
    parser.add_argument(
        "--profile", type=Path, default=None, help="write each bot's cProfile stats to this dir"
    )
    args = parser.parse_args()
    global PROFILE_DIR, PYSPY
    PROFILE_DIR = args.profile or args.pyspy
    PYSPY = args.pyspy is not None
    people = args.people or (10 if args.quick else 200)
    if args.think:
        low, high = (float(x) for x in args.think.split(","))
    else:
        low, high = (0.3, 0.7) if args.quick else (2.0, 8.0)
    interval = args.dispatch_interval or (3.0 if args.quick else 15.0)
    databases = [d.strip() for d in args.db.split(",") if d.strip()]
    if "postgresql" in databases and not pg_available():
        print("PostgreSQL is not reachable: skipping it", file=sys.stderr)
        databases.remove("postgresql")
    configs = [Config("coach", databases[0]), Config("bare")]
    configs += [Config("coach", d) for d in databases[1:]]
    if not (args.quick or args.no_extra):
        configs += [
            Config("coach", "sqlite", per_chat=1.0),
            Config("coach", "sqlite", followups=False),
            Config("bare", followups=False),
        ]
    started = time.perf_counter()
    code = asyncio.run(main(people, (low, high), args.followup_rate, interval, configs, args.seed))
    print(f"\n(benchmark wall time {time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(cli())
