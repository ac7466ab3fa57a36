"""A dispatcher process for the multi-instance tests: `python -m tests.support.dispatch_worker`.

It sends what is due from the database to a Bot API server until nothing has been due for a
while, then exits. Several of these share one PostgreSQL database in the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from telegram.ext import ApplicationBuilder

from coach.clock import SystemClock
from coach.coaching.conversation import Coach
from coach.content import load_content
from coach.pipeline.courier import Courier
from coach.pipeline.dispatcher import Dispatcher
from coach.pipeline.service import CoachService
from coach.settings import Settings
from coach.storage.database import create_db_engine
from coach.telegram_adapter.sender import TelegramSender


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--lease-seconds", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--idle-rounds", type=int, default=15)
    args = parser.parse_args()
    settings = Settings(database_url=args.database_url, bot_api_url=args.api_url)
    engine = create_db_engine(args.database_url)
    clock = SystemClock()
    coach = Coach(
        engine=engine, content=load_content(settings.content_dir), clock=clock, settings=settings
    )
    application = ApplicationBuilder().token(args.token).base_url(f"{args.api_url}/bot").build()
    await application.initialize()
    service = CoachService(coach=coach, clock=clock)
    owner = f"worker-{os.getpid()}"
    courier = Courier(
        engine=engine,
        sender=TelegramSender(application.bot),
        clock=clock,
        on_blocked=service.mark_blocked,
        owner=owner,
        lease_seconds=args.lease_seconds,
        batch_size=args.batch_size,
        per_chat_interval=0,
    )
    dispatcher = Dispatcher(
        service=service,
        courier=courier,
        clock=clock,
        batch_size=args.batch_size,
        lease_seconds=args.lease_seconds,
        owner=owner,
    )
    idle = 0
    print("ready", flush=True)
    while idle < args.idle_rounds:
        report = await dispatcher.run_once()
        busy = report.claimed or report.sent or report.retried
        idle = idle + 1 if not busy else 0
        print(f"claimed={report.claimed} sent={report.sent}", flush=True)
        if not busy:
            await asyncio.sleep(0.2)  # a real dispatcher's polling interval, shortened
    await application.shutdown()
    engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
