"""Record builders and a database locker shared by the store tests."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from clobflow.core.events import Side
from clobflow.core.orders import OrderStatus
from clobflow.store import DecisionRow, FillRow, OrderRow, SignalRow, Store, TransitionRow

T0 = 1_766_745_254_000_000_000  # ns


def start_run(store: Store, run_id: str = "run-1", mode: str = "backtest") -> str:
    store.start_run(run_id, mode, "imbalance", '{"max_spread": 20000}', T0)
    return run_id


def signal(run_id: str, i: int) -> SignalRow:
    return SignalRow(run_id, T0 + i, "imbalance", "m1", "a1", "imbalance", {"value": i, "depth": [1, 2]})


def decision(run_id: str, seq: int, **kw) -> DecisionRow:  # type: ignore[no-untyped-def]
    base = dict(
        run_id=run_id,
        seq=seq,
        ts_ns=T0 + seq,
        strategy="imbalance",
        market="m1",
        action="enter" if seq % 2 == 0 else "skip",
        reason="ok" if seq % 2 == 0 else "spread_too_wide",
        passed=seq % 2 == 0,
        inputs_json={"spread": 10_000 + seq, "best_bid": 480_000},
        asset_id="a1",
    )
    base.update(kw)
    return DecisionRow(**base)


def order(run_id: str, coid: str, *, status: str = "pending", filled: int = 0, updated: int = 0, **kw) -> OrderRow:  # type: ignore[no-untyped-def]
    base = dict(
        client_order_id=coid,
        run_id=run_id,
        strategy="imbalance",
        market="m1",
        asset_id="a1",
        side=Side.BUY,
        order_type="GTC",
        price=480_000,
        size=10_000_000,
        filled_size=filled,
        status=status,
        reason="enter",
        created_ns=T0,
        updated_ns=T0 + updated,
    )
    base.update(kw)
    return OrderRow(**base)


def transition(run_id: str, coid: str, seq: int, frm: OrderStatus, to: OrderStatus) -> TransitionRow:
    return TransitionRow(coid, run_id, seq, T0 + seq, frm, to, "ack", {"seq": seq})


def fill(run_id: str, coid: str, fill_id: str, *, size: int = 5_000_000, ts: int = 0) -> FillRow:
    return FillRow(fill_id, coid, run_id, "imbalance", "m1", "a1", Side.BUY, 480_000, size, 0, "maker", T0 + ts)


@contextmanager
def db_locked(store: Store, table: str) -> Iterator[None]:
    """Hold a real lock that blocks the store's writes: SQLite's write lock (the whole file),
    or an ACCESS EXCLUSIVE lock on ``table`` in PostgreSQL. Released on exit."""
    if store.dialect == "sqlite":
        conn = sqlite3.connect(store.url.database, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("COMMIT")
            conn.close()
        return
    engine = create_engine(store.url, poolclass=NullPool)
    try:
        with engine.connect() as conn, conn.begin():
            conn.exec_driver_sql(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
            yield
    finally:
        engine.dispose()
