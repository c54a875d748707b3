"""The venue registry: adapters by name, a second venue (Binance spot trades) built through it over
a loopback server, a test-only venue registered at run time driving the venue-neutral feed, and
the house rule that only the registry (and cli/) import venue packages."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from clobflow.book.trust import Reason, Trust, TrustPolicy
from clobflow.core.clock import LiveClock
from clobflow.core.errors import ConfigError
from clobflow.core.events import BookSnapshot, Side, Trade
from clobflow.core.markets import BinaryMarket, OutcomeToken
from clobflow.core.ports import InstrumentDiff, MarketDataClient, VenueAdapter
from clobflow.engine import registry
from clobflow.engine.market_feed import MarketFeed
from tests.execution.test_layering import _imports
from tests.venues.binance.fakebinance import FakeBinance, wait_until

SRC = Path(__file__).resolve().parents[2] / "src" / "clobflow"
S = 1_000_000


def test_known_venues_and_unknown_names():
    assert {"polymarket", "binance"} <= set(registry.venues())
    assert registry.adapter("polymarket").venue == "polymarket"
    with pytest.raises(ConfigError, match="unknown venue 'nowhere'"):
        registry.adapter("nowhere")
    with pytest.raises(ConfigError, match="no parser"):
        registry.parser("binance", "market")
    # Polymarket's books come with its checker; a venue without one gets venue-neutral rules
    assert "bbo_checks" in registry.book_set("polymarket", TrustPolicy()).counters
    assert "bbo_checks" not in registry.book_set("binance", TrustPolicy()).counters
    # the recorder derives tables with the venues' parsers and checkers (binance has neither)
    assert set(registry.recorded_parsers()) == {("polymarket", "market")}
    assert type(registry.recorded_checkers()["polymarket"]()).__name__ == "PolymarketIntegrity"
    assert "binance" not in registry.recorded_checkers()


async def test_binance_spot_trades_through_the_registry_over_loopback():
    events: list = []
    raw: list = []
    binance = registry.adapter("binance")
    async with FakeBinance() as venue:
        cfg = binance.feed_config(url=venue.url, symbols=("ethusdt",))
        client = binance.market_data(cfg, lambda evs, conn: events.extend(evs),
                                     lambda text, ts, conn: raw.append(text), LiveClock())
        assert isinstance(client, MarketDataClient)
        await client.start()
        try:
            await wait_until(lambda: len(events) >= 5, what="ETH trades")
            assert await client.subscribe(["BINANCE:BNBBTC", "ethusdt"]) == 1  # qualified or bare  # a new set reconnects
            await wait_until(lambda: len(venue.conns) == 2, what="the connection for the new set")
            n = len(events)
            await wait_until(lambda: len(events) >= n + 5, what="trades on the new connection")
        finally:
            await client.stop()
        assert [c.path for c in venue.conns] == ["/stream?streams=ethusdt@trade",
                                                 "/stream?streams=ethusdt@trade/bnbbtc@trade"]
    trades = [e for e in events if type(e) is Trade]
    eth = next(e for e in trades if e.market == "BINANCE:ETHUSDT")
    # the real 2021-12 capture: price 4149.74, qty 0.4387, buyer is maker -> the taker sold
    assert (eth.asset_id, eth.price, eth.size, eth.side) == ("BINANCE:ETHUSDT", 4_149_740_000, 438_700, Side.SELL)
    assert eth.ts_venue_ns == (1639351062243 + 1) * 1_000_000 and eth.ts_recv_ns > 0
    assert raw and client.stats()["restarts"] == 1


class _TestVenueData:
    """A test venue's market data: every subscribe answers with a snapshot per instrument."""

    def __init__(self, config, on_events, on_raw, clock) -> None:
        self.on_events, self.clock, self.subscribed = on_events, clock, []

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def subscribe(self, ids) -> int:
        ids = list(ids)
        self.subscribed += ids
        now = self.clock.now_ns()
        bids = {"T:YES": ((400_000, S),), "T:NO": ((700_000, S),)}  # NO is crossed: bid 0.70 > ask 0.60
        self.on_events([BookSnapshot("T:M1", a, bids[a], ((600_000, S),), "", now, now) for a in ids], 1)
        return len(ids)

    async def unsubscribe(self, ids) -> int:
        return 0

    async def resnapshot(self, ids) -> int:
        return 0

    def stats(self) -> dict:
        return {"subscribed": len(self.subscribed)}


class _TestVenueInstruments:
    source = "test-venue"

    def __init__(self, config, clock) -> None:
        self.venue_clock = clock
        m = BinaryMarket("T:M1", "test-market", "?", OutcomeToken("T:YES", "Yes"), OutcomeToken("T:NO", "No"),
                         10_000, S)
        self.current = {m.condition_id: m}

    async def start(self) -> None: ...

    async def refresh(self) -> InstrumentDiff:
        return InstrumentDiff(list(self.current.values()), [], dict(self.current))

    async def lookup(self, ids):
        return []

    async def aclose(self) -> None: ...

    def stats(self) -> dict:
        return {}


class _TestFeedConfig:
    venue = "testvenue"
    trust = TrustPolicy()
    refresh_interval_s = 60.0
    timer_interval_s = 0.05


async def test_a_venue_registered_at_run_time_drives_the_venue_neutral_feed():
    registry.register(VenueAdapter(venue="testvenue", market_data=_TestVenueData, instruments=_TestVenueInstruments))
    updates: list[str] = []
    try:
        feed = MarketFeed(_TestFeedConfig(), on_update=lambda a, ev: updates.append(a))
        async with feed:
            await asyncio.sleep(0)
            assert sorted(feed.data.subscribed) == ["T:NO", "T:YES"]
            assert feed.books.trust("T:YES").trusted
            no = feed.books.trust("T:NO")  # venue-neutral invariant: a crossed book is never trusted
            assert (no.state, no.reason) == (Trust.SUSPECT, Reason.CROSSED)
            assert feed.views["T:M1"].yes.best_ask() == 600_000 and set(updates) == {"T:YES", "T:NO"}
    finally:
        registry.unregister("testvenue")
    assert "testvenue" not in registry.venues()


def test_only_the_registry_and_cli_import_venue_packages():
    allowed = {SRC / "engine" / "registry.py"}
    for f in SRC.rglob("*.py"):
        rel = f.relative_to(SRC).parts
        if rel[0] in ("venues", "cli") or f in allowed:
            continue
        bad = [m for m in _imports(f) if m.startswith("clobflow.venues")]
        assert not bad, (str(f.relative_to(SRC)), bad)
    assert "importlib" in _imports(SRC / "engine" / "registry.py")  # by name, through the table


def test_venue_neutral_layers_do_no_io():
    forbidden = {"asyncio", "websockets", "httpx", "sqlalchemy"}
    for layer in ("core", "book", "strategies", "risk", "portfolio"):
        for f in (SRC / layer).rglob("*.py"):
            bad = [m for m in _imports(f) if m.split(".")[0] in forbidden or m.startswith("clobflow.venues")]
            assert not bad, (str(f.relative_to(SRC)), bad)
