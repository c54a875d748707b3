"""Store versus journal versus venue: does the SQL store hold exactly the orders and fills a
run journaled, and exactly the fills the venue made?

``audit_run(store, run_id, journal_path, venue=None)`` compares one run; ``Audit.ok`` when
nothing is missing, nothing is extra, no fill is doubled and every order's ``filled_size`` is
the sum of its fills. With the venue's record (``execution.venue_record``; paper: the
simulator's ledger) also: the store's fills are exactly the venue's (same ids, none missing on
either side), every order the venue saw is stored, and an order the venue never saw (killed in
flight) has no fill. Used by the kill -9 suite (``tests/engine/test_kill_restart.py``,
``bench/kill_restart.py``) after restarts, and usable by an operator on any run folder.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from clobflow.engine.reconcile import run_tag
from clobflow.engine.recovery import read_journal_tolerant
from clobflow.execution.venue_record import VenueRecord
from clobflow.store.store import Store


@dataclass
class Audit:
    run_id: str
    status: str = ""
    journal_orders: int = 0
    store_orders: int = 0
    journal_fills: int = 0
    store_fills: int = 0
    missing_orders: list[str] = field(default_factory=list)  # journaled, not stored
    extra_orders: list[str] = field(default_factory=list)  # stored with fills, not journaled
    unjournaled_orders: list[str] = field(default_factory=list)  # stored without fills, not journaled
    missing_fills: list[str] = field(default_factory=list)
    extra_fills: list[str] = field(default_factory=list)
    doubled_fills: list[str] = field(default_factory=list)  # same order, price, size, time under two ids
    filled_mismatch: list[str] = field(default_factory=list)  # order filled_size != sum of its fills
    venue_orders: int | None = None  # None: no venue record compared
    venue_fills: int | None = None
    venue_fills_not_stored: list[str] = field(default_factory=list)
    stored_fills_not_at_venue: list[str] = field(default_factory=list)
    venue_orders_not_stored: list[str] = field(default_factory=list)
    filled_orders_not_at_venue: list[str] = field(default_factory=list)
    orders_not_at_venue: int = 0  # stored, never arrived (sent just before the kill): no fill

    @property
    def ok(self) -> bool:
        return not (self.missing_orders or self.extra_orders or self.missing_fills or self.extra_fills
                    or self.doubled_fills or self.filled_mismatch or self.venue_fills_not_stored
                    or self.stored_fills_not_at_venue or self.venue_orders_not_stored
                    or self.filled_orders_not_at_venue)

    def as_dict(self) -> dict:
        return asdict(self)


def audit_run(store: Store, run_id: str, journal_path: Path, venue: VenueRecord | None = None) -> Audit:
    a = Audit(run_id)
    run = store.run(run_id)
    a.status = "" if run is None else run["status"]
    entries, _torn = read_journal_tolerant(journal_path) if journal_path.is_file() else ([], 0)
    j_orders = {(e.inputs or {}).get("client_order_id") for e in entries if e.action == "order"}
    j_fills = [(e.inputs or {}).get("fill_id") for e in entries if e.action == "fill"]
    s_orders = {o["client_order_id"]: o for o in store.orders(run_id)}
    s_fills = store.fills(run_id)
    a.journal_orders, a.store_orders = len(j_orders), len(s_orders)
    a.journal_fills, a.store_fills = len(j_fills), len(s_fills)
    a.missing_orders = sorted(str(c) for c in j_orders - s_orders.keys())
    # The journal writes an order entry at the end of its event (``PROMPT_ACTIONS``), the store
    # may commit it first: a kill in between leaves an order only in the store. Harmless while it
    # has no fill (a fill entry flushes everything before it); reported, not a failure.
    filled_coids = {f["client_order_id"] for f in s_fills}
    extra = s_orders.keys() - j_orders
    a.extra_orders = sorted(c for c in extra if c in filled_coids)
    a.unjournaled_orders = sorted(c for c in extra if c not in filled_coids)
    s_ids = {f["fill_id"] for f in s_fills}
    a.missing_fills = sorted(str(f) for f in set(j_fills) - s_ids)
    a.extra_fills = sorted(s_ids - set(j_fills))
    if len(j_fills) != len(set(j_fills)):
        a.doubled_fills += sorted({str(f) for f in j_fills if j_fills.count(f) > 1})
    seen: dict[tuple, str] = {}
    by_order: dict[str, int] = {}
    for f in s_fills:
        key = (f["client_order_id"], f["price"], f["size"], f["ts_ns"], f["liquidity"])
        if key in seen:
            a.doubled_fills.append(f["fill_id"])
        seen[key] = f["fill_id"]
        by_order[f["client_order_id"]] = by_order.get(f["client_order_id"], 0) + f["size"]
    a.filled_mismatch = sorted(c for c, o in s_orders.items() if o["filled_size"] != by_order.get(c, 0))
    if venue is not None:
        prefix = run_tag(run_id) + "-"
        v_orders = {o.client_order_id for o in venue.orders() if o.client_order_id.startswith(prefix)}
        v_fills = [v.fill.fill_id for v in venue.fills() if v.fill.client_order_id.startswith(prefix)]
        a.venue_orders, a.venue_fills = len(v_orders), len(v_fills)
        a.venue_fills_not_stored = sorted(set(v_fills) - s_ids)
        a.stored_fills_not_at_venue = sorted(s_ids - set(v_fills))
        if len(v_fills) != len(set(v_fills)):
            a.doubled_fills += sorted({f for f in v_fills if v_fills.count(f) > 1})
        a.venue_orders_not_stored = sorted(v_orders - s_orders.keys())
        unseen = s_orders.keys() - v_orders
        a.orders_not_at_venue = len(unseen)
        a.filled_orders_not_at_venue = sorted(c for c in unseen if by_order.get(c, 0))
    return a
