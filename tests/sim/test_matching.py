"""The simulated matching engine and the venue's order checks, on real books where they exist.

Books: the real Aug-2026 snapshot (``book_2026-08.json``: bid 0.07, asks 0.08/0.09/0.10...) and
the real Sep-2026 burst with a fill (``book_then_price_change_burst_2026-09.json``), both
through the production parser. Fees: the 21 real on-chain taker legs of
``chain_orderfilled_taker_fees_2026-09.json``.
"""

from __future__ import annotations

import json

import msgspec
import pytest

from clobflow.book.book_set import BookSet
from clobflow.book.l2 import L2Book
from clobflow.core.events import Trade
from clobflow.core.fees import taker_fee
from clobflow.core.markets import FeeSchedule
from clobflow.core.numbers import parse_micros
from clobflow.core.orders import Accepted, Cancelled, Expired, Filled, Liquidity, Rejected
from clobflow.sim import validation as v
from clobflow.sim.matching import FAK_MSG, FOK_MSG, MatchingEngine
from clobflow.venues.polymarket.integrity import PolymarketIntegrity, seed_from_complement
from clobflow.venues.polymarket.parsing import MarketParser
from tests.execution.helpers import (
    BUY,
    FAK,
    FIX,
    FOK,
    GTC,
    GTD,
    S,
    SELL,
    book_2026_08,
    burst,
    intent,
    parse_into,
    real_market,
)

T0 = 1_786_604_072_222_000_000


@pytest.fixture
def real():
    """(engine, book, token) on the real Aug-2026 book and the real crypto market."""
    books, token = book_2026_08()
    market = real_market(yes=token)
    engine = MatchingEngine({token: market})
    return engine, books.book(token), token


def fills(reports):
    return [r.fill for r in reports if isinstance(r, Filled)]


# -- taker orders --------------------------------------------------------------------------


def test_buy_walks_several_levels_one_fill_per_level_at_level_prices(real):
    engine, book, tok = real
    size = 400_000 * S
    out = engine.place(intent("o1", tok, BUY, 100_000, size, FAK), book, T0)
    assert isinstance(out[0], Accepted) and out[0].venue_order_id == "sim-1"
    fs = fills(out)
    assert [(f.price, f.size) for f in fs] == [
        (80_000, 228_198_280_000),
        (90_000, 153_220_410_000),
        (100_000, size - 228_198_280_000 - 153_220_410_000),
    ]
    assert len(out) == 4  # fully filled: no remainder report
    vwap = sum(f.price * f.size for f in fs) // size
    assert vwap == book.vwap(BUY, size)  # the book's own walk agrees
    schedule = real_market().fee_schedule
    assert [f.fee for f in fs] == [taker_fee(f.size, f.price, schedule) for f in fs]
    assert all(f.liquidity is Liquidity.TAKER and f.fee > 0 for f in fs)
    assert [f.fill_id for f in fs] == ["o1:sim-2", "o1:sim-3", "o1:sim-4"]


def test_limit_price_is_respected_on_both_sides(real):
    engine, book, tok = real
    out = engine.place(intent("b", tok, BUY, 90_000, 10**9 * S, FAK), book, T0)
    assert max(f.price for f in fills(out)) == 90_000
    out = engine.place(intent("s", tok, SELL, 60_000, 200_000 * S, FAK), book, T0)
    assert [(f.price, f.size) for f in fills(out)] == [(70_000, 182_528_550_000), (60_000, 17_471_450_000)]


def test_fak_partial_fill_then_remainder_cancelled(real):
    engine, book, tok = real
    out = engine.place(intent("o", tok, BUY, 90_000, 500_000 * S, FAK), book, T0)
    assert [type(r) for r in out] == [Accepted, Filled, Filled, Cancelled]
    assert sum(f.size for f in fills(out)) == 381_418_690_000
    assert out[-1].reason == "fak_remainder"


def test_fak_with_nothing_to_match_is_rejected_with_the_venue_message(real):
    engine, book, tok = real
    (r,) = engine.place(intent("o", tok, BUY, 70_000, 100 * S, FAK), book, T0)
    assert isinstance(r, Rejected) and r.reason == "fak_no_match" and r.message == FAK_MSG


def test_fok_killed_when_the_book_cannot_fill_it_all(real):
    engine, book, tok = real
    (r,) = engine.place(intent("o", tok, BUY, 90_000, 400_000 * S, FOK), book, T0)
    assert isinstance(r, Rejected) and r.reason == "fok_not_filled" and r.message == FOK_MSG
    assert engine.consumed(tok, SELL, 80_000) == 0  # a killed FOK takes nothing


def test_fok_full_fill(real):
    engine, book, tok = real
    out = engine.place(intent("o", tok, BUY, 90_000, 381_418_690_000, FOK), book, T0)
    assert [type(r) for r in out] == [Accepted, Filled, Filled]
    assert sum(f.size for f in fills(out)) == 381_418_690_000


def test_consumed_liquidity_is_not_offered_twice_until_the_level_changes(real):
    engine, book, tok = real
    first = fills(engine.place(intent("a", tok, BUY, 80_000, 200_000 * S, FAK), book, T0))
    assert [(f.price, f.size) for f in first] == [(80_000, 200_000 * S)]
    second = engine.place(intent("b", tok, BUY, 80_000, 200_000 * S, FAK), book, T0 + 1)
    assert [(f.price, f.size) for f in fills(second)] == [(80_000, 28_198_280_000)]
    (r,) = engine.place(intent("c", tok, BUY, 80_000, 100 * S, FAK), book, T0 + 2)
    assert isinstance(r, Rejected)  # all displayed size at 0.08 is ours already
    # an unchanged book does not bring it back; a changed level does
    engine.on_book(tok, book, T0 + 3)
    assert engine.consumed(tok, SELL, 80_000) == 228_198_280_000
    book.set_level(SELL, 80_000, 1_000 * S)
    engine.on_book(tok, book, T0 + 4)
    assert engine.consumed(tok, SELL, 80_000) == 0
    out = fills(engine.place(intent("d", tok, BUY, 80_000, 2_000 * S, FAK), book, T0 + 5))
    assert [(f.price, f.size) for f in out] == [(80_000, 1_000 * S)]


def test_marketable_gtc_takes_then_rests_the_remainder(real):
    engine, book, tok = real
    out = engine.place(intent("o", tok, BUY, 80_000, 300_000 * S, GTC), book, T0)
    assert [type(r) for r in out] == [Accepted, Filled]
    rest = engine.resting("o")
    assert rest is not None and rest.remaining == 300_000 * S - 228_198_280_000
    # the ask it consumed is still displayed at its price: no second fill from it
    assert engine.on_book(tok, book, T0 + 1) == []


# -- the real fee fixture through the sim's fee path ---------------------------------------


def _fee_cases():
    return json.loads((FIX / "rest" / "chain_orderfilled_taker_fees_2026-09.json").read_text())


@pytest.mark.parametrize("i", range(21))
def test_real_onchain_taker_fees_through_the_engine(i):
    cases = _fee_cases()
    assert len(cases) == 21
    c = cases[i]
    price = parse_micros(c["price"])
    # the taker's shares: what a BUY receives (taker amount), what a SELL gives (maker amount)
    shares = int(c["taker_amount_filled"] if c["side"] == "BUY" else c["maker_amount_filled"])
    market = real_market(tick_size=1_000, fee_schedule=FeeSchedule(rate=parse_micros(c["fee_rate"])))
    book = L2Book("yes-token", 1_000)
    side = BUY if c["side"] == "BUY" else SELL
    if side == BUY:
        book.load([], [(price, shares)])
        limit = price + 1_000  # a market order's worst price; the fill is at the level's price
    else:
        book.load([(price, shares)], [])
        limit = price - 1_000
    engine = MatchingEngine({"yes-token": market})
    out = engine.place(intent("o", "yes-token", side, limit, shares, FOK), book, 0)
    (f,) = fills(out)
    assert (f.price, f.size, f.fee) == (price, shares, int(c["fee"]))


# -- resting orders ------------------------------------------------------------------------


def _burst_run(size: int, *, inference: bool = True):
    """Replay the real burst; rest a BUY of ``size`` at 0.311 as soon as that level shows
    (2000 shares ahead of us), report every fill with the message index."""
    msgs = burst()
    parser, books = MarketParser(), BookSet(checker=PolymarketIntegrity())
    a = msgs[0]["asset_id"]
    parse_into(books, parser, msgs[0], 0)
    b = next(c["asset_id"] for c in msgs[1]["price_changes"] if c["asset_id"] != a)
    seed_from_complement(books, b, a, 0)
    market = real_market(yes=a, no=b, tick_size=1_000)
    engine = MatchingEngine({a: market, b: market}, trade_inference=inference)
    got = []
    placed = False
    for i, m in enumerate(msgs[1:], start=1):
        ts = int(m["timestamp"]) * 1_000_000
        touched = {c["asset_id"] for c in m.get("price_changes", [])} or {m["asset_id"]}
        parse_into(books, parser, m, ts)
        for tok in sorted(touched):
            got += [(i, r) for r in engine.on_book(tok, books.book(tok), ts)]
        if not placed and books.book(a).level_size(BUY, 311_000):
            assert books.book(a).level_size(BUY, 311_000) == 2_000 * S
            out = engine.place(intent("mk", a, BUY, 311_000, size, GTC), books.book(a), ts)
            assert [type(r) for r in out] == [Accepted]
            assert engine.resting("mk").queue_ahead == 2_000 * S
            placed = True
    fill_msg = next(i for i, m in enumerate(msgs) if m["timestamp"] == "1790658827000")
    return engine, got, fill_msg


@pytest.mark.parametrize("inference", [True, False])
def test_real_burst_trade_through_fills_a_resting_bid_at_its_price(inference):
    engine, got, fill_msg = _burst_run(100 * S, inference=inference)
    # The fill is three messages sharing one hash: an ask at 0.301 x 45.83 appears under our
    # 0.311 bid (the market trades through it), then bids 0.311 and 0.301 go. We fill at our
    # price on the first, up to the size shown at or through it; the 2000 ahead of us vanishing
    # next is not volume beyond our place, and the post-trade book (same ask) fills nothing more.
    assert [(i, r.fill.price, r.fill.size, r.fill.fee, r.fill.liquidity) for i, r in got] == [
        (fill_msg, 311_000, 45_830_000, 0, Liquidity.MAKER)
    ]
    assert engine.resting("mk").remaining == 100 * S - 45_830_000


def test_real_burst_small_resting_bid_fills_completely():
    engine, got, _ = _burst_run(10 * S)
    assert [r.fill.size for _, r in got] == [10 * S]
    assert engine.resting("mk") is None
    assert engine.counters["maker_fills_through"] == 1


def _simple_book(bids, asks, tick=10_000):
    book = L2Book("yes-token", tick)
    book.load(bids, asks)
    return book


def _engine(**kw):
    return MatchingEngine({"yes-token": real_market()}, **kw)


def test_trade_prints_at_our_price_eat_the_queue_then_fill_us():
    parser = MarketParser()
    frame = (FIX / "ws_market" / "last_trade_price_2024-08.json").read_bytes()
    (trade,) = parser.parse(frame, 5)  # real print: SELL 85.36 @ 0.491
    assert isinstance(trade, Trade) and trade.side == SELL and trade.price == 491_000
    tok = trade.asset_id
    book = _simple_book([(491_000, 50 * S)], [(500_000, 100 * S)], tick=1_000)
    engine = MatchingEngine({tok: real_market(yes=tok, tick_size=1_000)})
    engine.place(intent("first", tok, BUY, 491_000, 20 * S), book, 1)
    engine.place(intent("second", tok, BUY, 491_000, 100 * S), book, 2)
    assert engine.resting("second").queue_ahead == 50 * S  # our own first order is not displayed
    out = engine.on_trade(trade, 5)
    # 85.36 traded: 50 ahead of both, then 20 to "first", then the last 15.36 to "second"
    assert [(r.client_order_id, r.fill.size, r.fill.liquidity) for r in out] == [
        ("first", 20 * S, Liquidity.MAKER),
        ("second", 15_360_000, Liquidity.MAKER),
    ]
    assert engine.resting("first") is None and engine.resting("second").queue_ahead == 0
    assert engine.resting("second").remaining == 84_640_000
    # a BUY taker print cannot fill resting BUYs
    lift = msgspec.structs.replace(trade, side=BUY)
    assert engine.on_trade(lift, 6) == []


def test_trade_print_below_the_queue_only_moves_us_up():
    tok = "yes-token"
    book = _simple_book([(500_000, 100 * S)], [(510_000, 100 * S)])
    engine = _engine()
    engine.place(intent("o", tok, BUY, 500_000, 10 * S), book, 1)
    t = Trade("0xmarket", tok, 500_000, 30 * S, SELL, "t1", 2, 2)
    assert engine.on_trade(t, 2) == [] and engine.resting("o").queue_ahead == 70 * S
    through = Trade("0xmarket", tok, 490_000, 4 * S, SELL, "t2", 3, 3)
    (r,) = engine.on_trade(through, 3)  # sold below our bid: we were taken first
    assert r.fill.size == 4 * S and r.fill.price == 500_000 and engine.resting("o").queue_ahead == 0


@pytest.mark.parametrize("inference", [True, False])
def test_queue_inference_from_level_decreases_at_the_top(inference):
    tok = "yes-token"
    book = _simple_book([(500_000, 100 * S), (490_000, 100 * S)], [(510_000, 100 * S)])
    engine = _engine(trade_inference=inference)
    engine.place(intent("top", tok, BUY, 500_000, 10 * S), book, 1)
    engine.place(intent("deep", tok, BUY, 490_000, 10 * S), book, 1)
    book.set_level(BUY, 500_000, 150 * S)  # 50 join behind us
    book.set_level(BUY, 490_000, 40 * S)  # not the top: only cancels (queue capped)
    assert engine.on_book(tok, book, 2) == []
    assert engine.resting("deep").queue_ahead == 40 * S
    book.set_level(BUY, 500_000, 120 * S)  # top level down 30
    assert engine.on_book(tok, book, 3) == []
    book.set_level(BUY, 500_000, 20 * S)  # top level down 100 more: 70 ahead, then us
    out = engine.on_book(tok, book, 4)
    if inference:
        assert engine.resting("top") is None
        assert [(r.client_order_id, r.fill.size, r.fill.price, r.fill.fee) for r in out] == [
            ("top", 10 * S, 500_000, 0)
        ]
        assert engine.counters["maker_fills_inferred"] == 1
    else:
        assert out == [] and engine.resting("top").queue_ahead == 20 * S  # capped, never filled


def test_a_dropped_book_is_not_mistaken_for_trading():
    tok = "yes-token"
    book = _simple_book([(500_000, 100 * S)], [(510_000, 100 * S)])
    engine = _engine()
    engine.place(intent("o", tok, BUY, 500_000, 10 * S), book, 1)
    book.clear()  # tick_size_change: the book waits for a new snapshot
    assert engine.on_book(tok, book, 2) == []
    book.load([(500_000, 100 * S)], [(510_000, 100 * S)])
    assert engine.on_book(tok, book, 3) == [] and engine.resting("o").queue_ahead == 100 * S


def test_inference_turns_off_for_a_token_with_trade_prints():
    tok = "yes-token"
    book = _simple_book([(500_000, 100 * S)], [(510_000, 100 * S)])
    engine = _engine()
    engine.place(intent("o", tok, BUY, 500_000, 10 * S), book, 1)
    engine.on_trade(Trade("0xmarket", tok, 500_000, 40 * S, SELL, "t", 2, 2), 2)
    book.set_level(BUY, 500_000, 60 * S)  # the same 40 seen again in the book: not re-counted
    assert engine.on_book(tok, book, 3) == [] and engine.resting("o").queue_ahead == 60 * S


def test_opposite_side_touching_our_price_with_nothing_ahead_fills_us():
    tok = "yes-token"
    book = _simple_book([(490_000, 100 * S)], [(510_000, 100 * S)])
    engine = _engine(trade_inference=False)
    engine.place(intent("o", tok, SELL, 500_000, 30 * S), book, 1)  # alone at 0.50
    assert engine.resting("o").queue_ahead == 0
    book.set_level(BUY, 500_000, 12 * S)  # a buyer shows at our ask: it would have taken us
    (r,) = engine.on_book(tok, book, 2)
    assert (r.fill.side, r.fill.price, r.fill.size, r.fill.liquidity) == (SELL, 500_000, 12 * S, Liquidity.MAKER)
    assert engine.on_book(tok, book, 3) == []  # that bid is consumed until it changes


def test_gtd_expiry_and_cancel_of_a_resting_order():
    tok = "yes-token"
    book = _simple_book([(490_000, 100 * S)], [(510_000, 100 * S)])
    engine = _engine()
    engine.place(intent("g", tok, BUY, 480_000, 10 * S, GTD, expire_at_ns=100), book, 1)
    engine.place(intent("c", tok, BUY, 480_000, 10 * S), book, 1)
    assert engine.expire("g", 100) == [Expired(client_order_id="g", ts_ns=100)]
    assert engine.expire("g", 101) == []
    assert engine.cancel("c", 5) == [Cancelled(client_order_id="c", ts_ns=5, reason="requested")]
    assert engine.cancel("c", 6) == [] and engine.resting_orders() == []


# -- validation ----------------------------------------------------------------------------


def _check(it, book=None, market=None, now=10):
    return v.validate(it, market or real_market(), book, now)


@pytest.mark.parametrize(
    ("kw", "reason", "message"),
    [
        (dict(price=75_000), v.PRICE_OFF_TICK, "order x is invalid. Price (0.075) breaks minimum tick size rule: 0.01"),
        (dict(price=995_000), v.PRICE_OUT_OF_RANGE, "price (0.995), min: 0.01 - max: 0.99"),
        (dict(price=0), v.PRICE_OUT_OF_RANGE, "price (0), min: 0.01 - max: 0.99"),
        (dict(size=4 * S), v.SIZE_BELOW_MIN, "order x is invalid. Size (4) lower than the minimum: 5"),
        (dict(size=0), v.INVALID_SIZE, "Invalid order payload"),
        (
            dict(otype=FAK, size=10 * S, price=80_000),
            v.NOTIONAL_BELOW_MIN,
            "invalid amount for a marketable BUY order ($0.8), min size: $1",
        ),
        (dict(otype=FOK, post_only=True), v.POST_ONLY_NOT_ALLOWED, None),
        (dict(post_only=True, price=80_000), v.POST_ONLY_CROSSES, "invalid post-only order: order crosses book"),
        (dict(otype=GTD), v.INVALID_EXPIRATION, "invalid expiration"),
        (dict(otype=GTD, expire_at_ns=10), v.INVALID_EXPIRATION, "invalid expiration"),
        (dict(expire_at_ns=99), v.INVALID_EXPIRATION, "invalid expiration"),
    ],
)
def test_venue_rejections(real, kw, reason, message):
    _, book, tok = real
    kw = {"price": 50_000, "size": 10 * S, **kw}
    price, size, otype = kw.pop("price"), kw.pop("size"), kw.pop("otype", GTC)
    r = _check(intent("x", tok, BUY, price, size, otype, **kw), book, real_market(yes=tok))
    assert isinstance(r, Rejected) and r.reason == reason and r.ts_ns == 10
    if message is not None:
        assert r.message == message


def test_valid_orders_pass(real):
    _, book, tok = real
    m = real_market(yes=tok)
    assert _check(intent("a", tok, BUY, 70_000, 5 * S, post_only=True), book, m) is None  # rests at the bid
    assert _check(intent("b", tok, SELL, 80_000, 13 * S, FAK), book, m) is None  # $1.04
    assert _check(intent("c", tok, BUY, 50_000, 5 * S, GTD, expire_at_ns=11), book, m) is None
    assert _check(intent("d", tok, BUY, 990_000, 5 * S), None, m) is None  # no book: no cross checks


def test_marketable_limit_order_needs_one_dollar(real):
    _, book, tok = real
    m = real_market(yes=tok)
    r = _check(intent("a", tok, BUY, 80_000, 5 * S), book, m)  # crosses the 0.08 ask: $0.40
    assert r.reason == v.NOTIONAL_BELOW_MIN and r.message.startswith("invalid amount for a marketable BUY order")
    assert _check(intent("b", tok, BUY, 70_000, 5 * S), book, m) is None  # rests: no $1 minimum


def test_the_books_current_tick_wins_over_the_markets(real):
    _, book, tok = real
    m = real_market(yes=tok)
    it = intent("a", tok, BUY, 75_000, 20 * S)
    assert _check(it, book, m).reason == v.PRICE_OFF_TICK
    book.tick_size = 1_000  # a tick_size_change narrowed the grid
    assert _check(it, book, m) is None


def test_closed_and_not_accepting_markets_are_refused():
    d = json.loads((FIX / "rest" / "gamma_market_sports_feeschedule_2026-04.json").read_text())
    from clobflow.venues.polymarket.gamma import parse_gamma_market

    closed = parse_gamma_market(d[0] if isinstance(d, list) else d)  # real: closed, not accepting
    tok = closed.yes.token_id
    r = v.validate(intent("a", tok, BUY, 500_000, 10 * S), closed, None, 0)
    assert r.reason == v.MARKET_CLOSED
    paused = msgspec.structs.replace(closed, closed=False)
    r = v.validate(intent("a", tok, BUY, 500_000, 10 * S), paused, None, 0)
    assert (r.reason, r.message) == (v.MARKET_NOT_READY, "the market is not yet ready to process new orders")
    assert v.validate(intent("a", "other", BUY, 500_000, 10 * S), closed, None, 0).reason == v.MARKET_NOT_FOUND
    assert v.validate(intent("a", tok, BUY, 500_000, 10 * S), None, None, 0).reason == v.MARKET_NOT_FOUND


def test_markets_may_be_a_provider_read_at_arrival(real):
    _, book, tok = real
    known: dict = {}
    engine = MatchingEngine(lambda: known)
    (r,) = engine.place(intent("a", tok, BUY, 70_000, 10 * S), book, T0)
    assert r.reason == v.MARKET_NOT_FOUND
    known[tok] = real_market(yes=tok)  # discovered later in the run
    assert isinstance(engine.place(intent("b", tok, BUY, 70_000, 10 * S), book, T0)[0], Accepted)


def test_engine_rejects_through_validation(real):
    engine, book, tok = real
    (r,) = engine.place(intent("x", tok, BUY, 80_000, 10 * S, GTC, post_only=True), book, T0)
    assert isinstance(r, Rejected) and r.message == "invalid post-only order: order crosses book"
    assert engine.counters["rejected"] == 1 and engine.resting("x") is None
