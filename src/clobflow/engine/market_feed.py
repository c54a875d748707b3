"""Live market data for a set of binary markets, on any venue: discovery -> subscriptions ->
books with trust, kept current as windows open and close. Venue-neutral: the venue's market-data
client, instrument provider and integrity checker come from its adapter (``engine.registry``),
chosen by the feed config's ``venue``.

Map:
- ``start()`` prepares the instrument provider (Polymarket: measures the venue clock offset; a
  replaying simulator's clock is in the past), runs the first discovery, subscribes both tokens
  of every market, starts the stream and two timers: a fast one (``timer_interval_s``: stale
  books, the checker's pending checks, resnapshots the books ask for) and discovery
  (``refresh_interval_s``).
- Every parsed event goes to the ``BookSet`` synchronously inside the client's callback; then
  ``on_update(asset_id, event)`` is called for each token whose book changed. No ``await`` sits
  between a frame arriving and its consumer being told.
- Hooks: ``on_raw(text, ts_recv_ns, conn_id)`` gets each frame before it is parsed;
  ``on_parsed(events)`` each delivery's whole event list once the books applied it: a frame's
  events right after that frame's ``on_raw`` (the recorder derives its tables from them), or a
  list of the client's own ``FeedStatus`` events; ``before_events(events)`` the same lists
  before the books; ``on_event(event, touched)`` each event after it was applied.
- Discovery diffs add and remove subscriptions; a failed refresh keeps the current set.

Clocks: ``clock`` (local) stamps receipt and judges staleness; ``venue_clock`` (the provider's:
local + offset) decides which windows are current and how long a market has to close.

The feed config is the venue's own (e.g. ``venues.polymarket.feed.FeedConfig``); the feed reads
only ``venue``, ``trust``, ``refresh_interval_s`` and ``timer_interval_s`` from it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from clobflow.book.binary import BinaryBook
from clobflow.core.clock import LiveClock
from clobflow.core.markets import BinaryMarket
from clobflow.core.ports import FeedStartError, InstrumentDiff
from clobflow.engine import registry

log = logging.getLogger(__name__)

OnUpdate = Callable[[str, object], None]

__all__ = ["FeedStartError", "MarketFeed", "OnUpdate"]


class MarketFeed:
    """Books for the discovered markets, streamed. Use ``async with`` or ``start()``/``stop()``."""

    def __init__(
        self,
        config: Any,
        *,
        on_update: OnUpdate | None = None,
        on_raw: Callable[[str, int, int], None] | None = None,
        on_diff: Callable[[InstrumentDiff], None] | None = None,
        on_event: Callable[[object, tuple[str, ...]], None] | None = None,
        before_events: Callable[[list], None] | None = None,
        on_parsed: Callable[[list], None] | None = None,
        clock: LiveClock | None = None,
    ) -> None:
        self.config = config
        self.venue = config.venue
        adapter = registry.adapter(self.venue)
        self.clock = clock or LiveClock()
        self.books = registry.book_set(self.venue, config.trust)
        self.markets: dict[str, BinaryMarket] = {}
        self.views: dict[str, BinaryBook] = {}
        self.token_market: dict[str, str] = {}
        self.updates: dict[str, int] = {}  # per condition id, book changes since start
        self._on_update = on_update
        self._on_diff = on_diff
        self._on_event = on_event
        self._before_events = before_events
        self._on_parsed = on_parsed
        self.data = adapter.market_data(config, self._on_events, on_raw, self.clock)
        if adapter.instruments is None:
            raise FeedStartError(f"venue {self.venue!r} has no instrument provider to discover markets with")
        self.instruments = adapter.instruments(config, self.clock)
        self.venue_clock = self.instruments.venue_clock
        self._tasks: list[asyncio.Task] = []
        self._resnapshots: set[asyncio.Task] = set()
        self.last_diff: InstrumentDiff | None = None
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
            FeedStartError: the venue (clock, discovery) could not be reached on the first try.
        """
        await self.instruments.start()
        diff = await self.instruments.refresh()
        if diff.error is not None:
            raise FeedStartError(f"cannot discover markets at {self.instruments.source}: {diff.error}")
        await self._apply(diff)
        await self.data.start()
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
        await self.data.stop()
        await self.instruments.aclose()

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
        if self._on_parsed is not None:
            self._on_parsed(events)
        if books.resync:
            self._request_resnapshot()

    def _request_resnapshot(self) -> None:
        assets = [a for a in self.books.take_resync() if a in self.token_market]
        if assets:
            t = asyncio.get_running_loop().create_task(self.data.resnapshot(assets))
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

    async def _discovery_loop(self) -> None:
        interval = self.config.refresh_interval_s
        while True:
            await asyncio.sleep(interval)
            diff = await self.instruments.refresh()
            if diff.error is not None:
                log.warning("discovery refresh failed, keeping %d markets: %s", len(self.markets), diff.error)
            await self._apply(diff)

    async def _apply(self, diff: InstrumentDiff) -> None:
        """Adopt a discovery result: subscribe new markets' tokens, drop ended ones."""
        self.last_diff = diff
        for m in diff.removed:
            self.markets.pop(m.condition_id, None)
            self.views.pop(m.condition_id, None)
            self.updates.pop(m.condition_id, None)
            for t in m.token_ids:
                self.token_market.pop(t, None)
            await self.data.unsubscribe(m.token_ids)
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
            await self.data.subscribe(new_tokens)

    # -- reading ---------------------------------------------------------------------------

    def stats(self) -> dict:
        s = self.data.stats()
        s["books"] = dict(self.books.counters)
        s["markets"] = len(self.markets)
        s["discovery"] = self.instruments.stats()
        return s
