"""No fill lost on restart (issue 10, finding 4): two paper runs, one after the other, on the
same store, against the local venue simulator. The simulated fill ids used to restart at
``sim-1`` in every process, so the second run's fills collided with the first run's and were
dropped by the store; now each run's fill rows are all there."""

from __future__ import annotations

from clobflow.engine.live import run_live
from clobflow.sim.venue import VenueServer
from clobflow.store.store import Store

from .test_live_modes import config, ds  # noqa: F401 - the module-scoped dataset fixture

SPEED = 30


async def _paper(ds, out, market_index: int, seconds: float):  # noqa: F811
    start = ds.markets[market_index].start_ns - 5 * 10**9
    async with VenueServer(ds, speed=SPEED, start_at_ns=start) as server:
        return await run_live(config("paper"), "paper", out, ws_url=server.ws_url, gamma_url=server.http_url,
                              clob_url=server.http_url, duration_s=seconds, log=lambda s: None)


async def test_a_restarted_paper_run_keeps_every_fill_row(ds, tmp_path):  # noqa: F811
    first = await _paper(ds, tmp_path, 1, 6)
    second = await _paper(ds, tmp_path, 3, 6)
    assert first.kernel.counters["fills"] >= 1 and second.kernel.counters["fills"] >= 1
    store = Store(f"sqlite:///{tmp_path / 'clobflow.sqlite'}")
    try:
        for run in (first, second):
            rows = store.fills(run.run_id)
            assert len(rows) == run.kernel.counters["fills"]  # none dropped
            assert all(r["fill_id"].startswith(r["client_order_id"] + ":") for r in rows)
            assert store.run(run.run_id)["status"] == "finished"
        ids1 = {r["fill_id"] for r in store.fills(first.run_id)}
        ids2 = {r["fill_id"] for r in store.fills(second.run_id)}
        assert not ids1 & ids2
        filled = [o for o in store.orders(second.run_id) if o["filled_size"] > 0]
        for o in filled:  # the order row and its fill rows agree
            assert sum(r["size"] for r in store.fills(second.run_id) if r["client_order_id"] == o["client_order_id"]) \
                == o["filled_size"]
    finally:
        store.close()
