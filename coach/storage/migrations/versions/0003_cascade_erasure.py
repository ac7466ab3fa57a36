"""foreign keys named and cascading on delete: erasure is one DELETE of the parent row

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, referred table)
FOREIGN_KEYS = [
    ("episode", "person_id", "person"),
    ("checkin", "episode_id", "episode"),
    ("answer", "person_id", "person"),
    ("answer", "episode_id", "episode"),
    ("answer", "checkin_id", "checkin"),
    ("decision", "person_id", "person"),
    ("decision", "episode_id", "episode"),
    ("followup", "person_id", "person"),
    ("followup", "episode_id", "episode"),
    ("outbox_message", "person_id", "person"),
    ("outbox_message", "followup_id", "followup"),
]
NAMING = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}


def _name(table: str, column: str, referred: str) -> str:
    return f"fk_{table}_{column}_{referred}"


def _existing_name(table: str, column: str, referred: str) -> str:
    """The key's name as the database has it: PostgreSQL named unnamed keys `<table>_<col>_fkey`;
    SQLite keeps none, and batch mode then applies the naming convention."""
    for key in sa.inspect(op.get_bind()).get_foreign_keys(table):
        if key["constrained_columns"] == [column] and key.get("name"):
            return str(key["name"])
    return _name(table, column, referred)


def _rebuild(ondelete: str | None) -> None:
    tables = dict.fromkeys(table for table, _, _ in FOREIGN_KEYS)
    for table in tables:
        keys = [k for k in FOREIGN_KEYS if k[0] == table]
        old_names = {
            column: _existing_name(table, column, referred) for _, column, referred in keys
        }
        # SQLite rebuilds the table (batch mode); PostgreSQL alters it in place.
        with op.batch_alter_table(table, naming_convention=NAMING, recreate="auto") as batch:
            for _, column, referred in keys:
                batch.drop_constraint(old_names[column], type_="foreignkey")
                batch.create_foreign_key(
                    _name(table, column, referred), referred, [column], ["id"], ondelete=ondelete
                )


def upgrade() -> None:
    _rebuild("CASCADE")


def downgrade() -> None:
    _rebuild(None)
