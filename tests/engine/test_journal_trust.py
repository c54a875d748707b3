"""Signal and order journal rows carry the trust of the book they read (issue 10, finding 7),
so "no order on an untrusted book" is checked from the journal alone."""

from __future__ import annotations

from clobflow.engine.backtest import run_backtest
from clobflow.engine.config import parse_config
from clobflow.observe.journal import read_journal
from clobflow.sim.datasets import load_dataset


def test_signals_and_orders_record_book_trust_and_no_order_reads_an_untrusted_book(tmp_path):
    ds = load_dataset("pm-btc15m-tob-1s", limit_markets=8)
    res = run_backtest(parse_config({"engine": {"mode": "backtest"}}), ds, tmp_path)
    entries = read_journal(res.journal_path)
    signals = [e for e in entries if e.action == "signal"]
    orders = [e for e in entries if e.action == "order"]
    assert signals and orders
    for e in signals + orders:
        assert e.inputs is not None and e.inputs["book_trust"] in ("trusted", "suspect", "untrusted", "none")
        assert e.inputs["book_trust_reason"]
    assert all(e.inputs["book_trust"] == "trusted" for e in orders)  # type: ignore[index]
