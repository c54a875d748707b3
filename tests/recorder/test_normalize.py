"""Normalisation of the real market-channel captures into table rows, and the stateful
``TableBuilder`` (periodic snapshots, resolutions, top-of-book hooks, market log)."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec

from clobflow.core.markets import BinaryMarket, OutcomeToken
from clobflow.core.numbers import parse_micros
from clobflow.recorder.markets_log import MarketLog, iter_market_log, market_window_rows, read_markets
from clobflow.recorder.normalize import (
    TableBuilder,
    delta_rows,
    market_window_row,
    snapshot_row,
    trade_row,
    updown_window,
)
from clobflow.recorder.tables import BookDeltaRow, MarketWindowRow, TradeRow
from clobflow.venues.polymarket.parsing import MarketParser

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "polymarket" / "ws_market"
TS = 1_790_000_000_000_000_000
PARSERS = {("polymarket", "market"): MarketParser}


def parse_fixture(name: str) -> list:
    return MarketParser().parse((FIX / name).read_text(), TS)


def test_book_snapshot_row_is_best_first_with_exact_micro_units():
    (ev,) = parse_fixture("book_2026-08.json")
    row = snapshot_row(ev)
    raw = json.loads((FIX / "book_2026-08.json").read_text())
    assert row.source == "venue" and row.venue == "polymarket"
    assert row.ts_ns == TS and row.ts_venue_ns == 1_786_604_072_222_000_000
    assert row.market == raw["market"] and row.asset_id == raw["asset_id"] and row.hash == raw["hash"]
    # wire: bids ascending, asks descending -> rows: best first
    assert row.bid_prices[:2] == [70_000, 60_000] and row.bid_sizes[0] == 182_528_550_000
    assert row.bid_prices[-1] == 10_000 and row.bid_sizes[-1] == 3_149_725_720_000
    assert row.ask_prices[-1] == 990_000 and row.ask_sizes[-1] == 156_606_140_000
    assert sorted(row.ask_prices) == row.ask_prices
    assert len(row.bid_prices) == len(raw["bids"]) and len(row.ask_prices) == len(raw["asks"])
    assert sum(row.bid_sizes) == sum(parse_micros(level["size"]) for level in raw["bids"])


def test_price_change_gives_one_delta_row_per_level():
    (ev,) = parse_fixture("price_change_batched_2024-10.json")
    rows = delta_rows(ev)
    assert len(rows) == 3
    assert rows[0] == BookDeltaRow(
        TS, 1_729_084_877_448_000_000, "polymarket",
        "0x5f65177b394277fd294cd75650044e32ba009a95022d88a0c1d565897d72f8f1",
        "52114319501245915516055106046884209969926127482827954674443846427813813222426",
        "bid", 600_000, 3_300_000_000, 600_000, 700_000, "bf32b3746fff40c76c98021b7f3f07261169dd26",
    )
    assert [r.price for r in rows] == [600_000, 500_000, 700_000]
    (legacy,) = parse_fixture("price_change_legacy_single_2024-08.json")
    (row,) = delta_rows(legacy)
    assert (row.side, row.price, row.size, row.best_bid, row.best_ask) == ("ask", 514_000, 21_574_080_000, None, None)


def test_trade_row():
    (ev,) = parse_fixture("last_trade_price_2024-08.json")
    row = trade_row(ev, outcome="Up")
    assert row == TradeRow(
        TS, 1_724_564_136_087_000_000, "polymarket",
        "0xdd22472e552920b8438158ea7238bfadfa4f736aa4cee91a6b86c39ead110917",
        "21742633143463906290569050155826241533067272736897614950488156847949938836455",
        491_000, 85_360_000, "SELL", ev.trade_id, "ws", "", "Up", "", 0,
    )
    assert row.trade_id  # derived by the parser when the venue sends none


def market(slug: str, cid: str = "0xc1", yes: str = "y1", no: str = "n1", **kw) -> BinaryMarket:
    return BinaryMarket(cid, slug, "Bitcoin Up or Down?", OutcomeToken(yes, "Up"), OutcomeToken(no, "Down"),
                        10_000, 5_000_000, **kw)


def test_market_window_rows_from_updown_slugs():
    assert updown_window("btc-updown-15m-1766745000") == ("btc", 1_766_745_000 * 10**9, 1_766_745_900 * 10**9)
    assert updown_window("sol-updown-5m-1766745300") == ("sol", 1_766_745_300 * 10**9, 1_766_745_600 * 10**9)
    assert updown_window("bitcoin-up-or-down-february-23-6pm-et") is None
    m = market("eth-updown-15m-1766745000", event_slug="eth-updown-15m-1766745000")
    assert market_window_row(m, 7) == MarketWindowRow(
        7, "polymarket", "eth-updown-15m-1766745000", "0xc1", "eth-updown-15m-1766745000", "eth", "y1", "n1",
        1_766_745_000 * 10**9, 1_766_745_900 * 10**9, 10_000, "Bitcoin Up or Down?", "",
    )
    hourly = market("bitcoin-up-or-down-february-23-6pm-et", start_ns=5, end_ns=9)
    row = market_window_row(hourly, 7)
    assert (row.asset, row.window_start_ns, row.window_end_ns) == ("", 5, 9)


def test_builder_over_the_real_burst_with_periodic_snapshots():
    msgs = json.loads((FIX / "book_then_price_change_burst_2026-09.json").read_text())
    b = TableBuilder(PARSERS, snapshot_interval_s=1.0)
    start = 1_790_658_690_000_000_000
    for i, m in enumerate(msgs):
        b.add_frame(json.dumps(m), start + i * 100_000_000, "polymarket", "market")  # 10 frames/s
    snaps = b.take("orderbook_snapshots")
    venue = [s for s in snaps if s.source == "venue"]
    periodic = [s for s in snaps if s.source == "periodic"]
    assert len(venue) == 2
    n_changes = sum(len(m["price_changes"]) for m in msgs if m["event_type"] == "price_change")
    assert len(b.take("orderbook_deltas")) == n_changes
    # boundaries at +1 s .. +5 s (51 frames over 5.0 s); each is the state before the crossing frame
    assert sorted({s.ts_ns for s in periodic}) == [start + k * 10**9 for k in range(1, 6)]
    # only the snapshotted token: its complement never got a book, so its book is untrusted
    tok = msgs[0]["asset_id"]
    assert {s.asset_id for s in periodic} == {tok} and len(periodic) == 5
    assert all(s.market == msgs[0]["market"] for s in periodic)
    assert (periodic[0].bid_prices[:2], periodic[0].ask_prices[:2]) == ([311_000, 301_000], [389_000, 390_000])
    # the book built from the deltas, snapshotted at +5 s, is exactly the venue's closing book
    last, final = periodic[-1], venue[-1]
    assert last.ts_ns == final.ts_ns == start + 5 * 10**9  # stamped at the boundary, before the frame
    assert (last.bid_prices, last.bid_sizes, last.ask_prices, last.ask_sizes) == \
        (final.bid_prices, final.bid_sizes, final.ask_prices, final.ask_sizes)
    assert b.take("orderbook_snapshots") == []  # take empties the buffer
    assert b.events > 50 and b.underived == 0


def test_builder_resolution_hooks_and_underived_streams():
    msgs = json.loads((FIX / "book_then_price_change_burst_2026-09.json").read_text())
    tops: list[tuple[str, str, int | None, int]] = []
    seen: list[tuple] = []

    def hook(a, m, book, ts):
        top = (book.best_bid(), book.best_bid_size(), book.best_ask(), book.best_ask_size())
        assert not seen or seen[-1] != (a, top)
        seen.append((a, top))
        tops.append((a, m, book.best_bid(), ts))

    def broken(*_):
        raise RuntimeError("consumer bug")

    b = TableBuilder(PARSERS, snapshot_interval_s=0, top_of_book_hooks=[broken, hook])
    book = msgs[0]
    m = market("btc-updown-15m-1", cid=book["market"], yes=book["asset_id"], no="other")
    b.add_markets([m], 5)
    for i, msg in enumerate(msgs):
        b.add_frame(json.dumps(msg), TS + i, "polymarket", "market")
    best = max(parse_micros(level["price"]) for level in book["bids"])
    assert tops[0] == (book["asset_id"], book["market"], best, TS)
    # only changes of the top are announced, never the same top twice in a row
    n_changes = sum(len(x["price_changes"]) for x in msgs if x["event_type"] == "price_change")
    assert 1 < len(tops) < n_changes
    resolved = {"event_type": "market_resolved", "id": "1", "market": book["market"],
                "assets_ids": [book["asset_id"], "other"], "winning_asset_id": "other",
                "winning_outcome": "Down", "timestamp": "1790658700000"}
    b.add_frame(json.dumps(resolved), TS + 999, "polymarket", "market")
    windows = b.take("market_windows")
    assert [w.winner for w in windows] == ["", "other"] and windows[1].discovered_ns == 5
    b.add_frame('{"e":"trade"}', TS, "binance", "trades")
    assert b.underived == 1 and b.hook_errors == len(tops)


def test_market_log_appends_only_news_and_reads_back_the_latest(tmp_path):
    m1 = market("btc-updown-15m-1766745000", cid="0xa")
    m2 = market("btc-updown-15m-1766745900", cid="0xb", yes="y2", no="n2")
    log = MarketLog(tmp_path)
    assert log.append([m1, m2], 10) == [m1, m2]
    assert log.append([m1, m2], 11) == []
    m1b = msgspec.structs.replace(m1, tick_size=1_000)
    assert log.append([m1b, m2], 12) == [m1b]
    log.close()
    assert read_markets(tmp_path) == {"0xa": m1b, "0xb": m2}
    entries = list(iter_market_log(tmp_path / "markets" / "polymarket.jsonl"))
    assert [(e.discovered_ns, e.market.condition_id) for e in entries] == [(10, "0xa"), (10, "0xb"), (12, "0xa")]
    # a restarted recorder knows what is logged; a cut last line is skipped when reading
    log = MarketLog(tmp_path)
    assert log.append([m1b, m2], 13) == []
    log.close()
    with open(tmp_path / "markets" / "polymarket.jsonl", "ab") as fh:
        fh.write(b'{"discovered_ns": 14, "market": {"condition')
    assert read_markets(tmp_path)["0xa"].tick_size == 1_000
    rows = market_window_rows(tmp_path)
    assert [(r.market, r.asset, r.tick_size) for r in rows] == [("0xa", "btc", 10_000), ("0xb", "btc", 10_000),
                                                               ("0xa", "btc", 1_000)]


def test_builder_books_use_the_venue_checker_so_a_contradicted_book_is_not_snapshotted():
    """With Polymarket's checker injected (as ``engine.record`` does through the registry), a book
    whose top the venue contradicts three versions in a row is untrusted, and the periodic
    snapshots leave it out; without a checker the same frames would be written."""
    from clobflow.engine import registry

    book = {"market": "0xm", "asset_id": "A", "timestamp": "1790000000000", "hash": "h0", "event_type": "book",
            "bids": [{"price": "0.48", "size": "10"}], "asks": [{"price": "0.52", "size": "10"}]}

    def change(i: int) -> dict:  # our bid becomes 0.4i; the venue insists its best bid is 0.50
        return {"market": "0xm", "timestamp": "1790000000000", "event_type": "price_change",
                "price_changes": [{"asset_id": "A", "price": f"0.4{i}", "size": "1", "side": "BUY",
                                   "hash": f"v{i}", "best_bid": "0.5", "best_ask": "0.52"}]}

    start = 1_790_000_000_000_000_000
    timed = [(start, book)] + [(start + i * 10**8, change(i)) for i in (1, 2, 3, 4, 5)]
    timed.append((start + 15 * 10**8, change(6)))  # crosses the 1 s boundary
    periodic = {}
    for checked in (True, False):
        b = TableBuilder(PARSERS, snapshot_interval_s=1.0,
                         checkers=registry.recorded_checkers() if checked else None)
        for ts, f in timed:
            b.add_frame(json.dumps(f), ts, "polymarket", "market")
        periodic[checked] = [s for s in b.take("orderbook_snapshots") if s.source == "periodic"]
    assert periodic[False] and periodic[True] == []
