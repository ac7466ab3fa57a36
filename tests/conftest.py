"""Shared fixtures: real SQLite files, the real PostgreSQL server when configured, and a running
bot against the Bot API stand-in."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support.bot_harness import BotHarness

POSTGRES_URL = os.environ.get("COACH_TEST_POSTGRES_URL")
TOKEN = "123456789:" + "A" * 35


def _fresh_postgres_database() -> Iterator[str]:
    assert POSTGRES_URL is not None
    name = f"coach_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'coach.sqlite3'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip("COACH_TEST_POSTGRES_URL is not set: no PostgreSQL server configured")
    yield from _fresh_postgres_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each storage test runs on a SQLite file and on the real PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'coach.sqlite3'}"
        return
    if not POSTGRES_URL:
        pytest.skip("COACH_TEST_POSTGRES_URL is not set: no PostgreSQL server configured")
    yield from _fresh_postgres_database()


@pytest.fixture
async def bot(sqlite_url: str) -> AsyncIterator[BotHarness]:
    harness = BotHarness(database_url=sqlite_url, token=TOKEN)
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()
