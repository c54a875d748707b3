"""Grid parsing and applying grid points to a config: exact decimals, lists, errors naming the key."""

from __future__ import annotations

import pytest

from clobflow.engine.config import parse_config
from clobflow.replay.selection import DatasetSpec
from clobflow.replay.sweep import Axis, GridError, apply_params, grid_points, parse_grid, plan_sweep


def values(text: str) -> dict[str, tuple]:
    return {a.key: a.values for a in parse_grid(text)}


def test_range_uses_exact_decimals_and_includes_a_stop_on_the_grid():
    assert values("min_imbalance=0.3:0.7:0.1") == {"min_imbalance": (0.3, 0.4, 0.5, 0.6, 0.7)}
    # stop not on the grid: the last point is below it
    assert values("x=0:1:0.3")["x"] == (0, 0.3, 0.6, 0.9)
    # counting down, and integers stay integers (for int fields like sim.seed)
    assert values("x=0.7:0.3:-0.2")["x"] == (0.7, 0.5, 0.3)
    assert values("sim.seed=1:4:1")["sim.seed"] == (1, 2, 3, 4)
    assert all(type(v) is int for v in values("sim.seed=1:4:1")["sim.seed"])
    assert values("x=0.5:0.5:0.1")["x"] == (0.5,)


def test_lists_and_mixed_keys_split_at_each_key():
    axes = parse_grid("min_imbalance=0.3:0.5:0.1,max_spread=0.01,0.02,sim.submit_latency_ms=20:60:20")
    assert [a.key for a in axes] == ["min_imbalance", "max_spread", "sim.submit_latency_ms"]
    assert axes[0].values == (0.3, 0.4, 0.5)
    assert axes[1].values == (0.01, 0.02)  # a comma continues max_spread until the next key=
    assert axes[2].values == (20, 40, 60)
    # ranges and single values mixed in one key; several --grid options join like commas
    assert values("min_imbalance=0.1,0.3:0.5:0.1")["min_imbalance"] == (0.1, 0.3, 0.4, 0.5)
    assert parse_grid(["min_imbalance=0.3,0.4", "max_spread=0.01"]) == [
        Axis("min_imbalance", (0.3, 0.4)), Axis("max_spread", (0.01,))]
    # whitespace is tolerated; other scalar types
    assert values(" risk.require_trusted_book = true, false , risk.max_drawdown_usd=null,100")  == {
        "risk.require_trusted_book": (True, False), "risk.max_drawdown_usd": (None, 100)}


def test_points_are_the_product_first_key_outermost():
    pts = grid_points(parse_grid("a=1,2,b=x,y"))
    assert pts == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "x"}, {"a": 2, "b": "y"}]


@pytest.mark.parametrize(
    ("grid", "needle"),
    [
        ("", "empty grid"),
        ("0.1,min_imbalance=0.2", "'0.1' has no key"),
        ("=0.1", "''"),
        ("min imbalance=0.1", "'min imbalance'"),
        ("min_imbalance=", "'min_imbalance': empty value"),
        ("min_imbalance=0.1,,0.2", "'min_imbalance': empty value"),
        ("min_imbalance=0.1,0.10", "'min_imbalance': a value is repeated"),
        ("min_imbalance=0.1,max_spread=0.01,min_imbalance=0.2", "'min_imbalance' is given twice"),
        ("min_imbalance=0.1:0.5", "'min_imbalance': range"),
        ("min_imbalance=a:0.5:0.1", "'min_imbalance': range"),
        ("min_imbalance=0.5:0.1:0.1", "'min_imbalance': step"),
        ("min_imbalance=0.1:0.5:0", "'min_imbalance': step"),
        ("min_imbalance=0:1:0.000001", "'min_imbalance': range"),
    ],
)
def test_bad_grids_name_the_key(grid, needle):
    with pytest.raises(GridError) as err:
        parse_grid(grid)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_apply_params_sets_every_enabled_strategy_and_sections():
    base = parse_config({"strategies": [{"name": "a"}, {"name": "b"}, {"name": "c", "enabled": False}]})
    cfg = apply_params(base, {"min_imbalance": 0.35, "sim.submit_latency_ms": 80, "strategies[2].max_spread": 0.05})
    assert [s.min_imbalance for s in cfg.strategies] == [0.35, 0.35, 0.5]  # the disabled one is left alone
    assert cfg.strategies[2].max_spread == 0.05
    assert cfg.sim.submit_latency_ms == 80.0
    assert base.strategies[0].min_imbalance == 0.5  # the base is not modified


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"min_imbalanse": 0.3}, "'min_imbalanse'"),
        ({"sim.nope": 1}, "'sim.nope'"),
        ({"nope.x": 1}, "unknown section 'nope'"),
        ({"strategies[3].min_imbalance": 0.3}, "'strategies[3].min_imbalance'"),
        ({"min_imbalance": 1.5}, "strategies[0].min_imbalance: must be in (0, 1]"),
        ({"sim.seed": 1.5}, "sim.seed"),
        ({"sim.submit_latency_ms": "abc"}, "sim.submit_latency_ms"),
        ({"sim.submit_latency_ms": -5}, "sim.submit_latency_ms: must be >= 0"),
    ],
)
def test_unknown_keys_and_bad_values_are_refused_by_the_config_rules(params, needle):
    with pytest.raises(GridError) as err:
        apply_params(parse_config({}), params)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_plan_validates_every_point_before_running_and_blames_the_bad_value(tmp_path):
    spec = DatasetSpec("unused")
    with pytest.raises(GridError, match=r"^min_imbalance=1.2: strategies\[0\].min_imbalance"):
        plan_sweep(parse_config({}), parse_grid("max_spread=0.01,0.02,min_imbalance=0.5,1.2"), spec, tmp_path)
    # keys that only clash together: the point is named
    with pytest.raises(GridError, match="yes_price_min=0.6, yes_price_max=0.55"):
        plan_sweep(parse_config({}), parse_grid("yes_price_min=0.6,yes_price_max=0.55"), spec, tmp_path)
    # a postgres store_url in the base config is dropped: every run writes its own SQLite
    tasks = plan_sweep(parse_config({"engine": {"store_url": "postgresql://x/y"}}),
                       parse_grid("min_imbalance=0.4,0.6"), spec, tmp_path)
    assert [t.n for t in tasks] == [0, 1] and all(t.config["engine"]["store_url"] is None for t in tasks)
    assert tasks[1].out_dir == str(tmp_path / "runs" / "1") and tasks[1].params == (("min_imbalance", 0.6),)
