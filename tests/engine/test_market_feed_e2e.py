"""MarketFeed against the local venue simulator over real loopback sockets: discovery by the
venue's clock, books equal to the venue's, and the trust state's reaction to each fault."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from clobflow.book.trust import Reason, Trust, TrustPolicy
from clobflow.core import ids
from clobflow.core.numbers import parse_micros
from clobflow.engine.market_feed import MarketFeed
from clobflow.venues.polymarket.feed import FeedConfig
from clobflow.sim.datasets import Dataset, load_dataset
from clobflow.sim.venue import VenueServer
from clobflow.venues.polymarket.discovery import DiscoveryFilter
from clobflow.venues.polymarket.protocol import MarketStreamConfig


@pytest.fixture(scope="module")
def ds15() -> Dataset:
    return load_dataset("pm-btc15m-tob-1s", limit_markets=2)


@pytest.fixture(scope="module")
def ds1h() -> Dataset:
    return load_dataset("pm-btc1h-l2-1s")


def feed_config(server: VenueServer, flt: DiscoveryFilter, **stream) -> FeedConfig:
    return FeedConfig(
        ws_url=server.ws_url, gamma_url=server.http_url, clob_url=server.http_url, discovery=flt,
        stream=MarketStreamConfig(**{"ping_interval_s": 0.2, "pong_timeout_s": 1.0, "stall_after_s": 0.6,
                                     "reconnect_min_s": 0.05, "reconnect_max_s": 0.2, **stream}),
        trust=TrustPolicy(stale_after_ns=0), refresh_interval_s=30.0, timer_interval_s=0.05,
    )


async def until(cond, timeout: float = 5.0, step: float = 0.02) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(step)


def all_trusted(feed: MarketFeed, tokens) -> bool:
    return all(feed.books.get(t) is not None and feed.books.get(t).trusted for t in tokens)


async def venue_book(server: VenueServer, token: str) -> tuple[list, list]:
    async with httpx.AsyncClient(trust_env=False) as c:
        d = (await c.get(f"{server.http_url}/book", params={"token_id": ids.raw(token)})).json()
    bids = sorted(((parse_micros(l["price"]), parse_micros(l["size"])) for l in d["bids"]), reverse=True)
    asks = sorted((parse_micros(l["price"]), parse_micros(l["size"])) for l in d["asks"])
    return bids, asks


def transitions(feed: MarketFeed, token: str) -> list[tuple[Trust, str]]:
    return [(s, r) for _, a, s, r in feed.books.transitions if a == token]


async def test_discovers_current_window_by_venue_clock_and_books_equal_venue(ds1h):
    """Full replay at max speed: at the end every book equals the venue's own, level by level."""
    async with VenueServer(ds1h, speed=0) as server:
        slugs = tuple(m.slug for m in ds1h.markets)
        flt = DiscoveryFilter(slugs=slugs, active_only=False, exclude_closed=False)
        async with MarketFeed(feed_config(server, flt, stall_after_s=0)) as feed:
            # row 1 of the recording belongs to the hour that had just ended: not followed
            last = ds1h.markets[-1].qualified("polymarket")  # as the feed names it
            assert set(feed.markets) == {last.condition_id}
            await server.wait_replayed(timeout=30)
            await until(lambda: feed.books.get(last.yes.token_id) is not None
                        and feed.books.book(last.yes.token_id).ts_venue_ns >= ds1h.end_ns - 10**9)
            await asyncio.sleep(0.2)
            for t in last.token_ids:
                assert feed.books.book(t).snapshot() == await venue_book(server, t)
            assert feed.books.counters["bbo_mismatches"] == 0
            assert sum(feed.data.parser.rejects.values()) == 0
            assert all_trusted(feed, last.token_ids)
            assert feed.books.counters["level_changes"] > 10_000  # real full-depth churn


async def test_updown_discovery_uses_the_simulator_clock(ds15):
    async with VenueServer(ds15, speed=1) as server:
        flt = DiscoveryFilter(updown_assets=("btc",), updown_intervals=("15m",), updown_windows_ahead=1)
        async with MarketFeed(feed_config(server, flt)) as feed:
            first = ds15.markets[0].qualified("polymarket")
            # The recording is from 2025-12-26; "now" for discovery is the venue's clock.
            assert first.condition_id in feed.markets
            assert abs(feed.venue_clock.now_ns() - server.now_ns()) < 2 * 10**9
            await until(lambda: all_trusted(feed, first.token_ids))
            view = feed.views[first.condition_id]
            assert view.yes.best_bid() is not None and view.no.best_ask() is not None


async def _running_feed(server, ds):
    flt = DiscoveryFilter(updown_assets=("btc",), updown_intervals=("15m",), updown_windows_ahead=0)
    feed = MarketFeed(feed_config(server, flt))
    await feed.start()
    tokens = ds.markets[0].qualified("polymarket").token_ids
    await until(lambda: all_trusted(feed, tokens))
    return feed, tokens


async def test_malformed_frames_are_counted_and_skipped(ds15):
    async with VenueServer(ds15, speed=5) as server:
        feed, tokens = await _running_feed(server, ds15)
        try:
            server.inject("malformed", count=3)
            rejects = feed.data.parser.rejects
            await until(lambda: sum(rejects.values()) >= 3)
            assert {"invalid_json", "unknown_event_type", "bad_number"} <= set(rejects)
            before = feed.books.counters["level_changes"]
            await until(lambda: feed.books.counters["level_changes"] > before)  # still flowing
            assert all_trusted(feed, tokens)
            assert feed.data.stats()["reconnects"] == 0
        finally:
            await feed.stop()


async def test_disconnect_distrusts_then_reconnect_resubscribes_and_resnapshots(ds15):
    async with VenueServer(ds15, speed=5) as server:
        feed, tokens = await _running_feed(server, ds15)
        try:
            server.inject("disconnect")
            await until(lambda: feed.data.stats()["reconnects"] >= 1)
            await until(lambda: all_trusted(feed, tokens))
            for t in tokens:
                tr = transitions(feed, t)
                i = tr.index((Trust.UNTRUSTED, Reason.RECONNECT))
                assert (Trust.TRUSTED, Reason.SNAPSHOT) in tr[i + 1 :]
            assert server.state()["connections"]  # the client is back
        finally:
            await feed.stop()


async def test_silent_stall_is_detected_and_recovered(ds15):
    async with VenueServer(ds15, speed=5) as server:
        feed, tokens = await _running_feed(server, ds15)
        try:
            server.inject("stall", seconds=2.0)
            await until(lambda: feed.data.stats()["stalls"] >= 1, timeout=5)
            await until(lambda: any(feed.books.get(t).reason == Reason.STALE for t in tokens)
                        or any((Trust.SUSPECT, Reason.STALE) in transitions(feed, t) for t in tokens))
            # Resubscribe (or reconnect) brings fresh snapshots; after the stall events flow again.
            await until(lambda: all_trusted(feed, tokens), timeout=6)
            before = feed.books.counters["level_changes"]
            await until(lambda: feed.books.counters["level_changes"] > before, timeout=6)
            s = feed.data.stats()
            assert s["resubscribes"] >= 1 or s["reconnects"] >= 1
        finally:
            await feed.stop()


async def test_tick_size_change_drops_the_book_and_resnapshots(ds15):
    async with VenueServer(ds15, speed=5) as server:
        feed, tokens = await _running_feed(server, ds15)
        try:
            token = tokens[0]
            server.inject("tick_size_change", asset_id=ids.raw(token), new_tick_size="0.001")  # the venue's id
            await until(lambda: (Trust.UNTRUSTED, Reason.TICK_SIZE_CHANGE) in transitions(feed, token))
            await until(lambda: feed.books.get(token).trusted and feed.books.get(token).reason == Reason.SNAPSHOT)
            assert feed.books.book(token).tick_size == 1_000
            assert feed.books.counters["resyncs_requested"] >= 1
            assert feed.data.stats()["reconnects"] == 0  # a resnapshot, not a reconnect
        finally:
            await feed.stop()


async def test_duplicated_and_reordered_frames_end_in_the_venues_books(ds1h):
    """Absolute level sizes make duplicates harmless; a reordered pair may leave a level wrong
    for a moment, which the venue's best_bid/best_ask check catches and a resnapshot repairs."""
    async with VenueServer(ds1h, speed=0) as server:
        server.inject("duplicate", count=20)
        server.inject("reorder", count=5)
        slugs = tuple(m.slug for m in ds1h.markets)
        flt = DiscoveryFilter(slugs=slugs, active_only=False, exclude_closed=False)
        async with MarketFeed(feed_config(server, flt, stall_after_s=0)) as feed:
            await server.wait_replayed(timeout=30)
            last = ds1h.markets[-1].qualified("polymarket")
            await until(lambda: feed.books.get(last.yes.token_id) is not None
                        and feed.books.book(last.yes.token_id).ts_venue_ns >= ds1h.end_ns - 10**9)
            await until(lambda: all_trusted(feed, last.token_ids), timeout=5)
            await asyncio.sleep(0.3)
            for t in last.token_ids:
                assert feed.books.book(t).snapshot() == await venue_book(server, t)
            faults = server.state()["faults"]
            assert faults["duplicated_frames"] == 20 and faults["reordered_pairs"] == 5
