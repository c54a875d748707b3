"""Run configuration: one YAML (or TOML) file, a section per component, typed, frozen and
validated at load. An unknown key or a bad value stops start-up with the key's path named
(``strategies[0].min_imbalance: must be in (0, 1]``). Secrets never live here: they come from the
environment by name, when a live client needs them.

```yaml
engine:   {mode: paper, starting_cash_usd: 1000, timer_interval_s: 1, store_url: null}
sim:      {submit_latency_ms: 50, ack_latency_ms: 20, jitter_ms: 0, seed: 1}
feed:     {ws_url: ..., gamma_url: ..., clob_url: ..., max_assets_per_conn: 200}
risk:     {max_market_exposure_usd: 100, max_total_exposure_usd: 500, breaker_max_failures: 3, ...}
strategies:
  - {name: imbalance, min_imbalance: 0.5, yes_price_min: 0.3, yes_price_max: 0.7, ...}
```

Each strategy's safety keys (``max_positions``, ``cooldown_minutes``, ``min_minutes_to_close``,
``max_signal_age_seconds``, ``max_price_deviation``, ``max_spread``, ``max_fee_rate_bps``) become
that strategy's risk limits on top of the shared ``risk`` section.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

import msgspec
import yaml
from sqlalchemy.exc import ArgumentError

from clobflow.core.configs import convert_section, is_finite_number, key_of
from clobflow.core.errors import ConfigError
from clobflow.store.engine import normalize_url
from clobflow.risk.config import RiskConfig
from clobflow.strategies.complete_set.config import CompleteSetConfig
from clobflow.strategies.imbalance import ImbalanceConfig

Mode = Literal["backtest", "paper", "shadow", "live"]

StrategyConfig = ImbalanceConfig | CompleteSetConfig
"""A strategy section; ``kind`` picks the strategy (``imbalance`` when absent)."""
STRATEGY_KINDS: dict[str, type] = {"imbalance": ImbalanceConfig, "complete_set": CompleteSetConfig}


class EngineSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    mode: Mode = "paper"
    starting_cash_usd: float = 1000.0
    timer_interval_s: float = 1.0
    store_url: str | None = None
    live_opt_in: bool = False

    def __post_init__(self) -> None:
        if self.starting_cash_usd <= 0:
            raise ConfigError("starting_cash_usd", "must be > 0")
        if self.timer_interval_s <= 0:
            raise ConfigError("timer_interval_s", "must be > 0")
        if self.store_url is not None:
            try:
                normalize_url(self.store_url)  # the scheme and driver only; connecting comes later
            except (ValueError, ArgumentError) as exc:
                raise ConfigError("store_url", str(exc)) from None  # names the scheme, never the password


class SimSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Simulated execution: decision -> venue arrival, and arrival -> acknowledgement."""

    submit_latency_ms: float = 50.0
    ack_latency_ms: float = 20.0
    jitter_ms: float = 0.0
    seed: int = 1
    trade_inference: bool = True

    def __post_init__(self) -> None:
        for k in ("submit_latency_ms", "ack_latency_ms", "jitter_ms"):
            if getattr(self, k) < 0:
                raise ConfigError(k, "must be >= 0")


class FeedSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Market data: which venue adapter (``engine.registry``), its endpoints (``null``: the
    venue's production endpoints) and the connection settings every strategy shares.

    ``subscription_refresh_interval_s``: discovery refresh period; ``reconnect_min_delay_s`` /
    ``reconnect_max_delay_s``: reconnect backoff bounds (these three lived in strategy
    sections before; a strategy section naming them is refused with a pointer here).
    """

    venue: str = "polymarket"
    ws_url: str | None = None
    gamma_url: str | None = None
    clob_url: str | None = None
    max_assets_per_conn: int = 200
    stall_after_s: float = 60.0
    stale_after_s: float = 30.0
    subscription_refresh_interval_s: float = 60.0
    reconnect_min_delay_s: float = 0.5
    reconnect_max_delay_s: float = 30.0

    def __post_init__(self) -> None:
        if not self.venue:
            raise ConfigError("venue", "must name a venue adapter (e.g. polymarket)")
        if not 1 <= self.max_assets_per_conn <= 500:
            raise ConfigError("max_assets_per_conn", f"{self.max_assets_per_conn} is outside 1..500 "
                              "(Polymarket allows at most 500 assets per connection)")
        if self.stall_after_s < 0:
            raise ConfigError("stall_after_s", "must be >= 0 (0 disables the stall watchdog)")
        if self.stale_after_s <= 0:
            raise ConfigError("stale_after_s", "must be > 0")
        if not (is_finite_number(self.subscription_refresh_interval_s) and self.subscription_refresh_interval_s > 0):
            raise ConfigError("subscription_refresh_interval_s", "must be > 0")
        if not (is_finite_number(self.reconnect_min_delay_s) and is_finite_number(self.reconnect_max_delay_s)
                and 0 < self.reconnect_min_delay_s <= self.reconnect_max_delay_s):
            raise ConfigError("reconnect_min_delay_s", "need 0 < reconnect_min_delay_s <= reconnect_max_delay_s")


MOVED_TO_FEED = {
    "subscription_refresh_interval": "subscription_refresh_interval_s",
    "reconnect_min_delay": "reconnect_min_delay_s",
    "reconnect_max_delay": "reconnect_max_delay_s",
}
"""Strategy keys that became ``feed`` settings (old key -> new key in ``feed``)."""


class RiskSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Limits shared by every strategy (per-strategy limits live in the strategy section)."""

    max_market_exposure_usd: float = 100.0
    max_total_exposure_usd: float = 500.0
    recent_order_window_s: float = 60.0
    require_trusted_book: bool = True
    breaker_max_failures: int = 3
    breaker_cooloff_s: float = 300.0
    max_drawdown_usd: float | None = None
    max_daily_loss_usd: float | None = None


class AppConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    engine: EngineSection = msgspec.field(default_factory=EngineSection)
    sim: SimSection = msgspec.field(default_factory=SimSection)
    feed: FeedSection = msgspec.field(default_factory=FeedSection)
    risk: RiskSection = msgspec.field(default_factory=RiskSection)
    strategies: tuple[StrategyConfig, ...] = (ImbalanceConfig(),)

    def enabled_strategies(self) -> list[StrategyConfig]:
        return [s for s in self.strategies if s.enabled]

    def risk_for(self, s: StrategyConfig) -> RiskConfig:
        """The risk limits of one strategy: shared section + the strategy's own keys
        (``risk_limits``)."""
        return _wrap(f"strategies[{self.strategies.index(s)}]", lambda: RiskConfig(**s.risk_limits(self.risk)))


def _wrap(prefix: str, build):  # noqa: ANN001, ANN202
    try:
        return build()
    except ConfigError as exc:
        raise ConfigError(f"{prefix}.{exc.key}", exc.message) from None


def parse_config(data: Any, source: str = "config") -> AppConfig:
    """Validate a mapping (e.g. parsed YAML) into an ``AppConfig``.

    Raises:
        ConfigError: naming the offending key path, for unknown keys, wrong types or values.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, "the top level must be a mapping of sections")
    _check_numbers(data, "")
    if "strategies" in data and data["strategies"] in ([], None):
        raise ConfigError("strategies", "at least one strategy section is needed")
    data = _with_kinds(data)
    try:
        cfg = msgspec.convert(data, AppConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(key_of(exc) or source, str(exc).split(" - at ")[0]) from None
    except ConfigError as exc:
        # a section's own validation: find which section raised it
        raise ConfigError(_locate(data, exc.key), exc.message) from None
    for i, s in enumerate(cfg.strategies):
        cfg.risk_for(s)  # validates the derived risk limits
        if s.live and not cfg.engine.live_opt_in:
            raise ConfigError(f"strategies[{i}].live", "live trading needs engine.live_opt_in: true")
    names = [s.name for s in cfg.strategies]
    for i, n in enumerate(names):
        if not n.strip():
            raise ConfigError(f"strategies[{i}].name", "must not be empty")
    if len(set(names)) != len(names):
        raise ConfigError("strategies", f"strategy names must be unique, got {names}")
    return cfg


NUMBER_MAX = 1e15
"""No setting needs a larger magnitude (cash, sizes, seconds, counts): a larger one is a typo
(``max_positions: 1e29``) and would overflow the micro-unit and nanosecond conversions."""


def _check_numbers(node: Any, path: str) -> None:
    """Every number in a parsed config is finite and at most ``NUMBER_MAX`` in magnitude, wherever
    it is (one rule for every section and every key, named by its path)."""
    if isinstance(node, dict):
        for k, v in node.items():
            _check_numbers(v, f"{path}.{k}" if path else str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _check_numbers(v, f"{path}[{i}]")
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        if not is_finite_number(node):
            raise ConfigError(path, f"must be a finite number, got {node}")
        if abs(node) > NUMBER_MAX:
            raise ConfigError(path, f"{node:g} is out of range (at most 1e15 in magnitude)")


def _with_kinds(data: dict) -> dict:
    """``data`` with ``kind: imbalance`` on strategy sections that name no kind (files written
    before there were several strategies); an unknown kind or a bad section is refused with its
    key path."""
    strategies = data.get("strategies")
    if not isinstance(strategies, list):
        return data
    out = []
    for i, s in enumerate(strategies):
        if isinstance(s, dict):
            for old, new in MOVED_TO_FEED.items():
                if old in s:
                    raise ConfigError(f"strategies[{i}].{old}", f"feed settings are no longer per strategy: "
                                      f"set feed.{new} instead (one value for the whole run)")
            kind = s.get("kind", "imbalance")
            if kind not in STRATEGY_KINDS:
                raise ConfigError(f"strategies[{i}].kind", f"unknown strategy kind {kind!r} (one of "
                                  f"{', '.join(STRATEGY_KINDS)})")
            s = {"kind": kind, **s}
            # validated alone first, so an error names this section even for a rule between
            # two keys (e.g. margin_mid vs margin_late) where neither key was written
            convert_section(s, STRATEGY_KINDS[kind], f"strategies[{i}]")
        out.append(s)
    return {**data, "strategies": out}


def _locate(data: dict, key: str) -> str:
    for section in ("engine", "sim", "feed", "risk"):
        if isinstance(data.get(section), dict) and key in data[section]:
            return f"{section}.{key}"
    for i, s in enumerate(data.get("strategies") or []):
        if isinstance(s, dict) and key in s:
            return f"strategies[{i}].{key}"
    return key


def load_config(path: str | Path) -> AppConfig:
    """Read a YAML (``.yaml``/``.yml``) or TOML (``.toml``) file and validate it.

    Raises:
        ConfigError: the file is missing or unreadable, or a key is wrong (named).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(p), f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(str(p), f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    kind = "TOML" if p.suffix == ".toml" else "YAML"
    try:
        data = tomllib.loads(text) if p.suffix == ".toml" else yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(str(p), f"not valid {kind}: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise ConfigError(str(p), f"not valid {kind}: nested too deep") from None
    return parse_config(data, str(p))


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.safe_load`` that refuses a key given twice in one mapping (PyYAML keeps the last
    silently, so ``engine:`` written twice would drop the first section without a word)."""

    def construct_mapping(self, node, deep=False):  # noqa: ANN001, ANN201, D102
        seen: set = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # ``<<: *anchor`` may be overridden by a local key: not a duplicate
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (found twice in one mapping)", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                                 _UniqueKeyLoader.construct_mapping)
