"""``EquityCurve``: the sampled equity of a run, in bounded memory, with its statistics exact.

A paper or live run samples equity on every timer tick (once a second by default) for as long
as it runs: kept whole, a week of ticks is ~600k points. So the curve keeps two things apart:

- **exact running statistics**, updated on every point and never downsampled: the first
  point's time, the peak and the largest drawdown from a previous peak (``max_drawdown``), and
  the equity at every whole UTC hour of market time (``hourly``: the last equity at or before
  each hour, carried forward; one int per hour, what the report's hourly Sharpe ratio reads);
- **the points kept** for ``equity.csv`` and the plot: every point while there are at most
  ``max_points``; past that, the curve is bucketed on time (``bucket_ns``, doubled as often as
  needed) and keeps the first point plus the *last* point of every bucket, so the kept curve
  is the equity at the end of each bucket. The newest point is always kept.

Points must come in non-decreasing time (a point older than the last is treated as at the
last's time for the hourly statistics).
"""

from __future__ import annotations

from collections.abc import Iterator

from clobflow.portfolio.positions import EquityPoint

HOUR_NS = 3_600 * 10**9


class EquityCurve:
    """The equity curve (module docstring). Reads like a list of ``EquityPoint`` (``len``,
    indexing, iteration over the kept points); ``last`` is the newest point."""

    __slots__ = ("max_points", "bucket_ns", "_points", "first_ts_ns", "peak", "max_drawdown", "_closes",
                 "_next_hour", "_last_equity", "_last_ts", "samples")

    def __init__(self, max_points: int = 20_000) -> None:
        if max_points < 4:
            raise ValueError(f"max_points must be >= 4, got {max_points}")
        self.max_points = max_points
        self.bucket_ns = 0  # 0: every point is kept
        self._points: list[EquityPoint] = []
        self.first_ts_ns: int | None = None
        self.peak: int | None = None
        self.max_drawdown = 0
        self._closes: list[int] = []  # equity at each whole hour after the first point, in order
        self._next_hour = 0
        self._last_equity = 0
        self._last_ts = 0
        self.samples = 0  # points appended over the run (kept or not)

    # -- writing ---------------------------------------------------------------------------

    def append(self, p: EquityPoint) -> None:
        self.samples += 1
        ts, equity = p.ts_ns, p.equity
        if self.first_ts_ns is None:
            self.first_ts_ns = ts
            self._next_hour = ts // HOUR_NS * HOUR_NS + HOUR_NS
        else:
            # hours that ended before this point closed at the equity before it
            while self._next_hour < ts:
                self._closes.append(self._last_equity)
                self._next_hour += HOUR_NS
        self._last_equity = equity
        self._last_ts = max(self._last_ts, ts)
        if self.peak is None or equity > self.peak:
            self.peak = equity
        dd = self.peak - equity
        if dd > self.max_drawdown:
            self.max_drawdown = dd
        pts = self._points
        b = self.bucket_ns
        if b and len(pts) > 1 and pts[-1].ts_ns // b == ts // b:
            pts[-1] = p  # the bucket's last point so far
            return
        pts.append(p)
        if len(pts) > self.max_points:
            self._compact()

    def _compact(self) -> None:
        """Double the bucket (the first time: two points per bucket on average) until the kept
        points fill at most three quarters of ``max_points``."""
        pts = self._points
        span = max(1, pts[-1].ts_ns - pts[0].ts_ns)
        b = self.bucket_ns * 2 if self.bucket_ns else max(1, span * 2 // self.max_points)
        while True:
            kept = [pts[0]]
            for p in pts[1:]:
                if len(kept) > 1 and kept[-1].ts_ns // b == p.ts_ns // b:
                    kept[-1] = p
                else:
                    kept.append(p)
            if len(kept) <= self.max_points * 3 // 4:
                break
            b *= 2
        self.bucket_ns = b
        self._points = kept

    # -- reading ---------------------------------------------------------------------------

    def hourly(self, end_ns: int) -> list[int]:
        """The equity at every whole UTC hour from the first point's next hour to
        ``max(end_ns, last point)``: the last equity at or before each, carried forward.
        Empty without points."""
        if self.first_ts_ns is None:
            return []
        out = list(self._closes)
        hour, last = self._next_hour, max(end_ns, self._last_ts)
        while hour <= last:
            out.append(self._last_equity)
            hour += HOUR_NS
        return out

    @property
    def first_equity(self) -> int | None:
        return self._points[0].equity if self._points else None

    @property
    def last(self) -> EquityPoint | None:
        return self._points[-1] if self._points else None

    def __len__(self) -> int:
        return len(self._points)

    def __bool__(self) -> bool:
        return bool(self._points)

    def __iter__(self) -> Iterator[EquityPoint]:
        return iter(self._points)

    def __getitem__(self, i: int) -> EquityPoint:
        return self._points[i]
