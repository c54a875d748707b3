"""Converter for ``data/pm-btc1h-l2-1s``: Polymarket BTC hourly Up/Down, full-depth L2 books of
both tokens at 1 Hz for 8 minutes (real token and condition ids).

Source (see SOURCE.md there): ``BTC1h_2026-02-24.jsonl.gz``, one REST ``/book`` poll of both
tokens per line.

Output:

- ``orderbook_snapshots``: two ``BookSnapshotRow`` per line without ``err`` (YES token first):
  2 x 496 = 992 rows, ``source="converted"``, full ladders best first, levels of size 0 dropped.
- ``market_windows``: the two markets (the expiring one of line 1 and the new one), built with
  the simulator's rules (``clobflow.sim.datasets.btc1h``: slug, question, tick = the coarsest
  grid holding every recorded price, Gamma event id), so they match the sim's markets;
  ``winner`` empty (not recorded); ``discovered_ns`` = the market's first line.

Assumptions:

- ``ts_ns`` = ``ts_ms * 1e6`` (the collector's clock); ``ts_venue_ns`` = 0 (the REST response's
  own timestamp was not kept). Prices and sizes are JSON floats with 2-3 decimals, converted
  exactly (half-even rounding would only matter past 6 decimals).
- Slugs/questions follow the live hourly pattern (``bitcoin-up-or-down-february-23-7pm-et``),
  not verified for these markets; ``event_id`` = the sim's Gamma event id.
- **Raw frames: yes**, from the simulator (``clobflow.sim.datasets.load_dataset(NAME)``).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from clobflow.recorder.converters.common import MS, SNAPSHOTS, WINDOWS, Micros, Rows, S
from clobflow.recorder.tables import BookSnapshotRow, MarketWindowRow
from clobflow.sim.datasets import btc1h
from clobflow.sim.datasets.gamma import stable_id, updown_hourly_slug, updown_question

NAME = "pm-btc1h-l2-1s"


def _ladder(levels: list[dict], num: Micros) -> tuple[list[int], list[int]]:
    prices: list[int] = []
    sizes: list[int] = []
    for lv in levels:
        size = num(lv["s"])
        if size > 0:
            prices.append(num(lv["p"]))
            sizes.append(size)
    return prices, sizes


def _tick(rows: list[dict], num: Micros) -> int:
    """The coarsest of 0.01 / 0.001 / 0.0001 holding every recorded price (the sim's rule)."""
    prices = {num(lv["p"]) for r in rows for t in ("yes", "no") for k in ("bids", "asks") for lv in r[t][k]}
    return next((t for t in (10_000, 1_000, 100) if all(p % t == 0 for p in prices)), 1)


def window_rows(lines: list[dict], num: Micros) -> list[MarketWindowRow]:
    """One ``MarketWindowRow`` per condition id, in first-seen order; the same slug, question,
    tick and event id as ``clobflow.sim.datasets.btc1h`` gives the market."""
    by_market: dict[str, list[dict]] = {}
    for r in lines:
        by_market.setdefault(r["condition_id"], []).append(r)
    out = []
    for cid, rows in by_market.items():
        first = rows[0]
        start = int(first["window_start"])
        slug = updown_hourly_slug("Bitcoin", start)
        out.append(MarketWindowRow(
            discovered_ns=int(first["ts_ms"]) * MS, venue="polymarket",
            event_id=stable_id("event|" + slug, 6), market=cid, slug=slug, asset="btc",
            yes_token=str(first["yes"]["token_id"]), no_token=str(first["no"]["token_id"]),
            window_start_ns=start * S, window_end_ns=(start + btc1h.WINDOW_S) * S,
            tick_size=_tick(rows, num), question=updown_question("Bitcoin", start, btc1h.WINDOW_S),
        ))
    return out


def iter_rows(directory: Path) -> Rows:
    """Yield ``market_windows`` (first-seen order), then ``orderbook_snapshots`` (file order).

    Raises:
        FileNotFoundError: the JSONL file is missing.
    """
    path = Path(directory) / btc1h.FILE
    with gzip.open(path, "rt") as f:
        lines = [r for r in (json.loads(x) for x in f if x.strip()) if not r.get("err")]
    num = Micros()
    for w in window_rows(lines, num):
        yield WINDOWS, w
    for r in lines:
        ts = int(r["ts_ms"]) * MS
        for side in ("yes", "no"):
            book = r[side]
            bp, bs = _ladder(book["bids"], num)
            ap, as_ = _ladder(book["asks"], num)
            yield SNAPSHOTS, BookSnapshotRow(
                ts_ns=ts, ts_venue_ns=0, venue="polymarket", market=r["condition_id"],
                asset_id=str(book["token_id"]), bid_prices=bp, bid_sizes=bs, ask_prices=ap,
                ask_sizes=as_, source="converted",
            )
