"""The background writer against real databases: volume and order, close, backpressure, retries
after a real lock error, refused rows kept."""

from __future__ import annotations

import time

import pytest

from clobflow.core.orders import OrderStatus
from clobflow.store import (
    PositionUpdate,
    Store,
    StoreBackpressure,
    StoreError,
    StoreWriteError,
    StoreWriter,
)

from .conftest import PgSchema
from .helpers import T0, db_locked, decision, fill, order, signal, start_run, transition

P, S, PF, F = OrderStatus.PENDING, OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED


def _stream(run: str, n_orders: int) -> list[object]:
    """10 records per order, interleaved across tables as a run would produce them."""
    out: list[object] = []
    for k in range(n_orders):
        coid = f"o{k:05d}"
        out += [
            signal(run, 2 * k),
            decision(run, 2 * k),
            order(run, coid),
            transition(run, coid, 1, P, S),
            fill(run, coid, f"{coid}-f1", ts=3 * k),
            signal(run, 2 * k + 1),
            order(run, coid, status="filled", filled=10_000_000, avg_price=480_000, updated=k + 1),
            transition(run, coid, 2, S, F),
            fill(run, coid, f"{coid}-f2", ts=3 * k + 1),
            decision(run, 2 * k + 1),
        ]
    return out


def _wait_for(cond, timeout_s: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


def _fast_retry_writer(store: Store, **kw) -> StoreWriter:  # type: ignore[no-untyped-def]
    return StoreWriter(store, backoff_s=0.02, backoff_max_s=0.1, flush_interval_s=0.02, **kw)


def _locking_store(db_url: str, request: pytest.FixtureRequest) -> Store:
    """A store whose writes fail fast (not wait) while another connection holds a lock."""
    if db_url.startswith("postgresql"):
        schema: PgSchema = request.getfixturevalue("pg_schema")
        url = schema.url(lock_timeout_ms=100)
        return Store(url)
    return Store(db_url, busy_timeout_s=0.05)


def test_ten_thousand_records_written_in_order(store: Store) -> None:
    run = start_run(store)
    records = _stream(run, 1000)
    assert len(records) == 10_000
    with StoreWriter(store) as w:
        t0 = time.perf_counter()
        for r in records:
            w.submit(r)  # type: ignore[arg-type]
        submit_s = time.perf_counter() - t0
        w.flush(timeout_s=30)
        st = w.stats()
    assert (st.submitted, st.written, st.failed, st.errors, st.backpressure) == (10_000, 10_000, 0, 0, 0)
    assert 1 < st.batches <= 10_000 // 2  # batched, not one transaction per record
    assert submit_s < 5.0

    # Nothing lost, and per table the rows are in submission order (ids follow it).
    assert [d["seq"] for d in sorted(store.decisions(run), key=lambda d: d["id"])] == list(range(2000))
    assert [s["ts_ns"] - T0 for s in store.signals(run)] == list(range(2000))
    trans = store.transitions(run)
    assert [(t["client_order_id"], t["seq"]) for t in trans] == [(f"o{k:05d}", s) for k in range(1000) for s in (1, 2)]
    assert len(store.fills(run)) == 2000
    orders = store.orders(run)
    assert len(orders) == 1000 and {o["status"] for o in orders} == {"filled"}


def test_close_flushes(store: Store) -> None:
    run = start_run(store)
    w = StoreWriter(store, flush_interval_s=5.0).start()  # long linger: only close() makes it write now
    for i in range(300):
        w.submit(decision(run, i))
    t0 = time.perf_counter()
    w.close()
    assert time.perf_counter() - t0 < 2.0
    assert len(store.decisions(run)) == 300
    w.close()  # idempotent
    with pytest.raises(StoreError):
        w.submit(decision(run, 300))


def test_submit_contract(tmp_path) -> None:  # type: ignore[no-untyped-def]
    w = StoreWriter(Store(str(tmp_path / "unused.db")))  # never connects: only refusals here
    with pytest.raises(StoreError, match="new"):
        w.submit(decision("r", 0))
    with pytest.raises(TypeError):
        w.submit("not a record")  # type: ignore[arg-type]
    w.flush()  # nothing submitted: returns at once
    w.close()


def test_backpressure_raises_instead_of_dropping(db_url: str, request: pytest.FixtureRequest) -> None:
    store = _locking_store(db_url, request)
    store.migrate()
    run = start_run(store)
    w = _fast_retry_writer(store, max_queue=4, batch_max=2, put_timeout_s=0.05).start()
    accepted = 0
    with db_locked(store, "decisions"):
        with pytest.raises(StoreBackpressure, match="queue full"):
            for i in range(1000):
                w.submit(decision(run, i))
                accepted += 1
        _wait_for(lambda: w.stats().errors >= 1)  # the writer really is failing on the lock
        st = w.stats()
        assert st.backpressure == 1 and st.last_error
        assert accepted == st.submitted <= 4 + 2  # the queue plus the batch being retried
        with pytest.raises(StoreWriteError, match="not committed"):
            w.flush(timeout_s=0.2)
    # Lock released: everything accepted is written, in order; the refused record was not.
    w.flush(timeout_s=10)
    assert [d["seq"] for d in store.decisions(run)] == list(range(accepted))
    w.close()
    store.close()


def test_db_error_mid_batch_is_retried_then_succeeds(db_url: str, request: pytest.FixtureRequest) -> None:
    store = _locking_store(db_url, request)
    store.migrate()
    run = start_run(store)
    w = _fast_retry_writer(store, batch_max=1000).start()
    with db_locked(store, "fills"):
        # One batch: decisions first (they go in), then fills, which hit the lock: the whole
        # transaction rolls back and the batch is retried.
        for i in range(50):
            w.submit(decision(run, i))
            w.submit(fill(run, "o1", f"f{i}", ts=i))
        _wait_for(lambda: w.stats().errors >= 2)  # retried at least once under the lock
        assert ("lock timeout" if store.dialect == "postgresql" else "database is locked") in (w.last_error or "")
        assert store.decisions(run) == [] and w.written == 0
    w.flush(timeout_s=10)
    st = w.stats()
    assert st.written == st.submitted == 100 and st.failed == 0
    assert [d["seq"] for d in store.decisions(run)] == list(range(50))  # once each, in order
    assert len(store.fills(run)) == 50
    w.close()
    store.close()


def test_refused_rows_are_kept_and_can_be_retried(store: Store) -> None:
    run = start_run(store)
    with _fast_retry_writer(store) as w:
        w.submit(decision(run, 0))
        w.submit(decision("late-run", 0))  # its run does not exist yet: foreign key refuses it
        w.submit(decision(run, 1))
        pid = store.open_position(run, "imbalance", "m1", "backtest", "a1", 1, 1, T0)
        w.submit(PositionUpdate(pid, size=2_000_000, cost=960_000))
        with pytest.raises(StoreWriteError, match="1 records refused"):
            w.flush()
        (bad, why), = w.failed_records()
        assert bad.run_id == "late-run" and "Conflict" in why
        assert [d["seq"] for d in store.decisions(run)] == [0, 1]  # the good ones went in
        assert store.position(pid)["size"] == 2_000_000  # type: ignore[index]

        start_run(store, "late-run")
        assert w.retry_failed() == 1
        w.flush()
        assert len(store.decisions("late-run")) == 1
        assert w.stats().failed == 0


def test_submit_many_keeps_order_and_falls_back_when_the_queue_is_short(store: Store) -> None:
    run = start_run(store)
    with StoreWriter(store, max_queue=50) as w:
        w.submit(decision(run, 0))
        w.submit_many([decision(run, i) for i in range(1, 40)])  # fits: one lock for all
        w.submit_many([decision(run, i) for i in range(40, 200)])  # longer than the queue: one by one
        w.submit(decision(run, 200))
        w.flush(timeout_s=30)
        st = w.stats()
        with pytest.raises(TypeError):
            w.submit_many([decision(run, 201), "not a record"])  # type: ignore[list-item]
    assert (st.submitted, st.written, st.failed) == (201, 201, 0)
    assert [d["seq"] for d in sorted(store.decisions(run), key=lambda d: d["id"])] == list(range(201))
    assert w.stats().submitted == 201  # the refused list was not half taken
