"""Streaming order-book imbalance: enter on a lopsided top of book, hold to resolution.

On every book update of a followed binary market (either token) the strategy reads the YES
book's top-5 imbalance ``(bid depth − ask depth) / total`` and signals when all filters pass:

| filter | reason code when it fails |
|---|---|
| both books trusted and two-sided | ``book_not_ready`` |
| ``|imbalance| >= min_imbalance`` | ``imbalance_below_min`` |
| YES mid in ``[yes_price_min, yes_price_max]`` | ``mid_outside_zone`` |
| YES spread ``<= max_spread`` | ``spread_too_wide`` |
| no position (or entry in flight) in the market | ``position_exists`` |
| open positions ``< max_positions`` | ``max_positions`` |
| market not in its cooldown since our last entry | ``cooldown`` |
| time to close ``>= min_minutes_to_close`` | ``too_close_to_close`` |

Bid-heavy (imbalance > 0) → buy YES at the YES best ask; ask-heavy → buy NO at the NO best
ask (= 1 − YES best bid in a consistent book). Size: ``fixed_size_usd`` of notional, in whole
shares at that price (at least the market's minimum size). The order is a FAK at the ask so it
never rests; the engine's risk layer then applies the safety checks (signal age, price
deviation, spread, fee rate, duplicate position in memory and in the store, recent order on
the token). Every evaluation is journaled with the reason it passed or failed.

While ``ctx.can_trade()`` is False (kill switch tripped, breaker open) the strategy does not
evaluate at all: the kernel's one ``halted`` line says why, and no order is sent to be refused.
The one-position-per-market rule is the risk layer's (``one_position_per_market: true`` in
``risk_limits``); the strategy reads ``ctx.has_position`` only to journal the skip early.
"""

from __future__ import annotations

from typing import Any

import msgspec

from clobflow.core.errors import ConfigError
from clobflow.core.events import Side
from clobflow.core.markets import BinaryMarket
from clobflow.core.numbers import SCALE, micros_from_number
from clobflow.core.orders import ExecutionReport, OrderType
from clobflow.strategies.base import OrderView, Strategy, StrategyContext


class ImbalanceConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="kind", tag="imbalance"):
    """The seed plan's keys (units in names; fractions of 1 for prices, dollars for sizes)."""

    name: str = "imbalance"
    enabled: bool = True
    live: bool = False
    min_imbalance: float = 0.5
    yes_price_min: float = 0.30
    yes_price_max: float = 0.70
    max_spread: float = 0.02
    depth_levels: int = 5
    categories: tuple[str, ...] = ("crypto",)
    max_hours_to_close: float = 4.0
    min_minutes_to_close: float = 2.0
    max_positions: int = 5
    fixed_size_usd: float = 10.0
    cooldown_minutes: float = 60.0
    max_signal_age_seconds: float = 5.0
    max_price_deviation: float = 0.03
    max_fee_rate_bps: int = 200

    def __post_init__(self) -> None:
        def need(cond: bool, key: str, msg: str) -> None:
            if not cond:
                raise ConfigError(key, msg)

        need(0 < self.min_imbalance <= 1, "min_imbalance", f"must be in (0, 1], got {self.min_imbalance}")
        need(0 < self.yes_price_min < self.yes_price_max < 1, "yes_price_min",
             f"need 0 < yes_price_min < yes_price_max < 1, got {self.yes_price_min}, {self.yes_price_max}")
        need(0 < self.max_spread < 1, "max_spread", f"must be in (0, 1), got {self.max_spread}")
        need(1 <= self.depth_levels <= 50, "depth_levels", f"must be 1..50, got {self.depth_levels}")
        need(self.max_hours_to_close > 0, "max_hours_to_close", "must be > 0")
        need(self.min_minutes_to_close >= 0, "min_minutes_to_close", "must be >= 0")
        need(self.min_minutes_to_close < self.max_hours_to_close * 60, "min_minutes_to_close",
             "must be below max_hours_to_close")
        need(self.max_positions >= 1, "max_positions", "must be >= 1")
        need(self.fixed_size_usd > 0, "fixed_size_usd", "must be > 0")
        need(self.cooldown_minutes >= 0, "cooldown_minutes", "must be >= 0")
        need(self.max_signal_age_seconds > 0, "max_signal_age_seconds", "must be > 0")
        need(0 < self.max_price_deviation < 1, "max_price_deviation", "must be in (0, 1)")
        need(self.max_fee_rate_bps >= 0, "max_fee_rate_bps", "must be >= 0")

    def risk_limits(self, shared: Any) -> dict[str, Any]:
        """``RiskConfig`` keys: the shared ``risk`` section plus this strategy's safety keys
        (one position per market, a cooldown, a minimum time to close...)."""
        r = shared
        return {
            "max_positions": self.max_positions,
            "one_position_per_market": True,
            "max_market_exposure_usd": r.max_market_exposure_usd,
            "max_total_exposure_usd": r.max_total_exposure_usd,
            "cooldown_s": self.cooldown_minutes * 60,
            "min_seconds_to_close": self.min_minutes_to_close * 60,
            "max_signal_age_s": self.max_signal_age_seconds,
            "max_price_deviation": self.max_price_deviation,
            "max_spread": self.max_spread,
            "max_fee_rate_bps": self.max_fee_rate_bps,
            "recent_order_window_s": r.recent_order_window_s,
            "require_trusted_book": r.require_trusted_book,
            "breaker_max_failures": r.breaker_max_failures,
            "breaker_cooloff_s": r.breaker_cooloff_s,
            "max_drawdown_usd": r.max_drawdown_usd,
            "max_daily_loss_usd": r.max_daily_loss_usd,
        }


class ImbalanceStrategy(Strategy):
    """The streaming book-imbalance executor. Deterministic: same events, same decisions."""

    def __init__(self, config: ImbalanceConfig) -> None:
        self.config = config
        self.name = config.name
        c = config
        self._min_imb = c.min_imbalance
        self._zone = (micros_from_number(c.yes_price_min), micros_from_number(c.yes_price_max))
        self._max_spread = micros_from_number(c.max_spread)
        self._notional = micros_from_number(c.fixed_size_usd)
        self._cooldown_ns = int(c.cooldown_minutes * 60 * 1e9)
        self._min_close_s = c.min_minutes_to_close * 60
        self._levels = c.depth_levels
        self.last_entry_ns: dict[str, int] = {}
        self.evaluations = 0
        self.signals = 0

    def on_book(self, ctx: StrategyContext, market: BinaryMarket, asset_id: str) -> None:
        if not ctx.can_trade():
            return
        self.evaluations += 1
        cid = market.condition_id
        view = ctx.view(cid)
        ty = ctx.book(market.yes.token_id)
        tn = ctx.book(market.no.token_id)
        now = ctx.now_ns
        if view is None or ty is None or tn is None or not ty.tradeable or not tn.tradeable:
            # not tradeable: not trusted, or a venue check of its top is still pending
            return self._skip(ctx, cid, "book_not_ready", {
                "yes_trust": (ty.hold_reason or ty.reason) if ty is not None else "missing",
                "no_trust": (tn.hold_reason or tn.reason) if tn is not None else "missing"})
        yes = view.yes
        bb, ba = yes.best_bid(), yes.best_ask()
        nb, na = view.no.best_bid(), view.no.best_ask()
        if bb is None or ba is None or na is None:
            return self._skip(ctx, cid, "book_not_ready", {"yes_bid": bb, "yes_ask": ba, "no_ask": na})
        imb = yes.imbalance(self._levels)
        mid = (bb + ba) // 2
        spread = ba - bb
        inputs: dict[str, Any] = {"imbalance": imb, "yes_bid": bb, "yes_ask": ba, "no_bid": nb, "no_ask": na,
                                  "mid": mid, "spread": spread}
        if imb is None or abs(imb) < self._min_imb:
            return self._skip(ctx, cid, "imbalance_below_min", inputs)
        if not self._zone[0] <= mid <= self._zone[1]:
            return self._skip(ctx, cid, "mid_outside_zone", inputs)
        if spread > self._max_spread:
            return self._skip(ctx, cid, "spread_too_wide", inputs)
        if ctx.has_position(cid):
            return self._skip(ctx, cid, "position_exists", inputs)
        if ctx.open_position_count() >= self.config.max_positions:
            return self._skip(ctx, cid, "max_positions", inputs)
        last = self.last_entry_ns.get(cid)
        if last is not None and now - last < self._cooldown_ns:
            return self._skip(ctx, cid, "cooldown", inputs)
        left = ctx.seconds_to_close(cid)
        inputs["seconds_to_close"] = left
        if left is None or left < self._min_close_s:
            return self._skip(ctx, cid, "too_close_to_close", inputs)
        if imb > 0:
            token, price, side_name = market.yes.token_id, ba, "buy_yes"
        else:
            token, price, side_name = market.no.token_id, na, "buy_no"
        size = self._size_at(price, market)
        inputs.update({"signal": side_name, "price": price, "size": size})
        self.signals += 1
        ctx.journal("signal", side_name, passed=True, market=cid, asset_id=token, inputs=inputs)
        intent = ctx.submit(
            market=cid, asset_id=token, side=Side.BUY, price=price, size=size,
            order_type=OrderType.FAK, reason=side_name, signal_ns=now, inputs=inputs,
        )
        if intent is not None:
            self.last_entry_ns[cid] = now

    def forget_market(self, market: str) -> None:
        self.last_entry_ns.pop(market, None)

    def on_order_event(self, ctx: StrategyContext, order: OrderView, report: ExecutionReport) -> None:
        # An entry that never filled releases the market for a later signal (no cooldown).
        if order.filled_size == 0 and type(report).__name__ in ("Rejected", "Cancelled", "Expired"):
            cid = order.intent.market
            if self.last_entry_ns.get(cid) == order.intent.signal_ns:
                del self.last_entry_ns[cid]

    def _size_at(self, price: int, market: BinaryMarket) -> int:
        """Whole shares worth ``fixed_size_usd`` at ``price``, at least the minimum order size."""
        shares = (self._notional // price) * SCALE if price > 0 else 0
        return max(shares, market.min_order_size)

    def _skip(self, ctx: StrategyContext, cid: str, reason: str, inputs: dict[str, Any]) -> None:
        ctx.journal("skip", reason, passed=False, market=cid, inputs=inputs)
