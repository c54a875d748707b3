"""The equity curve stays bounded however long the run, and the report's statistics read from it
(max drawdown, hourly Sharpe, exposure share) equal those of the whole, never-downsampled curve."""

from __future__ import annotations

import math
import random

import pytest

from clobflow.portfolio import Portfolio
from clobflow.portfolio.curve import HOUR_NS, EquityCurve
from clobflow.portfolio.positions import EquityPoint
from clobflow.replay.stats import exposure_share, hourly_sharpe


def _walk(n: int, seed: int) -> list[EquityPoint]:
    """``n`` points of a random equity walk, 1 s apart with random gaps up to 3 hours."""
    rng = random.Random(seed)
    ts, eq, out = 1_771_891_234 * 10**9, 1_000_000_000, []
    for _ in range(n):
        ts += 10**9 if rng.random() < 0.999 else rng.randrange(10**9, 3 * HOUR_NS)
        eq += rng.randrange(-50_000, 50_001)
        out.append(EquityPoint(ts, eq, 0, 0))
    return out


def _reference_sharpe(points: list[EquityPoint], base: int, end_ns: int) -> float | None:
    """The report's stated formula on the whole curve (the pre-bounded implementation)."""
    hour = points[0].ts_ns // HOUR_NS * HOUR_NS + HOUR_NS
    equity_then = prev = points[0].equity
    returns, i, last = [], 0, max(end_ns, points[-1].ts_ns)
    while hour <= last:
        while i < len(points) and points[i].ts_ns <= hour:
            equity_then = points[i].equity
            i += 1
        returns.append((equity_then - prev) / base)
        prev = equity_then
        hour += HOUR_NS
    if len(returns) < 2:
        return None
    mean = sum(returns) / len(returns)
    var = sum((r - mean) ** 2 for r in returns) / (len(returns) - 1)
    return None if var <= 0 else round(mean / math.sqrt(var) * math.sqrt(24 * 365), 6)


def _reference_drawdown(points: list[EquityPoint]) -> int:
    peak, mdd = None, 0
    for p in points:
        peak = p.equity if peak is None or p.equity > peak else peak
        mdd = max(mdd, peak - p.equity)
    return mdd


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_long_curve_is_bounded_and_its_statistics_exact(seed):
    points = _walk(200_000, seed)
    p = Portfolio(1_000_000_000, curve_points=500)
    for pt in points:
        p.curve.append(pt)
    c = p.curve
    assert len(c) <= 500 and c.samples == len(points)
    assert c[0] == points[0] and c.last == points[-1]  # first and newest kept
    assert c.max_drawdown == _reference_drawdown(points)
    end = points[-1].ts_ns + 5 * HOUR_NS
    assert hourly_sharpe(p, end) == _reference_sharpe(points, p.starting_cash, end) is not None
    assert exposure_share(p, end) == 0.0  # nothing held; the span starts at the first sample
    # the kept points are the equity at the end of each bucket: a subsequence of the samples
    # in time order, each the last sample of its bucket
    ts = [q.ts_ns for q in points]
    assert [q.ts_ns for q in c] == sorted({q.ts_ns for q in c})
    b = c.bucket_ns
    for q in list(c)[1:-1]:
        i = ts.index(q.ts_ns)
        assert points[i] == q and ts[i + 1] // b != q.ts_ns // b


def test_a_short_curve_keeps_every_point():
    points = _walk(1_000, 7)
    c = EquityCurve(max_points=1_000)
    for pt in points:
        c.append(pt)
    assert list(c) == points and c.bucket_ns == 0


def test_hourly_values_carry_forward_through_quiet_hours():
    c = EquityCurve()
    c.append(EquityPoint(HOUR_NS // 2, 100, 0, 0))
    c.append(EquityPoint(HOUR_NS, 110, 0, 0))  # exactly on the hour: that hour's value
    c.append(EquityPoint(3 * HOUR_NS + 1, 90, 0, 0))
    assert c.hourly(4 * HOUR_NS) == [110, 110, 110, 90]
    assert EquityCurve().hourly(HOUR_NS) == []
    with pytest.raises(ValueError):
        EquityCurve(max_points=3)
