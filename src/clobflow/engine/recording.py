"""Persisting a run: the kernel's bridge to the SQL store.

Orders, transitions, fills and decisions go through the ``StoreWriter`` (a bounded queue drained
by a background thread), so the decision path only appends a record. Opening and closing a
position row are synchronous and happen on fills and settlements (rows follow holdings:
``engine.positions``), never between a decision and its order: the store's partial unique index
answers "is there already an open position for (strategy, market, mode)?" atomically across
processes, and a second process's fill on a held market is journaled as ``position_conflict``.

``open()`` first marks runs whose process died (kill -9) ``crashed`` (``store.liveness``), then
registers this run with its owner and a heartbeat thread. The stored config is redacted
(``core.redact``: URL passwords and secret-looking keys and env values never reach the store).

``close()`` flushes the writer; when it returns, every record handed over is committed (or the
error is raised, with the records kept).
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import msgspec

from clobflow.core.orders import Fill, OrderStatus
from clobflow.core.redact import Redactor, secret_values
from clobflow.execution.orders import Order
from clobflow.observe.journal import JournalEntry
from clobflow.store.errors import DuplicatePosition
from clobflow.store.liveness import Heartbeat, owner_tag, recover_crashed_runs
from clobflow.store.records import DecisionRow, FillRow, OrderRow, PositionUpdate, TransitionRow
from clobflow.store.store import Store
from clobflow.store.writer import StoreWriter

if TYPE_CHECKING:
    from clobflow.engine.kernel import Kernel


class RunRecorder:
    def __init__(self, store: Store, writer: StoreWriter, *, run_id: str, mode: str) -> None:
        self.store = store
        self.writer = writer
        self.run_id = run_id
        self.mode = mode
        self._transition_seq: dict[str, int] = {}
        self.crashed_runs: list[str] = []  # runs found dead and marked crashed at open
        self._heartbeat: Heartbeat | None = None
        self._decisions: DecisionSink | None = None

    @classmethod
    def open(cls, url: str, *, run_id: str, mode: str, strategy_names: list[str], config: object,
             started_ns: int = 0) -> RunRecorder:
        """Connect, migrate to the current schema, mark dead runs crashed, register the run
        (config redacted) and start the writer and the heartbeat."""
        store = Store(url)
        store.migrate()
        crashed = recover_crashed_runs(store)
        redactor = Redactor(secret_values(os.environ))
        config_json = msgspec.json.encode(redactor.obj(msgspec.to_builtins(config))).decode()
        store.start_run(run_id, mode, ",".join(strategy_names), config_json, started_ns,
                        owner=owner_tag(), heartbeat_ns=time.time_ns())
        writer = StoreWriter(store).start()
        rec = cls(store, writer, run_id=run_id, mode=mode)
        rec.crashed_runs = crashed
        rec._heartbeat = Heartbeat(store, run_id).start()
        return rec

    # -- synchronous -----------------------------------------------------------------------

    def open_position(self, strategy: str, market: str, asset_id: str, now_ns: int) -> int | None:
        """Claim the (strategy, market, mode) position; ``None`` if one is already open."""
        try:
            return self.store.open_position(self.run_id, strategy, market, self.mode, asset_id, 0, 0, now_ns)
        except DuplicatePosition:
            return None

    def close_position(self, row_id: int, now_ns: int, realized_pnl: int, fees: int, reason: str,
                       *, size: int | None = None, cost: int | None = None) -> None:
        """Close the row with its final size and cost, synchronously and in the same statement
        as the close. (Writing them first in a separate transaction let the writer thread apply
        a stale queued update in between, which the close then froze: a rerun gave other sizes.)
        Queued updates only touch open rows, so none can land after the close."""
        self.store.close_position(row_id, now_ns, realized_pnl, fees, reason, size=size, cost=cost)

    def position_update(self, row_id: int, *, size: int, cost: int, fees: int) -> None:
        """The open position's current size and cost basis (queued, off the decision path)."""
        self.writer.submit(PositionUpdate(position_id=row_id, size=size, cost=cost, fees=fees))

    def adopt_open_positions(self, kernel: Kernel, strategy_names: list[str], now_ns: int) -> int:
        """Hand the kernel the positions earlier runs of these strategies left open in this
        mode; rows that never got a fill are closed (``entry_not_filled``). Returns how many
        positions were adopted."""
        adopted = 0
        for name in strategy_names:
            for row in self.store.open_positions(name, self.mode):
                if row["run_id"] == self.run_id:
                    continue
                if row["size"] <= 0:
                    self.store.close_position(row["id"], now_ns, 0, row["fees"] or 0, "entry_not_filled")
                    continue
                kernel.adopt_position(name, row["market"], row["asset_id"], size=row["size"],
                                      cost=row["cost"], fees=row["fees"] or 0, row_id=row["id"],
                                      opened_ns=row["opened_ns"])
                adopted += 1
        return adopted

    # -- queued ----------------------------------------------------------------------------

    def decisions(self) -> DecisionSink:
        """The journal sink that stores decisions in batches (``Journal.add_sink``); ``close``
        hands over what it still holds."""
        if self._decisions is None:
            self._decisions = DecisionSink(self)
        return self._decisions

    def decision(self, e: JournalEntry) -> None:
        self.writer.submit(DecisionRow(
            run_id=self.run_id, seq=e.seq, ts_ns=e.ts_ns, strategy=e.strategy, market=e.market,
            action=e.action, reason=e.reason, passed=e.passed, inputs_json=e.inputs or {},
            asset_id=e.asset_id or None,
        ))

    def order(self, order: Order, now_ns: int) -> None:
        self.writer.submit(OrderRow.from_intent(
            order.intent, self.run_id, status=order.status.value, filled_size=order.filled_size,
            avg_price=order.avg_price or None, updated_ns=now_ns,
            venue_order_id=order.venue_order_id or None, reason=order.last_reason or order.intent.reason,
        ))

    def transition(self, order: Order, from_status: OrderStatus, to_status: OrderStatus, reason: str,
                   ts_ns: int) -> None:
        coid = order.intent.client_order_id
        seq = self._transition_seq.get(coid, 0) + 1
        if to_status.terminal:
            self._transition_seq.pop(coid, None)  # its last transition: bounded over a long run
        else:
            self._transition_seq[coid] = seq
        if seq == 1:
            # The order row must exist before its first transition (foreign key).
            self.order(order, ts_ns)
        self.writer.submit(TransitionRow(
            client_order_id=coid, run_id=self.run_id, seq=seq, ts_ns=ts_ns,
            from_status=from_status.value, to_status=to_status.value, reason=reason,
        ))

    def fill(self, fill: Fill) -> None:
        self.writer.submit(FillRow.from_fill(fill, self.run_id))

    # -- end -------------------------------------------------------------------------------

    def close(self, kernel: object, now_ns: int, status: str = "finished") -> None:
        """Flush everything, record the run's summary, close the store."""
        try:
            if self._heartbeat is not None:
                self._heartbeat.stop()
            if self._decisions is not None:
                self._decisions.flush()
            self.writer.close()
            summary = getattr(kernel, "counters", {})
            self.store.finish_run(self.run_id, now_ns, status, summary)
        finally:
            self.store.close()


class DecisionSink:
    """Journal entries (tuples, ``Journal.add_sink``) to the store's ``decisions`` rows: kept in
    a list and handed to the writer in batches at the end of an event (``batch`` rows or more),
    so the decision path pays one append per entry. ``flush`` hands over the rest."""

    def __init__(self, recorder: RunRecorder, batch: int = 512) -> None:
        self._rec = recorder
        self._batch = batch
        self._pending: list[tuple] = []

    def take(self, t: tuple) -> None:
        self._pending.append(t)

    def end_of_event(self) -> None:
        if len(self._pending) >= self._batch:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        rid = self._rec.run_id
        rows = [DecisionRow(run_id=rid, seq=seq, ts_ns=ts, strategy=strategy, market=market, action=action,
                            reason=reason, passed=passed, inputs_json=inputs or {}, asset_id=asset_id or None)
                for seq, ts, strategy, action, reason, passed, market, asset_id, inputs in self._pending]
        self._pending = []
        self._rec.writer.submit_many(rows)
