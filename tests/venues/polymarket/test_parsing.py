"""Parser tests on every real market-channel capture, with expected outputs kept as files.

Regenerate the golden files after an intended change with ``CLOBFLOW_REGEN_GOLDEN=1``, and read
the diff before committing it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import msgspec
import pytest

from clobflow.core.events import (
    BestBidAsk,
    BookSnapshot,
    MarketResolved,
    NewMarket,
    PriceChange,
    Side,
    TickSizeChange,
    Trade,
)
from clobflow.venues.polymarket.parsing import MarketParser, RejectReason, epoch_to_ns

HERE = Path(__file__).parent
FIX = HERE.parents[2] / "fixtures" / "polymarket" / "ws_market"
GOLDEN = HERE / "golden"
CAPTURES = sorted(FIX.glob("*.json"))
TS = 1_700_000_000_123_456_789


def _golden_encode(events: list) -> bytes:
    return msgspec.json.format(msgspec.json.encode(events), indent=1) + b"\n"


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_capture_matches_golden(path: Path):
    parser = MarketParser()
    events = parser.parse(path.read_bytes(), TS)
    assert sum(parser.rejects.values()) == 0, parser.last_reject
    assert events, "every capture yields at least one event"
    got = _golden_encode(events)
    golden = GOLDEN / (path.stem + ".expected.json")
    if os.environ.get("CLOBFLOW_REGEN_GOLDEN"):
        golden.write_bytes(got)
    assert golden.exists(), f"missing golden file {golden.name}; run with CLOBFLOW_REGEN_GOLDEN=1"
    assert got == golden.read_bytes()


def test_golden_files_have_no_orphans():
    names = {p.stem for p in CAPTURES}
    for g in GOLDEN.glob("*.expected.json"):
        assert g.name.removesuffix(".expected.json") in names


def test_str_and_bytes_frames_parse_alike():
    raw = (FIX / "book_2026-08.json").read_text()
    a = MarketParser().parse(raw, TS)
    b = MarketParser().parse(raw.encode(), TS)
    assert a == b


def test_book_best_levels_are_the_last_wire_elements():
    raw = json.loads((FIX / "book_2026-08.json").read_text())
    (ev,) = MarketParser().parse(json.dumps(raw), TS)
    assert isinstance(ev, BookSnapshot)
    assert ev.bids[0][0] == int(round(float(raw["bids"][-1]["price"]) * 1e6))
    assert ev.asks[0][0] == int(round(float(raw["asks"][-1]["price"]) * 1e6))
    assert ev.bids[0][0] == 70_000 and ev.asks[0][0] == 80_000  # 0.07 / 0.08, not 0.01 / 0.99
    assert ev.tick_size == 10_000 and ev.last_trade_price == 920_000
    assert ev.ts_venue_ns == 1786604072222 * 1_000_000 and ev.ts_recv_ns == TS
    assert [p for p, _ in ev.bids] == sorted((p for p, _ in ev.bids), reverse=True)
    assert [p for p, _ in ev.asks] == sorted(p for p, _ in ev.asks)


def test_batched_price_change_routes_each_entry_by_its_own_asset():
    events = MarketParser().parse((FIX / "book_then_price_change_burst_2026-09.json").read_bytes(), TS)
    pc = events[1]
    assert isinstance(pc, PriceChange)
    a, b = pc.changes
    assert a.asset_id != b.asset_id
    assert (a.side, a.price, a.size, a.best_bid, a.best_ask) == (Side.BUY, 301_000, 1_000_000_000, 301_000, 397_000)
    # the mirror entry: a bid at p on one token is an ask at 1 - p on the other
    assert (b.side, b.price) == (Side.SELL, 1_000_000 - a.price)
    # the post-trade book has no tick_size and another key order
    last = events[-1]
    assert isinstance(last, BookSnapshot) and last.tick_size is None


def test_legacy_single_asset_price_change():
    (ev,) = MarketParser().parse((FIX / "price_change_legacy_single_2024-08.json").read_bytes(), TS)
    (ch,) = ev.changes
    assert ch.asset_id.startswith("4833") and ch.side == Side.SELL
    assert (ch.price, ch.size) == (514_000, 21_574_080_000)
    assert ch.best_bid is None and ch.best_ask is None


def test_other_event_types():
    p = MarketParser()
    (t,) = p.parse((FIX / "last_trade_price_2024-08.json").read_bytes(), TS)
    assert isinstance(t, Trade) and t.side == Side.SELL and t.price == 491_000 and t.fee_rate_bps == 0
    assert len(t.trade_id) == 24
    (tk,) = p.parse((FIX / "tick_size_change_2025-02.json").read_bytes(), TS)
    assert isinstance(tk, TickSizeChange) and (tk.old_tick_size, tk.new_tick_size) == (10_000, 1_000)
    (bba,) = p.parse((FIX / "best_bid_ask_2025-12.json").read_bytes(), TS)
    assert isinstance(bba, BestBidAsk) and (bba.best_bid, bba.best_ask) == (730_000, 770_000)
    (nm,) = p.parse((FIX / "new_market_2025-12.json").read_bytes(), TS)
    assert isinstance(nm, NewMarket) and nm.outcomes == ("Yes", "No") and len(nm.asset_ids) == 2
    assert nm.tick_size == 10_000
    (mr,) = p.parse((FIX / "market_resolved.json").read_bytes(), TS)
    assert isinstance(mr, MarketResolved) and mr.winning_asset_id == mr.asset_ids[0]


def test_legacy_buys_sells_names_are_accepted():
    frame = {"event_type": "book", "asset_id": "1", "market": "m", "timestamp": "1700000000000",
             "hash": "h", "buys": [{"price": "0.4", "size": "10"}], "sells": [{"price": "0.6", "size": "5"}]}
    (ev,) = MarketParser().parse(json.dumps(frame), TS)
    assert ev.bids == ((400_000, 10_000_000),) and ev.asks == ((600_000, 5_000_000),)


def test_unknown_fields_are_tolerated():
    frame = json.loads((FIX / "best_bid_ask_2025-12.json").read_text())
    frame["brand_new_field"] = {"nested": [1, 2]}
    (ev,) = MarketParser().parse(json.dumps(frame), TS)
    assert isinstance(ev, BestBidAsk)


@pytest.mark.parametrize("text", ["PONG", "NO NEW ASSETS", "  PONG"])
def test_text_frames_give_no_events_and_no_rejects(text):
    p = MarketParser()
    assert p.parse(text, TS) == []
    assert p.text == 1 and not p.rejects


@pytest.mark.parametrize(
    "frame,reason",
    [
        ("{not json", RejectReason.INVALID_JSON),
        ('{"event_type":"what_is_this","x":1}', RejectReason.UNKNOWN_EVENT),
        ('{"no_type":1}', RejectReason.UNKNOWN_EVENT),
        ('{"event_type":"book"}', RejectReason.SCHEMA),
        ('{"event_type":"price_change","market":"m","price_changes":[{"asset_id":"1","price":"abc","size":"1","side":"BUY"}]}', RejectReason.BAD_NUMBER),
        ('{"event_type":"price_change","market":"m","price_changes":[{"asset_id":"1","price":"0.5","size":"1","side":"HOLD"}]}', RejectReason.BAD_SIDE),
        ("[1,2]", RejectReason.NOT_AN_OBJECT),
        ("", RejectReason.EMPTY),
    ],
)
def test_malformed_frames_are_counted_by_reason(frame, reason):
    p = MarketParser()
    assert p.parse(frame, TS) == []
    assert p.rejects[reason] >= 1, (p.rejects, p.last_reject)


def test_one_bad_event_in_an_array_keeps_the_others():
    good = json.loads((FIX / "best_bid_ask_2025-12.json").read_text())
    frame = json.dumps([good, {"event_type": "best_bid_ask", "asset_id": "x", "best_bid": "nan?"}, good])
    p = MarketParser()
    events = p.parse(frame, TS)
    assert len(events) == 2 and p.rejects[RejectReason.BAD_NUMBER] == 1


def test_empty_top_of_book_values():
    frame = {"event_type": "price_change", "market": "m", "timestamp": "1700000000000",
             "price_changes": [{"asset_id": "1", "price": "0.5", "size": "0", "side": "BUY",
                                "hash": "h", "best_bid": "0", "best_ask": "1"}]}
    (ev,) = MarketParser().parse(json.dumps(frame), TS)
    assert ev.changes[0].best_bid is None and ev.changes[0].best_ask is None


def test_epoch_units():
    assert epoch_to_ns("1724564136087") == 1724564136087 * 10**6
    assert epoch_to_ns("1762776436") == 1762776436 * 10**9  # seconds, seen on the user channel
    assert epoch_to_ns("") == 0 and epoch_to_ns(None) == 0
