"""An interrupted import, re-run, writes exactly the rows of an uninterrupted one: none twice,
none missing. Interrupted by an exception after page N (in-process), by a sink that dies
around its write, and by SIGKILL of the ``clobflow import`` process."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest

from clobflow.venues.polymarket.history import MarketQuery, PriceQuery, TradeQuery
from clobflow.sim.venue.history import VenueHistory

from .conftest import WALLET, SqlSink
from .helpers import (
    assert_no_duplicates,
    markets_job,
    prices_job,
    read_prices,
    read_trades,
    read_windows,
    trades_job,
)

NS = 1_000_000_000
ROOT = Path(__file__).resolve().parents[2]


class Interrupt(Exception):
    pass


def stop_after(n: int):
    def progress(ev) -> None:
        if ev.pages == n:
            raise Interrupt(f"stopped after page {n}")
    return progress


def full_range(ds) -> tuple[int, int]:
    return ds.frames[0].ts_recv_ns // NS, ds.frames[-1].ts_recv_ns // NS


_WHOLE: dict[str, object] = {}


async def uninterrupted(job, read, api, out: Path, q, **kw):
    """What an uninterrupted run writes (deterministic: computed once per query and options)."""
    key = repr((job.__name__, q, sorted((k, v) for k, v in kw.items() if k != "clock_ns")))
    if key not in _WHOLE:
        await job(api, out, q, **kw)
        _WHOLE[key] = read(out)
    return _WHOLE[key]


async def interrupted_then_resumed(job, api, out: Path, q, n: int, **kw):
    with pytest.raises(Interrupt):
        await job(api, out, q, progress=stop_after(n), **kw)
    res = await job(api, out, q, **kw)
    assert res.resumed and res.status in ("done", "truncated")
    return res


@pytest.mark.parametrize("n", [1, 13, 27])
async def test_trades_v2(api, tmp_path, n):
    q = TradeQuery(user=WALLET)
    whole = await uninterrupted(trades_job, read_trades, api, tmp_path / "whole", q, page_size=100)
    res = await interrupted_then_resumed(trades_job, api, tmp_path / "cut", q, n, page_size=100)
    rows = read_trades(tmp_path / "cut")
    assert_no_duplicates(rows)
    assert Counter(rows) == Counter(whole)
    assert res.rows == len(rows) and res.pages == 27


@pytest.mark.parametrize("n", [3, 4, 9])  # 4: right before the first window roll (offset 400)
async def test_trades_v1_across_time_windows(api, tmp_path, venue, history_rows, mids, n):
    venue.rest.history = VenueHistory(history_rows, mids, clock_ns=venue.now_ns, offset_cap=300)
    q = TradeQuery(user=WALLET, api="v1")
    kw = {"page_size": 100, "v1_max_offset": 10_000}
    whole = await uninterrupted(trades_job, read_trades, api, tmp_path / "whole", q, **kw)
    await interrupted_then_resumed(trades_job, api, tmp_path / "cut", q, n, **kw)
    rows = read_trades(tmp_path / "cut")
    assert_no_duplicates(rows)
    assert Counter(rows) == Counter(whole)


@pytest.mark.parametrize("n", [1, 7, 20])
async def test_prices(api, tmp_path, ds4, n):
    lo, hi = full_range(ds4)
    q = PriceQuery(tuple(ds4.token_ids), lo, hi)
    kw = {"window_s": 900, "min_window_s": 60}
    whole = await uninterrupted(prices_job, read_prices, api, tmp_path / "whole", q, **kw)
    await interrupted_then_resumed(prices_job, api, tmp_path / "cut", q, n, **kw)
    assert read_prices(tmp_path / "cut") == whole


@pytest.mark.parametrize("n", [1, 2, 4])
async def test_markets(api, tmp_path, n):
    q, kw = MarketQuery(closed=True), {"page_size": 1, "clock_ns": lambda: 5}
    await markets_job(api, tmp_path / "whole", q, **kw)
    await interrupted_then_resumed(markets_job, api, tmp_path / "cut", q, n, **kw)
    assert read_windows(tmp_path / "cut") == read_windows(tmp_path / "whole")
    raw = (tmp_path / "cut" / "gamma_markets.jsonl").read_text().splitlines()
    assert raw == (tmp_path / "whole" / "gamma_markets.jsonl").read_text().splitlines()


class DyingSink(SqlSink):
    """Dies on its ``at``-th write: ``after`` the rows are committed, or ``before`` any is."""

    def __init__(self, at: int, when: str) -> None:
        super().__init__()
        self.at, self.when = at, when

    def write(self, table, rows) -> None:
        if self.writes + 1 == self.at and self.when == "before":
            self.at = 0
            raise Interrupt("sink died before writing")
        super().write(table, rows)
        if self.writes == self.at and self.when == "after":
            self.at = 0
            raise Interrupt("process died after the sink committed")


@pytest.mark.parametrize("when", ["before", "after"])
async def test_sink_dies_around_its_write(api, tmp_path, when):
    q = TradeQuery(user=WALLET)
    ref = SqlSink()
    await trades_job(api, tmp_path / "ref", q, page_size=300, sink=ref)
    sink = DyingSink(at=4, when=when)
    with pytest.raises(Interrupt):
        await trades_job(api, tmp_path / "cut", q, page_size=300, sink=sink)
    state = json.loads((tmp_path / "cut" / "import-state.json").read_text())
    assert len(state["pending"]["tables"]["trades"]) == 300  # the page is staged in the checkpoint
    res = await trades_job(api, tmp_path / "cut", q, page_size=300, sink=sink)
    rows = sink.rows("trades")
    assert_no_duplicates(rows)
    assert Counter(rows) == Counter(ref.rows("trades")) and res.rows == len(rows)
    assert json.loads((tmp_path / "cut" / "import-state.json").read_text())["pending"] is None


async def test_pending_rows_need_the_sink(api, tmp_path):
    from clobflow.venues.polymarket.history import StateError

    with pytest.raises(Interrupt):
        await trades_job(api, tmp_path, TradeQuery(user=WALLET), sink=DyingSink(at=1, when="after"))
    with pytest.raises(StateError, match="pending for a table sink"):
        await trades_job(api, tmp_path, TradeQuery(user=WALLET))


async def run_cli(*args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "clobflow.cli.import_cmd", *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.slow
async def test_killed_process_resumes_to_the_same_rows(venue, tmp_path):
    cut, whole = tmp_path / "cut", tmp_path / "whole"
    args = ("trades", "--user", WALLET, "--url", venue.http_url, "--quiet")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "clobflow.cli.import_cmd", *args, "--out", str(cut), "--page-size", "100",
        "--max-rps", "5", cwd=ROOT, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    state = cut / "import-state.json"
    pages = 0
    for _ in range(600):  # up to 30 s
        await asyncio.sleep(0.02)
        try:
            pages = next(iter(json.loads(state.read_text())["jobs"].values()))["stats"].get("pages", 0)
        except (OSError, ValueError, StopIteration):
            continue
        if pages >= 6:
            break
    proc.send_signal(signal.SIGKILL)  # wherever it is: mid-request, mid-append, mid-checkpoint
    await proc.wait()
    assert 6 <= pages < 27  # killed in the middle (2,621 rows at 100 a page)
    killed_at = len(read_trades(cut))
    code, out, err = await run_cli(*args, "--out", str(cut))
    assert code == 0 and "done, resumed" in out, (out, err)
    code, out, err = await run_cli(*args, "--out", str(whole), "--page-size", "500")
    assert code == 0, err
    rows = read_trades(cut)
    assert_no_duplicates(rows)
    assert Counter(rows) == Counter(read_trades(whole)) and len(rows) > killed_at


async def test_the_embedded_store_settles_pending_rows(api, tmp_path):
    """The same crash windows with the real embedded DuckDB store."""
    from clobflow.recorder.embedded import DuckDBSink

    class Dying:
        def __init__(self, inner, at: int) -> None:
            self.inner, self.at, self.n = inner, at, 0

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def write(self, table, rows) -> None:
            self.inner.write(table, rows)
            self.n += 1
            if self.n == self.at:
                raise Interrupt("died after the store committed")

    q = TradeQuery(user=WALLET)
    store = DuckDBSink(tmp_path / "db")
    try:
        with pytest.raises(Interrupt):
            await trades_job(api, tmp_path / "cut", q, page_size=500, sink=Dying(store, at=2))
        await trades_job(api, tmp_path / "cut", q, page_size=500, sink=store)
        await trades_job(api, tmp_path / "ref", q, page_size=500)
        ids = [r[0] for r in store.query("SELECT trade_id FROM trades")]
        assert len(ids) == len(set(ids)) == len(read_trades(tmp_path / "ref"))
        assert set(ids) == {r.trade_id for r in read_trades(tmp_path / "ref")}
    finally:
        store.close()
