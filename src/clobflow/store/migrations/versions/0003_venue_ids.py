"""Venue-qualified ids: market and asset id columns name their venue (``POLYMARKET:<id>``).

Until this revision the engine stored Polymarket's bare condition and token ids; from now on it
stores ``core.ids`` qualified ids. Every row recorded before was Polymarket's (no other venue
traded), so the upgrade prefixes ``POLYMARKET:`` to every non-empty ``market``/``asset_id`` that
carries no venue yet. Idempotent: qualified rows are left alone (a Polymarket id never contains
``:``), so rerunning it, or running it over a store a newer engine already wrote to, is safe.
The downgrade strips the prefix again (for an older engine); ids of other venues stay.

JSON text columns (``inputs_json``, ``value_json``, ...) are history and are not rewritten.
The schema does not change.

Revision ID: 0003_venue_ids
Revises: 0001
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003_venue_ids"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PREFIX = "POLYMARKET:"
# Every id column naming a market or an outcome token at this revision.
_COLUMNS = {
    "signals": ("market", "asset_id"),
    "decisions": ("market", "asset_id"),
    "orders": ("market", "asset_id"),
    "fills": ("market", "asset_id"),
    "positions": ("market", "asset_id"),
}


def upgrade() -> None:
    for table, cols in _COLUMNS.items():
        for col in cols:
            # '||' concatenates on SQLite and PostgreSQL alike; NULL and '' stay as they are
            op.execute(f"UPDATE {table} SET {col} = '{_PREFIX}' || {col} "
                       f"WHERE {col} <> '' AND {col} NOT LIKE '%:%'")


def downgrade() -> None:
    for table, cols in _COLUMNS.items():
        for col in cols:
            op.execute(f"UPDATE {table} SET {col} = substr({col}, {len(_PREFIX) + 1}) "
                       f"WHERE {col} LIKE '{_PREFIX}%'")
