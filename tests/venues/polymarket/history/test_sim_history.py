"""The simulator's history routes over loopback HTTP: ``/trades``, ``/v2/trades``, ``/prices-history``."""

from __future__ import annotations

import json

import httpx
import pytest

from clobflow.sim.venue.history import VenueHistory
from tests.conftest import FIXTURES

from .conftest import WALLET

REST = FIXTURES / "polymarket" / "rest"
ELECTION = "0xdd22472e552920b8438158ea7238bfadfa4f736aa4cee91a6b86c39ead110917"
MADRID = "0xc8a2f17f42fa8493ebae503abec9d51efa7b57c3cc59a7b88933bffaa3618387"


@pytest.fixture
async def http(venue):
    async with httpx.AsyncClient(base_url=venue.http_url) as client:
        yield client


async def test_real_rows_are_served_verbatim(http):
    v1 = json.loads((REST / "data_api_trades_v1_sanitized.json").read_text())
    v2 = json.loads((REST / "data_api_v2_trades_2026-09.json").read_text())
    got = (await http.get("/trades", params={"market": ELECTION})).json()
    assert got == sorted(v1, key=lambda d: -d["timestamp"])  # newest first
    page = (await http.get("/v2/trades", params={"condition_id": MADRID})).json()
    assert page["data"] == [v2[0]]
    assert page["pagination"] == {"limit": 100, "offset": 0, "has_more": False, "next_cursor": None}
    # and each in the other API's casing
    renamed = (await http.get("/v2/trades", params={"condition": ELECTION, "limit": 1})).json()["data"][0]
    assert renamed["proxy_wallet"] == v1[0]["proxyWallet"] and renamed["token_id"] == v1[0]["asset"]
    assert (await http.get("/trades", params={"market": MADRID})).json()[0]["proxyWallet"] == v2[0]["proxy_wallet"]


async def test_v1_offset_cap_and_limits(http, venue, history_rows, mids):
    venue.rest.history = VenueHistory(history_rows, mids, offset_cap=100)
    ok = await http.get("/trades", params={"user": WALLET, "limit": 50, "offset": 100})
    assert ok.status_code == 200 and len(ok.json()) == 50
    refused = await http.get("/trades", params={"user": WALLET, "offset": 101})
    assert refused.status_code == 400 and "offset 101 exceeds the maximum of 100" in refused.json()["error"]
    assert (await http.get("/trades", params={"limit": 501})).status_code == 400
    assert (await http.get("/trades", params={"user": "0x12"})).status_code == 400


async def test_v1_time_window(http):
    rows = (await http.get("/trades", params={"user": WALLET, "start": 1766746000, "end": 1766746100,
                                              "limit": 500})).json()
    assert rows and all(1766746000 <= r["timestamp"] <= 1766746100 for r in rows)
    ts = [r["timestamp"] for r in rows]
    assert ts == sorted(ts, reverse=True)


async def test_v2_cursor_walk(http, ds4):
    seen, cursor, pages = [], None, 0
    while True:
        params = {"user": WALLET, "cursor": cursor} if cursor else {"user": WALLET, "limit": 400}
        body = (await http.get("/v2/trades", params=params)).json()
        seen += body["data"]
        pages += 1
        if not body["pagination"]["has_more"]:
            assert body["pagination"]["next_cursor"] is None
            break
        cursor = body["pagination"]["next_cursor"]
    assert pages == 7 and len(seen) == len({r["transaction_hash"] for r in seen}) == 2621
    assert [r["timestamp"] for r in seen] == sorted((r["timestamp"] for r in seen), reverse=True)


@pytest.mark.parametrize(("params", "needle"), [
    ({"offset": 5}, "offset is not a parameter"),
    ({"condition_id": "0x12"}, "malformed id"),
    ({"cursor": "nope"}, "invalid cursor"),
    ({"limit": 1001}, "limit must be in"),
])
async def test_v2_refusals(http, params, needle):
    r = await http.get("/v2/trades", params=params)
    assert r.status_code == 400 and needle in r.json()["error"]


async def test_v2_range_honoured_for_wallets_only(http, ds4):
    rng = {"start": 1766746000, "end": 1766746100, "limit": 1000}
    wallet = (await http.get("/v2/trades", params={"user": WALLET, **rng})).json()["data"]
    market = (await http.get("/v2/trades", params={"condition_id": ds4.markets[1].condition_id, **rng})).json()
    assert all(1766746000 <= r["timestamp"] <= 1766746100 for r in wallet)
    assert any(r["timestamp"] > 1766746100 for r in market["data"])  # documented: ignored


async def test_prices_history(http, ds4, venue):
    token = ds4.markets[0].yes.token_id
    body = (await http.get("/prices-history", params={"market": token, "startTs": 1766745000,
                                                      "endTs": 1766745900, "fidelity": 5})).json()
    pts = body["history"]
    assert pts and all(p["t"] % 300 == 0 and 0 < p["p"] < 1 for p in pts)
    now_s = venue.now_ns() // 10**9
    day = (await http.get("/prices-history", params={"market": token, "interval": "1d"})).json()["history"]
    assert day and all(now_s - 86_400 <= p["t"] <= now_s for p in day)
    bad = [({"market": "42", "interval": "max"}, 404), ({"market": token}, 400),
           ({"market": token, "interval": "1y"}, 400), ({"market": token, "interval": "max", "startTs": 1}, 400),
           ({"market": token, "startTs": 0, "endTs": 16 * 86_400}, 400), ({}, 400)]
    for params, status in bad:
        assert (await http.get("/prices-history", params=params)).status_code == status, params


async def test_fail_next(http, venue):
    venue.rest.history.fail_next(2, status=502)
    assert [(await http.get("/trades")).status_code for _ in range(3)] == [502, 502, 200]
    assert venue.rest.history.requests["/trades"] == 3


async def test_default_history_is_built_from_the_dataset(ds4):
    from clobflow.sim.venue import VenueServer

    async with VenueServer(ds4, speed=1e-6) as v:  # no history assigned: built on first use
        async with httpx.AsyncClient(base_url=v.http_url) as client:
            rows = (await client.get("/trades", params={"user": WALLET, "limit": 500})).json()
            assert len(rows) == 500 and {r["conditionId"] for r in rows} <= {m.condition_id for m in ds4.markets}
            token = ds4.markets[0].no.token_id
            rng = {"market": token, "startTs": 1766745000, "endTs": 1766746800}
            assert (await client.get("/prices-history", params=rng)).json()["history"]
            # `interval` counts back from the venue clock, here at the first frame: nothing yet
            assert (await client.get("/prices-history", params={"market": token, "interval": "max"})).json() == {
                "history": []}
