"""The venue's replay clock and frame scheduler.

Venue time is recorded time: frame ``i`` is emitted when the venue clock reaches its
``ts_recv_ns``, and the clock advances at ``speed`` × real time from the moment the replay is
released (1.0 = real time, N = N× faster). ``speed == 0`` emits as fast as the consumers read
(see ``pace``), and the clock is then the time of the last emitted frame.

- ``start_at_ns``: frames before it are applied (``apply``) without being sent, so the venue's
  books are current when the replay starts there.
- Holding: with ``hold=True`` the clock stands at the start until ``release()`` (the server
  releases it once enough clients have subscribed), so a client never misses the beginning.
- ``loop``: at the end, ``on_restart()`` runs (the server clears its books) and the replay
  starts again from the first frame. The clock jumps back to the first frame's time: frames are
  sent as recorded, and their own timestamps repeat.
- When the data ends without ``loop`` the clock stops at the last frame's time.

The ``emit`` callback is synchronous, so frames are handled strictly in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from clobflow.recorder.frames import RawFrame

_YIELD_EVERY = 64  # frames emitted back to back before giving other tasks a turn


class Replayer:
    """Schedules ``frames`` (non-decreasing ``ts_recv_ns``) onto ``emit``."""

    def __init__(
        self,
        frames: Sequence[RawFrame],
        *,
        emit: Callable[[RawFrame], None],
        apply: Callable[[RawFrame], None],
        on_restart: Callable[[], None] = lambda: None,
        pace: Callable[[], Awaitable[None]] | None = None,
        speed: float = 1.0,
        loop: bool = False,
        start_at_ns: int | None = None,
        hold: bool = False,
    ) -> None:
        if speed < 0:
            raise ValueError(f"speed must be >= 0, got {speed}")
        self.frames = frames
        self._emit = emit
        self._apply = apply
        self._on_restart = on_restart
        self._pace = pace
        self.speed = float(speed)
        self.loop = loop
        self.start_at_ns = start_at_ns
        self._go = asyncio.Event()
        if not hold:
            self._go.set()
        first = frames[0].ts_recv_ns if frames else 0
        self._pos = start_at_ns if start_at_ns is not None else first
        self._anchor_wall = 0.0
        self._anchor_venue = self._pos
        self.running = False
        self.finished = False
        self.emitted = 0
        self.loops = 0
        self.index = 0

    # -- clock -----------------------------------------------------------------------------

    def release(self) -> None:
        """Let a held replay start (idempotent)."""
        self._go.set()

    @property
    def released(self) -> bool:
        return self._go.is_set()

    def now_ns(self) -> int:
        """The venue clock in epoch nanoseconds."""
        if not self.running or self.speed == 0:
            return self._pos
        loop = asyncio.get_running_loop()
        return self._anchor_venue + int((loop.time() - self._anchor_wall) * self.speed * 1e9)

    def _anchor(self, venue_ns: int) -> None:
        self._anchor_wall = asyncio.get_running_loop().time()
        self._anchor_venue = venue_ns
        self._pos = venue_ns

    # -- run -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Replay until the data ends (forever with ``loop``); cancel to stop."""
        frames = self.frames
        n = len(frames)
        i = 0
        if self.start_at_ns is not None:
            while i < n and frames[i].ts_recv_ns < self.start_at_ns:
                self._apply(frames[i])
                i += 1
        await self._go.wait()
        loop = asyncio.get_running_loop()
        self.running = True
        try:
            while True:
                self._anchor(self._pos)
                burst = 0
                while i < n:
                    fr = frames[i]
                    if self.speed > 0:
                        wall = self._anchor_wall + (fr.ts_recv_ns - self._anchor_venue) / (self.speed * 1e9)
                        delay = wall - loop.time()
                        if delay > 0:
                            await asyncio.sleep(delay)
                            burst = 0
                        else:
                            burst += 1
                            if burst >= _YIELD_EVERY:
                                await asyncio.sleep(0)
                                burst = 0
                    else:
                        await asyncio.sleep(0)
                        if self._pace is not None:
                            await self._pace()
                        self._pos = fr.ts_recv_ns
                    self.index = i
                    self._emit(fr)
                    self.emitted += 1
                    i += 1
                if not self.loop or n == 0:
                    break
                self._on_restart()
                self.loops += 1
                i = 0
                self._pos = frames[0].ts_recv_ns
        finally:
            done = i >= n
            if done and n:
                self._pos = frames[-1].ts_recv_ns
            elif self.speed > 0:
                self._pos = self.now_ns()  # cancelled: freeze the clock where it stood
            self.running = False
            self.finished = done
