"""RiskEngine: the documented order of checks, entries vs exits, and the O(1) ``can_trade``."""

from __future__ import annotations

from clobflow.risk import Code, RiskConfig, RiskEngine

from ._world import ASK, BID, CID, NOW, S, buy, make_market, sell, world

ENTRY_ORDER = [
    Code.KILL_SWITCH,
    Code.BREAKER_OPEN,
    Code.SIGNAL_STALE,
    Code.BOOK_SUSPECT,
    Code.MARKET_CLOSED,
    Code.TOO_CLOSE_TO_CLOSE,
    Code.DUPLICATE_IN_FLIGHT,
    Code.RECENT_ORDER,
    Code.COOLDOWN,
    Code.POSITION_EXISTS,
    Code.MAX_POSITIONS,
    Code.MARKET_EXPOSURE,
    Code.TOTAL_EXPOSURE,
    Code.SPREAD_TOO_WIDE,
    Code.PRICE_DEVIATION,
    Code.FEE_RATE_TOO_HIGH,
]


def test_checks_run_in_the_documented_order():
    """Break everything at once, then repair one thing at a time: each repair reveals the
    next reason in the documented order, and the fully repaired intent passes."""
    eng = RiskEngine(RiskConfig(max_fee_rate_bps=100, breaker_cooloff_s=10))
    w = world(closed=True, end_ns=NOW + 60 * S)
    eng.kill_switch.trip("manual", NOW)
    for _ in range(3):
        eng.breaker.record_failure(NOW - S)
    w.flight[CID] = 1
    w.orders["tok-yes"] = NOW
    w.entries[CID] = NOW
    w.held.add(CID)
    w.open_count = 5
    w.exposures[CID] = 99_000_000
    w.total = 499_000_000
    state = {"signal": NOW - 60 * S, "price": ASK + 100_000}
    w.set_book([], [(ASK, 1_000_000)])  # one-sided: spread infinite
    w.suspect()

    def fix_breaker():
        eng.breaker.reset()

    repairs = [
        lambda: eng.kill_switch.reset(NOW),
        fix_breaker,
        lambda: state.update(signal=NOW),
        lambda: w.set_book([], [(ASK, 1_000_000)]),  # a fresh snapshot: trusted again
        lambda: w.markets.update({CID: make_market(end_ns=NOW + 60 * S)}),
        lambda: w.markets.update({CID: make_market()}),
        lambda: w.flight.clear(),
        lambda: w.orders.clear(),
        lambda: w.entries.clear(),
        lambda: w.held.clear(),  # reveals max_positions (a new market would be the 6th)
        lambda: setattr(w, "open_count", 0),
        lambda: w.exposures.clear(),
        lambda: setattr(w, "total", 0),
        lambda: w.set_book([(BID, 1_000_000)], [(ASK, 1_000_000)]),
        lambda: state.update(price=ASK),
        lambda: None,
    ]
    seen = []
    for repair in repairs:
        d = eng.check(buy(signal_ns=state["signal"], price=state["price"]), w, NOW)
        seen.append(d.reason)
        repair()
    assert seen == ENTRY_ORDER
    # fee rate at 0.81 is 133 bps > 100: make it a maker order and everything passes
    assert eng.check(buy(price=ASK, post_only=True), w, NOW).ok
    assert eng.counts["ok"] == 1 and eng.counts[Code.KILL_SWITCH] == 1


def test_exits_skip_entry_only_checks():
    eng = RiskEngine()
    eng.kill_switch.trip("drawdown", NOW)
    w = world(end_ns=NOW + 10 * S)  # too close for an entry
    w.entries[CID] = NOW
    w.held.add(CID)
    w.open_count = 99
    w.exposures[CID] = w.total = 10**12
    w.set_book([(BID, 1_000_000)], [(900_000, 1_000_000)])  # spread 0.10
    assert eng.check(sell(), w, NOW).ok
    assert eng.check(buy(), w, NOW).reason == Code.KILL_SWITCH


def test_book_is_judged_before_market():
    w = world(closed=True)
    w.untrust()
    assert RiskEngine().check(buy(), w, NOW).reason == Code.BOOK_UNTRUSTED
    w.markets.clear()
    w.set_book([(BID, 1)], [(ASK, 1)])
    assert RiskEngine().check(buy(), w, NOW).reason == Code.MARKET_UNKNOWN


def test_can_trade_flips_with_breaker_and_kill_switch():
    eng = RiskEngine(RiskConfig(breaker_max_failures=3, breaker_cooloff_s=30, max_drawdown_usd=10))
    assert eng.can_trade(NOW)
    eng.breaker.record_failure(NOW)
    eng.breaker.record_failure(NOW)
    assert eng.can_trade(NOW)
    eng.breaker.record_failure(NOW)  # fed directly, as the kernel does: the flag follows
    assert not eng.can_trade(NOW)
    assert not eng.can_trade(NOW + 30 * S - 1)
    assert eng.can_trade(NOW + 30 * S)  # cool-off over, no other call needed
    assert eng.breaker.failures == 0
    eng.kill_switch.update(100_000_000, NOW + 31 * S)
    eng.kill_switch.update(90_000_001, NOW + 32 * S)
    assert eng.can_trade(NOW + 32 * S)
    eng.kill_switch.update(90_000_000, NOW + 33 * S)  # drawdown 10 USD
    assert not eng.can_trade(NOW + 33 * S)
    eng.kill_switch.update(200_000_000, NOW + 34 * S)  # recovery does not clear it
    assert not eng.can_trade(NOW + 10**6 * S)
    eng.kill_switch.reset(NOW + 35 * S)
    assert eng.can_trade(NOW + 35 * S)
    # both at once: the kill switch keeps it false after the breaker's cool-off
    eng.kill_switch.trip("manual", NOW + 40 * S)
    for _ in range(3):
        eng.breaker.record_failure(NOW + 40 * S)
    assert not eng.can_trade(NOW + 100 * S)
    eng.kill_switch.reset(NOW + 100 * S)
    assert eng.can_trade(NOW + 100 * S)


def test_status_snapshot():
    eng = RiskEngine()
    eng.check(buy(), world(), NOW)
    st = eng.status(NOW)
    assert st["can_trade"] is True
    assert st["breaker"]["state"] == "closed"
    assert st["kill_switch"]["tripped"] is False
    assert st["counts"] == {"ok": 1}
