"""The pair bot end to end: the backtest on the bundled real 15-minute data (66 windows, beside
gabagool22's real pair costs; byte-identical on a rerun; taker hits classified as
inconsistencies), paper and shadow against the local simulator over loopback, and a sweep."""

from __future__ import annotations

import csv
import json
import re
import sqlite3

import pytest

from clobflow.core import display
from clobflow.core.events import Side
from clobflow.core.numbers import micros_from_number
from clobflow.core.orders import Fill, Liquidity
from clobflow.engine.backtest import run_backtest
from clobflow.engine.config import load_config, parse_config
from clobflow.engine.live import run_live
from clobflow.portfolio.portfolio import Portfolio
from clobflow.replay.report import report_run
from clobflow.replay.selection import DatasetSpec
from clobflow.replay.sweep import parse_grid, run_sweep
from clobflow.sim.datasets import load_dataset
from clobflow.sim.venue import VenueServer
from clobflow.strategies.complete_set.report import COLUMNS

LATENCY = "latency.txt"  # the one output that reads the wall clock


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """The full bundled backtest, twice."""
    cfg = load_config("config/complete_set.yaml")
    ds = load_dataset("pm-btc15m-tob-1s")
    outs = []
    for i in range(2):
        out = tmp_path_factory.mktemp(f"cs{i}")
        res = run_backtest(cfg, ds, out)
        report_run(res.kernel, run_id=res.run_id, mode="backtest", frames=res.frames,
                   starting_cash_usd=cfg.engine.starting_cash_usd, out_dir=out)
        outs.append((out, res))
    return outs


def test_the_bundled_backtest_reports_every_window_beside_the_wallet(full):
    out, res = full[0]
    rows = list(csv.DictReader((out / "windows.csv").open()))
    assert tuple(rows[0].keys()) == COLUMNS
    assert len(rows) == 66
    assert all(r["wallet_pair_cost"] for r in rows)  # gabagool22 traded every window
    traded = [r for r in rows if int(r["fills_up"]) and int(r["fills_down"])]
    assert len(traded) >= 40
    assert all(r["winner"] for r in rows if r["slug"] != "btc-updown-15m-1767315600")  # last: cut short
    text = (out / "complete_set.txt").read_text()
    assert "pair cost: ours" in text and "second-leg latency" in (out / "latency.txt").read_text()
    s = res.kernel.strategies[0]
    assert s.log.drops == 0 and s.log.seq > 1000


def test_taker_hits_on_the_recording_are_inconsistencies_not_profits(full):
    s = full[0][1].kernel.strategies[0]
    c = s.detector.counters
    assert c["executable"] == 0 and c["inconsistent"] > 1000
    assert res_detects(full[0][0]) == c["inconsistent"]


def res_detects(out) -> int:
    return sum(1 for line in (out / "decisions.jsonl").open() if '"action":"detect"' in line)


STORE_WALL_CLOCK = {"runs": {"owner", "heartbeat_ns"}}
"""The store's only columns that may differ on a rerun: the run's liveness owner (host:pid) and
its wall-clock heartbeat. (Every ``*_ns`` elsewhere is market time.)"""


def _store_rows(db) -> dict[str, list[tuple]]:
    """Every table's rows, wall-clock columns left out, ordered by the primary key (all columns
    where there is none), so the comparison does not depend on storage order."""
    con = sqlite3.connect(db)
    try:
        out = {}
        for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
            info = con.execute(f"PRAGMA table_info({table})").fetchall()
            cols = [c[1] for c in info if c[1] not in STORE_WALL_CLOCK.get(table, ())]
            key = [c[1] for c in sorted(info, key=lambda c: c[5]) if c[5]] or cols
            out[table] = con.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY {', '.join(key)}").fetchall()
        return out
    finally:
        con.close()


def test_a_rerun_gives_the_same_store_rows(full):
    """The position rows are opened/closed synchronously but updated by the store's writer
    thread; whatever its timing, a rerun stores the same rows (closes carry their final size
    and cost, so a queued update cannot decide them)."""
    (a, _), (b, _) = full
    rows_a, rows_b = _store_rows(a / "clobflow.sqlite"), _store_rows(b / "clobflow.sqlite")
    assert len(rows_a["positions"]) >= 60 and len(rows_a["fills"]) > 1000
    for table in rows_a:
        assert rows_a[table] == rows_b[table], table


def test_every_position_row_holds_the_portfolios_final_holdings(full):
    """Replaying the stored fills (in the kernel's order: the fill decisions' seq) through a
    fresh portfolio gives, for each position row, the holdings it must show: after its last
    fill (an ``exited`` row: nothing left; a ``settled`` or open row: all of the market's
    fills, none can follow a settlement)."""
    out, res = full[0]
    con = sqlite3.connect(out / "clobflow.sqlite")
    con.row_factory = sqlite3.Row
    try:
        fills = con.execute(
            "SELECT f.* FROM fills f JOIN decisions d ON d.run_id = f.run_id AND d.action = 'fill'"
            " AND json_extract(d.inputs_json, '$.fill_id') = f.fill_id ORDER BY d.seq").fetchall()
        rows = con.execute("SELECT * FROM positions ORDER BY id").fetchall()
    finally:
        con.close()
    assert len(fills) == res.kernel.counters["fills"]
    book = Portfolio()
    holdings: dict[str, list[tuple[int, int, int]]] = {}  # market -> (fill ts, size, cost) after each fill
    for f in fills:
        book.apply_fill(Fill(f["fill_id"], f["client_order_id"], f["strategy"], f["market"], f["asset_id"],
                             Side[f["side"]], f["price"],
                             f["size"], f["fee"], Liquidity(f["liquidity"]), f["ts_ns"]))
        holdings.setdefault(f["market"], []).append(
            (f["ts_ns"], book.market_size(f["market"]), book.exposure(f["market"])))
    reasons = set()
    for r in rows:
        after = [h for h in holdings[r["market"]] if r["closed_ns"] is None or h[0] <= r["closed_ns"]]
        _, size, cost = after[-1]
        assert (r["size"], r["cost"]) == (size, cost), dict(r)
        assert r["size"] > 0 or r["close_reason"] == "exited", dict(r)
        reasons.add(r["close_reason"])
    assert {"settled", "exited"} <= reasons


def test_a_rerun_is_byte_identical_except_the_latency_file(full):
    (a, _), (b, _) = full
    names = sorted(p.name for p in a.iterdir() if not p.name.startswith("clobflow.sqlite"))
    assert {"report.txt", "report.json", "complete_set.txt", "windows.csv", "fill_compare.txt", LATENCY} <= set(names)
    assert names == sorted(p.name for p in b.iterdir() if not p.name.startswith("clobflow.sqlite"))
    for name in names:
        if name != LATENCY:
            assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert "wall clock" in (a / LATENCY).read_text()
    assert "latency" not in (a / "complete_set.txt").read_text()


def test_one_pnl_truth_every_section_agrees_to_the_cent(full):
    """report.json, markets.csv, windows.csv, complete_set.txt and the journal's settle rows all
    carry the portfolio's P&L; locked is one number in windows.csv, complete_set.txt and
    fill_compare."""
    out, res = full[0]
    pf = res.kernel.portfolio
    rep = json.loads((out / "report.json").read_text())
    net = micros_from_number(rep["pnl_net_usd"])
    assert net == pf.realized_pnl + pf.unrealized_pnl == pf.equity() - pf.starting_cash
    windows = list(csv.DictReader((out / "windows.csv").open()))
    by_market = {w["market"]: micros_from_number(w["pnl"]) for w in windows}
    assert sum(by_market.values()) == net
    markets = {r["market"]: micros_from_number(r["pnl_usd"]) for r in csv.DictReader((out / "markets.csv").open())}
    assert markets == by_market
    text = (out / "complete_set.txt").read_text()
    assert f"P&L {display.signed_money(net)} USD" in text
    assert f"P&L net {display.money(net)}" in (out / "report.txt").read_text()
    # the journal's settle row of every window = that window's P&L (unwinds included)
    settles = [json.loads(line) for line in (out / "journal.jsonl").open() if '"action":"settle"' in line]
    assert len(settles) == sum(1 for w in windows if w["winner"]) == 65
    for row in settles:
        assert row["inputs"]["pnl"] == by_market[row["market"]], row["market"]
        assert row["reason"] == ("won" if by_market[row["market"]] > 0 else "lost")
    assert sum(1 for r in settles if r["reason"] == "won") == rep["wins"]
    # locked: one definition (wallet.pair_cost of our buys), the same sum everywhere
    locked = sum(micros_from_number(w["locked"]) for w in windows)
    cmp = json.loads((out / "fill_compare.json").read_text())
    assert cmp["summary"]["windows"] == len(windows)
    assert cmp["summary"]["ours_locked_profit"] == locked
    assert f"locked {display.money(locked)};" in text
    assert f"locked profit: ours {display.money(locked)}," in (out / "fill_compare.txt").read_text()


def test_the_report_has_trade_statistics_sharpe_and_exposure_time(full):
    out, _ = full[0]
    rep = json.loads((out / "report.json").read_text())
    assert rep["signals"] == rep["order_requests"] == rep["orders"] + rep["risk_rejects"] > 0
    assert rep["closed"] == rep["wins"] + rep["losses"] == 65 and rep["trades"] == 66
    assert micros_from_number(rep["best_trade_usd"]) > 0 > micros_from_number(rep["worst_trade_usd"])
    assert 0 < rep["profit_factor"] < 1 and rep["sharpe"] < 0
    assert 0.05 < rep["exposure_time"] < 0.2  # 66 windows of 15 min in ~6.6 days of recording
    assert rep["halts"]["complete_set"]["kill_switch"] is None
    text = (out / "report.txt").read_text()
    for needle in ("profit factor", "expectancy", "Sharpe (hourly, annualised)", "exposure time", "halts"):
        assert needle in text
    # people's files carry no micro-unit integers or 6-decimal floats
    for name in ("report.txt", "complete_set.txt", "fill_compare.txt"):
        assert not re.search(r"\d\.\d{5,}", (out / name).read_text()), name


def test_equal_share_legs_and_second_leg_latency(full):
    s = full[0][1].kernel.strategies[0]
    assert s.leg_latencies_ns
    lat = sorted(s.leg_latencies_ns)
    assert lat[len(lat) // 2] < 2_000_000  # median fill -> second-leg order under 2 ms
    legs = [r for r in s.log.reviews for c in r.counterfactuals if c.action == "second_leg"]
    assert legs


SPEED = 60


async def _live(mode, tmp_path):
    ds = load_dataset("pm-btc15m-tob-1s", limit_markets=3)
    cfg = parse_config({
        "engine": {"mode": mode, "timer_interval_s": 0.2},
        "feed": {"stall_after_s": 0, "reconnect_min_delay_s": 0.05, "reconnect_max_delay_s": 0.2, "subscription_refresh_interval_s": 2},
        "strategies": [{"kind": "complete_set"}],
    })
    start = ds.markets[1].start_ns + 60 * 10**9
    async with VenueServer(ds, speed=SPEED, start_at_ns=start) as server:
        return await run_live(cfg, mode, tmp_path / mode, ws_url=server.ws_url, gamma_url=server.http_url,
                              clob_url=server.http_url, duration_s=8, log=lambda s: None)


async def test_paper_quotes_and_shadow_places_nothing_against_the_simulator(tmp_path):
    paper = await _live("paper", tmp_path)
    ps = paper.kernel.strategies[0]
    assert ps.pairs and sum(p.stats.get("quotes", 0) for p in ps.pairs.values()) >= 2
    assert (tmp_path / "paper" / paper.run_id / "decisions.jsonl").stat().st_size > 0
    shadow = await _live("shadow", tmp_path)
    assert shadow.kernel.counters["fills"] == 0 and shadow.kernel.portfolio.total_exposure() == 0
    assert sum(p.stats.get("quotes", 0) for p in shadow.kernel.strategies[0].pairs.values()) >= 2


def test_a_sweep_over_margins_and_quote_offsets(tmp_path):
    cfg = load_config("config/complete_set.yaml")
    axes = parse_grid("margin_early=0.02,0.04,quote_offset_ticks=0,1")
    res = run_sweep(cfg, axes, DatasetSpec("pm-btc15m-tob-1s", limit_markets=3), tmp_path, workers=2)
    assert len(res.rows) == 4 and all(r["pnl_net"] is not None for r in res.rows)
    assert {(r["margin_early"], r["quote_offset_ticks"]) for r in res.rows} == {(0.02, 0), (0.02, 1), (0.04, 0),
                                                                               (0.04, 1)}
    # each run is a complete pair-bot run with its own decision log
    assert all((tmp_path / "runs" / str(n) / "decisions.jsonl").exists() for n in range(4))
