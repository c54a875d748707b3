"""The order state machine: every valid transition, the invalid ones, duplicates, reconciliation
and the transition hook."""

from __future__ import annotations

import msgspec
import pytest

from clobflow.core.errors import InvariantBroken
from clobflow.core.orders import (
    Accepted,
    Cancelled,
    Expired,
    Fill,
    Filled,
    Liquidity,
    OrderStatus,
    Rejected,
    Unknown,
)
from clobflow.execution.orders import OrderManager
from tests.execution.helpers import BUY, FAK, GTC, S, SELL, intent

P, SUB, PART, FILL = OrderStatus.PENDING, OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED
CXL, REJ, EXP, UNK = OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED, OrderStatus.UNKNOWN

SIZE = 10 * S
PRICE = 500_000


class Journal:
    """A recording sink for ``on_transition``."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, OrderStatus, OrderStatus, str, int]] = []

    def __call__(self, order, frm, to, reason, ts):
        assert order.status is to  # called after the order was updated
        self.rows.append((order.client_order_id, frm, to, reason, ts))


_n = 0


def fill(size, price=PRICE, coid="o", fill_id=None, side=BUY, asset="yes-token", fee=0):
    global _n
    _n += 1
    return Filled(
        client_order_id=coid,
        ts_ns=7,
        fill=Fill(fill_id or f"f{_n}", coid, "test", "0xmarket", asset, side, price, size, fee, Liquidity.TAKER, 7),
    )


def at(status: OrderStatus, journal: Journal | None = None):
    """A manager holding order "o" (BUY 10 @ 0.50, GTC) driven into ``status``."""
    om = OrderManager(journal)
    om.create(intent("o", "yes-token", BUY, PRICE, SIZE), 1)
    if status is P:
        return om
    if status is REJ:
        om.reject_local("o", "risk_limit", 2)
        return om
    if status is UNK:
        om.mark_submitted("o", 2)
        om.apply(Unknown(client_order_id="o", ts_ns=3, reason="timeout"))
        return om
    om.mark_submitted("o", 2)
    follow = {
        SUB: [],
        PART: [fill(4 * S)],
        FILL: [fill(SIZE)],
        CXL: [Cancelled(client_order_id="o", ts_ns=3, reason="requested")],
        EXP: [Expired(client_order_id="o", ts_ns=3)],
    }[status]
    for r in follow:
        om.apply(r)
    assert om.get("o").status is status
    return om


REPORTS = {
    "accepted": lambda: Accepted(client_order_id="o", ts_ns=9, venue_order_id="v-1"),
    "partial": lambda: fill(3 * S),
    "full": lambda: None,  # filled below with the remaining size
    "cancelled": lambda: Cancelled(client_order_id="o", ts_ns=9, reason="requested"),
    "rejected": lambda: Rejected(client_order_id="o", ts_ns=9, reason="x", message="m"),
    "expired": lambda: Expired(client_order_id="o", ts_ns=9),
    "unknown": lambda: Unknown(client_order_id="o", ts_ns=9, reason="timeout"),
}

VALID = [
    (SUB, "accepted", SUB),
    (SUB, "partial", PART),
    (SUB, "full", FILL),
    (SUB, "cancelled", CXL),
    (SUB, "rejected", REJ),
    (SUB, "expired", EXP),
    (SUB, "unknown", UNK),
    (PART, "accepted", PART),
    (PART, "partial", PART),
    (PART, "full", FILL),
    (PART, "cancelled", CXL),
    (PART, "expired", EXP),
    (PART, "unknown", UNK),
    (UNK, "accepted", SUB),
    (UNK, "partial", PART),
    (UNK, "full", FILL),
    (UNK, "cancelled", CXL),
    (UNK, "rejected", REJ),
    (UNK, "expired", EXP),
    (UNK, "unknown", UNK),
    (P, "unknown", UNK),
]


def report_for(om, name):
    if name == "full":
        return fill(om.get("o").remaining)
    return REPORTS[name]()


@pytest.mark.parametrize(("start", "name", "end"), VALID)
def test_valid_transitions_call_the_hook_with_from_and_to(start, name, end):
    j = Journal()
    om = at(start, j)
    j.rows.clear()
    o = om.apply(report_for(om, name))
    assert o.status is end
    (row,) = j.rows
    assert row[:3] == ("o", start, end)
    assert row[4] == 9 or name in ("partial", "full")
    assert om.count(end) == 1 and sum(om.counts().values()) == 1


def test_local_paths():
    j = Journal()
    om = OrderManager(j)
    om.create(intent("a", "yes-token", BUY, PRICE, SIZE), 1)
    om.create(intent("b", "yes-token", BUY, PRICE, SIZE), 1)
    om.mark_submitted("a", 2)
    om.reject_local("b", "max_position", 3, "position limit")
    assert j.rows == [("a", P, SUB, "submitted", 2), ("b", P, REJ, "max_position", 3)]
    assert om.get("b").message == "position limit" and om.get("b").terminal


TERMINAL = [FILL, CXL, REJ, EXP]


@pytest.mark.parametrize("start", TERMINAL)
@pytest.mark.parametrize("name", sorted(REPORTS))
def test_nothing_leaves_a_terminal_state(start, name):
    om = at(start)
    r = fill(S) if name == "full" else REPORTS[name]()
    with pytest.raises(InvariantBroken):
        om.apply(r)
    assert om.get("o").status is start


@pytest.mark.parametrize("name", ["accepted", "partial", "cancelled", "rejected", "expired"])
def test_reports_for_a_pending_order_are_refused(name):
    om = at(P)
    with pytest.raises(InvariantBroken):
        om.apply(REPORTS[name]())


def test_invalid_commands_and_fills():
    om = at(SUB)
    with pytest.raises(InvariantBroken):
        om.mark_submitted("o", 3)  # twice
    with pytest.raises(InvariantBroken):
        om.reject_local("o", "late", 3)  # already sent
    with pytest.raises(InvariantBroken):
        om.create(intent("o", "yes-token", BUY, PRICE, SIZE), 3)  # duplicate id
    with pytest.raises(InvariantBroken):
        om.apply(Cancelled(client_order_id="nope", ts_ns=3))
    with pytest.raises(InvariantBroken):
        om.apply(fill(SIZE + 1))  # more than remaining
    with pytest.raises(InvariantBroken):
        om.apply(fill(S, price=PRICE + 10_000))  # above a BUY's limit
    with pytest.raises(InvariantBroken):
        om.apply(fill(S, side=SELL))
    with pytest.raises(InvariantBroken):
        om.apply(fill(S, asset="no-token"))
    with pytest.raises(InvariantBroken):
        om.apply(fill(0))
    with pytest.raises(InvariantBroken):
        om.apply(Filled(client_order_id="o", ts_ns=3, fill=None))
    assert om.get("o").status is SUB and om.get("o").filled_size == 0
    om.apply(fill(S))
    with pytest.raises(InvariantBroken):
        om.apply(Rejected(client_order_id="o", ts_ns=4, reason="x"))  # after a fill


def test_duplicate_fills_are_ignored_and_counted_even_after_the_order_is_final():
    j = Journal()
    om = at(SUB, j)
    first = fill(4 * S, fill_id="t-1")
    om.apply(first)
    assert om.apply(first).filled_size == 4 * S
    om.apply(fill(6 * S, fill_id="t-2"))
    assert om.get("o").status is FILL
    om.apply(fill(6 * S, fill_id="t-2"))  # the venue resends the trade (MINED, CONFIRMED)
    assert om.counters["duplicate_fills"] == 2 and om.counters["fills"] == 2
    assert [r[2] for r in j.rows] == [SUB, PART, FILL]


def test_average_price_fees_and_notional_are_exact():
    om = at(SUB)
    om.apply(fill(3 * S, price=480_000, fee=10))
    om.apply(fill(7 * S, price=490_000, fee=20))
    o = om.get("o")
    assert o.avg_price == (3 * 480_000 + 7 * 490_000) // 10 and o.fees == 30
    assert o.filled_notional == 3 * 480_000 + 7 * 490_000 and o.remaining == 0


def test_unknown_is_reconciled_to_the_state_the_fills_imply():
    j = Journal()
    om = at(PART, j)
    om.apply(Unknown(client_order_id="o", ts_ns=5, reason="timeout"))
    o = om.apply(Accepted(client_order_id="o", ts_ns=6, venue_order_id="v-9"))
    assert o.status is PART and o.venue_order_id == "v-9"  # 4 shares were filled before
    assert j.rows[-2][1:3] == (PART, UNK) and j.rows[-1][1:3] == (UNK, PART)


def test_queries():
    om = OrderManager()
    om.create(intent("a", "yes-token", BUY, PRICE, SIZE), 10)
    om.create(intent("b", "no-token", SELL, PRICE, SIZE, market="0xother"), 20)
    om.create(intent("c", "yes-token", BUY, PRICE, SIZE, FAK), 30)
    om.mark_submitted("a", 11)
    om.mark_submitted("c", 31)
    om.apply(Accepted(client_order_id="a", ts_ns=12, venue_order_id="v-1"))
    om.apply(fill(2 * S, coid="a"))
    om.apply(Cancelled(client_order_id="c", ts_ns=32, reason="fak_remainder"))
    assert [o.client_order_id for o in om.open_orders()] == ["a", "b"]
    assert [o.client_order_id for o in om.open_orders(asset_id="yes-token")] == ["a"]
    assert [o.client_order_id for o in om.open_orders(market="0xother")] == ["b"]
    assert [o.client_order_id for o in om.in_flight()] == ["b"]  # "a" is partially filled
    assert om.last_order_ns("yes-token") == 30 and om.last_order_ns("none") is None
    assert om.counts() == {PART: 1, P: 1, CXL: 1}
    assert len(om) == 3 and om.get("c").terminal and om.get("a").live


def test_intent_defaults_are_gtc():
    assert intent("x", "yes-token", BUY, PRICE, SIZE).order_type is GTC


def test_fill_id_memory_is_bounded_and_duplicates_within_the_window_are_still_ignored():
    om = OrderManager(recent_fill_ids=3)
    for i in range(5):
        om.create(intent(f"o{i}", "yes-token", BUY, PRICE, SIZE), 1)
        om.mark_submitted(f"o{i}", 2)
        om.apply(fill(4 * S, coid=f"o{i}", fill_id=f"t{i}-a"))
        assert list(om.get(f"o{i}").fill_ids) == [f"t{i}-a"]  # a live order keeps its own ids
        om.apply(fill(4 * S, coid=f"o{i}", fill_id=f"t{i}-a"))  # resent while live: ignored
        om.apply(fill(6 * S, coid=f"o{i}", fill_id=f"t{i}-b"))  # now FILLED: ids move to the window
        assert not om.get(f"o{i}").fill_ids
    assert len(om._fill_ids) == 3  # the window, not every id of the run
    om.apply(fill(6 * S, coid="o4", fill_id="t4-b"))  # a late duplicate within the window
    om.apply(fill(4 * S, coid="o4", fill_id="t4-a"))
    om.apply(fill(4 * S, coid="o3", fill_id="t3-b"))
    assert om.counters["duplicate_fills"] == 5 + 3 and om.counters["fills"] == 10
    with pytest.raises(InvariantBroken):  # older than the window: the terminal-state invariant speaks
        om.apply(fill(4 * S, coid="o0", fill_id="t0-a"))


def test_only_the_most_recent_terminal_orders_are_kept():
    """A long run places orders without end: the manager keeps its live orders and the last
    ``keep_terminal`` finished ones; the status counts still cover every order."""
    om = OrderManager(keep_terminal=3)
    for i in range(8):
        om.create(intent(f"o{i}", "yes-token", BUY, PRICE, SIZE), i)
        om.reject_local(f"o{i}", "risk", i)
    om.create(intent("live", "yes-token", BUY, PRICE, SIZE), 9)
    assert [c for c in (f"o{i}" for i in range(8)) if om.get(c) is not None] == ["o5", "o6", "o7"]
    assert om.get("live") is not None and len(om) == 4
    assert om.count(OrderStatus.REJECTED) == 8 and om.last_order_ns("yes-token") == 9
    om.forget_asset("yes-token")
    assert om.last_order_ns("yes-token") is None


def test_open_orders_are_indexed_by_market_and_strategy():
    om = OrderManager()
    om.create(intent("a", "yes-token", BUY, PRICE, SIZE, market="m1"), 1)
    om.create(msgspec.structs.replace(intent("b", "no-token", SELL, PRICE, SIZE, market="m1"), strategy="other"), 1)
    om.create(intent("c", "x-token", BUY, PRICE, SIZE, market="m2"), 1)
    assert [o.client_order_id for o in om.open_orders(market="m1")] == ["a", "b"]
    assert [o.client_order_id for o in om.open_orders(market="m1", strategy="other")] == ["b"]
    assert [o.client_order_id for o in om.open_orders(strategy="test")] == ["a", "c"]
    assert [o.client_order_id for o in om.open_orders(market="m1", asset_id="no-token")] == ["b"]
    assert om.live_count("test", "m1") == 1 and om.live_buy("test", "m1") and not om.live_buy("other", "m1")
    assert [o.client_order_id for o in om.in_flight("m2")] == ["c"]
    om.mark_submitted("a", 2)
    om.apply(Cancelled(client_order_id="a", ts_ns=3, reason="requested"))
    assert [o.client_order_id for o in om.open_orders(market="m1")] == ["b"]
    assert om.live_count("test", "m1") == 0 and om.open_orders(market="m1", strategy="test") == []
    assert om.open_orders(market="nowhere") == []
