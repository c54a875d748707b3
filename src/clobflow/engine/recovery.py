"""Crash recovery: after a kill -9, bring the store level with the crashed run's journal.

Why: the kernel journals a fill (written through to the OS at once, ``JsonlJournalFile``)
before it queues the store rows (``StoreWriter`` commits in batches, every ~0.2 s). A process
killed in between leaves fills, order states and position sizes in the journal but not in the
store, and a restart would take over positions at a stale size. At the next start
(``engine.live``), for every run found crashed whose journal is in the output folder:

1. orders journaled but not stored are inserted (status ``submitted``, then step 3 corrects it);
2. fills journaled but not stored are inserted, exactly as the writer would have (fill id,
   side, price, size, fee, liquidity, fill time);
3. each order of the run gets ``filled_size`` / ``avg_price`` from its stored fills; in paper
   mode an order still working is ``cancelled`` (reason ``run_crashed``): the simulated venue
   died with the process, so the order cannot fill any more;
4. each open position row the run traded is re-derived from the stored fills since it opened
   (through ``Portfolio``, the same arithmetic as the kernel), so a restart adopts the true size
   and cost basis.

With the venue's own record (paper: the simulator's ledger, ``sim.ledger``), step 2 is followed
by ``engine.reconcile``: orders and fills the venue has and neither the store nor the journal
has (the kill came between the venue's fill and the engine hearing of it) are journaled and
stored, and a position row the lost fill should have opened is opened.

Idempotent (a second recovery finds nothing to add), and a journal line torn by the kill is
skipped. Fills stored but not journaled cannot happen (the journal is written first).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clobflow.core.errors import InvariantBroken
from clobflow.core.orders import OrderStatus
from clobflow.engine.reconcile import adopt_venue_fills, fill_of_row
from clobflow.execution.venue_record import VenueRecord
from clobflow.observe.journal import JournalEntry
from clobflow.observe.jsonl import read_tolerant
from clobflow.portfolio.portfolio import Portfolio
from clobflow.store.records import FillRow, OrderRow, PositionUpdate
from clobflow.store.store import Store

_TERMINAL = {s.value for s in OrderStatus if s.terminal}


@dataclass
class Recovered:
    orders_added: int = 0
    fills_added: int = 0
    orders_fixed: int = 0
    positions_fixed: int = 0
    torn_lines: int = 0
    venue_orders_added: int = 0  # from the venue's record (engine.reconcile)
    venue_fills_added: int = 0
    positions_opened: int = 0


def read_journal_tolerant(path: Path) -> tuple[list[JournalEntry], int]:
    """The journal's entries, skipping lines that do not decode (a write torn by the kill)."""
    return read_tolerant(path, JournalEntry)


def recover_run(store: Store, run_id: str, journal_path: Path, venue: VenueRecord | None = None) -> Recovered:
    """Bring the store level with ``run_id``'s journal, then with the venue's record when one
    is given (see the module docstring)."""
    out = Recovered()
    run = store.run(run_id)
    if run is None or not (journal_path.is_file() or venue is not None):
        return out
    entries, out.torn_lines = read_journal_tolerant(journal_path) if journal_path.is_file() else ([], 0)
    stored_orders = {o["client_order_id"]: o for o in store.orders(run_id)}
    stored_fills = {f["fill_id"] for f in store.fills(run_id)}
    journaled_orders: dict[str, JournalEntry] = {}
    new_rows: list[Any] = []
    for e in entries:
        inp = e.inputs or {}
        coid = inp.get("client_order_id")
        if e.action == "order" and coid:
            journaled_orders[coid] = e
            if coid not in stored_orders:
                new_rows.append(OrderRow(
                    client_order_id=coid, run_id=run_id, strategy=e.strategy, market=e.market,
                    asset_id=e.asset_id, side=inp["side"], order_type=inp["order_type"], price=inp["price"],
                    size=inp["size"], filled_size=0, status=OrderStatus.SUBMITTED.value, reason=e.reason,
                    created_ns=e.ts_ns, updated_ns=e.ts_ns,
                ))
                out.orders_added += 1
        elif e.action == "fill" and inp.get("fill_id") and inp["fill_id"] not in stored_fills:
            order = journaled_orders.get(coid or "")
            side = inp.get("side") or ((order.inputs or {}).get("side") if order is not None else None)
            if side is None:
                continue  # neither the fill nor its order says the side: cannot be rebuilt exactly
            new_rows.append(FillRow(
                fill_id=inp["fill_id"], client_order_id=coid or "", run_id=run_id, strategy=e.strategy,
                market=e.market, asset_id=e.asset_id, side=side, price=inp["price"], size=inp["size"],
                fee=inp["fee"], liquidity=e.reason, ts_ns=inp.get("fill_ts_ns", e.ts_ns),
            ))
            stored_fills.add(inp["fill_id"])
            out.fills_added += 1
    if new_rows:
        store.write(new_rows)  # orders before fills (sql.WRITE_ORDER), one transaction
    if venue is not None:
        got = adopt_venue_fills(store, run_id, journal_path, venue, entries)
        out.venue_orders_added, out.venue_fills_added = got.orders_added, got.fills_added
        out.positions_opened = got.positions_opened
    out.orders_fixed = _fix_orders(store, run_id, run["mode"])
    out.positions_fixed = _fix_positions(store, run_id, run["mode"])
    return out


def _fix_orders(store: Store, run_id: str, mode: str) -> int:
    fills_by_order: dict[str, list[dict[str, Any]]] = {}
    for f in store.fills(run_id):
        fills_by_order.setdefault(f["client_order_id"], []).append(f)
    rows = []
    for o in store.orders(run_id):
        fs = fills_by_order.get(o["client_order_id"], [])
        filled = sum(f["size"] for f in fs)
        status = o["status"]
        if filled >= o["size"]:
            status = OrderStatus.FILLED.value
        elif status not in _TERMINAL and mode in ("paper", "backtest"):
            status = OrderStatus.CANCELLED.value  # the simulated venue died with the process
        elif filled and status in (OrderStatus.SUBMITTED.value, OrderStatus.PENDING.value):
            status = OrderStatus.PARTIALLY_FILLED.value
        if filled == o["filled_size"] and status == o["status"]:
            continue
        avg = sum(f["price"] * f["size"] for f in fs) // filled if filled else None
        rows.append(OrderRow(
            client_order_id=o["client_order_id"], run_id=run_id, strategy=o["strategy"], market=o["market"],
            asset_id=o["asset_id"], side=o["side"], order_type=o["order_type"], price=o["price"], size=o["size"],
            filled_size=filled, status=status,
            reason="run_crashed" if status != o["status"] and status == OrderStatus.CANCELLED.value else o["reason"],
            created_ns=o["created_ns"], updated_ns=max([o["updated_ns"], *(f["ts_ns"] for f in fs)]),
            avg_price=avg,
        ))
    if rows:
        store.write(rows)
    return len(rows)


def _fix_positions(store: Store, run_id: str, mode: str) -> int:
    """Re-derive each open position the run traded from every stored fill of its strategy and
    market (in this mode's runs) since the position opened."""
    traded = {(f["strategy"], f["market"]) for f in store.fills(run_id)}
    fixed = 0
    for strategy, market in sorted(traded):
        row = next((p for p in store.open_positions(strategy, mode) if p["market"] == market), None)
        if row is None:
            continue
        fills = [f for f in store.market_fills(strategy, market, mode) if f["ts_ns"] >= row["opened_ns"]]
        pf = Portfolio(0)
        try:
            for f in fills:
                pf.apply_fill(fill_of_row(f))
        except InvariantBroken:
            continue  # the fills do not replay (e.g. a sell stamped before its buy): leave the row
        size, cost = pf.market_size(market), pf.exposure(market)
        fees = sum(f["fee"] for f in fills)
        if (size, cost, fees) != (row["size"], row["cost"], row["fees"]):
            store.write([PositionUpdate(position_id=row["id"], size=size, cost=cost, fees=fees)])
            fixed += 1
    return fixed
