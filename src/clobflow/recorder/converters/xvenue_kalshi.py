"""The Kalshi half of ``kalshi-polymarket-xvenue``: NBA 2025-26 MVP markets recorded from the
``orderbook_delta`` channel by three successive recorder versions, and the Super Bowl LX 1 Hz BBO.
The dataset module ``xvenue`` holds the shared contract; this module's rules:

**Tickers** (real; the source repo's ``MARKET_TICKER`` list): Jokic ``KXNBAMVP-26-NJOK``,
Luka ``KXNBAMVP-26-LDON``, Shai ``KXNBAMVP-26-SGIL``; Super Bowl ``KXSB-26-NE``/``KXSB-26-SEA``.
Books are YES books: ``asset_id`` = ``"<ticker>:yes"``; sizes are contracts (x 1e6).

**Timestamps.** ISO ``Z`` rows -> ``ts_ns`` (the recorder's clock, µs; ``ts_venue_ns`` 0).
Epoch-second rows (the 26 ``last_trade_price`` rows: Kalshi's trade ``ts``) -> ``ts_ns`` =
``ts_venue_ns``. Empty timestamps (the ``book`` rows, written when a snapshot arrived) take the
timestamp of the next row of the same file that has one (the snapshot's first delta).

**Three recorder versions** (found by comparing with the Polymarket quotes of the same days):

- *v0* -- ``Kalshi_Luka_YES.csv.gz`` / ``Kalshi_Luka_NO.csv.gz`` (2025-12-08): two bids-only
  ladders, YES bids and NO bids, as signed deltas, with no usable snapshot except one ``book``
  row per file (YES best bid 0.16 x 2117, NO best bid 0.80 x 1513). The YES book is built with
  ``common.yes_book_from_bids``: **YES ask = 1 - best NO bid** (0.20 x 1513). A snapshot is
  written at each non-empty ``book`` row once both files have had one (1 snapshot); deltas
  alone cannot give a top of book without a ladder, so no other rows are written. Empty
  ``book`` rows (``,book,,BUY,,,``) carry nothing and are skipped.
- *v1* -- combined files before ``V2_FROM`` (2025-12-13 18:00 UTC): ``SELL`` rows hold the raw
  NO-bid price (e.g. ``book,0.7200,SELL`` while Polymarket showed YES 0.22/0.26) and the
  ``best_ask`` column is not a usable YES ask (it jumps to 0.99 in mid-session). Only the
  ``book`` pairs are trusted: YES bid = the BUY row, **YES ask = 1 - the SELL row's NO bid**
  (``yes_book_from_bids``). One snapshot per ``book`` message; v1 ``price_change`` rows give none.
- *v2* -- combined files from ``V2_FROM``: ``SELL`` prices are already ``1 - NO bid`` (float
  artefacts such as ``0.09999999999999998``, rounded half-even to the micro-unit) and
  ``best_bid``/``best_ask`` are the recorder's YES top of book. One snapshot per message
  (consecutive rows with one timestamp) that carries them. Level sizes are tracked: a ``book``
  message clears and sets its BBO levels (levels better than its best were empty), a
  ``price_change`` adds its signed delta to a level whose size is known; a best price whose size
  is unknown (a deeper level that moved up) gets ``SIZE_UNKNOWN`` (0). A crossed result
  (bid >= ask) is dropped.

**Counts.** Snapshots: Jokic 3,837 (2 v1 + 3,835 v2), Luka 663 (10 v1 + 660 v2 - 7 crossed)
+ 1 v0, Shai 608 (2 v1 + 606 v2); 583 of the v2 snapshots have a ``SIZE_UNKNOWN`` level.
Trades: 14 / 2 / 10. Super Bowl: 25,284 snapshots.

**Trades.** ``last_trade_price`` rows -> ``TradeRow`` in YES terms: ``BUY`` = taker bought YES at
``price``; ``SELL`` = taker bought NO at ``price``, i.e. sold YES at ``1 - price``.

**Super Bowl** (``kalshi_KXSB-26_superbowl_bbo_1s_20260208.csv.gz``): one ``BookSnapshotRow`` per
row, no filter. Times are naive US-Eastern (EST, UTC-5). ``best_ask`` is already the YES ask (the
recorder converts NO bids); an empty price = empty side. ``bid_levels``/``ask_levels``/``spread``
have no column and are dropped.
"""

from __future__ import annotations

import csv
import gzip
from datetime import datetime
from pathlib import Path

from clobflow.core.numbers import ONE
from clobflow.recorder.converters.common import (
    S,
    SIZE_UNKNOWN,
    SNAPSHOTS,
    TRADES,
    Micros,
    Rows,
    eastern_ns,
    iso_ns,
    kalshi_asset_id,
    yes_book_from_bids,
)
from clobflow.recorder.tables import BookSnapshotRow, TradeRow

TICKERS = {"Jokic": "KXNBAMVP-26-NJOK", "Luka": "KXNBAMVP-26-LDON", "Shai": "KXNBAMVP-26-SGIL"}
V2_FROM = iso_ns("2025-12-13T18:00:00Z")
"""The recorder switched from v1 to v2 between sessions: last v1 row 17:28, first v2 row 19:06."""
SUPERBOWL_FILE = "kalshi_KXSB-26_superbowl_bbo_1s_20260208.csv.gz"


def read_rows(path: Path) -> list[tuple[int, bool, int, dict[str, str]]]:
    """``(ts_ns, venue_time, data row number, row)`` of one NBA file in file order, timestamps
    normalised (module doc); an empty stamp with no stamped row after it takes the previous
    row's time (0 for a file without any stamp)."""
    with gzip.open(path, "rt", newline="") as f:
        rows = list(csv.DictReader(f))
    out: list[tuple[int, bool, int, dict[str, str]]] = []
    for n, r in enumerate(rows, 1):
        t = r["timestamp"].strip()
        if t.isdigit():
            out.append((int(t) * S, True, n, r))
        else:
            out.append((iso_ns(t) if t else -1, False, n, r))
    nxt = -1
    for k in range(len(out) - 1, -1, -1):  # backwards: an empty stamp takes the next stamp
        ts, vt, n, r = out[k]
        if ts < 0:
            out[k] = (nxt, vt, n, r)
        else:
            nxt = ts
    prev = 0
    for k, (ts, vt, n, r) in enumerate(out):  # trailing empty stamps take the previous one
        if ts < 0:
            out[k] = (prev, vt, n, r)
        prev = out[k][0]
    return out


def _book(ts: int, ticker: str, bp: list[int], bs: list[int], ap: list[int], as_: list[int]
          ) -> BookSnapshotRow:
    return BookSnapshotRow(
        ts_ns=ts, ts_venue_ns=0, venue="kalshi", market=ticker,
        asset_id=kalshi_asset_id(ticker, "yes"), bid_prices=bp, bid_sizes=bs,
        ask_prices=ap, ask_sizes=as_, source="converted",
    )


def _trade(ts: int, venue_time: bool, ticker: str, stem: str, n: int, r: dict, num: Micros
           ) -> TradeRow:
    p = num(r["price"])
    sell = r["side"].upper() == "SELL"
    return TradeRow(
        ts_ns=ts, ts_venue_ns=ts if venue_time else 0, venue="kalshi", market=ticker,
        asset_id=kalshi_asset_id(ticker, "yes"), price=ONE - p if sell else p,
        size=num(r["size"]), side="SELL" if sell else "BUY", trade_id=f"{stem}#{n}",
        source="converted", outcome="yes",
    )


def combined_rows(path: Path, ticker: str) -> Rows:
    """Snapshots then trades of one combined v1/v2 file (module doc)."""
    stem = path.name.split(".")[0]
    num = Micros()
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}  # YES asks
    trades: list[TradeRow] = []
    book_ts = -1
    # After a book message, bid levels above its best bid (ask levels below its best ask) were
    # empty, so a delta there starts from 0. None = no book seen yet (nothing known).
    bid_floor: int | None = None
    ask_ceil: int | None = None
    group_ts = -1  # one message = consecutive rows with one timestamp
    group_bbo: dict[str, str] | None = None  # its last row with best_bid/best_ask
    group_book: dict[str, tuple[int, int]] = {}  # its book rows: side -> (price, size)

    def flush() -> BookSnapshotRow | None:
        if group_ts < 0:
            return None
        if group_ts < V2_FROM:  # v1: only book messages are trusted
            return _v1_snapshot(group_ts, ticker, group_book) if group_book else None
        if group_bbo is None:
            return None
        bp = [num(group_bbo["best_bid"])] if group_bbo["best_bid"] else []
        ap = [num(group_bbo["best_ask"])] if group_bbo["best_ask"] else []
        if bp and ap and bp[0] >= ap[0]:
            return None
        return _book(group_ts, ticker, bp, [bids.get(p) or SIZE_UNKNOWN for p in bp],
                     ap, [asks.get(p) or SIZE_UNKNOWN for p in ap])

    for ts, venue_time, n, r in read_rows(path):
        event = r["event_type"]
        if event == "last_trade_price":
            trades.append(_trade(ts, venue_time, ticker, stem, n, r, num))
            continue
        if ts != group_ts:
            if (row := flush()) is not None:
                yield SNAPSHOTS, row
            group_ts, group_bbo, group_book = ts, None, {}
        v2 = ts >= V2_FROM
        side = r["side"].upper()
        if event == "book":
            if ts != book_ts:  # a new snapshot replaces the book
                bids.clear()
                asks.clear()
                book_ts, bid_floor, ask_ceil = ts, -1, ONE + 1  # empty until its rows say
            p = num(r["price"]) if r["price"] else 0
            if 0 < p < ONE:  # v2 sometimes wrote a SELL level at "0" (1 - a 1.00 NO bid)
                s = num(r["size"])
                if side == "BUY":
                    bids[p] = s
                    bid_floor = p
                else:
                    ask = p if v2 else ONE - p
                    asks[ask] = s
                    ask_ceil = ask
                group_book[side] = (p, s)
        elif event == "price_change" and r["price"]:
            p = num(r["price"])
            ladder = bids if side == "BUY" else asks
            if side != "BUY" and not v2:
                p = ONE - p
            old = ladder.get(p)
            if old is None and (
                (side == "BUY" and bid_floor is not None and p > bid_floor)
                or (side != "BUY" and ask_ceil is not None and p < ask_ceil)
            ):
                old = 0  # better than the last book's best: that level was empty
            if old is not None:
                new = old + num(r["size"])
                if new >= 0:
                    ladder[p] = new
                else:  # inconsistent with what we saw: size unknown from here
                    ladder.pop(p, None)
        if r["best_bid"] or r["best_ask"]:
            group_bbo = r
    if (row := flush()) is not None:
        yield SNAPSHOTS, row
    for t in trades:
        yield TRADES, t


def _v1_snapshot(ts: int, ticker: str, pair: dict[str, tuple[int, int]]) -> BookSnapshotRow:
    """A v1 ``book`` message: BUY = YES best bid, SELL = NO best bid (raw)."""
    yes = [pair["BUY"]] if "BUY" in pair else []
    no = [pair["SELL"]] if "SELL" in pair else []
    return _book(ts, ticker, *yes_book_from_bids(yes, no))


def v0_rows(directory: Path) -> Rows:
    """The one-sided v0 files of Luka, merged (module doc): snapshots at ``book`` rows."""
    ticker = TICKERS["Luka"]
    num = Micros()
    merged = []
    for which in ("YES", "NO"):
        path = directory / f"Kalshi_Luka_{which}.csv.gz"
        merged += [(ts, which, n, r) for ts, _, n, r in read_rows(path)]
    merged.sort(key=lambda x: x[0])  # stable: YES rows first on equal times
    top: dict[str, tuple[int, int]] = {}
    for ts, which, _, r in merged:
        if r["event_type"] == "book" and r["price"]:
            top[which] = (num(r["price"]), num(r["size"]))
            if len(top) == 2:
                yield SNAPSHOTS, _book(ts, ticker, *yes_book_from_bids([top["YES"]], [top["NO"]]))
        elif r["event_type"] == "price_change" and which in top and r["price"]:
            p, s = top[which]
            if num(r["price"]) == p:
                top[which] = (p, max(s + num(r["size"]), 0))


def superbowl_rows(path: Path) -> Rows:
    """One YES-book snapshot per Super Bowl row (module doc)."""
    num = Micros()
    with gzip.open(path, "rt", newline="") as f:
        for r in csv.DictReader(f):
            ts = eastern_ns(datetime.fromisoformat(r["timestamp"]))
            bid = r["best_bid_price"] and r["best_bid_size"]
            ask = r["best_ask_price"] and r["best_ask_size"]
            yield SNAPSHOTS, _book(
                ts, r["ticker"],
                [num(r["best_bid_price"])] if bid else [], [num(r["best_bid_size"])] if bid else [],
                [num(r["best_ask_price"])] if ask else [], [num(r["best_ask_size"])] if ask else [],
            )


def iter_rows(directory: Path) -> Rows:
    """Combined NBA files (Jokic, Luka, Shai), then the v0 Luka files, then the Super Bowl.

    Raises:
        FileNotFoundError: a file is missing.
    """
    directory = Path(directory)
    for player, ticker in TICKERS.items():
        yield from combined_rows(directory / f"Kalshi_{player}.csv.gz", ticker)
    yield from v0_rows(directory)
    yield from superbowl_rows(directory / SUPERBOWL_FILE)
