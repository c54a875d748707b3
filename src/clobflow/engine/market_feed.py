"""Live market data for a set of Polymarket binary markets: discovery -> WebSocket
subscriptions -> books with trust, kept current as windows open and close.

Map:
- ``start()`` estimates the venue clock offset (CLOB ``/time``; a replaying simulator's clock
  is in the past), runs the first discovery, subscribes both tokens of every market, starts the
  stream and two timers: a fast one (``timer_interval_s``: stale books, pending top-of-book
  checks, resnapshots the books ask for) and discovery (``refresh_interval_s``).
- Every parsed event goes to the ``BookSet`` synchronously inside the stream's callback; then
  ``on_update(asset_id, event)`` is called for each token whose book changed. No ``await`` sits
  between a frame arriving and its consumer being told.
- Discovery diffs add and remove subscriptions; a failed refresh keeps the current set.

Clocks: ``clock`` (local) stamps receipt and judges staleness; ``venue_clock`` (local + offset)
decides which windows are current and how long a market has to close.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from clobflow.book.binary import BinaryBook
from clobflow.book.book_set import BookSet
from clobflow.book.trust import TrustPolicy
from clobflow.core.clock import LiveClock
from clobflow.core.errors import Retryable, VenueRejected
from clobflow.core.markets import BinaryMarket
from clobflow.venues.polymarket.clob_rest import ClobRestClient
from clobflow.venues.polymarket.discovery import (
    Discovery,
    DiscoveryDiff,
    DiscoveryFilter,
    venue_clock_offset_ns,
)
from clobflow.venues.polymarket.gamma import GammaClient
from clobflow.venues.polymarket.protocol import MarketStreamConfig
from clobflow.venues.polymarket.ws import MarketStream

log = logging.getLogger(__name__)

POLYMARKET_WS_URL = "wss://ws-subscriptions-clob.polymarket.com/ws/market"
POLYMARKET_GAMMA_URL = "https://gamma-api.polymarket.com"
POLYMARKET_CLOB_URL = "https://clob.polymarket.com"

OnUpdate = Callable[[str, object], None]


class FeedStartError(Exception):
    """The feed could not start (endpoint unreachable, nothing to follow); one-line message."""


@dataclass(frozen=True)
class FeedConfig:
    """Where to connect and what to follow. Units are in the names."""

    ws_url: str = POLYMARKET_WS_URL
    gamma_url: str = POLYMARKET_GAMMA_URL
    clob_url: str | None = POLYMARKET_CLOB_URL
    discovery: DiscoveryFilter = field(default_factory=DiscoveryFilter)
    stream: MarketStreamConfig = field(default_factory=MarketStreamConfig)
    trust: TrustPolicy = field(default_factory=TrustPolicy)
    refresh_interval_s: float = 60.0
    timer_interval_s: float = 0.5
    use_venue_clock: bool = True


class MarketFeed:
    """Books for the discovered markets, streamed. Use ``async with`` or ``start()``/``stop()``."""

    def __init__(
        self,
        config: FeedConfig,
        *,
        on_update: OnUpdate | None = None,
        on_raw: Callable[[str, int, int], None] | None = None,
        on_diff: Callable[[DiscoveryDiff], None] | None = None,
        on_event: Callable[[object, tuple[str, ...]], None] | None = None,
        before_events: Callable[[list], None] | None = None,
        clock: LiveClock | None = None,
    ) -> None:
        self.config = config
        self.clock = clock or LiveClock()
        self.venue_clock = LiveClock()
        self.books = BookSet(config.trust)
        self.markets: dict[str, BinaryMarket] = {}
        self.views: dict[str, BinaryBook] = {}
        self.token_market: dict[str, str] = {}
        self.updates: dict[str, int] = {}  # per condition id, book changes since start
        self._on_update = on_update
        self._on_diff = on_diff
        self._on_event = on_event
        self._before_events = before_events
        self.stream = MarketStream(
            config.ws_url, config.stream, on_events=self._on_events, on_raw=on_raw, clock=self.clock
        )
        self.gamma = GammaClient(config.gamma_url)
        self.clob = ClobRestClient(config.clob_url) if config.clob_url else None
        self.discovery = Discovery(self.gamma, config.discovery, self.venue_clock)
        self._tasks: list[asyncio.Task] = []
        self._resnapshots: set[asyncio.Task] = set()
        self.last_diff: DiscoveryDiff | None = None
        self.last_diff_seen = False

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> MarketFeed:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Discover, subscribe and start streaming.

        Raises:
            FeedStartError: the venue clock or Gamma could not be reached on the first try.
        """
        try:
            await self._sync_venue_clock()
        except (Retryable, VenueRejected) as exc:
            raise FeedStartError(f"cannot read the venue clock at {self.config.clob_url}: {exc}") from None
        diff = await self.discovery.refresh()
        if diff.error is not None:
            raise FeedStartError(f"cannot discover markets at {self.config.gamma_url}: {diff.error}")
        await self._apply(diff)
        await self.stream.start()
        self._tasks = [
            asyncio.create_task(self._timer_loop(), name="feed-timer"),
            asyncio.create_task(self._discovery_loop(), name="feed-discovery"),
        ]

    async def stop(self) -> None:
        for t in self._tasks + list(self._resnapshots):
            t.cancel()
        for t in self._tasks + list(self._resnapshots):
            try:
                await t
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - shutting down
                pass
        self._tasks = []
        await self.stream.stop()
        await self.gamma.aclose()
        if self.clob is not None:
            await self.clob.aclose()

    # -- events ----------------------------------------------------------------------------

    def _on_events(self, events: list, conn_id: int) -> None:
        books = self.books
        on_update = self._on_update
        on_event = self._on_event
        token_market = self.token_market
        updates = self.updates
        if self._before_events is not None:
            # e.g. simulated execution reports due before this frame meet the book as it was
            self._before_events(events)
        for ev in events:
            touched = books.on_event(ev)
            for asset in touched:
                cid = token_market.get(asset)
                if cid is not None:
                    updates[cid] += 1
                if on_update is not None:
                    on_update(asset, ev)
            if on_event is not None:
                on_event(ev, touched)
        if books.resync:
            self._request_resnapshot()

    def _request_resnapshot(self) -> None:
        assets = [a for a in self.books.take_resync() if a in self.token_market]
        if assets:
            t = asyncio.get_running_loop().create_task(self.stream.resnapshot(assets))
            self._resnapshots.add(t)
            t.add_done_callback(self._resnapshots.discard)

    # -- timers ----------------------------------------------------------------------------

    async def _timer_loop(self) -> None:
        interval = self.config.timer_interval_s
        while True:
            await asyncio.sleep(interval)
            self.books.check_stale(self.clock.now_ns())
            if self.books.resync:
                self._request_resnapshot()

    async def _sync_venue_clock(self) -> None:
        """Re-measure the venue clock offset (one ``GET /time``). Done before every discovery
        refresh: it tracks drift, and a simulator replaying faster than real time moves its
        clock ahead of ours."""
        if self.clob is not None and self.config.use_venue_clock:
            self.venue_clock.offset_ns = await venue_clock_offset_ns(self.clob, self.clock)

    async def _discovery_loop(self) -> None:
        interval = self.config.refresh_interval_s
        while True:
            await asyncio.sleep(interval)
            try:
                await self._sync_venue_clock()
            except (Retryable, VenueRejected) as exc:
                log.warning("venue clock unavailable, keeping offset %d ns: %s", self.venue_clock.offset_ns, exc)
            diff = await self.discovery.refresh()
            if diff.error is not None:
                log.warning("discovery refresh failed, keeping %d markets: %s", len(self.markets), diff.error)
            await self._apply(diff)

    async def _apply(self, diff: DiscoveryDiff) -> None:
        """Adopt a discovery result: subscribe new markets' tokens, drop ended ones."""
        self.last_diff = diff
        for m in diff.removed:
            self.markets.pop(m.condition_id, None)
            self.views.pop(m.condition_id, None)
            for t in m.token_ids:
                self.token_market.pop(t, None)
            await self.stream.unsubscribe(m.token_ids)
        for m in list(diff.added) + list(diff.changed):
            cid = m.condition_id
            self.markets[cid] = m
            for t in m.token_ids:
                self.token_market[t] = cid
                book = self.books.book(t)
                book.tick_size = book.tick_size or m.tick_size  # the venue's own tick wins once seen
            self.views[cid] = BinaryBook(m, self.books.book(m.yes.token_id), self.books.book(m.no.token_id))
            self.updates.setdefault(cid, 0)
        if self._on_diff is not None and (diff.has_changes or not self.last_diff_seen):
            self._on_diff(diff)  # before subscribing: consumers know a market before its events
        self.last_diff_seen = True
        new_tokens = [t for m in diff.added for t in m.token_ids]
        if new_tokens:
            await self.stream.subscribe(new_tokens)

    # -- reading ---------------------------------------------------------------------------

    def stats(self) -> dict:
        s = self.stream.stats()
        s["books"] = dict(self.books.counters)
        s["markets"] = len(self.markets)
        s["discovery"] = {
            "refreshes": self.discovery.refreshes,
            "errors": self.discovery.errors,
            "last_error": str(self.discovery.last_error) if self.discovery.last_error else None,
        }
        return s
