"""``clobflow demo``: the Quick start's main job on embedded defaults.

Starts the local venue simulator on bundled real data (over real loopback sockets) and runs
``clobflow watch`` against it for a bounded time: discovery of the current BTC 15-minute
up/down windows by the venue's clock, books over the market channel, trust states.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console

from clobflow.cli.errors import UserError
from clobflow.cli.watch_cmd import make_console, run_watch
from clobflow.engine.market_feed import FeedConfig, FeedStartError
from clobflow.sim.datasets import load_dataset
from clobflow.sim.venue import VenueServer
from clobflow.venues.polymarket.discovery import DiscoveryFilter


async def run_demo(dataset: str, speed: float, duration_s: float, json_out: bool, console: Console) -> int:
    ds = load_dataset(dataset)
    console.print(f"[bold]clobflow demo[/]: {ds.summary()}", highlight=False)
    async with VenueServer(ds, speed=speed, loop=True) as server:
        console.print(f"venue simulator on {server.ws_url} and {server.http_url} (speed {speed}x)", highlight=False)
        config = FeedConfig(
            ws_url=server.ws_url,
            gamma_url=server.http_url,
            clob_url=server.http_url,
            discovery=DiscoveryFilter(updown_assets=("btc",), updown_intervals=("15m",), updown_windows_ahead=1),
            refresh_interval_s=max(1.0, 10.0 / max(speed, 1.0)),
        )
        return await run_watch(config, json_out=json_out, duration_s=duration_s, console=console)


def demo(
    dataset: Annotated[str, typer.Option(help="Bundled dataset (pm-btc15m-tob-1s, pm-btc1h-l2-1s) or a raw-frame file.")] = "pm-btc15m-tob-1s",
    speed: Annotated[float, typer.Option(help="Replay speed: 1 = real time, N = N times faster.")] = 1.0,
    duration: Annotated[float, typer.Option(help="Seconds to run.")] = 30.0,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per book update instead of the table.")] = False,
) -> None:
    """Run the local venue simulator on bundled real data and watch its books live."""
    if duration <= 0 or speed <= 0:
        raise UserError("--duration and --speed must be > 0")
    console = make_console(json_out)
    try:
        asyncio.run(run_demo(dataset, speed, duration, json_out, console))
    except (KeyError, FileNotFoundError) as exc:
        raise UserError(f"dataset {dataset!r}: {exc}") from None
    except FeedStartError as exc:
        raise UserError(str(exc)) from None
