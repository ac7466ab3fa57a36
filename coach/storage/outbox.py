"""The outbox: every message owed to a chat, written in the same transaction as the decision.

Delivery claims rows with an owner token and a lease; only the owner may settle a row (fenced),
so a sender whose lease ran out cannot mark or retry a row another sender now holds. Per chat,
rows go out in the order they were written: a row is claimable only when no earlier row of its
chat is still waiting (to retry, or in another sender's hands).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from coach.storage.models import FollowUp, FollowUpStatus, OutboxMessage, OutboxStatus

OPEN = (OutboxStatus.PENDING, OutboxStatus.DRAWING, OutboxStatus.RETRY, OutboxStatus.SENDING)
# A message whose drawing never finished (the process stopped while drawing) is given up after
# this long, so the chat's later messages are not held behind it.
DRAWING_EXPIRES = timedelta(minutes=10)
# Keeps the per-chat claim lock apart from the per-person lock (both are Telegram ids).
_CHAT_LOCK_BIT = 1 << 62


@dataclass(frozen=True)
class Outgoing:
    """One message to write: text with rows of stored choices, a document, a photo (PNG bytes,
    its caption in `text`) or an edit.

    A stored choice is [label, "q", token, value] (an answer) or [label, "a", action]: the
    coach's choices, not a transport's encoding of them.
    """

    text: str
    buttons: Sequence[Sequence[Sequence[str]]] = ()
    document: tuple[str, bytes] | None = None
    edit_message_id: int | None = None
    photo: bytes | None = None
    # The picture or page is drawn after the commit (`fill_drawings`); the row waits for it.
    drawing: bool = False


def enqueue(
    session: Session,
    *,
    chat_id: int,
    person_id: int | None,
    messages: Sequence[Outgoing],
    now: datetime,
    expires_at: datetime,
    followup_id: int | None = None,
) -> list[OutboxMessage]:
    rows = []
    for message in messages:
        kind = (
            "document"
            if message.document is not None
            else "photo"
            if message.photo is not None
            else "edit"
            if message.edit_message_id is not None
            else "text"
        )
        row = OutboxMessage(
            person_id=person_id,
            chat_id=chat_id,
            kind=kind,
            text=message.text,
            buttons=[[list(cell) for cell in row] for row in message.buttons],
            document_name=message.document[0] if message.document else None,
            document_body=message.document[1] if message.document else message.photo,
            edit_message_id=message.edit_message_id,
            followup_id=followup_id,
            status=OutboxStatus.DRAWING if message.drawing else OutboxStatus.PENDING,
            next_attempt_at=now,
            expires_at=min(expires_at, now + DRAWING_EXPIRES) if message.drawing else expires_at,
            created_at=now,
        )
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


def fill_drawings(session: Session, bodies: dict[int, bytes | None], *, now: datetime) -> None:
    """Put drawn pictures and pages in their rows, which become deliverable; a drawing that
    failed (None) cancels its row and the chat's later messages go on without it."""
    for row_id, body in bodies.items():
        drawn = {"status": OutboxStatus.PENDING, "document_body": body, "next_attempt_at": now}
        failed = {"status": OutboxStatus.CANCELLED, "last_error": "could not be drawn"}
        session.execute(
            sa.update(OutboxMessage)
            .where(
                col(OutboxMessage.id) == row_id, col(OutboxMessage.status) == OutboxStatus.DRAWING
            )
            .values(**(failed if body is None else drawn))
        )


def hand_off(
    session: Session, rows: Sequence[OutboxMessage], *, token: str, lease_until: datetime
) -> bool:
    """Claim rows just written, in their own transaction, when nothing earlier of their chat is
    still open: the reply then goes out right after commit without a claim round trip. False
    (rows left pending for the next claim) when the chat has older rows waiting."""
    ids = [row.id for row in rows if row.id is not None]
    if not ids or any(row.status == OutboxStatus.DRAWING for row in rows):
        return False
    chat_id = rows[0].chat_id
    earlier = col(OutboxMessage.id) < min(ids), col(OutboxMessage.status).in_(OPEN)
    chat = OutboxMessage.chat_id == chat_id
    if session.execute(select(OutboxMessage.id).where(chat, *earlier).limit(1)).first():
        return False
    session.execute(
        sa.update(OutboxMessage)
        .where(col(OutboxMessage.id).in_(ids))
        .values(status=OutboxStatus.SENDING, claimed_by=token, lease_until=lease_until)
        .execution_options(synchronize_session=False)
    )
    for row in rows:
        row.status, row.claimed_by, row.lease_until = OutboxStatus.SENDING, token, lease_until
    return True


def _deliverable(row: type[OutboxMessage] | OutboxMessage, now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(
        sa.and_(
            col(row.status).in_((OutboxStatus.PENDING, OutboxStatus.RETRY)),
            col(row.next_attempt_at) <= now,
        ),
        sa.and_(
            col(row.status) == OutboxStatus.SENDING,
            col(row.lease_until) < now,
        ),
    )


def claim(
    session: Session,
    *,
    token: str,
    now: datetime,
    lease_until: datetime,
    limit: int,
    chat_id: int | None = None,
) -> list[OutboxMessage]:
    """Claim up to `limit` deliverable rows (one chat's, or any), oldest first."""
    earlier = aliased(OutboxMessage)
    blocked_by_earlier = (
        select(earlier.id)
        .where(
            earlier.chat_id == OutboxMessage.chat_id,
            col(earlier.id) < col(OutboxMessage.id),
            col(earlier.status).in_(OPEN),
            sa.not_(_deliverable(earlier, now)),
        )
        .exists()
    )
    candidates = (
        select(OutboxMessage.id)
        .where(_deliverable(OutboxMessage, now), sa.not_(blocked_by_earlier))
        .order_by(col(OutboxMessage.id))
        .limit(limit)
    )
    if chat_id is not None:
        candidates = candidates.where(OutboxMessage.chat_id == chat_id)
    if session.get_bind().dialect.name == "postgresql":
        # One sender per chat at a time keeps the chat's order; SKIP LOCKED shares the rest.
        candidates = candidates.where(
            sa.func.pg_try_advisory_xact_lock(
                sa.literal(_CHAT_LOCK_BIT, type_=sa.BigInteger()).op("#")(
                    col(OutboxMessage.chat_id)
                )
            )
        ).with_for_update(skip_locked=True)
    session.execute(
        sa.update(OutboxMessage)
        .where(col(OutboxMessage.id).in_(candidates.scalar_subquery()))
        .values(status=OutboxStatus.SENDING, claimed_by=token, lease_until=lease_until)
        .execution_options(synchronize_session=False)
    )
    return list(
        session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.claimed_by == token, OutboxMessage.status == OutboxStatus.SENDING)
            .order_by(col(OutboxMessage.id))
        ).all()
    )


def _owned(message_id: int, token: str) -> sa.ColumnElement[bool]:
    return sa.and_(
        col(OutboxMessage.id) == message_id,
        col(OutboxMessage.claimed_by) == token,
        col(OutboxMessage.status) == OutboxStatus.SENDING,
    )


def mark_sent_many(
    session: Session,
    *,
    sent: Sequence[tuple[int, int | None]],
    token: str,
    now: datetime,
) -> list[int]:
    """Settle delivered rows (id, Telegram message id) in one statement batch; returns the ids
    that were still ours (the others are left as they are)."""
    if not sent:
        return []
    ids = [message_id for message_id, _ in sent]
    owned_rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.followup_id)
        .where(
            col(OutboxMessage.id).in_(ids),
            col(OutboxMessage.claimed_by) == token,
            col(OutboxMessage.status) == OutboxStatus.SENDING,
        )
        .with_for_update()
    ).all()
    owned = [row_id for row_id, _ in owned_rows]
    if not owned:
        return []
    telegram_ids = dict(sent)
    # Core statements with executemany: one round of parameter sets, no ORM bookkeeping.
    outbox_table = OutboxMessage.metadata.tables["outbox_message"]
    table = outbox_table.c
    session.connection().execute(
        sa.update(outbox_table)
        .where(
            table.id == sa.bindparam("row_id"),
            table.claimed_by == token,
            table.status == OutboxStatus.SENDING,
        )
        .values(
            status=OutboxStatus.SENT,
            sent_at=now,
            sent_message_id=sa.bindparam("telegram_id"),
            lease_until=None,
            # What was said is not kept once delivered (it can hold health details).
            text="",
            buttons=[],
            document_body=None,
        ),
        [{"row_id": i, "telegram_id": telegram_ids[i]} for i in owned],
    )
    carried = [(fid, telegram_ids[row_id]) for row_id, fid in owned_rows if fid is not None]
    if carried:
        followup_table = FollowUp.metadata.tables["followup"]
        session.connection().execute(
            sa.update(followup_table)
            .where(followup_table.c.id == sa.bindparam("fid"))
            .values(status=FollowUpStatus.SENT, sent_at=now, sent_message_id=sa.bindparam("mid")),
            [{"fid": fid, "mid": mid} for fid, mid in carried],
        )
    return owned


def mark_retry(
    session: Session,
    *,
    message_ids: Sequence[int],
    token: str,
    at: datetime,
    reason: str,
    counts_as_attempt: bool,
    max_attempts: int,
) -> int:
    """Wait until `at` (own state); a failed attempt past the cap marks the row failed."""
    if not message_ids:
        return 0
    owned = sa.and_(
        col(OutboxMessage.id).in_(message_ids),
        col(OutboxMessage.claimed_by) == token,
        col(OutboxMessage.status) == OutboxStatus.SENDING,
    )
    attempts = col(OutboxMessage.attempts) + (1 if counts_as_attempt else 0)
    result = session.execute(
        sa.update(OutboxMessage)
        .where(owned)
        .values(
            status=sa.case(
                (attempts >= max_attempts, OutboxStatus.FAILED.value),
                else_=OutboxStatus.RETRY.value,
            ),
            attempts=attempts,
            next_attempt_at=at,
            lease_until=None,
            last_error=reason[:200],
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def mark_failed(session: Session, *, message_id: int, token: str, reason: str) -> bool:
    result = session.execute(
        sa.update(OutboxMessage)
        .where(_owned(message_id, token))
        .values(status=OutboxStatus.FAILED, lease_until=None, last_error=reason[:200])
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def release(session: Session, *, message_ids: Sequence[int], token: str) -> None:
    """Give claimed rows back untouched (the sender is stopping)."""
    if message_ids:
        session.execute(
            sa.update(OutboxMessage)
            .where(
                col(OutboxMessage.id).in_(message_ids),
                col(OutboxMessage.claimed_by) == token,
                col(OutboxMessage.status) == OutboxStatus.SENDING,
            )
            .values(status=OutboxStatus.PENDING, lease_until=None)
        )


def renew(session: Session, *, token: str, lease_until: datetime) -> int:
    """Extend the lease of every row this sender still holds (its heartbeat)."""
    result = session.execute(
        sa.update(OutboxMessage)
        .where(
            col(OutboxMessage.claimed_by) == token,
            col(OutboxMessage.status) == OutboxStatus.SENDING,
        )
        .values(lease_until=lease_until)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def cancel_for_person(session: Session, *, person_id: int, reason: str) -> int:
    result = session.execute(
        sa.update(OutboxMessage)
        .where(col(OutboxMessage.person_id) == person_id, col(OutboxMessage.status).in_(OPEN))
        .values(status=OutboxStatus.CANCELLED, lease_until=None, last_error=reason)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def expire(session: Session, *, now: datetime) -> int:
    """Rows still waiting past their expiry are given up (a check-in hours late helps no one)."""
    result = session.execute(
        sa.update(OutboxMessage)
        .where(
            col(OutboxMessage.status).in_(
                (OutboxStatus.PENDING, OutboxStatus.RETRY, OutboxStatus.DRAWING)
            ),
            col(OutboxMessage.expires_at) < now,
        )
        .values(status=OutboxStatus.FAILED, last_error="expired before it could be delivered")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def next_attempt(session: Session, *, chat_id: int | None = None) -> datetime | None:
    """When the earliest waiting row (of one chat, or any) may be tried."""
    statement = select(sa.func.min(OutboxMessage.next_attempt_at)).where(
        col(OutboxMessage.status).in_((OutboxStatus.PENDING, OutboxStatus.RETRY))
    )
    if chat_id is not None:
        statement = statement.where(OutboxMessage.chat_id == chat_id)
    return session.exec(statement).first()


def cancel_one(session: Session, *, message_id: int, reason: str) -> None:
    session.execute(
        sa.update(OutboxMessage)
        .where(col(OutboxMessage.id) == message_id)
        .values(status=OutboxStatus.CANCELLED, lease_until=None, last_error=reason)
    )


def failed_among(session: Session, message_ids: Sequence[int]) -> list[int]:
    return [
        i
        for i in session.exec(
            select(OutboxMessage.id).where(
                col(OutboxMessage.id).in_(message_ids),
                OutboxMessage.status == OutboxStatus.FAILED,
            )
        ).all()
        if i is not None
    ]


def forget_settled_before(session: Session, *, before: datetime) -> int:
    """Delivered, failed and cancelled rows are kept a little while for the metrics, then go."""
    result = session.execute(
        sa.delete(OutboxMessage).where(
            col(OutboxMessage.status).not_in(OPEN), col(OutboxMessage.created_at) < before
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
