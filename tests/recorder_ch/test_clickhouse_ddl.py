"""DDL generation, row checking and URL parsing: no engine needed (the engine-side check of the
same DDL is in test_clickhouse_sink.py)."""

from __future__ import annotations

import msgspec
import pytest

from clobflow.recorder import clickhouse_ddl as ddl
from clobflow.recorder.clickhouse import parse_sink_url
from clobflow.recorder.tables import TABLES, BookSnapshotRow, SpotPriceRow


def test_every_struct_field_becomes_a_column_in_order() -> None:
    for table, row_type in TABLES.items():
        assert tuple(c for c, _ in ddl.column_types(table)) == row_type.__struct_fields__


def test_type_mapping() -> None:
    types = {c: t for table in TABLES for c, t in ddl.column_types(table)}
    assert types["ts_ns"] == "Int64"
    assert types["bid_prices"] == "Array(Int64)"
    assert types["best_bid"] == "Nullable(Int64)"
    assert types["buyer_is_maker"] == "Nullable(Bool)"
    assert types["venue"] == "LowCardinality(String)"
    assert types["market"] == "String"


def test_unmapped_field_type_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    class FloatRow(msgspec.Struct, array_like=True):
        ts_ns: int
        price: float

    monkeypatch.setitem(TABLES, "floaty", FloatRow)
    with pytest.raises(TypeError, match="floaty.price"):
        ddl.column_types("floaty")


def test_layouts_cover_every_table_and_name_real_columns() -> None:
    assert set(ddl.LAYOUTS) == set(TABLES)
    for table in TABLES:
        ddl.create_table_sql(table, "clobflow")  # raises on a layout/Struct mismatch


def test_create_table_sql_shape() -> None:
    sql = ddl.create_table_sql("spot_prices", "clobflow")
    assert sql.startswith("CREATE TABLE IF NOT EXISTS `clobflow`.`spot_prices`\n(\n    `ts_ns` Int64,")
    assert "ENGINE = MergeTree\n" in sql
    assert "PARTITION BY toYYYYMMDD(fromUnixTimestamp64Nano(`ts_ns`, 'UTC'))" in sql
    assert "ORDER BY (`venue`, `symbol`, `ts_ns`)" in sql
    mw = ddl.create_table_sql("market_windows", "x")
    assert "ENGINE = ReplacingMergeTree(`discovered_ns`)" in mw
    assert ddl.create_database_sql("clobflow") == "CREATE DATABASE IF NOT EXISTS `clobflow`"


@pytest.mark.parametrize("name", ["", "a-b", "a`b", "db; DROP TABLE x", "1abc", "a.b"])
def test_database_names_must_be_plain_identifiers(name: str) -> None:
    with pytest.raises(ValueError):
        ddl.create_database_sql(name)
    with pytest.raises(ValueError):
        parse_sink_url("chdb:///tmp/x", database=name)


def test_codec_encodes_column_order_json_lines() -> None:
    codec = ddl.RowCodec("orderbook_snapshots")
    row = BookSnapshotRow(1, 2, "pm", "m", "a", [5], [6], [], [], "venue")
    assert codec.encode([row, row]) == b'[1,2,"pm","m","a",[5],[6],[],[],"venue",""]\n' * 2


def test_codec_refuses_values_clickhouse_would_mangle() -> None:
    codec = ddl.RowCodec("orderbook_snapshots")
    ok = BookSnapshotRow(1, 2, "pm", "m", "a", [5], [6], [], [], "venue")
    with pytest.raises(ValueError, match=r"row 1 column 'ask_prices'"):
        codec.encode([ok, msgspec.structs.replace(ok, ask_prices=[1, 2**63])])
    with pytest.raises(ValueError, match="column 'ts_ns'"):
        codec.encode([msgspec.structs.replace(ok, ts_ns=True)])
    with pytest.raises(TypeError):
        codec.encode([SpotPriceRow(1, 1, "b", "S", 1, 1, "t")])


def test_parse_server_urls() -> None:
    t = parse_sink_url("clickhouse://us%40er:p%3Ass@ch.local:8123/market_data?compress=lz4")
    assert (t.kind, t.secure, t.database) == ("server", False, "market_data")
    assert t.location == "http://us%40er:p%3Ass@ch.local:8123?compress=lz4"  # clickhouse-connect unquotes
    assert parse_sink_url("http://h:8123", database="x").database == "x"
    assert parse_sink_url("https://h:8443/").secure is True
    assert parse_sink_url("https://h:8443/").database == "clobflow"


def test_parse_chdb_urls() -> None:
    assert parse_sink_url("chdb:///var/lib/ch").location == "/var/lib/ch"
    assert parse_sink_url("chdb://rel/dir", database="d")[1:] == ("rel/dir", False, "d")
    for bad in ["chdb://", "postgres://h/db", "/just/a/path"]:
        with pytest.raises(ValueError):
            parse_sink_url(bad)
