"""``clobflow venue``: run the local venue simulator on a dataset until Ctrl-C, SIGTERM or
``--duration`` seconds.

Prints one line with the WebSocket and HTTP URLs and a dataset summary. Bad arguments (unknown
dataset, port in use, negative speed) raise ``UserError``: one line, exit code 2.
"""

from __future__ import annotations

import asyncio
import signal
from typing import TYPE_CHECKING, Annotated

import typer

from clobflow.cli.errors import UserError

if TYPE_CHECKING:
    from clobflow.sim.datasets import Dataset


def venue(
    dataset: Annotated[
        str, typer.Option(help="Dataset name (pm-btc15m-tob-1s, pm-btc1h-l2-1s) or raw-frame file.")
    ] = "pm-btc15m-tob-1s",
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for both WebSocket and HTTP (0: any free).")] = 8765,
    speed: Annotated[float, typer.Option(help="Replay speed: 1 real time, N N-times faster, 0 max.")] = 1.0,
    loop: Annotated[bool, typer.Option(help="Restart from the beginning when the data ends.")] = False,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: run until Ctrl-C).")
    ] = None,
    wait_for_client: Annotated[
        bool, typer.Option(help="Hold the replay clock until the first client subscribes.")
    ] = True,
) -> None:
    """Serve a recorded dataset as a local Polymarket market channel + REST on one port."""
    if speed < 0:
        raise UserError(f"--speed must be >= 0, got {speed}")
    if duration is not None and duration <= 0:
        raise UserError(f"--duration must be > 0, got {duration}")
    if not 0 <= port <= 65535:
        raise UserError(f"--port must be in 0..65535, got {port}")
    from clobflow.sim.datasets import load_dataset

    try:
        ds = load_dataset(dataset)
    except (KeyError, FileNotFoundError) as exc:
        raise UserError(f"--dataset {dataset!r}: {str(exc).strip(chr(39) + chr(34))}") from None
    except ValueError as exc:  # a file that is not a raw-frame recording (msgspec errors included)
        raise UserError(f"--dataset {dataset!r}: cannot read it ({exc})") from None
    asyncio.run(_serve(ds, host, port, speed, loop, duration, wait_for_client))


async def _serve(
    ds: Dataset, host: str, port: int, speed: float, loop: bool, duration: float | None, hold: bool
) -> None:
    from clobflow.sim.venue import VenueServer

    server = VenueServer(
        ds, host=host, port=port, speed=speed, loop=loop, wait_for_subscribers=1 if hold else 0
    )
    try:
        await server.start()
    except OSError as exc:
        # asyncio's message is long ("error while attempting to bind on address ...: reason")
        reason = str(exc).rsplit(": ", 1)[-1]
        raise UserError(f"cannot listen on {host}:{port}: {reason}") from None
    stop = asyncio.Event()
    aloop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            aloop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not on this platform / not main thread
            pass
    print(f"venue: ws {server.ws_url}  http {server.http_url}  {ds.summary()}", flush=True)
    try:
        await asyncio.wait_for(stop.wait(), duration)
    except TimeoutError:
        pass
    finally:
        await server.stop()
