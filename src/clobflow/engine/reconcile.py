"""Reconciliation with the venue's own record after a crash: what the venue did, we adopt.

The journal catches what the store's last batch lost (``engine.recovery``), but neither holds
a fill the venue made after the engine's last word: a kill -9 between the venue matching our
order and its report reaching the engine. The venue's record (``execution.venue_record``: the
paper simulator's fsync'ed ledger, ``sim.ledger``; a live venue's order and trade history) has
it. ``adopt_venue_fills(store, run_id, journal_path, record)``, for the run's entries (client
order ids carry the run's tag, so one record may span runs):

1. an order the venue saw but the journal lacks is journaled (action ``order``, reason
   ``venue_record``), and one the store lacks is inserted (status ``submitted``; the recovery
   that follows sets its fill state and cancels what the dead simulator still held);
2. a fill the venue has and the journal lacks is appended to it (action ``fill``,
   ``inputs.source = "venue_record"``), and one the store lacks is inserted, exactly as the
   kernel would have. Journal lines are fsync'ed, after a line torn by the kill, before the
   store is written: a crash in between leaves them journaled, and the journal step of the
   next recovery stores them;
3. a traded market whose position row was never opened (the entry's fill was the one lost) gets
   its row, re-derived from the run's fills, so the next run takes the shares over.

Never doubled: a fill id already stored or journaled is skipped, so a second reconciliation
adds nothing. Fills the store has and the venue does not are not touched here (the audit,
``engine.audit``, reports them: with a venue record, that is an error of ours).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from clobflow.core.errors import InvariantBroken
from clobflow.core.events import Side
from clobflow.core.orders import Fill, Liquidity
from clobflow.execution.venue_record import VenueRecord
from clobflow.observe.journal import JournalEntry
from clobflow.portfolio.portfolio import Portfolio
from clobflow.store.errors import DuplicatePosition
from clobflow.store.records import FillRow, OrderRow
from clobflow.store.store import Store


def fill_of_row(f: Any) -> Fill:
    """A stored fill row back as a ``Fill`` (to replay it through a ``Portfolio``)."""
    return Fill(fill_id=f["fill_id"], client_order_id=f["client_order_id"], strategy=f["strategy"],
                market=f["market"], asset_id=f["asset_id"], side=Side[f["side"]], price=f["price"], size=f["size"],
                fee=f["fee"], liquidity=Liquidity(f["liquidity"]), ts_ns=f["ts_ns"])


def run_tag(run_id: str) -> str:
    """The tag the kernel puts in front of a run's client order ids (``engine.kernel``)."""
    return run_id.rsplit("-", 1)[-1][:8]


@dataclass
class Adopted:
    orders_added: int = 0
    fills_added: int = 0
    positions_opened: int = 0


def adopt_venue_fills(store: Store, run_id: str, journal_path: Path, record: VenueRecord,
                      journal: list[JournalEntry]) -> Adopted:
    """Adopt into ``store`` and the journal at ``journal_path`` (whose readable entries are
    ``journal``) what ``record`` holds of ``run_id`` and they lack (module docstring)."""
    out = Adopted()
    prefix = run_tag(run_id) + "-"
    j_orders = {(e.inputs or {}).get("client_order_id") for e in journal if e.action == "order"}
    j_fills = {(e.inputs or {}).get("fill_id") for e in journal if e.action == "fill"}
    stored_orders = {o["client_order_id"] for o in store.orders(run_id)}
    stored_fills = {f["fill_id"] for f in store.fills(run_id)}
    orders = [o for o in record.orders() if o.client_order_id.startswith(prefix)]
    fills = [v.fill for v in record.fills() if v.fill.client_order_id.startswith(prefix)]
    seq = max((e.seq for e in journal), default=0)
    lines, rows = bytearray(), []
    enc = msgspec.json.Encoder()

    def journal_line(e: JournalEntry) -> None:
        enc.encode_into(e, lines, -1)
        lines.extend(b"\n")

    for o in orders:
        if o.client_order_id not in j_orders:
            seq += 1
            j_orders.add(o.client_order_id)
            journal_line(JournalEntry(seq, o.ts_ns, o.strategy, "order", "venue_record", True, o.market, o.asset_id, {
                "client_order_id": o.client_order_id, "side": o.side, "price": o.price, "size": o.size,
                "order_type": o.order_type, "source": "venue_record"}))
        if o.client_order_id not in stored_orders:
            stored_orders.add(o.client_order_id)
            rows.append(OrderRow(
                client_order_id=o.client_order_id, run_id=run_id, strategy=o.strategy, market=o.market,
                asset_id=o.asset_id, side=o.side, order_type=o.order_type, price=o.price, size=o.size, filled_size=0,
                status="submitted", reason="venue_record", created_ns=o.ts_ns, updated_ns=o.ts_ns,
                venue_order_id=o.venue_order_id or None,
            ))
            out.orders_added += 1
    adopted: set[tuple[str, str]] = set()
    for f in fills:
        if f.fill_id not in j_fills:
            seq += 1
            j_fills.add(f.fill_id)
            journal_line(JournalEntry(seq, f.ts_ns, f.strategy, "fill", f.liquidity.value, True, f.market,
                                      f.asset_id, {"client_order_id": f.client_order_id, "fill_id": f.fill_id,
                                                   "price": f.price, "size": f.size, "fee": f.fee,
                                                   "side": f.side.name, "fill_ts_ns": f.ts_ns,
                                                   "source": "venue_record"}))
        if f.fill_id not in stored_fills:
            stored_fills.add(f.fill_id)
            rows.append(FillRow.from_fill(f, run_id))
            adopted.add((f.strategy, f.market))
            out.fills_added += 1
    if lines:
        _append_durably(journal_path, bytes(lines))  # journal first: see the module docstring
    if rows:
        store.write(rows)  # orders before fills (sql.WRITE_ORDER), one transaction
    if adopted:
        out.positions_opened = _open_missing_positions(store, run_id, adopted)
    return out


def _append_durably(path: Path, data: bytes) -> None:
    """Append whole lines to a journal a kill may have left mid-line (the torn line stays
    unreadable on its own instead of swallowing the first new one)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _open_missing_positions(store: Store, run_id: str, traded: set[tuple[str, str]]) -> int:
    """For each (strategy, market) given without an open row in the run's mode: the shares the
    run's fills leave since its last closed row, opened as a row if any."""
    run = store.run(run_id)
    if run is None:
        return 0
    mode = run["mode"]
    opened = 0
    for strategy, market in sorted(traded):
        if store.open_position_exists(strategy, market, mode):
            continue  # an open row: recovery re-derives its size from the fills
        closed = [p["closed_ns"] or 0 for p in store.positions(run_id)
                  if p["strategy"] == strategy and p["market"] == market and p["status"] != "open"]
        since = max(closed, default=-1)
        fills = [f for f in store.fills(run_id)
                 if f["strategy"] == strategy and f["market"] == market and f["ts_ns"] > since]
        pf = Portfolio(0)
        try:
            for f in fills:
                pf.apply_fill(fill_of_row(f))
        except InvariantBroken:
            continue
        held = pf.positions()
        if not held:
            continue
        try:
            store.open_position(run_id, strategy, market, mode, held[0].asset_id, pf.market_size(market),
                                pf.exposure(market), fills[0]["ts_ns"], fees=sum(f["fee"] for f in fills))
            opened += 1
        except DuplicatePosition:
            continue  # another process holds it: its own run answers for it
    return opened
