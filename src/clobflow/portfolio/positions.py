"""Portfolio records: an open position, a market's running summary, a settlement result and a
point of the equity curve. Plain data with exact integer fields; the arithmetic that changes
them lives in ``portfolio.Portfolio``.

Units: sizes are shares in micro-units; ``cost``, fees, P&L, payouts in collateral micro-units;
prices in micro-units; times in epoch ns.
"""

from __future__ import annotations

from typing import NamedTuple

import msgspec

from clobflow.core.numbers import SCALE


class Position(msgspec.Struct, gc=False):
    """Shares of one outcome token held now.

    ``cost`` is the exact total cost basis of the shares still held: what was paid for them
    including buy fees, minus the basis released by sells (see ``Portfolio.apply_fill``).
    ``fees`` and ``realized`` accumulate over the position's life (buys and sells).
    The portfolio hands out its live objects: read, do not mutate.
    """

    asset_id: str
    market: str
    size: int = 0
    cost: int = 0
    fees: int = 0
    realized: int = 0
    opened_ns: int = 0
    last_fill_ns: int = 0

    @property
    def avg_cost(self) -> int:
        """Average cost per share as a price in micro-units, floored (``cost * 1e6 // size``);
        0 when flat. Display only: the exact ``cost`` is what the arithmetic uses."""
        return self.cost * SCALE // self.size if self.size else 0

    def value(self, mark: int | None) -> int:
        """Marked value in micro-units: ``size * mark // 1e6`` (floored); the cost basis when
        there is no mark yet (so an unmarked position shows no unrealized P&L)."""
        if mark is None:
            return self.cost
        return self.size * mark // SCALE


class MarketSummary(msgspec.Struct):
    """Running totals of one market (condition id) over the portfolio's life.

    ``entry_cost``: notional of all buys (fees excluded); ``exit_proceeds``: notional of all
    sells; ``fees``: all fees paid on the market's fills; ``realized``: realized P&L from sells
    and settlement; ``payout``: collateral received at settlement. ``winning_token_id`` /
    ``winning_outcome`` / ``settled_ns`` are set when the market is settled.
    """

    market: str
    bought: int = 0
    sold: int = 0
    entry_cost: int = 0
    exit_proceeds: int = 0
    fees: int = 0
    realized: int = 0
    payout: int = 0
    fills: int = 0
    settled_ns: int | None = None
    winning_token_id: str | None = None
    winning_outcome: str | None = None

    @property
    def settled(self) -> bool:
        return self.settled_ns is not None


class SettlementResult(msgspec.Struct, frozen=True):
    """What a resolution did to one market's positions.

    ``payout``: collateral credited (1 per winning share); ``cost``: cost basis of the shares
    settled; ``pnl``: ``payout - cost``, realized by this settlement; ``shares_won`` /
    ``shares_lost``: winning / losing shares closed. ``fees`` and ``market_pnl`` are the
    market's totals over its life (all fills; all realized P&L including this settlement).
    """

    market: str
    winning_token_id: str
    winning_outcome: str
    ts_ns: int
    payout: int
    cost: int
    pnl: int
    shares_won: int
    shares_lost: int
    fees: int
    market_pnl: int


class EquityPoint(NamedTuple):
    """One point of the equity curve (micro-units at ``ts_ns``)."""

    ts_ns: int
    equity: int
    realized: int
    unrealized: int
