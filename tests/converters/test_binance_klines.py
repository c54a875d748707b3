"""binance-btc-1s-klines-15m-windows: 1 s klines -> spot_prices (close at the kline's close time)."""

from __future__ import annotations

import csv
import gzip

from .conftest import DATA

NAME = "binance-btc-1s-klines-15m-windows"


def test_klines_become_one_price_per_second(converted):
    rows = converted(NAME)["spot_prices"]
    with gzip.open(DATA / NAME / "btc_binance_1s.csv.gz", "rt") as f:
        src = list(csv.DictReader(f))
    assert len(rows) == len(src) == 20_000
    first = rows[0]  # btc-updown-15m-1767640500,1767640500,94325.98,94325.98,94325.97,94325.97,0.06621,...
    assert (first.venue, first.symbol, first.trade_id) == ("binance", "BTCUSDT", "kline-1767640500")
    assert first.price == 94_325_970_000 and first.size == 66_210
    assert first.ts_ns == first.ts_venue_ns == 1_767_640_500 * 10**9 + 999_000_000
    assert first.buyer_is_maker is None
    tiny = next(r for s, r in zip(src, rows, strict=True) if s["volume"] == "9e-05")
    assert tiny.size == 90  # exponent notation read exactly
    assert sum(1 for r in rows if r.size == 0) == 1_226  # seconds without a trade are kept
    assert [r.ts_ns for r in rows] == sorted(r.ts_ns for r in rows)
