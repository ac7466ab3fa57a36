"""Tables. Instants are stored in UTC; a person's IANA zone and local times sit beside them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone of its own)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Foreign keys get predictable names on every backend, so migrations can address them; every one
# cascades on delete, so erasing a person (or an old episode) is one DELETE of the parent row.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",  # SQLAlchemy's default, kept
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
}


def utc_column(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime(), nullable=nullable, index=index)


class PersonState(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    STOPPED = "stopped"


class EpisodeStatus(StrEnum):
    ASSESSING = "assessing"  # symptom check under way
    ACTIVE = "active"  # plan running
    AWAITING_CARE = "awaiting_care"  # URGENT: waiting for "I've been seen"
    HALTED_EMERGENCY = "halted_emergency"  # EMERGENCY: coaching stopped until seen
    RECOVERED = "recovered"
    CLOSED = "closed"  # stopped by the person, or replaced by a new episode


class FollowUpKind(StrEnum):
    MORNING_PLAN = "morning_plan"
    NUDGE_WALK = "nudge_walk"
    NUDGE_CARE = "nudge_care"
    CHECKIN = "checkin"
    CHECKIN_REMINDER = "checkin_reminder"
    CONTINUE_PROMPT = "continue_prompt"
    PREVENTION = "prevention"


class FollowUpStatus(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"  # a dispatcher holds it (claimed_by, lease_until) to render it
    QUEUED = "queued"  # rendered once into the outbox; delivery retries the outbox row only
    SENT = "sent"  # its message was delivered
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    FAILED = "failed"


class Person(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    telegram_user_id: int = Field(sa_type=sa.BigInteger(), unique=True, index=True)
    chat_id: int = Field(sa_type=sa.BigInteger())
    language: str = "en"
    timezone: str | None = None
    checkin_time: time | None = None
    morning_time: time | None = None
    quiet_start: time | None = None
    quiet_end: time | None = None
    emergency_number: str | None = None
    consent_at: datetime | None = utc_column()
    consent_version: str | None = None
    state: str = PersonState.ACTIVE
    blocked: bool = False
    # Where the person is in a conversation: survives restarts because it lives here.
    flow: str | None = None
    flow_data: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON())
    # Each question put to the person gets the next token; its buttons carry it.
    flow_token: int = 0
    # Unanswered check-ins before this instant no longer count as silence ("yes, continue").
    silence_reset_at: datetime | None = utc_column()
    created_at: datetime | None = utc_column(nullable=False)
    updated_at: datetime | None = utc_column(nullable=False)


class Episode(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", ondelete="CASCADE", index=True)
    started_at: datetime | None = utc_column(nullable=False)
    onset_date: date | None = None
    location: str | None = None
    trigger: str | None = None
    baseline_pain: int | None = None
    age_band: str | None = None
    tier: int = 0
    phase: str | None = None
    status: str = EpisodeStatus.ASSESSING
    seen_clinician_at: datetime | None = utc_column()
    closed_at: datetime | None = utc_column()


class Answer(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", ondelete="CASCADE", index=True)
    episode_id: int | None = Field(
        default=None, foreign_key="episode.id", ondelete="CASCADE", index=True
    )
    checkin_id: int | None = Field(default=None, foreign_key="checkin.id", ondelete="CASCADE")
    question: str
    value: str
    answered_at: datetime | None = utc_column(nullable=False)


class CheckIn(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("followup_id", name="uq_checkin_followup_id"),)
    id: int | None = Field(default=None, primary_key=True)
    episode_id: int = Field(foreign_key="episode.id", ondelete="CASCADE", index=True)
    # The scheduled follow-up that opened it: a check-in is created once per follow-up.
    followup_id: int | None = None
    day: int
    local_date: date
    started_at: datetime | None = utc_column(nullable=False)
    completed_at: datetime | None = utc_column()
    pain: int | None = None
    change: str | None = None
    managed: str | None = None
    pgic: str | None = None
    daily_activities_ok: bool | None = None


class FollowUp(SQLModel, table=True):
    __table_args__ = (
        # One follow-up of a kind per episode and local day: a scheduling race cannot double it.
        sa.UniqueConstraint(
            "episode_id", "kind", "local_date", name="uq_followup_episode_kind_day"
        ),
        sa.Index("ix_followup_status_due", "status", "due_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", ondelete="CASCADE", index=True)
    episode_id: int | None = Field(default=None, foreign_key="episode.id", ondelete="CASCADE")
    kind: str
    local_date: date
    due_at: datetime | None = utc_column(nullable=False)
    status: str = FollowUpStatus.PENDING
    attempts: int = 0
    lease_until: datetime | None = utc_column()
    claimed_by: str | None = None
    sent_at: datetime | None = utc_column()
    sent_message_id: int | None = Field(default=None, sa_type=sa.BigInteger())
    last_error: str | None = None


class Decision(SQLModel, table=True):
    """Append-only record of every triage, escalation and recovery decision."""

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", ondelete="CASCADE", index=True)
    episode_id: int | None = Field(
        default=None, foreign_key="episode.id", ondelete="CASCADE", index=True
    )
    decided_at: datetime | None = utc_column(nullable=False)
    kind: str  # "triage", "escalation", "recovery", "seen_clinician"
    tier: int
    rule: str
    answers: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON())


class TypedReading(SQLModel, table=True):
    """A decision the coach took from typed words, with the words that triggered it: what the
    reader understood (sign, tier, status, words), never the whole message. A health answer."""

    __tablename__ = "typed_reading"
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", ondelete="CASCADE", index=True)
    episode_id: int | None = Field(default=None, foreign_key="episode.id", ondelete="CASCADE")
    read_at: datetime | None = utc_column(nullable=False)
    decision: str  # "screened_emergency", "denial_taken_as_none", "asked_about_signs", ...
    mentions: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON())


class InboxUpdate(SQLModel, table=True):
    """Every Telegram update handled, by its id: a re-delivered update is never handled twice.

    Holds no personal data (no text, no user), so erasure does not need to touch it.
    """

    __tablename__ = "inbox_update"
    update_id: int = Field(
        sa_type=sa.BigInteger(), primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    received_at: datetime | None = utc_column(nullable=False, index=True)


class OutboxStatus(StrEnum):
    PENDING = "pending"  # written with the decision, not yet tried
    DRAWING = "drawing"  # its picture or page is being drawn after the commit; then pending
    SENDING = "sending"  # claimed by one sender (claimed_by, lease_until)
    RETRY = "retry"  # waiting until next_attempt_at (flood control, 5xx, network)
    SENT = "sent"
    FAILED = "failed"  # Telegram refused it for good, or it expired
    CANCELLED = "cancelled"  # the person blocked the bot


class OutboxMessage(SQLModel, table=True):
    """One message the coach owes a chat: replies and follow-ups alike go out through here."""

    __tablename__ = "outbox_message"
    __table_args__ = (sa.Index("ix_outbox_status_next", "status", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    person_id: int | None = Field(
        default=None, foreign_key="person.id", ondelete="CASCADE", index=True
    )
    chat_id: int = Field(sa_type=sa.BigInteger(), index=True)
    kind: str = "text"  # "text", "document", "photo" or "edit" (mark an answered question)
    text: str = ""
    buttons: list[list[list[str]]] = Field(default_factory=list, sa_type=sa.JSON())
    document_name: str | None = None
    document_body: bytes | None = Field(default=None, sa_type=sa.LargeBinary())
    edit_message_id: int | None = Field(default=None, sa_type=sa.BigInteger())
    followup_id: int | None = Field(
        default=None, foreign_key="followup.id", ondelete="CASCADE", index=True
    )
    status: str = OutboxStatus.PENDING
    attempts: int = 0  # failed tries; a wait Telegram asked for (429) is not one
    next_attempt_at: datetime | None = utc_column(nullable=False)
    expires_at: datetime | None = utc_column(nullable=False)
    claimed_by: str | None = None
    lease_until: datetime | None = utc_column()
    created_at: datetime | None = utc_column(nullable=False)
    sent_at: datetime | None = utc_column()
    sent_message_id: int | None = Field(default=None, sa_type=sa.BigInteger())
    last_error: str | None = None
