"""The inbox: which Telegram updates have been handled, so none is handled twice."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from coach.storage.models import InboxUpdate


def record_update(session: Session, *, update_id: int, at: datetime) -> bool:
    """Record an update as handled in this unit of work; False if it already was.

    The row commits or rolls back with the handling itself, so an update is handled exactly once:
    a re-delivery (polling offset lost, webhook retry, a second instance) finds the row and stops.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(InboxUpdate)
        .values(update_id=update_id, received_at=at)
        .on_conflict_do_nothing(index_elements=["update_id"])
        # RETURNING, not rowcount: psycopg reports a row count for ON CONFLICT DO NOTHING even
        # when nothing was inserted.
        .returning(col(InboxUpdate.update_id))
    )
    return session.execute(statement).first() is not None


def forget_updates_before(session: Session, *, before: datetime) -> int:
    """Telegram re-delivers for at most a day; older ids need not be remembered."""
    result = session.execute(sa.delete(InboxUpdate).where(col(InboxUpdate.received_at) < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
