"""Store round trips on real SQLite and PostgreSQL: every record type, order upserts,
idempotent fills, positions and the one-open-position index, error translation."""

from __future__ import annotations

import json

import pytest

from clobflow.core.events import Side
from clobflow.core.orders import Fill, Liquidity, OrderIntent, OrderStatus, OrderType
from clobflow.store import (
    DuplicatePosition,
    FillConflict,
    FillRow,
    OrderRow,
    PositionNotOpen,
    PositionUpdate,
    Store,
    StoreConflict,
    UnknownRun,
)
from clobflow.store.engine import normalize_url

from .helpers import T0, decision, fill, order, signal, start_run, transition


def test_runs_round_trip(store: Store) -> None:
    start_run(store, "r1", "paper")
    assert store.run("r1") == {
        "run_id": "r1",
        "mode": "paper",
        "strategy": "imbalance",
        "config_json": '{"max_spread": 20000}',
        "started_ns": T0,
        "finished_ns": None,
        "status": "running",
        "summary_json": None,
        "owner": None,
        "heartbeat_ns": None,
    }
    store.finish_run("r1", T0 + 5, "completed", {"pnl": 1_250_000, "fills": 3})
    row = store.run("r1")
    assert row is not None
    assert (row["finished_ns"], row["status"]) == (T0 + 5, "completed")
    assert json.loads(row["summary_json"]) == {"fills": 3, "pnl": 1_250_000}
    assert store.run("nope") is None


def test_run_errors(store: Store) -> None:
    start_run(store, "r1")
    with pytest.raises(StoreConflict, match="already exists"):
        start_run(store, "r1")
    with pytest.raises(ValueError, match="mode"):
        store.start_run("r2", "yolo", "s", "{}", T0)
    store.finish_run("r1", T0 + 1, "completed")
    with pytest.raises(StoreConflict, match="already finished"):
        store.finish_run("r1", T0 + 2, "completed")
    with pytest.raises(UnknownRun):
        store.finish_run("nope", T0, "completed")


def test_every_record_type_round_trips(store: Store) -> None:
    run = start_run(store)
    intent = OrderIntent("o1", "imbalance", "m1", "a1", Side.SELL, 520_000, 7_000_000, OrderType.FOK, T0, reason="exit")
    f = Fill("f1", "o1", "imbalance", "m1", "a1", Side.SELL, 520_000, 7_000_000, 12_345, Liquidity.TAKER, T0 + 9)

    store.record_signal(signal(run, 1))
    store.record_decisions([decision(run, 0), decision(run, 1, asset_id=None, outcome_json="{}")])
    store.record_orders([OrderRow.from_intent(intent, run)])
    store.record_transitions([transition(run, "o1", 1, OrderStatus.PENDING, OrderStatus.SUBMITTED)])
    store.record_fills([FillRow.from_fill(f, run)])

    (sig,) = store.signals(run)
    assert sig["ts_ns"] == T0 + 1 and sig["kind"] == "imbalance"
    assert sig["value_json"] == '{"depth":[1,2],"value":1}'  # sorted keys: deterministic text

    d0, d1 = store.decisions(run)
    assert (d0["seq"], d0["action"], d0["reason"], d0["passed"], d0["asset_id"]) == (0, "enter", "ok", True, "a1")
    assert d1["passed"] is False and d1["asset_id"] is None and d1["outcome_json"] == "{}"
    assert json.loads(d0["inputs_json"]) == {"best_bid": 480_000, "spread": 10_000}

    (o,) = store.orders(run)
    assert o == {
        "client_order_id": "o1",
        "run_id": run,
        "strategy": "imbalance",
        "market": "m1",
        "asset_id": "a1",
        "side": "SELL",
        "order_type": "FOK",
        "price": 520_000,
        "size": 7_000_000,
        "filled_size": 0,
        "avg_price": None,
        "status": "pending",
        "reason": "exit",
        "created_ns": T0,
        "updated_ns": T0,
        "venue_order_id": None,
    }

    (t,) = store.transitions(run)
    assert (t["client_order_id"], t["seq"], t["from_status"], t["to_status"]) == ("o1", 1, "pending", "submitted")
    assert t["detail_json"] == '{"seq":1}'

    (fr,) = store.fills(run)
    assert fr == {
        "fill_id": "f1",
        "client_order_id": "o1",
        "run_id": run,
        "strategy": "imbalance",
        "market": "m1",
        "asset_id": "a1",
        "side": "SELL",
        "price": 520_000,
        "size": 7_000_000,
        "fee": 12_345,
        "liquidity": "taker",
        "ts_ns": T0 + 9,
    }
    assert all(type(v) is int for v in (fr["price"], fr["size"], fr["fee"], fr["ts_ns"]))


def test_write_mixes_tables_in_one_transaction(store: Store) -> None:
    run = start_run(store)
    # The transition comes before its order in the input: tables are written orders-first.
    store.write(
        [
            transition(run, "o1", 1, OrderStatus.PENDING, OrderStatus.SUBMITTED),
            order(run, "o1"),
            fill(run, "o1", "f1"),
            decision(run, 0),
        ]
    )
    assert [len(store.orders(run)), len(store.transitions(run)), len(store.fills(run)), len(store.decisions(run))] == [
        1,
        1,
        1,
        1,
    ]
    # All or nothing: a refused row undoes the rest of the batch.
    with pytest.raises(StoreConflict):
        store.write([decision(run, 1), decision(run, 0)])
    assert [d["seq"] for d in store.decisions(run)] == [0]


def test_order_upsert(store: Store) -> None:
    run = start_run(store)
    store.record_orders([order(run, "o1")])
    store.record_orders([order(run, "o1", status="submitted", updated=1, venue_order_id="0xabc")])
    store.record_orders(
        [order(run, "o1", status="partially_filled", filled=4_000_000, avg_price=479_000, updated=2, reason="fill")]
    )
    (o,) = store.orders(run)
    assert (o["status"], o["filled_size"], o["avg_price"], o["venue_order_id"], o["updated_ns"], o["reason"]) == (
        "partially_filled",
        4_000_000,
        479_000,
        "0xabc",  # a None venue_order_id keeps the stored one
        T0 + 2,
        "fill",
    )
    # A stale update (older updated_ns) does not regress the row.
    store.record_orders([order(run, "o1", status="submitted", updated=1)])
    assert store.orders(run)[0]["status"] == "partially_filled"
    # Several versions of one order in one call (PostgreSQL refuses to touch a row twice in a
    # statement): the newest wins, whatever the input order.
    store.record_orders(
        [
            order(run, "o1", status="filled", filled=10_000_000, updated=4, avg_price=479_500, created_ns=T0 + 99),
            order(run, "o1", status="partially_filled", filled=8_000_000, updated=3),
            order(run, "o2"),
        ]
    )
    o1, o2 = store.orders(run)
    assert (o1["status"], o1["filled_size"], o1["avg_price"], o1["created_ns"]) == ("filled", 10_000_000, 479_500, T0)
    assert o2["client_order_id"] == "o2"
    assert [o["client_order_id"] for o in store.orders(run, status="filled")] == ["o1"]


def test_fills_are_idempotent(store: Store) -> None:
    run = start_run(store)
    store.record_fills([fill(run, "o1", "f1", ts=1), fill(run, "o1", "f2", ts=2)])
    # Re-recording (a reconnect replays the user stream, a retried batch): identical rows are
    # skipped, new ones kept; the same fill twice in one batch is one row.
    store.record_fills([fill(run, "o1", "f2", ts=2), fill(run, "o1", "f3", ts=3), fill(run, "o1", "f1", ts=1)])
    store.record_fills([fill(run, "o1", "f3", ts=3), fill(run, "o1", "f3", ts=3)])
    rows = store.fills(run)
    assert [r["fill_id"] for r in rows] == ["f1", "f2", "f3"]
    assert rows[1]["size"] == 5_000_000


def test_a_fill_id_with_different_content_is_a_conflict_not_a_silent_drop(store: Store) -> None:
    run = start_run(store)
    store.record_fills([fill(run, "o1", "f1", ts=1)])
    with pytest.raises(FillConflict, match=r"fill 'f1' is already stored.*size"):
        store.record_fills([fill(run, "o1", "f2", ts=2), fill(run, "o1", "f1", size=1, ts=1)])
    assert [r["fill_id"] for r in store.fills(run)] == ["f1"]  # all or nothing: f2 not written
    with pytest.raises(FillConflict, match="'f9'"):
        store.record_fills([fill(run, "o1", "f9", ts=1), fill(run, "o1", "f9", ts=2)])  # within one batch
    start_run(store, "other-run")
    with pytest.raises(FillConflict, match="run_id"):
        store.record_fills([fill("other-run", "o1", "f1", ts=1)])  # another run reusing the id


def test_constraints_are_conflicts(store: Store) -> None:
    run = start_run(store)
    with pytest.raises(StoreConflict):
        store.record_decisions([decision("no-such-run", 0)])  # foreign key
    store.record_decisions([decision(run, 0)])
    with pytest.raises(StoreConflict):
        store.record_decisions([decision(run, 0)])  # (run_id, seq) unique
    with pytest.raises(StoreConflict):
        store.record_transitions([transition(run, "no-such-order", 1, OrderStatus.PENDING, OrderStatus.SUBMITTED)])
    with pytest.raises(StoreConflict):
        store.record_orders([order(run, "o1", side="LONG")])  # check constraint


def test_floats_are_refused(store: Store) -> None:
    run = start_run(store)
    with pytest.raises(TypeError, match="floats"):
        store.record_fills([_float_fill(run)])
    assert store.fills(run) == []
    with pytest.raises(TypeError, match="floats"):
        store.open_position(run, "s", "m1", "backtest", "a1", 1.5, 0, T0)  # type: ignore[arg-type]


def test_plain_inserts_convert_like_every_other_write(store: Store) -> None:
    """Decisions go straight to the driver's executemany: a float is still refused (nothing of
    the batch written), inputs are stored as the same sorted JSON text, booleans and None as the
    ORM wrote them."""
    run = start_run(store)
    with pytest.raises(TypeError, match="floats"):
        store.record_decisions([decision(run, 0), decision(run, 1, ts_ns=T0 + 0.5)])
    assert store.decisions(run) == []
    store.record_decisions([decision(run, 0, inputs_json={"z": 1, "a": [0.25, None], "m": "é"}),
                            decision(run, 1, asset_id=None)])
    got = store.decisions(run)
    assert [(d["seq"], d["passed"], d["asset_id"]) for d in got] == [(0, True, "a1"), (1, False, None)]
    assert got[0]["inputs_json"] == '{"a":[0.25,null],"m":"é","z":1}'


def _float_fill(run: str) -> FillRow:
    f = fill(run, "o1", "f1")
    return FillRow(**{**{k: getattr(f, k) for k in f.__struct_fields__}, "price": 0.48})


def test_positions_one_open_per_key(store: Store) -> None:
    run = start_run(store, mode="paper")
    pid = store.open_position(run, "imbalance", "m1", "paper", "a1", 10_000_000, 4_800_000, T0)
    assert store.open_position_exists("imbalance", "m1", "paper")
    with pytest.raises(DuplicatePosition) as ei:
        store.open_position(run, "imbalance", "m1", "paper", "a2", 1, 1, T0 + 1)
    assert (ei.value.strategy, ei.value.market, ei.value.mode) == ("imbalance", "m1", "paper")
    # Another mode, market or strategy is another key.
    other = [
        store.open_position(run, "imbalance", "m1", "live", "a1", 1, 1, T0 + 2),
        store.open_position(run, "imbalance", "m2", "paper", "a1", 1, 1, T0 + 3),
        store.open_position(run, "complete_set", "m1", "paper", "a1", 1, 1, T0 + 4),
    ]
    assert len({pid, *other}) == 4
    assert [p["id"] for p in store.open_positions("imbalance", "paper")] == [pid, other[1]]

    store.update_position(pid, size=15_000_000, cost=7_200_000)
    store.update_position(pid, size=15_000_000, cost=7_200_000, realized_pnl=-10_000, fees=5_000)
    store.close_position(pid, T0 + 10, realized_pnl=300_000, fees=9_000, reason="take_profit")
    p = store.position(pid)
    assert p is not None
    assert {k: p[k] for k in ("status", "size", "cost", "realized_pnl", "fees", "closed_ns", "close_reason")} == {
        "status": "closed",
        "size": 15_000_000,
        "cost": 7_200_000,
        "realized_pnl": 300_000,
        "fees": 9_000,
        "closed_ns": T0 + 10,
        "close_reason": "take_profit",
    }
    assert not store.open_position_exists("imbalance", "m1", "paper")
    with pytest.raises(PositionNotOpen):
        store.close_position(pid, T0 + 11, 0, 0, "again")
    with pytest.raises(PositionNotOpen):
        store.update_position(pid, size=1, cost=1)
    # A queued update that lands after the close is ignored: the close figures stay.
    store.update_positions([PositionUpdate(pid, size=1, cost=1, realized_pnl=1, fees=1)])
    assert store.position(pid)["realized_pnl"] == 300_000  # type: ignore[index]

    # After the close, the key can be opened again; history keeps both rows.
    pid2 = store.open_position(run, "imbalance", "m1", "paper", "a1", 1_000_000, 500_000, T0 + 20)
    assert pid2 != pid
    assert store.open_position_exists("imbalance", "m1", "paper")
    assert [p["status"] for p in store.positions(run)][:1] == ["closed"]
    assert len(store.positions(run)) == 5
    # A close can carry the final size and cost (same statement: no queued update can land
    # between them); a stale update applied after it changes nothing.
    store.update_positions([PositionUpdate(pid2, size=2_000_000, cost=900_000)])
    store.close_position(pid2, T0 + 30, 40_000, 0, "exited", size=3_000_000, cost=1_400_000)
    store.update_positions([PositionUpdate(pid2, size=2_000_000, cost=900_000)])
    p2 = store.position(pid2)
    assert p2 is not None and (p2["status"], p2["size"], p2["cost"], p2["realized_pnl"]) == (
        "closed", 3_000_000, 1_400_000, 40_000)


def test_open_position_needs_a_run(store: Store) -> None:
    with pytest.raises(StoreConflict) as ei:
        store.open_position("no-run", "s", "m1", "live", "a1", 1, 1, T0)
    assert not isinstance(ei.value, DuplicatePosition)
    with pytest.raises(ValueError):
        store.open_position("no-run", "s", "m1", "bogus", "a1", 1, 1, T0)


def test_url_forms(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert normalize_url("postgresql://u:secret@h:5432/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url(str(tmp_path / "x.db")).database == str(tmp_path / "x.db")
    assert normalize_url(f"sqlite:///{tmp_path}/x.db").database == f"{tmp_path}/x.db"
    for bad in (":memory:", "sqlite://", "sqlite:///:memory:", "mysql://u@h/db", "postgresql+psycopg2://u@h/db"):
        with pytest.raises(ValueError):
            normalize_url(bad)
    assert "secret" not in repr(Store("postgresql://u:secret@h:5432/db"))
