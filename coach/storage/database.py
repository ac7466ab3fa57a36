"""The database engine, units of work, the per-person lock and migrations."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlmodel import Session

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

log = logging.getLogger(__name__)


class DatabaseUnavailable(Exception):
    """The database could not be reached (or stayed locked): the work in hand must be retried."""


# Errors that mean "the database is not there right now", not "this statement is wrong".
_UNAVAILABLE = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)


def is_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, (DatabaseUnavailable, *_UNAVAILABLE)):
        return True
    return isinstance(exc, sa.exc.DBAPIError) and bool(exc.connection_invalidated)


def create_db_engine(url: str) -> sa.Engine:
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
        kwargs["connect_args"] = {"connect_timeout": 5}
    engine = sa.create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        sa.event.listen(engine, "connect", _sqlite_connect)
        sa.event.listen(engine, "begin", _sqlite_begin_immediate)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets a reader run beside the writer; foreign keys are off by default in SQLite.
    # The driver's own transaction handling is turned off so that `begin` below decides.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin_immediate(connection: sa.Connection) -> None:
    # Every unit of work takes SQLite's write lock when it starts: two units can never interleave
    # their read-then-write, which is what serialises the handling of one person on SQLite.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str) -> None:
    """Bring the schema to the newest version (what `coach migrate` and start-up do)."""
    command.upgrade(alembic_config(url), "head")


# SQLite has one writer at a time, and a unit that finds the write lock taken sleeps in SQLite's
# busy handler (1, 2, 5, 10 ... 100 ms between tries), so a handful of worker threads queueing for
# it turn milliseconds of work into hundreds of milliseconds of waiting. In one process the
# units of work of an SQLite engine queue on a lock instead, each starting the moment the
# previous one ends, in the order they came: the dispatcher rendering unit after unit must not
# keep a person's reply waiting behind all of them.
class _WritersInTurn:
    """A first-come, first-served lock, reentrant (a unit opened inside another on the same
    thread must not wait for itself)."""

    def __init__(self) -> None:
        self._turns = threading.Condition()
        self._owner: int | None = None
        self._depth = 0
        self._next_ticket = 0
        self._serving = 0

    def __enter__(self) -> None:
        me = threading.get_ident()
        with self._turns:
            if self._owner == me:
                self._depth += 1
                return
            ticket = self._next_ticket
            self._next_ticket += 1
            while self._owner is not None or self._serving != ticket:
                self._turns.wait()
            self._owner, self._depth = me, 1

    def __exit__(self, *exc: object) -> None:
        with self._turns:
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._serving += 1
                self._turns.notify_all()


_SQLITE_WRITERS: weakref.WeakKeyDictionary[sa.Engine, _WritersInTurn] = weakref.WeakKeyDictionary()
_WRITERS_GUARD = threading.Lock()


def _writer_turn(engine: sa.Engine) -> AbstractContextManager[object]:
    if engine.dialect.name != "sqlite":
        return nullcontext()
    with _WRITERS_GUARD:
        lock = _SQLITE_WRITERS.get(engine)
        if lock is None:
            lock = _SQLITE_WRITERS[engine] = _WritersInTurn()
    return lock


@contextmanager
def unit_of_work(engine: sa.Engine) -> Iterator[Session]:
    """One session per unit of work: commit on success, roll back on error.

    A lost connection surfaces as DatabaseUnavailable, so callers can retry the whole unit.
    """
    try:
        with _writer_turn(engine), Session(engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
    except sa.exc.SQLAlchemyError as exc:
        if is_unavailable(exc):
            raise DatabaseUnavailable(
                type(exc.orig if hasattr(exc, "orig") else exc).__name__
            ) from exc
        raise


def lock_person(session: Session, telegram_user_id: int) -> None:
    """Serialise all handling of one person across threads and instances.

    PostgreSQL: a transaction-scoped advisory lock keyed by the Telegram user id, taken before the
    person's row is read, so it also covers a person whose row does not exist yet (two `/start`s
    at once). SQLite: every unit of work already holds the write lock (BEGIN IMMEDIATE).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": telegram_user_id})


def wait_for_database(
    url: str,
    *,
    max_wait_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
    first_delay: float = 0.5,
) -> None:
    """Wait for the database to answer, with backoff and one log line per attempt.

    Raises DatabaseUnavailable when it still does not answer after `max_wait_seconds`.
    """
    engine = create_db_engine(url)
    waited, delay, attempt = 0.0, first_delay, 1
    try:
        while True:
            try:
                with engine.connect() as connection:
                    connection.execute(sa.text("SELECT 1"))
                return
            except sa.exc.SQLAlchemyError as exc:
                reason = type(getattr(exc, "orig", None) or exc).__name__
                if waited >= max_wait_seconds:
                    raise DatabaseUnavailable(reason) from None
                log.warning(
                    "database not reachable (attempt %d, %s): retrying in %.1f s "
                    "(check COACH_DATABASE_URL and that the server is up)",
                    attempt,
                    reason,
                    delay,
                )
                sleep(delay)
                waited += delay
                delay = min(delay * 2, 10.0)
                attempt += 1
    finally:
        engine.dispose()
