"""Fault matrix over loopback: a paper run against the venue simulator, one simulator fault at a
time. For each: the fault is detected within the configured timeout (where it should be
detected at all), the run survives it, and the journal shows no order placed on a book that was
not trusted (``book_trust`` of every ``order`` row)."""

from __future__ import annotations

import asyncio
import time

import pytest

from clobflow.book.trust import Trust
from clobflow.engine.config import parse_config
from clobflow.engine.live import LiveRun, run_live
from clobflow.observe.journal import read_journal
from clobflow.sim.datasets import load_dataset
from clobflow.sim.venue import VenueServer

STALL_AFTER_S = 1.5
STALE_AFTER_S = 1.0
TIMER_S = 0.2


@pytest.fixture(scope="module")
def ds():
    return load_dataset("pm-btc15m-tob-1s", limit_markets=6)


def _config():
    return parse_config({
        "engine": {"mode": "paper", "timer_interval_s": TIMER_S},
        "feed": {"stall_after_s": STALL_AFTER_S, "stale_after_s": STALE_AFTER_S, "reconnect_min_delay_s": 0.05,
                 "reconnect_max_delay_s": 0.2, "subscription_refresh_interval_s": 2},
        "strategies": [{"name": "imbalance", "min_imbalance": 0.05, "yes_price_min": 0.05, "yes_price_max": 0.95}],
    })


async def _until(cond, timeout: float) -> float:  # type: ignore[no-untyped-def]
    """Seconds until ``cond()`` holds (raises after ``timeout``)."""
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"not within {timeout} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - t0


def _followed(run: LiveRun) -> list:
    return [tb for a in run.feed.token_market if (tb := run.feed.books.get(a)) is not None]


# kind, params, what detection means, the bound in seconds (None: nothing to detect)
MATRIX = [
    ("disconnect", {}, "untrusted", 1.0),
    ("stall", {"seconds": 4.0}, "stall watchdog", STALL_AFTER_S + 1.0),
    ("malformed", {"count": 3}, "rejects counted", 1.0),
    ("duplicate", {"count": 5}, None, None),
    ("reorder", {"count": 5}, None, None),
    ("tick_size_change", {"new_tick_size": "0.001"}, "tick changed", 1.0),
]


@pytest.mark.parametrize("kind, params, detect, bound_s", MATRIX, ids=[m[0] for m in MATRIX])
async def test_fault(ds, tmp_path, kind, params, detect, bound_s):  # type: ignore[no-untyped-def]
    start = ds.markets[1].start_ns - 5 * 10**9
    holder: list[LiveRun] = []
    stop = asyncio.Event()
    async with VenueServer(ds, speed=30, start_at_ns=start) as server:
        task = asyncio.create_task(run_live(_config(), "paper", tmp_path, ws_url=server.ws_url,
                                            gamma_url=server.http_url, clob_url=server.http_url,
                                            stop_event=stop, on_started=holder.append, log=lambda s: None))
        try:
            await _until(lambda: bool(holder) and holder[0].kernel.counters["events"] > 20, 30)
            run = holder[0]
            await _until(lambda: any(tb.trusted for tb in _followed(run)), 10)
            st0 = run.feed.data.stats()
            rejects0 = sum(st0["parser"]["rejects"].values())
            trusted = [tb for tb in _followed(run) if tb.trusted]
            server.inject(kind, **params)
            if detect == "untrusted":
                took = await _until(lambda: all(tb.state == Trust.UNTRUSTED for tb in trusted), 5)
                await _until(lambda: run.feed.data.stats()["reconnects"] > st0["reconnects"], 10)
            elif detect == "stall watchdog":
                took = await _until(lambda: run.feed.data.stats()["stalls"] > st0["stalls"], 10)
                # the books went suspect (stale) before the watchdog fired
                assert any(t[2] == Trust.SUSPECT and t[3] == "stale" for t in run.feed.books.transitions)
            elif detect == "rejects counted":
                took = await _until(lambda: sum(run.feed.data.stats()["parser"]["rejects"].values())
                                    >= rejects0 + params["count"], 5)
            elif detect == "tick changed":
                took = await _until(lambda: any(tb.book.tick_size == 1_000 for tb in _followed(run)), 5)
            else:
                took = 0.0
                await asyncio.sleep(1.0)
            print(f"{kind}: detected ({detect}) after {took:.3f} s")
            if bound_s is not None:
                assert took <= bound_s, f"{kind}: detected after {took:.2f} s, bound {bound_s} s"
            # the run recovers: trusted books and events flowing again
            events = run.kernel.counters["events"]
            await _until(lambda: run.kernel.counters["events"] > events + 5, 20)
            await _until(lambda: any(tb.trusted for tb in _followed(run)), 20)
            for tb in _followed(run):  # a trusted book is never crossed
                bb, ba = tb.book.best_bid(), tb.book.best_ask()
                assert not (tb.trusted and bb is not None and ba is not None and bb >= ba)
        finally:
            stop.set()
            result = await asyncio.wait_for(task, 30)
    orders = [e for e in read_journal(result.journal_path) if e.action == "order"]
    print(f"{kind}: {len(orders)} orders, {result.kernel.counters['risk_rejects']} risk rejects")
    assert all((e.inputs or {}).get("book_trust") == "trusted" for e in orders), [
        (e.inputs or {}).get("book_trust") for e in orders]
