"""Converter for ``data/kalshi-btc15m-tob-brti``: Kalshi KXBTC15M (BTC up in the next 15 minutes)
top-of-book samples, a home-made BRTI proxy, and 142 settlements.

Source (see SOURCE.md there): ``collection_*.jsonl.gz`` (~30 s samples), ``continuous_*.json.gz``
(~60 s samples, ``measurements`` list) and ``settlements.json``.

Output:

- ``orderbook_snapshots``: one ``BookSnapshotRow`` per sample (both files merged in time order,
  collection first on ties), no filter: 1,814 + 477 = 2,291 rows. ``venue="kalshi"``,
  ``market`` = ticker, ``asset_id`` = ``"<ticker>:yes"`` (the YES book).
- ``spot_prices``: one ``SpotPriceRow`` per sample with a BRTI proxy value (2,291).
- ``market_windows``: one ``MarketWindowRow`` per ticker seen in the samples or settlements
  (63 + 142 - 1 overlap = 204), ordered by close time; ``winner`` set for the 142 settled.

Assumptions:

- **YES book.** Kalshi books are bids-only YES/NO ladders (protocol.md §5); the two-sided YES
  book has ``YES ask = 1 - best NO bid``. The samples already hold Kalshi's derived
  ``yes_bid``/``yes_ask`` (REST market fields), i.e. ``yes_ask`` *is* ``1 - best NO bid``, so
  they are used as is: ``yes_bid = 0`` means no YES bid (empty bid side), ``yes_ask >= 1``
  means no NO bid (empty ask side). (The conversion from raw NO bids,
  ``common.yes_book_from_bids``, is exercised by the xvenue Kalshi files, which have them.)
- **Sizes were not recorded**: each level has size ``SIZE_UNKNOWN`` (0) -- "size not recorded",
  never "no liquidity". ``volume`` (cumulative contracts) has no column and is dropped.
- **Times.** Sample times are naive and are UTC (checked: ``close_time`` of the continuous file
  matches the tickers' ET close times read as UTC+5): ``ts_ns`` = sample time, ``ts_venue_ns``
  = 0 (no quote time recorded).
- **Tickers.** ``KXBTC15M-26FEB012200-00`` closes 2026-02-01 22:00 US-Eastern (= 2026-02-02
  03:00 UTC); the window is the 15 minutes before the close. ``event_id`` = the event ticker
  (``KXBTC15M-26FEB012200``), ``slug`` empty (Kalshi has none), ``asset`` ``"btc"``,
  ``tick_size`` 0.01 (1-cent KXBTC15M prices; not recorded), ``question`` empty,
  ``discovered_ns`` = window start (not recorded). ``yes_token``/``no_token`` =
  ``"<ticker>:yes"``/``"<ticker>:no"``; ``winner`` = the one named by ``settlement_result``.
- **BRTI proxy, not BRTI.** The collector's "brti" is its own average of Binance.US, Coinbase
  and Kraken prices, not the CF Benchmarks index, so it is written as
  ``venue="composite"``, ``symbol="BRTI-PROXY"`` (not ``cfbenchmarks``/``BRTI``, which would
  pass it off as the official index). ``price`` = the float rounded half-even to the micro-dollar,
  ``size`` 0, ``ts_venue_ns`` = ``ts_ns`` (computed by the collector at sample time),
  ``trade_id`` = ``"<file stem>#<sample number>"``.
- **Raw frames: none.** The quotes were polled over REST every 30-60 s; Kalshi ``ticker``
  frames made from them would be invented (no seq/sid, no sizes, no change events).
"""

from __future__ import annotations

import gzip
import json
import re
from datetime import datetime
from pathlib import Path

from clobflow.core.numbers import ONE
from clobflow.recorder.converters.common import (
    S,
    SIZE_UNKNOWN,
    SNAPSHOTS,
    SPOT,
    WINDOWS,
    Micros,
    Rows,
    eastern_ns,
    iso_ns,
    kalshi_asset_id,
)
from clobflow.recorder.tables import BookSnapshotRow, MarketWindowRow, SpotPriceRow

NAME = "kalshi-btc15m-tob-brti"
WINDOW_S = 900
TICK = 10_000
SPOT_VENUE = "composite"
SPOT_SYMBOL = "BRTI-PROXY"
_MONTHS = {m: i for i, m in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1)}
_TICKER = re.compile(r"^(?P<series>[A-Z0-9]+)-(?P<yy>\d\d)(?P<mon>[A-Z]{3})(?P<dd>\d\d)"
                     r"(?P<hh>\d\d)(?P<mm>\d\d)-(?P<suffix>\w+)$")


def close_ns(ticker: str) -> int:
    """Close time (epoch ns) of a Kalshi hourly/15-min ticker such as ``KXBTC15M-26FEB012200-00``
    (date and time in US-Eastern).

    Raises:
        ValueError: the ticker does not have the ``SERIES-YYMONDDHHMM-XX`` shape.
    """
    m = _TICKER.match(ticker)
    if m is None or m["mon"] not in _MONTHS:
        raise ValueError(f"not a dated Kalshi ticker: {ticker!r}")
    local = datetime(2000 + int(m["yy"]), _MONTHS[m["mon"]], int(m["dd"]), int(m["hh"]), int(m["mm"]))
    return eastern_ns(local)


def window_row(ticker: str, result: str = "") -> MarketWindowRow:
    """The ``MarketWindowRow`` of a KXBTC15M ticker; ``result`` is ``"yes"``, ``"no"`` or ``""``."""
    end = close_ns(ticker)
    yes, no = kalshi_asset_id(ticker, "yes"), kalshi_asset_id(ticker, "no")
    return MarketWindowRow(
        discovered_ns=end - WINDOW_S * S,
        venue="kalshi",
        event_id=ticker.rsplit("-", 1)[0],
        market=ticker,
        slug="",
        asset="btc",
        yes_token=yes,
        no_token=no,
        window_start_ns=end - WINDOW_S * S,
        window_end_ns=end,
        tick_size=TICK,
        winner=yes if result == "yes" else no if result == "no" else "",
    )


def read_samples(directory: Path) -> list[tuple[int, str, int, dict]]:
    """``(ts_ns, file stem, sample number, sample)`` of both sample files, merged by time
    (stable: collection files first, then continuous files, each in file order).
    Each sample is normalised to ``{"brti": float | None, "kalshi": dict | None}``."""
    out: list[tuple[int, str, int, dict]] = []
    for path in sorted(directory.glob("collection_*.jsonl.gz")):
        stem = path.name.split(".")[0]
        with gzip.open(path, "rt") as f:
            for n, line in enumerate((x for x in f if x.strip()), 1):
                s = json.loads(line)
                out.append((iso_ns(s["t"]), stem, n, {"brti": s.get("brti"), "kalshi": s.get("kalshi")}))
    for path in sorted(directory.glob("continuous_*.json.gz")):
        stem = path.name.split(".")[0]
        with gzip.open(path, "rt") as f:
            doc = json.load(f)
        for n, s in enumerate(doc.get("measurements", []), 1):
            out.append((iso_ns(s["timestamp"]), stem, n,
                        {"brti": s.get("brti_proxy"), "kalshi": s.get("kalshi")}))
    out.sort(key=lambda x: x[0])
    return out


def read_settlements(directory: Path) -> dict[str, str]:
    """``settlements.json`` -> ``{ticker: "yes" | "no"}`` (missing file -> empty)."""
    path = directory / "settlements.json"
    if not path.exists():
        return {}
    with open(path) as f:
        return {s["ticker"]: str(s["settlement_result"]).lower() for s in json.load(f)}


def book_row(ts: int, k: dict, num: Micros) -> BookSnapshotRow:
    """A sample's ``kalshi`` dict as the two-sided YES book (contract in the module doc)."""
    bid, ask = num(k["yes_bid"]), num(k["yes_ask"])
    has_bid, has_ask = bid > 0, 0 < ask < ONE
    return BookSnapshotRow(
        ts_ns=ts, ts_venue_ns=0, venue="kalshi", market=k["ticker"],
        asset_id=kalshi_asset_id(k["ticker"], "yes"),
        bid_prices=[bid] if has_bid else [], bid_sizes=[SIZE_UNKNOWN] if has_bid else [],
        ask_prices=[ask] if has_ask else [], ask_sizes=[SIZE_UNKNOWN] if has_ask else [],
        source="converted",
    )


def iter_rows(directory: Path) -> Rows:
    """Yield ``market_windows``, then ``orderbook_snapshots``, then ``spot_prices``.

    Raises:
        FileNotFoundError: neither sample file nor settlements exist in ``directory``.
        ValueError: a ticker is not a dated Kalshi ticker.
    """
    directory = Path(directory)
    samples = read_samples(directory)
    settled = read_settlements(directory)
    if not samples and not settled:
        raise FileNotFoundError(f"no Kalshi samples or settlements in {directory}")
    tickers = {s["kalshi"]["ticker"] for _, _, _, s in samples if s["kalshi"]} | set(settled)
    for t in sorted(tickers, key=lambda t: (close_ns(t), t)):
        yield WINDOWS, window_row(t, settled.get(t, ""))
    num = Micros()
    for ts, _, _, s in samples:
        if s["kalshi"]:
            yield SNAPSHOTS, book_row(ts, s["kalshi"], num)
    for ts, stem, n, s in samples:
        if s["brti"] is not None:
            yield SPOT, SpotPriceRow(
                ts_ns=ts, ts_venue_ns=ts, venue=SPOT_VENUE, symbol=SPOT_SYMBOL,
                price=num(s["brti"]), size=0, trade_id=f"{stem}#{n}",
            )
