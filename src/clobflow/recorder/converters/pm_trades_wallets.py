"""Converter for ``data/pm-crypto15m-trades-wallets``: Polymarket BTC/ETH/SOL 15-minute Up/Down
trades with wallet addresses, and the 22 windows with their outcomes.

Source (see SOURCE.md there): ``polymarket_trades_*.csv.gz`` (Data API ``/trades?market=``
history, one row per trade) and ``market_windows_*.csv`` (one row per window, Gamma outcome).
``summary_*.json`` is not read (nothing in it is a row).

Output:

- ``trades``: one ``TradeRow`` per CSV row, no filter (10,738 rows).
- ``market_windows``: one ``MarketWindowRow`` per window row (22), ``winner`` set.

Assumptions:

- **Times.** ``timestamp`` is the Data API trade time in unix seconds: ``ts_ns`` =
  ``ts_venue_ns`` = that second (no receive time exists). Windows: ``window_start_ns`` /
  ``window_end_ns`` from the CSV; ``discovered_ns`` = window start (no discovery time recorded).
- **Ids.** ``market`` = the real condition id. The source has **no token ids**, so
  ``asset_id`` / ``yes_token`` / ``no_token`` are derived from the window's slug exactly as the
  simulator derives them (``int(sha256("clobflow-sim|<slug>|<outcome>"), 16) % 10**77``;
  ``Up`` = YES) -- they are NOT the real token ids. The slug is the windows CSV's ``slug`` for
  that condition id, else ``<symbol lower>-updown-15m-<window_start>`` (the same pattern).
- **Side.** ``side`` is the Data API's side for ``trader_wallet`` (the taker: the Data API
  returns taker trades by default), kept as ``BUY``/``SELL``. ``outcome`` is ``Up``/``Down``.
- **Numbers.** ``size`` has at most 6 decimals and converts exactly. ``price`` is exact for
  2-3 decimal prices, but 2,843 rows carry a size-weighted average over several maker fills
  (e.g. ``0.9880507481997962``); those are rounded half-even to the micro-unit, so
  ``price * size`` can differ from ``usd_value`` by rounding. ``usd_value`` and
  ``trader_name`` (pseudonym) are not columns of ``trades`` and are dropped.
- **Trade ids.** ``trade_id`` = ``tx_hash`` (unique in this file); a repeated hash would get
  ``"<tx_hash>#<k>"`` (k = 1, 2, ... in file order) so ids stay unique.
- **Truncation (source).** The Data API returned only the most recent 500 trades per window
  (19 of 22 windows have exactly 500), so per-wallet volumes are not window totals.
- **Windows.** ``winner`` = YES token when ``outcome`` is ``UP``, NO token when ``DOWN``.
  ``tick_size`` = 0.01 (not recorded; the standard tick of these markets in January 2026).
  ``question`` is built with the live pattern (``"Bitcoin Up or Down - January 3, ..."``),
  not recorded. ``event_id`` is empty (not recorded).
- **Raw frames: none.** The source is REST trade history, not a stream: ``last_trade_price``
  frames built from it would drop the wallet and tx hash (the point of the dataset) and need
  invented token ids and fee rates.
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

from clobflow.recorder.converters.common import (
    S,
    TRADES,
    WINDOWS,
    Micros,
    Rows,
    pm_token_id,
)
from clobflow.recorder.tables import MarketWindowRow, TradeRow
from clobflow.sim.datasets.gamma import updown_question

NAME = "pm-crypto15m-trades-wallets"
WINDOW_S = 900
TICK = 10_000
ASSET_NAMES = {"btc": "Bitcoin", "eth": "Ethereum", "sol": "Solana", "xrp": "XRP"}


def _one(directory: Path, pattern: str) -> list[Path]:
    paths = sorted(directory.glob(pattern))
    if not paths:
        raise FileNotFoundError(f"no {pattern} in {directory}")
    return paths


def read_windows(directory: Path) -> list[dict[str, str]]:
    """All rows of every ``market_windows_*.csv``, in file order."""
    rows: list[dict[str, str]] = []
    for path in _one(directory, "market_windows_*.csv"):
        with open(path, newline="") as f:
            rows.extend(csv.DictReader(f))
    return rows


def outcome_label(text: str) -> str:
    """``"Up"``/``"Down"`` (any case) -> the sim's outcome label. Raises ``ValueError``."""
    label = text.strip().capitalize()
    if label not in ("Up", "Down"):
        raise ValueError(f"unknown outcome {text!r}")
    return label


def window_row(w: dict[str, str]) -> MarketWindowRow:
    """One ``market_windows`` CSV row as a ``MarketWindowRow`` (contract in the module doc).

    Raises:
        ValueError: ``outcome`` is neither ``UP``, ``DOWN`` nor empty.
    """
    start, end = int(w["window_start"]), int(w["window_end"])
    asset = w["symbol"].strip().lower()
    slug = w["slug"].strip() or f"{asset}-updown-15m-{start}"
    yes, no = pm_token_id(slug, "Up"), pm_token_id(slug, "Down")
    outcome = w["outcome"].strip().upper()
    if outcome not in ("UP", "DOWN", ""):
        raise ValueError(f"unknown outcome {w['outcome']!r} for {slug}")
    winner = yes if outcome == "UP" else no if outcome == "DOWN" else ""
    return MarketWindowRow(
        discovered_ns=start * S,
        venue="polymarket",
        event_id="",
        market=w["condition_id"],
        slug=slug,
        asset=asset,
        yes_token=yes,
        no_token=no,
        window_start_ns=start * S,
        window_end_ns=end * S,
        tick_size=TICK,
        question=updown_question(ASSET_NAMES.get(asset, asset.upper()), start, end - start),
        winner=winner,
    )


def iter_rows(directory: Path) -> Rows:
    """Yield ``market_windows`` rows (file order), then ``trades`` rows (file order).

    Raises:
        FileNotFoundError: the windows or trades file is missing.
    """
    directory = Path(directory)
    windows = [window_row(w) for w in read_windows(directory)]
    slug_of = {w.market: w.slug for w in windows}
    for w in windows:
        yield WINDOWS, w
    num = Micros()
    seen: dict[str, int] = {}
    for path in _one(directory, "polymarket_trades_*.csv.gz"):
        with gzip.open(path, "rt", newline="") as f:
            for r in csv.DictReader(f):
                cid = r["condition_id"]
                slug = slug_of.get(cid) or (
                    f"{r['symbol'].strip().lower()}-updown-15m-{int(r['window_start'])}"
                )
                tx = r["tx_hash"]
                k = seen.get(tx, 0)
                seen[tx] = k + 1
                ts = int(r["timestamp"]) * S
                yield TRADES, TradeRow(
                    ts_ns=ts,
                    ts_venue_ns=ts,
                    venue="polymarket",
                    market=cid,
                    asset_id=pm_token_id(slug, outcome_label(r["outcome"])),
                    price=num(r["price"]),
                    size=num(r["size"]),
                    side=r["side"].upper(),
                    trade_id=tx if k == 0 else f"{tx}#{k}",
                    source="converted",
                    wallet=r["trader_wallet"],
                    outcome=outcome_label(r["outcome"]),
                    tx_hash=tx,
                )
