"""Run lifecycle helpers shared by the long-running commands (watch, run, record): stop on
SIGINT/SIGTERM through an ``asyncio.Event``, and sleep until a stop or a timeout."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable


def install_stop_signals(stop: asyncio.Event) -> Callable[[], None]:
    """Make SIGINT and SIGTERM set ``stop`` (where the platform allows). Returns a function
    that removes the handlers again."""
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):
            pass

    def uninstall() -> None:
        for sig in installed:
            loop.remove_signal_handler(sig)

    return uninstall


async def wait_for_stop(stop: asyncio.Event, timeout_s: float) -> bool:
    """Sleep up to ``timeout_s`` seconds or until ``stop`` is set; returns whether it was set."""
    try:
        await asyncio.wait_for(stop.wait(), max(0.0, timeout_s))
    except asyncio.TimeoutError:
        return False
    return True
