"""The markets job against the simulator's Gamma ``/markets`` over loopback."""

from __future__ import annotations

import json

from clobflow.venues.polymarket.history import Endpoints, ImportClients, MarketQuery
from clobflow.sim.venue import VenueServer

from .conftest import FROZEN
from .helpers import markets_job, read_windows

NS = 1_000_000_000


async def test_closed_markets_with_winners(api, tmp_path, ds4):
    res = await markets_job(api, tmp_path, MarketQuery(closed=True), page_size=1, clock_ns=lambda: 42)
    assert (res.status, res.rows, res.pages) == ("done", 4, 5)  # 4 full pages, then a short one
    rows = read_windows(tmp_path)
    assert [r.market for r in rows] == [m.condition_id for m in ds4.markets]
    for r, m in zip(rows, ds4.markets, strict=True):
        assert r.winner == ds4.resolutions[m.condition_id].winning_asset_id
        assert (r.yes_token, r.no_token, r.slug, r.asset) == (m.yes.token_id, m.no.token_id, m.slug, "btc")
        assert (r.window_start_ns, r.window_end_ns, r.tick_size) == (m.start_ns, m.end_ns, 10_000)
        assert r.discovered_ns == 42 and r.event_id != "" and r.question == m.question
    raw = [json.loads(line) for line in (tmp_path / "gamma_markets.jsonl").read_text().splitlines()]
    assert [d["conditionId"] for d in raw] == [m.condition_id for m in ds4.markets]
    assert all(isinstance(d["clobTokenIds"], str) for d in raw)  # kept exactly as Gamma sent it


async def test_by_slugs_reports_the_missing(api, tmp_path, ds4):
    slugs = (ds4.markets[2].slug, "btc-updown-15m-1", ds4.markets[0].slug)
    res = await markets_job(api, tmp_path, MarketQuery(slugs=slugs), slug_chunk=2)
    assert res.status == "done" and res.missing == ("btc-updown-15m-1",) and res.pages == 2
    assert sorted(r.slug for r in read_windows(tmp_path)) == sorted([ds4.markets[0].slug, ds4.markets[2].slug])


async def test_filters_reach_the_venue(api, tmp_path, ds4):
    q = MarketQuery(tag="15M", end_min="2025-12-26T11:15:00Z", max_markets=1)
    res = await markets_job(api, tmp_path, q)
    assert res.rows == 1 and [r.slug for r in read_windows(tmp_path)] == [ds4.markets[2].slug]


async def test_a_market_is_written_again_once_resolved(tmp_path, ds4, fake_time):
    """Open markets first (no winner), then a later import of closed ones adds the resolved rows."""
    for at, q in ((ds4.frames[0].ts_recv_ns + 1, MarketQuery(closed=False)),
                  (ds4.frames[-1].ts_recv_ns + 1, MarketQuery(closed=True))):
        async with VenueServer(ds4, speed=FROZEN, start_at_ns=at) as v:
            async with ImportClients(Endpoints.single(v.http_url), clock_ns=fake_time.now, sleep=fake_time.sleep) as c:
                await markets_job(c, tmp_path, q)
    rows = read_windows(tmp_path)
    assert len(rows) == 8
    assert [r.winner for r in rows[:4]] == [""] * 4
    assert [r.winner for r in rows[4:]] == [ds4.resolutions[m.condition_id].winning_asset_id for m in ds4.markets]
    assert len(json.loads((tmp_path / "import-state.json").read_text())["jobs"]) == 2


async def test_rows_go_to_a_table_sink(api, tmp_path, sink):
    res = await markets_job(api, tmp_path / "a", MarketQuery(closed=True), sink=sink, clock_ns=lambda: 1)
    await markets_job(api, tmp_path / "b", MarketQuery(closed=True), clock_ns=lambda: 1)
    assert sink.count("market_windows") == res.rows == 4
    assert sink.rows("market_windows") == read_windows(tmp_path / "b")
    assert sink.threads == {"import-sink_0"}  # one writer thread, never the event loop
