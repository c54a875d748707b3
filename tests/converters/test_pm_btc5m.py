"""pm-btc5m-outcomes-chainlink: Gamma markets with outcomes -> market_windows (real ids, winners);
Chainlink BTC/USD ticks -> spot_prices from the exact 1e18 integer."""

from __future__ import annotations

import csv
import gzip
import json

from clobflow.recorder.converters.common import iso_ns
from clobflow.recorder.converters.pm_btc5m import scaled_1e18_to_micros

from .conftest import DATA

NAME = "pm-btc5m-outcomes-chainlink"
DIR = DATA / NAME
MS = 1_000_000


def test_counts_match_the_source(converted):
    c = converted(NAME)
    n_markets = sum(1 for p in DIR.glob("BTC-5m-markets-*.jsonl.gz") for _ in gzip.open(p, "rt"))
    n_prices = sum(sum(1 for _ in csv.DictReader(gzip.open(p, "rt"))) for p in DIR.glob("BTCUSD-prices-*.csv.gz"))
    assert (len(c["market_windows"]), len(c["spot_prices"])) == (n_markets, n_prices) == (584, 84_558)


def test_first_market_exact(converted):
    w = converted(NAME)["market_windows"][0]
    assert w.slug == "btc-updown-5m-1780876500" and w.asset == "btc" and w.venue == "polymarket"
    assert w.market == "0x6fa121d31b5ed65b5c34b32ae646e4751b37ffd49c3cbcc379b055e22e27094c"
    assert w.yes_token.startswith("1068532123257392342696") and w.no_token.startswith("3454903843677538776")
    assert w.winner == w.yes_token  # outcome_prices ["1", "0"]: Up won
    assert (w.window_start_ns, w.window_end_ns) == (1_780_876_500 * 10**9, 1_780_876_800 * 10**9)
    assert w.discovered_ns == iso_ns("2026-06-07T00:02:05.044029Z")
    assert w.tick_size == 1_000  # orderPriceMinTickSize 0.001 after resolution
    assert w.question == "Bitcoin Up or Down - June 7, 7:55PM-8:00PM ET"


def test_winners_follow_outcome_prices(converted):
    windows = {w.slug: w for w in converted(NAME)["market_windows"]}
    ups = downs = 0
    for path in sorted(DIR.glob("BTC-5m-markets-*.jsonl.gz")):
        for line in gzip.open(path, "rt"):
            m = json.loads(line)
            w = windows[m["slug"]]
            assert (w.yes_token, w.no_token) == tuple(m["token_ids"])
            if m["outcome_prices"] == ["1", "0"]:
                assert w.winner == w.yes_token
                ups += 1
            else:
                assert m["outcome_prices"] == ["0", "1"] and w.winner == w.no_token
                downs += 1
    assert (ups, downs) == (137 + 140, 155 + 152)


def test_first_price_exact(converted):
    p = converted(NAME)["spot_prices"][0]
    # 1780876800000,63304.20030119507,63304200301195075000000,1780876800939,1780876801156
    assert (p.venue, p.symbol, p.trade_id) == ("chainlink", "BTCUSD", "chainlink-1780876800000")
    assert p.price == 63_304_200_301  # 63304.200301195075 -> 63304.200301
    assert (p.ts_venue_ns, p.ts_ns) == (1_780_876_800_000 * MS, 1_780_876_801_156 * MS)
    assert p.size == 0 and p.buyer_is_maker is None


def test_scaled_1e18_rounds_half_even():
    assert scaled_1e18_to_micros("63304200301195075000000") == 63_304_200_301
    assert scaled_1e18_to_micros("1500000000000") == 2  # 1.5 micro -> 2
    assert scaled_1e18_to_micros("2500000000000") == 2  # 2.5 micro -> 2 (even)
    assert scaled_1e18_to_micros("2500000000001") == 3
    assert scaled_1e18_to_micros("0") == 0
