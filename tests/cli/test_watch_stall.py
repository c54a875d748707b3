"""Blind spots during a stall (issue 10, finding 7): ``watch --json`` keeps printing (trust
changes and status lines) while the venue sends nothing, and the stall watchdog logs when it
fires and when events come back."""

from __future__ import annotations

import asyncio
import io
import json
import logging

from rich.console import Console

from clobflow.book.trust import TrustPolicy
from clobflow.cli import watch_cmd
from clobflow.core.clock import s_to_ns
from clobflow.venues.polymarket.feed import FeedConfig
from clobflow.sim.datasets import load_dataset
from clobflow.sim.venue import VenueServer
from clobflow.venues.polymarket.discovery import DiscoveryFilter
from clobflow.venues.polymarket.protocol import MarketStreamConfig


async def test_json_output_and_logs_show_a_stall(monkeypatch, caplog):
    ds = load_dataset("pm-btc15m-tob-1s", limit_markets=3)
    monkeypatch.setattr(watch_cmd, "STATUS_EVERY_S", 1.0)
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    caplog.set_level(logging.INFO, logger="clobflow.venues.polymarket.ws")
    async with VenueServer(ds, speed=5, loop=True) as server:
        cfg = FeedConfig(
            ws_url=server.ws_url, gamma_url=server.http_url, clob_url=server.http_url,
            discovery=DiscoveryFilter(updown_assets=("btc",), updown_intervals=("15m",), updown_windows_ahead=1),
            stream=MarketStreamConfig(stall_after_s=3.0), trust=TrustPolicy(stale_after_ns=s_to_ns(0.7)),
            timer_interval_s=0.1,
        )

        async def stall_later() -> None:
            await asyncio.sleep(2.5)
            server.inject("stall", seconds=4.5)

        task = asyncio.create_task(stall_later())
        await watch_cmd.run_watch(cfg, json_out=True, duration_s=10, console=Console(file=io.StringIO()))
        await task
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    kinds = [r["type"] for r in rows]
    first_trust = next(i for i, r in enumerate(rows) if r["type"] == "trust" and r["trust"] == "suspect")
    assert rows[first_trust]["reason"] == "stale" and rows[first_trust]["slug"]
    status = [r for r in rows if r["type"] == "status"]
    assert status and any(s["suspect"] + s["untrusted"] > 0 for s in status)  # the silence is visible
    assert kinds.count("book") > 10 and kinds[-1] == "book"  # it came back
    msgs = [r.getMessage() for r in caplog.records]
    assert any("stalled (no_events)" in m and "resubscribing" in m for m in msgs)
    assert any("events again after" in m for m in msgs)
