"""Configuration: typed, validated at load, the wrong key named."""

from __future__ import annotations

from pathlib import Path

import pytest

from clobflow.core.errors import ConfigError
from clobflow.engine.config import load_config, parse_config

ROOT = Path(__file__).resolve().parents[2]


def test_bundled_example_config_loads():
    cfg = load_config(ROOT / "config" / "imbalance.yaml")
    (s,) = cfg.strategies
    assert s.name == "imbalance" and s.min_imbalance == 0.5 and s.categories == ("crypto",)
    risk = cfg.risk_for(s)
    assert risk.max_positions == 5 and risk.cooldown_s == 3600 and risk.min_seconds_to_close == 120


@pytest.mark.parametrize(
    "data,key",
    [
        ({"strategies": [{"name": "imbalance", "min_imbalanse": 0.5}]}, "strategies[0].min_imbalanse"),
        ({"strategies": [{"name": "imbalance", "min_imbalance": 1.5}]}, "strategies[0].min_imbalance"),
        ({"strategies": [{"name": "imbalance", "max_positions": "five"}]}, "strategies[0].max_positions"),
        ({"strategies": [{"yes_price_min": 0.8, "yes_price_max": 0.6}]}, "strategies[0].yes_price_min"),
        ({"engine": {"mode": "yolo"}}, "engine.mode"),
        ({"engine": {"starting_cash_usd": -1}}, "engine.starting_cash_usd"),
        ({"risk": {"breaker_max_failures": 0}}, "strategies[0].breaker_max_failures"),
        ({"sim": {"submit_latency_ms": -5}}, "sim.submit_latency_ms"),
        ({"bogus": {}}, "bogus"),
        ({"strategies": [{"name": "imbalance", "live": True}]}, "strategies[0].live"),
        ({"strategies": [{"name": "a"}, {"name": "a"}]}, "strategies"),
    ],
)
def test_bad_config_names_the_key(data, key):
    with pytest.raises(ConfigError) as ei:
        parse_config(data)
    assert ei.value.key == key, str(ei.value)


def test_unreadable_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("engine: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    toml = tmp_path / "c.toml"
    toml.write_text('[engine]\nmode = "shadow"\n[[strategies]]\nname = "imb"\nmin_imbalance = 0.6\n')
    cfg = load_config(toml)
    assert cfg.engine.mode == "shadow" and cfg.strategies[0].min_imbalance == 0.6


@pytest.mark.parametrize("old,new", [("reconnect_min_delay", "reconnect_min_delay_s"),
                                     ("reconnect_max_delay", "reconnect_max_delay_s"),
                                     ("subscription_refresh_interval", "subscription_refresh_interval_s")])
@pytest.mark.parametrize("kind", ["imbalance", "complete_set"])
def test_feed_settings_in_a_strategy_section_are_refused_with_where_they_moved(old, new, kind):
    with pytest.raises(ConfigError) as ei:
        parse_config({"strategies": [{"kind": kind, old: 1}]})
    assert ei.value.key == f"strategies[0].{old}" and f"feed.{new}" in ei.value.message


def test_feed_section_holds_the_venue_and_connection_settings():
    cfg = load_config(ROOT / "config" / "imbalance.yaml")
    f = cfg.feed
    assert (f.venue, f.subscription_refresh_interval_s, f.reconnect_min_delay_s, f.reconnect_max_delay_s) == (
        "polymarket", 180, 0.5, 30)
    assert parse_config({}).feed.ws_url is None  # the adapter's production endpoint
    with pytest.raises(ConfigError) as ei:
        parse_config({"feed": {"reconnect_min_delay_s": 5, "reconnect_max_delay_s": 1}})
    assert ei.value.key == "feed.reconnect_min_delay_s"
