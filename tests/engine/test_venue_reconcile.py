"""The simulated venue's own record (``sim.ledger``) and reconciliation against it
(``engine.reconcile`` through ``engine.recovery``), on real SQLite and PostgreSQL stores:

- the ledger is written, fsync'ed, before the engine hears of a fill, and reads back exactly
  (a line torn by a kill is skipped);
- a fill the venue made and the engine never heard of (neither stored nor journaled) is adopted
  after the crash: order and fill stored and appended to the run's journal (after a torn last
  line), the position row it should have opened opened, and a second recovery adds
  nothing (never doubled);
- the audit compares store, journal and venue record, and flags a stored fill the venue
  never made.
"""

from __future__ import annotations

from pathlib import Path

from clobflow.core.events import Side
from clobflow.core.orders import Accepted, Fill, Filled, Liquidity, OrderIntent, OrderType, Rejected
from clobflow.engine.audit import audit_run
from clobflow.engine.recovery import read_journal_tolerant, recover_run
from clobflow.execution.venue_record import VenueFill, VenueOrder, VenueRecord
from clobflow.sim.ledger import SimLedger, ledger_path, read_ledger
from clobflow.store.records import FillRow
from clobflow.store.store import Store
from tests.store.conftest import db_url, pg_admin, pg_schema, store  # noqa: F401 - fixtures

RUN = "paper-0123456789ab"
TAG = "0123456789ab"[:8]
S = 1_000_000
T = 1_771_891_200 * 10**9


def _intent(n: int, side: Side = Side.BUY, size: int = 10 * S) -> OrderIntent:
    return OrderIntent(client_order_id=f"{TAG}-imbalance-{n}", strategy="imbalance", market="POLYMARKET:0xm",
                       asset_id="POLYMARKET:yes", side=side, price=520_000, size=size, order_type=OrderType.FAK,
                       created_ns=T)


def _fill(intent: OrderIntent, k: int, size: int, ts: int) -> Fill:
    return Fill(f"{intent.client_order_id}:sim-{k}", intent.client_order_id, intent.strategy, intent.market,
                intent.asset_id, intent.side, 510_000, size, 3_000, Liquidity.TAKER, ts)


def test_the_ledger_records_arrivals_and_fills_and_reads_back(tmp_path: Path) -> None:
    path = ledger_path(tmp_path, RUN)
    led = SimLedger(path)
    a, b = _intent(1), _intent(2)
    led.record([Accepted(a.client_order_id, T, venue_order_id="sim-1"), Filled(a.client_order_id, T, _fill(a, 2, 4 * S, T))],
               T, arrived=a)
    led.record([Rejected(b.client_order_id, T + 1, reason="fak_no_match")], T + 1, arrived=b)
    led.record([Filled(a.client_order_id, T + 2, _fill(a, 3, 6 * S, T + 2))], T + 2)  # a resting order's fill
    led.close()
    with open(path, "ab") as f:
        f.write(b'{"type":"fill","fill_id":"torn')  # the kill tore the last write
    rec = read_ledger(path)
    assert isinstance(rec, VenueRecord)
    assert [(o.client_order_id, o.status, o.reason, o.venue_order_id) for o in rec.orders()] == [
        (a.client_order_id, "accepted", "", "sim-1"), (b.client_order_id, "rejected", "fak_no_match", "")]
    assert [v.fill for v in rec.fills()] == [_fill(a, 2, 4 * S, T), _fill(a, 3, 6 * S, T + 2)]
    assert read_ledger(tmp_path / "none.jsonl").fills() == []


def _crashed_run(store: Store, journal: Path) -> None:
    store.start_run(RUN, "paper", "imbalance", "{}", T)
    store.finish_run(RUN, T, "crashed", {})
    journal.write_bytes(b'{"seq":1,"ts_ns":1,"strategy":"imbalance","action":"sig')  # torn, no newline


def test_a_fill_only_the_venue_has_is_adopted_once(store: Store, tmp_path: Path) -> None:  # noqa: F811
    journal = tmp_path / f"journal-{RUN}.jsonl"
    _crashed_run(store, journal)
    a = _intent(1)
    other = OrderIntent(client_order_id="zzzzzzzz-imbalance-1", strategy="imbalance", market="POLYMARKET:0xm",
                        asset_id="POLYMARKET:yes", side=Side.BUY, price=520_000, size=S, order_type=OrderType.GTC,
                        created_ns=T)
    fills = [_fill(a, 2, 4 * S, T + 5), _fill(a, 3, 6 * S, T + 6)]
    led = SimLedger(ledger_path(tmp_path, RUN))
    led.record([Accepted(a.client_order_id, T + 5), *(Filled(a.client_order_id, f.ts_ns, f) for f in fills)],
               T + 5, arrived=a)
    led.record([Accepted(other.client_order_id, T + 7)], T + 7, arrived=other)  # another run's order
    led.close()
    venue = read_ledger(ledger_path(tmp_path, RUN))

    rec = recover_run(store, RUN, journal, venue)
    assert (rec.venue_orders_added, rec.venue_fills_added, rec.positions_opened) == (1, 2, 1)
    assert [FillRow.from_fill(f, RUN).fill_id for f in fills] == [f["fill_id"] for f in store.fills(RUN)]
    (order,) = store.orders(RUN)
    assert (order["client_order_id"], order["filled_size"], order["status"]) == (a.client_order_id, 10 * S, "filled")
    (pos,) = store.positions(RUN)
    assert (pos["status"], pos["size"], pos["cost"], pos["fees"]) == ("open", 10 * S, 5_100_000 + 6_000, 6_000)
    entries, torn = read_journal_tolerant(journal)
    assert torn == 1 and [(e.seq, e.action, e.inputs.get("fill_id"), e.inputs["source"]) for e in entries] == [
        (1, "order", None, "venue_record"), *((i + 2, "fill", f.fill_id, "venue_record") for i, f in enumerate(fills))]
    audit = audit_run(store, RUN, journal, venue)
    assert audit.ok and (audit.venue_orders, audit.venue_fills, audit.store_fills, audit.journal_fills) == (1, 2, 2, 2)

    again = recover_run(store, RUN, journal, venue)  # idempotent: nothing doubled
    assert (again.venue_orders_added, again.venue_fills_added, again.positions_opened) == (0, 0, 0)
    assert len(store.fills(RUN)) == 2 and len(read_journal_tolerant(journal)[0]) == 3


def test_the_audit_flags_what_the_venue_and_the_store_disagree_on(store: Store, tmp_path: Path) -> None:  # noqa: F811
    journal = tmp_path / f"journal-{RUN}.jsonl"
    _crashed_run(store, journal)
    a = _intent(1)
    f1, f2 = _fill(a, 2, 4 * S, T + 5), _fill(a, 3, 6 * S, T + 6)
    led = SimLedger(ledger_path(tmp_path, RUN))
    led.record([Accepted(a.client_order_id, T + 5), Filled(a.client_order_id, f1.ts_ns, f1)], T + 5, arrived=a)
    led.close()
    recover_run(store, RUN, journal, read_ledger(ledger_path(tmp_path, RUN)))
    store.write([FillRow.from_fill(f2, RUN)])  # a fill the venue never made
    venue = read_ledger(ledger_path(tmp_path, RUN))
    audit = audit_run(store, RUN, journal, venue)
    assert not audit.ok and audit.stored_fills_not_at_venue == [f2.fill_id] and audit.extra_fills == [f2.fill_id]
    assert isinstance(venue.orders()[0], VenueOrder) and isinstance(venue.fills()[0], VenueFill)


def test_the_simulated_venue_writes_its_ledger_before_the_engine_hears(tmp_path: Path) -> None:
    """On the real Aug-2026 book: the order arrives and fills at +50 ms; the ledger holds both
    at once, while the reports are still 20 ms away; a stopping paper run drains them."""
    from clobflow.sim.exec_models import LatencyModel
    from tests.execution.helpers import BUY, FAK, MS
    from tests.execution.helpers import intent as sim_intent
    from tests.execution.test_sim_client import T0, Harness

    led = SimLedger(tmp_path / "ledger.jsonl")
    h = Harness(LatencyModel(submit_ns=50 * MS, ack_ns=20 * MS), ledger=led)
    h.send(sim_intent("o", h.tok, BUY, 100_000, 1_000 * S, FAK), T0)
    h.run_until(T0 + 60 * MS)
    assert h.reports == []  # the engine has heard nothing yet
    rec = read_ledger(tmp_path / "ledger.jsonl")
    assert [(o.client_order_id, o.status, o.ts_ns) for o in rec.orders()] == [("o", "accepted", T0 + 50 * MS)]
    drained = h.client.drain_reports()
    assert [type(r) for r in drained] == [Accepted, Filled] and h.client.next_due_ns() is None
    assert [v.fill for v in rec.fills()] == [drained[1].fill]
