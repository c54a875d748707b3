"""kalshi-btc15m-tob-brti: KXBTC15M quotes -> YES-book snapshots, tickers -> windows with
settlement winners, the BRTI proxy -> spot_prices (labelled as a proxy)."""

from __future__ import annotations

import gzip
import json

import pytest

from clobflow.recorder.converters.common import iso_ns
from clobflow.recorder.converters.kalshi_btc15m import SPOT_SYMBOL, SPOT_VENUE, close_ns

from .conftest import DATA

NAME = "kalshi-btc15m-tob-brti"
DIR = DATA / NAME
S = 1_000_000_000


def _sources():
    coll = [json.loads(x) for x in gzip.open(next(DIR.glob("collection_*.jsonl.gz")), "rt")]
    cont = json.load(gzip.open(next(DIR.glob("continuous_*.json.gz")), "rt"))["measurements"]
    settle = json.load(open(DIR / "settlements.json"))
    return coll, cont, settle


def test_counts_match_the_source(converted):
    coll, cont, settle = _sources()
    c = converted(NAME)
    assert len(c["orderbook_snapshots"]) == len(c["spot_prices"]) == len(coll) + len(cont) == 2_291
    tickers = {s["kalshi"]["ticker"] for s in coll + cont} | {s["ticker"] for s in settle}
    assert len(c["market_windows"]) == len(tickers) == 204
    assert sum(1 for w in c["market_windows"] if w.winner) == len(settle) == 142


def test_ticker_close_times_agree_with_the_recorded_close_times():
    _, cont, settle = _sources()
    pairs = {(s["kalshi"]["ticker"], s["kalshi"]["close_time"]) for s in cont}
    pairs |= {(s["ticker"], s["close_time"]) for s in settle}
    assert len(pairs) > 100
    for ticker, close in pairs:
        assert close_ns(ticker) == iso_ns(close), ticker
    assert close_ns("KXBTC15M-26FEB012200-00") == iso_ns("2026-02-02T03:00:00Z")  # 22:00 EST
    assert close_ns("KXBTC15M-26JUL011200-00") == iso_ns("2026-07-01T16:00:00Z")  # 12:00 EDT
    with pytest.raises(ValueError):
        close_ns("KXSB-26-NE")


def test_snapshots_exact(converted):
    rows = converted(NAME)["orderbook_snapshots"]
    first = rows[0]  # yes_bid 0.0 (no bid), yes_ask 0.01
    assert first.ts_ns == iso_ns("2026-02-02T02:44:21.439836") and first.ts_venue_ns == 0
    assert (first.venue, first.market, first.asset_id) == ("kalshi", "KXBTC15M-26FEB012145-45", "KXBTC15M-26FEB012145-45:yes")
    assert (first.bid_prices, first.bid_sizes, first.ask_prices, first.ask_sizes) == ([], [], [10_000], [0])
    two_sided = next(r for r in rows if r.ts_ns == iso_ns("2026-02-02T02:46:23.406061"))
    # {"ticker":"KXBTC15M-26FEB012200-00","yes_bid":0.33,"yes_ask":0.34}: ask = 1 - best NO bid (0.66)
    assert (two_sided.bid_prices, two_sided.ask_prices) == ([330_000], [340_000])
    assert two_sided.bid_sizes == two_sided.ask_sizes == [0]  # sizes not recorded
    assert sum(1 for r in rows if not r.ask_prices) == 117 + 25  # yes_ask 1.00: no NO bid
    assert [r.ts_ns for r in rows] == sorted(r.ts_ns for r in rows)


def test_windows_and_winners(converted):
    windows = {w.market: w for w in converted(NAME)["market_windows"]}
    w = windows["KXBTC15M-26FEB020300-00"]  # settled "yes"
    assert w.winner == w.yes_token == "KXBTC15M-26FEB020300-00:yes" and w.no_token.endswith(":no")
    assert w.window_end_ns == iso_ns("2026-02-02T08:00:00Z")
    assert w.window_start_ns == w.window_end_ns - 900 * S == w.discovered_ns
    assert (w.event_id, w.asset, w.venue, w.slug) == ("KXBTC15M-26FEB020300", "btc", "kalshi", "")
    assert sum(1 for x in windows.values() if x.winner == x.no_token) == 84


def test_brti_proxy_is_not_labelled_as_the_official_index(converted):
    rows = converted(NAME)["spot_prices"]
    assert {(r.venue, r.symbol) for r in rows} == {(SPOT_VENUE, SPOT_SYMBOL)} == {("composite", "BRTI-PROXY")}
    first = rows[0]  # brti 76925.27
    assert (first.price, first.size, first.trade_id) == (76_925_270_000, 0, "collection_20260202_024420#1")
    cont = next(r for r in rows if r.trade_id == "continuous_20260202_110118#1")
    assert cont.price == 76_450_223_333  # 76450.22333333333 rounded half-even
