"""One coach instance handling one Telegram update at an agreed instant, in its own process:
`python -m tests.support.race_worker DATABASE_URL START_AT UPDATE_JSON`.

Two of these started together race on one person in one PostgreSQL database, like two webhook
instances behind a load balancer. Prints "ok" or the error's type.
"""

from __future__ import annotations

import json
import sys
import time

from telegram import Bot, Update

from coach.clock import SystemClock
from coach.coaching.conversation import Coach
from coach.content import load_content
from coach.pipeline.service import CoachService
from coach.settings import Settings
from coach.storage.database import create_db_engine
from coach.telegram_adapter.inbound import to_inbound
from tests.conftest import TOKEN


def main() -> None:
    url, start_at, raw = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    settings = Settings(database_url=url)
    engine = create_db_engine(url)
    clock = SystemClock()
    coach = Coach(
        engine=engine, content=load_content(settings.content_dir), clock=clock, settings=settings
    )
    service = CoachService(coach=coach, clock=clock)
    inbound = to_inbound(Update.de_json(json.loads(raw), Bot(TOKEN)))
    assert inbound is not None and not isinstance(inbound, tuple)
    with engine.connect():  # connect before the agreed instant, so both start level
        pass
    time.sleep(max(start_at - time.time(), 0))  # both processes start at the same instant
    try:
        service.handle(inbound)  # type: ignore[arg-type]
        print("ok", flush=True)
    except Exception as exc:
        print(type(exc).__name__, flush=True)
    engine.dispose()


if __name__ == "__main__":
    main()
