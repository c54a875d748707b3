"""Initial store schema: runs, signals, decisions, orders, order_transitions, fills, positions.

A frozen copy of ``store/schema.py`` at this revision (revisions never import the live schema,
which moves on). Units: BIGINT micro-units for prices/sizes/money, BIGINT ns for times.
Every constraint and index name is final (``op.f``): Alembic applies the schema's naming
convention to ``op`` objects, which would otherwise prefix check-constraint names twice.

Revision ID: 0001
Revises:
Create Date: 2025-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_MODES = "mode IN ('backtest', 'paper', 'shadow', 'live')"
_SIDES = "side IN ('BUY', 'SELL')"


def _id() -> sa.Column:
    return sa.Column("id", _AUTO_ID, primary_key=True, autoincrement=True)


def _run_id() -> sa.Column:
    return sa.Column("run_id", sa.Text(), nullable=False)


def _run_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["run_id"], ["runs.run_id"], name=op.f(f"fk_{table}_run_id_runs"))


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("mode", sa.Text(), nullable=False),
        sa.Column("strategy", sa.Text(), nullable=False),
        sa.Column("config_json", sa.Text(), nullable=False),
        sa.Column("started_ns", sa.BigInteger(), nullable=False),
        sa.Column("finished_ns", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("summary_json", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_runs")),
        sa.CheckConstraint(_MODES, name=op.f("ck_runs_mode")),
    )

    op.create_table(
        "signals",
        _id(),
        _run_id(),
        sa.Column("ts_ns", sa.BigInteger(), nullable=False),
        sa.Column("strategy", sa.Text(), nullable=False),
        sa.Column("market", sa.Text(), nullable=False),
        sa.Column("asset_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("value_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signals")),
        _run_fk("signals"),
    )
    op.create_index(op.f("ix_signals_run_id_ts_ns"), "signals", ["run_id", "ts_ns"])

    op.create_table(
        "decisions",
        _id(),
        _run_id(),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("ts_ns", sa.BigInteger(), nullable=False),
        sa.Column("strategy", sa.Text(), nullable=False),
        sa.Column("market", sa.Text(), nullable=False),
        sa.Column("asset_id", sa.Text(), nullable=True),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("inputs_json", sa.Text(), nullable=False),
        sa.Column("outcome_json", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
        _run_fk("decisions"),
        sa.UniqueConstraint("run_id", "seq", name=op.f("uq_decisions_run_id_seq")),
    )

    op.create_table(
        "orders",
        sa.Column("client_order_id", sa.Text(), nullable=False),
        _run_id(),
        sa.Column("strategy", sa.Text(), nullable=False),
        sa.Column("market", sa.Text(), nullable=False),
        sa.Column("asset_id", sa.Text(), nullable=False),
        sa.Column("side", sa.Text(), nullable=False),
        sa.Column("order_type", sa.Text(), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("filled_size", sa.BigInteger(), nullable=False),
        sa.Column("avg_price", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_ns", sa.BigInteger(), nullable=False),
        sa.Column("venue_order_id", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("client_order_id", name=op.f("pk_orders")),
        _run_fk("orders"),
        sa.CheckConstraint(_SIDES, name=op.f("ck_orders_side")),
    )
    op.create_index(op.f("ix_orders_run_id_status"), "orders", ["run_id", "status"])
    op.create_index(op.f("ix_orders_venue_order_id"), "orders", ["venue_order_id"])

    op.create_table(
        "order_transitions",
        _id(),
        sa.Column("client_order_id", sa.Text(), nullable=False),
        _run_id(),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("ts_ns", sa.BigInteger(), nullable=False),
        sa.Column("from_status", sa.Text(), nullable=False),
        sa.Column("to_status", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("detail_json", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_transitions")),
        sa.ForeignKeyConstraint(
            ["client_order_id"],
            ["orders.client_order_id"],
            name=op.f("fk_order_transitions_client_order_id_orders"),
        ),
        _run_fk("order_transitions"),
        sa.UniqueConstraint("client_order_id", "seq", name=op.f("uq_order_transitions_client_order_id_seq")),
    )
    op.create_index(op.f("ix_order_transitions_run_id"), "order_transitions", ["run_id"])

    op.create_table(
        "fills",
        sa.Column("fill_id", sa.Text(), nullable=False),
        sa.Column("client_order_id", sa.Text(), nullable=False),
        _run_id(),
        sa.Column("strategy", sa.Text(), nullable=False),
        sa.Column("market", sa.Text(), nullable=False),
        sa.Column("asset_id", sa.Text(), nullable=False),
        sa.Column("side", sa.Text(), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("liquidity", sa.Text(), nullable=False),
        sa.Column("ts_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("fill_id", name=op.f("pk_fills")),
        _run_fk("fills"),
        sa.CheckConstraint(_SIDES, name=op.f("ck_fills_side")),
    )
    op.create_index(op.f("ix_fills_run_id_ts_ns"), "fills", ["run_id", "ts_ns"])
    op.create_index(op.f("ix_fills_client_order_id"), "fills", ["client_order_id"])

    op.create_table(
        "positions",
        _id(),
        _run_id(),
        sa.Column("strategy", sa.Text(), nullable=False),
        sa.Column("market", sa.Text(), nullable=False),
        sa.Column("mode", sa.Text(), nullable=False),
        sa.Column("asset_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("cost", sa.BigInteger(), nullable=False),
        sa.Column("realized_pnl", sa.BigInteger(), nullable=False),
        sa.Column("fees", sa.BigInteger(), nullable=False),
        sa.Column("opened_ns", sa.BigInteger(), nullable=False),
        sa.Column("closed_ns", sa.BigInteger(), nullable=True),
        sa.Column("close_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_positions")),
        _run_fk("positions"),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_positions_status")),
        sa.CheckConstraint(_MODES, name=op.f("ck_positions_mode")),
    )
    op.create_index(op.f("ix_positions_run_id"), "positions", ["run_id"])
    # At most one open position per (strategy, market, mode), across processes.
    op.create_index(
        op.f("uq_positions_open"),
        "positions",
        ["strategy", "market", "mode"],
        unique=True,
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    )


def downgrade() -> None:
    for table in ("positions", "fills", "order_transitions", "orders", "decisions", "signals", "runs"):
        op.drop_table(table)
