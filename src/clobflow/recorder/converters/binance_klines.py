"""Converter for ``data/binance-btc-1s-klines-15m-windows``: Binance BTCUSDT 1-second klines around
20 Polymarket BTC 15-minute windows.

Source (see SOURCE.md there): ``btc_binance_1s.csv.gz``, one kline per row
(``slug, timestamp, open, high, low, close, volume, quote_volume``), from Binance
``/api/v3/klines?interval=1s``.

Output: ``spot_prices``, one ``SpotPriceRow(venue="binance", symbol="BTCUSDT")`` per kline, no
filter (20,000 rows).

**These are klines, not trades.** A row stands for one second of trading:

- ``price`` = the kline's ``close`` (the last trade price in that second);
- ``size`` = ``volume`` (BTC traded in that second; 0 for the 1,226 seconds without a trade,
  whose OHLC just repeat the previous close -- kept so the series has one price per second);
- ``ts_venue_ns`` = ``ts_ns`` = the kline's **close time**, ``open + 999 ms`` (Binance's
  ``closeTime``). Stamping the close price at the open time would let a backtest see a price up
  to 1 s before it existed. No receive time exists, so ``ts_ns`` is the same.
- ``trade_id`` = ``"kline-<open time, unix seconds>"``; ``buyer_is_maker`` = ``None``.
- ``open``/``high``/``low``/``quote_volume`` and the window ``slug`` have no column and are dropped.
- Numbers are exact (volumes like ``9e-05`` are read as decimals, not floats).
- **Raw frames: none.** Klines come from REST; the recorder's Binance input is the ``@trade``
  stream (protocol.md §6), and a kline cannot be split back into trades.
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

from clobflow.recorder.converters.common import MS, S, SPOT, Micros, Rows
from clobflow.recorder.tables import SpotPriceRow

NAME = "binance-btc-1s-klines-15m-windows"
FILE = "btc_binance_1s.csv.gz"
VENUE = "binance"
SYMBOL = "BTCUSDT"
CLOSE_OFFSET_NS = 999 * MS
"""A 1 s kline closes 999 ms after it opens (Binance ``closeTime`` = open + 999 ms)."""


def iter_rows(directory: Path) -> Rows:
    """Yield ``spot_prices`` rows in file order.

    Raises:
        FileNotFoundError: the CSV is missing.
    """
    num = Micros()
    with gzip.open(Path(directory) / FILE, "rt", newline="") as f:
        for r in csv.DictReader(f):
            open_s = int(r["timestamp"])
            ts = open_s * S + CLOSE_OFFSET_NS
            yield SPOT, SpotPriceRow(
                ts_ns=ts,
                ts_venue_ns=ts,
                venue=VENUE,
                symbol=SYMBOL,
                price=num(r["close"]),
                size=num(r["volume"]),
                trade_id=f"kline-{open_s}",
            )
