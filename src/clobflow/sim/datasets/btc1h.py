"""Converter for ``data/pm-btc1h-l2-1s``: Polymarket BTC hourly Up/Down, full-depth books, 1 Hz.

Source: ``BTC1h_2026-02-24.jsonl.gz``, one REST ``/book`` snapshot of both tokens per second for
about 8 minutes (see data/pm-btc1h-l2-1s/SOURCE.md). Real token ids and condition ids.

Assumptions (also in data/CONVERSIONS.md):

- **Two markets.** Row 1 belongs to the previous, expiring hourly market (window start
  1771887600, recorded 0.155 s after its end); rows 2-496 to the new one (1771891200). Both are
  kept; the old one gets ``new_market`` + ``book`` frames and nothing else.
- **Ladders.** The file's ``bids``/``asks`` are best first; they are re-ordered to the wire's
  bids-ascending / asks-descending in ``book`` frames. Prices and sizes are JSON floats with at
  most 2-3 decimals and are converted exactly to micro-units.
- **Time.** ``ts_recv_ns = ts_ms * 1e6`` and the wire ``timestamp`` is ``ts_ms`` (the REST
  response carried the venue's own timestamp, which the file did not keep).
- **Frames.** Per market: ``new_market`` then a ``book`` per token at its first row, then one
  ``price_change`` per row that changed anything (every changed level of both tokens).
- **Not known, so not emitted or assumed:** the outcome of either market (no
  ``market_resolved``; the old market's last quotes imply Down, but it is not recorded), the
  Gamma market ids (derived with ``stable_id``), the slugs and questions (built with the live
  hourly pattern ``bitcoin-up-or-down-february-23-7pm-et``, not verified for these markets),
  and the fee schedule (assumed none: ``feesEnabled false``). Tick: 0.01, except 0.001 for a
  market whose recorded prices leave the 0.01 grid (the expiring market quotes 0.001/0.055).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from clobflow.core.markets import BinaryMarket, OutcomeToken
from clobflow.core.numbers import micros_from_number
from clobflow.sim.datasets.base import Dataset
from clobflow.sim.datasets.framing import FrameBuilder
from clobflow.sim.datasets.gamma import stable_id, updown_hourly_slug, updown_question

NAME = "pm-btc1h-l2-1s"
FILE = "BTC1h_2026-02-24.jsonl.gz"
WINDOW_S = 3600
TAGS = ("crypto", "bitcoin", "up-or-down", "1H")
_NS = 1_000_000_000


def _levels(raw: list[dict]) -> dict[int, int]:
    out: dict[int, int] = {}
    for lv in raw:
        size = micros_from_number(lv["s"])
        if size > 0:
            out[micros_from_number(lv["p"])] = size
    return out


def _tick_for(rows: list[dict]) -> int:
    """The coarsest of 0.01 / 0.001 / 0.0001 on whose grid every recorded price lies."""
    prices = {
        micros_from_number(lv["p"])
        for r in rows
        for t in ("yes", "no")
        for key in ("bids", "asks")
        for lv in r[t][key]
    }
    for tick in (10_000, 1_000, 100):
        if all(p % tick == 0 for p in prices):
            return tick
    return 1


def _market(first: dict, tick: int) -> BinaryMarket:
    start_s = int(first["window_start"])
    slug = updown_hourly_slug("Bitcoin", start_s)
    return BinaryMarket(
        condition_id=first["condition_id"],
        slug=slug,
        question=updown_question("Bitcoin", start_s, WINDOW_S),
        yes=OutcomeToken(str(first["yes"]["token_id"]), "Up"),
        no=OutcomeToken(str(first["no"]["token_id"]), "Down"),
        tick_size=tick,
        min_order_size=5_000_000,
        neg_risk=False,
        fee_schedule=None,
        start_ns=start_s * _NS,
        end_ns=(start_s + WINDOW_S) * _NS,
        market_id=stable_id("market|" + slug),
        event_slug=slug,
        tags=TAGS,
    )


def convert(directory: str | Path, *, limit_markets: int | None = None) -> Dataset:
    """Convert the recording in ``directory`` (the ``pm-btc1h-l2-1s`` folder) to a Dataset.

    ``limit_markets`` keeps only the first N markets. Rows with a non-null ``err`` are skipped.

    Raises:
        FileNotFoundError: the JSONL file is missing.
    """
    path = Path(directory) / FILE
    with gzip.open(path, "rt") as f:
        rows = [r for r in (json.loads(line) for line in f if line.strip()) if not r.get("err")]
    by_market: dict[str, list[dict]] = {}
    for r in rows:
        by_market.setdefault(r["condition_id"], []).append(r)
    builder = FrameBuilder()
    markets: list[BinaryMarket] = []
    market_of: dict[str, BinaryMarket] = {}
    for cid, mrows in by_market.items():
        if limit_markets is not None and len(markets) >= limit_markets:
            break
        m = _market(mrows[0], _tick_for(mrows))
        markets.append(m)
        market_of[cid] = m
    started: set[str] = set()
    for r in rows:  # in file (= time) order, so a market roll-over interleaves correctly
        m = market_of.get(r["condition_id"])
        if m is None:
            continue
        ts = int(r["ts_ms"]) * 1_000_000
        if m.condition_id not in started:
            builder.new_market(m, ts)
            started.add(m.condition_id)
        books = {
            m.yes.token_id: (_levels(r["yes"]["bids"]), _levels(r["yes"]["asks"])),
            m.no.token_id: (_levels(r["no"]["bids"]), _levels(r["no"]["asks"])),
        }
        builder.snapshot(m, ts, books)
    return Dataset(
        name=NAME,
        markets=markets,
        frames=builder.frames,
        resolutions={},
        description="Polymarket BTC hourly Up/Down, full-depth books of both tokens at 1 Hz, "
        "2026-02-24 00:00-00:08 UTC (real token and condition ids)",
    )
