"""Converted rows survive a round trip through the embedded DuckDB sink unchanged."""

from __future__ import annotations

import msgspec
import pytest

from clobflow.recorder.converters import convert_to_sink

from .conftest import DATA

embedded = pytest.importorskip(
    "clobflow.recorder.embedded", reason="clobflow.recorder.embedded (the DuckDB sink) is not there yet"
)

DATASETS = ("kalshi-btc15m-tob-brti", "pm-btc1h-l2-1s", "pm-crypto15m-trades-wallets")


def _key(t: tuple) -> str:
    return repr(t)


def test_duckdb_round_trip(tmp_path, converted):
    sink = embedded.DuckDBSink(tmp_path)
    try:
        written: dict[str, list] = {}
        for name in DATASETS:
            counts = convert_to_sink(name, sink, data_dir=DATA)
            assert counts == converted(name).counts
            for table, rows in converted(name).sink.rows.items():
                written.setdefault(table, []).extend(rows)
        for table, rows in written.items():
            assert sink.count(table) == len(rows)
            if not rows:
                continue
            cols = ", ".join(type(rows[0]).__struct_fields__)
            back = sink.query(f"SELECT {cols} FROM {table}")
            want = sorted((msgspec.structs.astuple(r) for r in rows), key=_key)
            got = sorted((tuple(x) for x in back), key=_key)
            assert got == want, table
    finally:
        sink.close()
