"""One test per reason code through ``RiskEngine.check``: the code is reachable, and the check
passes exactly at its limit (one unit inside) and fails one unit beyond it."""

from __future__ import annotations

import pytest

from clobflow.risk import Code, RiskConfig, RiskEngine

from clobflow.book.book_set import BookSet
from clobflow.core.events import LevelChange, PriceChange, Side
from clobflow.venues.polymarket.integrity import PolymarketIntegrity

from ._world import ASK, BID, CID, NO, NOTIONAL, NOW, S, YES, World, buy, make_market, sell, world


def decide(w, it, cfg: RiskConfig | None = None, now: int = NOW, engine: RiskEngine | None = None):
    return (engine or RiskEngine(cfg or RiskConfig())).check(it, w, now)


def test_default_world_passes():
    d = decide(world(), buy())
    assert d.ok and d.reason == "ok" and d.detail == {}
    assert decide(world(), sell()).ok


def test_kill_switch_blocks_entries_not_exits():
    eng = RiskEngine()
    eng.kill_switch.trip("manual", NOW)
    w = world()
    d = eng.check(buy(), w, NOW)
    assert (d.ok, d.reason, d.detail) == (False, Code.KILL_SWITCH, {"why": "manual"})
    assert eng.check(sell(), w, NOW).ok
    eng.kill_switch.reset(NOW)
    assert eng.check(buy(), w, NOW).ok


def test_breaker_open_blocks_all_until_cooloff():
    eng = RiskEngine(RiskConfig(breaker_cooloff_s=60))
    w = world()
    for _ in range(2):
        eng.breaker.record_failure(NOW)
    assert eng.check(buy(), w, NOW).ok  # 2 < 3: still closed
    eng.breaker.record_failure(NOW)
    d = eng.check(buy(), w, NOW)
    assert d.reason == Code.BREAKER_OPEN and d.detail["failures"] == 3
    assert eng.check(sell(), w, NOW).reason == Code.BREAKER_OPEN
    later = NOW + 60 * S
    assert eng.check(buy(signal_ns=later), w, later - 1).reason == Code.BREAKER_OPEN
    assert eng.check(buy(signal_ns=later), w, later).ok


def test_signal_stale_boundary():
    w = world()
    assert decide(w, buy(signal_ns=NOW - 5 * S)).ok
    d = decide(w, buy(signal_ns=NOW - 5 * S - 1))
    assert d.reason == Code.SIGNAL_STALE
    assert d.detail == {"age_ns": 5 * S + 1, "max_ns": 5 * S}
    # signal_ns 0 (not set) falls back to created_ns
    assert decide(w, buy(signal_ns=0)).ok
    assert decide(w, buy(signal_ns=0), now=NOW + 5 * S + 1).reason == Code.SIGNAL_STALE


def test_book_missing():
    w = world()
    assert decide(w, buy(asset=NO)).reason == Code.BOOK_MISSING


def test_book_untrusted_even_when_trust_not_required():
    w = world()
    w.untrust()
    d = decide(w, buy())
    assert d.reason == Code.BOOK_UNTRUSTED and d.detail["trust_reason"] == "reconnect"
    assert decide(w, buy(), RiskConfig(require_trusted_book=False)).reason == Code.BOOK_UNTRUSTED
    # a book that never had a snapshot is untrusted too
    w.books.track(NO)
    assert decide(w, buy(asset=NO)).reason == Code.BOOK_UNTRUSTED


def test_book_suspect_and_the_relaxed_setting():
    w = world()
    w.suspect()
    d = decide(w, buy())
    assert d.reason == Code.BOOK_SUSPECT and d.detail["trust_reason"] == "stale"
    assert decide(w, buy(), RiskConfig(require_trusted_book=False)).ok


def test_book_pending_check_and_the_relaxed_setting():
    """A trusted book whose top disagrees with the venue's, while that version awaits its
    judgement, is not tradeable: risk refuses it like a suspect book."""
    w = World(books=BookSet(checker=PolymarketIntegrity()))
    w.markets[CID] = make_market()
    w.set_book([(BID, 100_000_000)], [(ASK, 100_000_000)])
    # the venue's best bid 0.805 is a level this book does not have yet (same hash: pending)
    w.books.on_event(PriceChange(CID, (LevelChange(YES, Side.BUY, 790_000, 5_000_000, 805_000, ASK, "v1"),), NOW, NOW))
    tb = w.book(YES)
    assert tb.trusted and not tb.tradeable
    d = decide(w, buy())
    assert d.reason == Code.BOOK_PENDING_CHECK and d.detail["trust_reason"] == "snapshot"
    assert decide(w, buy(), RiskConfig(require_trusted_book=False)).ok
    # the missing level arrives in the version's next message: the check passes, trading resumes
    w.books.on_event(PriceChange(CID, (LevelChange(YES, Side.BUY, 805_000, 5_000_000, 805_000, ASK, "v1"),), NOW, NOW))
    assert tb.tradeable and decide(w, buy()).ok


def test_market_unknown():
    w = world()
    w.markets.clear()
    assert decide(w, buy()).reason == Code.MARKET_UNKNOWN
    w = world()
    w.set_book([(BID, 1)], [(ASK, 1)], asset="foreign")
    d = decide(w, buy(asset="foreign"))
    assert d.reason == Code.MARKET_UNKNOWN and d.detail["asset_id"] == "foreign"


@pytest.mark.parametrize("kw, why", [
    ({"closed": True}, "closed"),
    ({"accepting_orders": False}, "not_accepting_orders"),
    ({"enable_order_book": False}, "no_order_book"),
    ({"end_ns": NOW}, "ended"),
])
def test_market_closed(kw, why):
    w = world(**kw)
    d = decide(w, buy())
    assert d.reason == Code.MARKET_CLOSED and d.detail["why"] == why
    assert decide(w, sell()).reason == Code.MARKET_CLOSED  # exits too: the venue would refuse


def test_market_closed_boundary_one_ns_before_end():
    # one ns before the end the market is open (and only too close for an entry)
    w = world(end_ns=NOW + 1)
    assert decide(w, buy()).reason == Code.TOO_CLOSE_TO_CLOSE
    assert decide(w, sell()).ok


def test_too_close_to_close_boundary():
    assert decide(world(end_ns=NOW + 120 * S), buy()).ok
    d = decide(world(end_ns=NOW + 120 * S - 1), buy())
    assert d.reason == Code.TOO_CLOSE_TO_CLOSE
    assert d.detail == {"to_close_ns": 120 * S - 1, "min_ns": 120 * S}
    assert decide(world(end_ns=None), buy()).ok  # unknown end: not judged


def test_duplicate_in_flight():
    w = world()
    w.flight[CID] = 1
    d = decide(w, buy())
    assert d.reason == Code.DUPLICATE_IN_FLIGHT and d.detail["in_flight"] == 1
    assert decide(w, sell()).reason == Code.DUPLICATE_IN_FLIGHT
    w.flight[CID] = 0
    assert decide(w, buy()).ok


def test_recent_order_boundary():
    w = world()
    w.orders["tok-yes"] = NOW - 1 * S  # exactly the window ago: allowed
    assert decide(w, buy()).ok
    w.orders["tok-yes"] = NOW - 1 * S + 1
    d = decide(w, buy())
    assert d.reason == Code.RECENT_ORDER and d.detail == {"since_ns": S - 1, "window_ns": S}
    assert decide(w, sell()).reason == Code.RECENT_ORDER


def test_cooldown_boundary_from_view_and_from_record_entry():
    w = world()
    w.entries[CID] = NOW - 3600 * S
    assert decide(w, buy()).ok
    w.entries[CID] = NOW - 3600 * S + 1
    d = decide(w, buy())
    assert d.reason == Code.COOLDOWN and d.detail["since_ns"] == 3600 * S - 1
    assert decide(w, sell()).ok  # exits have no cooldown
    eng = RiskEngine()
    w2 = world()
    eng.record_entry(CID, NOW - 3600 * S + 1)
    assert eng.last_entry_ns(CID) == NOW - 3600 * S + 1
    assert eng.check(buy(), w2, NOW).reason == Code.COOLDOWN
    eng.record_entry(CID, NOW - 7200 * S)  # an older time never moves the cooldown back
    assert eng.last_entry_ns(CID) == NOW - 3600 * S + 1
    w2.entries[CID] = NOW - 3600 * S  # view and engine disagree: the later one wins
    assert eng.check(buy(), w2, NOW).reason == Code.COOLDOWN
    eng2 = RiskEngine()
    eng2.record_entry(CID, NOW - 3600 * S)
    assert eng2.check(buy(), w2, NOW).ok


def test_position_exists():
    w = world()
    w.held.add(CID)
    w.open_count = 1
    assert decide(w, buy()).reason == Code.POSITION_EXISTS
    assert decide(w, buy(), RiskConfig(one_position_per_market=False)).ok
    assert decide(w, sell()).ok


def test_max_positions_boundary():
    w = world()
    w.open_count = 4
    assert decide(w, buy()).ok  # opens the 5th
    w.open_count = 5
    d = decide(w, buy())
    assert d.reason == Code.MAX_POSITIONS and d.detail == {"open": 5, "max": 5}
    # adding to a market already held opens no new position
    w.held.add(CID)
    assert decide(w, buy(), RiskConfig(one_position_per_market=False)).ok
    assert decide(w, sell()).ok


def test_market_exposure_boundary():
    w = world()
    w.exposures[CID] = 100_000_000 - NOTIONAL  # lands exactly on 100 USD
    w.total = w.exposures[CID]
    assert decide(w, buy()).ok
    w.exposures[CID] += 1
    w.total += 1
    d = decide(w, buy())
    assert d.reason == Code.MARKET_EXPOSURE
    assert d.detail == {"exposure": 91_900_001, "add": NOTIONAL, "after": 100_000_001, "max": 100_000_000}


def test_total_exposure_boundary():
    w = world()
    w.total = 500_000_000 - NOTIONAL
    assert decide(w, buy()).ok
    w.total += 1
    d = decide(w, buy())
    assert d.reason == Code.TOTAL_EXPOSURE and d.detail["after"] == 500_000_001
    assert decide(w, sell()).ok


def test_spread_too_wide_boundary():
    w = world()
    w.set_book([(790_000, 1_000_000)], [(ASK, 1_000_000)])  # 0.02 exactly
    assert decide(w, buy()).ok
    w.set_book([(780_000, 1_000_000)], [(ASK, 1_000_000)])
    d = decide(w, buy())
    assert d.reason == Code.SPREAD_TOO_WIDE and d.detail == {"spread": 30_000, "max": 20_000}
    w.set_book([], [(ASK, 1_000_000)])  # one-sided: infinitely wide
    assert decide(w, buy()).detail == {"spread": None, "max": 20_000}


def test_price_deviation_boundary_buy_uses_ask():
    w = world()
    # 3 % of the ask 0.81 is 0.0243: exactly at the limit passes
    assert decide(w, buy(price=ASK + 24_300)).ok
    d = decide(w, buy(price=ASK + 24_301))
    assert d.reason == Code.PRICE_DEVIATION
    assert d.detail["reference"] == ASK and d.detail["max_ppm"] == 30_000
    assert decide(w, buy(price=ASK - 24_300)).ok
    assert decide(w, buy(price=ASK - 24_301)).reason == Code.PRICE_DEVIATION


def test_price_deviation_boundary_sell_uses_bid():
    w = world()
    assert decide(w, sell(price=BID - 24_000)).ok  # 3 % of 0.80
    d = decide(w, sell(price=BID - 24_001))
    assert d.reason == Code.PRICE_DEVIATION and d.detail["reference"] == BID
    w.set_book([], [(ASK, 1_000_000)])  # no bid: nothing to compare an exit with
    assert decide(w, sell()).reason == Code.PRICE_DEVIATION


def test_fee_rate_too_high_boundary():
    w = world()
    # crypto rate 0.07 at 0.81: 0.07 * 0.19 = 1.33 % = 133 bps
    assert decide(w, buy(), RiskConfig(max_fee_rate_bps=133)).ok
    d = decide(w, buy(), RiskConfig(max_fee_rate_bps=132))
    assert d.reason == Code.FEE_RATE_TOO_HIGH and d.detail["fee_rate_bps"] == 133
    assert decide(w, buy(post_only=True), RiskConfig(max_fee_rate_bps=132)).ok  # makers pay none
    assert decide(w, sell(), RiskConfig(max_fee_rate_bps=0)).ok  # exits are not refused on fees


def test_reason_codes_are_stable_strings():
    codes = {v for k, v in vars(Code).items() if k.isupper()}
    assert codes == {
        "ok", "book_missing", "book_untrusted", "book_suspect", "book_pending_check", "spread_too_wide", "price_deviation",
        "signal_stale", "too_close_to_close", "market_closed", "fee_rate_too_high", "max_positions",
        "position_exists", "market_exposure", "total_exposure", "cooldown", "recent_order",
        "duplicate_in_flight", "breaker_open", "kill_switch", "market_unknown", "max_adds",
    }
