"""Venue-qualified ids end to end: a paper run over loopback against the simulator, which
speaks the venue's bare ids, journals and stores nothing but ``POLYMARKET:`` ids."""

from __future__ import annotations

import asyncio

import pytest

from clobflow.core import ids
from clobflow.engine.live import LiveRun, run_live
from clobflow.observe.journal import read_journal
from clobflow.sim.datasets import load_dataset
from clobflow.sim.venue import VenueServer
from clobflow.store.store import Store
from tests.engine.test_live_modes import SPEED, config, until


@pytest.fixture(scope="module")
def ds():
    return load_dataset("pm-btc15m-tob-1s", limit_markets=6)


async def test_a_paper_run_names_everything_polymarket_while_the_venue_sees_bare_ids(ds, tmp_path):
    target = ds.markets[1]
    start = target.start_ns - 5 * 10**9
    stop, holder = asyncio.Event(), []
    seen_by_venue: set[str] = set()
    async with VenueServer(ds, speed=SPEED, start_at_ns=start) as server:
        task = asyncio.create_task(run_live(
            config("paper"), "paper", tmp_path, ws_url=server.ws_url, gamma_url=server.http_url,
            clob_url=server.http_url, log=lambda s: None, stop_event=stop, on_started=holder.append))
        try:
            await until(lambda: holder and holder[0].kernel.counters["fills"] >= 1)
            for conn in server.hub.conns.values():  # what the simulator was asked to stream
                seen_by_venue |= set(conn.assets)
        finally:
            stop.set()
            run: LiveRun = await asyncio.wait_for(task, 20)
    # the venue was subscribed with its own ids, and only those
    assert set(target.token_ids) <= seen_by_venue
    assert not any(ids.is_qualified(a) for a in seen_by_venue)
    # the engine: markets, books and the portfolio name the venue
    k = run.kernel
    assert k.markets and all(cid.startswith("POLYMARKET:0x") for cid in k.markets)
    assert all(m.venue == "polymarket" and all(t.startswith("POLYMARKET:") for t in m.token_ids)
               for m in k.markets.values())
    assert ids.qualify("polymarket", target.condition_id) in k.markets
    held = [p for p in k.portfolio.positions() if p.size]
    assert held and all(p.market.startswith("POLYMARKET:") and p.asset_id.startswith("POLYMARKET:") for p in held)
    # the journal: every row naming a market or a token names it qualified
    entries = read_journal(run.journal_path)
    named = [e for e in entries if e.market or e.asset_id]
    assert any(e.action == "fill" for e in named)
    for e in named:
        assert e.market.startswith("POLYMARKET:"), e
        assert not e.asset_id or e.asset_id.startswith("POLYMARKET:"), e
    # the store: every id column of every table
    store = Store(f"sqlite:///{tmp_path / 'clobflow.sqlite'}")
    try:
        tables = {"signals": store.signals(run.run_id), "decisions": store.decisions(run.run_id),
                  "orders": store.orders(run.run_id), "fills": store.fills(run.run_id),
                  "positions": store.positions(run.run_id)}
        assert all(tables[t] for t in ("decisions", "orders", "fills", "positions")), {t: len(r) for t, r in tables.items()}
        for name, rows in tables.items():
            for r in rows:
                for col in ("market", "asset_id"):
                    v = r[col]
                    assert not v or v.startswith("POLYMARKET:"), (name, col, v)
    finally:
        store.close()


async def test_a_position_left_in_a_pre_migration_store_is_adopted_and_settled(ds, tmp_path):
    """Run 1 fills and stops; its store is taken back to the revision before venue ids (bare
    rows, as an older engine left them); run 2 migrates the store on open, adopts the position
    by its qualified market, looks the market up at the venue with the bare token id, and
    settles it."""
    target = ds.markets[1]
    qcid = ids.qualify("polymarket", target.condition_id)
    async with VenueServer(ds, speed=SPEED, start_at_ns=target.start_ns - 5 * 10**9) as server:
        stop, holder = asyncio.Event(), []
        task = asyncio.create_task(run_live(
            config("paper"), "paper", tmp_path, ws_url=server.ws_url, gamma_url=server.http_url,
            clob_url=server.http_url, log=lambda s: None, stop_event=stop, on_started=holder.append))
        try:
            await until(lambda: holder and holder[0].kernel.counters["fills"] >= 1)
        finally:
            stop.set()
            first = await asyncio.wait_for(task, 20)
    store = Store(f"sqlite:///{tmp_path / 'clobflow.sqlite'}")
    try:
        store.downgrade("0001")
        (row,) = [r for r in store.positions(first.run_id) if r["status"] == "open"]
        assert row["market"] == target.condition_id  # bare again
    finally:
        store.close()
    async with VenueServer(ds, speed=1, start_at_ns=target.end_ns + 30 * 10**9) as server:
        second = await run_live(config("paper"), "paper", tmp_path, ws_url=server.ws_url,
                                gamma_url=server.http_url, clob_url=server.http_url, duration_s=2,
                                log=lambda s: None)
    entries = read_journal(second.journal_path)
    assert [e.market for e in entries if e.action == "adopt"] == [qcid]
    assert [e.market for e in entries if e.action == "settle"] == [qcid]
    store = Store(f"sqlite:///{tmp_path / 'clobflow.sqlite'}")
    try:
        (row,) = [r for r in store.positions(first.run_id) if r["market"] == qcid]
        assert row["status"] == "closed" and row["close_reason"] == "settled"
    finally:
        store.close()
