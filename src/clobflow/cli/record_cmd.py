"""``clobflow record``: record market data (raw frames, market log, derived tables) to a folder.

Subscribes like ``watch`` (default: the current and next 15-minute up/down windows of btc, eth
and sol, re-discovered every 5 minutes) and writes ``--out``::

    raw/{venue}/{channel}/{YYYY-MM-DD}/{HH}/frames-{first_ts_ns}.jsonl.gz   every frame, as received
    markets/{venue}.jsonl                                                    markets as discovered
    tables.duckdb                                                            derived tables (unless --no-tables)

Stops on Ctrl-C / SIGTERM or after ``--duration``; every frame received by then is written
before it exits (0), and the last line gives the counts. Bad arguments and unreachable
endpoints print one line (exit 2).
"""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from clobflow.book.trust import TrustPolicy
from clobflow.cli.errors import DISCOVERY_OPTIONS, UserError, as_option_error, one_line, out_dir, positive
from clobflow.core.clock import s_to_ns
from clobflow.core.errors import ConfigError
from clobflow.engine.market_feed import FeedStartError
from clobflow.engine.record import (
    DEFAULT_REFRESH_INTERVAL_S,
    DEFAULT_UPDOWN_ASSETS,
    RecordConfig,
    RecordStartError,
    run_record,
)
from clobflow.venues.polymarket.discovery import DiscoveryFilter
from clobflow.venues.polymarket.feed import POLYMARKET_CLOB_URL, POLYMARKET_GAMMA_URL, POLYMARKET_WS_URL, FeedConfig
from clobflow.venues.polymarket.protocol import MarketStreamConfig


_SYMBOL = re.compile(r"[a-z0-9]{2,20}")  # Binance stream names are lower-case letters and digits

def _log(line: str) -> None:
    print(line, flush=True)


def _split(values: list[str] | None) -> tuple[str, ...]:
    out: list[str] = []
    for v in values or ():
        out += [x.strip() for x in v.split(",") if x.strip()]
    return tuple(out)


def record(
    out: Annotated[Path, typer.Option("--out", help="Recording folder (created if missing).")],
    slug: Annotated[list[str] | None, typer.Option("--slug", help="Market slug(s) to follow (repeat or comma-separate).")] = None,
    token: Annotated[list[str] | None, typer.Option("--token", help="Token id(s) to follow.")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Gamma tag slug(s), e.g. crypto.")] = None,
    updown: Annotated[list[str] | None, typer.Option("--updown", help="Up/down assets (default btc,eth,sol).")] = None,
    interval: Annotated[list[str] | None, typer.Option("--interval", help="Up/down window length(s): 5m, 15m.")] = None,
    windows_ahead: Annotated[int, typer.Option(help="Up/down windows after the current one.")] = 1,
    max_hours_to_close: Annotated[float | None, typer.Option(help="Only markets closing within this many hours.")] = None,
    min_minutes_to_close: Annotated[float | None, typer.Option(help="Skip markets closing sooner than this.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many markets.")] = 200,
    ws_url: Annotated[str, typer.Option(help="Market-channel WebSocket URL.")] = POLYMARKET_WS_URL,
    gamma_url: Annotated[str, typer.Option(help="Gamma REST base URL.")] = POLYMARKET_GAMMA_URL,
    clob_url: Annotated[str, typer.Option(help="CLOB REST base URL (venue clock).")] = POLYMARKET_CLOB_URL,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    refresh_interval: Annotated[float, typer.Option(help="Seconds between discovery refreshes.")] = DEFAULT_REFRESH_INTERVAL_S,
    snapshot_interval: Annotated[float, typer.Option(help="Seconds between periodic full-book snapshots (0: off).")] = 60.0,
    health_interval: Annotated[float, typer.Option(help="Seconds between health lines (0: off).")] = 10.0,
    rotate_mb: Annotated[float, typer.Option(help="Start a new raw file past this many compressed MB.")] = 64.0,
    max_assets_per_conn: Annotated[int, typer.Option(help="Tokens per WebSocket connection (1..500).")] = 200,
    tables: Annotated[bool, typer.Option("--tables/--no-tables", help="Derive the tables while recording (off: raw files and market log only).")] = True,
    clickhouse: Annotated[str | None, typer.Option(help="Also write the tables to ClickHouse: clickhouse://user:pass@host:8123/db or chdb://PATH.")] = None,
    redis: Annotated[str | None, typer.Option(help="Fan out each token's top of book to Redis (redis://host:6379/0).")] = None,
    binance: Annotated[list[str] | None, typer.Option("--binance", help="Binance spot symbols to capture (e.g. btcusdt,ethusdt).")] = None,
    binance_url: Annotated[str, typer.Option(help="Binance combined-stream base URL.")] = "wss://stream.binance.com:9443",
) -> None:
    """Record raw frames, the markets followed and the derived tables until stopped."""
    for name, value in (("--refresh-interval", refresh_interval), ("--rotate-mb", rotate_mb)):
        if value <= 0:
            raise UserError(f"{name} must be > 0, got {value}")
    for name, value in (("--snapshot-interval", snapshot_interval), ("--health-interval", health_interval)):
        if value < 0:
            raise UserError(f"{name} must be >= 0, got {value}")
    if duration is not None and duration <= 0:
        raise UserError("--duration must be > 0 seconds")
    positive("--limit", limit)
    positive("--max-hours-to-close", max_hours_to_close)
    positive("--min-minutes-to-close", min_minutes_to_close, zero_ok=True)
    symbols = tuple(x.lower() for x in _split(binance))
    for sym in symbols:
        if not _SYMBOL.fullmatch(sym):
            raise UserError(f"--binance {sym!r} is not a Binance symbol (letters and digits, e.g. btcusdt)")
    if redis is not None and not redis.startswith(("redis://", "rediss://", "unix://")):
        raise UserError(f"--redis {one_line(redis)!r}: use redis://host:port/db, rediss:// or unix://")
    if clickhouse is not None and not clickhouse.startswith(("clickhouse://", "http://", "https://", "chdb://")):
        raise UserError(f"--clickhouse {one_line(clickhouse)!r}: use clickhouse://, http(s):// or chdb://PATH")
    out_dir(out)
    explicit = bool(slug or token or tag)
    try:
        flt = DiscoveryFilter(
            slugs=_split(slug), token_ids=_split(token), tags=_split(tag),
            updown_assets=tuple(a.lower() for a in _split(updown)) or (() if explicit else DEFAULT_UPDOWN_ASSETS),
            updown_intervals=_split(interval) or ("15m",), updown_windows_ahead=windows_ahead,
            max_hours_to_close=max_hours_to_close, min_minutes_to_close=min_minutes_to_close, limit=limit,
        )
        stream = MarketStreamConfig(max_assets_per_conn=max_assets_per_conn)
    except ConfigError as exc:
        raise as_option_error(exc, DISCOVERY_OPTIONS) from None
    feed = FeedConfig(
        ws_url=ws_url, gamma_url=gamma_url, clob_url=clob_url, discovery=flt, stream=stream,
        # The recorder's books only drive resnapshots; a quiet book is not an error here.
        trust=TrustPolicy(stale_after_ns=s_to_ns(300)), refresh_interval_s=refresh_interval,
    )
    config = RecordConfig(out=out, feed=feed, snapshot_interval_s=snapshot_interval,
                          health_interval_s=health_interval, rotate_mb=rotate_mb, tables=tables,
                          clickhouse_url=clickhouse, redis_url=redis,
                          binance_symbols=symbols, binance_url=binance_url)
    try:
        asyncio.run(run_record(config, duration_s=duration, log=_log))
    except (FeedStartError, RecordStartError) as exc:
        raise UserError(str(exc)) from None
    sys.stdout.flush()
