"""``RecentIds``: a set that remembers only the last ``capacity`` ids added.

Venues resend fills (protocol.md §2.2), so the order manager and the portfolio ignore a fill id
they have seen. Remembering every id of a long run grows without bound; a duplicate arrives
within seconds of the original, so a window of the most recent ids is enough. Adding is O(1)
(a set plus a FIFO of insertion order); the oldest id is forgotten once the window is full.
"""

from __future__ import annotations

from collections import deque


class RecentIds:
    """Membership of the ``capacity`` most recently added ids (``capacity`` >= 1)."""

    __slots__ = ("capacity", "_set", "_fifo")

    def __init__(self, capacity: int = 100_000) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._set: set[str] = set()
        self._fifo: deque[str] = deque()

    def add(self, item: str) -> None:
        if item in self._set:
            return
        self._set.add(item)
        self._fifo.append(item)
        if len(self._fifo) > self.capacity:
            self._set.discard(self._fifo.popleft())

    def __contains__(self, item: object) -> bool:
        return item in self._set

    def __len__(self) -> int:
        return len(self._set)
