"""Clocks. Everything that needs the time takes a clock, so backtests can drive time.

Times are integer nanoseconds since the Unix epoch.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Source of the current time in integer nanoseconds since the epoch."""

    def now_ns(self) -> int: ...


class LiveClock:
    """Wall-clock time, with an optional fixed offset (e.g. the venue's clock minus ours)."""

    __slots__ = ("offset_ns",)

    def __init__(self, offset_ns: int = 0) -> None:
        self.offset_ns = offset_ns

    def now_ns(self) -> int:
        return time.time_ns() + self.offset_ns


class SimClock:
    """A clock that moves only when told to; used in backtests and tests."""

    __slots__ = ("_now_ns",)

    def __init__(self, start_ns: int = 0) -> None:
        self._now_ns = start_ns

    def now_ns(self) -> int:
        return self._now_ns

    def set(self, now_ns: int) -> None:
        """Move to ``now_ns``. Time never goes backwards: an earlier value is ignored."""
        if now_ns > self._now_ns:
            self._now_ns = now_ns

    def advance(self, delta_ns: int) -> None:
        self._now_ns += delta_ns


NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000


def ms_to_ns(ms: int) -> int:
    return ms * NS_PER_MS


def s_to_ns(seconds: float) -> int:
    """Seconds (a config value, may be fractional) to integer nanoseconds."""
    return int(round(seconds * NS_PER_S))


class VenueTimeClock:
    """Market time for live modes: the latest venue timestamp seen, advanced by local time
    elapsed since it arrived. Never goes backwards.

    Against the real venue it tracks the venue's clock (minus one-way latency); against a
    simulator replaying old data it *is* the replay's clock, so decisions about time to close,
    cooldowns and signal age read the same as in a backtest of that data.
    """

    __slots__ = ("_local", "_venue_ns", "_local_at", "_last")

    def __init__(self, local: Clock | None = None) -> None:
        self._local = local or LiveClock()
        self._venue_ns = 0
        self._local_at = 0
        self._last = 0

    def observe(self, ts_venue_ns: int) -> None:
        """Note a venue timestamp (0 = none) from an event just received. The first one sets
        the clock outright (until then it reads local time)."""
        if ts_venue_ns > 0:
            if self._venue_ns == 0:
                self._last = 0
            self._venue_ns = ts_venue_ns
            self._local_at = self._local.now_ns()

    def now_ns(self) -> int:
        if self._venue_ns == 0:
            now = self._local.now_ns()
        else:
            now = self._venue_ns + (self._local.now_ns() - self._local_at)
        if now < self._last:
            return self._last
        self._last = now
        return now
