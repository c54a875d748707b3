"""Orders, fills and execution reports: the vocabulary shared by strategies, risk, execution,
portfolio and the store. Pure data; no I/O.

Units: prices and sizes are integer micro-units (``core.numbers``); money amounts (notional,
fees, P&L) are micro-units of the collateral (pUSD, 1e-6 dollars). ``notional(price, size)`` is
``price * size // 1e6``, exact for venue prices and sizes. Times are integer ns since the epoch.

Lifecycle of an order (``OrderStatus``)::

    PENDING --submit--> SUBMITTED --ack/partial--> PARTIALLY_FILLED --fill--> FILLED
       |                    |  \\-------------------------------------------> FILLED
       |                    +--> CANCELLED | REJECTED | EXPIRED
       +--> REJECTED (risk or local validation; never sent)
    any live state --submit outcome not known--> UNKNOWN --reconcile--> a real state

A submit whose outcome is unknown (timeout, dropped connection) is never retried blindly: it
stays UNKNOWN until reconciliation says what happened (DESIGN §3.7).
"""

from __future__ import annotations

from enum import Enum

import msgspec

from clobflow.core.events import Side
from clobflow.core.numbers import SCALE


class OrderType(str, Enum):
    """Polymarket order types (protocol.md §4.2)."""

    GTC = "GTC"  # good till cancelled (rests)
    GTD = "GTD"  # good till a date (rests until ``expire_at_ns``)
    FOK = "FOK"  # fill completely at once or not at all
    FAK = "FAK"  # fill what is available at once, kill the rest

    @property
    def rests(self) -> bool:
        return self in (OrderType.GTC, OrderType.GTD)


class OrderStatus(str, Enum):
    PENDING = "pending"
    SUBMITTED = "submitted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    UNKNOWN = "unknown"

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def live(self) -> bool:
        """Working at the venue or on its way (counts as in-flight / open exposure)."""
        return self in _LIVE


_TERMINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED})
_LIVE = frozenset({OrderStatus.PENDING, OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED, OrderStatus.UNKNOWN})


class Liquidity(str, Enum):
    MAKER = "maker"
    TAKER = "taker"


class OrderIntent(msgspec.Struct, frozen=True):
    """What a strategy wants: one order. ``client_order_id`` is unique per run and
    deterministic in backtests (the kernel assigns it).

    ``price`` is the limit price (for FOK/FAK the worst acceptable price); ``size`` is in shares
    (micro-units). ``expire_at_ns`` is required for GTD. ``signal_ns`` is when the signal that
    led to this order was computed (risk checks its age); ``reason`` is a short code journaled
    with it.
    """

    client_order_id: str
    strategy: str
    market: str
    asset_id: str
    side: Side
    price: int
    size: int
    order_type: OrderType
    created_ns: int
    signal_ns: int = 0
    post_only: bool = False
    expire_at_ns: int | None = None
    reason: str = ""

    @property
    def notional(self) -> int:
        return notional(self.price, self.size)


class CancelIntent(msgspec.Struct, frozen=True):
    client_order_id: str
    reason: str = ""


class Fill(msgspec.Struct, frozen=True):
    """One execution of (part of) an order. ``fee`` is in collateral micro-units (0 for makers
    on Polymarket); ``price`` is the execution price of this fill."""

    fill_id: str
    client_order_id: str
    strategy: str
    market: str
    asset_id: str
    side: Side
    price: int
    size: int
    fee: int
    liquidity: Liquidity
    ts_ns: int

    @property
    def notional(self) -> int:
        return notional(self.price, self.size)


# -- execution reports: what an execution client says happened -------------------------------


class Report(msgspec.Struct, frozen=True, tag_field="report"):
    client_order_id: str
    ts_ns: int


class Accepted(Report, frozen=True, tag="accepted"):
    """The venue took the order (it rests, or is being matched)."""

    venue_order_id: str = ""


class Rejected(Report, frozen=True, tag="rejected"):
    """The venue (or local validation) refused the order. ``reason`` is a stable code."""

    reason: str = ""
    message: str = ""


class Filled(Report, frozen=True, tag="filled"):
    """A fill; the order's remaining size goes down by ``fill.size``."""

    fill: Fill | None = None


class Cancelled(Report, frozen=True, tag="cancelled"):
    """The order stopped working; ``reason`` says why (``requested``, ``fak_remainder``,
    ``fok_killed``, ``market_closed``...)."""

    reason: str = ""


class Expired(Report, frozen=True, tag="expired"):
    """A GTD order reached its expiry."""


class Unknown(Report, frozen=True, tag="unknown"):
    """The outcome of a submit or cancel is not known; reconcile before acting on it."""

    reason: str = ""


ExecutionReport = Accepted | Rejected | Filled | Cancelled | Expired | Unknown


def notional(price: int, size: int) -> int:
    """Collateral micro-units for ``size`` shares at ``price`` (floored; exact on venue grids)."""
    return price * size // SCALE
