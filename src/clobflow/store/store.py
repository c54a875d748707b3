"""``Store``: the SQL store's synchronous API (SQLite default, PostgreSQL at scale).

Map:
- lifecycle: ``Store(url)`` (no I/O), ``migrate()``, ``revision()``, ``close()``;
- runs: ``start_run``, ``finish_run``, ``run``; liveness (``store.liveness``): ``heartbeat``,
  ``running_runs``, ``mark_crashed``;
- per-run records, each call one transaction: ``record_signal(s)``, ``record_decisions``,
  ``record_orders`` (upsert), ``record_transitions``, ``record_fills`` (idempotent on
  ``fill_id``), ``update_positions``; ``write(records)`` mixes them in one transaction (this is
  what ``StoreWriter`` calls from its thread);
- positions, synchronous on purpose: ``open_position`` (raises ``DuplicatePosition``: the partial
  unique index answers, so two processes racing get exactly one winner), ``update_position``,
  ``close_position``, ``open_position_exists``, ``open_positions``, ``position``, ``positions``;
- reads for reports: ``signals``, ``decisions``, ``orders``, ``transitions``, ``fills``.

Contracts: prices, sizes and money are integer micro-units, times integer ns (see
``store.schema``); rows come back as plain ``dict``s with the column names of ``store.schema``.
Database errors are translated: locked / busy / unreachable -> ``StoreUnavailable`` (retryable);
constraint violations -> ``StoreConflict`` (or its subclasses). A ``Store`` is safe to share
between threads (each call takes its own pooled connection); open one per process.

With SQLite, writers take the file's write lock (``BEGIN IMMEDIATE``): a position call may wait
for an in-flight writer batch (milliseconds), up to ``busy_timeout_s``; within one process the
writers queue on a lock first (no busy-handler sleeps). PostgreSQL locks rows only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from alembic.runtime.migration import MigrationContext
from sqlalchemy import URL, Connection, Select, exc, func, insert, select, update

from clobflow.store import migrate as _migrate
from clobflow.store.engine import WRITE_OPTION, make_engine, normalize_url
from clobflow.store.errors import DuplicatePosition, PositionNotOpen, StoreConflict, StoreUnavailable, UnknownRun
from clobflow.store.records import (
    DecisionRow,
    FillRow,
    OrderRow,
    PositionUpdate,
    Record,
    SignalRow,
    TransitionRow,
    to_values,
)
from clobflow.store.schema import MODES, decisions, fills, order_transitions, orders, positions, runs, signals
from clobflow.store.sql import (
    POSITION_UPDATE,
    BatchSql,
    group_records,
    is_unique_violation,
    position_update_params,
    translated_errors,
)

Row = dict[str, Any]

_MIGRATION_LOCK_KEY = 0x636C6F62  # "clob": PostgreSQL advisory lock serialising migrate()


class Store:
    """The SQL store. ``url``: a SQLite file path, ``sqlite:///path``, or a PostgreSQL URL
    (``postgresql://`` is driven by psycopg 3). ``busy_timeout_s``: how long SQLite waits for
    another writer's lock before ``StoreUnavailable``.

    Raises:
        ValueError: unsupported URL (in-memory SQLite, another database or driver).
    """

    def __init__(self, url: str, *, busy_timeout_s: float = 5.0, echo: bool = False) -> None:
        self._url = normalize_url(url)
        self._engine = make_engine(self._url, busy_timeout_s=busy_timeout_s, echo=echo)
        self.dialect: str = self._url.get_backend_name()
        self._sql = BatchSql(self.dialect)
        # SQLite: this process's writers (the writer thread, synchronous position calls) take
        # turns on a lock, so a waiting one wakes when the other commits instead of sleeping in
        # SQLite's busy handler (1, 2, 5 ... 100 ms steps: ~13 ms a settlement in a backtest).
        # Other processes still meet the file lock and the busy timeout.
        self._wlock = threading.RLock() if self.dialect == "sqlite" else None

    @property
    def url(self) -> URL:
        """The SQLAlchemy URL in use (``render_as_string(hide_password=True)`` to show it)."""
        return self._url

    def __repr__(self) -> str:
        return f"Store({self._url.render_as_string(hide_password=True)!r})"

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close pooled connections (the store can still be used; it reconnects)."""
        self._engine.dispose()

    # -- transactions ------------------------------------------------------------------------

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        if self._wlock is None:
            with translated_errors(), self._engine.connect() as conn:
                conn.execution_options(**{WRITE_OPTION: True})
                with conn.begin():
                    yield conn
            return
        with self._wlock, translated_errors(), self._engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                yield conn

    def _read(self, stmt: Select[Any]) -> list[Row]:
        with translated_errors(), self._engine.connect() as conn:
            return [dict(r) for r in conn.execute(stmt).mappings()]

    # -- schema ------------------------------------------------------------------------------

    def migrate(self, revision: str = "head", *, timeout_s: float = 120.0) -> None:
        """Bring the database (empty or older) to ``revision``, in one transaction.

        Safe to call from several processes at once: PostgreSQL serialises them with an
        advisory lock, SQLite with its write lock; the later caller finds nothing to do. A
        migration holds the lock for a while (Alembic loads its scripts inside the
        transaction), longer than a writer's busy timeout under load, so a locked SQLite file
        is retried (the migration is all or nothing, hence safe to repeat) until ``timeout_s``.

        Raises:
            StoreUnavailable: still locked or unreachable after ``timeout_s``.
        """
        deadline = time.monotonic() + timeout_s
        delay = 0.05
        while True:
            try:
                with self._writing() as conn:
                    if self.dialect == "postgresql":
                        conn.execute(select(func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY)))
                    _migrate.upgrade(conn, revision)
                return
            except StoreUnavailable as e:
                # only a SQLite lock held by another migrator is worth waiting for; an
                # unreachable server is reported at once
                if self.dialect != "sqlite" or "locked" not in str(e) or time.monotonic() + delay > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def downgrade(self, revision: str) -> None:
        """Undo migrations down to ``revision`` (``"base"``: drop every store table). For
        operators and tests; data in dropped tables is gone."""
        with self._writing() as conn:
            if self.dialect == "postgresql":
                conn.execute(select(func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY)))
            _migrate.downgrade(conn, revision)

    def revision(self) -> str | None:
        """The database's current migration revision (``None``: never migrated)."""
        with translated_errors(), self._engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    # -- runs --------------------------------------------------------------------------------

    def start_run(
        self,
        run_id: str,
        mode: str,
        strategy: str,
        config_json: str,
        started_ns: int,
        *,
        owner: str | None = None,
        heartbeat_ns: int | None = None,
    ) -> None:
        """Record a run (status ``running``). Rows of every other table name an existing run.
        ``owner`` (``"<host>:<pid>"``) and ``heartbeat_ns`` (wall clock) let a later start tell
        a live run from a crashed one (``store.liveness``). ``config_json`` is stored as given:
        the caller redacts secrets (``core.redact``).

        Raises:
            ValueError: ``mode`` is not one of backtest / paper / shadow / live.
            StoreConflict: ``run_id`` already exists.
        """
        _check_mode(mode)
        values = to_values(
            run_id=run_id, mode=mode, strategy=strategy, config_json=config_json, started_ns=started_ns,
            owner=owner, heartbeat_ns=heartbeat_ns,
        )
        try:
            with self._writing() as conn:
                conn.execute(insert(runs).values(**values, status="running"))
        except StoreConflict as e:
            raise StoreConflict(f"run {run_id!r} already exists") from e

    def heartbeat(self, run_id: str, now_ns: int) -> bool:
        """Note that the running ``run_id`` is alive at wall-clock ``now_ns``. ``False``: the
        run is not running any more (finished, or marked crashed by another process)."""
        stmt = update(runs).where(runs.c.run_id == run_id, runs.c.status == "running").values(heartbeat_ns=now_ns)
        with self._writing() as conn:
            return bool(conn.execute(stmt).rowcount)

    def running_runs(self) -> list[Row]:
        """Runs whose status is ``running`` (alive, or crashed and not yet found), oldest first."""
        return self._read(select(runs).where(runs.c.status == "running").order_by(runs.c.started_ns, runs.c.run_id))

    def mark_crashed(self, run_id: str, found_ns: int, detail: Any) -> bool:
        """Mark a ``running`` run ``crashed``: ``finished_ns`` = ``found_ns`` (when the crash
        was found), ``summary_json`` = ``detail``. ``False`` if it was not running any more
        (it finished, or another process marked it first)."""
        stmt = (
            update(runs)
            .where(runs.c.run_id == run_id, runs.c.status == "running")
            .values(status="crashed", **to_values(finished_ns=found_ns, summary_json=detail))
        )
        with self._writing() as conn:
            return bool(conn.execute(stmt).rowcount)

    def finish_run(self, run_id: str, finished_ns: int, status: str, summary_json: Any = None) -> None:
        """Mark a run finished (``status``: e.g. completed / failed / aborted).

        Raises:
            UnknownRun: no such run.  StoreConflict: the run is already finished.
        """
        values = to_values(finished_ns=finished_ns, status=status, summary_json=summary_json)
        with self._writing() as conn:
            n = conn.execute(
                update(runs).where(runs.c.run_id == run_id, runs.c.finished_ns.is_(None)).values(**values)
            ).rowcount
            if n == 0:
                exists = conn.execute(select(runs.c.run_id).where(runs.c.run_id == run_id)).first()
                if exists is None:
                    raise UnknownRun(f"no run {run_id!r}")
                raise StoreConflict(f"run {run_id!r} is already finished")

    def run(self, run_id: str) -> Row | None:
        rows = self._read(select(runs).where(runs.c.run_id == run_id))
        return rows[0] if rows else None

    # -- per-run records ---------------------------------------------------------------------

    def write(self, records: Iterable[Record]) -> None:
        """Write a mix of records in one transaction (tables in ``sql.WRITE_ORDER``, rows of one
        table in the given order). All or nothing.

        Raises:
            TypeError: an unknown record type, or a float value.
            StoreConflict: a constraint refused a row (unknown run, duplicate seq...).
            StoreUnavailable: the database is locked or unreachable; retry later.
        """
        groups = group_records(records)
        if groups:
            with self._writing() as conn:
                self._sql.write(conn, groups)

    def record_signal(self, row: SignalRow) -> None:
        self.write((row,))

    def record_signals(self, rows: Sequence[SignalRow]) -> None:
        self.write(rows)

    def record_decisions(self, rows: Sequence[DecisionRow]) -> None:
        """Append decisions; ``(run_id, seq)`` is unique (a repeat raises ``StoreConflict``)."""
        self.write(rows)

    def record_orders(self, rows: Sequence[OrderRow]) -> None:
        """Insert or update orders (see ``OrderRow`` for what an update changes)."""
        self.write(rows)

    def record_transitions(self, rows: Sequence[TransitionRow]) -> None:
        """Append order transitions; ``(client_order_id, seq)`` is unique; the order must exist."""
        self.write(rows)

    def record_fills(self, rows: Sequence[FillRow]) -> None:
        """Record fills; a ``fill_id`` already stored is skipped (idempotent re-recording)."""
        self.write(rows)

    def update_positions(self, rows: Sequence[PositionUpdate]) -> None:
        """Apply position updates; updates of a position that is not open are ignored."""
        self.write(rows)

    # -- positions (synchronous: the answer is needed at decision time) ----------------------

    def open_position(
        self,
        run_id: str,
        strategy: str,
        market: str,
        mode: str,
        asset_id: str,
        size: int,
        cost: int,
        opened_ns: int,
        *,
        fees: int = 0,
    ) -> int:
        """Open a position (realized P&L 0) and return its id.

        Raises:
            DuplicatePosition: an open position for (strategy, market, mode) exists, whoever
                (any process) opened it: the partial unique index decides, atomically.
            ValueError: unknown ``mode``.  StoreConflict: unknown run.
        """
        _check_mode(mode)
        values = to_values(
            run_id=run_id,
            strategy=strategy,
            market=market,
            mode=mode,
            asset_id=asset_id,
            size=size,
            cost=cost,
            fees=fees,
            opened_ns=opened_ns,
        )
        with self._writing() as conn:
            try:
                res = conn.execute(insert(positions).values(**values, status="open", realized_pnl=0))
            except exc.IntegrityError as e:
                if is_unique_violation(e):
                    raise DuplicatePosition(strategy, market, mode) from e
                raise
            return int(res.inserted_primary_key[0])

    def update_position(
        self, position_id: int, *, size: int, cost: int, realized_pnl: int | None = None, fees: int | None = None
    ) -> None:
        """Set size / cost (and realized P&L / fees unless ``None``) of an open position.

        Raises:
            PositionNotOpen: no such position, or it is closed.
        """
        params = position_update_params(PositionUpdate(position_id, size, cost, realized_pnl, fees))
        with self._writing() as conn:
            if conn.execute(POSITION_UPDATE, params).rowcount == 0:
                raise PositionNotOpen(position_id)

    def close_position(self, position_id: int, closed_ns: int, realized_pnl: int, fees: int, reason: str, *,
                       size: int | None = None, cost: int | None = None) -> None:
        """Close an open position with its final realized P&L and fees (micro-units), and its
        final ``size``/``cost`` when given (else they keep their last values). One statement:
        a queued ``PositionUpdate`` lands either before it (and is overwritten) or after it
        (and is ignored, the row is closed), never in between. Afterwards a new position for
        the same (strategy, market, mode) may be opened.

        Raises:
            PositionNotOpen: no such position, or it is already closed (e.g. by another process).
        """
        final = {k: v for k, v in (("size", size), ("cost", cost)) if v is not None}
        values = to_values(closed_ns=closed_ns, realized_pnl=realized_pnl, fees=fees, close_reason=reason, **final)
        stmt = (
            update(positions)
            .where(positions.c.id == position_id, positions.c.status == "open")
            .values(status="closed", **values)
        )
        with self._writing() as conn:
            if conn.execute(stmt).rowcount == 0:
                raise PositionNotOpen(position_id)

    def open_position_exists(self, strategy: str, market: str, mode: str) -> bool:
        """Whether (strategy, market, mode) has an open position now (a hint: only
        ``open_position`` gives an answer that another process cannot invalidate)."""
        stmt = select(positions.c.id).where(
            positions.c.strategy == strategy,
            positions.c.market == market,
            positions.c.mode == mode,
            positions.c.status == "open",
        )
        return bool(self._read(stmt))

    def open_positions(self, strategy: str, mode: str) -> list[Row]:
        """Open positions of a strategy in a mode, oldest first."""
        stmt = (
            select(positions)
            .where(positions.c.strategy == strategy, positions.c.mode == mode, positions.c.status == "open")
            .order_by(positions.c.opened_ns, positions.c.id)
        )
        return self._read(stmt)

    def position(self, position_id: int) -> Row | None:
        rows = self._read(select(positions).where(positions.c.id == position_id))
        return rows[0] if rows else None

    def positions(self, run_id: str) -> list[Row]:
        """Positions opened by a run, in opening order."""
        return self._read(select(positions).where(positions.c.run_id == run_id).order_by(positions.c.id))

    # -- reads for reports -------------------------------------------------------------------

    def signals(self, run_id: str) -> list[Row]:
        """A run's signals in write order."""
        return self._read(select(signals).where(signals.c.run_id == run_id).order_by(signals.c.id))

    def decisions(self, run_id: str) -> list[Row]:
        """A run's decisions by ``seq``; ``passed`` is a bool."""
        return self._read(select(decisions).where(decisions.c.run_id == run_id).order_by(decisions.c.seq))

    def orders(self, run_id: str, status: str | None = None) -> list[Row]:
        """A run's orders (optionally only those with ``status``, a str or ``OrderStatus``) by
        creation time."""
        stmt = select(orders).where(orders.c.run_id == run_id)
        if status is not None:
            stmt = stmt.where(orders.c.status == getattr(status, "value", status))
        return self._read(stmt.order_by(orders.c.created_ns, orders.c.client_order_id))

    def transitions(self, run_id: str) -> list[Row]:
        """A run's order transitions in write order."""
        return self._read(
            select(order_transitions).where(order_transitions.c.run_id == run_id).order_by(order_transitions.c.id)
        )

    def market_fills(self, strategy: str, market: str, mode: str) -> list[Row]:
        """Every fill of ``strategy`` on ``market`` in runs of ``mode``, by time (crash
        recovery re-derives a position from them)."""
        stmt = (
            select(fills)
            .join(runs, runs.c.run_id == fills.c.run_id)
            .where(fills.c.strategy == strategy, fills.c.market == market, runs.c.mode == mode)
            .order_by(fills.c.ts_ns, fills.c.fill_id)
        )
        return self._read(stmt)

    def fills(self, run_id: str) -> list[Row]:
        """A run's fills by time (then ``fill_id``)."""
        return self._read(select(fills).where(fills.c.run_id == run_id).order_by(fills.c.ts_ns, fills.c.fill_id))


# -- helpers ---------------------------------------------------------------------------------


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not one of {MODES}")
