"""Two processes race to open the same position: the partial unique index lets exactly one win,
on the real PostgreSQL and on a shared SQLite file."""

from __future__ import annotations

import multiprocessing
import queue

from clobflow.store import Store

from .helpers import start_run
from .race_worker import race

ROUNDS = 20


def test_two_processes_race_to_open_the_same_position(db_url: str) -> None:
    store = Store(db_url)
    store.migrate()
    start_run(store, "race-run", "live")
    markets = [f"m{i}" for i in range(ROUNDS)]

    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    procs = [ctx.Process(target=race, args=(db_url, who, markets, barrier, results)) for who in (1, 2)]
    for p in procs:
        p.start()
    got = []
    try:
        for _ in range(2 * ROUNDS):
            got.append(results.get(timeout=60))
    except queue.Empty:
        raise AssertionError(f"workers stopped reporting after {len(got)} results: {got}") from None
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    assert [p.exitcode for p in procs] == [0, 0]

    for market in markets:
        outcomes = sorted(o for _, m, o, _ in got if m == market)
        assert outcomes == ["duplicate", "won"], (market, outcomes)
        (winner_pid,) = [pid for _, m, o, pid in got if m == market and o == "won"]
        (row,) = [p for p in store.positions("race-run") if p["market"] == market]
        assert row["id"] == winner_pid and row["status"] == "open"
    assert len(store.open_positions("imbalance", "live")) == ROUNDS
    store.close()
