"""The complete-set bot's decision record: one row per decision or detection.

A ``Decision`` is what the decision path captures (cheaply: one Struct built from values it
already holds) and what the decision log writes as one JSON line, in capture order. The same
rows feed the after-window review (``review``: counterfactuals and anomalies) and the report.

Units: prices, sizes, costs and margins in micro-units (1e-6; a margin of 0.025 is 25_000);
times in ns (``ts_ns`` is engine time: the simulated clock in a backtest); ``seconds_left`` in
milliseconds (an int, so rows stay exact and byte-stable). ``None`` means "not known" (an empty
book side), never zero.

``action`` (what was decided) and ``reason`` (a stable snake_case code) — the vocabulary:

==============  ===========================================================================
action          meaning; ``side``/``price``/``size`` describe the order or the leg
==============  ===========================================================================
``quote``       a new post-only bid on ``side`` (reason ``open`` or ``lean``)
``requote``     a working bid cancelled and replaced at ``price``/``size`` (reason why)
``cancel``      a working bid pulled (``toxic``, ``hard_stop``, ``side_ahead``, ...)
``fill``        one of our orders filled ``size`` at ``price`` (reason ``maker``/``taker``)
``second_leg``  the pre-computed second leg fired after a fill on the other side:
                reason ``taker`` (FAK at the ask) or ``maker`` (re-priced bid);
                ``latency_ns`` = wall time from the fill event to the order
``chase``       the lagging leg's bid stepped toward the book (``detail.step``)
``unwind``      unmatched shares reduced: reason ``sell_excess`` or ``buy_missing``
``skip``        nothing done, with the reason (``margin_too_thin``, ``hard_stop``,
                ``book_not_ready``, ``toxic``, ``breaker_open``, ``exposure``, ...)
``detect``      a taker complete-set hit: reason ``executable`` or ``inconsistent``;
                ``margin`` is the net margin per set, ``detail`` has the classification
``observe``     an anomaly seen on the stream (``flash_move``, ``untrusted_book``)
==============  ===========================================================================

``side`` is ``"up"`` (the YES token), ``"down"`` (NO), ``"both"`` or ``""``. ``state`` is
the market's inventory state (``balanced``/``skewed``/``exposed``/``crisis``).
"""

from __future__ import annotations

from typing import Any

import msgspec

UP = "up"
DOWN = "down"
BOTH = "both"

NOT_DECISIONS = frozenset({"fill", "observe"})
"""Actions that report what happened (a fill, the stream) rather than something decided."""


class Decision(msgspec.Struct, frozen=True, gc=False, omit_defaults=False):
    """One decision or detection with the state at that moment (see the module docstring)."""

    seq: int
    ts_ns: int
    market: str
    slug: str
    action: str
    reason: str
    side: str = ""
    price: int | None = None
    size: int = 0
    up_bid: int | None = None
    up_ask: int | None = None
    down_bid: int | None = None
    down_ask: int | None = None
    up_bid_size: int = 0
    up_ask_size: int = 0
    down_bid_size: int = 0
    down_ask_size: int = 0
    up_shares: int = 0
    down_shares: int = 0
    up_cost: int = 0
    down_cost: int = 0
    margin: int | None = None
    threshold: int | None = None
    seconds_left_ms: int | None = None
    toxic: int = 0
    state: str = ""
    order_id: str = ""
    latency_ns: int | None = None
    detail: dict[str, Any] | None = None


def other(side: str) -> str:
    """The opposite leg: ``up`` <-> ``down``."""
    return DOWN if side == UP else UP
