"""Run statistics from the portfolio: Sharpe ratio, per-trade statistics, exposure time.

Definitions (stated once; the report prints them by name):

- **trade**: one market the run traded, from its first fill until it closed (settled, or every
  share sold). Its P&L is ``Portfolio.market_pnl``: payout + what sells realized − cost basis −
  fees. Markets still open at the end are not trades yet (counted as ``open``).
- **win / loss**: a trade with P&L > 0 / < 0 (a trade at exactly 0 is neither).
- **avg win / avg loss**: mean P&L of the wins / losses (floored micro-units).
- **best / worst**: the largest / smallest trade P&L.
- **profit factor**: Σ wins / |Σ losses| (``inf`` without losses, ``None`` without trades).
- **expectancy**: mean P&L per trade (wins, losses and zeros), floored micro-units.
- **Sharpe ratio** (hourly, annualised): the equity curve is read at every whole UTC hour of
  market time from the first sample to the run's end (the last equity at or before each hour,
  carried forward through hours without a change); ``r_h = (E_h − E_{h−1}) / starting cash``;
  ``Sharpe = mean(r) / stdev(r) × √8760`` (sample standard deviation, no risk-free rate).
  ``None`` with fewer than 2 hourly returns or no variation. Hours the recording does not cover
  count as flat hours, which lowers the ratio's magnitude.
- **exposure time**: the share of the run's market time (first equity sample to the end) with
  at least one position open (``Portfolio.exposure_time_ns``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from clobflow.portfolio.curve import HOUR_NS  # noqa: F401 - part of this module's vocabulary
from clobflow.portfolio.portfolio import Portfolio

HOURS_PER_YEAR = 24 * 365


@dataclass(frozen=True)
class TradeStats:
    """Per-trade statistics (module docstring); money in micro-units."""

    trades: int
    open: int
    wins: int
    losses: int
    avg_win: int | None
    avg_loss: int | None
    best: int | None
    worst: int | None
    profit_factor: float | None
    expectancy: int | None

    @property
    def win_rate(self) -> float | None:
        return self.wins / self.trades if self.trades else None


def trade_pnls(portfolio: Portfolio) -> tuple[dict[str, int], dict[str, int]]:
    """``(closed, open)``: market -> P&L (micro-units) of every traded market, closed ones
    (settled or fully sold) and those still holding shares, in first-trade order."""
    closed: dict[str, int] = {}
    still: dict[str, int] = {}
    for s in portfolio.summaries():
        if not s.fills and not s.bought:
            continue
        pnl = portfolio.market_pnl(s.market)
        assert pnl is not None
        if s.settled or not portfolio.market_size(s.market):
            closed[s.market] = pnl
        else:
            still[s.market] = pnl
    return closed, still


def trade_stats(portfolio: Portfolio) -> TradeStats:
    closed, still = trade_pnls(portfolio)
    pnls = list(closed.values())
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    gain, loss = sum(wins), -sum(losses)
    pf = None if not pnls else (gain / loss if loss else math.inf if gain else None)
    return TradeStats(
        trades=len(pnls), open=len(still), wins=len(wins), losses=len(losses),
        avg_win=sum(wins) // len(wins) if wins else None, avg_loss=sum(losses) // len(losses) if losses else None,
        best=max(pnls) if pnls else None, worst=min(pnls) if pnls else None,
        profit_factor=pf, expectancy=sum(pnls) // len(pnls) if pnls else None,
    )


def hourly_sharpe(portfolio: Portfolio, end_ns: int) -> float | None:
    """The hourly, annualised Sharpe ratio of the equity curve (module docstring); exact
    however long the run (``EquityCurve.hourly`` keeps every hour, not a downsampled curve)."""
    curve = portfolio.curve
    base = portfolio.starting_cash
    prev = curve.first_equity
    if prev is None or base <= 0:
        return None
    returns: list[float] = []
    for equity_then in curve.hourly(end_ns):
        returns.append((equity_then - prev) / base)
        prev = equity_then
    if len(returns) < 2:
        return None
    mean = sum(returns) / len(returns)
    var = sum((r - mean) ** 2 for r in returns) / (len(returns) - 1)
    if var <= 0:
        return None
    return round(mean / math.sqrt(var) * math.sqrt(HOURS_PER_YEAR), 6)


def exposure_share(portfolio: Portfolio, end_ns: int) -> float | None:
    """Share of the run (first equity sample to ``end_ns``) with a position open."""
    first = portfolio.curve.first_ts_ns
    if first is None:
        return None
    span = end_ns - first
    if span <= 0:
        return None
    return round(min(1.0, portfolio.exposure_time_ns(end_ns) / span), 6)
