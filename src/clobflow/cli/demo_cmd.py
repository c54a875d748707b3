"""``clobflow demo``: the Quick start's main job on embedded defaults.

Starts the local venue simulator on bundled real data (over real loopback sockets) and runs the
imbalance strategy in paper mode against it: discovery by the venue's clock, books over the
market channel, one line per signal, order, fill, rejection and settlement, then the report.
``--watch`` shows the live books table instead (``clobflow watch`` against the simulator).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from clobflow.cli.errors import UserError, out_dir, positive
from clobflow.cli.watch_cmd import make_console, run_watch
from clobflow.core.errors import ConfigError
from clobflow.engine.config import load_config
from clobflow.engine.live import run_live
from clobflow.engine.market_feed import FeedStartError
from clobflow.replay.report import report_run
from clobflow.sim.datasets import load_dataset
from clobflow.sim.venue import VenueServer
from clobflow.venues.polymarket.discovery import DiscoveryFilter
from clobflow.venues.polymarket.feed import FeedConfig


async def run_demo(dataset: str, speed: float, duration_s: float, json_out: bool, watch: bool,
                   config: Path, out: Path, console: Console) -> None:
    ds = load_dataset(dataset)
    console.print(f"[bold]clobflow demo[/]: {ds.summary()}", highlight=False)
    async with VenueServer(ds, speed=speed, loop=True) as server:
        console.print(f"venue simulator on {server.ws_url} and {server.http_url} (speed {speed}x)", highlight=False)
        if watch:
            feed = FeedConfig(
                ws_url=server.ws_url, gamma_url=server.http_url, clob_url=server.http_url,
                discovery=DiscoveryFilter(updown_assets=("btc",), updown_intervals=("15m",), updown_windows_ahead=1),
                refresh_interval_s=max(1.0, 10.0 / max(speed, 1.0)),
            )
            await run_watch(feed, json_out=json_out, duration_s=duration_s, console=console)
            return
        cfg = load_config(config)
        res = await run_live(cfg, "paper", out, ws_url=server.ws_url, gamma_url=server.http_url,
                             clob_url=server.http_url, duration_s=duration_s,
                             log=lambda s: console.print(s, highlight=False))
    k = res.kernel
    rep, paths, sections = report_run(k, run_id=res.run_id, mode="paper", frames=k.counters["events"],
                                      starting_cash_usd=cfg.engine.starting_cash_usd, out_dir=out)
    console.print(rep.text(), highlight=False)
    for text in sections:
        console.print(text, highlight=False)
    console.print(f"journal {res.journal_path}; report {', '.join(p.name for p in paths)} in {out}", highlight=False)


def demo(
    dataset: Annotated[str, typer.Option(help="Bundled dataset (pm-btc15m-tob-1s, pm-btc1h-l2-1s) or a raw-frame file.")] = "pm-btc15m-tob-1s",
    speed: Annotated[float, typer.Option(help="Replay speed: 1 = real time, N = N times faster.")] = 30.0,
    duration: Annotated[float, typer.Option(help="Seconds to run.")] = 60.0,
    config: Annotated[Path, typer.Option(help="Run configuration (strategy, risk, sim).")] = Path("config/imbalance.yaml"),
    out: Annotated[Path, typer.Option(help="Output folder for journal, store and report.")] = Path("runs/demo"),
    watch: Annotated[bool, typer.Option("--watch", help="Show the live books table instead of trading.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="With --watch: one JSON object per book update.")] = False,
) -> None:
    """Run the local venue simulator on bundled real data and paper-trade the imbalance strategy on it."""
    positive("--duration", duration)
    positive("--speed", speed)
    out_dir(out)
    console = make_console(json_out)
    try:
        asyncio.run(run_demo(dataset, speed, duration, json_out, watch, config, out, console))
    except (KeyError, FileNotFoundError) as exc:
        raise UserError(f"dataset {dataset!r}: {exc}") from None
    except (FeedStartError, ConfigError) as exc:
        raise UserError(str(exc)) from None
