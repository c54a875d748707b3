"""The data platform's round trip: record the simulator over real sockets, then a backtest of
the recording makes the same decisions as a backtest of the simulator's source data, and the
tables ``record`` derived from the feed's events equal a rebuild from the raw files."""

from __future__ import annotations

import asyncio

import pytest

from clobflow.engine.backtest import run_backtest
from clobflow.engine.config import parse_config
from clobflow.venues.polymarket.feed import FeedConfig
from clobflow.engine.record import RecordConfig, run_record
from clobflow.sim.datasets import load_dataset
from clobflow.sim.venue import VenueServer
from clobflow.venues.polymarket.discovery import DiscoveryFilter
from clobflow.venues.polymarket.protocol import MarketStreamConfig


def decisions(entries):
    """Everything but order ids (their run tag differs by dataset name)."""
    out = []
    for e in entries:
        inputs = {k: v for k, v in (e.inputs or {}).items() if k not in ("client_order_id", "fill_id")}
        out.append((e.ts_ns, e.action, e.reason, e.passed, e.market, e.asset_id, inputs))
    return out


async def test_backtest_of_a_recording_matches_the_source(tmp_path):
    source = load_dataset("pm-btc15m-tob-1s", limit_markets=2)
    out = tmp_path / "rec"
    async with VenueServer(source, speed=150) as server:
        feed = FeedConfig(
            ws_url=server.ws_url, gamma_url=server.http_url, clob_url=server.http_url,
            discovery=DiscoveryFilter(updown_assets=("btc",), updown_intervals=("15m",), updown_windows_ahead=1),
            stream=MarketStreamConfig(stall_after_s=0), refresh_interval_s=1.0,
        )
        cfg = RecordConfig(out=out, feed=feed, snapshot_interval_s=30, health_interval_s=0)
        stop = asyncio.Event()
        task = asyncio.create_task(run_record(cfg, stop=stop, log=lambda s: None, handle_signals=False))
        await server.wait_replayed(timeout=60)
        await asyncio.sleep(0.5)
        stop.set()
        stats = await task
    assert stats["dropped"] == 0 and stats["acked"] == stats["received"] > 100
    assert stats["parsed_frames"] == 0  # the tables came from the feed's parse, not a second one

    recorded = load_dataset(out)
    assert {m.condition_id for m in recorded.markets} == {m.condition_id for m in source.markets}
    config = parse_config({"engine": {"mode": "backtest"}, "strategies": [{"name": "imbalance", "min_imbalance": 0.4}]})
    a = run_backtest(config, source, tmp_path / "bt-source")
    b = run_backtest(config, recorded, tmp_path / "bt-recording")
    from clobflow.observe.journal import read_journal

    da, db = decisions(read_journal(a.journal_path)), decisions(read_journal(b.journal_path))
    assert a.kernel.counters["orders"] >= 1
    assert da == db
    # and the derived tables are there, derived from the feed's own events (one parse per frame):
    # the same rows as parsing the raw files again
    from clobflow.engine.record import rebuild_tables
    from clobflow.recorder.embedded import DuckDBSink

    live, again = DuckDBSink(out), DuckDBSink(tmp_path / "rebuilt.duckdb")
    try:
        counts = rebuild_tables(out, [again], snapshot_interval_s=30)
        assert live.count("orderbook_deltas") == counts["orderbook_deltas"] > 100
        assert stats["rows"]["orderbook_deltas"] == counts["orderbook_deltas"]
        for table, where in (("orderbook_deltas", ""), ("orderbook_snapshots", " WHERE source = 'venue'"),
                             ("trades", "")):
            q = f"SELECT * FROM {table}{where} ORDER BY rowid"
            assert live.query(q) == again.query(q), table
        assert live.count("market_windows") >= 2
    finally:
        live.close()
        again.close()
