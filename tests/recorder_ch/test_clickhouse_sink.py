"""ClickHouseSink against a real ClickHouse engine.

Every test runs on three backends:

- ``chdb``: the in-process engine through ``chdb://PATH`` (a chdb Session; JSONCompactEachRow
  inserts);
- ``chdb-connect``: the same engine through a ``clickhouse_connect`` client (its ``chdb``
  backend) -- the code path a server uses (``client.insert`` with column lists), minus HTTP;
- ``server``: a ClickHouse server at ``CLOBFLOW_TEST_CLICKHOUSE_URL``
  (e.g. ``clickhouse://default:@localhost:8123``); skipped, with that reason, when unset.

chdb allows one engine path per process and takes ~1 s to start, so the module opens one
engine directory and both chdb backends use it, each in its own throw-away database.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import msgspec
import pytest

from clobflow.core.errors import InvariantBroken
from clobflow.recorder.clickhouse import ClickHouseSink
from clobflow.recorder.tables import (
    TABLES,
    BookDeltaRow,
    BookSnapshotRow,
    MarketWindowRow,
    SpotPriceRow,
    TradeRow,
)

SERVER_URL = os.environ.get("CLOBFLOW_TEST_CLICKHOUSE_URL", "")
I64_MAX = 2**63 - 1
I64_MIN = -(2**63)
DAY1_LAST_NS = 1_766_707_199_999_999_999  # 2025-12-25 23:59:59.999999999 UTC
DAY2_FIRST_NS = 1_766_707_200_000_000_000  # 2025-12-26 00:00:00 UTC
NASTY = [
    "",
    "quote ' double \" back` tick",
    "back\\slash \\n \\' literal escapes",
    "new\nline\ttab\rcr",
    "ünïcödé — 日本語 🚀",
    "nul\x00byte",
    "'); DROP TABLE trades; --",
    '{"json": [1, "x"]}',
]


@pytest.fixture(scope="module")
def chdb_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("chdb"))


@pytest.fixture(scope="module", params=["chdb", "chdb-connect", "server"])
def open_sink(request: pytest.FixtureRequest, chdb_dir: str) -> Iterator[Callable[[str], ClickHouseSink]]:
    """``open_sink(database)``: a new sink of this module's backend (its own connection)."""
    opened: list[tuple[ClickHouseSink, Any]] = []

    def make(database: str) -> ClickHouseSink:
        client = None
        if request.param == "chdb":
            sink = ClickHouseSink(f"chdb://{chdb_dir}", database=database)
        elif request.param == "chdb-connect":
            import clickhouse_connect

            client = clickhouse_connect.get_client(dsn=f"chdb://{chdb_dir}")
            sink = ClickHouseSink(client, database=database)
        else:
            # Drop any database in the URL path: the tests work in (and drop) their own.
            sink = ClickHouseSink(urlunsplit(urlsplit(SERVER_URL)._replace(path="")), database=database)
        opened.append((sink, client))
        return sink

    if request.param == "server" and not SERVER_URL:
        pytest.skip("CLOBFLOW_TEST_CLICKHOUSE_URL is not set: no ClickHouse server to test against")
    yield make
    for sink, client in reversed(opened):
        sink.close()
        if client is not None:
            client.close()


@pytest.fixture(scope="module")
def module_sink(open_sink: Callable[[str], ClickHouseSink]) -> Iterator[ClickHouseSink]:
    sink = open_sink(f"clobflow_test_{os.getpid()}_{secrets.token_hex(3)}")
    sink.ensure_tables()
    yield sink
    sink.command(f"DROP DATABASE IF EXISTS `{sink.database}`")


@pytest.fixture
def sink(module_sink: ClickHouseSink) -> ClickHouseSink:
    for table in TABLES:
        module_sink.command(f"TRUNCATE TABLE `{module_sink.database}`.`{table}`")
    return module_sink


def _key(row: msgspec.Struct) -> bytes:
    return msgspec.json.encode(row)


def read_back(sink: ClickHouseSink, table: str) -> list[msgspec.Struct]:
    row_type = TABLES[table]
    return sorted((row_type(*r) for r in sink.query(f"SELECT * FROM {table}")), key=_key)


def sample_rows(ts0: int) -> dict[str, list[msgspec.Struct]]:
    """A few rows of every table: extremes, empty and long lists, NULLs, hostile text."""
    n = len(NASTY)
    return {
        "orderbook_snapshots": [
            BookSnapshotRow(ts0 + i, ts0 - i, "polymarket", f"0xm{i % 2}", NASTY[i], list(range(i)),
                            [I64_MAX] * i, [I64_MIN, 0, -1][: i % 4], [], "venue" if i % 2 else "periodic",
                            hash=NASTY[-1 - i])
            for i in range(n)
        ],
        "orderbook_deltas": [
            BookDeltaRow(ts0 + i, 0, "polymarket", "0xm", NASTY[i], "bid" if i % 2 else "ask", 10_000 * i, 0,
                         best_bid=None if i % 3 else 490_000, best_ask=None if i % 2 else I64_MAX, hash=NASTY[i])
            for i in range(n)
        ],
        "trades": [
            TradeRow(ts0 + i, ts0, "kalshi", NASTY[i], "tok", 1, I64_MAX, "BUY", f"t{i}", "ws",
                     wallet=NASTY[-1 - i], outcome="Yes", tx_hash="0x" + "ab" * 32,
                     fee_rate_bps=None if i % 2 else i)
            for i in range(n)
        ],
        "spot_prices": [
            SpotPriceRow(ts0 + i, ts0 + i - 5, "binance", "BTCUSDT", 87_000_120_000 + i, 1_000, NASTY[i],
                         buyer_is_maker=[True, False, None][i % 3])
            for i in range(n)
        ],
        "market_windows": [
            MarketWindowRow(ts0, "polymarket", f"ev{i}", f"0xcond{i}", f"btc-updown-15m-{i}", "btc", "111", "222",
                            ts0 + i * 900_000_000_000, ts0 + (i + 1) * 900_000_000_000, 10_000,
                            question=NASTY[i], winner="")
            for i in range(n)
        ],
    }


def test_ensure_tables_creates_every_table_with_layout(sink: ClickHouseSink) -> None:
    sink.ensure_tables()  # idempotent, also on existing tables
    rows = sink.query(
        "SELECT name, engine, partition_key, sorting_key FROM system.tables "
        f"WHERE database = '{sink.database}' ORDER BY name"
    )
    by_name = {r[0]: r[1:] for r in rows}
    assert set(by_name) == set(TABLES)
    day = "toYYYYMMDD(fromUnixTimestamp64Nano({}, 'UTC'))"
    assert by_name["orderbook_snapshots"] == ("MergeTree", day.format("ts_ns"), "venue, market, asset_id, ts_ns")
    assert by_name["orderbook_deltas"] == ("MergeTree", day.format("ts_ns"), "venue, market, asset_id, ts_ns")
    assert by_name["trades"] == ("MergeTree", day.format("ts_ns"), "venue, market, ts_ns")
    assert by_name["spot_prices"] == ("MergeTree", day.format("ts_ns"), "venue, symbol, ts_ns")
    assert by_name["market_windows"] == (
        "ReplacingMergeTree", day.format("window_start_ns"), "venue, asset, window_start_ns, market"
    )


def test_column_types_follow_the_row_structs(sink: ClickHouseSink) -> None:
    types = {
        (t, c): ty
        for t, c, ty in sink.query(
            f"SELECT table, name, type FROM system.columns WHERE database = '{sink.database}'"
        )
    }
    # every Struct field is a column, in field order
    for table, row_type in TABLES.items():
        cols = sink.query(
            f"SELECT name FROM system.columns WHERE database = '{sink.database}' "
            f"AND table = '{table}' ORDER BY position"
        )
        assert tuple(c for (c,) in cols) == row_type.__struct_fields__
    # written out by hand on purpose: not derived from the code under test
    assert types["orderbook_snapshots", "bid_prices"] == "Array(Int64)"
    assert types["orderbook_snapshots", "ts_ns"] == "Int64"
    assert types["orderbook_snapshots", "source"] == "LowCardinality(String)"
    assert types["orderbook_deltas", "best_bid"] == "Nullable(Int64)"
    assert types["orderbook_deltas", "side"] == "LowCardinality(String)"
    assert types["orderbook_deltas", "market"] == "String"
    assert types["trades", "fee_rate_bps"] == "Nullable(Int64)"
    assert types["trades", "venue"] == "LowCardinality(String)"
    assert types["spot_prices", "symbol"] == "LowCardinality(String)"
    assert types["spot_prices", "buyer_is_maker"] == "Nullable(Bool)"
    assert types["market_windows", "asset"] == "LowCardinality(String)"
    assert types["market_windows", "question"] == "String"


@pytest.mark.parametrize("table", sorted(TABLES))
def test_every_table_round_trips_exactly(sink: ClickHouseSink, table: str) -> None:
    rows = sample_rows(DAY2_FIRST_NS)[table]
    sink.write(table, rows[:3])
    sink.write(table, rows[3:])
    sink.write(table, [])  # no-op
    assert sink.count(table) == len(rows)
    assert read_back(sink, table) == sorted(rows, key=_key)


def test_rows_partition_by_utc_day(sink: ClickHouseSink) -> None:
    # one batch straddling midnight, including the last ns of day 1
    rows = [
        SpotPriceRow(ts, ts, "binance", "ETHUSDT", 3_000_000_000, 1, f"s{i}")
        for i, ts in enumerate([DAY1_LAST_NS - 3_600_000_000_000, DAY1_LAST_NS, DAY2_FIRST_NS, DAY2_FIRST_NS + 1])
    ]
    sink.write("spot_prices", rows)
    parts = sink.query(
        "SELECT partition, sum(rows) FROM system.parts WHERE active "
        f"AND database = '{sink.database}' AND table = 'spot_prices' GROUP BY partition ORDER BY partition"
    )
    assert parts == [("20251225", 2), ("20251226", 2)]
    by_row = sink.query("SELECT trade_id, _partition_id FROM spot_prices ORDER BY ts_ns")
    assert by_row == [("s0", "20251225"), ("s1", "20251225"), ("s2", "20251226"), ("s3", "20251226")]


def test_query_by_market_and_time_range_uses_the_sorting_key(sink: ClickHouseSink) -> None:
    t0 = DAY2_FIRST_NS
    rows = [
        TradeRow(t0 + (i * 7919) % 100 * 1_000_000, 0, venue, market, "tok", 500_000 + i, 1, "BUY", f"{venue}-{i}", "ws")
        for i in range(100)
        for venue, market in [("polymarket", "0xA"), ("polymarket", "0xB"), ("kalshi", "0xA")]
    ]
    sink.write("trades", rows[::2])  # out of time order, over several inserts
    sink.write("trades", rows[1::2])
    lo, hi = t0 + 20_000_000, t0 + 29_000_000
    got = sink.query(
        "SELECT ts_ns, trade_id FROM trades "
        f"WHERE venue = 'polymarket' AND market = '0xA' AND ts_ns BETWEEN {lo} AND {hi} "
        "ORDER BY ts_ns SETTINGS force_primary_key = 1"  # raises unless the key prunes the scan
    )
    want = sorted(
        (r.ts_ns, r.trade_id) for r in rows if r.venue == "polymarket" and r.market == "0xA" and lo <= r.ts_ns <= hi
    )
    assert got == want and len(got) == 10


def test_rediscovered_window_deduplicates(sink: ClickHouseSink) -> None:
    start = DAY2_FIRST_NS + 3_600_000_000_000
    first = MarketWindowRow(DAY1_LAST_NS, "polymarket", "ev", "0xW", "btc-15m", "btc", "1", "2", start,
                            start + 900_000_000_000, 10_000)
    again = msgspec.structs.replace(first, discovered_ns=DAY2_FIRST_NS)  # next UTC day, e.g. a restart
    resolved = msgspec.structs.replace(first, discovered_ns=DAY2_FIRST_NS + 5, winner="1")
    other = msgspec.structs.replace(first, market="0xOther", slug="other")  # same asset and start
    nonwindow = [msgspec.structs.replace(first, market=f"0xN{i}", asset="", window_start_ns=0) for i in range(2)]
    sink.write("market_windows", [first, other, *nonwindow])
    sink.write("market_windows", [again])
    sink.write("market_windows", [resolved])
    assert sink.count("market_windows") == 4  # counted FINAL
    sink.command("OPTIMIZE TABLE market_windows FINAL")
    got = sorted(sink.query("SELECT market, winner, discovered_ns FROM market_windows"))
    assert got == [("0xN0", "", DAY1_LAST_NS), ("0xN1", "", DAY1_LAST_NS), ("0xOther", "", DAY1_LAST_NS),
                   ("0xW", "1", DAY2_FIRST_NS + 5)]  # fmt: skip


def test_retried_identical_batch_is_not_duplicated(sink: ClickHouseSink) -> None:
    rows = sample_rows(DAY1_LAST_NS)["orderbook_deltas"]
    sink.write("orderbook_deltas", rows)
    sink.write("orderbook_deltas", rows)  # "the insert raised, the caller retried" -- but it had committed
    assert sink.count("orderbook_deltas") == len(rows)
    sink.write("orderbook_deltas", rows[:2])  # a different block is a new insert
    assert sink.count("orderbook_deltas") == len(rows) + 2


def test_bad_rows_raise_and_write_nothing(sink: ClickHouseSink) -> None:
    good = SpotPriceRow(DAY2_FIRST_NS, 0, "binance", "BTCUSDT", 1, 1, "ok")
    with pytest.raises(ValueError, match="column 'price'"):
        sink.write("spot_prices", [good, msgspec.structs.replace(good, price=2**63)])  # would wrap in ClickHouse
    with pytest.raises(ValueError, match="column 'size'"):
        sink.write("spot_prices", [msgspec.structs.replace(good, size=1.5)])
    with pytest.raises(TypeError, match="expected SpotPriceRow"):
        sink.write("spot_prices", [good, TradeRow(1, 1, "v", "m", "a", 1, 1, "BUY", "t", "ws")])
    with pytest.raises(ValueError, match="unknown table"):
        sink.write("nope", [good])
    assert sink.count("spot_prices") == 0


def test_changed_struct_is_caught_not_ignored(open_sink: Callable[[str], ClickHouseSink]) -> None:
    drift = open_sink(f"clobflow_test_{os.getpid()}_{secrets.token_hex(3)}_drift")
    db = drift.database
    drift.command(f"CREATE DATABASE IF NOT EXISTS `{db}`")
    try:
        drift.command(  # an older shape of spot_prices, without buyer_is_maker
            f"CREATE TABLE `{db}`.spot_prices (ts_ns Int64, ts_venue_ns Int64, venue String, symbol String, "
            "price Int64, size Int64, trade_id String) ENGINE = MergeTree ORDER BY ts_ns"
        )
        with pytest.raises(InvariantBroken, match="spot_prices.*buyer_is_maker"):
            drift.ensure_tables()
    finally:
        drift.command(f"DROP DATABASE IF EXISTS `{db}`")


def test_delta_batches_of_events_arrive_as_their_rows(sink: ClickHouseSink) -> None:
    """The recorder hands ``orderbook_deltas`` over as events (``DeltaRows``): ClickHouse gets
    the rows they stand for, bare ids and all, like any sequence of rows."""
    from clobflow.core.events import LevelChange, PriceChange, Side
    from clobflow.recorder.batches import DeltaRows

    batch = DeltaRows()
    for i in range(3):
        batch.add("polymarket", PriceChange("POLYMARKET:0xm", (
            LevelChange("POLYMARKET:tok", Side.BUY, 10_000 * i, i, 490_000, None, NASTY[i]),
            LevelChange("tok2", Side.SELL, 20_000, 0)), DAY2_FIRST_NS + i, DAY2_FIRST_NS + i))
    sink.write("orderbook_deltas", batch)
    assert sink.count("orderbook_deltas") == len(batch) == 6
    assert read_back(sink, "orderbook_deltas") == sorted(batch.rows(), key=_key)
    assert {r.asset_id for r in batch.rows()} == {"tok", "tok2"} and {r.market for r in batch.rows()} == {"0xm"}
