"""Child-process side of the position race (imported by ``multiprocessing`` spawn children)."""

from __future__ import annotations

from typing import Any

from clobflow.store import DuplicatePosition, Store


def race(url: str, who: int, markets: list[str], barrier: Any, results: Any) -> None:
    """For each market, wait for the other process at the barrier, then try to open the same
    (strategy, market, mode) position; report ``(who, market, outcome, position_id)``."""
    store = Store(url)
    try:
        store.open_position_exists("warm-up", "warm-up", "live")  # connect before the race
        for market in markets:
            barrier.wait(timeout=30)
            try:
                pid = store.open_position("race-run", "imbalance", market, "live", "a1", 1_000_000, 500_000, who)
                results.put((who, market, "won", pid))
            except DuplicatePosition:
                results.put((who, market, "duplicate", None))
            except Exception as e:  # noqa: BLE001 - reported to the parent, which fails the test
                results.put((who, market, f"error: {type(e).__name__}: {e}", None))
    finally:
        store.close()
