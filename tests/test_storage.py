"""Storage on a real SQLite file and on the real PostgreSQL server."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

from coach.clock import ManualClock
from coach.storage import followups
from coach.storage import repository as repo
from coach.storage.database import alembic_config, create_db_engine, migrate, unit_of_work
from coach.storage.models import (
    Episode,
    EpisodeStatus,
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    Person,
)

NOW = datetime(2026, 3, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(database_url: str) -> sa.Engine:
    migrate(database_url)
    engine = create_db_engine(database_url)
    yield engine
    engine.dispose()


def _person_with_episode(engine: sa.Engine, user_id: int = 1) -> tuple[Person, Episode]:
    with unit_of_work(engine) as session:
        person = Person(
            telegram_user_id=user_id,
            chat_id=user_id,
            timezone="Europe/London",
            checkin_time=time(19, 0),
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(person)
        session.flush()
        episode = Episode(
            person_id=person.id,
            started_at=NOW,
            status=EpisodeStatus.ACTIVE,
            onset_date=date(2026, 3, 23),
        )
        session.add(episode)
        session.flush()
        return person, episode


def test_migrations_create_exactly_the_tables_the_models_describe(engine: sa.Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


def test_migrate_twice_is_harmless(database_url: str, engine: sa.Engine) -> None:
    migrate(database_url)
    with engine.connect() as connection:
        version = connection.execute(sa.text("select version_num from alembic_version")).scalar()
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    assert version == head and head is not None and int(head) >= 2


BERLIN = ZoneInfo("Europe/Berlin")
# (the local day a follow-up is for, an instant on a Berlin wall clock, the same instant in UTC)
BERLIN_INSTANTS = (
    # A March evening in winter time: CET, UTC+1.
    (
        date(2026, 3, 23),
        datetime(2026, 3, 23, 20, 0, tzinfo=BERLIN),
        datetime(2026, 3, 23, 19, 0, tzinfo=UTC),
    ),
    # The evenings either side of the spring change (29 March 2026, 02:00 CET -> 03:00 CEST):
    # the same wall clock, 23 hours apart.
    (
        date(2026, 3, 28),
        datetime(2026, 3, 28, 20, 0, tzinfo=BERLIN),
        datetime(2026, 3, 28, 19, 0, tzinfo=UTC),
    ),
    (
        date(2026, 3, 29),
        datetime(2026, 3, 29, 20, 0, tzinfo=BERLIN),
        datetime(2026, 3, 29, 18, 0, tzinfo=UTC),
    ),
    # The autumn change (25 October 2026, 03:00 CEST -> 02:00 CET): 02:30 happens twice, `fold`
    # tells the two apart; they must stay two instants an hour apart.
    (
        date(2026, 10, 24),
        datetime(2026, 10, 25, 2, 30, fold=0, tzinfo=BERLIN),
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
    ),
    (
        date(2026, 10, 25),
        datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=BERLIN),
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
    ),
)


def test_instants_come_back_timezone_aware_in_utc(engine: sa.Engine) -> None:
    """Instants written on a Berlin wall clock come back as the same instants, in UTC.

    PostgreSQL hands timestamps back in the session's zone, so the reads run with the session set
    to Berlin: the column type, not the server's UTC default, has to put them back in UTC.
    (Compared in UTC throughout: Python never finds an instant in a repeated hour equal to one in
    another zone, and compares two datetimes of the same zone by wall clock, ignoring `fold`.)
    """
    for _, instant, utc in BERLIN_INSTANTS:  # the test's own data: Berlin wall clocks, not UTC
        assert instant.utcoffset() != timedelta(0) and instant.astimezone(UTC) == utc
    person, episode = _person_with_episode(engine)
    with unit_of_work(engine) as session:
        for local_date, instant, _ in BERLIN_INSTANTS:
            repo.upsert_followup(
                session,
                person=person,
                episode=episode,
                kind=FollowUpKind.CHECKIN,
                local_date=local_date,
                due_at=instant,
            )
    postgres = engine.dialect.name == "postgresql"
    with unit_of_work(engine) as session:
        if postgres:
            session.execute(sa.text("SET LOCAL TIME ZONE 'Europe/Berlin'"))
        statement = sa.select(FollowUp).order_by(FollowUp.local_date)
        rows = session.exec(statement).scalars().all()  # type: ignore[call-overload]
        assert [row.local_date for row in rows] == [entry[0] for entry in BERLIN_INSTANTS]
        for row, (_, instant, utc) in zip(rows, BERLIN_INSTANTS, strict=True):
            assert row.due_at.tzinfo is not None and row.due_at.utcoffset() == timedelta(0)
            assert row.due_at == utc, f"{instant.isoformat()} came back as {row.due_at}"
        # What the database holds orders and compares as instants: the autumn 02:30 CET comes an
        # hour after 02:30 CEST, and a Berlin-zoned bound selects by instant.
        by_due = session.execute(sa.text("select local_date from followup order by due_at"))
        assert [_as_date(d) for d in by_due.scalars()] == [e[0] for e in BERLIN_INSTANTS]
        after = datetime(2026, 3, 29, 19, 30, tzinfo=BERLIN)  # 17:30 UTC, before 20:00 CEST
        statement = sa.select(FollowUp.local_date).where(FollowUp.due_at > after)
        later = session.exec(statement).scalars().all()  # type: ignore[call-overload]
        assert sorted(later) == [e[0] for e in BERLIN_INSTANTS[2:]]
        # Stored as instants: SQLite keeps the UTC wall clock as text; PostgreSQL a timestamptz,
        # which the driver hands back in the session's zone (Berlin here, so the reads above
        # really had to convert).
        raw = session.execute(sa.text("select due_at from followup order by due_at")).scalars()
        for value, (_, instant, utc) in zip(raw.all(), BERLIN_INSTANTS, strict=True):
            if postgres:
                assert value.utcoffset() == instant.utcoffset() and value.astimezone(UTC) == utc
            else:
                assert datetime.fromisoformat(str(value)) == utc.replace(tzinfo=None)


def _as_date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def test_naive_datetimes_are_refused(engine: sa.Engine) -> None:
    with pytest.raises(sa.exc.StatementError), unit_of_work(engine) as session:
        session.add(
            Person(telegram_user_id=5, chat_id=5, created_at=datetime(2026, 1, 1), updated_at=NOW)
        )


def test_a_sent_followup_is_never_rearmed_by_rescheduling(engine: sa.Engine) -> None:
    person, episode = _person_with_episode(engine)
    day = date(2026, 3, 24)
    with unit_of_work(engine) as session:
        row = repo.upsert_followup(
            session,
            person=person,
            episode=episode,
            kind=FollowUpKind.CHECKIN,
            local_date=day,
            due_at=NOW,
        )
        assert row is not None
        row.status = FollowUpStatus.SENT
    with unit_of_work(engine) as session:
        again = repo.upsert_followup(
            session,
            person=person,
            episode=episode,
            kind=FollowUpKind.CHECKIN,
            local_date=day,
            due_at=NOW + timedelta(hours=1),
        )
        assert again is None
        count = session.execute(sa.text("select count(*) from followup")).scalar_one()
    assert count == 1


def test_a_cancelled_followup_is_rearmed_once(engine: sa.Engine) -> None:
    person, episode = _person_with_episode(engine)
    day = date(2026, 3, 24)
    with unit_of_work(engine) as session:
        repo.upsert_followup(
            session,
            person=person,
            episode=episode,
            kind=FollowUpKind.CHECKIN,
            local_date=day,
            due_at=NOW,
        )
        assert repo.cancel_pending_followups(session, person=person) == 1
    with unit_of_work(engine) as session:
        repo.upsert_followup(
            session,
            person=person,
            episode=episode,
            kind=FollowUpKind.CHECKIN,
            local_date=day,
            due_at=NOW + timedelta(hours=2),
        )
        rows = session.execute(sa.text("select status from followup")).scalars().all()
    assert rows == ["pending"]


def test_one_followup_per_kind_and_day_is_enforced_by_the_database(engine: sa.Engine) -> None:
    person, episode = _person_with_episode(engine)
    with pytest.raises(sa.exc.IntegrityError), unit_of_work(engine) as session:
        for _ in range(2):
            session.add(
                FollowUp(
                    person_id=person.id,
                    episode_id=episode.id,
                    kind=FollowUpKind.CHECKIN,
                    local_date=date(2026, 3, 24),
                    due_at=NOW,
                )
            )
            session.flush()


def test_claims_take_each_due_row_once_and_expired_leases_come_back(engine: sa.Engine) -> None:
    person, episode = _person_with_episode(engine)
    with unit_of_work(engine) as session:
        for offset in range(5):
            repo.upsert_followup(
                session,
                person=person,
                episode=episode,
                kind=FollowUpKind.CHECKIN,
                local_date=date(2026, 3, 24) + timedelta(days=offset),
                due_at=NOW + timedelta(minutes=offset),
            )
    clock = ManualClock(NOW + timedelta(minutes=2))

    def claim(owner: str) -> tuple[str, list[int]]:
        now = clock.now()
        with unit_of_work(engine) as session:
            return followups.claim_due(
                session, owner=owner, now=now, lease_until=now + timedelta(seconds=60), limit=200
            )

    token_one, first = claim("one")
    assert len(first) == 3  # due at +0, +1 and +2 minutes
    assert claim("two")[1] == []  # already claimed, lease still running
    clock.advance(timedelta(minutes=2))
    token_two, second = claim("two")
    # The leases of the first three expired (their instance "died"); two more rows fell due.
    assert set(first) < set(second) and len(second) == 5
    with unit_of_work(engine) as session:
        # Fenced: the first claim lapsed, so it can neither settle nor release these rows.
        assert followups.owned_claim(session, followup_id=first[0], token=token_one) is None
        followups.release(session, ids=second, token=token_one)
    assert claim("three")[1] == []
    with unit_of_work(engine) as session:
        assert followups.owned_claim(session, followup_id=first[0], token=token_two) is not None
        followups.release(session, ids=second, token=token_two)
    assert len(claim("three")[1]) == 5
