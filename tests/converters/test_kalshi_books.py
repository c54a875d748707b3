"""Kalshi's bids-only YES/NO ladders as a two-sided YES book: YES ask = 1 - NO bid, in the helper
and in the three recorder versions of the xvenue Kalshi files."""

from __future__ import annotations

from clobflow.recorder.converters import xvenue_kalshi as xk
from clobflow.recorder.converters.common import iso_ns, yes_book_from_bids

from .conftest import DATA

DIR = DATA / "kalshi-polymarket-xvenue"


def test_yes_book_from_bids():
    # YES bids 0.08 x 300, 0.22 x 333; NO bids 0.54 x 20, 0.56 x 146 (protocol.md §5 example)
    bp, bs, ap, as_ = yes_book_from_bids(
        [(80_000, 300_000_000), (220_000, 333_000_000)], [(540_000, 20_000_000), (560_000, 146_000_000)]
    )
    assert (bp, bs) == ([220_000, 80_000], [333_000_000, 300_000_000])
    assert (ap, as_) == ([440_000, 460_000], [146_000_000, 20_000_000])  # best NO bid 0.56 -> ask 0.44
    assert yes_book_from_bids([], [(990_000, 5), (10_000, 0)]) == ([], [], [10_000], [5])


def test_v0_separate_ladders_give_the_yes_ask_from_the_no_bid():
    (table, row), = list(xk.v0_rows(DIR))
    # YES file: book 0.1600 BUY 2117; NO file: book 0.8000 BUY 1513 (a NO bid)
    assert table == "orderbook_snapshots" and row.market == "KXNBAMVP-26-LDON"
    assert (row.bid_prices, row.bid_sizes) == ([160_000], [2_117_000_000])
    assert (row.ask_prices, row.ask_sizes) == ([200_000], [1_513_000_000])  # 1 - 0.80
    # the later book row (NO file) takes the time of the next stamped row of its file
    assert row.ts_ns == iso_ns("2025-12-08T03:51:26.819312Z")


def _snapshots(player):
    return [r for t, r in xk.combined_rows(DIR / f"Kalshi_{player}.csv.gz", xk.TICKERS[player])
            if t == "orderbook_snapshots"]


def test_v1_book_sell_rows_are_no_bids():
    rows = _snapshots("Jokic")
    first = rows[0]  # ,book,0.2200,BUY,30 / ,book,0.7200,SELL,842 (NO bid) -> YES ask 0.28
    assert first.ts_ns == iso_ns("2025-12-13T17:11:30.721254Z") < xk.V2_FROM
    assert (first.bid_prices, first.bid_sizes, first.ask_prices, first.ask_sizes) == (
        [220_000], [30_000_000], [280_000], [842_000_000])
    assert sum(1 for r in rows if r.ts_ns < xk.V2_FROM) == 2  # only the two book messages


def test_v2_rows_use_the_converted_top_and_tracked_sizes():
    rows = _snapshots("Shai")
    v2 = [r for r in rows if r.ts_ns >= xk.V2_FROM]
    # ,book,0.4700,BUY,4521 / ,book,0.5,SELL,1459 then 0.48 BUY +5 (above the book's best bid)
    a = v2[0]
    assert a.ts_ns == iso_ns("2025-12-13T20:10:45.330433Z")
    assert (a.bid_prices, a.bid_sizes, a.ask_prices, a.ask_sizes) == (
        [480_000], [5_000_000], [500_000], [1_459_000_000])
    b = v2[2]  # 0.48 BUY -5 -> best bid back to the book's 0.47 x 4521; ask 0.49 x 7 (SELL +7)
    assert (b.bid_prices, b.bid_sizes, b.ask_prices, b.ask_sizes) == (
        [470_000], [4_521_000_000], [490_000], [7_000_000])
    jokic = _snapshots("Jokic")
    # "0.09999999999999998" (= 1 - 0.90) rounds to 0.10
    assert any(r.ask_prices == [100_000] and r.ts_ns >= iso_ns("2026-01-07T00:00:00Z") for r in jokic)


def test_crossed_v2_tops_are_dropped():
    rows = _snapshots("Luka")
    assert len(rows) == 663  # 10 v1 book messages + 660 v2 messages - 7 crossed
    assert all(r.bid_prices[0] < r.ask_prices[0] for r in rows if r.bid_prices and r.ask_prices)


def test_trades_are_in_yes_terms():
    trades = [r for t, r in xk.combined_rows(DIR / "Kalshi_Jokic.csv.gz", xk.TICKERS["Jokic"]) if t == "trades"]
    assert len(trades) == 14
    sell = next(t for t in trades if t.side == "SELL")  # 1767833768,last_trade_price,0.91,SELL,2
    assert (sell.price, sell.size, sell.ts_ns, sell.ts_venue_ns) == (90_000, 2_000_000, 1_767_833_768 * 10**9, 1_767_833_768 * 10**9)
    buy = trades[0]  # 1767673272,last_trade_price,0.09,BUY,23
    assert (buy.price, buy.size, buy.side, buy.asset_id) == (90_000, 23_000_000, "BUY", "KXNBAMVP-26-NJOK:yes")
