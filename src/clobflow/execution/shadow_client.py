"""``ShadowExecutionClient``: records what would have been sent and executes nothing.

Shadow mode runs the strategies on live data and journals their decisions without trading. So
that the strategies decide exactly as they would in paper mode, a shadow order behaves like one
the venue accepted and is still working: it is acknowledged (``Accepted``, venue id
``shadow-N``) and then never fills. A strategy therefore sees its entry in flight and does not
signal the same market again, while nothing is placed and no exposure appears (exposure comes
only from fills). The order ends when it is cancelled (``Cancelled(reason="requested")``, e.g.
at settlement) or when a GTD order reaches its expiry.

Every submitted order and cancel is recorded (``submitted``, ``cancels``) for the journal.
"""

from __future__ import annotations

import heapq

from clobflow.book.l2 import L2Book
from clobflow.core.events import Trade
from clobflow.core.orders import Accepted, Cancelled, ExecutionReport, Expired, OrderIntent, OrderType
from clobflow.execution.orders import Order

SHADOW = "shadow"


class ShadowExecutionClient:
    """Implements ``execution.client.ExecutionClient``; see the module docstring."""

    def __init__(self) -> None:
        self.submitted: list[tuple[int, OrderIntent]] = []
        self.cancels: list[tuple[int, str]] = []
        self._working: dict[str, OrderIntent] = {}
        self._due: list[tuple[int, int, ExecutionReport]] = []  # (ts, seq, report) heap
        self._seq = 0

    def _push(self, report: ExecutionReport) -> None:
        self._seq += 1
        heapq.heappush(self._due, (report.ts_ns, self._seq, report))

    def submit(self, order: Order, now_ns: int) -> None:
        intent = order.intent
        self.submitted.append((now_ns, intent))
        self._working[intent.client_order_id] = intent
        self._push(Accepted(client_order_id=intent.client_order_id, ts_ns=now_ns,
                            venue_order_id=f"{SHADOW}-{len(self.submitted)}"))
        if intent.order_type == OrderType.GTD and intent.expire_at_ns is not None:
            self._push(Expired(client_order_id=intent.client_order_id, ts_ns=max(now_ns, intent.expire_at_ns)))

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        self.cancels.append((now_ns, client_order_id))
        if self._working.pop(client_order_id, None) is not None:
            self._push(Cancelled(client_order_id=client_order_id, ts_ns=now_ns, reason="requested"))

    def on_book(self, asset_id: str, book: L2Book, now_ns: int) -> None:
        return None

    def on_trade(self, trade: Trade, now_ns: int) -> None:
        return None

    def poll(self, now_ns: int) -> list[ExecutionReport]:
        out: list[ExecutionReport] = []
        due = self._due
        while due and due[0][0] <= now_ns:
            report = heapq.heappop(due)[2]
            if type(report) is Expired:
                if self._working.pop(report.client_order_id, None) is None:
                    continue  # cancelled first
            out.append(report)
        return out

    def next_due_ns(self) -> int | None:
        return self._due[0][0] if self._due else None

    @property
    def working(self) -> int:
        """Shadow orders still working (never filled, not yet cancelled)."""
        return len(self._working)
