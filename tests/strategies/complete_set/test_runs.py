"""The pair bot end to end: the backtest on the bundled real 15-minute data (66 windows, beside
gabagool22's real pair costs; byte-identical on a rerun; taker hits classified as
inconsistencies), paper and shadow against the local simulator over loopback, and a sweep."""

from __future__ import annotations

import csv

import pytest

from clobflow.engine.backtest import run_backtest
from clobflow.engine.config import load_config, parse_config
from clobflow.engine.live import run_live
from clobflow.replay.selection import DatasetSpec
from clobflow.replay.sweep import parse_grid, run_sweep
from clobflow.sim.datasets import load_dataset
from clobflow.sim.venue import VenueServer
from clobflow.strategies.complete_set.report import COLUMNS

FILES = ("decisions.jsonl", "counterfactuals.jsonl", "anomalies.jsonl", "windows.csv", "journal.jsonl",
         "fill_compare.json")


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """The full bundled backtest, twice."""
    cfg = load_config("config/complete_set.yaml")
    ds = load_dataset("pm-btc15m-tob-1s")
    outs = []
    for i in range(2):
        out = tmp_path_factory.mktemp(f"cs{i}")
        res = run_backtest(cfg, ds, out)
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
    assert "pair cost: ours" in text and "second-leg latency" in text
    s = res.kernel.strategies[0]
    assert s.log.drops == 0 and s.log.seq > 1000


def test_taker_hits_on_the_recording_are_inconsistencies_not_profits(full):
    s = full[0][1].kernel.strategies[0]
    c = s.detector.counters
    assert c["executable"] == 0 and c["inconsistent"] > 1000
    assert res_detects(full[0][0]) == c["inconsistent"]


def res_detects(out) -> int:
    return sum(1 for line in (out / "decisions.jsonl").open() if '"action":"detect"' in line)


def test_a_rerun_is_byte_identical(full):
    (a, _), (b, _) = full
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


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
