"""Child of bench.scale_startup: start the bot one way, report the time of each phase and RSS.

    python -m bench._startup_child {ours|naive} DATABASE_URL API_ROOT_URL

Phases, in the order `coach run` (`telegram_adapter.app.serve`) runs them, after its own
`migrate`: imports -> migrate -> build_application -> [naive: load people + one run_daily job
each] -> initialize + post_init (getMe, setMyCommands) -> application.start() (job queue started)
-> deleteWebhook + the coach's own Poller started (first getUpdates under way) = ready.
Times are `time.perf_counter()` readings (CLOCK_MONOTONIC, shared with the parent, which read
it just before spawning this process), so "ready" includes interpreter start-up.
"""

from __future__ import annotations

import time

MARKS: dict[str, float] = {"child_first_line": time.perf_counter()}

import asyncio  # noqa: E402
import sys  # noqa: E402
from datetime import time as dtime  # noqa: E402
from typing import Any  # noqa: E402

from bench._child import cpu_seconds, peak_rss_mb, report, vm_hwm_mb, wait_for_stop  # noqa: E402

TOKEN = "7000001:AAH-StandInTokenForRecoveryCoachTests"  # the stand-in's default token
EVERY_DAY = (0, 1, 2, 3, 4, 5, 6)


async def naive_checkin(context: Any) -> None:
    """What the naive design runs at each person's check-in time."""
    await context.bot.send_message(context.job.chat_id, "Time for your check-in")


def schedule_naive(application: Any) -> int:
    """The design a PTB user writes first: one run_daily job per person with a plan."""
    from zoneinfo import ZoneInfo

    import sqlalchemy as sa

    engine = application.bot_data["runtime"].coach.engine
    query = sa.text(
        "select p.id, p.chat_id, p.timezone, p.checkin_time from person p "
        "join episode e on e.person_id = p.id "
        "where p.state = 'active' and not p.blocked and p.consent_at is not null "
        "and e.status = 'active'"
    )
    count = 0
    with engine.connect() as conn:
        for pid, chat_id, zone, checkin in conn.execute(query):
            if isinstance(checkin, str):  # SQLite returns text
                checkin = dtime.fromisoformat(checkin)
            application.job_queue.run_daily(
                naive_checkin,
                time=dtime(checkin.hour, checkin.minute, tzinfo=ZoneInfo(zone)),
                days=EVERY_DAY,
                chat_id=chat_id,
                name=f"checkin-{pid}",
                data=pid,
            )
            count += 1
    return count


async def main(design: str, url: str, api_root: str) -> None:
    from coach.settings import Settings
    from coach.storage.database import migrate
    from coach.telegram_adapter.app import ALLOWED_UPDATES, build_application, runtime_of
    from coach.telegram_adapter.polling import Poller

    MARKS["imported"] = time.perf_counter()
    # Health/metrics server on a free loopback port (the default 8080 may be taken).
    settings = Settings(database_url=url, bot_api_url=api_root, http_listen="127.0.0.1:0")
    migrate(url)
    MARKS["migrated"] = time.perf_counter()
    application = build_application(settings, TOKEN)
    MARKS["built"] = time.perf_counter()
    jobs = 0
    if design == "naive":
        jobs = schedule_naive(application)
        MARKS["scheduled"] = time.perf_counter()
    await application.initialize()
    if application.post_init:
        await application.post_init(application)
    MARKS["initialized"] = time.perf_counter()
    await application.start()
    MARKS["started"] = time.perf_counter()
    await application.bot.delete_webhook()
    poller = Poller(runtime_of(application), allowed_updates=ALLOWED_UPDATES)
    poller.start()
    MARKS["ready"] = time.perf_counter()
    rss_ready = peak_rss_mb()
    cpu_ready = cpu_seconds()
    await asyncio.sleep(1.5)  # the first dispatch tick (0.5 s after start) and a poll or two
    assert application.job_queue is not None
    scheduled_jobs = len(application.job_queue.jobs())
    report(
        marks=MARKS,
        jobs_added=jobs,
        jobs_in_queue=scheduled_jobs,
        rss_ready_mb=rss_ready,
        rss_peak_mb=peak_rss_mb(),
        vm_hwm_mb=vm_hwm_mb(),
        cpu_ready_s=cpu_ready,
    )
    await wait_for_stop(60)
    await poller.stop()
    await application.stop()
    await application.shutdown()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
