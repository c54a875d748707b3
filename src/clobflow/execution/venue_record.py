"""The venue's own record of our orders and fills: the shape reconciliation reads.

A venue keeps a record independent of ours: which of our orders reached it and what it
answered, and every fill. After a crash that record is the truth the store is reconciled
against (``engine.reconcile``): a fill the venue has and we lack is adopted, never doubled.
The paper simulator writes one (``sim.ledger``); a live venue client provides the same from
the venue's order and trade history.

- ``VenueOrder``: one order as it arrived at the venue, with the venue's answer (``status``
  ``accepted`` or ``rejected``, ``reason``) and its venue id.
- ``VenueFill``: one fill as the venue reports it (a ``core.orders.Fill``).
- ``VenueRecord``: ``orders()`` / ``fills()``, in the venue's order; what reconciliation needs.
- ``VenueLog``: what a simulated venue writes its record through (``sim.ledger.SimLedger``).

Money and sizes are integer micro-units, times epoch ns, sides ``BUY``/``SELL``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import msgspec

from clobflow.core.orders import ExecutionReport, Fill, OrderIntent


class VenueOrder(msgspec.Struct, frozen=True, tag="order"):
    client_order_id: str
    strategy: str
    market: str
    asset_id: str
    side: str
    order_type: str
    price: int
    size: int
    status: str  # accepted | rejected
    reason: str
    venue_order_id: str
    ts_ns: int


class VenueFill(msgspec.Struct, frozen=True, tag="fill"):
    """One fill of ours as the venue made it (``fill.side``: 0 BUY, 1 SELL in JSON)."""

    fill: Fill


VenueEntry = VenueOrder | VenueFill


@runtime_checkable
class VenueRecord(Protocol):
    """What a venue says happened to our orders (see the module docstring)."""

    def orders(self) -> list[VenueOrder]:
        """Every order that reached the venue, in arrival order."""
        ...

    def fills(self) -> list[VenueFill]:
        """Every fill of our orders, in the venue's order."""
        ...


@runtime_checkable
class VenueLog(Protocol):
    """The simulated venue's record keeper: given each batch of its answers before the engine
    hears any of them."""

    def record(self, reports: list[ExecutionReport], venue_ns: int, arrived: OrderIntent | None = None) -> None:
        """``arrived``: the order whose arrival produced ``reports`` (``None``: reports of
        resting orders, cancels, expiries). Durable when it returns."""
        ...


class ListedRecord:
    """A ``VenueRecord`` over entries already read (e.g. a ledger file, a venue's history)."""

    def __init__(self, entries: list[VenueEntry]) -> None:
        self._orders = [e for e in entries if isinstance(e, VenueOrder)]
        self._fills = [e for e in entries if isinstance(e, VenueFill)]

    def orders(self) -> list[VenueOrder]:
        return list(self._orders)

    def fills(self) -> list[VenueFill]:
        return list(self._fills)
