"""The DuckDB table store on a real file: schema from the row Structs, round trip of every
table (lists, nulls, booleans, 19-digit ns), atomic batches, reopening."""

from __future__ import annotations

import msgspec
import pytest

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
