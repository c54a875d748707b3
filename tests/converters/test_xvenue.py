"""kalshi-polymarket-xvenue: Polymarket token files and the Super Bowl BBO -> top-of-book
snapshots per venue, last trades -> trades; ids as documented."""

from __future__ import annotations

import csv
import gzip
from collections import Counter

from clobflow.recorder.converters import xvenue_kalshi as xk
from clobflow.recorder.converters import xvenue_polymarket as xp
from clobflow.recorder.converters.common import iso_ns, pm_condition_id

from .conftest import DATA

NAME = "kalshi-polymarket-xvenue"
DIR = DATA / NAME


def test_per_venue_counts(converted):
    c = converted(NAME)
    snaps = Counter(r.venue for r in c["orderbook_snapshots"])
    assert snaps == {"polymarket": 45_020, "kalshi": 30_393}
    n_trades = 0
    for path in DIR.glob("*_*.csv.gz"):
        with gzip.open(path, "rt") as f:
            n_trades += sum(1 for r in csv.DictReader(f) if r.get("event_type") == "last_trade_price")
    assert len(c["trades"]) == n_trades == 260
    with gzip.open(DIR / xk.SUPERBOWL_FILE, "rt") as f:
        n_sb = sum(1 for _ in csv.DictReader(f))
    assert sum(1 for r in c["orderbook_snapshots"] if r.market.startswith("KXSB-26-")) == n_sb == 25_284
    nba = [r for r in c["orderbook_snapshots"] if r.market.startswith("KXNBAMVP-26-")]
    assert len(nba) == 3_837 + 663 + 1 + 608
    assert sum(1 for r in nba if 0 in r.bid_sizes + r.ask_sizes) == 583  # v2 sizes never seen


def test_polymarket_ids_and_first_snapshot(converted):
    rows = [r for r in converted(NAME)["orderbook_snapshots"] if r.venue == "polymarket"]
    assert {r.asset_id for r in rows} == set(xp.TOKENS.values())
    assert {r.market for r in rows} == {pm_condition_id(f"nba-mvp-2025-26-{p.lower()}") for p in xp.PLAYERS}
    first = rows[0]  # Polymarket_Jokic_YES: book 0.31 BUY 226.23 / 0.34 SELL 55.59
    assert first.asset_id == xp.TOKENS[("Jokic", "YES")]
    assert first.ts_ns == first.ts_venue_ns == iso_ns("2025-12-08T03:13:33.255000+00:00")
    assert (first.bid_prices, first.bid_sizes, first.ask_prices, first.ask_sizes) == (
        [310_000], [226_230_000], [340_000], [55_590_000])
    assert sum(1 for r in rows if 0 in r.bid_sizes + r.ask_sizes) == 96  # size never seen


def test_polymarket_sizes_follow_price_changes():
    rows = [r for t, r in xp.file_rows(DIR / "Polymarket_Jokic_YES.csv.gz", "Jokic", "YES") if t == "orderbook_snapshots"]
    # 03:28:23.648: price_change 0.34 SELL 32.06 then a book at 0.31 x 226.23 / 0.34 x 32.06
    r = next(x for x in rows if x.ts_ns == iso_ns("2025-12-08T03:28:23.648000+00:00"))
    assert (r.ask_prices, r.ask_sizes) == ([340_000], [32_060_000])


def test_polymarket_trades(converted):
    trades = [t for t in converted(NAME)["trades"] if t.venue == "polymarket"]
    t = trades[0]  # Polymarket_Jokic_YES 2025-12-08T03:28:23.678000+00:00,last_trade_price,0.34,BUY,23.52941
    assert (t.price, t.size, t.side, t.outcome) == (340_000, 23_529_410, "BUY", "Yes")
    assert t.asset_id == xp.TOKENS[("Jokic", "YES")] and t.trade_id == "Polymarket_Jokic_YES#12"
    assert Counter(t.asset_id for t in trades)[xp.TOKENS[("Shai", "NO")]] == 201


def test_superbowl_times_are_eastern_and_books_exact(converted):
    rows = [r for r in converted(NAME)["orderbook_snapshots"] if r.market.startswith("KXSB-26-")]
    first = rows[0]  # 2026-02-08T19:12:49.402671 (EST),KXSB-26-NE,0.35,4394.0,0.38,271702.0
    assert first.ts_ns == iso_ns("2026-02-09T00:12:49.402671Z")
    assert (first.asset_id, first.bid_prices, first.bid_sizes, first.ask_prices, first.ask_sizes) == (
        "KXSB-26-NE:yes", [350_000], [4_394_000_000], [380_000], [271_702_000_000])
    assert rows[-1].bid_prices == rows[-1].ask_prices == []  # the book emptied after the game
    assert sum(1 for r in rows if not r.bid_prices) == 4_959
