"""The order state machine: every order we create, and what the venue said about it.

``OrderManager`` owns the ``Order`` objects (mutable, one per ``client_order_id``) and moves
them along the lifecycle of ``core.orders``::

    PENDING --mark_submitted--> SUBMITTED --Filled--> PARTIALLY_FILLED --Filled--> FILLED
       |                          |  |                      |
       |                          |  +--Filled (all)--> FILLED
       |                          +--Rejected--> REJECTED   +--Cancelled/Expired--> CANCELLED/EXPIRED
       |                          +--Cancelled/Expired--> CANCELLED/EXPIRED
       +--reject_local--> REJECTED (risk or local validation: never sent)
    PENDING/SUBMITTED/PARTIALLY_FILLED --Unknown--> UNKNOWN --any report--> the state it implies

``Accepted`` keeps SUBMITTED (or PARTIALLY_FILLED when fills came first) and records the venue
order id; it is still reported to ``on_transition`` (``from == to``) so the journal sees the ack.
Every change calls ``on_transition(order, from_status, to_status, reason, ts_ns)`` after the
order is updated — the hook for the journal and the store.

Invariants (a breach raises ``InvariantBroken``: our state or the venue's is wrong, halt):
no report for an unknown id or for a PENDING order other than ``Unknown``; nothing moves an
order out of a terminal state; a fill is for this order's token and side, within its limit
price, positive and at most the remaining size; ``Rejected`` after a fill. A fill whose
``fill_id`` was seen before is ignored and counted (``counters["duplicate_fills"]``): venues
resend trades (protocol.md §2.2), even after the order is final.

Memory stays bounded over a long run: a live order keeps its own fill ids; when it becomes
terminal they move to a window of the ``recent_fill_ids`` most recent ones (``core.recent``), so
a late duplicate within that window is still ignored (one older than it breaks the terminal-state
invariant, loudly). Live orders are indexed by market and by (strategy, market), so the queries
on the decision path (``open_orders(market=...)``, ``live_count``) read only that market's orders.

Units: sizes and prices in micro-units, ``fees`` in collateral micro-units, times in ns.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable

from clobflow.core.errors import InvariantBroken
from clobflow.core.events import Side
from clobflow.core.numbers import SCALE
from clobflow.core.recent import RecentIds
from clobflow.core.orders import (
    Accepted,
    Cancelled,
    ExecutionReport,
    Expired,
    Filled,
    OrderIntent,
    OrderStatus,
    Rejected,
    Unknown,
)

PENDING = OrderStatus.PENDING
SUBMITTED = OrderStatus.SUBMITTED
PARTIALLY_FILLED = OrderStatus.PARTIALLY_FILLED
FILLED = OrderStatus.FILLED
CANCELLED = OrderStatus.CANCELLED
REJECTED = OrderStatus.REJECTED
EXPIRED = OrderStatus.EXPIRED
UNKNOWN = OrderStatus.UNKNOWN

_IN_FLIGHT = frozenset({PENDING, SUBMITTED, UNKNOWN})


class Order:
    """One order and its execution so far.

    - ``filled_size``: shares filled (micro-units); ``avg_price``: volume-weighted fill price
      (micro-units, floored; 0 before the first fill); ``fees``: sum of fill fees (collateral
      micro-units).
    - ``venue_order_id``: from the venue's ``Accepted`` ("" until then).
    - ``created_ns``/``updated_ns``: creation and last change; ``last_reason``: the reason code
      of the last transition; ``message``: the venue's text of the last rejection, if any.
    """

    __slots__ = (
        "intent",
        "status",
        "filled_size",
        "avg_price",
        "fees",
        "venue_order_id",
        "created_ns",
        "updated_ns",
        "last_reason",
        "message",
        "fill_ids",
        "_cost",
    )

    def __init__(self, intent: OrderIntent, now_ns: int) -> None:
        self.intent = intent
        self.status = PENDING
        self.filled_size = 0
        self.avg_price = 0
        self.fees = 0
        self.venue_order_id = ""
        self.created_ns = now_ns
        self.updated_ns = now_ns
        self.last_reason = "created"
        self.message = ""
        self.fill_ids: dict[str, None] = {}  # while live, in arrival order; then to the manager's window
        self._cost = 0  # sum of price * size over fills (micro * micro): exact average

    @property
    def client_order_id(self) -> str:
        return self.intent.client_order_id

    @property
    def remaining(self) -> int:
        """Shares still to fill (micro-units); meaningful while the order is live."""
        return self.intent.size - self.filled_size

    @property
    def filled_notional(self) -> int:
        """Collateral micro-units paid (BUY) or received (SELL) for the fills, before fees."""
        return self._cost // SCALE

    @property
    def live(self) -> bool:
        return self.status.live

    @property
    def terminal(self) -> bool:
        return self.status.terminal

    def __repr__(self) -> str:
        i = self.intent
        return (
            f"Order({i.client_order_id}, {i.order_type.value} {i.side.name} {i.size}@{i.price}, "
            f"{self.status.value}, filled={self.filled_size}@{self.avg_price})"
        )


TransitionHook = Callable[[Order, OrderStatus, OrderStatus, str, int], None]
"""``on_transition(order, from_status, to_status, reason, ts_ns)``."""


class OrderManager:
    """All orders of a run, by ``client_order_id``, with their state machine.

    Queries are cheap: live orders are kept in their own tables (insertion order; all, by
    market, by strategy and market), status counts are maintained incrementally. The most
    recent ``keep_terminal`` terminal orders stay retrievable with ``get``; older ones are
    forgotten (a long run places orders without end; their rows live in the store and the
    journal), and a late report for one is treated as foreign by the kernel.
    """

    __slots__ = ("_orders", "_live", "_by_market", "_by_strategy", "_counts", "_fill_ids", "_last_order_ns",
                 "_hook", "counters", "_terminal", "_keep_terminal")

    def __init__(self, on_transition: TransitionHook | None = None, *, recent_fill_ids: int = 100_000,
                 keep_terminal: int = 20_000) -> None:
        self._orders: dict[str, Order] = {}
        self._terminal: deque[str] = deque()  # terminal order ids, oldest first
        self._keep_terminal = keep_terminal
        self._live: dict[str, Order] = {}
        self._by_market: dict[str, dict[str, Order]] = {}
        self._by_strategy: dict[tuple[str, str], dict[str, Order]] = {}
        self._counts: Counter[OrderStatus] = Counter()
        self._fill_ids = RecentIds(recent_fill_ids)
        self._last_order_ns: dict[str, int] = {}
        self._hook = on_transition
        self.counters: dict[str, int] = {"reports": 0, "fills": 0, "duplicate_fills": 0}

    # -- commands --------------------------------------------------------------------------

    def create(self, intent: OrderIntent, now_ns: int) -> Order:
        """Register a new order (PENDING). Raises ``InvariantBroken`` if the id exists."""
        coid = intent.client_order_id
        if coid in self._orders:
            raise InvariantBroken(f"duplicate client_order_id {coid!r}")
        o = Order(intent, now_ns)
        self._orders[coid] = o
        self._live[coid] = o
        self._by_market.setdefault(intent.market, {})[coid] = o
        self._by_strategy.setdefault((intent.strategy, intent.market), {})[coid] = o
        self._counts[PENDING] += 1
        self._last_order_ns[intent.asset_id] = now_ns
        return o

    def mark_submitted(self, client_order_id: str, now_ns: int) -> Order:
        """PENDING -> SUBMITTED (handed to the execution client). Raises ``InvariantBroken``
        from any other state or for an unknown id."""
        o = self._need(client_order_id)
        if o.status is not PENDING:
            raise InvariantBroken(f"submit of {client_order_id} in state {o.status.value}")
        self._move(o, SUBMITTED, "submitted", now_ns)
        return o

    def reject_local(self, client_order_id: str, reason: str, now_ns: int, message: str = "") -> Order:
        """PENDING -> REJECTED by risk or local validation (the order was never sent).
        Raises ``InvariantBroken`` from any other state or for an unknown id."""
        o = self._need(client_order_id)
        if o.status is not PENDING:
            raise InvariantBroken(f"local reject of {client_order_id} in state {o.status.value}")
        o.message = message
        self._move(o, REJECTED, reason, now_ns)
        return o

    def apply(self, report: ExecutionReport) -> Order:
        """Apply one execution report (see the module docstring for the rules); returns the
        order. Raises ``InvariantBroken`` on a report the lifecycle does not allow."""
        self.counters["reports"] += 1
        coid = report.client_order_id
        o = self._need(coid)
        if isinstance(report, Filled):
            if report.fill is None:
                raise InvariantBroken(f"Filled report without a fill for {coid}")
            fid = report.fill.fill_id
            if fid in o.fill_ids or fid in self._fill_ids:
                self.counters["duplicate_fills"] += 1
                return o
        st = o.status
        name = type(report).__name__
        if st.terminal:
            raise InvariantBroken(f"{name} for {coid} in terminal state {st.value}")
        if st is PENDING and not isinstance(report, Unknown):
            raise InvariantBroken(f"{name} for {coid}, which was never submitted")
        ts = report.ts_ns
        if isinstance(report, Filled):
            self._fill(o, report)
        elif isinstance(report, Accepted):
            if report.venue_order_id:
                o.venue_order_id = report.venue_order_id
            self._move(o, PARTIALLY_FILLED if o.filled_size else SUBMITTED, "accepted", ts)
        elif isinstance(report, Rejected):
            if o.filled_size:
                raise InvariantBroken(f"Rejected for {coid} after {o.filled_size} filled")
            o.message = report.message
            self._move(o, REJECTED, report.reason or "rejected", ts)
        elif isinstance(report, Cancelled):
            self._move(o, CANCELLED, report.reason or "cancelled", ts)
        elif isinstance(report, Expired):
            self._move(o, EXPIRED, "expired", ts)
        elif isinstance(report, Unknown):
            self._move(o, UNKNOWN, report.reason or "unknown", ts)
        else:
            raise InvariantBroken(f"unknown report type {name}")
        return o

    # -- queries ---------------------------------------------------------------------------

    def get(self, client_order_id: str) -> Order | None:
        return self._orders.get(client_order_id)

    def __len__(self) -> int:
        return len(self._orders)

    def open_orders(self, market: str | None = None, asset_id: str | None = None,
                    strategy: str | None = None) -> list[Order]:
        """Live orders (PENDING, SUBMITTED, PARTIALLY_FILLED, UNKNOWN), oldest first, optionally
        of one market (condition id), one token and/or one strategy. With ``market`` only that
        market's orders are read."""
        src: Iterable[Order]
        if market is not None:
            table = self._by_market.get(market) if strategy is None else self._by_strategy.get((strategy, market))
            if not table:
                return []
            src = table.values()
            strategy = None
        else:
            src = self._live.values()
        return [
            o for o in src
            if (asset_id is None or o.intent.asset_id == asset_id) and (strategy is None or o.intent.strategy == strategy)
        ]

    def live_count(self, strategy: str, market: str) -> int:
        """How many live orders ``strategy`` has on ``market``; O(1)."""
        table = self._by_strategy.get((strategy, market))
        return len(table) if table else 0

    def live_buy(self, strategy: str, market: str) -> bool:
        """Whether ``strategy`` has a live BUY order (an entry working) on ``market``."""
        table = self._by_strategy.get((strategy, market))
        return bool(table) and any(o.intent.side == Side.BUY for o in table.values())

    def in_flight(self, market: str | None = None) -> list[Order]:
        """Orders whose venue state is not confirmed yet or not known: PENDING, SUBMITTED,
        UNKNOWN (a SUBMITTED order may already rest: ``venue_order_id`` says it was acked),
        optionally of one market."""
        src = self._live if market is None else self._by_market.get(market, {})
        return [o for o in src.values() if o.status in _IN_FLIGHT]

    def last_order_ns(self, asset_id: str) -> int | None:
        """When the last order for ``asset_id`` was created (``None`` if never)."""
        return self._last_order_ns.get(asset_id)

    def forget_asset(self, asset_id: str) -> None:
        """The token's market left the run: drop its last-order time."""
        self._last_order_ns.pop(asset_id, None)

    def counts(self) -> dict[OrderStatus, int]:
        """Number of orders in each status (statuses with none are left out)."""
        return {s: n for s, n in self._counts.items() if n}

    def count(self, status: OrderStatus) -> int:
        return self._counts[status]

    # -- internals -------------------------------------------------------------------------

    def _need(self, client_order_id: str) -> Order:
        o = self._orders.get(client_order_id)
        if o is None:
            raise InvariantBroken(f"no order {client_order_id!r}")
        return o

    def _fill(self, o: Order, report: Filled) -> None:
        f = report.fill
        assert f is not None
        i = o.intent
        if f.client_order_id != i.client_order_id or f.asset_id != i.asset_id or f.side != i.side:
            raise InvariantBroken(f"fill {f.fill_id} does not belong to {i.client_order_id}")
        if f.size <= 0 or f.size > o.remaining:
            raise InvariantBroken(f"fill {f.fill_id} of {f.size} with {o.remaining} remaining on {i.client_order_id}")
        if (f.price > i.price) if i.side == Side.BUY else (f.price < i.price):
            raise InvariantBroken(f"fill {f.fill_id} at {f.price} beyond limit {i.price} of {i.client_order_id}")
        o.fill_ids[f.fill_id] = None
        self.counters["fills"] += 1
        o.filled_size += f.size
        o._cost += f.price * f.size
        o.avg_price = o._cost // o.filled_size
        o.fees += f.fee
        self._move(o, FILLED if o.filled_size == i.size else PARTIALLY_FILLED, "fill", report.ts_ns)

    def _move(self, o: Order, to: OrderStatus, reason: str, ts_ns: int) -> None:
        frm = o.status
        if frm is not to:
            self._counts[frm] -= 1
            self._counts[to] += 1
            o.status = to
            if to.terminal:
                self._retire(o)
        o.updated_ns = ts_ns
        o.last_reason = reason
        if self._hook is not None:
            self._hook(o, frm, to, reason, ts_ns)

    def _retire(self, o: Order) -> None:
        """A terminal order leaves the live tables; its fill ids join the bounded window."""
        i = o.intent
        coid = i.client_order_id
        self._live.pop(coid, None)
        t = self._by_market.get(i.market)
        if t is not None:
            t.pop(coid, None)
            if not t:
                del self._by_market[i.market]
        key = (i.strategy, i.market)
        ts = self._by_strategy.get(key)
        if ts is not None:
            ts.pop(coid, None)
            if not ts:
                del self._by_strategy[key]
        for fid in o.fill_ids:
            self._fill_ids.add(fid)
        o.fill_ids = {}
        done = self._terminal
        done.append(coid)
        if len(done) > self._keep_terminal:
            old = done.popleft()
            self._orders.pop(old, None)
