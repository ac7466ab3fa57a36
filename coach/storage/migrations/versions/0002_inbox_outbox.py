"""inbox, outbox, check-ins keyed by their follow-up, silence derived from check-ins

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import coach.storage.models

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = coach.storage.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "inbox_update",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("received_at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("update_id"),
    )
    op.create_index("ix_inbox_update_received_at", "inbox_update", ["received_at"])
    op.create_table(
        "outbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("buttons", sa.JSON(), nullable=False),
        sa.Column("document_name", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("document_body", sa.LargeBinary(), nullable=True),
        sa.Column("edit_message_id", sa.BigInteger(), nullable=True),
        sa.Column("followup_id", sa.Integer(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC(timezone=True), nullable=False),
        sa.Column("expires_at", UTC(timezone=True), nullable=False),
        sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("lease_until", UTC(timezone=True), nullable=True),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("sent_at", UTC(timezone=True), nullable=True),
        sa.Column("sent_message_id", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["followup_id"], ["followup.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_outbox_message_person_id", "outbox_message", ["person_id"])
    op.create_index("ix_outbox_message_chat_id", "outbox_message", ["chat_id"])
    op.create_index("ix_outbox_message_followup_id", "outbox_message", ["followup_id"])
    op.create_index("ix_outbox_status_next", "outbox_message", ["status", "next_attempt_at"])
    with op.batch_alter_table("checkin") as batch_op:
        batch_op.add_column(sa.Column("followup_id", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint("uq_checkin_followup_id", ["followup_id"])
    with op.batch_alter_table("person") as batch_op:
        batch_op.add_column(sa.Column("silence_reset_at", UTC(timezone=True), nullable=True))
        batch_op.drop_column("silent_checkins")


def downgrade() -> None:
    with op.batch_alter_table("person") as batch_op:
        batch_op.add_column(
            sa.Column("silent_checkins", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.drop_column("silence_reset_at")
    with op.batch_alter_table("checkin") as batch_op:
        batch_op.drop_constraint("uq_checkin_followup_id", type_="unique")
        batch_op.drop_column("followup_id")
    op.drop_table("outbox_message")
    op.drop_table("inbox_update")
