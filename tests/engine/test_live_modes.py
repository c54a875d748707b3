"""Paper and shadow modes against the local venue simulator over real loopback sockets."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from clobflow.engine.config import parse_config
from clobflow.engine.live import LiveRun, run_live
from clobflow.observe.journal import read_journal
from clobflow.sim.datasets import load_dataset
from clobflow.sim.venue import VenueServer
from clobflow.store.store import Store

SPEED = 30


@pytest.fixture(scope="module")
def ds():
    return load_dataset("pm-btc15m-tob-1s", limit_markets=6)


def config(mode: str):
    return parse_config({
        "engine": {"mode": mode, "timer_interval_s": 0.2},
        "feed": {"stall_after_s": 0, "reconnect_min_delay_s": 0.05, "reconnect_max_delay_s": 0.2, "subscription_refresh_interval_s": 2},
        "strategies": [{"name": "imbalance"}],
    })


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def until(cond, timeout: float = 15.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def _run(ds, mode: str, out, seconds: float):
    start = ds.markets[1].start_ns - 5 * 10**9
    async with VenueServer(ds, speed=SPEED, start_at_ns=start) as server:
        return await run_live(config(mode), mode, out, ws_url=server.ws_url, gamma_url=server.http_url,
                              clob_url=server.http_url, duration_s=seconds, log=lambda s: None)


def _decisions(path):
    return [(e.action, e.reason, e.market) for e in read_journal(path) if e.action in ("signal", "order", "risk_reject")]


async def test_shadow_journals_the_same_decisions_as_paper_and_places_nothing(ds, tmp_path):
    paper = await _run(ds, "paper", tmp_path / "paper", 6)
    shadow = await _run(ds, "shadow", tmp_path / "shadow", 6)
    p, s = _decisions(paper.journal_path), _decisions(shadow.journal_path)
    assert p and ("order", "buy_no", ds.markets[1].qualified("polymarket").condition_id) in p
    n = min(len(p), len(s))
    assert n >= 2 and p[:n] == s[:n]
    assert paper.kernel.counters["fills"] >= 1
    assert shadow.kernel.counters["fills"] == 0 and shadow.kernel.portfolio.total_exposure() == 0
    assert shadow.kernel.execution.submitted  # every intent recorded, nothing executed
    store = Store(f"sqlite:///{tmp_path / 'shadow' / 'clobflow.sqlite'}")
    try:
        assert store.fills(shadow.run_id) == []
        assert {o["status"] for o in store.orders(shadow.run_id)} <= {"submitted", "cancelled"}
    finally:
        store.close()


async def test_paper_trades_journals_and_survives_a_simulator_restart(ds, tmp_path):
    port = free_port()
    start = ds.markets[1].start_ns - 5 * 10**9
    server = VenueServer(ds, port=port, speed=SPEED, start_at_ns=start)
    await server.start()
    stop = asyncio.Event()
    holder: list[LiveRun] = []
    url = f"http://127.0.0.1:{port}"
    task = asyncio.create_task(run_live(config("paper"), "paper", tmp_path, ws_url=f"ws://127.0.0.1:{port}/ws/market",
                                        gamma_url=url, clob_url=url, log=lambda s: None, stop_event=stop,
                                        on_started=holder.append))
    try:
        await until(lambda: holder and holder[0].kernel.counters["fills"] >= 1)
        run = holder[0]
        resume_at = server.now_ns()
        await server.stop()  # the venue goes away...
        await until(lambda: run.feed.data.stats()["connect_failures"] + run.feed.data.stats()["reconnects"] >= 1)
        events_before = run.kernel.counters["events"]
        server = VenueServer(ds, port=port, speed=SPEED, start_at_ns=resume_at)  # ...and comes back
        await server.start()
        await until(lambda: run.kernel.counters["events"] > events_before + 50)
        assert run.feed.data.stats()["opens"] >= 2
        books_ok = [run.feed.books.get(t) for m in run.feed.markets.values() for t in m.token_ids]
        await until(lambda: any(b is not None and b.trusted for b in books_ok))
    finally:
        stop.set()
        result = await asyncio.wait_for(task, 20)
        await server.stop()
    k = result.kernel
    assert k.counters["fills"] >= 1
    entries = read_journal(result.journal_path)
    assert [e for e in entries if e.action == "fill"]
    store = Store(f"sqlite:///{tmp_path / 'clobflow.sqlite'}")
    try:
        assert len(store.fills(result.run_id)) == k.counters["fills"]  # flushed on stop
        assert store.run(result.run_id)["status"] == "finished"
    finally:
        store.close()


async def test_a_restarted_paper_run_takes_over_and_settles_the_open_position(ds, tmp_path):
    """Run 1 fills an entry and stops before its market resolves; run 2 on the same store takes
    the position over (no second entry), and closes the row when the market settles."""
    port = free_port()
    target = ds.markets[1].qualified("polymarket")  # as the engine names it
    start = target.start_ns - 5 * 10**9
    url = f"http://127.0.0.1:{port}"
    kw = dict(ws_url=f"ws://127.0.0.1:{port}/ws/market", gamma_url=url, clob_url=url, log=lambda s: None)

    server = VenueServer(ds, port=port, speed=SPEED, start_at_ns=start)
    await server.start()
    stop, holder = asyncio.Event(), []
    task = asyncio.create_task(run_live(config("paper"), "paper", tmp_path, stop_event=stop,
                                        on_started=holder.append, **kw))
    try:
        await until(lambda: holder and holder[0].kernel.counters["fills"] >= 1)
        resume_at = server.now_ns()
    finally:
        stop.set()
        first = await asyncio.wait_for(task, 20)
        await server.stop()
    assert target.condition_id not in first.kernel.resolved  # stopped before settlement

    server = VenueServer(ds, port=port, speed=100, start_at_ns=resume_at)
    await server.start()
    stop, holder = asyncio.Event(), []
    task = asyncio.create_task(run_live(config("paper"), "paper", tmp_path, stop_event=stop,
                                        on_started=holder.append, **kw))
    try:
        # settled (the market is then retired, so ``kernel.resolved`` forgets it: the journal says)
        await until(lambda: holder and any(a == "settle" for a, _ in holder[0].kernel.journal.counts), timeout=30)
    finally:
        stop.set()
        second = await asyncio.wait_for(task, 20)
        await server.stop()
    entries = read_journal(second.journal_path)
    adopted = [e for e in entries if e.action == "adopt"]
    assert [e.market for e in adopted] == [target.condition_id]
    assert not [e for e in entries if e.action == "order" and e.market == target.condition_id]
    settle = [e for e in entries if e.action == "settle" and e.market == target.condition_id]
    assert len(settle) == 1
    store = Store(f"sqlite:///{tmp_path / 'clobflow.sqlite'}")
    try:
        rows = [r for r in store.positions(first.run_id) if r["market"] == target.condition_id]
        assert len(rows) == 1 and rows[0]["status"] == "closed" and rows[0]["close_reason"] == "settled"
        assert rows[0]["realized_pnl"] == settle[0].inputs["pnl"]
    finally:
        store.close()


async def test_a_position_whose_market_resolved_while_down_settles_at_restart(ds, tmp_path):
    port = free_port()
    target = ds.markets[1].qualified("polymarket")  # as the engine names it
    url = f"http://127.0.0.1:{port}"
    kw = dict(ws_url=f"ws://127.0.0.1:{port}/ws/market", gamma_url=url, clob_url=url, log=lambda s: None)
    server = VenueServer(ds, port=port, speed=SPEED, start_at_ns=target.start_ns - 5 * 10**9)
    await server.start()
    stop, holder = asyncio.Event(), []
    task = asyncio.create_task(run_live(config("paper"), "paper", tmp_path, stop_event=stop,
                                        on_started=holder.append, **kw))
    try:
        await until(lambda: holder and holder[0].kernel.counters["fills"] >= 1)
    finally:
        stop.set()
        first = await asyncio.wait_for(task, 20)
        await server.stop()
    # the engine is down while the market resolves; it comes back 30 s (venue time) after the end
    server = VenueServer(ds, port=port, speed=1, start_at_ns=target.end_ns + 30 * 10**9)
    await server.start()
    try:
        second = await run_live(config("paper"), "paper", tmp_path, duration_s=2, **kw)
    finally:
        await server.stop()
    entries = read_journal(second.journal_path)
    assert [e.market for e in entries if e.action == "adopt"] == [target.condition_id]
    settle = [e for e in entries if e.action == "settle"]
    assert [e.market for e in settle] == [target.condition_id]
    store = Store(f"sqlite:///{tmp_path / 'clobflow.sqlite'}")
    try:
        (row,) = [r for r in store.positions(first.run_id) if r["market"] == target.condition_id]
        assert row["status"] == "closed" and row["close_reason"] == "settled"
    finally:
        store.close()
