"""Runs carry their owner and a heartbeat, so a run killed without a goodbye can be told from
one still running (another process on the same store) and marked ``crashed``.

- ``owner``: ``"<host>:<pid>"`` of the process running it;
- ``heartbeat_ns``: wall-clock ns of its last sign of life (written every few seconds).

Both are NULL for runs recorded before this revision.

Revision ID: 0004_run_liveness
Revises: 0003_venue_ids
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_run_liveness"
down_revision: str | None = "0003_venue_ids"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE ADD / DROP COLUMN (SQLite >= 3.35 has both): a batch (copy-and-move) of
# ``runs`` would drop the table every other table's foreign key points at.


def upgrade() -> None:
    op.add_column("runs", sa.Column("owner", sa.Text(), nullable=True))
    op.add_column("runs", sa.Column("heartbeat_ns", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE runs DROP COLUMN heartbeat_ns")
    op.execute("ALTER TABLE runs DROP COLUMN owner")
