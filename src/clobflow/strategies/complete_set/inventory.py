"""Pair inventory of one market, its risk state, and the margin the window's time left demands.

Legs are counted in **shares**, never dollars: one Up share plus one Down share is one complete
set and pays exactly 1 at resolution, whatever each cost. So the unit of risk is the share
imbalance ``|up − down|`` (unmatched shares pay 1 or 0 on the coin flip of the window).

All values are integer micro-units (shares and dollars) and ns.
"""

from __future__ import annotations

from enum import Enum

from clobflow.core.numbers import ONE
from clobflow.strategies.complete_set.config import Limits
from clobflow.strategies.complete_set.records import DOWN, UP


class State(str, Enum):
    """Inventory state of one market, from the share imbalance and the time left.

    - ``balanced``: imbalance <= ``balanced_shares``: quote both sides normally.
    - ``skewed``: imbalance <= ``skew_shares`` with time to spare: the side ahead quotes smaller
      (or pauses), the side behind leans (bids a tick higher) and its leg is chased.
    - ``exposed``: imbalance > ``skew_shares``: the side ahead stops; only the lagging leg is
      bought, up to the ceiling that still clears the margin on the pair.
    - ``crisis``: unmatched shares with less than ``unwind_before_s`` left, or an unmatched cost
      above ``crisis_unmatched_usd``: unwind now (sell the excess or buy the missing side,
      whichever loses less by the current books).
    """

    BALANCED = "balanced"
    SKEWED = "skewed"
    EXPOSED = "exposed"
    CRISIS = "crisis"


class Inventory:
    """Up/Down shares, their cost basis and fees of one market (from our fills)."""

    __slots__ = ("up", "down", "up_cost", "down_cost", "fees", "fills_up", "fills_down", "realized")

    def __init__(self) -> None:
        self.up = 0
        self.down = 0
        self.up_cost = 0
        self.down_cost = 0
        self.fees = 0
        self.fills_up = 0
        self.fills_down = 0
        self.realized = 0  # proceeds of sells less the cost basis they took out

    def buy(self, side: str, price: int, size: int, fee: int) -> None:
        """Add a BUY fill of ``size`` shares at ``price`` (fee in micro-dollars)."""
        cost = price * size // ONE
        if side == UP:
            self.up += size
            self.up_cost += cost
            self.fills_up += 1
        else:
            self.down += size
            self.down_cost += cost
            self.fills_down += 1
        self.fees += fee

    def sell(self, side: str, price: int, size: int, fee: int) -> None:
        """Remove ``size`` shares of ``side`` sold at ``price``; the cost basis leaves at the
        side's average cost; ``realized`` gets the proceeds less that cost."""
        if side == UP:
            out = self.up_cost * size // self.up if self.up else 0
            self.up -= size
            self.up_cost -= out
        else:
            out = self.down_cost * size // self.down if self.down else 0
            self.down -= size
            self.down_cost -= out
        self.realized += price * size // ONE - out
        self.fees += fee

    def shares(self, side: str) -> int:
        return self.up if side == UP else self.down

    def avg_cost(self, side: str) -> int | None:
        """Average price paid per share of ``side`` (micro), ``None`` without shares."""
        n, c = (self.up, self.up_cost) if side == UP else (self.down, self.down_cost)
        return c * ONE // n if n else None

    @property
    def imbalance(self) -> int:
        return abs(self.up - self.down)

    @property
    def ahead(self) -> str | None:
        """The side holding more shares (``None`` when equal)."""
        if self.up == self.down:
            return None
        return UP if self.up > self.down else DOWN

    @property
    def matched(self) -> int:
        return min(self.up, self.down)

    def pair_cost(self) -> int | None:
        """Average Up price + average Down price (micro per set); ``None`` until both held."""
        a, b = self.avg_cost(UP), self.avg_cost(DOWN)
        return None if a is None or b is None else a + b

    def unmatched_cost(self) -> int:
        """Cost basis of the unmatched shares of the side ahead (at that side's average)."""
        side = self.ahead
        if side is None:
            return 0
        avg = self.avg_cost(side) or 0
        return avg * self.imbalance // ONE

    def state(self, left_ns: int, lim: Limits) -> State:
        """The market's state at ``left_ns`` before the window closes (see ``State``)."""
        imb = self.imbalance
        if imb <= lim.balanced:
            return State.BALANCED
        if left_ns < lim.unwind_before_ns or self.unmatched_cost() > lim.crisis_unmatched:
            return State.CRISIS
        return State.SKEWED if imb <= lim.skew else State.EXPOSED


def required_margin(left_ns: int, lim: Limits) -> int:
    """The pair margin (micro fraction of 1) required with ``left_ns`` before the close: early
    (> ``early_above_s``), mid, late (< ``late_below_s``). Thin margins late are acceptable
    because little time remains for the market to move against an open leg."""
    if left_ns > lim.early_above_ns:
        return lim.margin_early
    if left_ns >= lim.late_below_ns:
        return lim.margin_mid
    return lim.margin_late
