"""SQLite units of work in one process take their turns in order: a thread running unit after
unit (the dispatcher rendering follow-ups) cannot keep another thread's unit (a person's reply)
waiting behind all of its own."""

from __future__ import annotations

import threading
import time

import sqlalchemy as sa

from coach.storage.database import create_db_engine, migrate, unit_of_work


def test_a_unit_waits_for_the_one_in_hand_not_for_a_whole_run_of_them(sqlite_url: str) -> None:
    migrate(sqlite_url)
    engine = create_db_engine(sqlite_url)
    order: list[str] = []
    first_unit_running = threading.Event()
    done = threading.Event()

    def dispatcher() -> None:
        for index in range(20):
            with unit_of_work(engine) as session:
                session.execute(sa.text("select 1"))
                order.append("render")
                if index == 0:
                    first_unit_running.set()
                    time.sleep(0.05)  # the reply asks for its turn while this unit runs
                if done.is_set() and index > 3:
                    break

    def reply() -> None:
        first_unit_running.wait(5)
        with unit_of_work(engine) as session:
            session.execute(sa.text("select 1"))
            order.append("reply")
        done.set()

    threads = [threading.Thread(target=dispatcher), threading.Thread(target=reply)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    engine.dispose()
    assert order.index("reply") == 1, order  # right after the unit it asked during


def test_a_unit_inside_a_unit_on_the_same_thread_does_not_wait_for_itself(
    sqlite_url: str,
) -> None:
    migrate(sqlite_url)
    engine = create_db_engine(sqlite_url)
    finished = threading.Event()

    def nested() -> None:
        with unit_of_work(engine), unit_of_work(engine) as inner:
            inner.execute(sa.text("select 1"))
        finished.set()

    thread = threading.Thread(target=nested)
    thread.start()
    thread.join(10)
    engine.dispose()
    assert finished.is_set()
