"""CLOB REST client against a real loopback HTTP server (127.0.0.1, stdlib ThreadingHTTPServer)
serving the real ``/book`` capture; pure ``parse_book_response`` on the same capture."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clobflow.core.clock import SimClock
from clobflow.core.errors import Retryable, VenueRejected
from clobflow.venues.polymarket.clob_rest import CLOB_PACES, ClobRestClient, parse_book_response
from clobflow.venues.polymarket.http import (
    HttpRejected,
    HttpRetryable,
    Pace,
    RateLimiters,
    encode_params,
)
from tests.venues.polymarket.loopback_http import FakeTime, LoopbackHTTP

REST = Path(__file__).resolve().parents[3] / "fixtures" / "polymarket" / "rest"
BOOK = json.loads((REST / "clob_book_2024.json").read_text())
TOKEN = BOOK["asset_id"]
S = 1_000_000_000


@pytest.fixture
def srv():
    s = LoopbackHTTP()
    yield s
    s.close()


def make(srv: LoopbackHTTP, t: FakeTime | None = None, **kw: Any) -> ClobRestClient:
    t = t or FakeTime()
    limiters = RateLimiters(CLOB_PACES, clock_ns=t.clock_ns, sleep=t.sleep)
    return ClobRestClient(srv.url, rate_limiter=limiters, sleep=t.sleep, **kw)


def book_route(body: Any = BOOK) -> Callable:
    def route(q: dict[str, list[str]]):
        if q.get("token_id") != [TOKEN]:
            return 404, {"error": "No orderbook exists for the requested token id"}
        return 200, body

    return route


# -- pure parsing ----------------------------------------------------------------------------


def test_parse_book_best_first():
    snap = parse_book_response(BOOK, ts_recv_ns=42)
    # Wire: bids ascending, asks descending (best last); ours: best first.
    assert snap.bids[0] == (100_000, 125_000_000) and snap.bids[-1] == (10_000, 1_000_000_000)
    assert snap.asks[0] == (140_000, 705_000_000) and snap.asks[-1] == (980_000, 5_000_000_000)
    assert [p for p, _ in snap.bids] == sorted((p for p, _ in snap.bids), reverse=True)
    assert [p for p, _ in snap.asks] == sorted(p for p, _ in snap.asks)
    assert (192 * 10**6 + 300_000) in [s for _, s in snap.asks]  # "192.3" exactly
    assert snap.ts_venue_ns == 1728799418260 * 1_000_000 and snap.ts_recv_ns == 42
    assert snap.hash == BOOK["hash"] and snap.market == BOOK["market"] and snap.asset_id == TOKEN
    assert snap.tick_size is None and snap.min_order_size is None and snap.last_trade_price is None


def test_parse_book_optional_fields_and_errors():
    d = copy.deepcopy(BOOK)
    d.update(tick_size="0.01", min_order_size="5", neg_risk=False, last_trade_price="0.12")
    snap = parse_book_response(d, 0)
    assert (snap.tick_size, snap.min_order_size) == (10_000, 5_000_000)
    assert snap.last_trade_price == 120_000
    d["last_trade_price"] = ""
    assert parse_book_response(d, 0).last_trade_price is None
    for broken, msg in (({k: v for k, v in BOOK.items() if k != "bids"}, "'bids'"),
                        ({**BOOK, "asks": [{"price": "x", "size": "1"}]}, "malformed number"),
                        ({**BOOK, "asks": [{"price": "0.5"}]}, "price/size"),
                        ([], "not an object")):
        with pytest.raises(ValueError, match=msg):
            parse_book_response(broken, 0)


def test_encode_params():
    assert encode_params({"a": True, "b": False, "c": None, "slug": ["x", "y"], "n": 3}) == [
        ("a", "true"), ("b", "false"), ("slug", "x"), ("slug", "y"), ("n", "3")]


def test_paces_under_published_limits():
    # protocol.md §4.4: /book 1,500 / 10 s; CLOB general 9,000 / 10 s.
    for family, limit in (("book", 1500), ("general", 9000)):
        p = CLOB_PACES[family]
        assert p.per_s == 10.0 and p.count <= limit // 2 and p.count + p.burst <= limit


# -- over HTTP -------------------------------------------------------------------------------


async def test_book_over_http_with_injected_clock(srv: LoopbackHTTP):
    srv.routes["/book"] = book_route()
    clock = SimClock(1_700_000_000 * S)
    async with make(srv, clock=clock) as c:
        snap = await c.book(TOKEN)
        assert snap.ts_recv_ns == 1_700_000_000 * S and snap.bids[0][0] == 100_000
        snap2 = await c.book(TOKEN, ts_recv_ns=7)
        assert snap2.ts_recv_ns == 7
        # the engine's qualified id: the venue is asked with its own id, the answer is qualified
        snap3 = await c.book("POLYMARKET:" + TOKEN)
        assert snap3.asset_id == "POLYMARKET:" + TOKEN and snap3.market == "POLYMARKET:" + snap.market
        assert snap3.bids == snap.bids
    assert srv.requests == [("/book", f"token_id={TOKEN}")] * 3


async def test_book_unknown_token_is_rejected(srv: LoopbackHTTP):
    srv.routes["/book"] = book_route()
    async with make(srv) as c:
        with pytest.raises(VenueRejected) as ei:
            await c.book("123")
    assert isinstance(ei.value, HttpRejected) and ei.value.status == 404
    assert "No orderbook exists" in ei.value.body and len(srv.requests) == 1


async def test_book_for_another_token_or_malformed_is_rejected(srv: LoopbackHTTP):
    srv.routes["/book"] = lambda q: (200, {**BOOK, "asset_id": "999"})
    async with make(srv) as c:
        with pytest.raises(HttpRejected, match="asked for"):
            await c.book(TOKEN)
        srv.routes["/book"] = lambda q: (200, {"market": "m"})
        with pytest.raises(HttpRejected, match="lacks 'asset_id'"):
            await c.book(TOKEN)


async def test_book_503_then_ok_and_exhausted(srv: LoopbackHTTP):
    n = []

    def flaky(q):
        n.append(1)
        return (503, "unavailable") if len(n) < 3 else (200, BOOK)

    srv.routes["/book"] = flaky
    t = FakeTime()
    async with make(srv, t) as c:
        assert (await c.book(TOKEN)).asset_id == TOKEN
        assert t.sleeps == [0.25, 0.5]
        srv.routes["/book"] = lambda q: (429, "rate limited", {"Retry-After": "60"})
        with pytest.raises(Retryable) as ei:
            await c.book(TOKEN)
    assert isinstance(ei.value, HttpRetryable) and ei.value.status == 429
    assert t.sleeps[2:] == [5.0, 5.0]  # Retry-After is honoured up to the 5 s cap


async def test_server_time_bare_integer(srv: LoopbackHTTP):
    srv.routes["/time"] = lambda q: (200, "1765432100")
    async with make(srv) as c:
        assert await c.server_time_s() == 1765432100
        srv.routes["/time"] = lambda q: (200, "1765432100123")  # milliseconds, by magnitude
        assert await c.server_time_s() == 1765432100
        srv.routes["/time"] = lambda q: (200, {"time": 1765432101})
        assert await c.server_time_s() == 1765432101
        srv.routes["/time"] = lambda q: (200, "<html>nope</html>")
        with pytest.raises(HttpRejected, match="not an integer"):
            await c.server_time_s()


async def test_book_requests_are_paced(srv: LoopbackHTTP):
    srv.routes["/book"] = book_route()
    t = FakeTime()
    limiters = RateLimiters({"book": Pace(4, 1.0, burst=2), "general": Pace(1, 1.0)},
                            clock_ns=t.clock_ns, sleep=t.sleep)
    async with ClobRestClient(srv.url, rate_limiter=limiters, sleep=t.sleep) as c:
        for _ in range(4):
            await c.book(TOKEN)
    assert t.sleeps == pytest.approx([0.25, 0.25])


@pytest.mark.parametrize("field,level", [("bids", {"price": "1.5", "size": "10"}),
                                         ("asks", {"price": "0", "size": "10"}),
                                         ("bids", {"price": "0.5", "size": "-10"})])
def test_a_rest_book_level_out_of_range_is_refused(field, level):
    """Issue 10 finding 2 on the REST snapshot path: the same ranges as the WebSocket parser."""
    body = copy.deepcopy(BOOK)
    body[field] = body[field] + [level]
    with pytest.raises(ValueError, match="out of range"):
        parse_book_response(body, ts_recv_ns=42)


def test_a_rest_book_timestamp_out_of_range_is_refused():
    with pytest.raises(ValueError):
        parse_book_response({**BOOK, "timestamp": "1.5e400"}, ts_recv_ns=42)
