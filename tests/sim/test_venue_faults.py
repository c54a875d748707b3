"""Every fault kind of the simulated venue observably happens, over real loopback sockets."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from clobflow.core.events import TickSizeChange
from clobflow.sim.venue import FaultError, VenueServer
from clobflow.venues.polymarket.parsing import MarketParser

from .helpers import FROZEN, frozen_start, recv, recv_until_quiet, subscribe_msg


async def fault(venue: VenueServer, **spec) -> httpx.Response:
    async with httpx.AsyncClient(base_url=venue.http_url) as http:
        return await http.post("/_sim/fault", json=spec)


def market_b_frames(ds1h) -> list[str]:
    """What a non-custom subscriber of market 2's tokens receives from a full replay."""
    tokens = set(ds1h.markets[1].token_ids)
    out = []
    for f in ds1h.frames:
        ev = json.loads(f.frame)
        if ev.get("asset_id") in tokens or ev.get("event_type") == "price_change":
            out.append(f.frame)
    return out


async def test_disconnect_all_and_one(ds1h):
    tokens = ds1h.markets[1].token_ids
    async with VenueServer(ds1h, speed=FROZEN, start_at_ns=frozen_start(ds1h, 10)) as venue:
        async with connect(venue.ws_url) as a, connect(venue.ws_url) as b, connect(venue.ws_url) as c:
            for ws in (a, b, c):
                await ws.send(subscribe_msg(tokens))
                await recv(ws)
            ids = [x["id"] for x in venue.state()["connections"]]
            r = await fault(venue, kind="disconnect", conn=ids[0])
            assert r.status_code == 200 and r.json()["dropped"] == 1
            with pytest.raises(ConnectionClosed) as info:
                await recv(a)
            assert info.value.rcvd is None  # abrupt: no close frame
            await b.send("PING")
            assert await recv(b) == "PONG"
            r = await fault(venue, kind="disconnect")
            assert r.json()["dropped"] == 2
            for ws in (b, c):
                with pytest.raises(ConnectionClosed):
                    await recv(ws)
        st = venue.state()
        assert st["faults"]["applied"] == {"disconnect": 2} and st["connections"] == []


async def test_stall_loses_events_but_answers_ping(ds1h):
    start = frozen_start(ds1h, 100)
    async with VenueServer(ds1h, speed=5.0, start_at_ns=start) as venue:
        async with connect(venue.ws_url) as ws:
            venue.inject("stall", seconds=1.0)
            t0 = time.monotonic()
            await ws.send(subscribe_msg(ds1h.markets[1].token_ids))
            dump = json.loads(await recv(ws))
            assert len(dump) == 2  # replies still flow during a stall
            await ws.send("PING")
            assert await recv(ws) == "PONG"
            assert venue.state()["faults"]["active"]["stall_seconds_left"] > 0
            first = json.loads(await recv(ws, 3))
            assert time.monotonic() - t0 >= 0.95
            st = venue.state()
            assert st["faults"]["lost_frames"] >= 2 and st["faults"]["applied"] == {"stall": 1}
            # the first event after the stall is seconds of venue time past the snapshot
            assert int(first["timestamp"]) - int(dump[0]["timestamp"]) >= 2_000


async def test_malformed_frames_are_rejected_by_the_parser(ds1h):
    async with VenueServer(ds1h, speed=FROZEN, start_at_ns=frozen_start(ds1h, 10)) as venue:
        async with connect(venue.ws_url) as ws:
            await ws.send(subscribe_msg(ds1h.markets[1].token_ids))
            await recv(ws)
            r = await fault(venue, kind="malformed", count=3)
            assert r.status_code == 200 and r.json()["count"] == 3
            got = await recv_until_quiet(ws, 0.3)
    assert len(got) == 3
    parser = MarketParser()
    assert [ev for f in got for ev in parser.parse(f, 0)] == []
    assert dict(parser.rejects) == {"invalid_json": 1, "unknown_event_type": 1, "bad_number": 1}


@pytest.mark.parametrize("kind", ["duplicate", "reorder"])
async def test_duplicate_and_reorder(ds1h, kind):
    expected = market_b_frames(ds1h)
    async with VenueServer(ds1h, speed=0) as venue:
        assert venue.inject(kind, count=2) == {"kind": kind, "count": 2}
        async with connect(venue.ws_url) as ws:
            await ws.send(subscribe_msg(ds1h.markets[1].token_ids))
            assert await recv(ws) == "[]"
            got = [await recv(ws) for _ in range(len(expected) + 2 if kind == "duplicate" else len(expected))]
            assert await recv_until_quiet(ws, 0.2) == []
        st = venue.state()["faults"]
    e = expected
    if kind == "duplicate":
        assert got == [e[0], e[0], e[1], e[1], *e[2:]]
        assert st["duplicated_frames"] == 2
    else:
        assert got == [e[1], e[0], e[3], e[2], *e[4:]]
        assert st["reordered_pairs"] == 2
    assert st["applied"] == {kind: 1}


async def test_tick_size_change_then_resnapshot(ds1h):
    m = ds1h.markets[1]
    yes, no = m.token_ids
    async with VenueServer(ds1h, speed=FROZEN, start_at_ns=frozen_start(ds1h, 100)) as venue:
        async with connect(venue.ws_url) as ws, httpx.AsyncClient(base_url=venue.http_url) as http:
            await ws.send(subscribe_msg([yes, no]))
            await recv(ws)
            r = await http.post("/_sim/fault", json={"kind": "tick_size_change", "asset_id": yes})
            assert r.status_code == 200 and r.json()["assets"] == [yes]
            evs = MarketParser().parse(await recv(ws), 0)
            assert len(evs) == 1 and type(evs[0]) is TickSizeChange
            assert (evs[0].asset_id, evs[0].old_tick_size, evs[0].new_tick_size) == (yes, 10_000, 1_000)
            assert evs[0].market == m.condition_id
            # the client's way to re-snapshot one token: unsubscribe + subscribe
            await ws.send(json.dumps({"operation": "unsubscribe", "assets_ids": [yes]}))
            await ws.send(json.dumps({"operation": "subscribe", "assets_ids": [yes]}))
            book = json.loads(await recv(ws))[0]
            assert book["asset_id"] == yes and book["tick_size"] == "0.001" and book["bids"]
            assert (await http.get("/book", params={"token_id": yes})).json()["tick_size"] == "0.001"
            gm = (await http.get("/markets", params={"slug": m.slug})).json()[0]
            assert gm["orderPriceMinTickSize"] == 0.001
            # all known tokens: subscribers get the frames of their own tokens only
            r = await http.post("/_sim/fault", json={"kind": "tick_size_change", "new_tick_size": "0.0001"})
            assert len(r.json()["assets"]) == 4
            got = await recv_until_quiet(ws, 0.3)
            assert sorted(json.loads(f)["asset_id"] for f in got) == sorted([yes, no])
            assert {json.loads(f)["new_tick_size"] for f in got} == {"0.0001"}
        assert venue.state()["faults"]["applied"] == {"tick_size_change": 2}


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "nope"},
        {"kind": "stall"},
        {"kind": "stall", "seconds": -1},
        {"kind": "duplicate", "count": 0},
        {"kind": "malformed", "count": "3"},
        {"kind": "disconnect", "conn": 999},
        {"kind": "tick_size_change", "asset_id": "42"},
        {"kind": "tick_size_change", "new_tick_size": "x"},
        {"kind": "reorder", "count": 1, "extra": True},
    ],
)
async def test_bad_fault_requests_are_400(ds1h, spec):
    async with VenueServer(ds1h, speed=FROZEN, start_at_ns=frozen_start(ds1h, 10)) as venue:
        r = await fault(venue, **spec)
        assert r.status_code == 400 and "error" in r.json()
        kind = spec.pop("kind")
        with pytest.raises(FaultError):
            venue.inject(kind, **spec)
        assert venue.state()["faults"]["applied"] == {}


async def test_fault_body_must_be_json(ds1h):
    async with VenueServer(ds1h, speed=FROZEN) as venue:
        async with httpx.AsyncClient(base_url=venue.http_url) as http:
            r = await http.post("/_sim/fault", content=b"stall please")
            assert r.status_code == 400
            r = await http.post("/_sim/fault", json=["stall"])
            assert r.status_code == 400


async def test_reorder_never_loses_the_last_held_frame(ds1h):
    from clobflow.sim.datasets import Dataset

    ds = Dataset("slice", ds1h.markets, ds1h.frames[:9])
    e = market_b_frames(ds)
    assert len(e) == 5
    async with VenueServer(ds, speed=0) as venue:
        venue.inject("reorder", count=10)
        async with connect(venue.ws_url) as ws:
            await ws.send(subscribe_msg(ds1h.markets[1].token_ids))
            await recv(ws)
            got = await recv_until_quiet(ws, 0.3)
    assert got == [e[1], e[0], e[3], e[2], e[4]]
