"""The store's tables (SQLAlchemy Core), the single source of truth for the schema.

Migrations (``store/migrations/versions``) create exactly this; a test compares a migrated
database with ``metadata`` on SQLite and PostgreSQL. Change both together: edit this file, then
generate a revision (see ``store/migrate.py``).

Units, everywhere:
- prices, sizes, money (cost, fees, P&L) are ``BIGINT`` integer micro-units (``core.numbers``),
  never floats;
- times are ``BIGINT`` nanoseconds since the epoch;
- ids are text (``run_id``, ``client_order_id``, ``fill_id``), except the autoincrement ``id``
  of the append-only tables;
- ``side`` is ``'BUY'`` or ``'SELL'`` (the name of ``core.events.Side``);
- ``*_json`` columns hold JSON text.

Tables: ``runs``; per run, append-only ``signals``, ``decisions``, ``order_transitions`` and
``fills``; ``orders`` (one row per order, upserted as it changes); ``positions`` (at most one
open row per (strategy, market, mode), enforced by a partial unique index).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    text,
)

MODES = ("backtest", "paper", "shadow", "live")
SIDES = ("BUY", "SELL")
POSITION_STATUSES = ("open", "closed")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# BIGINT autoincrement on PostgreSQL (BIGSERIAL); on SQLite only ``INTEGER PRIMARY KEY`` is the
# rowid alias that autoincrements (it is 64-bit there anyway).
AutoId = BigInteger().with_variant(Integer(), "sqlite")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _run_fk() -> ForeignKey:
    return ForeignKey("runs.run_id")


runs = Table(
    "runs",
    metadata,
    Column("run_id", Text, primary_key=True),
    Column("mode", Text, nullable=False),
    Column("strategy", Text, nullable=False),
    Column("config_json", Text, nullable=False),
    Column("started_ns", BigInteger, nullable=False),
    Column("finished_ns", BigInteger, nullable=True),
    Column("status", Text, nullable=False),
    Column("summary_json", Text, nullable=True),
    # liveness (see store.liveness): "<host>:<pid>" and the wall-clock ns of the last heartbeat
    Column("owner", Text, nullable=True),
    Column("heartbeat_ns", BigInteger, nullable=True),
    CheckConstraint(_in("mode", MODES), name="mode"),
)

signals = Table(
    "signals",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("run_id", Text, _run_fk(), nullable=False),
    Column("ts_ns", BigInteger, nullable=False),
    Column("strategy", Text, nullable=False),
    Column("market", Text, nullable=False),
    Column("asset_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("value_json", Text, nullable=False),
    Index(None, "run_id", "ts_ns"),
)

decisions = Table(
    "decisions",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("run_id", Text, _run_fk(), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("ts_ns", BigInteger, nullable=False),
    Column("strategy", Text, nullable=False),
    Column("market", Text, nullable=False),
    Column("asset_id", Text, nullable=True),
    Column("action", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("inputs_json", Text, nullable=False),
    Column("outcome_json", Text, nullable=True),
    # One decision per (run, seq): also the index that reads a run's journal in order.
    UniqueConstraint("run_id", "seq"),
)

orders = Table(
    "orders",
    metadata,
    Column("client_order_id", Text, primary_key=True),
    Column("run_id", Text, _run_fk(), nullable=False),
    Column("strategy", Text, nullable=False),
    Column("market", Text, nullable=False),
    Column("asset_id", Text, nullable=False),
    Column("side", Text, nullable=False),
    Column("order_type", Text, nullable=False),
    Column("price", BigInteger, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("filled_size", BigInteger, nullable=False),
    Column("avg_price", BigInteger, nullable=True),
    Column("status", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_ns", BigInteger, nullable=False),
    Column("updated_ns", BigInteger, nullable=False),
    Column("venue_order_id", Text, nullable=True),
    CheckConstraint(_in("side", SIDES), name="side"),
    Index(None, "run_id", "status"),
    Index(None, "venue_order_id"),
)

order_transitions = Table(
    "order_transitions",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("client_order_id", Text, ForeignKey("orders.client_order_id"), nullable=False),
    Column("run_id", Text, _run_fk(), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("ts_ns", BigInteger, nullable=False),
    Column("from_status", Text, nullable=False),
    Column("to_status", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("detail_json", Text, nullable=True),
    # ``seq`` numbers the transitions of one order (1, 2, ...).
    UniqueConstraint("client_order_id", "seq"),
    Index(None, "run_id"),
)

fills = Table(
    "fills",
    metadata,
    Column("fill_id", Text, primary_key=True),
    # No foreign key to orders: a fill reported by reconciliation may name an order this run
    # never recorded, and it must still be kept.
    Column("client_order_id", Text, nullable=False),
    Column("run_id", Text, _run_fk(), nullable=False),
    Column("strategy", Text, nullable=False),
    Column("market", Text, nullable=False),
    Column("asset_id", Text, nullable=False),
    Column("side", Text, nullable=False),
    Column("price", BigInteger, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("fee", BigInteger, nullable=False),
    Column("liquidity", Text, nullable=False),
    Column("ts_ns", BigInteger, nullable=False),
    CheckConstraint(_in("side", SIDES), name="side"),
    Index(None, "run_id", "ts_ns"),
    Index(None, "client_order_id"),
)

positions = Table(
    "positions",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("run_id", Text, _run_fk(), nullable=False),
    Column("strategy", Text, nullable=False),
    Column("market", Text, nullable=False),
    Column("mode", Text, nullable=False),
    Column("asset_id", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("cost", BigInteger, nullable=False),
    Column("realized_pnl", BigInteger, nullable=False),
    Column("fees", BigInteger, nullable=False),
    Column("opened_ns", BigInteger, nullable=False),
    Column("closed_ns", BigInteger, nullable=True),
    Column("close_reason", Text, nullable=True),
    CheckConstraint(_in("status", POSITION_STATUSES), name="status"),
    CheckConstraint(_in("mode", MODES), name="mode"),
    Index(None, "run_id"),
)

OPEN_POSITION_INDEX = "uq_positions_open"
"""At most one open position per (strategy, market, mode), whoever writes it (two processes
included): the database, not a read-then-write in Python, gives the answer."""

Index(
    OPEN_POSITION_INDEX,
    positions.c.strategy,
    positions.c.market,
    positions.c.mode,
    unique=True,
    sqlite_where=text("status = 'open'"),
    postgresql_where=text("status = 'open'"),
)
