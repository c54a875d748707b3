"""The ``clobflow`` command as a user runs it: a real subprocess, real loopback sockets."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from clobflow.recorder.frames import RawFrame, write_frames
from clobflow.sim.datasets import convert

ROOT = Path(__file__).resolve().parents[2]
BURST = ROOT / "fixtures" / "polymarket" / "ws_market" / "book_then_price_change_burst_2026-09.json"


def clobflow(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    return subprocess.run(
        [sys.executable, "-m", "clobflow.cli.main", *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_one_line_error(res: subprocess.CompletedProcess, *needles: str) -> None:
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    err = res.stderr.strip()
    assert "Traceback" not in res.stderr and len(err.splitlines()) == 1, res.stderr
    for n in needles:
        assert n in err, err


def test_books_json_on_the_real_burst_ends_at_the_venues_top_of_book():
    res = clobflow("books", str(BURST), "--json")
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert rows and set(rows[0]) >= {"ts", "asset_id", "best_bid", "best_ask", "bid_size", "ask_size", "trust"}
    msgs = json.loads(BURST.read_text())
    last_pc = [m for m in msgs if m["event_type"] == "price_change"][-1]
    final = {r["asset_id"]: r for r in rows}
    for c in last_pc["price_changes"]:
        assert (final[c["asset_id"]]["best_bid"], final[c["asset_id"]]["best_ask"]) == (c["best_bid"], c["best_ask"])
        assert final[c["asset_id"]]["trust"] == "trusted"
    assert "0 rejected" in res.stderr and "0 top-of-book mismatches" in res.stderr
    # the fill at 0.301: its consumed levels (YES bids 0.311, 0.301; NO asks 0.689, 0.699) go at
    # once, so no row shows a crossed book (issue 11: it was crossed and trusted)
    assert "4 consumed levels removed" in res.stderr
    crossed = [r for r in rows if r["best_bid"] and r["best_ask"] and float(r["best_bid"]) >= float(r["best_ask"])]
    assert crossed == [] and {r["trust"] for r in rows} == {"trusted"}


def test_books_reads_the_recorder_format_and_jsonl(tmp_path):
    frames_path, _markets = convert("pm-btc1h-l2-1s", tmp_path / "ds")
    res = clobflow("books", str(frames_path), "--json")
    assert res.returncode == 0, res.stderr
    assert "0 rejected" in res.stderr and "0 top-of-book mismatches" in res.stderr
    assert "0 consumed levels removed" in res.stderr  # the simulator's tops always agree
    # JSON Lines of plain messages, including a text frame and a malformed line
    msgs = json.loads(BURST.read_text())
    jl = tmp_path / "msgs.jsonl"
    jl.write_text("\n".join([json.dumps(m) for m in msgs[:5]] + ["PONG", '{"event_type":"book"'] ) + "\n")
    res = clobflow("books", str(jl))
    assert res.returncode == 0, res.stderr
    assert "1 rejected" in res.stderr and "invalid_json" in res.stderr
    # and a raw-frame file written by the recorder's writer
    rf = tmp_path / "raw.jsonl"
    write_frames(rf, [RawFrame(i, "polymarket", "market", 0, json.dumps(m)) for i, m in enumerate(msgs)])
    assert clobflow("books", str(rf), "--json").stdout.splitlines()[-1] == _last_row_with_ts(BURST, 50)


def _last_row_with_ts(path: Path, ts: int) -> str:
    row = json.loads(clobflow("books", str(path), "--json").stdout.splitlines()[-1])
    row["ts"] = ts
    return json.dumps(row, separators=(",", ":"))


def test_books_missing_file_is_one_line():
    assert_one_line_error(clobflow("books", "no/such/file.jsonl"), "no such file")


def test_demo_json_streams_trusted_books_from_the_simulator():
    res = clobflow("demo", "--watch", "--duration", "4", "--speed", "5", "--json", timeout=90)
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(rows) >= 10
    assert {r["slug"] for r in rows} == {"btc-updown-15m-1766745000"}
    assert {r["outcome"] for r in rows} == {"Up", "Down"}
    assert rows[-1]["trust"] == "trusted"
    for r in rows:
        assert r["best_bid"] is None or 0 < float(r["best_bid"]) < 1


def test_watch_against_a_running_simulator(tmp_path):
    port = free_port()
    venue = subprocess.Popen(
        [sys.executable, "-m", "clobflow.cli.main", "venue", "--dataset", "pm-btc15m-tob-1s", "--port", str(port),
         "--speed", "5", "--duration", "60"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert "ws://127.0.0.1" in venue.stdout.readline()
        url = f"http://127.0.0.1:{port}"
        res = clobflow("watch", "--updown", "btc", "--ws-url", f"ws://127.0.0.1:{port}/ws/market",
                       "--gamma-url", url, "--clob-url", url, "--duration", "3")
        assert res.returncode == 0, res.stderr
        assert "btc-updown-15m-1766745000" in res.stdout and "final" in res.stdout
        assert "T/T" in res.stdout  # both books trusted in the final table
    finally:
        venue.terminate()
        venue.wait(10)


def test_unreachable_endpoints_give_one_clear_line():
    port = free_port()  # nothing listens there
    url = f"http://127.0.0.1:{port}"
    res = clobflow("watch", "--slug", "x", "--ws-url", f"ws://127.0.0.1:{port}/ws/market",
                   "--gamma-url", url, "--clob-url", url, "--duration", "2")
    assert_one_line_error(res, "cannot", f"127.0.0.1:{port}")


@pytest.mark.parametrize(
    "args,needle",
    [
        (["watch", "--max-assets-per-conn", "501"], "--max-assets-per-conn"),
        (["watch", "--interval", "7m"], "--interval"),
        (["watch", "--duration", "0"], "--duration"),
        (["demo", "--dataset", "nope"], "nope"),
    ],
)
def test_bad_arguments_name_what_is_wrong(args, needle):
    assert_one_line_error(clobflow(*args), needle)


def test_backtest_cli_writes_the_report(tmp_path):
    res = clobflow("backtest", "--data", "pm-btc1h-l2-1s", "--out", str(tmp_path), "--no-progress", timeout=120)
    assert res.returncode == 0, res.stderr
    assert "win rate" in res.stdout and "P&L net" in res.stdout and "Sharpe" in res.stdout
    for name in ("journal.jsonl", "report.txt", "report.json", "markets.csv", "equity.csv", "equity.png", "clobflow.sqlite"):
        assert (tmp_path / name).exists(), name


def test_backtest_cli_bad_config_is_one_line(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("strategies:\n  - name: imbalance\n    min_imbalanse: 0.4\n")
    assert_one_line_error(clobflow("backtest", "--config", str(cfg), "--out", str(tmp_path)), "min_imbalanse")


def test_run_refuses_live_mode():
    assert_one_line_error(clobflow("run", "--mode", "live"), "live")


def test_run_stops_cleanly_on_sigterm_with_everything_flushed(tmp_path):
    import signal
    import time

    port = free_port()
    venue = subprocess.Popen(
        [sys.executable, "-m", "clobflow.cli.main", "venue", "--dataset", "pm-btc15m-tob-1s", "--port", str(port),
         "--speed", "20", "--duration", "90"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "ws://127.0.0.1" in venue.stdout.readline()
        url = f"http://127.0.0.1:{port}"
        run = subprocess.Popen(
            [sys.executable, "-m", "clobflow.cli.main", "run", "--mode", "paper", "--out", str(tmp_path),
             "--ws-url", f"ws://127.0.0.1:{port}/ws/market", "--gamma-url", url, "--clob-url", url],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        journal = None
        while time.monotonic() < deadline:
            found = list(tmp_path.glob("journal-*.jsonl"))
            if found and found[0].stat().st_size > 0 or (found and time.monotonic() > deadline - 20):
                journal = found[0]
                break
            time.sleep(0.2)
        time.sleep(3)
        run.send_signal(signal.SIGTERM)
        out, err = run.communicate(timeout=30)
        assert run.returncode == 0, err
        assert "paper run" in out and "decisions" in out  # the start line and the final report
        assert journal is not None and journal.stat().st_size > 0
        assert (tmp_path / "report.txt").exists()
        from clobflow.store.store import Store

        store = Store(f"sqlite:///{tmp_path / 'clobflow.sqlite'}")
        try:
            run_id = journal.stem.removeprefix("journal-")
            assert store.run(run_id)["status"] == "finished"
            assert len(store.decisions(run_id)) == sum(1 for line in journal.open() if line.strip())
        finally:
            store.close()
    finally:
        venue.terminate()
        venue.wait(10)


def test_import_bundled_loads_wallet_trades_and_outcomes_once(tmp_path):
    import duckdb

    res = clobflow("import", "bundled", "--db", str(tmp_path), "--dataset", "pm-crypto15m-trades-wallets")
    assert res.returncode == 0, res.stderr
    assert "trades 10,738" in res.stdout
    con = duckdb.connect(str(tmp_path / "tables.duckdb"), read_only=True)
    try:
        assert con.execute("select count(*) from trades where wallet <> ''").fetchone()[0] == 10_738
        assert con.execute("select count(*) from market_windows where winner <> ''").fetchone()[0] > 0
    finally:
        con.close()
    assert_one_line_error(clobflow("import", "bundled", "--db", str(tmp_path), "--dataset",
                                   "pm-crypto15m-trades-wallets"), "--overwrite")
