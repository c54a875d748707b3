"""Converter for ``data/pm-btc5m-outcomes-chainlink``: Polymarket BTC 5-minute Up/Down market
metadata with outcomes, and the Chainlink BTC/USD feed that settles them.

Source (see SOURCE.md there): ``BTC-5m-markets-<date>.jsonl.gz`` (one Gamma market per line plus
the seller's summary fields) and ``BTCUSD-prices-<date>.csv.gz`` (Chainlink data-stream ticks).
Every date present is converted (the repo bundles both market days and the 2026-06-08 prices).

Output:

- ``market_windows``: one ``MarketWindowRow`` per market line, no filter (292 per day).
- ``spot_prices``: one ``SpotPriceRow(venue="chainlink", symbol="BTCUSD")`` per price line, no
  filter (84,558 for 2026-06-08).

Assumptions:

- **Ids are real**: ``market`` = ``condition_id``, ``yes_token`` = ``token_ids[0]`` (Up),
  ``no_token`` = ``token_ids[1]`` (Down), checked against Gamma's ``outcomes`` order.
  ``event_id`` is empty (the Gamma object carries no event).
- **Winner** = Up token when ``outcome_prices`` is ``["1", "0"]``, Down token when
  ``["0", "1"]``, empty when the market is unresolved or the prices are anything else.
- **Times.** ``window_start_ns``/``window_end_ns`` = ``start_sec``/``end_sec``;
  ``discovered_ns`` = Gamma ``createdAt`` (the market's creation, about a day before its window;
  the collector's own discovery time was not recorded).
- ``tick_size`` = Gamma ``orderPriceMinTickSize`` as fetched **after** resolution: 0.001 for
  markets that ended near 0/1 (the venue narrows the tick there), else 0.01.
- ``question`` = Gamma ``question``. The strike (``strike_value``, priceToBeat x 1e18) has no
  column in ``market_windows`` and is not converted.
- **Prices.** ``price`` = ``full_accuracy_value`` (an integer, value x 1e18) / 1e12, rounded
  half-even to the micro-dollar -- exact integer arithmetic, the float ``value`` column is not
  used. ``size`` = 0 (an oracle price has no size). ``ts_venue_ns`` = ``feed_ts_ms`` (the
  observation time the report is for), ``ts_ns`` = ``recv_ms`` (the collector's receive time);
  ``server_ts_ms`` is not kept. ``trade_id`` = ``"chainlink-<feed_ts_ms>"`` (unique per feed).
- **Raw frames: none.** The market-channel files of these days (book, price_change,
  last_trade_price) were not in the snapshot; lifecycle frames alone would be synthesised from
  Gamma and add nothing over ``market_windows``; the Chainlink ticks were collected by the
  seller, not as venue WebSocket frames.
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

from clobflow.recorder.converters.common import MS, SPOT, WINDOWS, Micros, Rows, iso_ns
from clobflow.recorder.tables import MarketWindowRow, SpotPriceRow

NAME = "pm-btc5m-outcomes-chainlink"
VENUE = "chainlink"
SYMBOL = "BTCUSD"
_E12 = 10**12


def scaled_1e18_to_micros(text: str) -> int:
    """An integer string scaled by 1e18 -> micro-units, rounded half-even (exact integers).

    Raises:
        ValueError: not an integer string.
    """
    q, r = divmod(int(text), _E12)
    if r * 2 > _E12 or (r * 2 == _E12 and q % 2 == 1):
        q += 1
    return q


def window_row(m: dict, num: Micros) -> MarketWindowRow:
    """One market line as a ``MarketWindowRow`` (contract in the module doc).

    Raises:
        ValueError: the Gamma outcomes are not ``["Up", "Down"]`` or the token ids disagree.
    """
    raw = m.get("raw") or {}
    up, down = (str(t) for t in m["token_ids"])
    if raw.get("outcomes") and json.loads(raw["outcomes"]) != ["Up", "Down"]:
        raise ValueError(f"{m['slug']}: outcomes {raw['outcomes']!r}, expected Up/Down")
    if raw.get("clobTokenIds") and json.loads(raw["clobTokenIds"]) != [up, down]:
        raise ValueError(f"{m['slug']}: token_ids disagree with clobTokenIds")
    prices = [str(p) for p in (m.get("outcome_prices") or [])]
    winner = ""
    if m.get("resolved"):
        winner = up if prices == ["1", "0"] else down if prices == ["0", "1"] else ""
    created = raw.get("createdAt")
    start_ns = int(m["start_sec"]) * 1_000_000_000
    return MarketWindowRow(
        discovered_ns=iso_ns(created) if created else start_ns,
        venue="polymarket",
        event_id="",
        market=m["condition_id"],
        slug=m["slug"],
        asset=str(m.get("asset", "")).lower(),
        yes_token=up,
        no_token=down,
        window_start_ns=start_ns,
        window_end_ns=int(m["end_sec"]) * 1_000_000_000,
        tick_size=num(raw["orderPriceMinTickSize"]) if "orderPriceMinTickSize" in raw else 10_000,
        question=raw.get("question", ""),
        winner=winner,
    )


def price_row(r: dict[str, str]) -> SpotPriceRow:
    """One Chainlink CSV row as a ``SpotPriceRow`` (contract in the module doc)."""
    return SpotPriceRow(
        ts_ns=int(r["recv_ms"]) * MS,
        ts_venue_ns=int(r["feed_ts_ms"]) * MS,
        venue=VENUE,
        symbol=SYMBOL,
        price=scaled_1e18_to_micros(r["full_accuracy_value"]),
        size=0,
        trade_id=f"chainlink-{r['feed_ts_ms']}",
    )


def iter_rows(directory: Path) -> Rows:
    """Yield ``market_windows`` (file by file, line order), then ``spot_prices`` (same).

    Raises:
        FileNotFoundError: no ``BTC-5m-markets-*.jsonl.gz`` in ``directory``.
    """
    directory = Path(directory)
    market_files = sorted(directory.glob("BTC-5m-markets-*.jsonl.gz"))
    if not market_files:
        raise FileNotFoundError(f"no BTC-5m-markets-*.jsonl.gz in {directory}")
    num = Micros()
    for path in market_files:
        with gzip.open(path, "rt") as f:
            for line in f:
                if line.strip():
                    yield WINDOWS, window_row(json.loads(line), num)
    for path in sorted(directory.glob("BTCUSD-prices-*.csv.gz")):
        with gzip.open(path, "rt", newline="") as f:
            for r in csv.DictReader(f):
                yield SPOT, price_row(r)
