"""The execution port: what the engine needs from whatever executes its orders.

``ExecutionClient`` is implemented by the simulated client (backtest, paper), the shadow client
(log only) and, later, live venue clients. Nothing venue-specific belongs here.

Contract shared by every implementation:

- Time is passed in (integer ns since the epoch); a client never reads a clock. Callers pass
  non-decreasing times.
- ``submit``/``cancel`` never report synchronously: whatever happens comes back later from
  ``poll`` as ``core.orders`` execution reports (``Accepted``, ``Rejected``, ``Filled``,
  ``Cancelled``, ``Expired``, ``Unknown``), which the caller applies to its ``OrderManager``.
  The caller marks an order SUBMITTED (``OrderManager.mark_submitted``) before ``submit``.
- ``poll(now_ns)`` returns the reports due by ``now_ns``, in time order (ties in the order
  they were produced), each exactly once.
- ``next_due_ns()`` is the earliest time at which ``poll`` would have something to do, so a
  backtest can jump the clock to it (``None``: nothing scheduled).
- ``on_book``/``on_trade`` feed market data to clients that simulate matching; a venue client
  ignores them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from clobflow.book.l2 import L2Book
from clobflow.core.events import Trade
from clobflow.core.orders import ExecutionReport

if TYPE_CHECKING:
    from clobflow.execution.orders import Order


@runtime_checkable
class ExecutionClient(Protocol):
    """Where orders go. See the module docstring for the shared contract."""

    def submit(self, order: Order, now_ns: int) -> None:
        """Send ``order`` (its ``intent`` says what to trade) at ``now_ns``."""
        ...

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        """Ask to cancel the order at ``now_ns``; the outcome comes back through ``poll``
        (no report if the order was already final when the cancel arrived)."""
        ...

    def on_book(self, asset_id: str, book: L2Book, now_ns: int) -> None:
        """The book of ``asset_id`` changed (``book`` is its state now)."""
        ...

    def on_trade(self, trade: Trade, now_ns: int) -> None:
        """A public trade print."""
        ...

    def poll(self, now_ns: int) -> list[ExecutionReport]:
        """Reports due by ``now_ns``, oldest first."""
        ...

    def next_due_ns(self) -> int | None:
        """Earliest time ``poll`` has work (``None``: nothing pending)."""
        ...
