"""The Polymarket half of ``kalshi-polymarket-xvenue``: NBA 2025-26 MVP outcome tokens recorded
from the market channel (``Polymarket_<Player>_<YES|NO>.csv.gz``), as top-of-book snapshots and
trade prints. The dataset module ``xvenue`` holds the shared contract; this module's rules:

- **Rows.** The recorder wrote one CSV row per ``book`` BBO level (a ``book`` message gave two
  rows: best bid, best ask -- the depth below was not kept), per ``price_change`` entry of this
  token (``size`` = new absolute size, 0 = removed) and per ``last_trade_price``. ``timestamp`` is
  the message's own ms timestamp (``ts_ns`` = ``ts_venue_ns``). ``best_bid``/``best_ask`` are
  the venue's top of book after the message.
- **Snapshots.** Consecutive rows with the same timestamp are one message; after each message
  that carries ``best_bid``/``best_ask`` one ``BookSnapshotRow`` is written with one level per
  side at those prices (empty column = empty side). The level size comes from the levels seen so
  far: a ``price_change`` sets its level, a ``book`` sets its two BBO levels, and a ``book``
  that follows a silence of more than 60 s (``RESUBSCRIBE_GAP_NS``: the recorder ran
  intermittently, so that is a new session's subscription snapshot) first forgets every level.
  Within a session the venue re-sends ``book`` after each trade and streams every level change,
  so earlier levels stay valid. When the best price's size was never seen in the session (a
  deeper level moved up), the size is ``SIZE_UNKNOWN`` (0): 96 of 45,020 snapshots. No other
  filter.
- **Trades.** Each ``last_trade_price`` row -> ``TradeRow`` (``side`` = the venue's taker side,
  ``outcome`` ``Yes``/``No`` of the file, ``trade_id`` = ``"<file stem>#<data row>"``).
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

from clobflow.recorder.converters.common import (
    S,
    SIZE_UNKNOWN,
    SNAPSHOTS,
    TRADES,
    Micros,
    Rows,
    iso_ns,
    pm_condition_id,
)
from clobflow.recorder.tables import BookSnapshotRow, TradeRow

PLAYERS = ("Jokic", "Luka", "Shai")
RESUBSCRIBE_GAP_NS = 60 * S
"""A ``book`` more than this after the file's previous row starts a new recording session."""
TOKENS: dict[tuple[str, str], str] = {
    ("Shai", "YES"): "29048360022556021389805670398008888482908398853670829781367251641936311260707",
    ("Shai", "NO"): "114528627098181527180076013437205839368323282497361602702800503052375432480589",
    ("Jokic", "YES"): "73768610008619570600930429495180540710817177537162503586781057110775077618432",
    ("Jokic", "NO"): "88794755386871079853762415286654635832909423950620116774027006364873482091563",
    ("Luka", "YES"): "89110596788673536475065853727140488937259064164063660201050220270400840228269",
    ("Luka", "NO"): "101506943049053276934626391886226570064171431948041761918666910024462041911155",
}
"""Real Polymarket token ids, from the source repo's ``main.py`` ``ASSET_IDS`` list (Dec 2025
revisions, commented ``# Shai YES`` ...), which the recorder subscribed to."""


def market_slug(player: str) -> str:
    """The SYNTHETIC slug naming a player's market here (the real slug was not recorded)."""
    return f"nba-mvp-2025-26-{player.lower()}"


def market_id(player: str) -> str:
    """The derived condition id ``"0x" + sha256(market_slug(player))`` (not the real one)."""
    return pm_condition_id(market_slug(player))


def _snapshot(ts: int, market: str, token: str, bb: str, ba: str,
              bids: dict[int, int], asks: dict[int, int], num: Micros) -> BookSnapshotRow:
    bp = [num(bb)] if bb else []
    ap = [num(ba)] if ba else []
    return BookSnapshotRow(
        ts_ns=ts, ts_venue_ns=ts, venue="polymarket", market=market, asset_id=token,
        bid_prices=bp, bid_sizes=[bids.get(p) or SIZE_UNKNOWN for p in bp],
        ask_prices=ap, ask_sizes=[asks.get(p) or SIZE_UNKNOWN for p in ap], source="converted",
    )


def file_rows(path: Path, player: str, outcome: str) -> Rows:
    """Snapshots then trades of one ``Polymarket_<player>_<outcome>.csv.gz`` (file order)."""
    token = TOKENS[(player, outcome)]
    market = market_id(player)
    stem = path.name.split(".")[0]
    num = Micros()
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    trades: list[TradeRow] = []
    group_ts: str | None = None  # one message = consecutive rows with one timestamp
    group_ns = 0
    last_bbo: tuple[str, str] | None = None
    book_ts: str | None = None
    last_ts = -RESUBSCRIBE_GAP_NS - 1
    with gzip.open(path, "rt", newline="") as f:
        for n, r in enumerate(csv.DictReader(f), 1):
            event = r["event_type"]
            if event == "last_trade_price":
                ts = iso_ns(r["timestamp"])
                trades.append(TradeRow(
                    ts_ns=ts, ts_venue_ns=ts, venue="polymarket", market=market,
                    asset_id=token, price=num(r["price"]), size=num(r["size"]),
                    side=r["side"].upper(), trade_id=f"{stem}#{n}", source="converted",
                    outcome=outcome.capitalize(),
                ))
                continue
            ts = iso_ns(r["timestamp"])
            if r["timestamp"] != group_ts:
                if last_bbo is not None:
                    yield SNAPSHOTS, _snapshot(group_ns, market, token, *last_bbo, bids, asks, num)
                group_ts, group_ns, last_bbo = r["timestamp"], ts, None
            ladder = bids if r["side"].upper() == "BUY" else asks
            if event == "book":
                if r["timestamp"] != book_ts and ts - last_ts > RESUBSCRIBE_GAP_NS:
                    # a book after a silence is a (re)subscription: it replaces the book
                    bids.clear()
                    asks.clear()
                book_ts = r["timestamp"]
                if r["price"]:
                    ladder[num(r["price"])] = num(r["size"])
            elif event == "price_change" and r["price"]:
                ladder[num(r["price"])] = num(r["size"])
            if r["best_bid"] or r["best_ask"]:
                last_bbo = (r["best_bid"], r["best_ask"])
            last_ts = ts
    if last_bbo is not None:
        yield SNAPSHOTS, _snapshot(group_ns, market, token, *last_bbo, bids, asks, num)
    for t in trades:
        yield TRADES, t


def iter_rows(directory: Path) -> Rows:
    """Every Polymarket file of the dataset, players in ``PLAYERS`` order, YES before NO.

    Raises:
        FileNotFoundError: a player's file is missing.
    """
    for player in PLAYERS:
        for outcome in ("YES", "NO"):
            path = Path(directory) / f"Polymarket_{player}_{outcome}.csv.gz"
            if not path.exists():
                raise FileNotFoundError(path)
            yield from file_rows(path, player, outcome)
