"""``clobflow import ...`` as a user runs it: a real subprocess against the venue over loopback.

The commands are run through ``python -m clobflow.cli.import_cmd`` (the sub-app's own entry
point, with the same error handling as ``clobflow``) until the lead registers them in main.py.
"""

from __future__ import annotations

import json
import socket

import pytest

from .conftest import WALLET
from .helpers import read_prices, read_trades, read_windows
from .test_resume import run_cli


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, (code, err)
    lines = err.strip().splitlines()
    assert "Traceback" not in err and len(lines) == 1, err
    for n in needles:
        assert n in lines[0], lines[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_markets_then_prices_then_trades(venue, tmp_path, ds4):
    url = ("--url", venue.http_url, "--out", str(tmp_path))
    code, out, err = await run_cli("markets", "--closed", "--tag", "bitcoin", *url)
    assert code == 0, err
    assert out.strip() == f"markets: done: 4 rows written, 0 duplicates skipped, 1 pages -> {tmp_path}"
    assert [r.winner for r in read_windows(tmp_path)] == [ds4.resolutions[m.condition_id].winning_asset_id
                                                          for m in ds4.markets]
    # prices of every token in the imported markets (no --token)
    code, out, err = await run_cli("prices", "--start", "2025-12-26T10:30:00Z", "--end", "2025-12-26 11:30",
                                   "--window-days", "0.01", *url)
    assert code == 0 and out.startswith("prices: done: "), err
    assert sorted(read_prices(tmp_path)) == sorted(ds4.token_ids)
    code, out, err = await run_cli("trades", "--user", WALLET, "--start", "1766746800", "--api", "v1", *url)
    assert code == 0, err
    rows = read_trades(tmp_path)
    assert rows and min(r.ts_ns for r in rows) >= 1766746800 * 10**9 and {r.wallet for r in rows} == {WALLET}
    code, out, err = await run_cli("trades", "--user", WALLET, "--start", "1766746800", "--api", "v1", *url)
    assert code == 0 and ", already complete: " in out and len(read_trades(tmp_path)) == len(rows)
    state = json.loads((tmp_path / "import-state.json").read_text())
    assert sorted(j["kind"] for j in state["jobs"].values()) == ["markets", "prices", "trades"]


async def test_incomplete_import_exits_1_with_warnings(venue, tmp_path, ds4):
    code, out, err = await run_cli("prices", "--token", "42", "--token", ds4.token_ids[0],
                                   "--url", venue.http_url, "--out", str(tmp_path), "-q")
    assert code == 1 and "prices: done: " in out
    assert err.strip() == "warning: 1 not found at the venue: 42"


@pytest.mark.parametrize(("args", "needles"), [
    (["trades", "--user", WALLET, "--start", "yesterday"], ["--start must be an ISO date/time"]),
    (["trades"], ["give --market"]),
    (["trades", "--user", WALLET, "--api", "v9"], ["--api must be v2, v1 or auto"]),
    (["prices", "--token", "1", "--end", "2026-01-01"], ["--end needs --start"]),
    (["prices"], ["run `clobflow import markets` first"]),
    (["markets", "--max-rps", "0"], ["--max-rps must be > 0"]),
])
async def test_bad_arguments_are_one_line(tmp_path, args, needles):
    code, _, err = await run_cli(*args, "--out", str(tmp_path))
    assert_one_line_error(code, err, *needles)


async def test_unreachable_venue_is_one_line_and_resumable(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    code, _, err = await run_cli("trades", "--user", WALLET, "--url", url, "--retries", "1", "--out", str(tmp_path))
    assert_one_line_error(code, err, "network error", "re-run to resume")


async def test_venue_refusal_is_one_line(venue, tmp_path):
    code, _, err = await run_cli("trades", "--user", WALLET, "--url", venue.http_url, "--page-size", "5000",
                                 "--out", str(tmp_path))
    assert_one_line_error(code, err, "HTTP 400", "limit must be in [1, 1000]")


async def test_rows_into_the_embedded_store(venue, tmp_path):
    from clobflow.recorder.embedded import DuckDBSink
    from clobflow.recorder.tables import TradeRow

    db = tmp_path / "store"
    args = ("trades", "--market", "0xdd22472e552920b8438158ea7238bfadfa4f736aa4cee91a6b86c39ead110917",
            "--url", venue.http_url, "-q")
    code, out, err = await run_cli(*args, "--db", str(db), "--out", str(tmp_path / "a"))
    assert code == 0 and "4 rows written" in out, err
    code, _, err = await run_cli(*args, "--out", str(tmp_path / "b"))
    assert code == 0, err
    store = DuckDBSink(db)
    try:
        rows = [TradeRow(*r) for r in store.query("SELECT * FROM trades")]
    finally:
        store.close()
    assert sorted(rows, key=lambda r: r.trade_id) == sorted(read_trades(tmp_path / "b"), key=lambda r: r.trade_id)
    assert not (tmp_path / "a" / "trades.jsonl").exists()
