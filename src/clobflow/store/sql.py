"""SQL statements behind ``Store``: the per-table batch writes, and DB-API error translation.

``BatchSql(dialect).write(conn, records)`` writes a mix of records on an open transaction:
tables in ``WRITE_ORDER`` (orders before their transitions), rows of a table in input order, one
multi-row statement per table. Dialect-specific parts (SQLite and PostgreSQL share the
``ON CONFLICT`` syntax, but SQLAlchemy builds it per dialect):

- orders: ``INSERT ... ON CONFLICT (client_order_id) DO UPDATE ... WHERE stored.updated_ns <=
  new.updated_ns`` (a stale update never regresses a row);
- fills: ``INSERT ... ON CONFLICT (fill_id) DO NOTHING RETURNING fill_id``; a fill id that was
  not inserted is compared with the stored row: the same content is a no-op (re-recording),
  different content raises ``FillConflict`` (two fills sharing an id is a bug upstream, and a
  silent drop would lose a fill);
- position updates: ``UPDATE ... WHERE id = ? AND status = 'open'``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import BigInteger, Connection, bindparam, exc, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from clobflow.store.errors import FillConflict, StoreConflict, StoreUnavailable
from clobflow.store.records import (
    DecisionRow,
    FillRow,
    OrderRow,
    PositionUpdate,
    Record,
    SignalRow,
    TransitionRow,
    to_params,
    to_row,
)
from clobflow.store.schema import decisions, fills, order_transitions, orders, positions, signals

WRITE_ORDER: tuple[type, ...] = (SignalRow, DecisionRow, OrderRow, TransitionRow, FillRow, PositionUpdate)
"""Tables are written in this order inside one transaction, so that an order exists before its
transitions even when both arrive in the same batch."""

POSITION_UPDATE = (
    update(positions)
    .where(positions.c.id == bindparam("p_position_id"), positions.c.status == "open")
    .values(
        size=bindparam("p_size"),
        cost=bindparam("p_cost"),
        realized_pnl=func.coalesce(bindparam("p_realized_pnl", type_=BigInteger), positions.c.realized_pnl),
        fees=func.coalesce(bindparam("p_fees", type_=BigInteger), positions.c.fees),
    )
)
"""Parameters: ``position_update_params(PositionUpdate)``; rowcount 0: the position is not open."""


def position_update_params(row: PositionUpdate) -> dict[str, Any]:
    return {f"p_{k}": v for k, v in to_params(row).items()}


def group_records(records: Iterable[Record]) -> dict[type, list[Any]]:
    """Records by type, input order kept. Raises ``TypeError`` on a non-record."""
    groups: dict[type, list[Any]] = {}
    for r in records:
        groups.setdefault(type(r), []).append(r)
    unknown = set(groups) - set(WRITE_ORDER)
    if unknown:
        raise TypeError(f"not a store record: {sorted(t.__name__ for t in unknown)}")
    return groups


class BatchSql:
    """Prepared batch statements for one dialect (``"sqlite"`` or ``"postgresql"``)."""

    def __init__(self, dialect: str) -> None:
        dialect_insert: Callable[..., Any] = pg_insert if dialect == "postgresql" else sqlite_insert
        ins = dialect_insert(orders)
        ex = ins.excluded
        self._order_upsert = ins.on_conflict_do_update(
            index_elements=[orders.c.client_order_id],
            set_={
                "status": ex.status,
                "filled_size": ex.filled_size,
                "avg_price": func.coalesce(ex.avg_price, orders.c.avg_price),
                "reason": ex.reason,
                "updated_ns": ex.updated_ns,
                "venue_order_id": func.coalesce(ex.venue_order_id, orders.c.venue_order_id),
            },
            where=orders.c.updated_ns <= ex.updated_ns,
        )
        self._fill_insert = (
            dialect_insert(fills).on_conflict_do_nothing(index_elements=[fills.c.fill_id]).returning(fills.c.fill_id)
        )
        self._writers: dict[type, Callable[[Connection, list[Any]], None]] = {
            SignalRow: _plain(signals),
            DecisionRow: _plain(decisions),
            OrderRow: self._upsert_orders,
            TransitionRow: _plain(order_transitions),
            FillRow: self._insert_fills,
            PositionUpdate: _update_positions,
        }

    def write(self, conn: Connection, groups: dict[type, list[Any]]) -> None:
        """Write ``group_records`` output on ``conn`` (inside the caller's transaction)."""
        for typ in WRITE_ORDER:
            rows = groups.get(typ)
            if rows:
                self._writers[typ](conn, rows)

    def _upsert_orders(self, conn: Connection, rows: list[OrderRow]) -> None:
        # One statement may not touch a row twice (PostgreSQL refuses): keep the newest row per
        # order (the later one on a tie), in first-seen order.
        latest: dict[str, OrderRow] = {}
        for r in rows:
            cur = latest.get(r.client_order_id)
            if cur is None or r.updated_ns >= cur.updated_ns:
                latest[r.client_order_id] = r
        conn.execute(self._order_upsert, [to_params(r) for r in latest.values()])

    def _insert_fills(self, conn: Connection, rows: list[FillRow]) -> None:
        by_id: dict[str, dict[str, Any]] = {}
        for r in rows:
            p = to_params(r)
            seen = by_id.setdefault(r.fill_id, p)
            if seen != p:
                raise FillConflict(r.fill_id, _differences(seen, p))
        inserted = {row[0] for row in conn.execute(self._fill_insert, list(by_id.values()))}
        skipped = [fid for fid in by_id if fid not in inserted]
        if not skipped:
            return
        # Already stored (a retried batch, a redelivered report): fine only if identical.
        for stored in conn.execute(select(fills).where(fills.c.fill_id.in_(skipped))).mappings():
            mine = by_id[stored["fill_id"]]
            diff = _differences({k: stored[k] for k in mine}, mine)
            if diff:
                raise FillConflict(stored["fill_id"], diff)


def _differences(stored: dict[str, Any], new: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {stored.get(k)!r} != {v!r}" for k, v in new.items() if stored.get(k) != v)


def _plain(table: Any) -> Callable[[Connection, list[Any]], None]:
    """A plain multi-row INSERT of records whose fields are the table's columns. Straight to
    the driver's ``executemany`` with one tuple per row: the values are ``to_params``'s (the
    columns are integers, text and booleans, no type the ORM layer converts), and skipping the
    per-row bind processing is most of a backtest's store cost (a row per decision)."""
    sql: dict[tuple[type, str], str] = {}

    def write(conn: Connection, rows: list[Any]) -> None:
        typ = type(rows[0])
        fields = typ.__struct_fields__
        key = (typ, conn.dialect.paramstyle)
        stmt = sql.get(key)
        if stmt is None:
            mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            stmt = sql[key] = (f"INSERT INTO {table.name} ({', '.join(fields)}) "
                               f"VALUES ({', '.join([mark] * len(fields))})")
        conn.exec_driver_sql(stmt, [to_row(r) for r in rows])

    return write


def _update_positions(conn: Connection, rows: list[PositionUpdate]) -> None:
    conn.execute(POSITION_UPDATE, [position_update_params(r) for r in rows])


def is_unique_violation(e: exc.IntegrityError) -> bool:
    sqlstate = getattr(e.orig, "sqlstate", None)  # psycopg
    if sqlstate is not None:
        return bool(sqlstate == "23505")
    return "UNIQUE constraint failed" in str(e.orig)  # sqlite3


@contextmanager
def translated_errors() -> Iterator[None]:
    """DB-API errors -> store errors that say what to do (DESIGN §3.7): constraint violations
    -> ``StoreConflict``; locked / busy / unreachable / connection lost -> ``StoreUnavailable``."""
    try:
        yield
    except exc.IntegrityError as e:
        raise StoreConflict(str(e.orig).strip()) from e
    except exc.DBAPIError as e:
        if isinstance(e, (exc.OperationalError, exc.InterfaceError)) or e.connection_invalidated:
            raise StoreUnavailable(str(e.orig).strip()) from e
        raise
