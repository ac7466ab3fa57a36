"""Child of bench.dispatch_throughput: run one part of the real pipeline over a seeded database.

    python -m bench._dispatch_child deliver {null|telegram} DATABASE_URL API_ROOT_URL DEADLINE_S
    python -m bench._dispatch_child render - DATABASE_URL API_ROOT_URL DEADLINE_S
    python -m bench._dispatch_child http - - API_ROOT_URL DEADLINE_S   (BENCH_HTTP_COUNT sends)

Everything is wired by the coach's own `build_application` (Settings: global rate 1,000,000/s,
per-chat interval 0, i.e. unthrottled), and the application is initialized (getMe) but not
started, so no scheduler tick runs beside what is timed.

deliver: `Courier.deliver_due()` over the outbox rows the parent seeded: claim a batch (200),
send up to 8 chats at a time, mark each row sent. `telegram`: the coach's `TelegramSender` over
the application's bot (PTB, httpx, AIORateLimiter) to the stand-in; `null`: a sender that returns
a message id at once (no HTTP): the database cost alone.
render: `Dispatcher.run_once()` with a courier that sends nothing: claim due follow-ups and render
each into the outbox in its own unit of work (the other half of the dispatcher's work).
http: no database: BENCH_HTTP_COUNT plain `bot.send_message` calls, 8 at a time (the courier's
concurrency), through the same bot: what PTB's client and the stand-in allow on their own.

Experiment switches (environment; no benchmark sets them): BENCH_WORKERS=<n> runs
`asyncio.to_thread` in a pool of n threads instead of the default min(32, CPUs + 4) = 6 here;
BENCH_EXPERIMENT=<names> applies prototypes of proposed changes (bench/_experiments.py);
BENCH_PROFILE=<path> (cProfile) and BENCH_PYSPY=<path> (py-spy) profile the timed part.

Once DEADLINE_S have passed the courier / dispatcher is stopped (the message in hand finished, the
rest of the batch given back), so a slow configuration still ends by itself; rates are over what
was done.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import time
from typing import Any

from bench._child import (
    cpu_seconds,
    peak_rss_mb,
    pin,
    report,
    start_sampler,
    stop_sampler,
    vm_hwm_mb,
)

TOKEN = "7000001:AAH-StandInTokenForRecoveryCoachTests"
CONCURRENCY = 8  # the Courier's default


class NullSender:
    """Delivers nothing, at once: what is left is the database cost."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    async def send(self, message: Any) -> int:
        return next(self._ids)


class DeadlineSender:
    """Wraps a sender; counts, and asks `stop()` of the courier once the deadline has passed."""

    def __init__(self, inner: Any, deadline: float, stop: Any) -> None:
        self.inner = inner
        self.deadline = deadline
        self.stop = stop
        self.messages = 0
        self.stopped_early = False
        self.progress: list[tuple[int, float]] = []

    async def send(self, message: Any) -> int | None:
        message_id = await self.inner.send(message)
        self.messages += 1
        now = time.perf_counter()
        if self.messages % 500 == 0:
            self.progress.append((self.messages, now))
        if now > self.deadline and not self.stopped_early:
            self.stopped_early = True
            self.stop()
        return message_id


class NoDelivery:
    """A courier that delivers nothing (the render part of the dispatcher alone)."""

    stopping = False

    def stop(self) -> None:
        self.stopping = True

    async def deliver_due(self) -> Any:
        from coach.pipeline.courier import DeliveryReport

        return DeliveryReport()


def build(url: str, api_root: str) -> Any:
    from coach.settings import Settings
    from coach.telegram_adapter.app import build_application

    settings = Settings(
        database_url=url,
        bot_api_url=api_root,
        global_rate_per_second=1_000_000,
        per_chat_interval_seconds=0,
        http_listen="127.0.0.1:0",
    )
    return build_application(settings, TOKEN)


SAMPLER: Any = None


def begin() -> tuple[float, float]:
    """Tell the parent the timed part starts now; returns (wall, CPU) readings."""
    global SAMPLER
    SAMPLER = start_sampler()
    report(started=True)
    return time.perf_counter(), cpu_seconds()


def finish(started: float, cpu_start: float, **values: Any) -> None:
    wall = time.perf_counter() - started
    stop_sampler(SAMPLER)
    report(
        result={
            "experiment": os.environ.get("BENCH_EXPERIMENT", ""),
            "wall_s": wall,
            "cpu_s": cpu_seconds() - cpu_start,
            "rss_peak_mb": peak_rss_mb(),
            "vm_hwm_mb": vm_hwm_mb(),
            **values,
        }
    )


async def http_only(application: Any, deadline_seconds: float, count: int) -> None:
    text = "Day 2 of your plan. " + "Keep moving gently, a short walk every hour. " * 6
    started, cpu_start = begin()
    numbers = iter(range(count))
    sent = 0

    async def worker() -> None:
        nonlocal sent
        for n in numbers:
            await application.bot.send_message(1_000_001 + n, text)
            sent += 1
            if time.perf_counter() - started > deadline_seconds:
                return

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    finish(started, cpu_start, sent=sent, stopped_early=sent < count, progress=[])


async def main(part: str, kind: str, url: str, api_root: str, deadline_seconds: float) -> None:
    pin()
    workers = os.environ.get("BENCH_WORKERS")
    if workers:  # experiment: the size of the thread pool asyncio.to_thread runs in
        from concurrent.futures import ThreadPoolExecutor

        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(int(workers)))
    from coach.telegram_adapter.app import runtime_of

    application = build("sqlite://" if part == "http" else url, api_root)
    await application.initialize()
    runtime = runtime_of(application)
    if os.environ.get("BENCH_EXPERIMENT") and part != "http":  # prototypes (bench/_experiments)
        from bench._experiments import apply

        apply(runtime.courier)
    try:
        if part == "http":
            count = int(os.environ.get("BENCH_HTTP_COUNT", "0"))
            await http_only(application, deadline_seconds, count)
            return
        if part == "render":
            runtime.dispatcher.courier = NoDelivery()  # type: ignore[assignment]
            dispatcher = runtime.dispatcher
            started, cpu_start = begin()
            # The dispatcher renders in chunks of 50 between checks of `stop`.
            loop = asyncio.get_running_loop()
            loop.call_later(deadline_seconds, dispatcher.stop)
            result = await dispatcher.run_once()
            finish(
                started,
                cpu_start,
                claimed=result.claimed,
                skipped=result.skipped,
                stopped_early=dispatcher._stopping,
                progress=[],
            )
            return
        courier = runtime.courier
        inner = runtime.courier.sender if kind == "telegram" else NullSender()
        started, cpu_start = begin()
        sender = DeadlineSender(inner, started + deadline_seconds, courier.stop)
        courier.sender = sender
        delivery = await courier.deliver_due()
        finish(
            started,
            cpu_start,
            sent=delivery.sent,
            followups_sent=delivery.followups_sent,
            retried=delivery.retried,
            failed=delivery.failed,
            lost_claims=delivery.lost_claims,
            messages=sender.messages,
            stopped_early=sender.stopped_early,
            progress=[(n, t - started) for n, t in sender.progress],
        )
    finally:
        await application.shutdown()
        runtime.service.engine.dispose()


if __name__ == "__main__":
    profile_to = os.environ.get("BENCH_PROFILE")  # a path: write cProfile stats there
    args = (sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]))
    if profile_to:
        from bench._profile import ThreadsProfile

        profile = ThreadsProfile()
        profile.start()
        asyncio.run(main(*args))
        profile.stop(profile_to)
    else:
        asyncio.run(main(*args))
