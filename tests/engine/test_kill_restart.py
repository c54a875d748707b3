"""kill -9 at random points of paper runs, restarted on the same store (SQLite and
PostgreSQL), then store = journal = simulator ledger for every run: no order or fill lost or
doubled, every killed run marked ``crashed``. CI runs a few cycles; ``bench/kill_restart.py``
runs 20+."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from clobflow.engine.audit import audit_run
from clobflow.sim.ledger import ledger_path, read_ledger
from clobflow.store.store import Store
from tests.store.conftest import PgSchema, pg_admin, pg_schema  # noqa: F401 - fixtures

from .procs import kill_restart_cycles, trading_config, venue


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.sqlite'}"
    return request.getfixturevalue("pg_schema").url()


def test_kill9_and_restart_lose_and_double_nothing(store_url: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    cfg = trading_config(tmp_path / "cfg.yaml", store_url)
    with venue(speed=100) as http:
        res = kill_restart_cycles(http, cfg, out, store_url, cycles=3, rng=random.Random(11))  # order, fill, ledger kill points
    store = Store(store_url)
    try:
        audits = [audit_run(store, rid, out / f"journal-{rid}.jsonl", read_ledger(ledger_path(out, rid)))
                  for rid in [*res["killed"], res["final"]]]
    finally:
        store.close()
    assert [a.status for a in audits] == ["crashed"] * len(res["killed"]) + ["finished"]
    assert [a.as_dict() for a in audits if not a.ok] == []
    assert sum(a.journal_orders for a in audits) >= 1
    assert sum(a.venue_fills or 0 for a in audits) == sum(a.store_fills for a in audits) >= 1
    assert "marked 1 run(s) crashed" in res["outputs"][1]  # the second start found the first


def test_restart_recovers_what_the_store_missed_from_the_journal(tmp_path: Path) -> None:
    """The store's last batch lost (as when a kill lands between the journal's write-through and
    the writer's commit): the next start adds the fills and orders back from the journal and
    re-derives the position, so nothing about money is lost."""
    import sqlalchemy as sa

    from clobflow.store.liveness import owner_tag

    from .procs import Proc, run_args, run_id_of

    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    out = tmp_path / "out"
    cfg = trading_config(tmp_path / "cfg.yaml", url)
    with venue(speed=100) as http:
        p = Proc(*run_args(http, cfg, out, duration=8))
        rc, stdout, _ = p.finish()
        assert rc == 0
        first = run_id_of(stdout)
        store = Store(url)
        fills = store.fills(first)
        assert fills, stdout
        orders = store.orders(first)
        # Forge the crash: the run stays 'running' under a dead owner, its last fill and its
        # order's final state never reached the store, its position row lags.
        lost = fills[-1]
        eng = sa.create_engine(url)
        with eng.begin() as conn:
            conn.execute(sa.text("DELETE FROM fills WHERE fill_id = :f"), {"f": lost["fill_id"]})
            conn.execute(sa.text("UPDATE orders SET filled_size = 0, status = 'submitted' WHERE client_order_id = :c"),
                         {"c": lost["client_order_id"]})
            conn.execute(sa.text("UPDATE positions SET size = 0, cost = 0, status = 'open', closed_ns = NULL "
                                 "WHERE run_id = :r AND market = :m"), {"r": first, "m": lost["market"]})
            conn.execute(sa.text("UPDATE runs SET status = 'running', finished_ns = NULL, owner = :o "
                                 "WHERE run_id = :r"), {"o": owner_tag().rsplit(":", 1)[0] + ":999999999", "r": first})
        eng.dispose()
        p = Proc(*run_args(http, cfg, out, duration=3))
        rc, stdout2, err = p.finish()
        assert rc == 0, err
    assert "recovered" in stdout2 and "1 fill(s) added" in stdout2, stdout2
    try:
        assert store.run(first)["status"] == "crashed"  # type: ignore[index]
        assert [f["fill_id"] for f in store.fills(first)] == [f["fill_id"] for f in fills]
        assert store.fills(first)[-1] == lost
        by_coid = {o["client_order_id"]: o for o in store.orders(first)}
        want = next(o for o in orders if o["client_order_id"] == lost["client_order_id"])
        assert (by_coid[want["client_order_id"]]["filled_size"], by_coid[want["client_order_id"]]["status"]) == \
            (want["filled_size"], want["status"])
        assert audit_run(store, first, out / f"journal-{first}.jsonl").ok
    finally:
        store.close()


def test_two_paper_runs_share_one_postgresql_store(pg_schema: PgSchema, tmp_path: Path) -> None:  # noqa: F811
    """Two processes trade the same strategy on the same markets into one PostgreSQL store at
    once: both finish, neither marks the other crashed, at most one open position per market,
    and each run's store rows equal its journal."""
    from .procs import Proc, run_args, run_id_of

    url = pg_schema.url()
    cfg = trading_config(tmp_path / "cfg.yaml", url)
    with venue(speed=100) as http:
        procs = [Proc(*run_args(http, cfg, tmp_path / f"out{i}", duration=8)) for i in (1, 2)]
        results = [p.finish() for p in procs]
    assert [rc for rc, _, _ in results] == [0, 0], [err for _, _, err in results]
    run_ids = [run_id_of(out) for _, out, _ in results]
    assert all("crashed" not in out for _, out, _ in results)
    store = Store(url)
    try:
        audits = [audit_run(store, rid, tmp_path / f"out{i}" / f"journal-{rid}.jsonl")
                  for i, rid in zip((1, 2), run_ids, strict=True)]
        assert [a.status for a in audits] == ["finished", "finished"]
        assert [a.as_dict() for a in audits if not a.ok] == []
        assert sum(a.journal_orders for a in audits) >= 1
        fills = [f["fill_id"] for rid in run_ids for f in store.fills(rid)]  # type: ignore[arg-type]
        assert len(fills) == len(set(fills))
        opened = [(p["strategy"], p["market"]) for rid in run_ids for p in store.positions(rid)  # type: ignore[arg-type]
                  if p["status"] == "open"]
        assert len(opened) == len(set(opened))
    finally:
        store.close()
