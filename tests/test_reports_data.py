"""What the clinician's report reads for one episode (coach/storage/report_data.py), on a real
SQLite file and the real PostgreSQL server."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from coach.storage import repository as repo
from coach.storage.database import create_db_engine, migrate, unit_of_work
from coach.storage.models import CheckIn, Episode, EpisodeStatus, Person
from coach.storage.report_data import episode_facts, record_report_request

T0 = datetime(2026, 3, 23, 10, tzinfo=UTC)


def test_episode_facts_hold_screens_decisions_checkins_and_plan_starts(database_url: str) -> None:
    migrate(database_url)
    engine: sa.Engine = create_db_engine(database_url)
    try:
        with unit_of_work(engine) as session:
            person = Person(
                telegram_user_id=77,
                chat_id=77,
                timezone="Europe/London",
                checkin_time=time(19),
                created_at=T0,
                updated_at=T0,
            )
            session.add(person)
            session.flush()
            episode = Episode(
                person_id=person.id,
                started_at=T0,
                onset_date=date(2026, 3, 22),
                trigger="lifting",
                location="lower_back",
                baseline_pain=6,
                tier=1,
                status=EpisodeStatus.ACTIVE,
            )
            other = Episode(person_id=person.id, started_at=T0, status=EpisodeStatus.CLOSED)
            session.add_all([episode, other])
            session.flush()

            def answer(
                question: str, value: str, at: datetime, checkin: CheckIn | None = None
            ) -> None:
                repo.record_answer(
                    session,
                    person=person,
                    episode=episode,
                    question=question,
                    value=value,
                    at=at,
                    checkin=checkin,
                )

            answer("emergency", "none", T0)
            answer("pain", "6", T0)  # not a screen
            answer("age", "under50", T0 + timedelta(minutes=1))  # the plan started here
            done = CheckIn(
                episode_id=episode.id,
                day=3,
                local_date=date(2026, 3, 24),
                started_at=T0 + timedelta(days=1, hours=9),
                completed_at=T0 + timedelta(days=1, hours=9, minutes=2),
                pain=5,
                managed="both",
            )
            unanswered = CheckIn(
                episode_id=episode.id,
                day=4,
                local_date=date(2026, 3, 25),
                started_at=T0 + timedelta(days=2, hours=9),
            )
            session.add_all([done, unanswered])
            session.flush()
            answer("checkin.emergency", "none", T0 + timedelta(days=1, hours=9), done)
            answer("screen.emergency", "both_legs", T0 + timedelta(days=2))
            for kind, tier, rule, offset in (
                ("triage", 0, "no_red_flags", 0),
                ("escalation", 1, "no_improvement_day3", 1),
                ("seen_clinician", 1, "seen_clinician", 2),
            ):
                repo.record_decision(
                    session,
                    person=person,
                    episode=episode,
                    kind=kind,
                    tier=tier,
                    rule=rule,
                    answers={"pain": 6},
                    at=T0 + timedelta(days=offset),
                )
            record_report_request(
                session, person_id=person.id, episode_id=episode.id, at=T0 + timedelta(days=2)
            )
            repo.record_decision(
                session,
                person=person,
                episode=other,
                kind="escalation",
                tier=3,
                rule="saddle_numbness",
                answers={},
                at=T0,
            )
        with unit_of_work(engine) as session:
            facts = episode_facts(session, session.get(Episode, episode.id))
    finally:
        engine.dispose()

    assert (facts.onset_date, facts.trigger, facts.location, facts.baseline_pain) == (
        date(2026, 3, 22),
        "lifting",
        "lower_back",
        6,
    )
    assert [(c.day, c.pain, c.managed) for c in facts.checkins] == [(3, 5, "both")]
    assert [(s.question, s.value, s.checkin_day) for s in facts.screens] == [
        ("emergency", "none", None),
        ("checkin.emergency", "none", 3),
        ("screen.emergency", "both_legs", None),
    ]
    # The report request is counted elsewhere, never shown as a decision; the other episode's
    # decision is not this episode's.
    assert [(d.kind, d.rule) for d in facts.decisions] == [
        ("triage", "no_red_flags"),
        ("escalation", "no_improvement_day3"),
        ("seen_clinician", "seen_clinician"),
    ]
    assert facts.plan_started == [T0 + timedelta(minutes=1), T0 + timedelta(days=2)]
