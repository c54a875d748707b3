"""The simulated market channel over real loopback WebSockets."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from clobflow.book.book_set import BookSet
from clobflow.core.events import BookSnapshot, NewMarket, PriceChange
from clobflow.sim.datasets import Dataset
from clobflow.sim.venue import VenueServer
from clobflow.venues.polymarket.integrity import PolymarketIntegrity
from clobflow.venues.polymarket.parsing import MarketParser

from .helpers import FROZEN, frozen_start, recv, recv_until_quiet, replayed_books, subscribe_msg

async def test_initial_dump_is_one_array_of_current_books(ds1h):
    k = 100
    m = ds1h.markets[1]
    expected = replayed_books(ds1h, k)
    async with VenueServer(ds1h, speed=FROZEN, start_at_ns=frozen_start(ds1h, k)) as venue:
        async with connect(venue.ws_url) as ws:
            await ws.send(subscribe_msg([m.yes.token_id, "123456", m.no.token_id]))
            dump = json.loads(await recv(ws))
            assert isinstance(dump, list) and [b["asset_id"] for b in dump] == list(m.token_ids)
            for b in dump:
                assert b["event_type"] == "book" and b["market"] == m.condition_id
                prices = [float(x["price"]) for x in b["bids"]]
                assert prices == sorted(prices)  # best bid last
                prices = [float(x["price"]) for x in b["asks"]]
                assert prices == sorted(prices, reverse=True)  # best ask last
            snaps = MarketParser().parse(json.dumps(dump), 0)
            assert all(type(s) is BookSnapshot for s in snaps)
            for s in snaps:
                assert (list(s.bids), list(s.asks)) == expected.book(s.asset_id).snapshot()
            assert await recv_until_quiet(ws, 0.3) == []


async def test_subscribe_unsubscribe_resubscribe_and_ping(ds1h):
    m = ds1h.markets[1]
    yes, no = m.token_ids
    async with VenueServer(ds1h, speed=FROZEN, start_at_ns=frozen_start(ds1h, 50)) as venue:
        async with connect(venue.ws_url) as ws:
            await ws.send(subscribe_msg([yes]))
            assert [b["asset_id"] for b in json.loads(await recv(ws))] == [yes]
            await ws.send(json.dumps({"operation": "subscribe", "assets_ids": [yes]}))
            assert await recv(ws) == "NO NEW ASSETS"
            await ws.send(json.dumps({"operation": "subscribe", "assets_ids": [yes, no]}))
            assert [b["asset_id"] for b in json.loads(await recv(ws))] == [no]
            await ws.send(json.dumps({"operation": "unsubscribe", "assets_ids": [yes]}))
            await ws.send("PING")
            assert await recv(ws) == "PONG"
            async with httpx.AsyncClient(base_url=venue.http_url) as http:
                conns = (await http.get("/_sim/state")).json()["connections"]
            assert [c["assets"] for c in conns] == [1]
            await ws.send(json.dumps({"operation": "subscribe", "assets_ids": [yes]}))
            again = json.loads(await recv(ws))
            assert [b["asset_id"] for b in again] == [yes]
            assert again[0]["bids"] and again[0]["asks"]
            await ws.send("not json")
            await ws.send(json.dumps({"hello": 1}))
            await ws.send("PING")
            assert await recv(ws) == "PONG"  # the junk was ignored


async def test_events_are_filtered_by_subscription(ds1h):
    m = ds1h.markets[1]
    yes, no = m.token_ids
    async with VenueServer(ds1h, speed=0, wait_for_subscribers=2) as venue:
        async with connect(venue.ws_url) as a, connect(venue.ws_url) as b:
            await a.send(subscribe_msg([yes], custom=False))
            assert await recv(a) == "[]"  # nothing replayed yet: the replay waits for 2 clients
            await b.send(subscribe_msg([yes, no], custom=True))
            assert await recv(b) == "[]"
            got_a = await recv_until_quiet(a, 0.5)
            got_b = await recv_until_quiet(b, 0.5)
        await venue.wait_replayed(5)
    a_books = [f for f in ds1h.frames if json.loads(f.frame).get("asset_id") in (yes, no)]
    old_market = ds1h.markets[0].token_ids
    assert got_b == [f.frame for f in ds1h.frames if json.loads(f.frame).get("asset_id") not in old_market]
    assert len(a_books) == 2
    parser, books = MarketParser(), BookSet(checker=PolymarketIntegrity())
    events = [ev for f in got_a for ev in parser.parse(f, 0)]
    assert not parser.rejects
    assert not any(type(ev) is NewMarket for ev in events)
    assert [ev.asset_id for ev in events if type(ev) is BookSnapshot] == [yes]
    pcs = [ev for ev in events if type(ev) is PriceChange]
    want = sum(
        1
        for f in ds1h.frames
        if any(e["asset_id"] == yes for e in json.loads(f.frame).get("price_changes", []))
    )
    assert len(pcs) == want and all(ch.asset_id == yes for pc in pcs for ch in pc.changes)
    for ev in events:
        books.on_event(ev)
    assert books.book(yes).snapshot() == venue.books.get(yes).book.snapshot()
    assert books.counters["bbo_mismatches"] == 0


async def test_speed_zero_replays_everything_in_order(ds15_small):
    ds = ds15_small
    async with VenueServer(ds, speed=0) as venue:
        async with connect(venue.ws_url, max_size=None) as ws:
            t0 = time.monotonic()
            await ws.send(subscribe_msg(ds.token_ids, custom=True))
            assert await recv(ws) == "[]"
            got = [await recv(ws) for _ in ds.frames]
            elapsed = time.monotonic() - t0
        await venue.wait_replayed(5)
        state = venue.state()
    assert got == [f.frame for f in ds.frames]
    assert elapsed < 10
    assert state["finished"] and state["frames_replayed"] == len(ds.frames)
    assert state["position_ns"] == ds.frames[-1].ts_recv_ns


async def test_speed_paces_the_venue_clock(ds1h):
    start = frozen_start(ds1h, 100)
    async with VenueServer(ds1h, speed=4.0, start_at_ns=start) as venue:
        async with connect(venue.ws_url) as ws, httpx.AsyncClient(base_url=venue.http_url) as http:
            await ws.send(subscribe_msg(ds1h.markets[1].token_ids))
            await recv(ws)
            t0 = (await http.get("/time")).json()
            got = [m async for m in _for(ws, 2.5)]
            t1 = (await http.get("/time")).json()
    # 2.5 s wall at 4x is ~10 s of venue time; the recording changes about once a second.
    assert 4 <= len(got) <= 16
    assert 6 <= t1 - t0 <= 16


async def _for(ws, seconds: float):
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        try:
            yield await recv(ws, left)
        except TimeoutError:
            return


async def test_loop_restarts_and_resends_books(ds1h):
    ds = Dataset("slice", ds1h.markets, ds1h.frames[:12])
    yes = ds1h.markets[1].yes.token_id
    async with VenueServer(ds, speed=0, loop=True) as venue:
        async with connect(venue.ws_url) as ws:
            await ws.send(subscribe_msg([yes]))
            books = 0
            while books < 3:
                ev = json.loads(await recv(ws))
                if isinstance(ev, dict) and ev.get("event_type") == "book":
                    assert ev["asset_id"] == yes
                    books += 1
        assert venue.state()["loops"] >= 2


async def test_no_websocket_except_the_market_channel(ds1h):
    async with VenueServer(ds1h, speed=FROZEN) as venue:
        with pytest.raises(InvalidStatus) as info:
            async with connect(venue.ws_url.replace("/ws/market", "/ws/user")):
                pass
        assert info.value.response.status_code == 404


async def _slow_socket(port: int) -> socket.socket:
    """A client socket with a tiny receive buffer, so an unread connection backs up fast."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    return sock


@pytest.fixture(scope="module")
def ds15_10():
    from clobflow.sim.datasets import load_dataset

    return load_dataset("pm-btc15m-tob-1s", limit_markets=10)


async def test_slow_consumer_is_dropped_and_does_not_block_others(ds15_10):
    ds = ds15_10
    venue = VenueServer(ds, speed=0, wait_for_subscribers=2, queue_max=50, slow_consumer_timeout_s=0.3)
    async with venue:
        sock = await _slow_socket(venue.port)
        async with (
            connect(venue.ws_url, sock=sock, max_queue=1, close_timeout=0.2) as slow,
            connect(venue.ws_url, max_size=None) as fast,
        ):
            await slow.send(subscribe_msg(ds.token_ids, custom=True))
            await fast.send(subscribe_msg(ds.token_ids, custom=True))
            got = [await recv(fast, 5) for _ in range(len(ds.frames) + 1)]
            await venue.wait_replayed(5)
            assert venue.state()["dropped_slow_consumers"] == 1
            assert [c["id"] for c in venue.state()["connections"]] == [2]
    assert got[1:] == [f.frame for f in ds.frames]


async def test_overflowing_queue_drops_the_connection_not_the_replay(ds15_10):
    ds = ds15_10
    async with VenueServer(ds, speed=1e5, queue_max=8) as venue:
        sock = await _slow_socket(venue.port)
        async with connect(venue.ws_url, sock=sock, max_queue=1, close_timeout=0.2) as slow:
            await slow.send(subscribe_msg(ds.token_ids, custom=True))
            await venue.wait_replayed(10)
            state = venue.state()
            assert state["finished"] and state["dropped_slow_consumers"] == 1
            assert state["connections"] == []
