"""Polymarket's market-data faces for the engine's feed: endpoints, the feed configuration, the
market-data client (the market channel's ``MarketStream``) and the instrument provider
(Gamma discovery, the venue clock, and market lookup with winners).

The engine's ``MarketFeed`` (venue-neutral: books, timers, discovery loop) builds these through
the registry; nothing here holds books.

Ids: this is the venue edge. The engine names markets ``POLYMARKET:<condition id>`` and tokens
``POLYMARKET:<token id>`` (``core.ids``); the market channel's parser qualifies what arrives and
its protocol strips subscriptions; the instrument provider qualifies discovered markets and
strips token ids before asking Gamma. Discovery and Gamma parsing inside stay bare.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from clobflow.book.trust import TrustPolicy
from clobflow.core import ids
from clobflow.core.clock import Clock, LiveClock
from clobflow.core.errors import Retryable, VenueRejected
from clobflow.core.markets import BinaryMarket
from clobflow.core.ports import FeedStartError, InstrumentDiff, MarketFilter, OnEvents, OnRaw, StreamSettings
from clobflow.venues.polymarket.clob_rest import ClobRestClient
from clobflow.venues.polymarket.discovery import Discovery, DiscoveryFilter, venue_clock_offset_ns
from clobflow.venues.polymarket.gamma import GammaClient, parse_gamma_market
from clobflow.venues.polymarket.history.mapping import gamma_winner
from clobflow.venues.polymarket.protocol import MarketStreamConfig
from clobflow.venues.polymarket.ws import MarketStream

log = logging.getLogger(__name__)

VENUE = "polymarket"

POLYMARKET_WS_URL = "wss://ws-subscriptions-clob.polymarket.com/ws/market"
POLYMARKET_GAMMA_URL = "https://gamma-api.polymarket.com"
POLYMARKET_CLOB_URL = "https://clob.polymarket.com"


@dataclass(frozen=True)
class FeedConfig:
    """Where to connect and what to follow. Units are in the names. ``venue`` names the adapter
    the engine's ``MarketFeed`` builds from this config."""

    venue: ClassVar[str] = VENUE

    ws_url: str = POLYMARKET_WS_URL
    gamma_url: str = POLYMARKET_GAMMA_URL
    clob_url: str | None = POLYMARKET_CLOB_URL
    discovery: DiscoveryFilter = field(default_factory=DiscoveryFilter)
    stream: MarketStreamConfig = field(default_factory=MarketStreamConfig)
    trust: TrustPolicy = field(default_factory=TrustPolicy)
    refresh_interval_s: float = 60.0
    timer_interval_s: float = 0.5
    use_venue_clock: bool = True


def feed_config(urls: Mapping[str, str | None], flt: MarketFilter, stream: StreamSettings, trust: TrustPolicy,
                refresh_interval_s: float, timer_interval_s: float = 0.5) -> FeedConfig:
    """The feed of a trading run from venue-neutral settings. ``urls`` keys: ``ws_url``,
    ``gamma_url``, ``clob_url`` (missing or ``None``: production)."""
    return FeedConfig(
        ws_url=urls.get("ws_url") or POLYMARKET_WS_URL,
        gamma_url=urls.get("gamma_url") or POLYMARKET_GAMMA_URL,
        clob_url=urls.get("clob_url") or POLYMARKET_CLOB_URL,
        discovery=DiscoveryFilter(tags=flt.tags, max_hours_to_close=flt.max_hours_to_close,
                                  min_minutes_to_close=flt.min_minutes_to_close, limit=flt.limit),
        stream=MarketStreamConfig(max_assets_per_conn=stream.max_assets_per_conn, stall_after_s=stream.stall_after_s,
                                  reconnect_min_s=stream.reconnect_min_s, reconnect_max_s=stream.reconnect_max_s),
        trust=trust, refresh_interval_s=refresh_interval_s, timer_interval_s=timer_interval_s,
    )


def market_data(config: FeedConfig, on_events: OnEvents, on_raw: OnRaw | None, clock: Clock) -> MarketStream:
    """The market channel pool: it is the ``MarketDataClient`` (start, stop, subscribe,
    unsubscribe, resnapshot, stats), delivering each frame's events synchronously."""
    return MarketStream(config.ws_url, config.stream, on_events=on_events, on_raw=on_raw, clock=clock, venue=VENUE)


class PolymarketInstruments:
    """The ``InstrumentProvider``: Gamma discovery on the venue's clock (CLOB ``/time``)."""

    def __init__(self, config: FeedConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.venue_clock = LiveClock()
        self.source = config.gamma_url
        self.gamma = GammaClient(config.gamma_url)
        self.clob = ClobRestClient(config.clob_url) if config.clob_url else None
        self.discovery = Discovery(self.gamma, config.discovery, self.venue_clock)

    async def start(self) -> None:
        """Measure the venue clock. Raises ``FeedStartError`` if it cannot be read."""
        try:
            await self.sync_clock()
        except (Retryable, VenueRejected) as exc:
            raise FeedStartError(f"cannot read the venue clock at {self.config.clob_url}: {exc}") from None

    async def sync_clock(self) -> None:
        """Re-measure the venue clock offset (one ``GET /time``). Done before every discovery
        refresh: it tracks drift, and a simulator replaying faster than real time moves its
        clock ahead of ours. Raises ``Retryable``/``VenueRejected``."""
        if self.clob is not None and self.config.use_venue_clock:
            self.venue_clock.offset_ns = await venue_clock_offset_ns(self.clob, self.clock)

    async def refresh(self) -> InstrumentDiff:
        try:
            await self.sync_clock()
        except (Retryable, VenueRejected) as exc:
            # keep the last offset; discovery still runs (and reports its own errors)
            log.warning("venue clock unavailable, keeping offset %d ns: %s", self.venue_clock.offset_ns, exc)
        return qualified_diff(await self.discovery.refresh())

    async def lookup(self, instrument_ids: Iterable[str]) -> list[tuple[BinaryMarket, str | None]]:
        """Markets holding these tokens, with the winning token of those that resolved. Gamma
        may hide closed markets from a plain query, so missing ones are asked again as closed."""
        tokens = [ids.raw(t) for t in instrument_ids]
        rows = await self.gamma.markets(clob_token_ids=tokens)
        if set(tokens) - {t for m in _parsed(rows) for t in m[0].token_ids}:
            rows += await self.gamma.markets(clob_token_ids=tokens, closed=True)
        out: dict[str, tuple[BinaryMarket, str | None]] = {}
        for m, winner in _parsed(rows):
            out.setdefault(m.condition_id, (m.qualified(VENUE), ids.qualify(VENUE, winner) if winner else None))
        return list(out.values())

    async def aclose(self) -> None:
        await self.gamma.aclose()
        if self.clob is not None:
            await self.clob.aclose()

    def stats(self) -> dict:
        d = self.discovery
        return {"refreshes": d.refreshes, "errors": d.errors,
                "last_error": str(d.last_error) if d.last_error else None}


def qualified_diff(diff: InstrumentDiff) -> InstrumentDiff:
    """Discovery's diff (the venue's bare ids) with every market venue-qualified."""
    def q(ms: list[BinaryMarket]) -> list[BinaryMarket]:
        return [m.qualified(VENUE) for m in ms]
    current = {m.condition_id: m for m in q(list(diff.current.values()))}
    return InstrumentDiff(q(diff.added), q(diff.removed), current, q(diff.changed), diff.error, diff.skipped)


def _parsed(rows: list[dict]) -> list[tuple[BinaryMarket, str]]:
    out = []
    for d in rows:
        try:
            out.append((parse_gamma_market(d), gamma_winner(d)))
        except ValueError:
            continue
    return out
