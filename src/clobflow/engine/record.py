"""Recording live market data: ``MarketFeed`` -> ``Recorder`` (raw files, market log, tables).

The composition behind ``clobflow record``. The feed discovers markets and streams them as for
``watch``; its ``on_raw`` hook hands every frame, untouched, to the recorder before it is
parsed, its ``on_parsed`` hook hands the recorder that frame's events (the tables are derived
from the feed's own parse: one parse per frame), and its ``on_diff`` hook gives the recorder
each discovery change (before the new markets' subscriptions go out, so a market is logged
before its first frame). The recorder gets the venues' parsers (for streams nothing parses for
it) and integrity checkers from the registry (``recorder/`` never imports a venue), and the
Binance spot feed is built by the registry like any venue.

Stopping (signal, ``duration_s`` or the ``stop`` event): the feed stops first, so no frame
arrives afterwards, then ``Recorder.close`` drains the queue: every frame received before the
stop is written and acked, and the final counts are exact.

``rebuild_tables`` derives the tables again from a recording's raw files and market log (after
a parser fix, after ``--no-tables``, or to fill a gap the recorder counted as not derived).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from clobflow.engine.lifecycle import install_stop_signals, wait_for_stop
from clobflow.core import ids
from clobflow.core.events import Side, Trade
from clobflow.core.ports import InstrumentDiff
from clobflow.engine import registry
from clobflow.engine.market_feed import FeedStartError, MarketFeed
from clobflow.recorder.embedded import DuckDBSink
from clobflow.recorder.markets_log import iter_market_log
from clobflow.recorder.normalize import TableBuilder
from clobflow.recorder.raw_writer import iter_raw
from clobflow.recorder.service import Recorder
from clobflow.recorder.sink import TableSink
from clobflow.recorder.tables import TABLES, SpotPriceRow

DEFAULT_UPDOWN_ASSETS = ("btc", "eth", "sol")
DEFAULT_REFRESH_INTERVAL_S = 300.0



class RecordStartError(Exception):
    """The recording folder cannot be opened (e.g. its DuckDB file is locked by another
    recorder); one-line message."""


@dataclass(frozen=True)
class RecordConfig:
    """What to record and where. Units are in the names."""

    out: Path
    feed: Any  # the venue's feed config (e.g. venues.polymarket.feed.FeedConfig)
    snapshot_interval_s: float = 60.0
    health_interval_s: float = 10.0
    rotate_mb: float = 64.0
    queue_max: int = 100_000
    batch_max: int = 20_000  # rows per insert at most (or batch_ms)
    batch_ms: float = 200.0
    tables: bool = True  # False: raw files and market log only (rebuild the tables later)
    clickhouse_url: str | None = None  # also write the tables to ClickHouse (clickhouse://, chdb://)
    redis_url: str | None = None  # fan out each token's top of book to Redis (key + stream)
    binance_symbols: tuple[str, ...] = ()  # capture these Binance spot trades into spot_prices
    binance_url: str = "wss://stream.binance.com:9443"


def open_recorder(config: RecordConfig, *, log: Callable[[str], Any] = print,
                  connection_states: Callable[[], object] | None = None) -> Recorder:
    """A started ``Recorder`` writing to ``config.out`` with the embedded DuckDB store.

    Raises:
        RecordStartError: the store cannot be opened (locked, not writable).
    """
    sinks = []
    if config.tables:
        try:
            # One thread: the recorder's inserts are serial, and DuckDB's pool only adds CPU to them.
            sinks.append(DuckDBSink(config.out, threads=1))
        except (duckdb.Error, OSError) as exc:
            raise RecordStartError(f"cannot open the table store in {config.out}: {exc}") from None
        if config.clickhouse_url:
            from clobflow.recorder.clickhouse import ClickHouseSink

            try:
                sinks.append(ClickHouseSink(config.clickhouse_url))
            except Exception as exc:  # noqa: BLE001 - any connection failure is a start error
                raise RecordStartError(f"cannot open ClickHouse at {config.clickhouse_url}: {exc}") from None
    rec = Recorder(
        config.out, sinks, parsers=registry.recorded_parsers() if config.tables else None,
        checkers=registry.recorded_checkers(), queue_max=config.queue_max,
        batch_max=config.batch_max, batch_ms=config.batch_ms,
        snapshot_interval_s=config.snapshot_interval_s, health_interval_s=config.health_interval_s,
        log=log, connection_states=connection_states, rotate_mb=config.rotate_mb,
    )
    return rec.start()


def recording_feed(config: RecordConfig, rec: Recorder) -> MarketFeed:
    """The ``MarketFeed`` of ``config.feed`` wired to ``rec``: every frame (``on_raw``), its
    parsed events for the tables (``on_parsed``: one parse per frame, the feed's own) and every
    discovery change (``on_diff``). Build it before the first frame reaches ``rec``."""

    def on_diff(diff: InstrumentDiff) -> None:
        rec.on_markets(list(diff.added) + list(diff.changed), diff.removed)

    # rec.on_raw records the feed's frames as polymarket/market: the events go to that stream
    on_parsed = rec.events_hook("polymarket", "market") if config.tables else None
    return MarketFeed(config.feed, on_raw=rec.on_raw, on_diff=on_diff, on_parsed=on_parsed)


def connection_summary(feed: MarketFeed) -> str:
    """``"2 open, 1 connecting; 6 markets"`` from the stream's per-connection states."""
    s = feed.data.stats()
    states: dict[str, int] = {}
    for c in s.get("conns", []):
        states[str(c.get("state"))] = states.get(str(c.get("state")), 0) + 1
    text = ", ".join(f"{n} {st}" for st, n in sorted(states.items())) or "none"
    return f"{text}; {len(feed.markets)} markets, {s.get('reconnects', 0)} reconnects"


async def run_record(config: RecordConfig, *, duration_s: float | None = None,
                     stop: asyncio.Event | None = None, log: Callable[[str], Any] = print,
                     handle_signals: bool = True) -> dict:
    """Record until SIGINT/SIGTERM, ``duration_s`` or ``stop``; returns ``Recorder.stats()``
    after everything is written (and logs the one-line summary).

    Raises:
        FeedStartError: the venue clock or Gamma could not be reached on the first try.
    """
    stop = stop or asyncio.Event()
    uninstall_signals = install_stop_signals(stop) if handle_signals else (lambda: None)
    conn_text = "starting"
    rec = open_recorder(config, log=log, connection_states=lambda: conn_text)
    fanout = None
    if config.redis_url:
        from clobflow.recorder.redis_fanout import RedisFanout

        fanout = RedisFanout(config.redis_url)
        # runs on the recorder's writer thread, only when a token's top of book changed
        rec.on_top_of_book.append(lambda a, m, book, ts: fanout.publish_top(
            "polymarket", m, a, book.best_bid(), book.best_ask(), book.best_bid_size(),
            book.best_ask_size(), ts))
    spot = None
    if config.binance_symbols:
        # the spot feed through the registry, like any venue: its Trade events become spot rows
        binance = registry.adapter("binance")
        spot = binance.market_data(
            binance.feed_config(url=config.binance_url, symbols=config.binance_symbols),
            lambda events, conn: rec.on_spot_rows(spot_rows(events, "binance")),
            lambda text, ts, conn: rec.on_raw(text, ts, conn, venue="binance", channel="trade"), None)

    feed = recording_feed(config, rec)
    try:
        try:
            await feed.start()
        except FeedStartError:
            await feed.stop()
            raise
        if spot is not None:
            await spot.start()
        try:
            log(f"recording {len(feed.markets)} markets from {config.feed.ws_url} to {config.out}")
            deadline = None if duration_s is None else time.monotonic() + duration_s
            while not stop.is_set():
                timeout = 1.0 if deadline is None else min(1.0, max(0.0, deadline - time.monotonic()))
                await wait_for_stop(stop, timeout)
                # Read on the loop, handed to the writer thread's health line as a plain str.
                conn_text = connection_summary(feed)
                if deadline is not None and time.monotonic() >= deadline:
                    break
        finally:
            if spot is not None:
                await spot.stop()
            await feed.stop()  # no frame arrives after this
    finally:
        uninstall_signals()
        await asyncio.to_thread(rec.close)
        if fanout is not None:
            await asyncio.to_thread(fanout.close)
    stats = rec.stats()
    log(summary_line(stats))
    return stats


def spot_rows(events: list, venue: str) -> list[SpotPriceRow]:
    """The ``spot_prices`` rows of a spot feed's ``Trade`` events (the taker sold when the buyer
    was the maker)."""
    return [SpotPriceRow(e.ts_recv_ns, e.ts_venue_ns, venue, ids.raw(e.asset_id), e.price, e.size,
                         e.trade_id, e.side == Side.SELL) for e in events if type(e) is Trade]


def rebuild_tables(root: str | Path, sinks: list[TableSink], *, snapshot_interval_s: float = 60.0,
                   batch_rows: int = 20_000, start_ns: int | None = None, end_ns: int | None = None) -> dict[str, int]:
    """Derive the tables again from a recording's raw files and market log into ``sinks``
    (e.g. after a parser fix, or for a recording made with ``tables=False``).

    Market-log entries are applied before the first frame received at or after their
    ``discovered_ns``, as live. The rows equal the live ones except that periodic snapshots
    of a market the feed stopped following before it resolved continue (the log does not
    record removals). Returns rows written per table. The sinks are not closed.
    """
    builder = TableBuilder(registry.recorded_parsers(), snapshot_interval_s=snapshot_interval_s,
                           checkers=registry.recorded_checkers())
    counts = dict.fromkeys(TABLES, 0)
    for s in sinks:
        s.ensure_tables()

    def drain(force: bool) -> None:
        for table in TABLES:
            n = builder.pending(table)
            if n and (force or n >= batch_rows):
                rows = builder.take(table)
                for s in sinks:
                    s.write(table, rows)
                counts[table] += n

    logs = sorted(Path(root, "markets").glob("*.jsonl"))
    entries = sorted(((e.discovered_ns, p.stem, e.market) for p in logs for e in iter_market_log(p)),
                     key=lambda x: x[0])
    i = 0
    for n, f in enumerate(iter_raw(root, start_ns=start_ns, end_ns=end_ns)):
        while i < len(entries) and entries[i][0] <= f.ts_recv_ns:
            builder.add_markets([entries[i][2]], entries[i][0], entries[i][1])
            i += 1
        builder.add_frame(f.frame, f.ts_recv_ns, f.venue, f.channel)
        if n % 4096 == 0:
            drain(False)
    for ts, venue, m in entries[i:]:
        builder.add_markets([m], ts, venue)
    drain(True)
    return counts


def summary_line(stats: dict) -> str:
    """The one-line final count: frames received, acked, dropped, rows per table."""
    rows = " ".join(f"{t}={n}" for t, n in stats["rows"].items())
    drops = ",".join(f"{k}={v}" for k, v in stats["drops"].items() if v) or "none"
    return (f"recorded: received={stats['received']} acked={stats['acked']} "
            f"dropped={stats['dropped']} ({drops}) rows: {rows} not_derived={stats['derive_skipped']} "
            f"raw_files={stats['raw_files']} raw_mb={stats['raw_bytes_compressed'] / 1e6:.2f}")

