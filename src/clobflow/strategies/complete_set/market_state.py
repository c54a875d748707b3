"""Per-market state of the pair bot: our working orders by side and purpose, the chase of the
lagging leg, the inventory, and the window's statistics for the report."""

from __future__ import annotations

from clobflow.core.fee_table import schedule_in_force
from clobflow.core.markets import BinaryMarket, FeeSchedule
from clobflow.strategies.complete_set.inventory import Inventory
from clobflow.strategies.complete_set.records import DOWN, UP

QUOTE = "quote"    # the resting bid of normal accumulation
LEG = "leg"        # a maker bid for the lagging leg (second leg, then chased)
TAKER = "taker"    # a FAK completing sets at the ask
UNWIND = "unwind"  # a FAK flattening unmatched shares


class Working:
    """One of our live orders: ``side`` (up/down), ``purpose`` (QUOTE/LEG/TAKER/UNWIND), price and
    size in micro-units, ``filled`` so far."""

    __slots__ = ("order_id", "side", "purpose", "price", "size", "placed_ns", "filled", "cancelling")

    def __init__(self, order_id: str, side: str, purpose: str, price: int, size: int, placed_ns: int) -> None:
        self.order_id = order_id
        self.side = side
        self.purpose = purpose
        self.price = price
        self.size = size
        self.placed_ns = placed_ns
        self.filled = 0
        self.cancelling = False

    @property
    def remaining(self) -> int:
        return self.size - self.filled


class Chase:
    """The lagging leg's chase: started when the leg appeared, stepped every interval."""

    __slots__ = ("side", "start_ns", "last_step_ns", "target", "steps", "gave_up", "at_ceiling")

    def __init__(self, side: str, start_ns: int, target: int) -> None:
        self.side = side
        self.start_ns = start_ns
        self.last_step_ns = start_ns
        self.target = target
        self.steps = 0
        self.gave_up = False
        self.at_ceiling = False


class PairMarket:
    """Everything the bot holds about one binary market (Up = YES token, Down = NO token)."""

    def __init__(self, market: BinaryMarket, now_ns: int) -> None:
        self.market = market
        self.cid = market.condition_id
        self.slug = market.slug
        self.token = {UP: market.yes.token_id, DOWN: market.no.token_id}
        self.tick = market.tick_size
        self.min_size = market.min_order_size
        self.schedule: FeeSchedule | None = schedule_in_force(market, now_ns)
        self.inv = Inventory()
        self.orders: dict[str, Working] = {}
        self.chase: dict[str, Chase] = {}
        self.last_requote_ns = {UP: 0, DOWN: 0}
        self.last_skip = ""
        self.last_observe: dict[str, str] = {}
        self.mid_seen: dict[str, tuple[int, int]] = {}
        self.stopped = False
        self.resolved: str | None = None
        self.stats: dict[str, int] = {}
        self.fills: list[tuple[int, str, int, int, str, bool]] = []  # (ts, side, price, size, liquidity, buy)

    def side_of(self, asset_id: str) -> str:
        return UP if asset_id == self.token[UP] else DOWN

    def count(self, key: str, n: int = 1) -> None:
        self.stats[key] = self.stats.get(key, 0) + n

    def live(self, side: str, purpose: str | None = None) -> list[Working]:
        """Our live orders on ``side`` (of ``purpose``), cancelling ones included."""
        return [w for w in self.orders.values() if w.side == side and (purpose is None or w.purpose == purpose)]

    def cancelling(self, side: str) -> bool:
        return any(w.cancelling for w in self.orders.values() if w.side == side)

    def covered(self, side: str) -> int:
        """Shares of ``side`` still to come from live legs and takers (not being cancelled)."""
        return sum(w.remaining for w in self.orders.values()
                   if w.side == side and w.purpose in (LEG, TAKER) and not w.cancelling)
