"""Gamma parsing on every real Gamma capture, and the Gamma client against a real loopback HTTP
server (stdlib ``ThreadingHTTPServer`` on 127.0.0.1) that serves fixture-derived markets and
records the query strings it received. No traffic leaves 127.0.0.1."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from clobflow.core.errors import Retryable, VenueRejected
from clobflow.core.markets import FeeSchedule
from clobflow.venues.polymarket.gamma import (
    GAMMA_PACES,
    GammaClient,
    GammaFieldError,
    NotBinaryMarket,
    iso_to_ns,
    ns_to_iso,
    parse_gamma_event,
    parse_gamma_market,
    parse_gamma_markets,
)
from clobflow.venues.polymarket.http import (
    HttpRejected,
    HttpRetryable,
    Pace,
    RateLimiter,
    RateLimiters,
)
from tests.venues.polymarket.loopback_http import FakeTime, LoopbackHTTP, Route

REST = Path(__file__).resolve().parents[3] / "fixtures" / "polymarket" / "rest"
S = 1_000_000_000


def load(name: str) -> Any:
    return json.loads((REST / name).read_text())


@pytest.fixture
def srv():
    s = LoopbackHTTP()
    yield s
    s.close()


def client(srv: LoopbackHTTP, t: FakeTime | None = None, **kw: Any) -> GammaClient:
    t = t or FakeTime()
    return GammaClient(srv.url, sleep=t.sleep, clock_ns=t.clock_ns, **kw)


def variant(i: int) -> dict[str, Any]:
    """A distinct market derived from the real 5m capture (ids, slug and tokens changed)."""
    d = copy.deepcopy(load("gamma_market_btc_updown_5m_2026-03.json"))
    d["id"] = str(9_000_000 + i)
    d["slug"] = f"m-{i}"
    d["conditionId"] = f"0x{i:064x}"
    d["clobTokenIds"] = json.dumps([str(10**20 + 2 * i), str(10**20 + 2 * i + 1)])
    return d


# -- parsing: real captures ------------------------------------------------------------------


def test_updown_5m_capture():
    d = load("gamma_market_btc_updown_5m_2026-03.json")
    m = parse_gamma_market(d)
    assert m.condition_id == d["conditionId"] and m.market_id == "1557558"
    assert m.slug == m.event_slug == "btc-updown-5m-1773307200"
    assert (m.yes.outcome, m.no.outcome) == ("Up", "Down")
    assert m.yes.token_id == json.loads(d["clobTokenIds"])[0]
    assert m.no.token_id.startswith("7118396081070582")
    assert m.tick_size == 10_000 and m.min_order_size == 5_000_000
    # The slug's timestamp is the window start (eventStartTime), endDate = start + 300 s.
    assert m.start_ns == 1773307200 * S and m.end_ns == m.start_ns + 300 * S
    # feesEnabled but no feeSchedule in this capture: unknown, not zero.
    assert m.fee_schedule is None
    assert m.active and m.accepting_orders and m.enable_order_book
    assert not m.closed and not m.neg_risk


def test_updown_twap_capture_fee_schedule():
    m = parse_gamma_market(load("gamma_market_btc_updown_5m_twap_2026-08.json"))
    assert m.fee_schedule == FeeSchedule(70_000, exponent=1, taker_only=True, rebate_rate=200_000)
    assert m.start_ns == 1787414400 * S and m.end_ns == 1787414700 * S
    assert m.event_slug == "" and m.tags == ()


def test_sports_capture():
    m = parse_gamma_market(load("gamma_market_sports_feeschedule_2026-04.json"))
    assert m.fee_schedule == FeeSchedule(30_000, exponent=1, taker_only=True, rebate_rate=250_000)
    assert m.tick_size == 1_000 and (m.yes.outcome, m.no.outcome) == ("FaZe", "illwill")
    assert m.closed and not m.accepting_orders and m.active
    assert m.start_ns == iso_to_ns("2026-04-05T15:10:00Z")  # eventStartTime, not startDate
    assert m.event_slug == "cs2-faze-ill-2026-04-05"


def test_events_capture_markets():
    ev = load("gamma_events_2026.json")[0]
    markets, skipped = parse_gamma_event(ev)
    assert skipped == [] and len(markets) == 2
    for m in markets:
        assert m.neg_risk and m.fee_schedule is None and m.tick_size == 1_000
        assert m.event_slug == "democratic-presidential-nominee-2028"
        assert "politics" in m.tags and "elections" in m.tags
        assert (m.yes.outcome, m.no.outcome) == ("Yes", "No")
        assert m.start_ns is not None and m.end_ns == iso_to_ns("2028-11-07T00:00:00Z")
    assert markets[0].start_ns == iso_to_ns("2025-07-11T18:36:02.893Z") == 1752258962893 * 1_000_000


def test_fees_disabled_wins_over_schedule():
    d = load("gamma_market_btc_updown_5m_twap_2026-08.json")
    d["feesEnabled"] = False
    assert parse_gamma_market(d).fee_schedule is None


def test_real_lists_accepted_and_market_tags():
    d = load("gamma_market_btc_updown_5m_twap_2026-08.json")
    d["outcomes"] = ["Up", "Down"]
    d["clobTokenIds"] = json.loads(d["clobTokenIds"])
    d["tags"] = [{"id": "21", "slug": "crypto"}, {"id": "1", "slug": "bitcoin"}]
    m = parse_gamma_market(d)
    assert m.yes.outcome == "Up" and m.tags == ("crypto", "bitcoin")


def test_iso_helpers():
    assert iso_to_ns("2026-03-12") == iso_to_ns("2026-03-12T00:00:00Z")
    assert iso_to_ns("2026-04-05 19:37:33+00") == iso_to_ns("2026-04-05T19:37:33Z")
    base = iso_to_ns("2026-03-12T09:25:00Z")
    assert iso_to_ns("2026-03-12T09:25:00.1234567Z") == base + 123_456_000
    assert ns_to_iso(1773307200 * S + 999) == "2026-03-12T09:20:00Z"


# -- parsing: errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("clobTokenIds", None),
        ("clobTokenIds", '["only-one"]'),
        ("clobTokenIds", '["a", "a"]'),
        ("clobTokenIds", '["a", "b"'),
        ("outcomes", "[Up, Down]"),
        ("outcomes", '{"a": 1}'),
        ("conditionId", None),
        ("slug", ""),
        ("orderPriceMinTickSize", None),
        ("orderPriceMinTickSize", "abc"),
        ("orderPriceMinTickSize", 0),
        ("orderPriceMinTickSize", 1),
        ("orderMinSize", None),
        ("active", "true"),
        ("endDate", "yesterday"),
        ("eventStartTime", 12),
        ("feeSchedule", "0.07"),
    ],
)
def test_bad_field_names_itself(field: str, value: Any):
    d = load("gamma_market_btc_updown_5m_twap_2026-08.json")
    if value is None:
        d.pop(field, None)
    else:
        d[field] = value
    with pytest.raises(GammaFieldError) as ei:
        parse_gamma_market(d)
    assert ei.value.field == field and repr(field) in str(ei.value)
    assert isinstance(ei.value, ValueError)
    assert ("btc-updown-5m-1787414400" if field != "slug" else "3763487") in str(ei.value)


def test_bad_fee_schedule_fields():
    d = load("gamma_market_btc_updown_5m_twap_2026-08.json")
    d["feeSchedule"]["exponent"] = 1.5
    with pytest.raises(GammaFieldError, match="feeSchedule.exponent"):
        parse_gamma_market(d)
    d["feeSchedule"] = {"exponent": 1}
    with pytest.raises(GammaFieldError, match="'feeSchedule.rate' is missing"):
        parse_gamma_market(d)
    d["feeSchedule"] = {"rate": 0.07, "takerOnly": "yes"}
    with pytest.raises(GammaFieldError, match="feeSchedule.takerOnly"):
        parse_gamma_market(d)


def test_non_binary_is_skipped_with_reason():
    good = load("gamma_market_btc_updown_5m_twap_2026-08.json")
    multi = copy.deepcopy(good)
    multi["slug"] = "three-way"
    multi["outcomes"] = '["A", "B", "C"]'
    multi["clobTokenIds"] = '["1", "2", "3"]'
    broken = copy.deepcopy(good)
    broken["slug"] = "broken"
    del broken["clobTokenIds"]
    with pytest.raises(NotBinaryMarket):
        parse_gamma_market(multi)
    markets, skipped = parse_gamma_markets([multi, good, broken, "junk"])  # type: ignore[list-item]
    assert [m.slug for m in markets] == [good["slug"]]
    assert [s for s, _ in skipped] == ["three-way", "broken", "?"]
    assert "3 outcomes" in skipped[0][1] and "clobTokenIds" in skipped[1][1]


# -- client over loopback HTTP ---------------------------------------------------------------


def paged_markets(rows: list[dict[str, Any]]) -> Route:
    def handler(q: dict[str, list[str]]):
        off, lim = int(q.get("offset", ["0"])[0]), int(q.get("limit", ["20"])[0])
        return 200, rows[off : off + lim]

    return handler


async def test_markets_pagination(srv: LoopbackHTTP):
    rows = [variant(i) for i in range(250)]
    srv.routes["/markets"] = paged_markets(rows)
    async with client(srv) as g:
        got = await g.markets(active=True, closed=False, tag_slug="crypto")
    assert [r["slug"] for r in got] == [r["slug"] for r in rows]
    qs = srv.queries("/markets")
    assert [(q["offset"], q["limit"]) for q in qs] == [
        (["0"], ["100"]), (["100"], ["100"]), (["200"], ["100"])]
    for q in qs:
        assert q["active"] == ["true"] and q["closed"] == ["false"] and q["tag_slug"] == ["crypto"]


async def test_markets_max_count_and_exact_multiple(srv: LoopbackHTTP):
    rows = [variant(i) for i in range(200)]
    srv.routes["/markets"] = paged_markets(rows)
    async with client(srv) as g:
        assert len(await g.markets(max_count=120)) == 120
        pages = [(q["offset"], q["limit"]) for q in srv.queries("/markets")]
        assert pages == [(["0"], ["100"]), (["100"], ["20"])]
        srv.requests.clear()
        assert len(await g.markets()) == 200  # 100 + 100 + an empty page
        assert len(srv.queries("/markets")) == 3


async def test_events_pagination(srv: LoopbackHTTP):
    ev = load("gamma_events_2026.json")
    srv.routes["/events"] = paged_markets(ev * 3)
    async with client(srv, page_size=2) as g:
        events = await g.events(slug="democratic-presidential-nominee-2028")
    assert len(events) == 3 and len(srv.queries("/events")) == 2
    assert srv.queries("/events")[0]["slug"] == ["democratic-presidential-nominee-2028"]
    assert len(parse_gamma_event(events[0])[0]) == 2


def by_key(rows: list[dict[str, Any]]) -> Route:
    def handler(q: dict[str, list[str]]):
        slugs = set(q.get("slug", []))
        toks = set(q.get("clob_token_ids", []))
        hits = [r for r in rows if r["slug"] in slugs or toks & set(json.loads(r["clobTokenIds"]))]
        return 200, hits[: int(q.get("limit", ["20"])[0])]

    return handler


async def test_markets_by_slugs_chunked(srv: LoopbackHTTP):
    rows = [variant(i) for i in range(120)]
    rows.append({**variant(500), "slug": "bad", "outcomes": "not json"})
    srv.routes["/markets"] = by_key(rows)
    slugs = [f"m-{i}" for i in range(120)] + ["m-0", "unknown-slug", "bad"]
    skipped: list[tuple[str, str]] = []
    async with client(srv, slug_chunk=50) as g:
        got = await g.markets_by_slugs(slugs, skipped=skipped)
    assert sorted(m.slug for m in got) == sorted(f"m-{i}" for i in range(120))
    qs = srv.queries("/markets")
    assert [len(q["slug"]) for q in qs] == [50, 50, 22]  # deduplicated, then chunked
    assert [q["limit"] for q in qs] == [["50"], ["50"], ["22"]]
    assert skipped and skipped[0][0] == "bad" and "outcomes" in skipped[0][1]


async def test_market_by_slug_and_token_ids(srv: LoopbackHTTP):
    real = load("gamma_market_btc_updown_5m_twap_2026-08.json")
    srv.routes["/markets"] = by_key([real])
    async with client(srv) as g:
        m = await g.market_by_slug("btc-updown-5m-1787414400")
        assert m is not None and m.fee_schedule is not None and m.fee_schedule.rate == 70_000
        assert await g.market_by_slug("nope") is None
        by_tok = await g.markets_by_token_ids([m.no.token_id])
    assert [x.condition_id for x in by_tok] == [m.condition_id]
    assert srv.queries("/markets")[-1]["clob_token_ids"] == [m.no.token_id]


async def test_429_then_success_honours_retry_after(srv: LoopbackHTTP):
    calls = []

    def handler(q):
        calls.append(q)
        return (429, {"error": "slow down"}, {"Retry-After": "2"}) if len(calls) == 1 else (200, [])

    srv.routes["/markets"] = handler
    t = FakeTime()
    async with client(srv, t) as g:
        assert await g.markets() == []
        assert g.http.retries == 1
    assert len(calls) == 2 and t.sleeps == [2.0]


async def test_500_exhausted_is_retryable(srv: LoopbackHTTP):
    srv.routes["/markets"] = lambda q: (500, "internal error")
    t = FakeTime()
    async with client(srv, t) as g:
        with pytest.raises(Retryable) as ei:
            await g.markets()
    assert isinstance(ei.value, HttpRetryable) and ei.value.status == 500
    assert len(srv.requests) == 3 and t.sleeps == [0.25, 0.5]


async def test_404_is_rejected_without_retry(srv: LoopbackHTTP):
    async with client(srv) as g:
        with pytest.raises(VenueRejected) as ei:
            await g.market_by_slug("x")  # no such route on this server: 404
    assert isinstance(ei.value, HttpRejected) and ei.value.status == 404
    assert "no route" in ei.value.body and "404" in str(ei.value)
    assert len(srv.requests) == 1


async def test_bad_bodies_are_rejected(srv: LoopbackHTTP):
    srv.routes["/markets"] = lambda q: (200, "<html>oops</html>")
    srv.routes["/events"] = lambda q: (200, {"not": "a list"})
    async with client(srv) as g:
        with pytest.raises(HttpRejected, match="invalid JSON"):
            await g.markets()
        with pytest.raises(HttpRejected, match="expected a JSON list"):
            await g.events()


async def test_network_errors_are_retryable(srv: LoopbackHTTP):
    import time as _time

    srv.routes["/markets"] = lambda q: (_time.sleep(0.2), (200, []))[1]
    async with client(srv, timeout_s=0.05, max_attempts=1) as g:
        with pytest.raises(HttpRetryable, match="timeout"):
            await g.markets()
    closed_port = LoopbackHTTP()
    url = closed_port.url
    closed_port.close()
    t = FakeTime()
    async with GammaClient(url, sleep=t.sleep, clock_ns=t.clock_ns) as g:
        with pytest.raises(HttpRetryable, match="network error") as ei:
            await g.markets()
    assert ei.value.status is None and len(t.sleeps) == 2


# -- rate limiting ---------------------------------------------------------------------------


async def test_rate_limiter_burst_then_pace():
    t = FakeTime()
    rl = RateLimiter(Pace(10, 1.0, burst=3), clock_ns=t.clock_ns, sleep=t.sleep)
    waits = [await rl.acquire() for _ in range(6)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3:] == pytest.approx([0.1, 0.1, 0.1])
    t.ns += 10 * S  # idle: the burst refills, but never beyond `burst`
    assert [await rl.acquire() for _ in range(4)] == pytest.approx([0.0, 0.0, 0.0, 0.1])


async def test_client_requests_are_paced(srv: LoopbackHTTP):
    srv.routes["/markets"] = lambda q: (200, [])
    t = FakeTime()
    paces = {"markets": Pace(2, 1.0), "general": Pace(100, 1.0)}
    limiters = RateLimiters(paces, clock_ns=t.clock_ns, sleep=t.sleep)
    async with GammaClient(srv.url, rate_limiter=limiters, sleep=t.sleep) as g:
        for _ in range(4):
            await g.markets()
    assert t.sleeps == pytest.approx([0.5, 0.5, 0.5])
    assert len(srv.requests) == 4


def test_default_paces_stay_under_half_of_published_limits():
    # protocol.md §4.4: /markets 300 / 10 s, /events 500 / 10 s, Gamma general 4,000 / 10 s.
    for family, limit in (("markets", 300), ("events", 500), ("general", 4000)):
        p = GAMMA_PACES[family]
        assert p.per_s == 10.0 and p.count <= limit // 2 and p.count + p.burst <= limit
