"""An L2 order book for one outcome token, on integer micro-unit prices, updated in place.

Layout (why): each side is two parallel lists, sorted keys and their sizes, with the **best
level last**. Bid keys are prices; ask keys are *negated* prices, so both sides ascend towards
their best level. Nearly all changes happen near the top of book, so updates touch the end of
the lists (a direct check of the last key, else a bisect) and move almost nothing. The depth of
the best ``TOP_N`` (5) levels per side is kept incrementally (a resize inside it adjusts it, a
level entering or leaving it re-sums five ints); any other depth is ``sum(sizes[-n:])``.

Contract: ``set_level`` takes the *absolute* new size of a level (Polymarket ``price_change``);
a size of 0 removes the level. ``apply_delta`` adds a *signed* amount (Kalshi
``orderbook_delta``); a level never goes negative: a delta that would make it so changes nothing
and returns ``False`` (the caller treats it as an integrity failure). A crossed or locked book
(bid >= ask) can be held, since venues emit them mid-burst; ``crossed()`` says so, and
``BookSet`` never calls such a book trusted.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable

from clobflow.core import ids
from clobflow.core.events import Side
from clobflow.core.numbers import SCALE


TOP_N = 5
"""Depth tracked incrementally per side (``imbalance(5)``, ``bid_depth(5)``: two int reads)."""


class L2Book:
    """Price levels of one token. All prices and sizes are integer micro-units."""

    __slots__ = (
        "asset_id",
        "tick_size",
        "_bid_keys",
        "_bid_sizes",
        "_ask_keys",
        "_ask_sizes",
        "_bid_top",
        "_ask_top",
        "hash",
        "ts_venue_ns",
        "ts_recv_ns",
    )

    def __init__(self, asset_id: str, tick_size: int | None = None) -> None:
        self.asset_id = asset_id
        self.tick_size = tick_size
        self._bid_keys: list[int] = []  # prices ascending: best bid last
        self._bid_sizes: list[int] = []
        self._ask_keys: list[int] = []  # negated prices ascending: best (lowest) ask last
        self._ask_sizes: list[int] = []
        # Incremental depth of the best ``TOP_N`` levels per side (the imbalance query's
        # default): kept by every mutator, so the hot query reads two ints, not two slice sums.
        self._bid_top = 0
        self._ask_top = 0
        self.hash = ""
        self.ts_venue_ns = 0
        self.ts_recv_ns = 0

    # -- updates ---------------------------------------------------------------------------

    def clear(self) -> None:
        self._bid_keys.clear()
        self._bid_sizes.clear()
        self._ask_keys.clear()
        self._ask_sizes.clear()
        self._bid_top = self._ask_top = 0

    def _retop(self) -> None:
        """Recompute both incremental top-N depths (after a bulk change)."""
        self._bid_top = sum(self._bid_sizes[-TOP_N:])
        self._ask_top = sum(self._ask_sizes[-TOP_N:])

    def load(self, bids: Iterable[tuple[int, int]], asks: Iterable[tuple[int, int]]) -> None:
        """Replace both sides. Levels may come in any order; zero sizes are skipped; a price
        listed twice keeps its last size."""
        b = sorted({p: s for p, s in bids if s > 0}.items())
        a = sorted({-p: s for p, s in asks if s > 0}.items())
        self._bid_keys = [k for k, _ in b]
        self._bid_sizes = [s for _, s in b]
        self._ask_keys = [k for k, _ in a]
        self._ask_sizes = [s for _, s in a]
        self._retop()

    def set_level(self, side: Side, price: int, size: int) -> None:
        """Set the level at ``price`` on ``side`` to the absolute ``size`` (0 deletes)."""
        if side == 0:
            keys, sizes, key = self._bid_keys, self._bid_sizes, price
        else:
            keys, sizes, key = self._ask_keys, self._ask_sizes, -price
        n = len(keys)
        if n and keys[-1] <= key:
            i = n - 1 if keys[-1] == key else n
        else:
            i = bisect_left(keys, key)
        if i < n and keys[i] == key:
            if size > 0:
                if i >= n - TOP_N:  # a resize inside the top N: adjust its depth
                    if side == 0:
                        self._bid_top += size - sizes[i]
                    else:
                        self._ask_top += size - sizes[i]
                sizes[i] = size
                return
            del keys[i]
            del sizes[i]
        elif size > 0:
            if i == n:
                keys.append(key)
                sizes.append(size)
            else:
                keys.insert(i, key)
                sizes.insert(i, size)
        else:
            return
        if i >= n - TOP_N:  # a level entered or left the top N: its membership changed
            if side == 0:
                self._bid_top = sum(sizes[-TOP_N:])
            else:
                self._ask_top = sum(sizes[-TOP_N:])

    def apply_delta(self, side: Side, price: int, delta: int) -> bool:
        """Change the level at ``price`` on ``side`` by the signed ``delta`` (a result of 0
        deletes it). Returns ``False``, changing nothing, when the result would be negative."""
        new = self.level_size(side, price) + delta
        if new < 0:
            return False
        self.set_level(side, price, new)
        return True

    def remove_bids_above(self, price: int) -> int:
        """Delete every bid level priced above ``price``; returns how many were deleted.

        For a venue whose published top of book says those levels are gone (consumed by a fill
        whose level-by-level removals have not arrived yet)."""
        keys = self._bid_keys
        i = bisect_right(keys, price)
        n = len(keys) - i
        if n:
            del keys[i:]
            del self._bid_sizes[i:]
            self._retop()
        return n

    def remove_asks_below(self, price: int) -> int:
        """Delete every ask level priced below ``price``; returns how many were deleted (the
        mirror of ``remove_bids_above``)."""
        keys = self._ask_keys  # negated prices: an ask below ``price`` has a key above ``-price``
        i = bisect_right(keys, -price)
        n = len(keys) - i
        if n:
            del keys[i:]
            del self._ask_sizes[i:]
            self._retop()
        return n

    def crossed(self) -> bool:
        """Best bid >= best ask (crossed or locked); ``False`` when a side is empty."""
        b, a = self._bid_keys, self._ask_keys
        return bool(b) and bool(a) and b[-1] >= -a[-1]

    # -- top of book -----------------------------------------------------------------------

    def best_bid(self) -> int | None:
        k = self._bid_keys
        return k[-1] if k else None

    def best_ask(self) -> int | None:
        k = self._ask_keys
        return -k[-1] if k else None

    def best_bid_size(self) -> int:
        s = self._bid_sizes
        return s[-1] if s else 0

    def best_ask_size(self) -> int:
        s = self._ask_sizes
        return s[-1] if s else 0

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
        """Size at ``price`` on ``side`` (0 if no level)."""
        if side == 0:
            keys, sizes, key = self._bid_keys, self._bid_sizes, price
        else:
            keys, sizes, key = self._ask_keys, self._ask_sizes, -price
        i = bisect_left(keys, key)
        return sizes[i] if i < len(keys) and keys[i] == key else 0

    def __len__(self) -> int:
        return len(self._bid_keys) + len(self._ask_keys)

    @property
    def empty(self) -> bool:
        return not self._bid_keys and not self._ask_keys

    # -- depth -----------------------------------------------------------------------------

    def levels(self, side: Side, n: int | None = None) -> list[tuple[int, int]]:
        """Up to ``n`` levels of ``side``, best first, as ``(price, size)``."""
        if side == 0:
            keys, sizes = self._bid_keys, self._bid_sizes
            if n is not None:
                keys, sizes = keys[-n:], sizes[-n:]
            return list(zip(reversed(keys), reversed(sizes)))
        keys, sizes = self._ask_keys, self._ask_sizes
        if n is not None:
            keys, sizes = keys[-n:], sizes[-n:]
        return [(-k, s) for k, s in zip(reversed(keys), reversed(sizes))]

    def bid_depth(self, n: int) -> int:
        """Total size of the best ``n`` bid levels."""
        return self._bid_top if n == TOP_N else sum(self._bid_sizes[-n:])

    def ask_depth(self, n: int) -> int:
        """Total size of the best ``n`` ask levels."""
        return self._ask_top if n == TOP_N else sum(self._ask_sizes[-n:])

    def imbalance(self, n: int = 5) -> float | None:
        """``(bid_depth - ask_depth) / (bid_depth + ask_depth)`` over the top ``n`` levels.

        A ratio in ``[-1, 1]`` (a signal, not money, so a float); ``None`` when both are empty.
        """
        if n == TOP_N:
            bd, ad = self._bid_top, self._ask_top
        else:
            bd, ad = sum(self._bid_sizes[-n:]), sum(self._ask_sizes[-n:])
        total = bd + ad
        if total == 0:
            return None
        return (bd - ad) / total

    def walk(self, side: Side, size: int) -> tuple[int, int]:
        """Walk the book to take ``size`` shares from ``side``'s opposite ladder.

        ``side=BUY`` takes asks from the best upwards; ``side=SELL`` takes bids downwards.
        Returns ``(filled, notional)``: shares filled (≤ ``size``) and their cost in micro-units
        (exact for venue prices and sizes; floored otherwise).
        """
        if side == 0:
            keys, sizes, sign = self._ask_keys, self._ask_sizes, -1
        else:
            keys, sizes, sign = self._bid_keys, self._bid_sizes, 1
        left = size
        num = 0  # price * shares, in micro*micro units
        i = len(keys) - 1
        while left > 0 and i >= 0:
            take = sizes[i]
            if take > left:
                take = left
            num += keys[i] * sign * take
            left -= take
            i -= 1
        return size - left, num // SCALE

    def vwap(self, side: Side, size: int) -> int | None:
        """Volume-weighted price (micro-units, floored) to trade ``size`` shares by walking the
        book; ``None`` if the book cannot fill all of ``size``."""
        if size <= 0:
            return None
        filled, _ = self.walk(side, size)
        if filled < size:
            return None
        if side == 0:
            keys, sizes, sign = self._ask_keys, self._ask_sizes, -1
        else:
            keys, sizes, sign = self._bid_keys, self._bid_sizes, 1
        left, num, i = size, 0, len(keys) - 1
        while left > 0:
            take = min(sizes[i], left)
            num += keys[i] * sign * take
            left -= take
            i -= 1
        return num // size

    def snapshot(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Both sides best first: ``(bids, asks)``."""
        return self.levels(Side.BUY), self.levels(Side.SELL)

    def __repr__(self) -> str:
        return (
            f"L2Book({ids.raw(self.asset_id)[:10]}…, bid={self.best_bid()}x{self.best_bid_size()}, "
            f"ask={self.best_ask()}x{self.best_ask_size()}, levels={len(self)})"
        )
