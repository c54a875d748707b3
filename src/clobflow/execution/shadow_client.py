"""``ShadowExecutionClient``: records what would have been sent and executes nothing.

Shadow mode runs the strategies on live data and journals their orders without trading. Every
submitted order is recorded (``submitted``: ``(ts_ns, intent)`` in call order, for the journal)
and ends at once with ``Cancelled(reason="shadow")`` stamped at its submit time, so nothing
stays open and nothing counts as exposure. Cancels are recorded too (``cancels``); they have
nothing left to cancel.
"""

from __future__ import annotations

from collections import deque

from clobflow.book.l2 import L2Book
from clobflow.core.events import Trade
from clobflow.core.orders import Cancelled, ExecutionReport, OrderIntent
from clobflow.execution.orders import Order

SHADOW = "shadow"


class ShadowExecutionClient:
    """Implements ``execution.client.ExecutionClient``; see the module docstring."""

    def __init__(self) -> None:
        self.submitted: list[tuple[int, OrderIntent]] = []
        self.cancels: list[tuple[int, str]] = []
        self._pending: deque[ExecutionReport] = deque()

    def submit(self, order: Order, now_ns: int) -> None:
        intent = order.intent
        self.submitted.append((now_ns, intent))
        self._pending.append(Cancelled(client_order_id=intent.client_order_id, ts_ns=now_ns, reason=SHADOW))

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        self.cancels.append((now_ns, client_order_id))

    def on_book(self, asset_id: str, book: L2Book, now_ns: int) -> None:
        return None

    def on_trade(self, trade: Trade, now_ns: int) -> None:
        return None

    def poll(self, now_ns: int) -> list[ExecutionReport]:
        pending = self._pending
        out: list[ExecutionReport] = []
        # Reports were queued at their (non-decreasing) submit times, so the due ones lead.
        while pending and pending[0].ts_ns <= now_ns:
            out.append(pending.popleft())
        return out

    def next_due_ns(self) -> int | None:
        return self._pending[0].ts_ns if self._pending else None
