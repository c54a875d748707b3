"""An L2 order book for one outcome token, on integer micro-unit prices, updated in place.

Layout (why): each side keeps a dict ``price -> size`` and a sorted list of keys whose **best
level is the last element**. Bids are stored as prices ascending; asks as *negated* prices
ascending. Nearly all changes happen near the top of book, so inserts and deletes touch the end
of the list and move almost nothing; top-N reads are a slice of the tail.

Contract: ``set_level`` takes the *absolute* new size of a level (Polymarket ``price_change``);
a size of 0 removes the level. Sizes are never negative. A transient crossed book (bid >= ask) is
allowed: venues emit them mid-burst.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable

from clobflow.core.events import Side
from clobflow.core.numbers import SCALE


class L2Book:
    """Price levels of one token. All prices and sizes are integer micro-units."""

    __slots__ = (
        "asset_id",
        "tick_size",
        "_bids",
        "_bid_keys",
        "_asks",
        "_ask_keys",
        "hash",
        "ts_venue_ns",
        "ts_recv_ns",
    )

    def __init__(self, asset_id: str, tick_size: int | None = None) -> None:
        self.asset_id = asset_id
        self.tick_size = tick_size
        self._bids: dict[int, int] = {}
        self._bid_keys: list[int] = []  # prices ascending: best bid last
        self._asks: dict[int, int] = {}
        self._ask_keys: list[int] = []  # negated prices ascending: best (lowest) ask last
        self.hash = ""
        self.ts_venue_ns = 0
        self.ts_recv_ns = 0

    # -- updates ---------------------------------------------------------------------------

    def clear(self) -> None:
        self._bids.clear()
        self._bid_keys.clear()
        self._asks.clear()
        self._ask_keys.clear()

    def load(self, bids: Iterable[tuple[int, int]], asks: Iterable[tuple[int, int]]) -> None:
        """Replace both sides. Levels may come in any order; zero sizes are skipped."""
        self._bids = {p: s for p, s in bids if s > 0}
        self._asks = {p: s for p, s in asks if s > 0}
        self._bid_keys = sorted(self._bids)
        self._ask_keys = sorted(-p for p in self._asks)

    def set_level(self, side: Side, price: int, size: int) -> None:
        """Set the level at ``price`` on ``side`` to the absolute ``size`` (0 deletes)."""
        if side == 0:
            levels, keys, key = self._bids, self._bid_keys, price
        else:
            levels, keys, key = self._asks, self._ask_keys, -price
        if size > 0:
            if price not in levels:
                if not keys or key > keys[-1]:
                    keys.append(key)
                else:
                    insort(keys, key)
            levels[price] = size
        elif price in levels:
            del levels[price]
            if keys[-1] == key:
                keys.pop()
            else:
                del keys[bisect_left(keys, key)]

    # -- top of book -----------------------------------------------------------------------

    def best_bid(self) -> int | None:
        k = self._bid_keys
        return k[-1] if k else None

    def best_ask(self) -> int | None:
        k = self._ask_keys
        return -k[-1] if k else None

    def best_bid_size(self) -> int:
        k = self._bid_keys
        return self._bids[k[-1]] if k else 0

    def best_ask_size(self) -> int:
        k = self._ask_keys
        return self._asks[-k[-1]] if k else 0

    def mid(self) -> int | None:
        """Midpoint in micro-units (floored; exact for any venue tick), ``None`` if a side is empty."""
        b, a = self._bid_keys, self._ask_keys
        if not b or not a:
            return None
        return (b[-1] - a[-1]) // 2

    def spread(self) -> int | None:
        """Best ask minus best bid (negative when transiently crossed); ``None`` if a side is empty."""
        b, a = self._bid_keys, self._ask_keys
        if not b or not a:
            return None
        return -a[-1] - b[-1]

    def level_size(self, side: Side, price: int) -> int:
        return (self._bids if side == 0 else self._asks).get(price, 0)

    def __len__(self) -> int:
        return len(self._bids) + len(self._asks)

    @property
    def empty(self) -> bool:
        return not self._bids and not self._asks

    # -- depth -----------------------------------------------------------------------------

    def levels(self, side: Side, n: int | None = None) -> list[tuple[int, int]]:
        """Up to ``n`` levels of ``side``, best first, as ``(price, size)``."""
        if side == 0:
            keys = self._bid_keys if n is None else self._bid_keys[-n:]
            d = self._bids
            return [(p, d[p]) for p in reversed(keys)]
        keys = self._ask_keys if n is None else self._ask_keys[-n:]
        d = self._asks
        return [(-k, d[-k]) for k in reversed(keys)]

    def bid_depth(self, n: int) -> int:
        """Total size of the best ``n`` bid levels."""
        d = self._bids
        return sum([d[p] for p in self._bid_keys[-n:]])

    def ask_depth(self, n: int) -> int:
        """Total size of the best ``n`` ask levels."""
        d = self._asks
        return sum([d[-k] for k in self._ask_keys[-n:]])

    def imbalance(self, n: int = 5) -> float | None:
        """``(bid_depth - ask_depth) / (bid_depth + ask_depth)`` over the top ``n`` levels.

        A ratio in ``[-1, 1]`` (a signal, not money, so a float); ``None`` when both are empty.
        """
        bd = self.bid_depth(n)
        ad = self.ask_depth(n)
        total = bd + ad
        if total == 0:
            return None
        return (bd - ad) / total

    def walk(self, side: Side, size: int) -> tuple[int, int]:
        """Walk the book to take ``size`` shares from ``side``'s opposite ladder.

        ``side=BUY`` takes asks from the best upwards; ``side=SELL`` takes bids downwards.
        Returns ``(filled, notional)``: shares filled (≤ ``size``) and their cost in micro-units
        (exact for venue prices and sizes; floored otherwise). ``notional // filled`` scaled by
        1e6 gives the volume-weighted price; see ``vwap``.
        """
        if side == 0:
            d, keys, sign = self._asks, self._ask_keys, -1
        else:
            d, keys, sign = self._bids, self._bid_keys, 1
        left = size
        num = 0  # price * shares, in micro*micro units
        for k in reversed(keys):
            if left <= 0:
                break
            price = k * sign
            take = d[price]
            if take > left:
                take = left
            num += price * take
            left -= take
        return size - left, num // SCALE

    def vwap(self, side: Side, size: int) -> int | None:
        """Volume-weighted price (micro-units, floored) to trade ``size`` shares by walking the
        book; ``None`` if the book cannot fill all of ``size``."""
        if size <= 0:
            return None
        if side == 0:
            d, keys, sign = self._asks, self._ask_keys, -1
        else:
            d, keys, sign = self._bids, self._bid_keys, 1
        left = size
        num = 0
        for k in reversed(keys):
            price = k * sign
            take = d[price]
            if take >= left:
                num += price * left
                return num // size
            num += price * take
            left -= take
        return None

    def snapshot(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Both sides best first: ``(bids, asks)``."""
        return self.levels(Side.BUY), self.levels(Side.SELL)

    def __repr__(self) -> str:
        return (
            f"L2Book({self.asset_id[:10]}…, bid={self.best_bid()}x{self.best_bid_size()}, "
            f"ask={self.best_ask()}x{self.best_ask_size()}, levels={len(self)})"
        )
