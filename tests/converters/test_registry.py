"""The converter registry: every bundled dataset is registered and converts; rows obey the table
contracts (integer micro-units and ns, no floats, best-first ladders); batching, determinism,
errors and the raw-frame availability list."""

from __future__ import annotations

import json

import msgspec
import pytest

from clobflow.recorder.converters import (
    CONVERTERS,
    RAW_FRAMES,
    RawFramesUnavailable,
    convert_all,
    convert_to_sink,
    iter_rows,
    raw_frames,
)
from clobflow.recorder.tables import TABLES, BookSnapshotRow

from .conftest import DATA, ListSink

NAMES = sorted(CONVERTERS)
EXPECTED = {
    "pm-crypto15m-trades-wallets": {"trades": 10_738, "market_windows": 22},
    "pm-btc15m-tob-1s": {"orderbook_snapshots": 117_170, "trades": 137_383, "market_windows": 205},
    "pm-btc1h-l2-1s": {"orderbook_snapshots": 992, "market_windows": 2},
    "pm-btc5m-outcomes-chainlink": {"market_windows": 584, "spot_prices": 84_558},
    "kalshi-btc15m-tob-brti": {"orderbook_snapshots": 2_291, "spot_prices": 2_291, "market_windows": 204},
    "kalshi-polymarket-xvenue": {"orderbook_snapshots": 75_413, "trades": 260},
    "binance-btc-1s-klines-15m-windows": {"spot_prices": 20_000},
}
T0 = 1_700_000_000 * 10**9  # 2023-11-14: every dataset is later
T1 = 1_800_000_000 * 10**9  # 2027-01-15: every dataset is earlier


def test_every_bundled_dataset_with_market_data_is_registered():
    bundled = {p.parent.name for p in DATA.glob("*/SOURCE.md")}
    assert bundled == set(CONVERTERS)
    assert set(RAW_FRAMES) == set(CONVERTERS)
    assert set(EXPECTED) == set(CONVERTERS)


@pytest.mark.parametrize("name", NAMES)
def test_counts_match_the_documented_row_counts(name, converted):
    c = converted(name)
    assert c.counts == EXPECTED[name]
    assert {t: c.sink.count(t) for t in c.counts} == c.counts
    assert c.sink.ensured == 1


def _check_ints(row: msgspec.Struct) -> None:
    for f in row.__struct_fields__:
        v = getattr(row, f)
        assert not isinstance(v, float), f"{type(row).__name__}.{f} is a float"
        if isinstance(v, list):
            assert all(type(x) is int for x in v), f"{type(row).__name__}.{f}"
        if f.endswith("_ns"):
            assert type(v) is int
            assert v == 0 or T0 < v < T1, f"{type(row).__name__}.{f}={v} is not epoch ns"


@pytest.mark.parametrize("name", NAMES)
def test_rows_keep_the_table_contracts(name, converted):
    c = converted(name)
    for table, rows in c.sink.rows.items():
        for row in rows:
            assert type(row) is TABLES[table]
            _check_ints(row)
        if table == "orderbook_snapshots":
            for r in rows:
                assert isinstance(r, BookSnapshotRow) and r.source == "converted"
                assert len(r.bid_prices) == len(r.bid_sizes) and len(r.ask_prices) == len(r.ask_sizes)
                assert r.bid_prices == sorted(r.bid_prices, reverse=True)
                assert r.ask_prices == sorted(r.ask_prices)
                assert all(0 < p < 1_000_000 for p in r.bid_prices + r.ask_prices)
                assert all(s >= 0 for s in r.bid_sizes + r.ask_sizes)
                if r.bid_prices and r.ask_prices:
                    assert r.bid_prices[0] <= r.ask_prices[0], "crossed converted book"
            locked = sum(1 for r in rows if r.bid_prices and r.ask_prices and r.bid_prices[0] == r.ask_prices[0])
            # as recorded: two 1 Hz polls of pm-btc15m-tob-1s show a locked top (bid == ask)
            assert locked == (2 if name == "pm-btc15m-tob-1s" else 0)
        if table == "trades":
            ids = [(r.venue, r.trade_id) for r in rows]
            assert len(set(ids)) == len(ids), "trade ids must be unique"
            assert all(r.source == "converted" and r.side in ("BUY", "SELL") for r in rows)
            assert all(0 < r.price < 1_000_000 and r.size > 0 for r in rows)
        if table == "spot_prices":
            ids = [(r.venue, r.symbol, r.trade_id) for r in rows]
            assert len(set(ids)) == len(ids)
        if table == "market_windows":
            for w in rows:
                assert w.window_start_ns < w.window_end_ns
                assert w.winner in ("", w.yes_token, w.no_token)
                assert w.yes_token != w.no_token and w.tick_size in (1_000, 10_000)


def test_rows_are_msgspec_encodable_and_deterministic(converted):
    name = "kalshi-btc15m-tob-brti"
    first = converted(name)
    again = ListSink()
    convert_to_sink(name, again, data_dir=DATA)
    enc = msgspec.json.Encoder()
    for table, rows in first.sink.rows.items():
        assert enc.encode(rows) == enc.encode(again.rows[table])


def test_batches_never_exceed_batch_rows():
    sink = ListSink()
    counts = convert_to_sink("binance-btc-1s-klines-15m-windows", sink, data_dir=DATA, batch_rows=7_000)
    assert counts == {"spot_prices": 20_000}
    assert sink.batches == [("spot_prices", 7_000), ("spot_prices", 7_000), ("spot_prices", 6_000)]


def test_convert_all_converts_every_dataset(tmp_path):
    # a data dir holding only two small datasets is not enough: convert_all needs all of them
    (tmp_path / "binance-btc-1s-klines-15m-windows").symlink_to(DATA / "binance-btc-1s-klines-15m-windows")
    with pytest.raises(FileNotFoundError):
        convert_all(ListSink(), data_dir=tmp_path)


def test_convert_all_result_shape(monkeypatch):
    import clobflow.recorder.converters as conv

    small = {k: conv.CONVERTERS[k] for k in ("pm-btc1h-l2-1s", "binance-btc-1s-klines-15m-windows")}
    monkeypatch.setattr(conv, "CONVERTERS", small)
    out = conv.convert_all(ListSink(), data_dir=DATA)
    assert out == {
        "pm-btc1h-l2-1s": EXPECTED["pm-btc1h-l2-1s"],
        "binance-btc-1s-klines-15m-windows": EXPECTED["binance-btc-1s-klines-15m-windows"],
    }


def test_unknown_or_missing_dataset(tmp_path):
    with pytest.raises(KeyError, match="not one of"):
        convert_to_sink("nope", ListSink())
    sink = ListSink()
    with pytest.raises(FileNotFoundError):
        convert_to_sink("pm-btc1h-l2-1s", sink, data_dir=tmp_path)
    assert sink.ensured == 0  # nothing touched the sink


def test_data_dir_defaults_to_the_environment(monkeypatch):
    monkeypatch.setenv("CLOBFLOW_DATA_DIR", str(DATA))
    rows = list(iter_rows("pm-btc1h-l2-1s"))
    assert len(rows) == 994


@pytest.mark.parametrize("name", [n for n in NAMES if RAW_FRAMES[n].startswith("no")])
def test_raw_frames_unavailable_say_why(name):
    with pytest.raises(RawFramesUnavailable, match=name):
        raw_frames(name, data_dir=DATA)


def test_raw_frames_available_from_the_simulator():
    frames = raw_frames("pm-btc1h-l2-1s", data_dir=DATA)
    assert len(frames) == 484
    assert all(f.venue == "polymarket" and f.channel == "market" for f in frames)
    assert json.loads(frames[0].frame)["event_type"] == "new_market"
