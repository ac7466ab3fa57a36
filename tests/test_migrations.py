"""Upgrading a database that already holds people: nothing lost, and erasure then cascades.

Every migration is run from the first schema, with rows in it, on a SQLite file and on the real
PostgreSQL server (where databases created by the first release have PostgreSQL's own names for
their foreign keys).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from coach.storage.database import alembic_config, create_db_engine, migrate, unit_of_work
from coach.storage.models import Person
from coach.storage.repository import erase_person

CHILD_TABLES = ("episode", "decision", "answer", "checkin", "followup")


def _seed_first_release(url: str) -> None:
    command.upgrade(alembic_config(url), "0001")
    engine = sa.create_engine(url)
    with engine.begin() as db:
        if engine.dialect.name == "postgresql":
            # What the first release left behind: PostgreSQL's default key names.
            for table, column, referred in (
                ("episode", "person_id", "person"),
                ("decision", "person_id", "person"),
                ("decision", "episode_id", "episode"),
            ):
                db.execute(
                    sa.text(
                        f"ALTER TABLE {table} RENAME CONSTRAINT "
                        f"fk_{table}_{column}_{referred} TO {table}_{column}_fkey"
                    )
                )
        for person in (1, 2):
            db.execute(
                sa.text(
                    "insert into person (id, telegram_user_id, chat_id, language, state, blocked,"
                    " flow_data, flow_token, silent_checkins, created_at, updated_at) values"
                    " (:p, :p, :p, 'en', 'active', false, '{}', 0, 0, :t, :t)"
                ),
                {"p": person, "t": "2026-01-01 10:00:00"},
            )
            db.execute(
                sa.text(
                    "insert into episode (id, person_id, started_at, tier, status)"
                    " values (:p, :p, :t, 0, 'active')"
                ),
                {"p": person, "t": "2026-01-01 10:00:00"},
            )
            db.execute(
                sa.text(
                    "insert into checkin (episode_id, day, local_date, started_at)"
                    " values (:p, 2, '2026-01-02', :t)"
                ),
                {"p": person, "t": "2026-01-02 19:00:00"},
            )
            db.execute(
                sa.text(
                    "insert into decision (person_id, episode_id, decided_at, kind, tier, rule,"
                    " answers) values (:p, :p, :t, 'triage', 0, 'no_red_flags', '{}')"
                ),
                {"p": person, "t": "2026-01-01 10:05:00"},
            )
            db.execute(
                sa.text(
                    "insert into answer (person_id, episode_id, question, value, answered_at)"
                    " values (:p, :p, 'pain', '6', :t)"
                ),
                {"p": person, "t": "2026-01-01 10:04:00"},
            )
            db.execute(
                sa.text(
                    "insert into followup (person_id, episode_id, kind, local_date, due_at,"
                    " status, attempts) values (:p, :p, 'checkin', '2026-01-03', :t,"
                    " 'pending', 0)"
                ),
                {"p": person, "t": "2026-01-03 19:00:00"},
            )
    engine.dispose()


def _counts(engine: sa.Engine, person: int) -> dict[str, int]:
    with engine.connect() as db:
        counts = {
            table: db.execute(
                sa.text(f"select count(*) from {table} where person_id = :p"), {"p": person}
            ).scalar_one()
            for table in ("episode", "decision", "answer", "followup")
        }
        counts["checkin"] = db.execute(
            sa.text("select count(*) from checkin where episode_id = :p"), {"p": person}
        ).scalar_one()
    return counts


def test_upgrading_a_populated_database_keeps_every_row_and_erasure_then_cascades(
    database_url: str,
) -> None:
    _seed_first_release(database_url)
    migrate(database_url)  # 0001 → head, with rows in every table
    engine = create_db_engine(database_url)
    try:
        assert _counts(engine, 1) == dict.fromkeys(CHILD_TABLES, 1)
        with unit_of_work(engine) as session:
            person = session.get(Person, 1)
            assert person is not None and person.silence_reset_at is None
            erase_person(session, person)
        assert _counts(engine, 1) == dict.fromkeys(CHILD_TABLES, 0)
        assert _counts(engine, 2) == dict.fromkeys(CHILD_TABLES, 1)  # the other person: untouched
    finally:
        engine.dispose()


def test_the_newest_schema_can_be_downgraded_to_the_first_and_back(database_url: str) -> None:
    _seed_first_release(database_url)
    migrate(database_url)
    command.downgrade(alembic_config(database_url), "0001")
    migrate(database_url)
    engine = create_db_engine(database_url)
    try:
        assert _counts(engine, 2) == dict.fromkeys(CHILD_TABLES, 1)
    finally:
        engine.dispose()
