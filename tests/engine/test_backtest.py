"""Backtest of the imbalance strategy on the bundled real data: report, determinism, store."""

from __future__ import annotations

import json
import os
import uuid

import pytest
import sqlalchemy as sa

from clobflow.core.numbers import micros_from_number
from clobflow.engine.backtest import run_backtest
from clobflow.engine.config import parse_config
from clobflow.replay.report import build_report, write_report
from clobflow.sim.datasets import load_dataset
from clobflow.store.store import Store


@pytest.fixture(scope="module")
def ds15():
    return load_dataset("pm-btc15m-tob-1s")


def _report(res, cfg, out):
    k = res.kernel
    rep, rows = build_report(run_id=res.run_id, mode="backtest", frames=res.frames, portfolio=k.portfolio,
                             starting_cash=micros_from_number(cfg.engine.starting_cash_usd), markets=k.markets,
                             journal_counts=k.journal.counts, counters=k.counters, max_exposure=k.max_exposure,
                             bought=k.bought)
    return rep, rows, write_report(out, rep, rows, k.portfolio)


def test_full_backtest_report_and_byte_identical_rerun(ds15, tmp_path):
    cfg = parse_config({"engine": {"mode": "backtest"}})
    a = run_backtest(cfg, ds15, tmp_path / "a")
    b = run_backtest(cfg, ds15, tmp_path / "b")
    ja, jb = a.journal_path.read_bytes(), b.journal_path.read_bytes()
    assert ja == jb and len(ja) > 1_000_000
    assert a.run_id == b.run_id
    assert a.parser_rejects == {}
    k = a.kernel
    assert k.counters["orders"] > 10 and k.counters["fills"] > 10
    rep, rows, paths = _report(a, cfg, tmp_path / "a")
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)
    # the numbers hang together: end equity = start + net P&L; settled = wins + losses
    data = json.loads((tmp_path / "a" / "report.json").read_text())
    assert float(data["end_equity_usd"]) == pytest.approx(float(data["start_equity_usd"]) + float(data["pnl_net_usd"]))
    assert data["settled"] == sum(1 for r in rows if r.result != "open") and data["trades"] == len(rows)
    assert 0 <= data["wins"] <= data["settled"]
    # every evaluation was journaled: the strategy's evaluations equal its journaled skips+signals
    strat = k.strategies[0]
    counts = k.journal.counts
    journaled = sum(n for (act, _), n in counts.items() if act in ("skip", "signal"))
    assert journaled == strat.evaluations
    # the store holds the same orders and fills as the journal
    store = Store(f"sqlite:///{tmp_path / 'a' / 'clobflow.sqlite'}")
    try:
        assert len(store.fills(a.run_id)) == k.counters["fills"]
        assert len(store.orders(a.run_id)) == k.counters["orders"]
        assert len(store.decisions(a.run_id)) == sum(counts.values())
        positions = store.positions(a.run_id)
        settled = [p for p in positions if p["close_reason"] == "settled"]
        assert settled and all(p["size"] > 0 and p["cost"] > 0 for p in settled)
        # the rows' realized P&L adds up to the portfolio's realized P&L of the settled markets
        assert sum(p["realized_pnl"] for p in settled) == sum(
            s.realized for s in k.portfolio.summaries() if s.settled and s.bought)
        assert positions and all(p["status"] == "closed" or p["market"] not in k.resolved for p in positions)
        assert sum(p["status"] == "closed" for p in positions) >= len(k.resolved.keys() & k.bought.keys())
    finally:
        store.close()


def test_backtest_into_postgresql(tmp_path):
    url = os.environ.get("CLOBFLOW_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("CLOBFLOW_TEST_POSTGRES_URL is not set (CI sets it)")
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with admin.begin() as c:
            c.execute(sa.text(f"CREATE SCHEMA {schema}"))
    except sa.exc.OperationalError as exc:
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    try:
        ds = load_dataset("pm-btc15m-tob-1s", limit_markets=12)
        cfg = parse_config({"engine": {"mode": "backtest"}})
        res = run_backtest(cfg, ds, tmp_path, store_url=f"{url}?options=-csearch_path%3D{schema}")
        store = Store(f"{url}?options=-csearch_path%3D{schema}")
        try:
            assert len(store.fills(res.run_id)) == res.kernel.counters["fills"] > 0
            assert len(store.decisions(res.run_id)) == sum(res.kernel.journal.counts.values())
        finally:
            store.close()
    finally:
        with admin.begin() as c:
            c.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
