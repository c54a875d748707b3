"""``SimExecutionClient``: the execution port over the simulated venue (backtest and paper).

It adds time to ``sim.matching.MatchingEngine``: an order sent at ``t`` reaches the engine at
``latency.arrival_ns(t)`` and meets the book as it is *then*; a cancel arrives after
``latency.cancel_arrival_ns``; whatever the venue does at ``v`` is reported at
``latency.report_ns(v)``. Requests reach the venue in the order sent and reports come back in
the order produced (one ordered connection each way), even with jitter.

Driving it (what a backtest runner does), so that arrivals meet the book of their time::

    for event in market_events:                        # time order
        while (due := client.next_due_ns()) is not None and due <= event.ts:
            for report in client.poll(due):
                orders.apply(report)
        books.on_event(event)
        client.on_book(asset_id, books.book(asset_id), event.ts)   # or on_trade

``on_book``/``on_trade`` also run whatever came due up to their time first, but against the
book they were handed (already updated): poll at ``next_due_ns()`` for exact arrival books.

Reports carry ``ts_ns`` = when we receive them; a ``Fill.ts_ns`` is when it happened at the
venue. Deterministic: same inputs, same latency seed -> the same reports, ids included.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

import msgspec

from clobflow.book.l2 import L2Book
from clobflow.core.events import Trade
from clobflow.core.orders import ExecutionReport, OrderIntent, OrderType
from clobflow.execution.orders import Order
from clobflow.execution.venue_record import VenueLog
from clobflow.sim.exec_models import FeeModel, LatencyModel
from clobflow.sim.matching import MarketSource, MatchingEngine

_ARRIVE = 0
_CANCEL = 1
_EXPIRE = 2

BookSource = Callable[[str], L2Book | None]
"""token id -> its current book (``None`` if unknown)."""


class SimExecutionClient:
    """Simulated execution (implements ``execution.client.ExecutionClient``).

    ``markets``: token id -> ``BinaryMarket`` (or a callable returning that mapping, for a
    market set that changes during the run); ``books``: token id -> current ``L2Book``;
    ``latency``: delays; ``id_prefix``: prefix of venue order and fill ids; ``fees``: fee model
    (default: each market's schedule, makers free); ``trade_inference``: infer trades at our
    price from level decreases when no trade prints come (``sim.matching`` rule c); ``ledger``:
    the venue's own record (paper: ``sim.ledger.SimLedger``), given every batch of answers
    (arrivals and fills) when the venue produces it, before it is scheduled for delivery.
    """

    def __init__(
        self,
        markets: MarketSource,
        books: BookSource,
        latency: LatencyModel,
        *,
        id_prefix: str = "sim",
        fees: FeeModel | None = None,
        trade_inference: bool = True,
        ledger: VenueLog | None = None,
    ) -> None:
        self.engine = MatchingEngine(markets, fees, id_prefix=id_prefix, trade_inference=trade_inference)
        self.ledger = ledger
        self.latency = latency
        self._books = books
        self._actions: list[tuple[int, int, int, object]] = []  # heap: (due_ns, seq, kind, payload)
        self._reports: list[tuple[int, int, ExecutionReport]] = []  # heap: (due_ns, seq, report)
        self._seq = 0
        self._last_arrival_ns = 0
        self._last_report_ns = 0

    # -- the port --------------------------------------------------------------------------

    def submit(self, order: Order, now_ns: int) -> None:
        due = max(self.latency.arrival_ns(now_ns), self._last_arrival_ns)
        self._last_arrival_ns = due
        self._push(due, _ARRIVE, order.intent)

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        due = max(self.latency.cancel_arrival_ns(now_ns), self._last_arrival_ns)
        self._last_arrival_ns = due
        self._push(due, _CANCEL, client_order_id)

    def on_book(self, asset_id: str, book: L2Book, now_ns: int) -> None:
        actions = self._actions
        if actions and actions[0][0] <= now_ns:
            self._advance(now_ns)
        reports = self.engine.on_book(asset_id, book, now_ns)
        if reports:
            self._deliver(now_ns, reports)

    def on_trade(self, trade: Trade, now_ns: int) -> None:
        self._advance(now_ns)
        self._deliver(now_ns, self.engine.on_trade(trade, now_ns))

    def poll(self, now_ns: int) -> list[ExecutionReport]:
        self._advance(now_ns)
        heap = self._reports
        out: list[ExecutionReport] = []
        while heap and heap[0][0] <= now_ns:
            out.append(heapq.heappop(heap)[2])
        return out

    def next_due_ns(self) -> int | None:
        a = self._actions[0][0] if self._actions else None
        r = self._reports[0][0] if self._reports else None
        if a is None:
            return r
        return a if r is None or a < r else r

    def drain_reports(self) -> list[ExecutionReport]:
        """Every report the venue has already produced, whatever its delivery time, in order
        (a paper run stopping: what the venue did, and its ledger holds, reaches the engine)."""
        heap, out = self._reports, []
        while heap:
            out.append(heapq.heappop(heap)[2])
        return out

    def forget_token(self, asset_id: str) -> None:
        """The token's market left the run: drop the matching engine's memory of its book."""
        self.engine.forget(asset_id)

    # -- internals -------------------------------------------------------------------------

    def _push(self, due_ns: int, kind: int, payload: object) -> None:
        self._seq += 1
        heapq.heappush(self._actions, (due_ns, self._seq, kind, payload))

    def _advance(self, now_ns: int) -> None:
        """Run the venue-side actions (arrivals, cancels, expiries) due by ``now_ns``, in time
        order; their reports are scheduled for delivery."""
        actions = self._actions
        engine = self.engine
        while actions and actions[0][0] <= now_ns:
            due, _, kind, payload = heapq.heappop(actions)
            arrived = None
            if kind == _ARRIVE:
                assert isinstance(payload, OrderIntent)
                reports = engine.place(payload, self._books(payload.asset_id), due)
                if payload.order_type is OrderType.GTD and engine.resting(payload.client_order_id) is not None:
                    assert payload.expire_at_ns is not None  # validate() refuses a GTD without one
                    self._push(payload.expire_at_ns, _EXPIRE, payload.client_order_id)
                arrived = payload
            elif kind == _CANCEL:
                reports = engine.cancel(str(payload), due)
            else:
                reports = engine.expire(str(payload), due)
            self._deliver(due, reports, arrived)

    def _deliver(self, venue_ns: int, reports: list[ExecutionReport], arrived: OrderIntent | None = None) -> None:
        if not reports:
            return
        if self.ledger is not None:
            self.ledger.record(reports, venue_ns, arrived)  # the venue's record first, then the news
        at = max(self.latency.report_ns(venue_ns), self._last_report_ns)
        self._last_report_ns = at
        for r in reports:
            self._seq += 1
            heapq.heappush(self._reports, (at, self._seq, msgspec.structs.replace(r, ts_ns=at)))
