"""The imbalance strategy inside the real kernel (sim clock, sim execution, real risk and
portfolio), fed synthetic books: every filter's reason code is reachable and journaled."""

from __future__ import annotations

import pytest

from clobflow.book.book_set import BookSet
from clobflow.core.clock import SimClock
from clobflow.core.events import BookSnapshot, LevelChange, MarketResolved, PriceChange, Side
from clobflow.core.orders import OrderType
from clobflow.core.markets import BinaryMarket, OutcomeToken
from clobflow.engine.config import parse_config
from clobflow.engine.modes import build_kernel
from clobflow.observe.journal import Journal
from clobflow.venues.polymarket.integrity import PolymarketIntegrity

S = 1_000_000
T0 = 1_766_745_000 * 10**9
MIN = 60 * 10**9


def market(i: int = 0, end_ns: int = T0 + 15 * MIN) -> BinaryMarket:
    return BinaryMarket(f"0xm{i}", f"btc-updown-15m-{i}", "q", OutcomeToken(f"Y{i}", "Up"),
                        OutcomeToken(f"N{i}", "Down"), 10_000, 5 * S, start_ns=T0, end_ns=end_ns)


class World:
    def __init__(self, checker=None, **strategy) -> None:
        cfg = parse_config({"engine": {"mode": "backtest"}, "sim": {"submit_latency_ms": 0, "ack_latency_ms": 0},
                            "risk": {"recent_order_window_s": 0},
                            "strategies": [{"name": "imbalance", **strategy}]})
        self.clock = SimClock(T0)
        self.books = BookSet(checker=checker)
        self.journal = Journal(keep=True)
        self.k = build_kernel(cfg, mode="backtest", run_id="backtest-test", clock=self.clock, books=self.books,
                              journal=self.journal, recorder=None)
        self.k.start()

    def add(self, m: BinaryMarket) -> None:
        self.k.add_market(m)

    def books_for(self, m: BinaryMarket, yes_bid: int, yes_ask: int, bid_size: int, ask_size: int, at: int) -> None:
        """YES book with one level a side; the NO book is its mirror (a consistent market)."""
        self.clock.set(at)
        self.k.process_due(at)
        for asset, bids, asks in (
            (m.yes.token_id, ((yes_bid, bid_size * S),), ((yes_ask, ask_size * S),)),
            (m.no.token_id, ((S - yes_ask, ask_size * S),), ((S - yes_bid, bid_size * S),)),
        ):
            ev = BookSnapshot(m.condition_id, asset, bids, asks, "h", at, at)
            self.k.on_event(ev, self.books.on_event(ev))
        self.k.process_due(at)

    def last(self, action: str | None = None):
        entries = [e for e in self.journal.entries if action is None or e.action == action]
        return entries[-1]

    def reasons(self) -> list[str]:
        return [e.reason for e in self.journal.entries]


def test_bid_heavy_buys_yes_at_the_ask_and_ask_heavy_buys_no():
    w = World()
    m0, m1 = market(0), market(1)
    w.add(m0)
    w.add(m1)
    w.books_for(m0, 480_000, 500_000, 300, 50, T0 + MIN)  # bid-heavy
    sig = w.last("signal")
    assert sig.reason == "buy_yes" and sig.asset_id == m0.yes.token_id and sig.inputs["price"] == 500_000
    assert w.last("fill").inputs["price"] == 500_000
    # $10 at 0.50 = 20 whole shares
    assert w.last("fill").inputs["size"] == 20 * S
    w.books_for(m1, 480_000, 500_000, 50, 300, T0 + MIN)  # ask-heavy
    sig = w.last("signal")
    assert sig.reason == "buy_no" and sig.asset_id == m1.no.token_id and sig.inputs["price"] == 520_000


@pytest.mark.parametrize(
    "yes_bid,yes_ask,bid,ask,reason",
    [
        (480_000, 500_000, 100, 90, "imbalance_below_min"),
        (200_000, 220_000, 300, 50, "mid_outside_zone"),
        (750_000, 770_000, 300, 50, "mid_outside_zone"),
        (450_000, 500_000, 300, 50, "spread_too_wide"),
    ],
)
def test_signal_filters(yes_bid, yes_ask, bid, ask, reason):
    w = World()
    m = market()
    w.add(m)
    w.books_for(m, yes_bid, yes_ask, bid, ask, T0 + MIN)
    assert w.last().reason == reason and w.last().action == "skip"
    assert w.k.counters["orders"] == 0


def test_book_not_ready_until_both_books_are_trusted():
    w = World()
    m = market()
    w.add(m)
    ev = BookSnapshot(m.condition_id, m.yes.token_id, ((480_000, S),), ((500_000, S),), "h", T0, T0)
    w.k.on_event(ev, w.books.on_event(ev))
    assert w.last().reason == "book_not_ready" and w.last().inputs["no_trust"] == "no_snapshot"


def test_a_pending_venue_check_is_not_traded_on():
    """A bid-heavy book whose top disagrees with the venue's (a level of the same version has not
    arrived yet) is trusted but not tradeable: skipped as ``pending_check``, no order. When the
    level arrives the check passes and the signal fires."""
    w = World(checker=PolymarketIntegrity())
    m = market()
    w.add(m)
    w.books_for(m, 480_000, 500_000, 100, 90, T0 + MIN)
    assert w.last().reason == "imbalance_below_min"
    y = m.yes.token_id
    at = T0 + MIN + 1
    w.clock.set(at)
    ev = PriceChange(m.condition_id, (LevelChange(y, Side.BUY, 470_000, 400 * S, 485_000, 500_000, "v1"),), at, at)
    w.k.on_event(ev, w.books.on_event(ev))
    assert w.books.get(y).trusted and not w.books.get(y).tradeable
    assert w.last().reason == "book_not_ready" and w.last().inputs["yes_trust"] == "pending_check"
    assert w.k.counters["orders"] == 0
    ev = PriceChange(m.condition_id, (LevelChange(y, Side.BUY, 485_000, 10 * S, 485_000, 500_000, "v1"),), at, at)
    w.k.on_event(ev, w.books.on_event(ev))
    assert w.books.get(y).tradeable and w.last("signal").reason == "buy_yes"


def test_position_exists_then_released_by_settlement():
    w = World(cooldown_minutes=0)
    m = market()
    w.add(m)
    w.books_for(m, 480_000, 500_000, 300, 50, T0 + MIN)
    assert w.k.counters["fills"] == 1
    w.books_for(m, 480_000, 500_000, 300, 50, T0 + 2 * MIN)
    assert w.last().reason == "position_exists"
    w.clock.set(T0 + 15 * MIN)
    w.k.on_event(MarketResolved(m.condition_id, "1", m.token_ids, m.yes.token_id, "Up", T0 + 15 * MIN,
                                T0 + 15 * MIN), ())
    settle = w.last("settle")
    assert settle.reason == "won" and settle.inputs["pnl"] == 20 * S - 10 * S  # 20 shares paid 1, cost $10


def test_max_positions_and_cooldown_and_time_to_close():
    w = World(max_positions=1, cooldown_minutes=30)
    m0, m1, m2 = market(0), market(1), market(2, end_ns=T0 + 2 * MIN)
    for m in (m0, m1, m2):
        w.add(m)
    w.books_for(m0, 480_000, 500_000, 300, 50, T0 + MIN)
    w.books_for(m1, 480_000, 500_000, 300, 50, T0 + MIN)
    assert w.last().reason == "max_positions"
    # sell m0 out (the kernel's path for any exit): the slot is free, but m0 is in its cooldown
    held = w.k.portfolio.position(m0.yes.token_id).size
    ctx = w.k._ctx["imbalance"]
    ctx.submit(market=m0.condition_id, asset_id=m0.yes.token_id, side=Side.SELL, price=480_000, size=held,
               order_type=OrderType.FAK, reason="exit", signal_ns=T0 + 2 * MIN)
    w.books_for(m0, 480_000, 500_000, 300, 50, T0 + 2 * MIN + 1)
    assert w.k.portfolio.market_size(m0) == 0
    w.books_for(m0, 480_000, 500_000, 300, 50, T0 + 3 * MIN)
    assert w.last().reason == "cooldown"
    # m2 closes in under the 2-minute minimum
    w.books_for(m2, 480_000, 500_000, 300, 50, T0 + MIN + 30 * 10**9)
    assert w.last().reason == "too_close_to_close"


def test_risk_safety_checks_reject_and_are_journaled():
    # fee cap: a 0.07 crypto fee schedule makes a taker entry at 0.50 cost 350 bps > 200
    from clobflow.core.markets import FeeSchedule
    import msgspec

    w = World()
    m = msgspec.structs.replace(market(), fee_schedule=FeeSchedule(70_000, 1))
    w.add(m)
    w.books_for(m, 480_000, 500_000, 300, 50, T0 + MIN)
    rej = w.last("risk_reject")
    assert rej.reason == "fee_rate_too_high" and w.k.counters["orders"] == 0
    assert "signal" in [e.action for e in w.journal.entries]


def test_entry_not_filled_releases_the_market():
    """A FAK that meets an empty ask on arrival is rejected: no position, and the market is
    free for the next signal (the risk layer's recent-order window throttles retries)."""
    w = World()
    m = market()
    w.add(m)
    w.clock.set(T0 + MIN)
    for asset, bids, asks in ((m.yes.token_id, ((480_000, 300 * S),), ((500_000, 50 * S),)),
                              (m.no.token_id, ((500_000, 50 * S),), ((520_000, 300 * S),))):
        ev = BookSnapshot(m.condition_id, asset, bids, asks, "h", T0 + MIN, T0 + MIN)
        w.k.on_event(ev, w.books.on_event(ev))
    # the YES ask vanished between signal and arrival (zero latency: same instant, new book)
    ev = BookSnapshot(m.condition_id, m.yes.token_id, ((480_000, 300 * S),), (), "h2", T0 + MIN, T0 + MIN)
    w.books.on_event(ev)
    w.k.process_due(T0 + MIN)
    assert w.k.counters["orders"] == 1 and w.k.counters["fills"] == 0
    assert "rejected" in [e.reason for e in w.journal.entries if e.action == "order_event"]
    assert not w.k.has_position("imbalance", m.condition_id)


def test_the_kill_switch_halts_signals_with_one_halted_line():
    """A sweep-like run: the first entry loses at once (its bid collapses), the drawdown trips the
    kill switch, and every later bid-heavy book on other markets is left alone: one ``halted``
    line, no further signal, order or ``kill_switch`` reject."""
    w = World(cooldown_minutes=0, max_positions=50)
    w.k.risk["imbalance"].kill_switch.max_drawdown = 5 * S
    ms = [market(i) for i in range(6)]
    for m in ms:
        w.add(m)
    w.books_for(ms[0], 480_000, 500_000, 300, 50, T0 + MIN)
    assert w.k.counters["fills"] == 1
    w.books_for(ms[0], 100_000, 500_000, 50, 50, T0 + MIN + 2 * 10**9)  # marked at 0.10: -$8
    assert not w.k.risk["imbalance"].can_trade(T0 + MIN + 2 * 10**9)
    orders = w.k.counters["orders"]
    signals = w.reasons().count("buy_yes")
    for n in range(20):
        for m in ms[1:]:
            w.books_for(m, 480_000, 500_000, 300, 50, T0 + 2 * MIN + n * 10**9)
    halted = [e for e in w.journal.entries if e.action == "halted"]
    assert len(halted) == 1 and halted[0].reason == "kill_switch" and halted[0].inputs["trigger"] == "drawdown"
    assert w.k.counters["orders"] == orders and w.reasons().count("buy_yes") == signals
    assert not [e for e in w.journal.entries if e.action == "risk_reject"]
    assert "resumed" not in [e.action for e in w.journal.entries]
