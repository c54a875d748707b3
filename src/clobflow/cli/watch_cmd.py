"""``clobflow watch``: live books for discovered markets (a Rich table, or JSON lines)."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Annotated

import msgspec
import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from clobflow.cli.errors import DISCOVERY_OPTIONS, UserError, as_option_error, positive
from clobflow.book.trust import Trust
from clobflow.cli.format import px, qty
from clobflow.core.clock import s_to_ns
from clobflow.core.errors import ConfigError
from clobflow.core.numbers import format_micros
from clobflow.engine.lifecycle import install_stop_signals, wait_for_stop
from clobflow.engine.market_feed import FeedStartError, MarketFeed
from clobflow.book.trust import TrustPolicy
from clobflow.venues.polymarket.discovery import DiscoveryFilter
from clobflow.venues.polymarket.feed import POLYMARKET_CLOB_URL, POLYMARKET_GAMMA_URL, POLYMARKET_WS_URL, FeedConfig
from clobflow.venues.polymarket.protocol import MarketStreamConfig

_TRUST_STYLE = {Trust.TRUSTED: "green", Trust.SUSPECT: "yellow", Trust.UNTRUSTED: "red"}


class UpdateRow(msgspec.Struct):
    """One ``--json`` line per book update (``type`` ``"book"``), and one per trust change seen
    by the 4 Hz check, e.g. a book going suspect during a stall (``type`` ``"trust"``: the same
    fields, ``ts`` the change's time). Prices/sizes are exact decimal strings; ts in ns."""

    ts: int
    market: str
    slug: str
    asset_id: str
    outcome: str
    best_bid: str | None
    best_ask: str | None
    bid_size: str
    ask_size: str
    imbalance: float | None
    trust: str
    reason: str
    type: str = "book"


class StatusRow(msgspec.Struct, tag_field="type", tag="status"):
    """A ``--json`` line printed when no book line came for ``STATUS_EVERY_S`` (a stall, a dead
    feed): the stream's counters and how many followed books are in each trust state, so a
    silent feed is visible in the JSON output too."""

    ts: int
    markets: int
    frames: int
    reconnects: int
    stalls: int
    trusted: int
    suspect: int
    untrusted: int
    reasons: dict[str, int]


STATUS_EVERY_S = 5.0


def make_console(json_out: bool) -> Console:
    """The table goes to stdout (stderr with ``--json``); piped output gets a wide fixed width
    instead of Rich's 80 columns."""
    probe = Console(stderr=json_out)
    return probe if probe.is_terminal else Console(stderr=json_out, width=170)


def _split(values: list[str] | None) -> tuple[str, ...]:
    out: list[str] = []
    for v in values or ():
        out += [x.strip() for x in v.split(",") if x.strip()]
    return tuple(out)


def build_table(feed: MarketFeed, rates: dict[str, float], title: str) -> Table:
    t = Table(title=title, expand=False)
    for col, just in (("market", "left"), ("closes", "right"), ("YES bid", "right"), ("YES ask", "right"), ("NO bid", "right"),
                      ("NO ask", "right"), ("spread", "right"), ("imb5", "right"), ("set cost", "right"),
                      ("trust Y/N", "left"), ("upd/s", "right")):
        t.add_column(col, justify=just, no_wrap=True)
    now = feed.venue_clock.now_ns()
    for cid, view in sorted(feed.views.items(), key=lambda kv: (kv[1].market.end_ns or 0, kv[1].market.slug)):
        m = view.market
        y, n = view.yes, view.no
        ty, tn = feed.books.trust(m.yes.token_id), feed.books.trust(m.no.token_id)
        imb = y.imbalance(5)
        cost = view.complete_set_cost()
        left = m.seconds_to_close(now)
        name = m.slug or m.question[:40]
        closes = "-" if left is None else (f"{int(left // 60)}m{int(left % 60):02d}s" if left > 0 else "closed")
        t.add_row(
            name,
            closes,
            f"{px(y.best_bid())} x {qty(y.best_bid_size())}",
            f"{px(y.best_ask())} x {qty(y.best_ask_size())}",
            f"{px(n.best_bid())} x {qty(n.best_bid_size())}",
            f"{px(n.best_ask())} x {qty(n.best_ask_size())}",
            px(y.spread()),
            "-" if imb is None else f"{imb:+.2f}",
            px(cost),
            f"[{_TRUST_STYLE[ty.state]}]{ty.state.name[0]}[/]/[{_TRUST_STYLE[tn.state]}]{tn.state.name[0]}[/] "
            f"{ty.reason if not ty.trusted else tn.reason if not tn.trusted else ''}",
            f"{rates.get(cid, 0.0):.1f}",
        )
    return t


async def run_watch(config: FeedConfig, *, json_out: bool, duration_s: float | None, console: Console) -> int:
    """Run the feed and render until ``duration_s`` passes or a signal arrives. Returns the
    number of book updates seen."""
    stop = asyncio.Event()
    uninstall_signals = install_stop_signals(stop)
    feed: MarketFeed
    enc = msgspec.json.Encoder()
    out = sys.stdout
    seen = 0

    def row_for(asset: str, ts: int, kind: str) -> UpdateRow | None:
        cid = feed.token_market.get(asset)
        m = feed.markets.get(cid) if cid else None
        tb = feed.books.get(asset)
        if tb is None:
            return None
        b = tb.book
        bb, ba = b.best_bid(), b.best_ask()
        return UpdateRow(
            ts=ts, market=cid or "", slug=m.slug if m else "", asset_id=asset,
            outcome=m.outcome_of(asset) if m else "",
            best_bid=None if bb is None else format_micros(bb), best_ask=None if ba is None else format_micros(ba),
            bid_size=format_micros(b.best_bid_size()), ask_size=format_micros(b.best_ask_size()),
            imbalance=b.imbalance(5), trust=tb.state.name.lower(), reason=tb.reason, type=kind,
        )

    last_line = [time.monotonic()]
    shown_trust: dict[str, tuple[object, str]] = {}  # asset -> (state, reason) last printed

    def emit(row: msgspec.Struct) -> None:
        out.write(enc.encode(row).decode() + "\n")
        last_line[0] = time.monotonic()

    def on_update(asset: str, ev: object) -> None:
        nonlocal seen
        seen += 1
        if not json_out:
            return
        row = row_for(asset, getattr(ev, "ts_recv_ns", 0), "book")
        if row is not None:
            shown_trust[asset] = (feed.books.trust(asset).state, row.reason)
            emit(row)

    def json_watch(now: float) -> None:
        """Trust changes that came without a book update (stale, reconnect), and a status line
        when the feed has been silent: during a stall the JSON output is never mute."""
        for asset in list(feed.token_market):
            tb = feed.books.get(asset)
            if tb is None:
                continue
            state = (tb.state, tb.reason)
            before = shown_trust.setdefault(asset, state)  # first sighting: a state, not a change
            if before != state:
                shown_trust[asset] = state
                row = row_for(asset, tb.since_ns, "trust")
                if row is not None:
                    emit(row)
        if now - last_line[0] >= STATUS_EVERY_S:
            states = [feed.books.get(a) for a in feed.token_market]
            tracked = [tb for tb in states if tb is not None]
            reasons: dict[str, int] = {}
            for tb in tracked:
                if not tb.trusted:
                    reasons[tb.reason] = reasons.get(tb.reason, 0) + 1
            st = feed.data.stats()
            emit(StatusRow(
                ts=feed.clock.now_ns(), markets=len(feed.markets), frames=st.get("frames", 0),
                reconnects=st.get("reconnects", 0), stalls=st.get("stalls", 0),
                trusted=sum(tb.state == Trust.TRUSTED for tb in tracked),
                suspect=sum(tb.state == Trust.SUSPECT for tb in tracked),
                untrusted=sum(tb.state == Trust.UNTRUSTED for tb in tracked), reasons=reasons,
            ))

    feed = MarketFeed(config, on_update=on_update)
    try:
        await feed.start()
    except FeedStartError:
        await feed.stop()
        raise
    try:
        if not feed.markets:
            console.print("[yellow]no market matches the filters yet; waiting for discovery[/]", highlight=False)
        deadline = None if duration_s is None else time.monotonic() + duration_s
        last_counts = dict(feed.updates)
        last_t = time.monotonic()
        rates: dict[str, float] = {}
        live = None
        if not json_out and console.is_terminal:
            live = Live(build_table(feed, rates, "connecting…"), console=console, auto_refresh=False)
            live.start()
        next_plain = time.monotonic() + 5.0
        opened_by = time.monotonic() + config.stream.open_timeout_s + 1
        try:
            while not stop.is_set():
                timeout = 0.25
                if deadline is not None:
                    timeout = min(timeout, max(0.0, deadline - time.monotonic()))
                await wait_for_stop(stop, timeout)
                now = time.monotonic()
                if now - last_t >= 1.0:
                    counts = dict(feed.updates)
                    rates = {c: (counts[c] - last_counts.get(c, 0)) / (now - last_t) for c in counts}
                    last_counts, last_t = counts, now
                stats = feed.data.stats()
                if feed.markets and now > opened_by and stats.get("opens", 0) == 0:
                    errors = [c["last_error"] for c in stats.get("conns", []) if c.get("last_error")]
                    raise FeedStartError(f"cannot connect to {config.ws_url}: {errors[0] if errors else 'no answer'}")
                title = (f"clobflow watch — {len(feed.markets)} markets, {stats.get('frames', 0)} frames, "
                         f"{stats.get('reconnects', 0)} reconnects, rejects {sum(feed.data.parser.rejects.values())}")
                if json_out:
                    json_watch(now)
                if live is not None:
                    live.update(build_table(feed, rates, title), refresh=True)
                elif not json_out and now >= next_plain:
                    console.print(build_table(feed, rates, title))
                    next_plain = now + 5.0
                if deadline is not None and now >= deadline:
                    break
        finally:
            if live is not None:
                live.stop()
        if not json_out:
            console.print(build_table(feed, rates, f"final — {seen} book updates"))
        return seen
    finally:
        uninstall_signals()
        await feed.stop()


def watch(
    slug: Annotated[list[str] | None, typer.Option("--slug", help="Market slug(s) to follow (repeat or comma-separate).")] = None,
    token: Annotated[list[str] | None, typer.Option("--token", help="Token id(s) to follow.")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Gamma tag slug(s), e.g. crypto.")] = None,
    updown: Annotated[list[str] | None, typer.Option("--updown", help="Up/down assets, e.g. btc,eth,sol.")] = None,
    interval: Annotated[str, typer.Option(help="Up/down window length: 5m or 15m.")] = "15m",
    windows_ahead: Annotated[int, typer.Option(help="Up/down windows after the current one.")] = 1,
    max_hours_to_close: Annotated[float | None, typer.Option(help="Only markets closing within this many hours.")] = None,
    min_minutes_to_close: Annotated[float | None, typer.Option(help="Skip markets closing sooner than this.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many markets.")] = 50,
    ws_url: Annotated[str, typer.Option(help="Market-channel WebSocket URL.")] = POLYMARKET_WS_URL,
    gamma_url: Annotated[str, typer.Option(help="Gamma REST base URL.")] = POLYMARKET_GAMMA_URL,
    clob_url: Annotated[str, typer.Option(help="CLOB REST base URL (venue clock).")] = POLYMARKET_CLOB_URL,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per book update.")] = False,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    refresh_interval: Annotated[float, typer.Option(help="Seconds between discovery refreshes.")] = 60.0,
    stale_after: Annotated[float, typer.Option(help="Seconds without an update before a book is suspect.")] = 30.0,
    max_assets_per_conn: Annotated[int, typer.Option(help="Tokens per WebSocket connection (1..500).")] = 200,
) -> None:
    """Stream live books for markets chosen by discovery filters or explicit slugs/tokens."""
    if duration is not None and duration <= 0:
        raise UserError("--duration must be > 0 seconds")
    if refresh_interval <= 0:
        raise UserError("--refresh-interval must be > 0 seconds")
    positive("--stale-after", stale_after)
    positive("--limit", limit)
    positive("--max-hours-to-close", max_hours_to_close)
    positive("--min-minutes-to-close", min_minutes_to_close, zero_ok=True)
    try:
        flt = DiscoveryFilter(
            slugs=_split(slug), token_ids=_split(token), tags=_split(tag),
            updown_assets=tuple(a.lower() for a in _split(updown)) or (() if (slug or token or tag) else ("btc",)),
            updown_intervals=(interval,), updown_windows_ahead=windows_ahead,
            max_hours_to_close=max_hours_to_close, min_minutes_to_close=min_minutes_to_close, limit=limit,
        )
        stream = MarketStreamConfig(max_assets_per_conn=max_assets_per_conn)
    except ConfigError as exc:
        raise as_option_error(exc, DISCOVERY_OPTIONS) from None
    config = FeedConfig(
        ws_url=ws_url, gamma_url=gamma_url, clob_url=clob_url, discovery=flt, stream=stream,
        trust=TrustPolicy(stale_after_ns=s_to_ns(stale_after)), refresh_interval_s=refresh_interval,
    )
    console = make_console(json_out)
    try:
        asyncio.run(run_watch(config, json_out=json_out, duration_s=duration, console=console))
    except FeedStartError as exc:
        raise UserError(str(exc)) from None
