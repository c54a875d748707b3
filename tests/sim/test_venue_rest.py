"""The simulated venue's REST endpoints over real loopback HTTP (Gamma, CLOB, control)."""

from __future__ import annotations

import json

import httpx
import pytest

from clobflow.core.numbers import parse_micros
from clobflow.sim.venue import VenueServer

from .helpers import FROZEN, frozen_start, replayed_books


def _second_resolution(ds) -> int:
    idx = [i for i, f in enumerate(ds.frames) if '"event_type":"market_resolved"' in f.frame]
    return idx[1]


@pytest.fixture
async def venue15(ds15_small):
    """Four 15-minute windows, clock frozen just after the second window resolved."""
    start = frozen_start(ds15_small, _second_resolution(ds15_small))
    v = VenueServer(ds15_small, speed=FROZEN, start_at_ns=start)
    await v.start()
    yield v
    await v.stop()


@pytest.fixture
async def http15(venue15):
    async with httpx.AsyncClient(base_url=venue15.http_url) as client:
        yield client


async def test_markets_are_gamma_shaped(http15, ds15_small):
    r = await http15.get("/markets")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    rows = r.json()
    assert [row["slug"] for row in rows] == [m.slug for m in ds15_small.markets]
    for row, m in zip(rows, ds15_small.markets, strict=True):
        for key in ("outcomes", "outcomePrices", "clobTokenIds"):
            assert isinstance(row[key], str)
        assert json.loads(row["clobTokenIds"]) == list(m.token_ids)
        assert row["orderMinSize"] == 5 and row["orderPriceMinTickSize"] == 0.01
        assert row["feesEnabled"] is False and row["feeSchedule"] is None
        assert row["conditionId"] == m.condition_id and row["id"] == m.market_id


async def test_markets_status_follows_the_replay(http15, ds15_small):
    rows = (await http15.get("/markets")).json()
    assert [r["closed"] for r in rows] == [True, True, False, False]
    assert [r["acceptingOrders"] for r in rows] == [False, False, True, True]
    for r, m in zip(rows[:2], ds15_small.markets, strict=False):
        winner = ds15_small.resolutions[m.condition_id].winning_asset_id
        assert json.loads(r["outcomePrices"]) == (["1", "0"] if winner == m.yes.token_id else ["0", "1"])
    assert "bestBid" in rows[2] and "bestBid" not in rows[3]  # window 4 has no book yet


async def test_markets_filters(http15, ds15_small):
    ms = ds15_small.markets

    async def slugs(params) -> list[str]:
        r = await http15.get("/markets", params=params)
        assert r.status_code == 200, r.text
        return [row["slug"] for row in r.json()]

    assert await slugs([("slug", ms[0].slug), ("slug", ms[2].slug)]) == [ms[0].slug, ms[2].slug]
    assert await slugs({"slug": "btc-updown-15m-1"}) == []
    assert await slugs({"id": ms[1].market_id}) == [ms[1].slug]
    assert await slugs({"clob_token_ids": ms[3].no.token_id}) == [ms[3].slug]
    assert await slugs({"condition_ids": ms[2].condition_id}) == [ms[2].slug]
    assert await slugs({"closed": "true"}) == [ms[0].slug, ms[1].slug]
    assert await slugs({"closed": "false", "active": "true"}) == [ms[2].slug, ms[3].slug]
    assert await slugs({"active": "false"}) == []
    assert await slugs({"end_date_min": "2025-12-26T11:15:00Z"}) == [ms[2].slug, ms[3].slug]
    assert await slugs({"end_date_max": "2025-12-26T11:00:00Z"}) == [ms[0].slug, ms[1].slug]
    assert await slugs({"tag_slug": "15M"}) == [m.slug for m in ms]
    assert await slugs({"tag_slug": "politics"}) == []
    assert await slugs({"tag_id": "21"}) == [m.slug for m in ms]
    assert await slugs({"limit": "2", "offset": "1"}) == [ms[1].slug, ms[2].slug]
    assert await slugs({"limit": "0"}) == []


@pytest.mark.parametrize(
    "params",
    [{"limit": "x"}, {"offset": "-1"}, {"active": "maybe"}, {"closed": ""}, {"end_date_min": "yesterday"}],
)
async def test_markets_bad_query_is_400(http15, params):
    r = await http15.get("/markets", params=params)
    assert r.status_code == 400 and "error" in r.json()


async def test_events_by_slug(http15, ds15_small):
    m = ds15_small.markets[2]
    events = (await http15.get("/events", params={"slug": m.slug})).json()
    assert len(events) == 1
    assert events[0]["slug"] == m.slug and events[0]["title"] == m.question
    assert [x["conditionId"] for x in events[0]["markets"]] == [m.condition_id]
    assert (await http15.get("/events", params={"slug": "nope"})).json() == []


async def test_time_is_the_replay_clock(http15, venue15):
    r = await http15.get("/time")
    assert r.status_code == 200 and r.json() == venue15.start_at_ns // 1_000_000_000


async def test_unknown_path_and_wrong_method(http15):
    r = await http15.get("/nope")
    assert r.status_code == 404 and r.headers["content-type"] == "application/json" and "error" in r.json()
    assert (await http15.post("/markets", json={})).status_code == 405
    assert (await http15.get("/_sim/fault")).status_code == 405


async def test_sim_state(http15, ds15_small):
    st = (await http15.get("/_sim/state")).json()
    assert st["dataset"] == ds15_small.name and st["frames_total"] == len(ds15_small.frames)
    assert st["started"] is False and st["connections"] == [] and st["faults"]["applied"] == {}


async def test_book_is_current_and_ordered(ds1h):
    k = 200
    m = ds1h.markets[1]
    expected = replayed_books(ds1h, k)
    async with VenueServer(ds1h, speed=FROZEN, start_at_ns=frozen_start(ds1h, k)) as venue:
        async with httpx.AsyncClient(base_url=venue.http_url) as http:
            r = await http.get("/book", params={"token_id": m.yes.token_id})
            assert r.status_code == 200
            b = r.json()
            assert set(b) == {"market", "asset_id", "timestamp", "hash", "bids", "asks", "min_order_size",
                              "tick_size", "neg_risk", "last_trade_price"}
            assert b["market"] == m.condition_id and b["tick_size"] == "0.01" and b["min_order_size"] == "5"
            bids = [float(x["price"]) for x in b["bids"]]
            asks = [float(x["price"]) for x in b["asks"]]
            assert bids == sorted(bids) and asks == sorted(asks, reverse=True)
            book = expected.book(m.yes.token_id)
            assert parse_micros(b["bids"][-1]["price"]) == book.best_bid()
            assert parse_micros(b["asks"][-1]["price"]) == book.best_ask()
            assert len(b["bids"]) + len(b["asks"]) == len(book)
            assert b["timestamp"] == str(venue.start_at_ns // 1_000_000)
            r = await http.get("/book", params={"token_id": "42"})
            assert r.status_code == 404 and "error" in r.json()
            assert (await http.get("/book")).status_code == 400
