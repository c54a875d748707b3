"""Circuit breaker on execution failures.

``CircuitBreaker`` counts *consecutive* execution failures — rejections and submits whose
outcome is unknown, reported by the caller with ``record_failure(now_ns)`` — and opens after
``max_failures`` of them. Any success (``record_success``: an ack or a fill) resets the count.
While open, new orders are refused (``breaker_open``). After ``cooloff_ns`` it closes again.

There is no half-open state: after the cool-off the breaker is simply CLOSED with a failure
count of zero. Why: outcomes arrive asynchronously (a rejection may come back after more orders
were sent), so a "one trial order" rule would need the breaker to gate submissions, which is
the execution layer's job; and ``max_failures`` fresh failures re-open it quickly anyway.

While open, late reports of orders sent before the trip neither extend the cool-off nor close
the breaker early; failures are still counted in ``total_failures``.

Time is passed in; the cool-off is evaluated lazily by ``is_open(now_ns)`` / ``poll(now_ns)``
(both O(1)). ``on_change`` (optional) is called after every state change, so an owner can keep a
precomputed "may trade" flag current even when the breaker is fed directly.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum


class BreakerState(str, Enum):
    CLOSED = "closed"
    OPEN = "open"


class CircuitBreaker:
    """Consecutive-failure breaker. ``max_failures`` >= 1; ``cooloff_ns`` >= 0 (ns).

    Visible state: ``state``, ``opened_ns`` (time of the last trip, ``None`` when closed),
    ``failures`` (current consecutive count), ``trips`` and ``total_failures`` (lifetime),
    ``last_reason`` (of the last failure). Raises ``ValueError`` on invalid limits.
    """

    __slots__ = ("max_failures", "cooloff_ns", "state", "opened_ns", "failures", "trips",
                 "total_failures", "last_reason", "on_change")

    def __init__(self, max_failures: int, cooloff_ns: int,
                 on_change: Callable[[], None] | None = None) -> None:
        if max_failures < 1:
            raise ValueError(f"max_failures must be >= 1, got {max_failures}")
        if cooloff_ns < 0:
            raise ValueError(f"cooloff_ns must be >= 0, got {cooloff_ns}")
        self.max_failures = max_failures
        self.cooloff_ns = cooloff_ns
        self.state = BreakerState.CLOSED
        self.opened_ns: int | None = None
        self.failures = 0
        self.trips = 0
        self.total_failures = 0
        self.last_reason = ""
        self.on_change = on_change

    @property
    def reopens_at_ns(self) -> int | None:
        """When an open breaker closes again (``None`` when closed)."""
        return None if self.opened_ns is None else self.opened_ns + self.cooloff_ns

    def poll(self, now_ns: int) -> BreakerState:
        """Apply the cool-off at ``now_ns`` and return the state."""
        if self.state is BreakerState.OPEN and now_ns - self.opened_ns >= self.cooloff_ns:  # type: ignore[operator]
            self.state = BreakerState.CLOSED
            self.opened_ns = None
            self.failures = 0
            self._changed()
        return self.state

    def is_open(self, now_ns: int) -> bool:
        return self.poll(now_ns) is BreakerState.OPEN

    def record_failure(self, now_ns: int, reason: str = "") -> bool:
        """One execution failure at ``now_ns``. Returns True when this failure opened the breaker."""
        self.total_failures += 1
        self.last_reason = reason
        if self.poll(now_ns) is BreakerState.OPEN:
            return False
        self.failures += 1
        if self.failures >= self.max_failures:
            self.state = BreakerState.OPEN
            self.opened_ns = now_ns
            self.trips += 1
            self._changed()
            return True
        return False

    def record_success(self, now_ns: int) -> None:
        """One execution success: resets the consecutive count (an open breaker stays open)."""
        if self.poll(now_ns) is BreakerState.CLOSED:
            self.failures = 0

    def reset(self) -> None:
        """Operator override: close now and forget the count."""
        was_open = self.state is BreakerState.OPEN
        self.state = BreakerState.CLOSED
        self.opened_ns = None
        self.failures = 0
        if was_open:
            self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.state.value}, failures={self.failures}/{self.max_failures})"
