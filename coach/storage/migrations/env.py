"""Alembic environment: targets SQLModel.metadata; the URL comes from the caller's Config."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import context
from sqlmodel import SQLModel

from coach.storage import models  # noqa: F401  (registers the tables)
from coach.storage.database import create_db_engine

config = context.config
target_metadata = SQLModel.metadata


def _foreign_keys_off(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA foreign_keys=OFF")


def run_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None
    connectable = config.attributes.get("connection")
    if connectable is not None:
        context.configure(
            connection=connectable, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_db_engine(url)
    if engine.dialect.name == "sqlite":
        # SQLite changes a table by rebuilding it (batch mode), which drops the old table: with
        # foreign keys enforced that fails as soon as other tables hold rows pointing at it.
        sa.event.listen(engine, "connect", _foreign_keys_off)
    with engine.connect() as connection:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
