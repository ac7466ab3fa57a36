"""typed_reading: decisions taken from typed words, with the words that triggered them

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from coach.storage.models import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "typed_reading",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("episode_id", sa.Integer(), nullable=True),
        sa.Column("read_at", UTCDateTime(), nullable=False),
        sa.Column("decision", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("mentions", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name="fk_typed_reading_person_id_person",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["episode_id"],
            ["episode.id"],
            name="fk_typed_reading_episode_id_episode",
            ondelete="CASCADE",
        ),
    )
    # A new table needs no SQLite batch rebuild; the index follows the model's naming.
    op.create_index("ix_typed_reading_person_id", "typed_reading", ["person_id"])


def downgrade() -> None:
    op.drop_index("ix_typed_reading_person_id", table_name="typed_reading")
    op.drop_table("typed_reading")
