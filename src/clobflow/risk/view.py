"""``RiskView``: what the risk checks may read about the world, as a small protocol.

The kernel implements it per strategy from its books, markets, order manager and portfolio;
tests implement it with a plain object. Every method is a cheap read (O(1) or O(open
positions)), called at most once per ``RiskEngine.check``. Units: money in collateral
micro-units, times in epoch ns.
"""

from __future__ import annotations

from typing import Protocol

from clobflow.book.book_set import TrackedBook
from clobflow.core.markets import BinaryMarket


class RiskView(Protocol):
    def book(self, asset_id: str) -> TrackedBook | None:
        """The tracked book of a token (``None`` when not tracked)."""
        ...

    def market(self, condition_id: str) -> BinaryMarket | None:
        """The loaded market (``None`` when unknown)."""
        ...

    def open_position_count(self) -> int:
        """Markets with an open position (or an entry working), for ``max_positions``."""
        ...

    def has_position(self, market: str) -> bool:
        """Whether the market (condition id) is held or has an entry working."""
        ...

    def entry_count(self, market: str) -> int:
        """Entries (BUY orders) sent on the market since its position opened, the first one
        included (0 when not held), for ``max_adds``."""
        ...

    def market_exposure(self, market: str) -> int:
        """Exposure on the market now, micro-units (cost basis of open positions; including the
        notional of live BUY orders is the conservative choice)."""
        ...

    def total_exposure(self) -> int:
        """Exposure over all markets, micro-units, on the same basis as ``market_exposure``."""
        ...

    def last_entry_ns(self, market: str) -> int | None:
        """Time of the last entry on the market (``None`` if never)."""
        ...

    def last_order_ns(self, asset_id: str) -> int | None:
        """Time of the last order sent on the token (``None`` if never)."""
        ...

    def in_flight(self, market: str) -> int:
        """Live orders (pending, working or unknown) on the market."""
        ...
