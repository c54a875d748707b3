"""Runs carry their owner and a heartbeat, so a run killed without a goodbye can be told from
one still running (another process on the same store) and marked ``crashed``.

- ``owner``: ``"<host>:<pid>"`` of the process running it;
- ``heartbeat_ns``: wall-clock ns of its last sign of life (written every few seconds).

Both are NULL for runs recorded before this revision.

Revision ID: 0002_run_liveness
Revises: 0001
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_run_liveness"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("owner", sa.Text(), nullable=True))
        batch.add_column(sa.Column("heartbeat_ns", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("heartbeat_ns")
        batch.drop_column("owner")
