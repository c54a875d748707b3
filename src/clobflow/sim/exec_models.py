"""Models behind the simulated execution: latency, fees and queue position.

Map:
- ``LatencyModel``: how long a request takes to reach the venue (``submit_ns``, ``cancel_ns``)
  and how long the venue's answer takes to come back (``ack_ns``), plus an optional uniform
  jitter drawn from a seeded integer generator (splitmix64), so a run is reproducible given its
  seed and the order of calls.
- ``FeeModel``: the fee of one fill. Polymarket charges takers only (protocol.md §4.3); the
  schedule is the market's own ``FeeSchedule`` unless overridden (what-if runs).
- Queue helpers: pure integer functions that move our place in a price level's queue when the
  level trades (``queue_after_trade``) or shrinks by cancels (``queue_after_cancels``), tell
  whether a price crosses a ladder (``crosses``, ``strictly_through``), and whether a level's
  decrease may be trading (``level_may_have_traded``, for data without trade prints).

Everything is integers: times in ns, prices and sizes in micro-units, money in collateral
micro-units.
"""

from __future__ import annotations

from collections.abc import Mapping

from clobflow.core.events import Side
from clobflow.core.fees import taker_fee
from clobflow.core.markets import BinaryMarket, FeeSchedule
from clobflow.core.orders import Liquidity

_MASK64 = (1 << 64) - 1


class LatencyModel:
    """Fixed one-way delays plus optional seeded jitter, in integer nanoseconds.

    - ``submit_ns``: decision (``submit`` call) -> the order reaches the matching engine.
    - ``ack_ns``: the venue acts -> we receive its report (acks, fills, cancels, expiries).
    - ``cancel_ns``: ``cancel`` call -> the cancel reaches the venue (default ``submit_ns``).
    - ``jitter_ns``: each delay gets an extra uniform ``[0, jitter_ns]`` drawn from a
      splitmix64 stream seeded with ``seed``. Same seed and same call sequence -> same delays,
      on any platform (no ``random`` module, no floats).

    Raises ``ValueError`` for a negative delay or jitter.
    """

    __slots__ = ("submit_ns", "ack_ns", "cancel_ns", "jitter_ns", "seed", "_state")

    def __init__(
        self,
        submit_ns: int = 0,
        ack_ns: int = 0,
        *,
        cancel_ns: int | None = None,
        jitter_ns: int = 0,
        seed: int = 0,
    ) -> None:
        cancel = submit_ns if cancel_ns is None else cancel_ns
        if min(submit_ns, ack_ns, cancel, jitter_ns) < 0:
            raise ValueError("latencies and jitter must be >= 0 ns")
        self.submit_ns = submit_ns
        self.ack_ns = ack_ns
        self.cancel_ns = cancel
        self.jitter_ns = jitter_ns
        self.seed = seed
        self._state = seed & _MASK64

    def _jitter(self) -> int:
        if self.jitter_ns == 0:
            return 0  # draw nothing: adding jitter=0 must not change the stream's use
        # splitmix64 (Steele, Lea, Flood 2014): tiny, well mixed, exactly reproducible.
        self._state = (self._state + 0x9E3779B97F4A7C15) & _MASK64
        z = self._state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        z ^= z >> 31
        return z % (self.jitter_ns + 1)

    def arrival_ns(self, sent_ns: int) -> int:
        """When an order sent at ``sent_ns`` reaches the venue."""
        return sent_ns + self.submit_ns + self._jitter()

    def cancel_arrival_ns(self, sent_ns: int) -> int:
        """When a cancel sent at ``sent_ns`` reaches the venue."""
        return sent_ns + self.cancel_ns + self._jitter()

    def report_ns(self, venue_ns: int) -> int:
        """When we receive a report of something the venue did at ``venue_ns``."""
        return venue_ns + self.ack_ns + self._jitter()

    def __repr__(self) -> str:
        return (
            f"LatencyModel(submit_ns={self.submit_ns}, ack_ns={self.ack_ns}, "
            f"cancel_ns={self.cancel_ns}, jitter_ns={self.jitter_ns}, seed={self.seed})"
        )


class FeeModel:
    """Fee of one fill, in collateral micro-units.

    Takers pay ``core.fees.taker_fee`` on the market's ``fee_schedule`` (or on an override by
    condition id, for what-if runs; an override of ``None`` means no fee). Makers pay 0:
    Polymarket charges takers only; maker rebates are paid out separately by the venue and are
    not part of a fill (protocol.md §4.3).
    """

    __slots__ = ("_overrides",)

    def __init__(self, overrides: Mapping[str, FeeSchedule | None] | None = None) -> None:
        self._overrides = dict(overrides or {})

    def schedule(self, market: BinaryMarket) -> FeeSchedule | None:
        """The taker fee schedule applied to ``market``."""
        if market.condition_id in self._overrides:
            return self._overrides[market.condition_id]
        return market.fee_schedule

    def fee(self, market: BinaryMarket, liquidity: Liquidity, price: int, size: int) -> int:
        """Fee for ``size`` shares at ``price`` (micro-units). Raises ``ValueError`` for a price
        outside ``[0, 1]`` (from ``taker_fee``)."""
        if liquidity is Liquidity.MAKER:
            return 0
        return taker_fee(size, price, self.schedule(market))


# -- queue position ------------------------------------------------------------------------


def queue_after_trade(queue_ahead: int, traded: int) -> tuple[int, int]:
    """Trades of ``traded`` shares at our price eat the queue ahead of us first.

    Returns ``(new_queue_ahead, excess)``: ``excess`` is the volume that reached our order
    (0 while the queue ahead absorbs it all).
    """
    if traded <= queue_ahead:
        return queue_ahead - traded, 0
    return 0, traded - queue_ahead


def queue_after_cancels(queue_ahead: int, level_size: int) -> int:
    """The level shrank without a trade: assume the cancels came from behind us (the
    conservative choice), except that the queue ahead can never exceed what is displayed."""
    return queue_ahead if queue_ahead <= level_size else level_size


def crosses(side: Side, price: int, opposite_best: int | None) -> bool:
    """Whether an order on ``side`` at ``price`` would trade against ``opposite_best`` (the best
    ask for a BUY, the best bid for a SELL); ``False`` for an empty opposite side."""
    if opposite_best is None:
        return False
    return opposite_best <= price if side == Side.BUY else opposite_best >= price


def strictly_through(side: Side, price: int, opposite_best: int | None) -> bool:
    """Whether the opposite best is strictly better than ``price`` for a resting order on
    ``side`` (best ask below our bid, best bid above our ask): the market traded through us."""
    if opposite_best is None:
        return False
    return opposite_best < price if side == Side.BUY else opposite_best > price


def level_may_have_traded(side: Side, price: int, prev_best: int | None, opposite_best: int | None) -> bool:
    """Trade inference (``sim.matching`` rule c): may a decrease of the displayed size at
    ``price`` on ``side`` be trading rather than cancels? Yes when the opposite best touches or
    crosses ``price``, or when ``price`` was the best of its side at the previous observation
    (``prev_best``): aggressors hit the best level first, deeper levels only shrink by cancels."""
    return crosses(side, price, opposite_best) or (prev_best is not None and prev_best == price)
