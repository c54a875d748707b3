"""Pure price arithmetic of the pair bot: quote prices, second-leg ceilings, chase steps and the
cheaper unwind. Integers only (micro-units); no state, no clock — each function is tested alone.

The one identity behind all of it: a complete set (one Up + one Down) pays exactly ``ONE``. A
pair bought at ``p_up + p_down (+ taker fees per set) <= ONE − margin`` has locked ``margin``.
"""

from __future__ import annotations

from typing import NamedTuple

from clobflow.book.l2 import L2Book
from clobflow.core.events import Side
from clobflow.core.fees import taker_fee
from clobflow.core.markets import FeeSchedule
from clobflow.core.numbers import ONE


def floor_tick(price: int, tick: int) -> int:
    return price - price % tick


def side_bid(best_bid: int | None, best_ask: int | None, tick: int, offset_ticks: int, lean_ticks: int) -> int | None:
    """A post-only bid on one token: the best bid less ``offset_ticks``, plus ``lean_ticks`` for the
    side we want filled first; never at or through the ask (post-only would be refused). With
    no bid in the book we start one tick under the ask; with neither side, no quote."""
    if best_bid is None:
        if best_ask is None:
            return None
        price = best_ask - tick
    else:
        price = best_bid - (offset_ticks - lean_ticks) * tick
    if best_ask is not None and price >= best_ask:
        price = best_ask - tick
    price = floor_tick(price, tick)
    return price if price >= tick else None


def quote_prices(up: tuple[int | None, int | None], down: tuple[int | None, int | None], *, tick: int, margin: int,
                 offset_ticks: int, lean: str | None, lean_ticks: int) -> tuple[int | None, int | None]:
    """Bids ``(up, down)`` from the tops ``(best bid, best ask)`` of each token such that
    ``up + down <= ONE − margin``. The side named by ``lean`` (the one behind) bids
    ``lean_ticks`` higher; when the pair is too dear the excess comes off the *other* side
    first, then evenly. A side that cannot be quoted is ``None``."""
    bu = side_bid(up[0], up[1], tick, offset_ticks, lean_ticks if lean == "up" else 0)
    bd = side_bid(down[0], down[1], tick, offset_ticks, lean_ticks if lean == "down" else 0)
    if bu is None or bd is None:
        return bu, bd
    excess = bu + bd - (ONE - margin)
    if excess <= 0:
        return bu, bd
    steps = -(-excess // tick)  # ticks to remove, rounded up
    if lean == "up":
        cut_d = min(steps, bd // tick - 1)
        bd -= cut_d * tick
        bu -= (steps - cut_d) * tick
    elif lean == "down":
        cut_u = min(steps, bu // tick - 1)
        bu -= cut_u * tick
        bd -= (steps - cut_u) * tick
    else:
        half = steps // 2
        # the odd tick comes off the dearer side (deterministic on a tie: up)
        if bu >= bd:
            bu -= (steps - half) * tick
            bd -= half * tick
        else:
            bd -= (steps - half) * tick
            bu -= half * tick
    return (bu if bu >= tick else None), (bd if bd >= tick else None)


def leg_ceiling(avg_ahead: int, margin: int, tick: int) -> int:
    """The highest price for the lagging leg that keeps the pair within the margin:
    ``ONE − margin − avg cost of the side ahead``, floored to the tick (may be <= 0: none)."""
    return floor_tick(ONE - margin - avg_ahead, tick)


def fee_per_share(price: int, schedule: FeeSchedule | None) -> int:
    """Taker fee of one share at ``price`` (micro), before the venue's 5-dp floor on the order;
    computed on 100 shares and divided so small fees are not floored to the 0.00001 minimum."""
    if schedule is None:
        return 0
    return -(-taker_fee(100 * ONE, price, schedule) // 100)


def taker_limit(ceiling: int, schedule: FeeSchedule | None, tick: int) -> int | None:
    """The highest tick price ``p <= ceiling`` with ``p + fee_per_share(p) <= ceiling``: a taker leg
    limited there clears the margin after fees at every level it walks. ``None`` if none."""
    p = floor_tick(ceiling, tick)
    while p >= tick:
        if p + fee_per_share(p, schedule) <= ceiling:
            return p
        p -= tick
    return None


def chase_price(current: int, best_bid: int | None, best_ask: int | None, ceiling: int, tick: int,
                step_ticks: int) -> int | None:
    """The lagging leg's next bid: ``step_ticks`` up from ``current`` (and at least the best bid,
    so we do not chase from behind the queue), capped by the ceiling and by ``ask − tick``
    (post-only). ``None`` when no higher price is possible."""
    nxt = current + step_ticks * tick
    if best_bid is not None and best_bid > nxt:
        nxt = best_bid
    cap = ceiling if best_ask is None else min(ceiling, best_ask - tick)
    nxt = min(nxt, floor_tick(cap, tick))
    return nxt if nxt > current else None


class Walk(NamedTuple):
    """A taker sweep of ``filled`` shares: total ``amount`` paid or received, exact ``fee``, and
    the ``worst`` price touched (the limit a FAK needs)."""

    filled: int
    amount: int
    fee: int
    worst: int | None


def walk_levels(book: L2Book, side: Side, size: int, schedule: FeeSchedule | None) -> Walk:
    """Take ``size`` from the opposite ladder of ``side`` (BUY -> asks, SELL -> bids), level by
    level, with the taker fee per level."""
    left, amount, fee, worst = size, 0, 0, None
    for price, avail in book.levels(Side.SELL if side == Side.BUY else Side.BUY):
        if left <= 0:
            break
        take = min(avail, left)
        amount += price * take // ONE
        fee += taker_fee(take, price, schedule)
        worst = price
        left -= take
    return Walk(size - left, amount, fee, worst)


class Unwind(NamedTuple):
    """The chosen way to flatten ``size`` unmatched shares: ``path`` is ``sell_excess`` (sell them
    on their own token) or ``buy_missing`` (buy the other token: completes sets); ``loss`` is the
    expected loss against the cost basis in micro-dollars (negative = a gain); ``limit`` the FAK
    price; ``alternative_loss`` the other path's (``None`` when impossible)."""

    path: str
    size: int
    limit: int
    loss: int
    alternative_loss: int | None


def choose_unwind(size: int, avg_ahead: int, ahead_book: L2Book, other_book: L2Book,
                  schedule: FeeSchedule | None, min_notional: int = ONE) -> Unwind | None:
    """Compare selling the ``size`` excess shares (bought at ``avg_ahead``) into the ahead token's
    bids with buying ``size`` shares of the other token from its asks; pick the smaller loss.

    - sell: ``loss = size × avg − proceeds + fee``
    - buy:  ``loss = size × avg + cost + fee − size × ONE`` (the new sets pay ``ONE`` each)

    A path the books cannot fill completely, or below the venue's $1 marketable minimum, is
    impossible. ``None`` when neither is possible (hold and retry on the next update)."""
    basis = avg_ahead * size // ONE
    options: list[tuple[int, str, int]] = []
    sell = walk_levels(ahead_book, Side.SELL, size, schedule)
    if sell.filled == size and sell.worst is not None and sell.amount >= min_notional:
        options.append((basis - sell.amount + sell.fee, "sell_excess", sell.worst))
    buy = walk_levels(other_book, Side.BUY, size, schedule)
    if buy.filled == size and buy.worst is not None and buy.amount >= min_notional:
        options.append((basis + buy.amount + buy.fee - size, "buy_missing", buy.worst))
    if not options:
        return None
    options.sort(key=lambda o: (o[0], o[1] != "buy_missing"))  # a tie completes sets
    loss, path, limit = options[0]
    alt = options[1][0] if len(options) > 1 else None
    return Unwind(path, size, limit, loss, alt)
