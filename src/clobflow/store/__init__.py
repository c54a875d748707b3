"""SQL store: runs, signals, decisions, orders, transitions, fills and positions in SQLite
(default, one file) or PostgreSQL (at scale), with Alembic migrations.

- ``schema``: the tables (SQLAlchemy Core); integer micro-units and integer ns throughout.
- ``records``: the typed rows callers hand in.
- ``store.Store``: synchronous API (migrate, runs, record_*, positions, reads).
- ``writer.StoreWriter``: background thread that batches records off the decision path.
- ``migrate``: Alembic driven from code (``store/migrations``).
"""

from clobflow.store.errors import (
    DuplicatePosition,
    FillConflict,
    PositionNotOpen,
    StoreBackpressure,
    StoreConflict,
    StoreError,
    StoreUnavailable,
    StoreWriteError,
    UnknownRun,
)
from clobflow.store.records import DecisionRow, FillRow, OrderRow, PositionUpdate, Record, SignalRow, TransitionRow
from clobflow.store.store import Store
from clobflow.store.writer import StoreWriter, WriterStats

__all__ = [
    "DecisionRow",
    "DuplicatePosition",
    "FillConflict",
    "FillRow",
    "OrderRow",
    "PositionNotOpen",
    "PositionUpdate",
    "Record",
    "SignalRow",
    "Store",
    "StoreBackpressure",
    "StoreConflict",
    "StoreError",
    "StoreUnavailable",
    "StoreWriteError",
    "StoreWriter",
    "TransitionRow",
    "UnknownRun",
    "WriterStats",
]
