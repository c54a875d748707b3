"""The two books of a binary market viewed together.

Polymarket matches both outcome tokens in one engine, so a resting BUY of NO at q is also a SELL
of YES at 1−q: in a consistent book ``YES best ask + NO best ask >= 1`` and
``YES best bid + NO best ask == 1`` (mirror). A complete set (one YES + one NO) always pays 1.
"""

from __future__ import annotations

from clobflow.book.l2 import L2Book
from clobflow.core.events import Side
from clobflow.core.markets import BinaryMarket
from clobflow.core.numbers import ONE


def mirror_levels(book: L2Book) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The complement token's ladders implied by ``book``: its bids at 1−ask, asks at 1−bid."""
    bids = [(ONE - p, s) for p, s in book.levels(Side.SELL)]
    asks = [(ONE - p, s) for p, s in book.levels(Side.BUY)]
    return bids, asks


class BinaryBook:
    """YES and NO books of one market (the books themselves live in a ``BookSet``)."""

    __slots__ = ("market", "yes", "no")

    def __init__(self, market: BinaryMarket, yes: L2Book, no: L2Book) -> None:
        self.market = market
        self.yes = yes
        self.no = no

    def complete_set_cost(self) -> int | None:
        """YES best ask + NO best ask in micro-units (the taker cost of one complete set);
        ``None`` if either ask side is empty."""
        a = self.yes.best_ask()
        b = self.no.best_ask()
        if a is None or b is None:
            return None
        return a + b

    def complete_set_bid(self) -> int | None:
        """YES best bid + NO best bid: what selling one complete set into the bids returns."""
        a = self.yes.best_bid()
        b = self.no.best_bid()
        if a is None or b is None:
            return None
        return a + b

    def mirror_gaps(self) -> tuple[int | None, int | None]:
        """``(YES bid − (1 − NO ask), YES ask − (1 − NO bid))``: both 0 when the two books mirror.

        ``None`` where a side is missing. Non-zero gaps mean the two books disagree (polled at
        different moments, or one of them is stale).
        """
        yb, ya = self.yes.best_bid(), self.yes.best_ask()
        nb, na = self.no.best_bid(), self.no.best_ask()
        g1 = None if yb is None or na is None else yb - (ONE - na)
        g2 = None if ya is None or nb is None else ya - (ONE - nb)
        return g1, g2

    def is_mirrored(self) -> bool:
        g1, g2 = self.mirror_gaps()
        return g1 in (0, None) and g2 in (0, None)
