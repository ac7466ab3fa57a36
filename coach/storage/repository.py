"""Queries the coach needs. Handlers never build SQL themselves; they call these."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from coach.storage.models import (
    Answer,
    CheckIn,
    Decision,
    Episode,
    EpisodeStatus,
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    OutboxMessage,
    Person,
    TypedReading,
)

OPEN_EPISODE_STATUSES = (
    EpisodeStatus.ASSESSING,
    EpisodeStatus.ACTIVE,
    EpisodeStatus.AWAITING_CARE,
    EpisodeStatus.HALTED_EMERGENCY,
)


_PEOPLE_SEEN = "people_by_telegram_id"


def person_by_telegram_id(session: Session, telegram_user_id: int) -> Person | None:
    """The person, found once per unit of work (the router, the service and the journeys all
    ask); only found rows are remembered, so a person created in the unit is found next time."""
    seen: dict[int, Person] = session.info.setdefault(_PEOPLE_SEEN, {})
    person = seen.get(telegram_user_id)
    if person is None:
        person = session.exec(
            select(Person).where(Person.telegram_user_id == telegram_user_id)
        ).first()
        if person is not None:
            seen[telegram_user_id] = person
    return person


def person_by_id(session: Session, person_id: int) -> Person | None:
    return session.get(Person, person_id)


def create_person(
    session: Session, *, telegram_user_id: int, chat_id: int, language: str, at: datetime
) -> Person:
    person = Person(
        telegram_user_id=telegram_user_id,
        chat_id=chat_id,
        language=language,
        created_at=at,
        updated_at=at,
    )
    session.add(person)
    session.flush()
    return person


def start_episode(session: Session, *, person: Person, at: datetime) -> Episode:
    """A new episode, in its symptom check."""
    episode = Episode(
        person_id=person.id,  # type: ignore[arg-type]
        started_at=at,
        status=EpisodeStatus.ASSESSING,
    )
    session.add(episode)
    session.flush()
    return episode


def episode_by_id(session: Session, episode_id: int | None) -> Episode | None:
    return session.get(Episode, episode_id) if episode_id is not None else None


def checkin_by_id(session: Session, checkin_id: int | None) -> CheckIn | None:
    return session.get(CheckIn, checkin_id) if checkin_id is not None else None


def start_checkin(
    session: Session,
    *,
    episode: Episode,
    day: int,
    local_date: date,
    at: datetime,
    followup_id: int | None,
) -> CheckIn:
    checkin = CheckIn(
        episode_id=episode.id,  # type: ignore[arg-type]
        day=day,
        local_date=local_date,
        started_at=at,
        followup_id=followup_id,
    )
    session.add(checkin)
    session.flush()
    return checkin


def open_episode(session: Session, person: Person) -> Episode | None:
    return session.exec(
        select(Episode)
        .where(Episode.person_id == person.id, col(Episode.status).in_(OPEN_EPISODE_STATUSES))
        .order_by(col(Episode.id).desc())
    ).first()


def latest_episode(session: Session, person: Person) -> Episode | None:
    return session.exec(
        select(Episode).where(Episode.person_id == person.id).order_by(col(Episode.id).desc())
    ).first()


def record_answer(
    session: Session,
    *,
    person: Person,
    episode: Episode | None,
    question: str,
    value: str,
    at: datetime,
    checkin: CheckIn | None = None,
) -> None:
    session.add(
        Answer(
            person_id=person.id,  # type: ignore[arg-type]
            episode_id=episode.id if episode else None,
            checkin_id=checkin.id if checkin else None,
            question=question,
            value=value,
            answered_at=at,
        )
    )


def record_decision(
    session: Session,
    *,
    person: Person,
    episode: Episode | None,
    kind: str,
    tier: int,
    rule: str,
    answers: Mapping[str, object],
    at: datetime,
) -> None:
    session.add(
        Decision(
            person_id=person.id,  # type: ignore[arg-type]
            episode_id=episode.id if episode else None,
            decided_at=at,
            kind=kind,
            tier=tier,
            rule=rule,
            answers=dict(answers),
        )
    )


def rules_fired(session: Session, episode: Episode) -> frozenset[str]:
    rows = session.exec(select(Decision.rule).where(Decision.episode_id == episode.id)).all()
    return frozenset(rows)


def checkins(session: Session, episode: Episode) -> list[CheckIn]:
    return list(
        session.exec(
            select(CheckIn).where(CheckIn.episode_id == episode.id).order_by(col(CheckIn.id))
        ).all()
    )


def silent_checkins(session: Session, episode: Episode, *, since: datetime | None) -> int:
    """Unanswered check-ins in a row, newest first, derived from the rows (never a counter that a
    retried render could bump twice). A check-in answered in part ends the run and counts once;
    check-ins opened before `since` ("yes, continue", resume) do not count."""
    rows = checkins(session, episode)
    answered = set(
        session.exec(
            select(Answer.checkin_id).where(
                col(Answer.checkin_id).in_([c.id for c in rows if c.id is not None])
            )
        ).all()
    )
    count = 0
    for checkin in reversed(rows):
        if checkin.completed_at is not None:
            break
        if since is not None and checkin.started_at is not None and checkin.started_at < since:
            break
        count += 1
        if checkin.id in answered:
            break
    return count


def checkin_on(session: Session, episode: Episode, local_date: date) -> CheckIn | None:
    return session.exec(
        select(CheckIn)
        .where(CheckIn.episode_id == episode.id, CheckIn.local_date == local_date)
        .order_by(col(CheckIn.id).desc())
    ).first()


def upsert_followup(
    session: Session,
    *,
    person: Person,
    episode: Episode,
    kind: FollowUpKind,
    local_date: date,
    due_at: datetime,
) -> FollowUp | None:
    """Schedule a follow-up, once per (episode, kind, local day).

    A pending or cancelled row is (re)armed with the new due instant; one already claimed, sent,
    skipped or failed is left alone, so rescheduling can never send the same follow-up twice.
    """
    existing = session.exec(
        select(FollowUp).where(
            FollowUp.episode_id == episode.id,
            FollowUp.kind == kind,
            FollowUp.local_date == local_date,
        )
    ).first()
    if existing is not None:
        if existing.status in (FollowUpStatus.PENDING, FollowUpStatus.CANCELLED):
            existing.status = FollowUpStatus.PENDING
            existing.due_at = due_at
            existing.attempts = 0
            existing.last_error = None
            session.add(existing)
            return existing
        return None
    followup = FollowUp(
        person_id=person.id,  # type: ignore[arg-type]
        episode_id=episode.id,
        kind=kind,
        local_date=local_date,
        due_at=due_at,
    )
    session.add(followup)
    return followup


def cancel_pending_followups(
    session: Session, *, person: Person, kinds: tuple[FollowUpKind, ...] | None = None
) -> int:
    statement = sa.update(FollowUp).where(
        col(FollowUp.person_id) == person.id,
        col(FollowUp.status) == FollowUpStatus.PENDING,
    )
    if kinds is not None:
        statement = statement.where(col(FollowUp.kind).in_(kinds))
    result = session.execute(statement.values(status=FollowUpStatus.CANCELLED))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def pending_followups(session: Session, person: Person) -> list[FollowUp]:
    return list(
        session.exec(
            select(FollowUp)
            .where(FollowUp.person_id == person.id, FollowUp.status == FollowUpStatus.PENDING)
            .order_by(col(FollowUp.due_at))
        ).all()
    )


def next_due_instant(session: Session) -> datetime | None:
    """The earliest pending follow-up instant (for the simulator's clock)."""
    return session.exec(
        select(sa.func.min(FollowUp.due_at)).where(FollowUp.status == FollowUpStatus.PENDING)
    ).first()


def decisions_of(session: Session, episode: Episode) -> list[Decision]:
    return list(
        session.exec(
            select(Decision).where(Decision.episode_id == episode.id).order_by(col(Decision.id))
        ).all()
    )


def cancel_reminder(session: Session, *, episode: Episode, local_date: date) -> None:
    session.execute(
        sa.update(FollowUp)
        .where(
            col(FollowUp.episode_id) == episode.id,
            col(FollowUp.kind) == FollowUpKind.CHECKIN_REMINDER,
            col(FollowUp.local_date) == local_date,
            col(FollowUp.status) == FollowUpStatus.PENDING,
        )
        .values(status=FollowUpStatus.CANCELLED)
    )


def _rows(session: Session, model: type, person: Person) -> list[dict[str, object]]:
    if model is CheckIn:
        statement = select(CheckIn).join(Episode).where(Episode.person_id == person.id)
    else:
        statement = select(model).where(model.person_id == person.id)  # type: ignore[attr-defined]
    # An export file waiting in the outbox is not exported inside the export.
    return [
        row.model_dump(mode="json", exclude={"document_body"})
        for row in session.exec(statement).all()
    ]


def export_person(session: Session, person: Person) -> dict[str, object]:
    """Everything held about one person, table by table."""
    return {
        "person": person.model_dump(mode="json", exclude={"flow_data"}),
        "episodes": _rows(session, Episode, person),
        "answers": _rows(session, Answer, person),
        "checkins": _rows(session, CheckIn, person),
        "follow_ups": _rows(session, FollowUp, person),
        "decisions": _rows(session, Decision, person),
        "typed_readings": _rows(session, TypedReading, person),
        # Messages owed to the person (delivered ones keep no text).
        "messages": _rows(session, OutboxMessage, person),
    }


def erase_person(session: Session, person: Person) -> None:
    """Delete the person; every row about them goes with it (foreign keys cascade on delete)."""
    session.execute(sa.delete(Person).where(col(Person.id) == person.id))
    session.info.get(_PEOPLE_SEEN, {}).pop(person.telegram_user_id, None)
    session.expunge(person)


def purge_closed_episodes(session: Session, *, before: datetime) -> int:
    """Erase episodes closed before `before`; their answers, check-ins, decisions, follow-ups and
    outbox rows go with them (foreign keys cascade on delete)."""
    result = session.execute(
        sa.delete(Episode).where(
            col(Episode.closed_at).is_not(None), col(Episode.closed_at) < before
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
