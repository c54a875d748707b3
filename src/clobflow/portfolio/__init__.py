"""Portfolio: fills -> positions, cash, realized/unrealized P&L, settlement at resolution, and
the equity curve (DESIGN §1). Exact integer micro-units throughout; no I/O, no clock reads.
"""

from clobflow.portfolio.portfolio import Portfolio
from clobflow.portfolio.positions import EquityPoint, MarketSummary, Position, SettlementResult

__all__ = ["EquityPoint", "MarketSummary", "Portfolio", "Position", "SettlementResult"]
