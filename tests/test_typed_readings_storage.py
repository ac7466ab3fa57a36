"""Decisions taken from typed words are stored with their words (migration 0004), exported by
/mydata and erased with the person, on a SQLite file and on the real PostgreSQL server."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command

from coach.storage import typed_readings
from coach.storage.database import alembic_config, create_db_engine, migrate, unit_of_work
from coach.storage.models import Episode, Person
from coach.storage.repository import erase_person, export_person

AT = datetime(2026, 3, 24, 19, 5, tzinfo=UTC)
MENTION = {
    "sign": "saddle_numbness",
    "tier": "EMERGENCY",
    "status": "present",
    "words": "bits … numb",
}


def _people(session: object) -> None:
    from sqlmodel import Session

    assert isinstance(session, Session)
    for user in (1, 2):
        person = Person(telegram_user_id=user, chat_id=user, created_at=AT, updated_at=AT)
        session.add(person)
        session.flush()
        episode = Episode(person_id=person.id, started_at=AT)  # type: ignore[arg-type]
        session.add(episode)
        session.flush()
        typed_readings.record(
            session,
            person=person,
            episode=episode,
            decision="screened_emergency",
            mentions=[MENTION],
            at=AT,
        )


def test_migration_0004_adds_the_table_and_downgrades_cleanly(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "0003")
    engine = sa.create_engine(database_url)
    try:
        assert "typed_reading" not in sa.inspect(engine).get_table_names()
        migrate(database_url)
        inspector = sa.inspect(engine)
        assert "typed_reading" in inspector.get_table_names()
        keys = {
            k["referred_table"]: k["options"] for k in inspector.get_foreign_keys("typed_reading")
        }
        assert keys["person"].get("ondelete") == "CASCADE"
        command.downgrade(alembic_config(database_url), "0003")
        assert "typed_reading" not in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_typed_readings_are_exported_and_erased_with_the_person(database_url: str) -> None:
    migrate(database_url)
    engine = create_db_engine(database_url)
    try:
        with unit_of_work(engine) as session:
            _people(session)
        with unit_of_work(engine) as session:
            first = session.exec(sa.select(Person).where(Person.telegram_user_id == 1)).one()[0]
            exported = export_person(session, first)
            rows = exported["typed_readings"]
            assert isinstance(rows, list) and len(rows) == 1
            assert rows[0]["decision"] == "screened_emergency"
            assert rows[0]["mentions"] == [MENTION]
            erase_person(session, first)
        with engine.connect() as db:
            left = db.execute(sa.text("select person_id from typed_reading")).scalars().all()
        assert len(left) == 1  # only the other person's reading remains
    finally:
        engine.dispose()
