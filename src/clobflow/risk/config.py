"""Risk configuration: one frozen, validated section (DESIGN §3.9).

Units are in the names. Human units in config, exact integers in the engine:

- ``*_usd``: dollars of collateral (int or float); the engine uses the micro-unit properties
  (``max_market_exposure`` ...), converted exactly with ``micros_from_number`` (half-even to the
  nearest micro-unit, so ``0.1`` is exactly ``100_000``).
- ``*_s``: seconds (int or float); the engine uses the ``*_ns`` properties.
- ``max_spread``: a price difference in dollars per share (``0.02`` = 2 cents = ``20_000``
  micro-units).
- ``max_price_deviation``: a fraction of the reference price (``0.03`` = 3 %), used as integer
  parts per million (``max_price_deviation_ppm``).
- ``max_fee_rate_bps``: basis points of notional (int).

Every value is checked in ``__post_init__`` (direct construction does not type-check a msgspec
Struct, so the types are checked there too); ``from_mapping`` additionally refuses unknown keys
and prefixes the offending key with the section name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from clobflow.core.configs import convert_section, is_finite_number

from clobflow.core.clock import s_to_ns
from clobflow.core.errors import ConfigError
from clobflow.core.numbers import micros_from_number

_INT_FIELDS = ("max_positions", "max_fee_rate_bps", "breaker_max_failures", "max_live_orders_per_market")
_BOOL_FIELDS = ("one_position_per_market", "require_trusted_book")
# (name, strictly positive?) for finite non-negative numbers.
_NUM_FIELDS = (
    ("max_market_exposure_usd", True),
    ("max_total_exposure_usd", True),
    ("cooldown_s", False),
    ("min_seconds_to_close", False),
    ("max_signal_age_s", True),
    ("max_price_deviation", False),
    ("max_spread", False),
    ("recent_order_window_s", False),
    ("breaker_cooloff_s", False),
)
_OPTIONAL_USD = ("max_drawdown_usd", "max_daily_loss_usd")


class RiskConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Pre-trade limits, circuit breaker and kill switch of one strategy.

    - ``max_positions``: concurrent open positions (markets held), >= 1.
    - ``one_position_per_market``: refuse an entry on a market already held (or with an entry
      working). With ``False`` the strategy scales in: entries add to the held position.
    - ``max_adds``: with scale-in, entries allowed after the first while the position stays
      open (>= 0; ``None``: no limit). Exits (SELLs) are never limited.
    - ``max_market_exposure_usd`` / ``max_total_exposure_usd``: cap on the exposure after the
      entry (current exposure + the intent's notional), per market / over all markets; > 0.
    - ``cooldown_s``: no new entry on a market for this long after the last one.
    - ``min_seconds_to_close``: no entry when the market closes sooner than this.
    - ``max_signal_age_s``: refuse an intent whose signal is older than this (> 0).
    - ``max_price_deviation``: fraction; refuse when ``|price - ref| / ref`` exceeds it, ``ref``
      being the best ask for a BUY, the best bid for a SELL.
    - ``max_spread``: dollars per share, in ``[0, 1]``; refuse entries on a wider book.
    - ``max_fee_rate_bps``: refuse entries whose effective taker fee exceeds this (bps of notional).
    - ``recent_order_window_s``: refuse any order on a token that had one within this window.
    - ``max_live_orders_per_market``: live orders of the strategy allowed on one market at once
      (a new one is refused at this count); 1 for a taker strategy.
    - ``require_trusted_book``: only ``TRUSTED`` books pass; with ``False`` a ``SUSPECT`` book
      passes too. An ``UNTRUSTED`` book never passes (it has no valid prices to check against).
    - ``breaker_max_failures`` (>= 1) / ``breaker_cooloff_s``: circuit breaker.
    - ``max_drawdown_usd`` / ``max_daily_loss_usd``: kill switch thresholds, > 0, ``None`` = off.

    Raises ``ConfigError`` naming the key on a wrong type or an out-of-range value.
    """

    max_positions: int = 5
    one_position_per_market: bool = True
    max_market_exposure_usd: float = 100.0
    max_total_exposure_usd: float = 500.0
    cooldown_s: float = 3600.0
    min_seconds_to_close: float = 120.0
    max_signal_age_s: float = 5.0
    max_price_deviation: float = 0.03
    max_spread: float = 0.02
    max_fee_rate_bps: int = 200
    recent_order_window_s: float = 1.0
    require_trusted_book: bool = True
    breaker_max_failures: int = 3
    breaker_cooloff_s: float = 300.0
    max_live_orders_per_market: int = 1
    max_adds: int | None = None
    max_drawdown_usd: float | None = None
    max_daily_loss_usd: float | None = None

    def __post_init__(self) -> None:
        for key in _INT_FIELDS:
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int):
                raise ConfigError(key, f"must be an integer, got {v!r}")
        if self.max_positions < 1:
            raise ConfigError("max_positions", f"must be >= 1, got {self.max_positions}")
        if self.max_fee_rate_bps < 0:
            raise ConfigError("max_fee_rate_bps", f"must be >= 0, got {self.max_fee_rate_bps}")
        if self.max_live_orders_per_market < 1:
            raise ConfigError("max_live_orders_per_market", f"must be >= 1, got {self.max_live_orders_per_market}")
        if self.breaker_max_failures < 1:
            raise ConfigError("breaker_max_failures", f"must be >= 1, got {self.breaker_max_failures}")
        for key in _BOOL_FIELDS:
            v = getattr(self, key)
            if not isinstance(v, bool):
                raise ConfigError(key, f"must be true or false, got {v!r}")
        for key, positive in _NUM_FIELDS:
            v = getattr(self, key)
            if not is_finite_number(v):
                raise ConfigError(key, f"must be a finite number, got {v!r}")
            if v < 0 or (positive and v == 0):
                raise ConfigError(key, f"must be {'>' if positive else '>='} 0, got {v!r}")
        if self.max_spread > 1:
            raise ConfigError("max_spread", f"is a price difference in [0, 1], got {self.max_spread!r}")
        if self.max_adds is not None and (isinstance(self.max_adds, bool) or not isinstance(self.max_adds, int)
                                          or self.max_adds < 0):
            raise ConfigError("max_adds", f"must be an integer >= 0 or null, got {self.max_adds!r}")
        for key in _OPTIONAL_USD:
            v = getattr(self, key)
            if v is None:
                continue
            if not is_finite_number(v) or v <= 0:
                raise ConfigError(key, f"must be a finite number > 0 or null, got {v!r}")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, prefix: str = "risk") -> RiskConfig:
        """Build from a config section (e.g. a TOML table); unknown keys, wrong types and
        invalid values raise ``ConfigError`` naming ``"{prefix}.{field}"``."""
        return convert_section(data, cls, prefix)

    # -- exact integer views used by the engine ---------------------------------------------

    @property
    def max_market_exposure(self) -> int:
        """Micro-units of collateral."""
        return micros_from_number(self.max_market_exposure_usd)

    @property
    def max_total_exposure(self) -> int:
        """Micro-units of collateral."""
        return micros_from_number(self.max_total_exposure_usd)

    @property
    def max_drawdown(self) -> int | None:
        """Micro-units of collateral, ``None`` when off."""
        v = self.max_drawdown_usd
        return None if v is None else micros_from_number(v)

    @property
    def max_daily_loss(self) -> int | None:
        """Micro-units of collateral, ``None`` when off."""
        v = self.max_daily_loss_usd
        return None if v is None else micros_from_number(v)

    @property
    def max_spread_micros(self) -> int:
        """Price micro-units (0.02 -> 20_000)."""
        return micros_from_number(self.max_spread)

    @property
    def max_price_deviation_ppm(self) -> int:
        """Parts per million of the reference price (0.03 -> 30_000)."""
        return micros_from_number(self.max_price_deviation)

    @property
    def cooldown_ns(self) -> int:
        return s_to_ns(self.cooldown_s)

    @property
    def min_ns_to_close(self) -> int:
        return s_to_ns(self.min_seconds_to_close)

    @property
    def max_signal_age_ns(self) -> int:
        return s_to_ns(self.max_signal_age_s)

    @property
    def recent_order_window_ns(self) -> int:
        return s_to_ns(self.recent_order_window_s)

    @property
    def breaker_cooloff_ns(self) -> int:
        return s_to_ns(self.breaker_cooloff_s)
