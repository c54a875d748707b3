"""The views the kernel hands out: ``StrategyCtx`` (a strategy's ``StrategyContext``) and
``RiskView`` (what risk checks may read for one strategy).

Both are thin, stateless windows onto one ``Kernel``: every query reads the kernel's current
state (books, markets, portfolio, position ledger, orders), and ``StrategyCtx.submit`` /
``cancel`` / ``journal`` go back through the kernel, so a strategy never touches execution,
the store or the journal directly. They hold no state of their own and are built once per
strategy (``StrategyCtx``) or per check (``RiskView``, two slots).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clobflow.book.binary import BinaryBook
from clobflow.book.book_set import TrackedBook
from clobflow.core.events import Side
from clobflow.core.markets import BinaryMarket
from clobflow.core.orders import CancelIntent, OrderIntent, OrderType
from clobflow.execution.orders import Order
from clobflow.strategies.base import Strategy

if TYPE_CHECKING:
    from clobflow.engine.kernel import Kernel


class StrategyCtx:
    """The ``StrategyContext`` the kernel gives one strategy."""

    __slots__ = ("_k", "_s", "_risk")

    def __init__(self, kernel: Kernel, strategy: Strategy) -> None:
        self._k = kernel
        self._s = strategy
        self._risk = kernel.risk[strategy.name]

    @property
    def now_ns(self) -> int:
        return self._k.clock.now_ns()

    def market(self, condition_id: str) -> BinaryMarket | None:
        return self._k.markets.get(condition_id)

    def markets(self) -> list[BinaryMarket]:
        return list(self._k.markets.values())

    def book(self, asset_id: str) -> TrackedBook | None:
        return self._k.books.get(asset_id)

    def view(self, condition_id: str) -> BinaryBook | None:
        return self._k.views.get(condition_id)

    def seconds_to_close(self, condition_id: str) -> float | None:
        m = self._k.markets.get(condition_id)
        return None if m is None else m.seconds_to_close(self._k.clock.now_ns())

    def position(self, asset_id: str):  # noqa: ANN201 - PositionView
        return self._k.portfolio.position(asset_id)

    def has_position(self, condition_id: str) -> bool:
        return self._k.has_position(self._s.name, condition_id)

    def open_position_count(self) -> int:
        return self._k.open_position_count(self._s.name)

    def open_orders(self, condition_id: str | None = None) -> list[Order]:
        return self._k.orders.open_orders(market=condition_id, strategy=self._s.name)

    def can_trade(self) -> bool:
        r = self._risk
        return r.gate_open or r.can_trade(self._k.clock.now_ns())

    def entry_room(self, condition_id: str) -> int:
        return self._k.risk[self._s.name].entry_room(RiskView(self._k, self._s.name), condition_id)

    def held(self, condition_id: str) -> int:
        return self._k.positions.held(self._s.name, condition_id)

    def latency_ns(self) -> int:
        return self._k.latency_ns()

    def submit(self, *, market: str, asset_id: str, side: Side, price: int, size: int, order_type: OrderType,
               reason: str, signal_ns: int, post_only: bool = False, expire_at_ns: int | None = None,
               inputs: dict[str, Any] | None = None) -> OrderIntent | None:
        return self._k.submit(self._s, {
            "market": market, "asset_id": asset_id, "side": side, "price": price, "size": size,
            "order_type": order_type, "signal_ns": signal_ns, "post_only": post_only,
            "expire_at_ns": expire_at_ns, "reason": reason}, inputs)

    def cancel(self, client_order_id: str, reason: str) -> None:
        self._k.cancel(self._s, CancelIntent(client_order_id, reason))

    def journal(self, action: str, reason: str, *, passed: bool, market: str = "", asset_id: str = "",
                inputs: dict[str, Any] | None = None) -> None:
        if action == "signal" and asset_id:  # a signal says which book it read, and its trust
            inputs = {**(inputs or {}), **self._k.book_trust(asset_id)}
        self._k.journal.record(self._k.clock.now_ns(), self._s.name, action, reason, passed=passed,
                               market=market, asset_id=asset_id, inputs=inputs)


class RiskView:
    """What the risk checks may read, for one strategy."""

    __slots__ = ("_k", "_s")

    def __init__(self, kernel: Kernel, strategy: str) -> None:
        self._k = kernel
        self._s = strategy

    def book(self, asset_id: str) -> TrackedBook | None:
        return self._k.books.get(asset_id)

    def market(self, condition_id: str) -> BinaryMarket | None:
        return self._k.markets.get(condition_id)

    def open_position_count(self) -> int:
        return self._k.open_position_count(self._s)

    def has_position(self, market: str) -> bool:
        return self._k.positions.has_position(self._s, market)

    def entry_count(self, market: str) -> int:
        return self._k.positions.entry_count(self._s, market)

    def market_exposure(self, market: str) -> int:
        m = self._k.markets.get(market)
        return 0 if m is None else self._k.portfolio.exposure(m)

    def total_exposure(self) -> int:
        return self._k.portfolio.total_exposure()

    def last_entry_ns(self, market: str) -> int | None:
        return self._k.risk[self._s].last_entry_ns(market)

    def last_order_ns(self, asset_id: str) -> int | None:
        return self._k.orders.last_order_ns(asset_id)

    def in_flight(self, market: str) -> int:
        return self._k.orders.live_count(self._s, market)
