"""The strategy API: one small surface, the same in backtest, paper, shadow and live.

A strategy gets seven handlers and a ``StrategyContext``. It reads books, markets, positions and
orders from the context and expresses intents through ``ctx.submit``/``ctx.cancel``; it never
talks to a venue, never awaits and never reads a clock of its own (``ctx.now_ns``). Handlers are
called synchronously on the engine's single thread, right after the event that caused them.

Every evaluation worth explaining goes to ``ctx.journal`` with a reason code, passed or not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from clobflow.book.binary import BinaryBook
from clobflow.book.book_set import TrackedBook
from clobflow.core.events import Side, Trade
from clobflow.core.markets import BinaryMarket
from clobflow.core.orders import ExecutionReport, OrderIntent, OrderType


class PositionView(Protocol):
    asset_id: str
    size: int
    cost: int


class OrderView(Protocol):
    intent: OrderIntent
    filled_size: int


class StrategyContext(Protocol):
    """What a strategy may see and do. Units: micro-units and ns, like everything else."""

    @property
    def now_ns(self) -> int: ...

    def market(self, condition_id: str) -> BinaryMarket | None: ...

    def markets(self) -> list[BinaryMarket]: ...

    def book(self, asset_id: str) -> TrackedBook | None:
        """The token's book with its trust state (``.book``, ``.state``, ``.reason``)."""

    def view(self, condition_id: str) -> BinaryBook | None:
        """Both books of a binary market."""

    def seconds_to_close(self, condition_id: str) -> float | None: ...

    def position(self, asset_id: str) -> PositionView | None: ...

    def has_position(self, condition_id: str) -> bool:
        """An open position, an entry in flight, or an open position row in the store."""

    def open_position_count(self) -> int: ...

    def open_orders(self, condition_id: str | None = None) -> list[OrderView]: ...

    def submit(
        self,
        *,
        market: str,
        asset_id: str,
        side: Side,
        price: int,
        size: int,
        order_type: OrderType,
        reason: str,
        signal_ns: int,
        post_only: bool = False,
        expire_at_ns: int | None = None,
        inputs: dict[str, Any] | None = None,
    ) -> OrderIntent | None:
        """Ask for an order. Risk checks it at once; returns the intent if it went to execution,
        ``None`` if risk (or the store's one-open-position rule) refused it. Both outcomes are
        journaled with their reason code."""

    def cancel(self, client_order_id: str, reason: str) -> None: ...

    def can_trade(self) -> bool:
        """The risk layer's O(1) gate for this strategy: kill switch not tripped and circuit
        breaker closed (``RiskEngine.can_trade``)."""

    def journal(
        self,
        action: str,
        reason: str,
        *,
        passed: bool,
        market: str = "",
        asset_id: str = "",
        inputs: dict[str, Any] | None = None,
    ) -> None:
        """Record a decision (or a skipped one) with a stable reason code."""


class Strategy:
    """Base class: override the handlers you need. ``name`` identifies the strategy in the
    journal, the store and the report."""

    name = "strategy"

    def on_start(self, ctx: StrategyContext) -> None:
        """Called once before the first event."""

    def on_book(self, ctx: StrategyContext, market: BinaryMarket, asset_id: str) -> None:
        """A token's book changed (snapshot or levels); both books of ``market`` are current."""

    def on_trade(self, ctx: StrategyContext, trade: Trade) -> None:
        """A public trade print."""

    def on_order_event(self, ctx: StrategyContext, order: OrderView, report: ExecutionReport) -> None:
        """One of this strategy's orders changed (accepted, filled, cancelled, rejected...)."""

    def on_timer(self, ctx: StrategyContext, now_ns: int) -> None:
        """Periodic tick (engine ``timer_interval_s``), in engine time."""

    def on_resolved(self, ctx: StrategyContext, market: BinaryMarket, winning_asset_id: str) -> None:
        """``market`` resolved (``winning_asset_id`` pays 1); positions are already settled."""

    def on_stop(self, ctx: StrategyContext) -> None:
        """Called once after the last event."""

    def attach_run(self, out_dir: Path, mode: str) -> None:
        """The run's folder (journal, report) and mode (``backtest``/``paper``/``shadow``/
        ``live``): a strategy with files of its own (e.g. a decision log) writes them there.
        Called once before ``on_start`` when the run has a folder."""
