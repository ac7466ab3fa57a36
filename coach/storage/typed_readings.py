"""Decisions taken from typed words, with the words (table `typed_reading`).

Kept like any other health answer: exported by /mydata, erased with the person (the foreign keys
cascade), never logged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlmodel import Session

from coach.storage.models import Episode, Person, TypedReading


def record(
    session: Session,
    *,
    person: Person,
    episode: Episode | None,
    decision: str,
    mentions: Sequence[Mapping[str, object]],
    at: datetime,
) -> None:
    assert person.id is not None, "person not flushed yet"
    session.add(
        TypedReading(
            person_id=person.id,
            episode_id=episode.id if episode else None,
            read_at=at,
            decision=decision,
            mentions=[dict(m) for m in mentions],
        )
    )
