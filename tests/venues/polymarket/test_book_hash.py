"""Polymarket's book ``hash`` reproduced on real captures (docs/book_hash.md has the evidence).

Every expected hash below was computed by the venue, except the SDK vector, which is the
py-clob-client test vector for the same function. Inputs the market channel does not send are
stated where they are used: ``min_order_size`` 5 and ``neg_risk`` false (both markets are plain
binary markets), the tick size of the earlier snapshot, and the fill's price as the last trade.
"""

from __future__ import annotations

import json
from pathlib import Path

from clobflow.book.binary import mirror_levels
from clobflow.book.l2 import L2Book
from clobflow.core.events import BookSnapshot, PriceChange, Side
from clobflow.venues.polymarket.book_hash import (
    BookMeta,
    book_hash,
    summary_hash,
    summary_hash_2024,
    verify_snapshot,
)
from clobflow.venues.polymarket.parsing import MarketParser

FIX = Path(__file__).parents[3] / "fixtures" / "polymarket"
BURST = FIX / "ws_market" / "book_then_price_change_burst_2026-09.json"
MIN_ORDER_SIZE = 5_000_000
FILL_TS_MS = 1790658827000  # the burst's one fill: three messages sharing this timestamp


def _wire(levels: list[dict]) -> list[tuple[str, str]]:
    return [(lv["price"], lv["size"]) for lv in levels]


def _wire_hash(b: dict, tick_size: str, last_trade_price: str) -> str:
    return summary_hash(b["market"], b["asset_id"], b["timestamp"], _wire(b["bids"]), _wire(b["asks"]),
                        "5", tick_size, False, last_trade_price)


def test_sdk_test_vector():
    # py-clob-client tests/test_utilities.py::test_generate_orderbook_summary_hash
    h = summary_hash("0xaabbcc", "100", "123456789", [("0.3", "100"), ("0.4", "100")],
                     [("0.6", "100"), ("0.7", "100")], "100", "0.01", False, "0.5")
    assert h == "0458ea5755c9f73d64a14636fa5c36ed460ec394"


def test_real_2026_books_from_wire_strings():
    book = json.loads((FIX / "ws_market" / "book_2026-08.json").read_text())
    assert _wire_hash(book, book["tick_size"], book["last_trade_price"]) == book["hash"]
    burst = json.loads(BURST.read_text())
    first, last = burst[0], burst[-1]
    assert _wire_hash(first, first["tick_size"], first["last_trade_price"]) == first["hash"]
    # the post-trade book sends neither tick_size nor last_trade_price: the earlier snapshot's
    # tick and the fill's price are what the venue hashed
    assert "tick_size" not in last and "last_trade_price" not in last
    assert _wire_hash(last, first["tick_size"], "0.301") == last["hash"]
    assert _wire_hash(last, first["tick_size"], first["last_trade_price"]) != last["hash"]


def test_real_2024_books_use_the_2024_form():
    for path in (FIX / "rest" / "clob_book_2024.json", FIX / "ws_market" / "book_2024-10.json"):
        b = json.loads(path.read_text())
        assert summary_hash_2024(b["market"], b["asset_id"], _wire(b["bids"]), _wire(b["asks"])) == b["hash"]


def _snapshots() -> list[BookSnapshot]:
    evs = MarketParser().parse((FIX / "ws_market" / "book_2026-08.json").read_bytes(), 1)
    evs += MarketParser().parse(BURST.read_bytes(), 1)
    return [e for e in evs if isinstance(e, BookSnapshot)]


def test_verify_parsed_snapshots_in_micro_units():
    """The int path (parser output -> wire strings) gives the venue's hash: the minimal-decimal
    spelling of levels is the venue's, and ``"0.920"`` is among the last-price spellings."""
    s2608, first, last = _snapshots()
    assert verify_snapshot(s2608, MIN_ORDER_SIZE, False) is True
    assert verify_snapshot(first, MIN_ORDER_SIZE, False) is True
    # the post-trade book leaves out tick and last trade: known from before, they verify it
    assert verify_snapshot(last, MIN_ORDER_SIZE, False) is None
    assert verify_snapshot(last, MIN_ORDER_SIZE, False, first.tick_size, 301_000) is True
    # a last trade price one fill out of date fails a correct book: why a mismatch alone must
    # not condemn a book (the venue itself has hashed a later last trade, py-clob-client-v2 #117)
    assert verify_snapshot(last, MIN_ORDER_SIZE, False, first.tick_size, 255_000) is False
    # the market channel never sends these two: without them there is nothing to judge
    assert verify_snapshot(first, None, False) is None
    assert verify_snapshot(first, MIN_ORDER_SIZE, None) is None


def test_every_price_change_hash_of_the_burst_both_tokens():
    """Replay the real burst: each entry's hash is the hash of its token's book after the change
    (after the whole match for the fill's entries), for the token with a snapshot and for its
    complement seeded as the mirror image. 98 of 98 entries."""
    events = MarketParser().parse(BURST.read_bytes(), 1)
    snap = events[0]
    assert isinstance(snap, BookSnapshot)
    a = L2Book(snap.asset_id)
    a.load(snap.bids, snap.asks)
    changes = [(pc.ts_venue_ns // 1_000_000, ch) for pc in events[1:] if isinstance(pc, PriceChange)
               for ch in pc.changes]
    b_id = next(ch.asset_id for _, ch in changes if ch.asset_id != a.asset_id)
    b = L2Book(b_id)
    b.load(*mirror_levels(a))
    books = {a.asset_id: a, b_id: b}

    verified = 0
    for asset_id, book in books.items():
        mine = [(ts, ch) for ts, ch in changes if ch.asset_id == asset_id]
        group = 0
        for k, (ts, ch) in enumerate(mine):
            book.set_level(ch.side, ch.price, ch.size)
            group += 1
            if k + 1 < len(mine) and mine[k + 1][1].hash == ch.hash:
                continue  # the same version continues (one match published as several entries)
            ltp = "0.301" if ts == FILL_TS_MS else "0.255"
            meta = BookMeta(snap.market, MIN_ORDER_SIZE, snap.tick_size, False, ltp)
            h = book_hash(asset_id, ts, book.levels(Side.BUY), book.levels(Side.SELL), meta)
            assert h == ch.hash, (asset_id[:6], k, ts)
            verified += group
            group = 0
    assert verified == len(changes) == 98

