from __future__ import annotations

import pytest

from clobflow.core.errors import ConfigError
from clobflow.risk import RiskConfig, RiskEngine


def test_defaults_and_integer_views():
    c = RiskConfig()
    assert (c.max_positions, c.one_position_per_market, c.cooldown_s) == (5, True, 3600.0)
    assert (c.min_seconds_to_close, c.max_signal_age_s, c.max_fee_rate_bps) == (120.0, 5.0, 200)
    assert c.max_spread_micros == 20_000
    assert c.max_price_deviation_ppm == 30_000
    assert c.cooldown_ns == 3_600_000_000_000
    assert c.max_market_exposure == 100_000_000
    assert c.max_drawdown is None and c.max_daily_loss is None


def test_from_mapping_converts_human_units_exactly():
    c = RiskConfig.from_mapping({"max_spread": 0.03, "max_drawdown_usd": 12.34,
                                 "max_market_exposure_usd": 25, "max_price_deviation": 0.1,
                                 "recent_order_window_s": 0.25})
    assert c.max_spread_micros == 30_000
    assert c.max_drawdown == 12_340_000
    assert c.max_market_exposure == 25_000_000
    assert c.max_price_deviation_ppm == 100_000
    assert c.recent_order_window_ns == 250_000_000
    assert RiskEngine(c).kill_switch.max_drawdown == 12_340_000


def test_unknown_key_names_it():
    with pytest.raises(ConfigError) as e:
        RiskConfig.from_mapping({"max_postions": 3})
    assert e.value.key == "risk.max_postions"


@pytest.mark.parametrize("key, value", [
    ("cooldown_s", -1),
    ("max_market_exposure_usd", 0),
    ("max_positions", 0),
    ("max_fee_rate_bps", -5),
    ("breaker_max_failures", 0),
    ("max_spread", 1.5),
    ("max_drawdown_usd", -10),
    ("max_daily_loss_usd", 0),
    ("max_signal_age_s", 0),
])
def test_out_of_range_names_the_key(key, value):
    with pytest.raises(ConfigError) as e:
        RiskConfig.from_mapping({key: value}, prefix="strategies.x.risk")
    assert e.value.key == f"strategies.x.risk.{key}"
    with pytest.raises(ConfigError) as e:
        RiskConfig(**{key: value})
    assert e.value.key == key


@pytest.mark.parametrize("key, value", [
    ("max_positions", "five"),
    ("max_positions", 2.5),
    ("max_positions", True),
    ("one_position_per_market", "yes"),
    ("cooldown_s", "1h"),
    ("max_daily_loss_usd", "lots"),
])
def test_wrong_type_names_the_key(key, value):
    with pytest.raises(ConfigError) as e:
        RiskConfig.from_mapping({key: value})
    assert e.value.key == f"risk.{key}"
    # direct construction (no msgspec type check) is validated too
    with pytest.raises(ConfigError) as e:
        RiskConfig(**{key: value})
    assert e.value.key == key


def test_non_finite_and_non_mapping():
    with pytest.raises(ConfigError) as e:
        RiskConfig(cooldown_s=float("nan"))
    assert e.value.key == "cooldown_s"
    with pytest.raises(ConfigError) as e:
        RiskConfig.from_mapping([("a", 1)])  # type: ignore[arg-type]
    assert e.value.key == "risk"
