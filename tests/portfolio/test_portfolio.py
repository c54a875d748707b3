"""Portfolio arithmetic with exact numbers. Fees come from ``core.fees.taker_fee`` with the
crypto schedule (rate 0.07), as the venue charges them."""

from __future__ import annotations

import pytest

from clobflow.book.l2 import L2Book
from clobflow.core.errors import InvariantBroken
from clobflow.core.events import Side
from clobflow.core.fees import taker_fee
from clobflow.core.markets import BinaryMarket, FeeSchedule, OutcomeToken
from clobflow.core.orders import Fill, Liquidity
from clobflow.portfolio import EquityPoint, Portfolio

USD = 1_000_000
SH = 1_000_000  # one share
CRYPTO = FeeSchedule(rate=70_000)

_n = 0


def market(cid: str = "m1") -> BinaryMarket:
    return BinaryMarket(cid, f"slug-{cid}", "?", OutcomeToken(f"{cid}-yes", "Yes"),
                        OutcomeToken(f"{cid}-no", "No"), tick_size=10_000, min_order_size=5 * SH)


def fill(side: Side, price: int, size: int, fee: int = 0, *, cid: str = "m1", token: str = "yes",
         fid: str | None = None, ts: int = 1) -> Fill:
    global _n
    _n += 1
    return Fill(fid if fid is not None else f"f{_n}", "o1", "s", cid, f"{cid}-{token}", side, price, size,
                fee, Liquidity.TAKER, ts)


def test_buys_at_several_prices_average_cost():
    p = Portfolio(100 * USD)
    p.apply_fill(fill(Side.BUY, 500_000, 3 * SH))
    p.apply_fill(fill(Side.BUY, 510_000, 4 * SH))
    pos = p.position("m1-yes")
    assert pos is not None
    assert (pos.size, pos.cost) == (7 * SH, 3_540_000)  # 1.50 + 2.04
    assert pos.avg_cost == 505_714  # 3.54 / 7 = 0.505714285..., floored
    assert p.cash == 100 * USD - 3_540_000


def test_partial_sells_realize_exactly_and_never_drift():
    p = Portfolio(100 * USD)
    p.apply_fill(fill(Side.BUY, 500_000, 3 * SH))
    p.apply_fill(fill(Side.BUY, 510_000, 4 * SH))
    p.apply_fill(fill(Side.SELL, 600_000, 2 * SH))
    pos = p.position("m1-yes")
    # basis released: floor(3_540_000 * 2 / 7) = 1_011_428; realized 1.20 - 1.011428
    assert p.realized_pnl == 188_572
    assert (pos.size, pos.cost) == (5 * SH, 2_528_572)
    p.apply_fill(fill(Side.SELL, 600_000, 5 * SH))
    assert p.position("m1-yes") is None
    # total realized = total proceeds - total cost, to the micro-unit
    assert p.realized_pnl == 4_200_000 - 3_540_000
    assert p.cash == 100 * USD + 660_000
    assert p.open_position_count() == 0 and p.total_exposure() == 0


def test_fees_reduce_pnl():
    p = Portfolio(1_000 * USD)
    buy_fee = taker_fee(100 * SH, 500_000, CRYPTO)
    sell_fee = taker_fee(100 * SH, 500_000, CRYPTO)
    assert buy_fee == sell_fee == 1_750_000  # 100 x 0.07 x 0.25
    p.apply_fill(fill(Side.BUY, 500_000, 100 * SH, buy_fee))
    assert p.position("m1-yes").cost == 50 * USD + 1_750_000
    assert p.position("m1-yes").avg_cost == 517_500
    p.apply_fill(fill(Side.SELL, 500_000, 100 * SH, sell_fee))
    assert p.realized_pnl == -3_500_000  # flat price, both fees lost
    assert p.fees_paid == 3_500_000
    assert p.cash == 1_000 * USD - 3_500_000
    s = p.summary("m1")
    assert (s.entry_cost, s.exit_proceeds, s.fees, s.realized, s.fills) == (
        50 * USD, 50 * USD, 3_500_000, -3_500_000, 2)


def test_settlement_winner_and_loser_exact():
    m = market()
    p = Portfolio(100 * USD)
    fee = taker_fee(10 * SH, 600_000, CRYPTO)  # 10 x 0.07 x 0.24 = 0.168
    assert fee == 168_000
    p.apply_fill(fill(Side.BUY, 600_000, 10 * SH, fee, token="yes"))
    p.apply_fill(fill(Side.BUY, 300_000, 5 * SH, 0, token="no"))  # a maker fill: no fee
    assert p.cash == 100 * USD - 6_168_000 - 1_500_000
    p.mark("m1-yes", 900_000)
    r = p.settle(m, "m1-yes", 99)
    assert r is not None
    assert (r.payout, r.cost, r.shares_won, r.shares_lost) == (10 * USD, 7_668_000, 10 * SH, 5 * SH)
    assert r.pnl == 10 * USD - 7_668_000 == 2_332_000  # +3.832 on YES, -1.50 on NO
    assert (r.winning_outcome, r.fees, r.market_pnl, r.ts_ns) == ("Yes", 168_000, 2_332_000, 99)
    assert p.cash == 100 * USD + 2_332_000
    assert p.realized_pnl == 2_332_000 and p.unrealized_pnl == 0
    assert p.positions() == [] and p.mark_price("m1-yes") is None
    s = p.summary(m)
    assert (s.settled, s.winning_token_id, s.payout, s.realized) == (True, "m1-yes", 10 * USD, 2_332_000)


def test_settlement_of_a_loser():
    m = market()
    p = Portfolio(10 * USD)
    p.apply_fill(fill(Side.BUY, 700_000, 4 * SH, 84_000, token="no"))
    r = p.settle(m, "m1-yes", 5)
    assert (r.payout, r.cost, r.pnl) == (0, 2_884_000, -2_884_000)
    assert p.cash == 10 * USD - 2_884_000 and p.equity() == p.cash


def test_settlement_edge_cases():
    m = market()
    p = Portfolio(10 * USD)
    assert p.settle(market("never"), "never-yes", 1) is None  # never traded
    p.apply_fill(fill(Side.BUY, 500_000, 2 * SH))
    p.apply_fill(fill(Side.SELL, 550_000, 2 * SH))  # closed before resolution
    r = p.settle(m, "m1-no", 2)
    assert (r.payout, r.cost, r.pnl, r.market_pnl) == (0, 0, 0, 100_000)
    assert p.settle(m, "m1-no", 3) is None  # idempotent
    with pytest.raises(InvariantBroken):
        p.settle(m, "m1-yes", 4)
    with pytest.raises(ValueError):
        p.settle(market("m2"), "m1-yes", 4)
    with pytest.raises(InvariantBroken):
        p.apply_fill(fill(Side.BUY, 500_000, SH))  # the market is over
    assert p.resolved(m) == "m1-no"


def test_selling_more_than_held_raises():
    p = Portfolio(10 * USD)
    with pytest.raises(InvariantBroken):
        p.apply_fill(fill(Side.SELL, 500_000, SH))
    p.apply_fill(fill(Side.BUY, 500_000, 2 * SH))
    with pytest.raises(InvariantBroken):
        p.apply_fill(fill(Side.SELL, 500_000, 2 * SH + 1))
    assert p.position("m1-yes").size == 2 * SH and p.cash == 9 * USD  # nothing changed


def test_bad_fills_raise_and_duplicates_are_ignored():
    p = Portfolio(10 * USD)
    for bad in (fill(Side.BUY, 500_000, 0), fill(Side.BUY, 1_000_001, SH), fill(Side.BUY, 500_000, SH, -1)):
        with pytest.raises(InvariantBroken):
            p.apply_fill(bad)
    f = fill(Side.BUY, 500_000, SH, fid="dup")
    assert p.apply_fill(f) is True
    assert p.apply_fill(f) is False
    assert p.position("m1-yes").size == SH
    with pytest.raises(InvariantBroken):  # same token under another market
        p.apply_fill(Fill("x", "o", "s", "m9", "m1-yes", Side.BUY, 500_000, SH, 0, Liquidity.MAKER, 1))


def test_fill_id_memory_is_a_bounded_window():
    p = Portfolio(100 * USD, fill_id_window=2)
    for i in range(4):
        assert p.apply_fill(fill(Side.BUY, 500_000, SH, fid=f"f{i}")) is True
    assert len(p._fill_ids) == 2
    assert p.apply_fill(fill(Side.BUY, 500_000, SH, fid="f3")) is False  # within the window: ignored
    assert p.apply_fill(fill(Side.BUY, 500_000, SH, fid="f2")) is False
    assert p.position("m1-yes").size == 4 * SH


def test_equity_and_unrealized_with_marks():
    p = Portfolio(1_000 * USD)
    p.apply_fill(fill(Side.BUY, 600_000, 10 * SH))
    assert p.cash == 994 * USD
    assert p.equity() == 1_000 * USD and p.unrealized_pnl == 0  # unmarked: carried at cost
    p.mark("m1-yes", 550_000)
    assert p.unrealized_pnl == -500_000
    assert p.equity() == 999_500_000
    book = L2Book("m1-yes")
    book.load([(540_000, SH)], [(580_000, SH)])
    assert p.mark_book(book)  # liquidation value: best bid
    assert p.equity() == 994 * USD + 5_400_000
    assert p.mark_book(book, basis="mid")
    assert p.mark_price("m1-yes") == 560_000
    assert p.total_pnl == -400_000
    empty = L2Book("m1-yes")
    assert p.mark_book(empty) is False and p.mark_price("m1-yes") == 560_000
    with pytest.raises(ValueError):
        p.mark("m1-yes", 1_000_001)
    with pytest.raises(ValueError):
        p.mark_book(book, basis="last")


def test_equity_curve_deduplicates_identical_points():
    p = Portfolio(100 * USD)
    assert p.sample(1) == EquityPoint(1, 100 * USD, 0, 0)
    assert p.sample(2) is None
    p.apply_fill(fill(Side.BUY, 500_000, 10 * SH))
    assert p.sample(3) is None  # bought at cost, unmarked: the same equity
    p.mark("m1-yes", 520_000)
    assert p.sample(4) == EquityPoint(4, 100_200_000, 0, 200_000)
    assert p.sample(5) is None
    p.mark("m1-yes", 500_000)
    p.sample(6)
    assert [pt.ts_ns for pt in p.curve] == [1, 4, 6]


def test_exposure_per_market_and_total():
    p = Portfolio(100 * USD)
    p.apply_fill(fill(Side.BUY, 400_000, 10 * SH, 100_000, cid="m1", token="yes"))
    p.apply_fill(fill(Side.BUY, 550_000, 10 * SH, 0, cid="m1", token="no"))
    p.apply_fill(fill(Side.BUY, 200_000, 5 * SH, 0, cid="m2", token="yes"))
    assert p.exposure("m1") == p.exposure(market("m1")) == 4_100_000 + 5_500_000
    assert p.market_exposure("m2") == 1_000_000
    assert p.total_exposure() == 10_600_000
    assert p.open_position_count() == 2  # YES and NO of m1 are one position
    assert p.has_position("m1") and not p.has_position("m3")
    assert p.market_size(market("m1")) == 20 * SH
    assert p.holds("m2-yes") and not p.holds("m2-no")
    p.apply_fill(fill(Side.SELL, 300_000, 5 * SH, 0, cid="m2"))
    assert p.exposure("m2") == 0 and p.open_position_count() == 1
    assert [s.market for s in p.summaries()] == ["m1", "m2"]


def test_restore_takes_over_an_exact_position_and_settles_it():
    from clobflow.core.errors import InvariantBroken
    from clobflow.core.markets import BinaryMarket, OutcomeToken

    p = Portfolio(1_000_000_000)
    m = BinaryMarket("0xm", "s", "q", OutcomeToken("Y", "Up"), OutcomeToken("N", "Down"), 10_000, 5_000_000)
    p.restore("N", "0xm", 20_000_000, 9_600_001, 1, opened_ns=5)
    assert p.cash == 1_000_000_000 - 9_600_001 and p.exposure(m) == 9_600_001 and p.holds("N")
    res = p.settle(m, "N", 10)
    assert res is not None and res.pnl == 20_000_000 - 9_600_001
    with pytest.raises(InvariantBroken):
        p.restore("Y", "0xm", 0, 0, 0, 0)
