"""What each strategy holds, per market: the kernel's record of positions (no policy).

``PositionLedger`` keeps, per (strategy, market): the shares held by this strategy's fills
(both outcome tokens together), how many entries (BUY orders) it sent since the position opened,
and the store's position row. It answers the questions risk and strategies ask
(``has_position``, ``open_position_count``, ``entry_count``); *whether* a second entry or a
second position is allowed is risk's decision (``RiskConfig.one_position_per_market``,
``max_adds``, ``max_positions``) or the strategy's.

A market is *taken* by a strategy while it holds shares there or has a BUY order working there
(an entry in flight counts, so two quick signals cannot both enter). It is released when both
are gone: an entry that never filled, an exit that sold everything, a settlement.

Store rows follow holdings: a row is opened (synchronously: the store's unique index says
whether another process holds the same strategy/market/mode) by the fill that makes the holding
non-zero, updated (queued) by every fill, closed ``exited`` when a sell brings it back to zero and
``settled`` at resolution. A close (synchronous) writes the final size and cost in its own
statement, so the queued updates, whenever the writer thread gets to them, cannot change a closed
row: its contents do not depend on thread timing. Nothing is written to the store between a decision and its order.
"""

from __future__ import annotations

from clobflow.core.events import Side
from clobflow.core.markets import BinaryMarket
from clobflow.engine.recording import RunRecorder
from clobflow.execution.orders import OrderManager
from clobflow.observe.journal import Journal
from clobflow.portfolio.portfolio import Portfolio


class PositionLedger:
    """Per-strategy holdings and store rows (see the module docstring)."""

    __slots__ = ("orders", "portfolio", "journal", "recorder", "_held", "_entries", "_taken", "_rows")

    def __init__(self, strategies: list[str], orders: OrderManager, portfolio: Portfolio, journal: Journal,
                 recorder: RunRecorder | None) -> None:
        self.orders = orders
        self.portfolio = portfolio
        self.journal = journal
        self.recorder = recorder
        self._held: dict[tuple[str, str], int] = {}  # shares held by the strategy on the market
        self._entries: dict[tuple[str, str], int] = {}  # BUYs sent since the position opened
        self._taken: dict[str, set[str]] = {s: set() for s in strategies}
        self._rows: dict[tuple[str, str], int] = {}

    # -- queries ---------------------------------------------------------------------------

    def has_position(self, strategy: str, market: str) -> bool:
        """Held, or an entry working (see the module docstring)."""
        return market in self._taken.get(strategy, ())

    def open_position_count(self, strategy: str) -> int:
        return len(self._taken.get(strategy, ()))

    def entry_count(self, strategy: str, market: str) -> int:
        return self._entries.get((strategy, market), 0)

    def held(self, strategy: str, market: str) -> int:
        return self._held.get((strategy, market), 0)

    def holders(self, market: str) -> list[str]:
        """Strategies that hold the market or have an entry working there."""
        return [s for s, taken in self._taken.items() if market in taken]

    # -- events ----------------------------------------------------------------------------

    def entry_sent(self, strategy: str, market: str) -> None:
        """A BUY order went out on ``market``."""
        self._taken[strategy].add(market)
        key = (strategy, market)
        self._entries[key] = self._entries.get(key, 0) + 1

    def adopt(self, strategy: str, market: str, size: int, row_id: int) -> None:
        """A position an earlier run left open (already restored into the portfolio)."""
        key = (strategy, market)
        self._held[key] = self._held.get(key, 0) + size
        self._entries[key] = self._entries.get(key, 0) + 1
        self._taken[strategy].add(market)
        self._rows[key] = row_id

    def fill(self, strategy: str, m: BinaryMarket | None, market: str, asset_id: str, side: Side, size: int,
             now: int) -> None:
        """One of the strategy's fills (already applied to the portfolio)."""
        key = (strategy, market)
        before = self._held.get(key, 0)
        after = before + size if side == Side.BUY else max(0, before - size)
        self._held[key] = after
        rec = self.recorder
        if rec is not None and m is not None:
            row = self._rows.get(key)
            if row is None and after > 0:
                row = rec.open_position(strategy, market, asset_id, now)
                if row is None:
                    # Another process holds an open row for this strategy/market/mode: the fill is
                    # real (and recorded as a fill); the row stays theirs.
                    self.journal.record(now, strategy, "position_conflict", "position_exists_store", passed=False,
                                        market=market, asset_id=asset_id, inputs={"held": after})
                else:
                    self._rows[key] = row
            if row is not None:
                s = self.portfolio.summary(m)
                fees = s.fees if s is not None else 0
                size, cost = self.portfolio.market_size(m), self.portfolio.exposure(m)
                if after > 0:
                    rec.position_update(row, size=size, cost=cost, fees=fees)
                else:
                    # the close carries the final holdings itself: an update still queued for
                    # this row must not decide what the closed row shows
                    del self._rows[key]
                    rec.close_position(row, now, s.realized if s is not None else 0, fees, "exited",
                                       size=size, cost=cost)
        if after == 0:
            self.release(strategy, market)

    def release(self, strategy: str, market: str) -> None:
        """Forget the market for the strategy unless it still holds shares or has an entry working."""
        key = (strategy, market)
        if self._held.get(key, 0) > 0 or self.orders.live_buy(strategy, market):
            return
        self._taken[strategy].discard(market)
        self._entries.pop(key, None)
        self._held.pop(key, None)

    def settled(self, strategy: str, market: str) -> int | None:
        """The market resolved: the strategy holds nothing there any more. Returns its store row
        (to close), if any."""
        key = (strategy, market)
        self._held.pop(key, None)
        self._entries.pop(key, None)
        self._taken[strategy].discard(market)
        return self._rows.pop(key, None)
