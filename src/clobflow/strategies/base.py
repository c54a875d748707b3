"""The strategy API: one small surface, the same in backtest, paper, shadow and live.

A strategy gets handlers (no-op defaults: override what you need) and a ``StrategyContext``. It
reads books, markets, positions and orders from the context and expresses intents through
``ctx.submit``/``ctx.cancel``; it never talks to a venue, never awaits, never reads a clock of
its own (``ctx.now_ns``; a wall-clock delay, if it wants one, is ``ctx.latency_ns()``) and never
asks which mode it runs in (``RunInfo`` says what its files must be). Handlers are called
synchronously on the engine's single thread, right after the event that caused them.

Events reach handlers through the kernel's one typed dispatch. ``STRATEGY_EVENTS`` names the
handler of each event type a strategy may receive; a new event type is a new entry here and a
new no-op handler below, and the kernel forwards it unchanged.

Trading halts: ``ctx.can_trade()`` is False while the kill switch or the circuit breaker blocks
the strategy. A strategy then sends no new entries (exits that reduce risk stay allowed); the
kernel journals one ``halted`` line, not a reject per attempt.

Every evaluation worth explaining goes to ``ctx.journal`` with a reason code, passed or not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import msgspec

from clobflow.book.binary import BinaryBook
from clobflow.book.book_set import TrackedBook
from clobflow.core.events import Side, Trade, WalletTrade
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
        """This strategy holds shares on the market (its own fills, or a position adopted from an
        earlier run) or has an entry (a BUY) working there."""

    def open_position_count(self) -> int: ...

    def open_orders(self, condition_id: str | None = None) -> list[OrderView]: ...

    def held(self, condition_id: str) -> int:
        """Shares this strategy holds on the market (both tokens; 0 when flat)."""

    def entry_room(self, condition_id: str) -> int:
        """Notional (collateral micro-units) an entry on the market may still add before the
        risk layer's market or total exposure limit refuses it. Size or skip with it."""

    def latency_ns(self) -> int:
        """Wall-clock ns since the kernel took the event being handled (a measurement for a
        latency output only: never put it in files that must be byte-identical)."""

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
        ``None`` if risk refused it. Both outcomes are journaled with their reason code."""

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


class RunInfo(msgspec.Struct, frozen=True):
    """What a strategy with files of its own needs to know about the run (``attach_run``).

    - ``out_dir``: the run's folder.
    - ``reproducible``: a rerun must give byte-identical files (a backtest): capture everything
      (wait rather than drop) and write no wall-clock values into them.
    """

    out_dir: Path
    reproducible: bool = True


STRATEGY_EVENTS: dict[type, str] = {Trade: "on_trade", WalletTrade: "on_wallet_trade"}
"""Event type -> the ``Strategy`` handler that receives it, ``handler(ctx, event)``. (Books,
order reports, timers and resolutions have handlers with richer signatures, called by the
kernel.)"""


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

    def on_wallet_trade(self, ctx: StrategyContext, trade: WalletTrade) -> None:
        """A watched wallet traded (copy trading, whale watching)."""

    def on_order_event(self, ctx: StrategyContext, order: OrderView, report: ExecutionReport) -> None:
        """One of this strategy's orders changed (accepted, filled, cancelled, rejected...)."""

    def on_timer(self, ctx: StrategyContext, now_ns: int) -> None:
        """Periodic tick (engine ``timer_interval_s``), in engine time."""

    def on_resolved(self, ctx: StrategyContext, market: BinaryMarket, winning_asset_id: str) -> None:
        """``market`` resolved (``winning_asset_id`` pays 1); positions are already settled."""

    def on_stop(self, ctx: StrategyContext) -> None:
        """Called once after the last event."""

    def forget_market(self, market: str) -> None:
        """The run stopped following ``market`` (condition id): it ended, nothing of this run is
        held or working there. Drop whatever is kept per market (a long run sees thousands)."""

    def attach_run(self, run: RunInfo) -> None:
        """The run's folder and what its files must be (``RunInfo``): a strategy with files of
        its own (e.g. a decision log) writes them there. Called once before ``on_start`` when the
        run has a folder."""
