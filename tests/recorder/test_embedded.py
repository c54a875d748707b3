"""The DuckDB table store on a real file: schema from the row Structs, round trip of every
table (lists, nulls, booleans, 19-digit ns), atomic batches, reopening; delta batches inserted
from their events equal the rows they stand for."""

from __future__ import annotations

import msgspec
import pytest

from clobflow.core.events import LevelChange, PriceChange, Side
from clobflow.recorder.batches import DeltaRows
from clobflow.recorder.outbox import PendingRows
from clobflow.recorder.embedded import DuckDBSink, create_table_sql
from clobflow.recorder.tables import (
    TABLES,
    BookDeltaRow,
    BookSnapshotRow,
    MarketWindowRow,
    SpotPriceRow,
    TradeRow,
)

NS = 1_766_745_254_123_456_789

ROWS: dict[str, list[msgspec.Struct]] = {
    "orderbook_snapshots": [
        BookSnapshotRow(NS, NS - 5, "polymarket", "0xm", "tok1", [510_000, 500_000], [1_000_000, 3_149_725_720_000],
                        [520_000], [7], "venue", "h1"),
        BookSnapshotRow(NS + 1, 0, "polymarket", "0xm", "tok2", [], [], [], [], "periodic"),
    ],
    "orderbook_deltas": [
        BookDeltaRow(NS, NS, "polymarket", "0xm", "tok1", "bid", 510_000, 0, 500_000, None, "h"),
        BookDeltaRow(NS, NS, "polymarket", "0xm", "tok1", "ask", 990_000, 12, None, None),
    ],
    "trades": [
        TradeRow(NS, NS, "polymarket", "0xm", "tok1", 491_000, 85_360_000, "SELL", "t1", "ws", fee_rate_bps=0),
        TradeRow(NS, NS, "polymarket", "0xm", "tok2", 1, 2, "BUY", "t2", "data_api", "0xw", "Up", "0xtx", None),
    ],
    "spot_prices": [
        SpotPriceRow(NS, NS - 1, "binance", "BTCUSDT", 87_123_450_000, 1_000, "99", True),
        SpotPriceRow(NS, NS - 1, "binance", "BTCUSDT", 87_123_460_000, 2_000, "100", None),
        SpotPriceRow(NS, NS - 1, "binance", "ETHUSDT", 1, 1, "101", False),
    ],
    "market_windows": [
        MarketWindowRow(NS, "polymarket", "e", "0xm", "btc-updown-15m-1766745000", "btc", "tok1", "tok2",
                        1_766_745_000 * 10**9, 1_766_745_900 * 10**9, 10_000, "Bitcoin Up or Down?", "tok1"),
    ],
}


def test_schema_types_and_nullability(tmp_path):
    assert create_table_sql("orderbook_deltas") == (
        "CREATE TABLE IF NOT EXISTS orderbook_deltas (ts_ns BIGINT NOT NULL, ts_venue_ns BIGINT NOT NULL, "
        "venue VARCHAR NOT NULL, market VARCHAR NOT NULL, asset_id VARCHAR NOT NULL, side VARCHAR NOT NULL, "
        "price BIGINT NOT NULL, size BIGINT NOT NULL, best_bid BIGINT, best_ask BIGINT, hash VARCHAR NOT NULL)"
    )
    sink = DuckDBSink(tmp_path)
    assert sink.path == tmp_path / "tables.duckdb"
    cols = dict(sink.query("SELECT column_name, data_type FROM information_schema.columns "
                           "WHERE table_name = 'orderbook_snapshots'"))
    assert cols["bid_prices"] == "BIGINT[]" and cols["source"] == "VARCHAR"
    spot = dict(sink.query("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'spot_prices'"))
    assert spot["buyer_is_maker"] == "BOOLEAN"
    assert {r[0] for r in sink.query("SHOW TABLES")} == set(TABLES)
    sink.close()


def test_round_trip_of_every_table(tmp_path):
    sink = DuckDBSink(tmp_path / "t.duckdb")
    for table, rows in ROWS.items():
        sink.write(table, rows)
    sink.write("trades", [])
    for table, rows in ROWS.items():
        cls = TABLES[table]
        cols = ", ".join(cls.__struct_fields__)
        back = [cls(*r) for r in sink.query(f"SELECT {cols} FROM {table} ORDER BY rowid")]
        assert back == rows, table
        assert sink.count(table) == len(rows)
    sink.close()
    sink.close()  # idempotent
    again = DuckDBSink(tmp_path / "t.duckdb")  # the data is in the file
    assert again.count("orderbook_snapshots") == 2
    assert again.query("SELECT bid_sizes[2] FROM orderbook_snapshots WHERE asset_id = 'tok1'") == [(3_149_725_720_000,)]
    again.close()


def test_a_failed_batch_inserts_nothing(tmp_path):
    sink = DuckDBSink(tmp_path)
    good = ROWS["orderbook_deltas"][0]
    bad = msgspec.structs.replace(good, price=None)  # NOT NULL column
    with pytest.raises(Exception):
        sink.write("orderbook_deltas", [good, good, bad])
    assert sink.count("orderbook_deltas") == 0
    sink.write("orderbook_deltas", [good])
    assert sink.count("orderbook_deltas") == 1
    with pytest.raises(KeyError):
        sink.write("nope", [good])
    sink.close()


def test_batched_insert_rate(tmp_path):
    """Not a benchmark (bench/recorder.py is): a floor that catches a slow insert path."""
    import time

    sink = DuckDBSink(tmp_path)
    rows = [msgspec.structs.replace(ROWS["orderbook_deltas"][0], ts_ns=NS + i, price=i) for i in range(20_000)]
    t = time.process_time()  # CPU time: a busy shared machine must not fail the test
    for i in range(0, len(rows), 1000):
        sink.write("orderbook_deltas", rows[i:i + 1000])
    rate = len(rows) / (time.process_time() - t)
    assert sink.count("orderbook_deltas") == 20_000
    assert sink.query("SELECT sum(price) FROM orderbook_deltas") == [(sum(range(20_000)),)]
    assert rate > 20_000, rate
    sink.close()


def _changes(*specs):
    return tuple(LevelChange(*s) for s in specs)


def delta_batch() -> DeltaRows:
    """Qualified ids (the live feed's), bare ids (a parser of recorded frames), ids ``core.ids``
    does not take for a venue part, nulls, an empty hash, text JSON must escape, two venues."""
    b = DeltaRows()
    b.add("polymarket", PriceChange("POLYMARKET:0xm", _changes(
        ("POLYMARKET:tok1", Side.BUY, 510_000, 0, 500_000, None, "h"),
        ("POLYMARKET:tok2", Side.SELL, 990_000, 12, None, None),
    ), NS, NS + 1))
    b.add("polymarket", PriceChange("0xm", _changes(
        ("tok1", Side.SELL, 1, 3_149_725_720_000, 1, 2, 'qu"ote\\back\nslash é ✓'),
    ), NS - 7, NS + 2))
    b.add("polymarket", PriceChange("lower:0xm", _changes(
        ("A:B:c", Side.BUY, 2, 2), (":x", Side.BUY, 3, 3), ("KALSHI:T", Side.SELL, 4, 4),
    ), 0, NS + 3))
    b.add("kalshi", PriceChange("KALSHI:MKT", _changes(("KALSHI:MKT-Y", Side.BUY, 5, 5, 5, 6, "")), 1, NS + 4))
    b.add("polymarket", PriceChange("POLYMARKET:0xn", _changes(("POLYMARKET:t", Side.BUY, 6, 6)), 2, NS + 5))
    return b


def test_delta_events_insert_equals_the_rows_they_stand_for(tmp_path):
    """DuckDB inserts a DeltaRows from the events' JSON with SQL; every column, in order, must be
    what DeltaRows builds in Python (which other sinks get): ids stripped exactly as
    ``core.ids.raw``, sides named, nulls kept, text intact, both venues, one row per change."""
    b = delta_batch()
    rows = b.rows()
    assert len(b) == len(rows) == 8 and [p[0] for p in b.parts] == ["polymarket", "kalshi", "polymarket"]
    assert [(r.market, r.asset_id) for r in rows] == [
        ("0xm", "tok1"), ("0xm", "tok2"), ("0xm", "tok1"), ("lower:0xm", "B:c"), ("lower:0xm", ":x"),
        ("lower:0xm", "T"), ("MKT", "MKT-Y"), ("0xn", "t")]
    assert [r.venue for r in rows] == ["polymarket"] * 6 + ["kalshi", "polymarket"]
    assert rows[2] == BookDeltaRow(NS + 2, NS - 7, "polymarket", "0xm", "tok1", "ask", 1, 3_149_725_720_000, 1, 2,
                                   'qu"ote\\back\nslash é ✓')
    sink = DuckDBSink(tmp_path)
    sink.write("orderbook_deltas", b)
    cols = ", ".join(BookDeltaRow.__struct_fields__)
    back = [BookDeltaRow(*r) for r in sink.query(f"SELECT {cols} FROM orderbook_deltas ORDER BY rowid")]
    assert back == rows
    assert sink.rows_written["orderbook_deltas"] == 8
    sink.close()


def test_a_failed_delta_events_batch_inserts_nothing(tmp_path):
    """A batch of several venues is one transaction: a bad event in the last part rolls back the
    first; the same sink then takes a good batch."""
    b = delta_batch()
    b.add("other", PriceChange("m", _changes(("a", Side.BUY, None, 1)), 0, NS))  # NOT NULL price
    sink = DuckDBSink(tmp_path)
    with pytest.raises(Exception):
        sink.write("orderbook_deltas", b)
    assert sink.count("orderbook_deltas") == 0
    sink.write("orderbook_deltas", delta_batch())
    assert sink.count("orderbook_deltas") == 8
    sink.close()


def test_pending_batches_merge_without_splitting_and_trim_whole_batches():
    d1, d2 = DeltaRows(), DeltaRows()
    d1.add("polymarket", PriceChange("m", _changes(("a", Side.BUY, 1, 1), ("a", Side.BUY, 2, 2)), 0, 1))
    d2.add("polymarket", PriceChange("m", _changes(("a", Side.SELL, 3, 3)), 0, 2))
    d2.add("kalshi", PriceChange("k", _changes(("b", Side.SELL, 4, 4)), 0, 3))
    p = PendingRows()
    for b in (d1, d2, DeltaRows.concat([d1])):
        p.add(b)
    assert p.rows == 6
    head, k = p.head(4)
    assert k == 2 and len(head) == 4 and list(head) == d1.rows() + d2.rows()
    assert [v for v, _ in head.parts] == ["polymarket", "kalshi"]
    head, k = p.head(1)
    assert k == 1 and head is d1  # at least one batch, never split
    assert p.trim(3) == 4 and p.rows == 2 and len(p.batches) == 1  # oldest whole batches
    lists = PendingRows()
    lists.add([1, 2])
    lists.add([3])
    assert lists.head(10) == ([1, 2, 3], 2)
