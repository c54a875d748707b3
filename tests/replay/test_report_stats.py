"""The report's numbers on a hand-built portfolio: market P&L including unwinds, per-trade
statistics, exposure time, the hourly Sharpe ratio; the one formatting helper; log lines that
name markets by slug."""

from __future__ import annotations

import math

import msgspec

from clobflow.core import display as D
from clobflow.core.events import Side
from clobflow.engine.live import line_for
from clobflow.observe.journal import JournalEntry
from clobflow.portfolio import Portfolio
from clobflow.replay.stats import HOUR_NS, exposure_share, hourly_sharpe, trade_stats
from tests.portfolio.test_portfolio import SH, USD, fill, market


def _world() -> Portfolio:
    """m1: buy 10 Yes at 0.40 and 10 No at 0.55, unwind 4 Yes at 0.30, No wins.
    m2: buy 10 Yes at 0.50, Yes wins. m3: buy 5 Yes at 0.20, still open, marked at 0.10."""
    p = Portfolio(1_000 * USD)
    h = HOUR_NS
    p.sample(0)
    p.apply_fill(fill(Side.BUY, 400_000, 10 * SH, cid="m1", token="yes", ts=0))
    p.apply_fill(fill(Side.BUY, 550_000, 10 * SH, cid="m1", token="no", ts=h // 2))
    p.apply_fill(fill(Side.SELL, 300_000, 4 * SH, fee=10_000, cid="m1", token="yes", ts=h))
    p.sample(h)
    p.settle(market("m1"), "m1-no", 2 * h)
    p.sample(2 * h)
    p.apply_fill(fill(Side.BUY, 500_000, 10 * SH, cid="m2", token="yes", ts=3 * h))
    p.settle(market("m2"), "m2-yes", 4 * h)
    p.sample(4 * h)
    p.apply_fill(fill(Side.BUY, 200_000, 5 * SH, cid="m3", token="yes", ts=6 * h))
    p.mark("m3-yes", 100_000)
    p.sample(7 * h)
    return p


def test_market_pnl_includes_what_unwinds_realized():
    p = _world()
    # m1: paid 4.00 + 5.50; unwind 1.20 − 0.01 fee; payout 10 No shares = 10.00
    assert p.market_pnl("m1") == 10 * USD + 1_200_000 - 10_000 - 9_500_000 == 1_690_000
    assert p.market_pnl("m2") == 5 * USD
    assert p.market_pnl("m3") == -500_000  # open: marked at the bid
    assert p.market_pnl("nope") is None
    assert sum(p.market_pnl(m) for m in ("m1", "m2", "m3")) == p.equity() - p.starting_cash


def test_trade_statistics_and_exposure_time():
    p = _world()
    ts = trade_stats(p)
    assert (ts.trades, ts.open, ts.wins, ts.losses) == (2, 1, 2, 0)
    assert ts.best == 5 * USD and ts.worst == 1_690_000 and ts.avg_win == (5 * USD + 1_690_000) // 2
    assert ts.avg_loss is None and ts.profit_factor == math.inf and ts.expectancy == ts.avg_win
    # open 0..2h (m1), 3h..4h (m2), 6h..7h (m3) out of 0..7h
    assert p.exposure_time_ns(7 * HOUR_NS) == 4 * HOUR_NS
    assert exposure_share(p, 7 * HOUR_NS) == round(4 / 7, 6)


def test_hourly_sharpe_follows_its_stated_formula():
    p = _world()
    # equity at each whole hour 1h..7h, carried forward, against the 1,000.00 start (dollars)
    changes = [-0.41, 2.10, 0, 5.00, 0, 0, -0.50]  # unwind leg open, m1 settles, m2 settles, m3 marked
    r = [c / 1000 for c in changes]
    mean = sum(r) / len(r)
    sd = math.sqrt(sum((x - mean) ** 2 for x in r) / (len(r) - 1))
    assert hourly_sharpe(p, 7 * HOUR_NS) == round(mean / sd * math.sqrt(8760), 6)
    assert hourly_sharpe(Portfolio(USD), 0) is None


def test_one_formatting_helper():
    assert D.money(-1_234_567_890) == "-1,234.57"
    assert D.signed_money(1_840_000) == "+1.84" and D.signed_money(0) == "0.00"
    assert D.price(971_900) == "0.9719" and D.shares(8_069 * SH) == "8,069.00"
    assert D.count(12195) == "12,195" and D.pct(0.15384) == "15.4%" and D.money(None) == "-"
    assert D.money(5) == "0.00" and D.money(84_340_956) == "84.34"


def test_log_lines_name_the_market_by_slug():
    m = msgspec.structs.replace(market("0x03dd995a3a2e9230c98765efa37e7ba964067570fae06f83b30482ec1b68032e"),
                                slug="btc-updown-15m-1766745900")
    e = JournalEntry(1, 0, "s", "settle", "won", True, market=m.condition_id, inputs={"pnl": 1_840_000})
    line = line_for(e, {m.condition_id: m})
    assert m.slug in line and "pnl=+1.84" in line and "0x03dd" not in line
    assert m.condition_id in line_for(e)  # unknown: the whole id, never a prefix


def test_report_json_is_strict_when_no_trade_lost(tmp_path):
    """Only winning trades: the profit factor is undefined, and report.json says ``null``, not
    the ``Infinity`` strict JSON readers refuse."""
    import json

    from clobflow.replay.report import build_report, write_report

    p = _world()
    report, rows = build_report(run_id="r", mode="backtest", frames=0, portfolio=p, starting_cash=1_000 * USD,
                                markets={}, journal_counts={}, counters={}, max_exposure=0)
    write_report(tmp_path, report, rows, p)
    text = (tmp_path / "report.json").read_text()
    assert "Infinity" not in text and json.loads(text)["profit_factor"] is None
    assert "profit factor -" in (tmp_path / "report.txt").read_text()
