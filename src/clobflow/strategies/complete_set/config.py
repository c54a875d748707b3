"""The complete-set bot's configuration: one strategy section, ``kind: complete_set``.

Human units in the file (fractions of 1 for prices and margins, shares, dollars, seconds), exact
integers in the strategy (``Limits``, built once). Every value is checked at load; a bad one
stops start-up with its key named (``strategies[0].margin_late: ...``).

```yaml
strategies:
  - kind: complete_set
    name: complete_set
    margin_early: 0.025      # required pair margin with > early_above_s left
    margin_mid: 0.015
    margin_late: 0.005       # with < late_below_s left
    hard_stop_s: 30          # no new exposure with less than this left
    quote_size: 10           # shares per bid (equal on both legs)
    quote_offset_ticks: 0    # bid this many ticks below the best bid (0 = join it)
```
"""

from __future__ import annotations

from typing import Any

import msgspec

from clobflow.core.clock import s_to_ns
from clobflow.core.configs import is_finite_number
from clobflow.core.errors import ConfigError
from clobflow.core.numbers import SCALE, micros_from_number
from clobflow.strategies.complete_set.detector import DetectorConfig
from clobflow.strategies.complete_set.toxic import ToxicConfig


class CompleteSetConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="kind",
                        tag="complete_set"):
    """Keys of the pair-accumulation bot. Prices/margins: fractions of 1; sizes: shares;
    money: dollars; times: seconds."""

    name: str = "complete_set"
    enabled: bool = True
    live: bool = False
    # -- which markets (discovery and the strategy's own filter) --
    categories: tuple[str, ...] = ("crypto",)
    slug_contains: str = "-updown-15m-"
    max_hours_to_close: float = 1.0
    min_minutes_to_close: float = 0.0
    # -- required margin by time left, hard stop --
    margin_early: float = 0.025
    margin_mid: float = 0.015
    margin_late: float = 0.005
    early_above_s: float = 600.0
    late_below_s: float = 180.0
    hard_stop_s: float = 30.0
    # -- quoting --
    quote_size: float = 10.0
    quote_offset_ticks: int = 0
    requote_threshold_ticks: int = 1
    requote_min_interval_s: float = 1.0
    lean_ticks: int = 1
    taker_second_leg: bool = True
    # -- chasing the lagging leg --
    chase_step_ticks: int = 1
    chase_interval_s: float = 2.0
    chase_max_s: float = 90.0
    # -- inventory and leg risk --
    balanced_shares: float = 5.0
    skew_shares: float = 30.0
    max_side_shares: float = 200.0
    unwind_before_s: float = 30.0
    crisis_unmatched_usd: float = 25.0
    # -- risk for this bot (on the engine's risk layer) --
    max_markets: int = 4
    max_market_exposure_usd: float = 150.0
    max_total_exposure_usd: float = 400.0
    max_daily_loss_usd: float | None = 100.0
    max_price_deviation: float = 0.5
    toxic_shrink_at: int = 1
    toxic_pull_at: int = 2
    toxic: ToxicConfig = msgspec.field(default_factory=ToxicConfig)
    # -- taker detection (a complete set bought at the asks) --
    detect_size: float = 10.0            # sets (shares) to walk the books for
    detect_min_margin: float = 0.0       # net margin per set after fees to report a hit
    detect_max_leg_skew_ms: float = 1000.0
    detect_mirror_tolerance: float = 0.0
    # -- decision log --
    decision_log_capacity: int = 65_536
    review_tolerance: float = 0.005

    def __post_init__(self) -> None:
        def need(cond: bool, key: str, msg: str) -> None:
            if not cond:
                raise ConfigError(key, msg)

        for key in ("margin_early", "margin_mid", "margin_late"):
            v = getattr(self, key)
            need(is_finite_number(v) and 0 <= v < 0.5, key, f"must be a margin in [0, 0.5), got {v!r}")
        need(self.margin_early >= self.margin_mid >= self.margin_late, "margin_mid",
             "need margin_early >= margin_mid >= margin_late (the margin relaxes as the window ends)")
        for key in ("early_above_s", "late_below_s", "hard_stop_s", "requote_min_interval_s", "chase_interval_s",
                    "chase_max_s", "unwind_before_s", "max_hours_to_close", "min_minutes_to_close"):
            v = getattr(self, key)
            need(is_finite_number(v) and v >= 0, key, f"must be a number >= 0, got {v!r}")
        need(self.early_above_s > self.late_below_s > self.hard_stop_s, "late_below_s",
             "need early_above_s > late_below_s > hard_stop_s")
        need(self.chase_interval_s > 0, "chase_interval_s", "must be > 0")
        for key in ("quote_size", "balanced_shares", "skew_shares", "max_side_shares", "crisis_unmatched_usd",
                    "max_market_exposure_usd", "max_total_exposure_usd"):
            v = getattr(self, key)
            need(is_finite_number(v) and v > 0, key, f"must be a number > 0, got {v!r}")
        need(self.balanced_shares < self.skew_shares, "skew_shares", "must exceed balanced_shares")
        need(self.quote_size <= self.max_side_shares, "quote_size", "must not exceed max_side_shares")
        for key in ("quote_offset_ticks", "lean_ticks", "max_markets", "decision_log_capacity"):
            v = getattr(self, key)
            need(isinstance(v, int) and not isinstance(v, bool) and v >= 0, key, f"must be an integer >= 0, got {v!r}")
        for key in ("requote_threshold_ticks", "chase_step_ticks", "max_markets", "decision_log_capacity"):
            need(getattr(self, key) >= 1, key, "must be >= 1")
        need(self.max_daily_loss_usd is None or (is_finite_number(self.max_daily_loss_usd) and self.max_daily_loss_usd > 0),
             "max_daily_loss_usd", "must be > 0 or null")
        need(is_finite_number(self.max_price_deviation) and 0 < self.max_price_deviation <= 1, "max_price_deviation",
             "must be in (0, 1]")
        need(0 <= self.toxic_shrink_at <= self.toxic_pull_at <= 3, "toxic_pull_at",
             "need 0 <= toxic_shrink_at <= toxic_pull_at <= 3")
        need(is_finite_number(self.review_tolerance) and 0 <= self.review_tolerance < 1, "review_tolerance", "must be in [0, 1)")
        need(bool(self.slug_contains), "slug_contains", "must not be empty")
        need(is_finite_number(self.detect_size) and self.detect_size > 0, "detect_size", "must be > 0")
        need(is_finite_number(self.detect_min_margin) and 0 <= self.detect_min_margin < 1, "detect_min_margin", "must be in [0, 1)")
        need(is_finite_number(self.detect_max_leg_skew_ms) and self.detect_max_leg_skew_ms >= 0, "detect_max_leg_skew_ms",
             "must be >= 0")
        need(is_finite_number(self.detect_mirror_tolerance) and 0 <= self.detect_mirror_tolerance < 1,
             "detect_mirror_tolerance", "must be in [0, 1)")

    def detector_config(self) -> DetectorConfig:
        """The taker detector's thresholds in micro-units and ns."""
        return DetectorConfig(target_size=micros_from_number(self.detect_size),
                              min_margin=micros_from_number(self.detect_min_margin),
                              max_leg_skew_ns=s_to_ns(self.detect_max_leg_skew_ms / 1000),
                              mirror_tolerance=micros_from_number(self.detect_mirror_tolerance))

    def risk_limits(self, shared: Any) -> dict[str, Any]:
        """This bot's ``RiskConfig`` keys on the engine's risk layer, from the shared ``risk``
        section. Quoting both tokens needs several live orders per market and instant
        re-quotes, so cooldown and the recent-order window are off; hard stop and margins are
        enforced by the strategy (an unwind *buy* in the last seconds reduces risk, so the
        engine's time-to-close check must not refuse it)."""
        return {
            "max_positions": self.max_markets,
            "one_position_per_market": False,
            "max_market_exposure_usd": self.max_market_exposure_usd,
            "max_total_exposure_usd": self.max_total_exposure_usd,
            "cooldown_s": 0.0,
            "min_seconds_to_close": 0.0,
            "max_signal_age_s": 5.0,
            "max_price_deviation": self.max_price_deviation,
            "max_spread": 1.0,
            "max_fee_rate_bps": 10_000,
            "recent_order_window_s": 0.0,
            "require_trusted_book": shared.require_trusted_book,
            "breaker_max_failures": shared.breaker_max_failures,
            "breaker_cooloff_s": shared.breaker_cooloff_s,
            "max_drawdown_usd": shared.max_drawdown_usd,
            "max_daily_loss_usd": self.max_daily_loss_usd if self.max_daily_loss_usd is not None
            else shared.max_daily_loss_usd,
            "max_live_orders_per_market": 6,
        }


class Limits:
    """``CompleteSetConfig`` as exact integers (micro-units, ns), computed once."""

    __slots__ = ("margin_early", "margin_mid", "margin_late", "early_above_ns", "late_below_ns", "hard_stop_ns",
                 "quote_size", "balanced", "skew", "max_side", "unwind_before_ns", "crisis_unmatched",
                 "requote_ns", "chase_interval_ns", "chase_max_ns", "review_tolerance_ppm")

    def __init__(self, c: CompleteSetConfig) -> None:
        self.margin_early = micros_from_number(c.margin_early)
        self.margin_mid = micros_from_number(c.margin_mid)
        self.margin_late = micros_from_number(c.margin_late)
        self.early_above_ns = s_to_ns(c.early_above_s)
        self.late_below_ns = s_to_ns(c.late_below_s)
        self.hard_stop_ns = s_to_ns(c.hard_stop_s)
        self.quote_size = _whole_shares(c.quote_size)
        self.balanced = micros_from_number(c.balanced_shares)
        self.skew = micros_from_number(c.skew_shares)
        self.max_side = micros_from_number(c.max_side_shares)
        self.unwind_before_ns = s_to_ns(c.unwind_before_s)
        self.crisis_unmatched = micros_from_number(c.crisis_unmatched_usd)
        self.requote_ns = s_to_ns(c.requote_min_interval_s)
        self.chase_interval_ns = s_to_ns(c.chase_interval_s)
        self.chase_max_ns = s_to_ns(c.chase_max_s)
        self.review_tolerance_ppm = micros_from_number(c.review_tolerance)


def _whole_shares(v: float) -> int:
    """Shares -> micro-units, rounded down to whole shares (orders are placed in whole shares)."""
    return int(v) * SCALE
