"""Claims on due follow-ups. A claim carries its owner; only the owner may settle the row."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from coach.storage.models import FollowUp, FollowUpStatus, Person


def claim_due(
    session: Session, *, owner: str, now: datetime, lease_until: datetime, limit: int
) -> tuple[str, list[int]]:
    """Claim up to `limit` rows: those whose lease expired first, then pending rows by due time.

    Two statements rather than one with OR, so each scan follows the (status, due_at) index and a
    claim costs the same however large the backlog is. Returns the claim token and the row ids.
    """
    token = f"{owner}:{uuid.uuid4().hex[:8]}"
    claimable = (
        sa.and_(col(FollowUp.status) == FollowUpStatus.CLAIMED, col(FollowUp.lease_until) < now),
        sa.and_(col(FollowUp.status) == FollowUpStatus.PENDING, col(FollowUp.due_at) <= now),
    )
    remaining = limit
    for condition in claimable:
        due = select(FollowUp.id).where(condition).order_by(col(FollowUp.due_at)).limit(remaining)
        if session.get_bind().dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        result = session.execute(
            sa.update(FollowUp)
            .where(col(FollowUp.id).in_(due.scalar_subquery()))
            .values(status=FollowUpStatus.CLAIMED, claimed_by=token, lease_until=lease_until)
            .execution_options(synchronize_session=False)
        )
        remaining -= int(result.rowcount or 0)  # type: ignore[attr-defined]
        if remaining <= 0:
            break
    ids = session.exec(
        select(FollowUp.id)
        .where(FollowUp.claimed_by == token, FollowUp.status == FollowUpStatus.CLAIMED)
        .order_by(col(FollowUp.due_at))
    ).all()
    return token, [i for i in ids if i is not None]


def owned_claim(session: Session, *, followup_id: int, token: str) -> FollowUp | None:
    """The follow-up, if this claim still holds it (fencing: a lapsed claim gets None)."""
    followup = session.get(FollowUp, followup_id)
    if followup is None or followup.status != FollowUpStatus.CLAIMED:
        return None
    if followup.claimed_by != token:
        return None
    return followup


def release(session: Session, *, ids: list[int], token: str) -> None:
    """Give claimed rows back, pending again (the dispatcher is stopping)."""
    if ids:
        session.execute(
            sa.update(FollowUp)
            .where(
                col(FollowUp.id).in_(ids),
                col(FollowUp.claimed_by) == token,
                col(FollowUp.status) == FollowUpStatus.CLAIMED,
            )
            .values(status=FollowUpStatus.PENDING, lease_until=None)
        )


def telegram_users_of(session: Session, followup_ids: Sequence[int]) -> list[int]:
    """Whose locks to take before rendering these follow-ups (each person once, in order)."""
    return list(
        session.execute(
            select(Person.telegram_user_id)
            .join(FollowUp, col(FollowUp.person_id) == col(Person.id))
            .where(col(FollowUp.id).in_(followup_ids))
            .distinct()
            .order_by(col(Person.telegram_user_id))
        ).scalars()
    )


def settle(session: Session, *, followup_id: int, status: FollowUpStatus, reason: str) -> None:
    """Record how a follow-up's delivery ended (its outbox row failed or was cancelled)."""
    session.execute(
        sa.update(FollowUp)
        .where(col(FollowUp.id) == followup_id)
        .values(status=status, last_error=reason[:200], lease_until=None)
    )
