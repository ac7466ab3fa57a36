"""Child of bench.dispatch_throughput: run the real Dispatcher over due follow-ups and report.

    python -m bench._dispatch_child {null|telegram|http} DATABASE_URL API_BASE_URL DEADLINE_SECONDS

`telegram`: the coach's TelegramSender over a bare PTB Application (no rate limiter) whose Bot
talks to the stand-in at API_BASE_URL. `null`: a sender that returns at once (no HTTP), to
separate the database cost from the HTTP cost. `http`: no dispatcher and no database, only
BENCH_HTTP_COUNT plain send_message calls one after another: PTB's own ceiling.

The dispatcher is stopped (the row in hand is finished, the rest of its batch released) once
DEADLINE_SECONDS have passed, so a slow configuration still ends by itself; the rate is then over
what was sent.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import statistics
import sys
import time
from typing import Any

from bench._child import cpu_seconds, peak_rss_mb, pin, report, vm_hwm_mb

TOKEN = "7000001:AAH-StandInTokenForRecoveryCoachTests"


class NullSender:
    """Delivers nothing, at once: what is left is the database and rendering cost."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    async def send(self, chat_id: int, reply: Any) -> int:
        return next(self._ids)


class DeadlineSender:
    """Wraps a sender; asks the dispatcher to stop once the deadline has passed."""

    def __init__(self, inner: Any, deadline: float) -> None:
        self.inner = inner
        self.deadline = deadline
        self.dispatcher: Any = None
        self.messages = 0
        self.stopped_early = False
        self.progress: list[tuple[int, float]] = []

    async def send(self, chat_id: int, reply: Any) -> int:
        message_id = await self.inner.send(chat_id, reply)
        self.messages += 1
        now = time.perf_counter()
        if self.messages % 1000 == 0:
            self.progress.append((self.messages, now))
        if now > self.deadline and not self.stopped_early:
            self.stopped_early = True
            self.dispatcher.stop()
        return int(message_id)


async def http_only(application: Any, deadline_seconds: float, count: int) -> None:
    """PTB's send_message alone, one after another: the HTTP client's ceiling on one core."""
    text = "Day 2 of your plan. " + "Keep moving gently, a short walk every hour. " * 6
    started = time.perf_counter()
    cpu_start = cpu_seconds()
    sent = 0
    for sent in range(1, count + 1):
        await application.bot.send_message(1_000_000 + sent, text)
        if time.perf_counter() - started > deadline_seconds:
            break
    wall = time.perf_counter() - started
    report(
        result={
            "sent": sent,
            "messages": sent,
            "claimed": 0,
            "skipped": 0,
            "retried": 0,
            "failed": 0,
            "blocked": 0,
            "stopped_early": sent < count,
            "wall_s": wall,
            "cpu_s": cpu_seconds() - cpu_start,
            "rss_peak_mb": peak_rss_mb(),
            "vm_hwm_mb": vm_hwm_mb(),
            "progress": [],
        }
    )
    await application.shutdown()


async def main(kind: str, url: str, base_url: str, deadline_seconds: float) -> None:
    pin()
    from coach.clock import SystemClock
    from coach.coaching.conversation import Coach
    from coach.content import load_content
    from coach.scheduling.dispatcher import Dispatcher
    from coach.settings import Settings
    from coach.storage.database import create_db_engine

    settings = Settings(database_url=url)
    clock = SystemClock()
    engine = create_db_engine(url)
    coach = Coach(
        engine=engine, content=load_content(settings.content_dir), clock=clock, settings=settings
    )
    application = None
    inner: Any
    if kind in ("telegram", "http"):
        from telegram.ext import ApplicationBuilder

        from coach.telegram_adapter.app import TelegramSender

        application = ApplicationBuilder().token(TOKEN).base_url(base_url).build()
        await application.initialize()
        inner = TelegramSender(application)
    else:
        inner = NullSender()
    if kind == "http":
        await http_only(application, deadline_seconds, int(os.environ.get("BENCH_HTTP_COUNT", "0")))
        return
    rss_before = peak_rss_mb()
    started = time.perf_counter()
    sender = DeadlineSender(inner, started + deadline_seconds)
    dispatcher = Dispatcher(
        coach=coach,
        sender=sender,
        clock=clock,
        batch_size=settings.dispatch_batch_size,
        lease_seconds=settings.lease_seconds,
    )
    sender.dispatcher = dispatcher
    cpu_start = cpu_seconds()
    result = await dispatcher.run_once()
    wall = time.perf_counter() - started
    cpu = cpu_seconds() - cpu_start
    lags = sorted(result.lag_seconds)
    report(
        result={
            "claimed": result.claimed,
            "sent": result.sent,
            "skipped": result.skipped,
            "retried": result.retried,
            "failed": result.failed,
            "blocked": result.blocked,
            "messages": sender.messages,
            "stopped_early": sender.stopped_early,
            "wall_s": wall,
            "cpu_s": cpu,
            "rss_before_mb": rss_before,
            "rss_peak_mb": peak_rss_mb(),
            "vm_hwm_mb": vm_hwm_mb(),
            "lag_median_s": statistics.median(lags) if lags else None,
            "progress": [(n, t - started) for n, t in sender.progress],
        }
    )
    if application is not None:
        await application.shutdown()
    engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])))
