"""The recorder service with real files, a real DuckDB store and real recorded frames: every
frame acked and on disk in order, derived rows equal to an independent parse, drops counted
instead of blocking, sink failures retried, spot rows and markets in order."""

from __future__ import annotations

import time

import msgspec
import pytest

from clobflow.core.events import BookSnapshot, MarketResolved, PriceChange
from clobflow.engine import registry
from clobflow.recorder.embedded import DuckDBSink
from clobflow.recorder.frames import RawFrame
from clobflow.recorder.markets_log import read_markets
from clobflow.recorder.raw_writer import RawReadStats, iter_raw
from clobflow.engine.record import summary_line
from clobflow.recorder.service import Recorder
from clobflow.recorder.tables import TABLES, SpotPriceRow
from clobflow.sim.datasets import Dataset, load_dataset
from clobflow.venues.polymarket.parsing import MarketParser

PARSERS = {("polymarket", "market"): MarketParser}


@pytest.fixture(scope="module")
def ds() -> Dataset:
    ds = load_dataset("pm-btc15m-tob-1s", limit_markets=24)
    assert len(ds.frames) > 20_000
    return ds


class ListSink:
    """A TableSink keeping rows in lists; fails its first ``fail`` writes (a flaky store)."""

    def __init__(self, fail: int = 0) -> None:
        self.rows: dict[str, list] = {t: [] for t in TABLES}
        self.fail = fail
        self.calls = 0
        self.closed = False

    def ensure_tables(self) -> None:
        pass

    def write(self, table: str, rows: list) -> None:
        self.calls += 1
        if self.fail > 0:
            self.fail -= 1
            raise ConnectionError("store unavailable")
        self.rows[table].extend(rows)

    def count(self, table: str) -> int:
        return len(self.rows[table])

    def query(self, sql: str) -> list:
        return []

    def close(self) -> None:
        self.closed = True


def test_20k_real_frames_are_acked_written_in_order_and_derived(tmp_path, ds):
    frames = ds.frames[:20_000]
    sink = DuckDBSink(tmp_path)
    lines: list[str] = []
    rec = Recorder(tmp_path, [sink], parsers=PARSERS, batch_ms=50, snapshot_interval_s=0,
                   health_interval_s=0.05, log=lines.append).start()
    rec.on_markets(ds.markets, ts_ns=frames[0].ts_recv_ns - 1)
    t = time.perf_counter()
    for i, fr in enumerate(frames):
        rec.on_raw(fr.frame, fr.ts_recv_ns, i % 2)
    offer_s = time.perf_counter() - t
    assert rec.flush(timeout=60)
    st = rec.stats()
    assert st["received"] == st["acked"] == 20_000 and st["dropped"] == 0 and st["queue_depth"] == 0
    assert sink.count("orderbook_deltas") == st["rows"]["orderbook_deltas"]
    rec.close()
    assert offer_s < 1.0  # on_raw only appends
    # the raw files hold exactly the frames, in order, with their receive times and connections
    stats = RawReadStats()
    back = list(iter_raw(tmp_path, stats=stats))
    assert back == [RawFrame(fr.ts_recv_ns, "polymarket", "market", i % 2, fr.frame) for i, fr in enumerate(frames)]
    assert stats.unterminated == stats.damaged == 0
    # derived rows equal an independent parse of the same frames
    parser, n_deltas, n_books, n_resolved = MarketParser(), 0, 0, 0
    for fr in frames:
        for ev in parser.parse(fr.frame, fr.ts_recv_ns):
            n_deltas += len(ev.changes) if type(ev) is PriceChange else 0
            n_books += type(ev) is BookSnapshot
            n_resolved += type(ev) is MarketResolved
    sink = DuckDBSink(tmp_path)
    assert sink.count("orderbook_deltas") == n_deltas > 20_000
    assert sink.count("orderbook_snapshots") == n_books
    # one row per market as discovered, and one more with the winner once it resolved
    assert sink.query("SELECT count(*) FROM market_windows WHERE winner = ''")[0][0] == len(ds.markets)
    assert sink.query("SELECT count(*) FROM market_windows WHERE winner <> ''")[0][0] == n_resolved > 0
    first = frames[0]
    assert sink.query("SELECT min(ts_ns) FROM orderbook_snapshots")[0][0] == first.ts_recv_ns
    sink.close()
    assert set(read_markets(tmp_path)) == {m.condition_id for m in ds.markets}
    assert any(line.startswith("recorder: ") and "frames/s" in line for line in lines)
    assert "received=20000 acked=20000 dropped=0" in summary_line(st)


def test_a_full_queue_drops_and_counts_instead_of_blocking(tmp_path):
    sink = ListSink()
    rec = Recorder(tmp_path, [sink], queue_max=100, health_interval_s=0)  # writer not started yet
    t = time.perf_counter()
    for i in range(150):
        rec.on_raw(f'{{"i":{i}}}', 1_766_745_254_000_000_000 + i, 0)
    assert time.perf_counter() - t < 0.5  # never waits for the writer
    assert rec.stats()["drops"] == {"queue_full": 50, "closed": 0} and rec.stats()["queue_depth"] == 100
    rec.close()
    rec.on_raw("late", 1, 0)
    st = rec.stats()
    assert (st["received"], st["acked"], st["dropped"]) == (151, 100, 51)
    assert st["drops"] == {"queue_full": 50, "closed": 1}
    assert [f.frame for f in iter_raw(tmp_path)] == [f'{{"i":{i}}}' for i in range(100)]
    assert st["underived_frames"] == 100 and sink.closed  # no parser given: raw only
    assert "dropped=51 (queue_full=50,closed=1)" in summary_line(st)


def test_sink_failures_are_retried_without_losing_rows_or_frames(tmp_path, ds):
    flaky, good = ListSink(fail=3), ListSink()
    rec = Recorder(tmp_path, [flaky, good], parsers=PARSERS, batch_max=50, batch_ms=20, snapshot_interval_s=0,
                   health_interval_s=0, log=lambda _: None).start()
    for fr in ds.frames[:300]:
        rec.on_raw(fr.frame, fr.ts_recv_ns, 0)
    assert not rec.flush(timeout=10)  # rows still pending on the flaky sink
    assert rec.stats()["acked"] == 300  # raw frames do not wait for sinks
    deadline = time.monotonic() + 10
    while not rec.flush(timeout=10):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    rec.close()
    st = rec.stats()
    assert st["sink_errors"] == 3 and st["rows_dropped"]["orderbook_deltas"] == 0
    for table in TABLES:
        assert flaky.rows[table] == good.rows[table]
        assert len(good.rows[table]) == st["rows"][table]
    assert st["rows"]["orderbook_deltas"] > 300


def test_spot_rows_markets_and_hooks(tmp_path, ds):
    sink = DuckDBSink(tmp_path)
    tops: list[tuple[str, str, int]] = []
    rec = Recorder(tmp_path, [sink], parsers=PARSERS, snapshot_interval_s=0, health_interval_s=0)
    rec.on_top_of_book.append(lambda a, m, book, ts: tops.append((a, m, ts)))
    rec.start()
    m = ds.markets[0]
    rec.on_markets([m], ts_ns=1)
    rec.on_markets([m], ts_ns=2)  # unchanged: not logged again
    rec.on_markets([msgspec.structs.replace(m, accepting_orders=False)], ts_ns=3)
    spot = [SpotPriceRow(10 + i, 9 + i, "binance", "BTCUSDT", 87_000_000_000 + i, 1_000, str(i), i % 2 == 0)
            for i in range(5)]
    rec.on_spot_rows(spot)
    for fr in ds.frames[:50]:
        rec.on_raw(fr.frame, fr.ts_recv_ns, 0)
    assert rec.flush(timeout=10)
    back = [SpotPriceRow(*r) for r in sink.query(
        "SELECT ts_ns, ts_venue_ns, venue, symbol, price, size, trade_id, buyer_is_maker FROM spot_prices ORDER BY ts_ns")]
    assert back == spot
    assert sink.query("SELECT discovered_ns FROM market_windows ORDER BY discovered_ns") == [(1,), (3,)]
    assert tops and {a for a, _, _ in tops} <= set(m.token_ids)
    assert all(mk == m.condition_id for _, mk, _ in tops)
    rec.close()
    assert rec.stats()["markets_logged"] == 2
    assert read_markets(tmp_path)[m.condition_id].accepting_orders is False
    rec.close()  # idempotent
    assert not rec.flush(timeout=1)


def test_periodic_snapshots_follow_the_receive_clock(tmp_path, ds):
    sink = ListSink()
    rec = Recorder(tmp_path, [sink], parsers=PARSERS, snapshot_interval_s=60, health_interval_s=0).start()
    frames = ds.frames[:3000]
    for fr in frames:
        rec.on_raw(fr.frame, fr.ts_recv_ns, 0)
    rec.close()
    periodic = [r for r in sink.rows["orderbook_snapshots"] if r.source == "periodic"]
    span_min = (frames[-1].ts_recv_ns - frames[0].ts_recv_ns) // (60 * 10**9)
    assert periodic and all(r.ts_ns % (60 * 10**9) == 0 for r in periodic)
    assert span_min - 2 <= len({r.ts_ns for r in periodic}) <= span_min + 1
    # both tokens of the market being traded, at every boundary inside a window
    per_ts: dict[int, set[str]] = {}
    for r in periodic:
        per_ts.setdefault(r.ts_ns, set()).add(r.asset_id)
    assert max(len(v) for v in per_ts.values()) >= 2


def test_constructor_has_no_side_effects(tmp_path):
    Recorder(tmp_path / "x", [], health_interval_s=0)
    assert not (tmp_path / "x").exists()
    with pytest.raises(ValueError):
        Recorder(tmp_path, [], queue_max=0)


def test_overload_skips_derivation_never_raw_frames(tmp_path, ds):
    frames = ds.frames[:2000]
    sink = ListSink()
    rec = Recorder(tmp_path, [sink], parsers=PARSERS, derive_backlog_max=500, snapshot_interval_s=0,
                   health_interval_s=0, log=lambda _: None)
    for fr in frames:  # queued before the writer runs: one cycle sees all 2000
        rec.on_raw(fr.frame, fr.ts_recv_ns, 0)
    rec.start().close()
    st = rec.stats()
    assert st["acked"] == 2000 and st["dropped"] == 0
    assert st["derive_skipped"] == 2000 - 250  # down to half the bound, oldest first
    assert [f.frame for f in iter_raw(tmp_path)] == [f.frame for f in frames]
    parser = MarketParser()
    expected = sum(len(ev.changes) for fr in frames[-250:] for ev in parser.parse(fr.frame, fr.ts_recv_ns)
                   if type(ev) is PriceChange)
    assert len(sink.rows["orderbook_deltas"]) == expected


def test_rebuild_from_raw_equals_the_live_tables(tmp_path, ds):
    from clobflow.engine.record import rebuild_tables

    live_dir, rebuilt = tmp_path / "live", tmp_path / "rebuilt.duckdb"
    frames = ds.frames[:4000]
    sink = DuckDBSink(live_dir)
    rec = Recorder(live_dir, [sink], parsers=PARSERS, snapshot_interval_s=30, health_interval_s=0).start()
    rec.on_markets(ds.markets[:6], ts_ns=frames[0].ts_recv_ns - 1)
    for fr in frames:
        rec.on_raw(fr.frame, fr.ts_recv_ns, 0)
    rec.close()
    again = DuckDBSink(rebuilt)
    counts = rebuild_tables(live_dir, [again], snapshot_interval_s=30)
    live = DuckDBSink(live_dir)
    try:
        for table, cls in TABLES.items():
            cols = ", ".join(cls.__struct_fields__)
            q = f"SELECT {cols} FROM {table} ORDER BY rowid"
            assert live.query(q) == again.query(q), table
            assert counts[table] == live.count(table)
        assert counts["orderbook_deltas"] > 4000 and counts["orderbook_snapshots"] > 0
    finally:
        live.close()
        again.close()


def record_fed(root, frames, markets, *, sinks=None, **kw) -> Recorder:
    """What ``record`` does: each frame, then the events the feed parsed from it (qualified ids,
    as the live feed's parser makes them), through ``events_hook``; no parser of its own."""
    rec = Recorder(root, sinks if sinks is not None else [DuckDBSink(root)], health_interval_s=0,
                   checkers=registry.recorded_checkers(), **kw)
    hook = rec.events_hook("polymarket", "market")
    rec.start()
    rec.on_markets(markets, ts_ns=frames[0].ts_recv_ns - 1)
    parser = MarketParser("polymarket")
    for fr in frames:
        rec.on_raw(fr.frame, fr.ts_recv_ns, 0)
        events = parser.parse(fr.frame, fr.ts_recv_ns)
        if events:
            hook(events)
    return rec


def test_fed_events_give_the_same_tables_as_parsing_the_frames(tmp_path, ds):
    """One parse per frame: the tables derived from the feed's own events (qualified ids) equal,
    row for row and in order, those of the recorder parsing the frames itself, and a rebuild
    from the raw files; feed status lists in between change nothing."""
    from clobflow.core.events import FeedStatus
    from clobflow.engine.record import rebuild_tables

    frames = ds.frames[:6000]
    fed = record_fed(tmp_path / "fed", frames, ds.markets[:8], snapshot_interval_s=30)
    fed.close()
    parsed = Recorder(tmp_path / "parsed", [DuckDBSink(tmp_path / "parsed")], parsers=PARSERS, health_interval_s=0,
                      checkers=registry.recorded_checkers(), snapshot_interval_s=30).start()
    parsed.on_markets(ds.markets[:8], ts_ns=frames[0].ts_recv_ns - 1)
    for fr in frames:
        parsed.on_raw(fr.frame, fr.ts_recv_ns, 0)
    parsed.close()
    rebuilt = DuckDBSink(tmp_path / "rebuilt.duckdb")
    rebuild_tables(tmp_path / "fed", [rebuilt], snapshot_interval_s=30)
    a, b = DuckDBSink(tmp_path / "fed"), DuckDBSink(tmp_path / "parsed")
    try:
        for table, cls in TABLES.items():
            q = f"SELECT {', '.join(cls.__struct_fields__)} FROM {table} ORDER BY rowid"
            assert a.query(q) == b.query(q) == rebuilt.query(q), table
        assert fed.stats()["rows"] == parsed.stats()["rows"]
        assert (fed.stats()["parsed_frames"], parsed.stats()["parsed_frames"]) == (0, 6000)
        assert fed.stats()["rows"]["orderbook_deltas"] > 6000 and fed.stats()["parser_rejects"] == {}
        periodic = a.query("SELECT count(*) FROM orderbook_snapshots WHERE source = 'periodic'")[0][0]
        assert periodic > 0
        assert a.query("SELECT count(*) FROM orderbook_deltas WHERE asset_id LIKE 'POLYMARKET:%'") == [(0,)]
    finally:
        for s in (a, b, rebuilt):
            s.close()
    # the feed's own status events between frames are not the venue's: no rows, no book changes
    sink = ListSink()
    rec = Recorder(tmp_path / "st", [sink], health_interval_s=0, snapshot_interval_s=0)
    hook = rec.events_hook()
    rec.start()
    parser = MarketParser("polymarket")
    for fr in frames[:500]:
        rec.on_raw(fr.frame, fr.ts_recv_ns, 0)
        hook(parser.parse(fr.frame, fr.ts_recv_ns))
        hook([FeedStatus(("POLYMARKET:x",), "reconnecting", "test", fr.ts_recv_ns)])
    rec.close()
    expected = sum(len(ev.changes) for fr in frames[:500] for ev in MarketParser().parse(fr.frame, fr.ts_recv_ns)
                   if type(ev) is PriceChange)
    assert len(sink.rows["orderbook_deltas"]) == rec.stats()["rows"]["orderbook_deltas"] == expected


def test_events_of_a_dropped_frame_are_dropped_with_it(tmp_path, ds):
    """The queue bound counts frames (their events ride along): with room for 100 frames, the
    first 100 frames and exactly their rows are kept; the 50 dropped frames add no rows."""
    frames = ds.frames[:150]
    sink = ListSink()
    rec = Recorder(tmp_path, [sink], queue_max=100, health_interval_s=0, snapshot_interval_s=0)
    hook = rec.events_hook()
    parser = MarketParser("polymarket")
    for fr in frames:  # the writer is not started: nothing leaves the queue
        rec.on_raw(fr.frame, fr.ts_recv_ns, 0)
        hook(parser.parse(fr.frame, fr.ts_recv_ns))
    st = rec.stats()
    assert st["drops"]["queue_full"] == 50 and st["queue_depth"] == 100
    rec.close()
    bare = MarketParser()
    expected = sum(len(ev.changes) for fr in frames[:100] for ev in bare.parse(fr.frame, fr.ts_recv_ns)
                   if type(ev) is PriceChange)
    assert len(sink.rows["orderbook_deltas"]) == expected > 100
    assert [f.frame for f in iter_raw(tmp_path)] == [f.frame for f in frames[:100]]
    late = Recorder(tmp_path / "late", [], parsers=PARSERS, health_interval_s=0)
    late.builder.add_frame(frames[0].frame, frames[0].ts_recv_ns, "polymarket", "market")
    with pytest.raises(RuntimeError, match="already has frames"):
        late.events_hook()  # a stream parsed so far cannot switch to fed (rows would double)


def test_overload_skips_the_events_of_the_skipped_frames(tmp_path, ds):
    frames = ds.frames[:2000]
    sink = ListSink()
    rec = Recorder(tmp_path, [sink], derive_backlog_max=500, snapshot_interval_s=0, health_interval_s=0,
                   log=lambda _: None)
    hook = rec.events_hook()
    parser = MarketParser("polymarket")
    for fr in frames:  # queued before the writer runs: one cycle sees all 2000 and their events
        rec.on_raw(fr.frame, fr.ts_recv_ns, 0)
        hook(parser.parse(fr.frame, fr.ts_recv_ns))
    rec.start().close()
    st = rec.stats()
    assert st["acked"] == 2000 and st["derive_skipped"] == 1750
    bare = MarketParser()
    expected = sum(len(ev.changes) for fr in frames[-250:] for ev in bare.parse(fr.frame, fr.ts_recv_ns)
                   if type(ev) is PriceChange)
    assert len(sink.rows["orderbook_deltas"]) == expected
