"""Unit tests of the sans-I/O market-channel protocol: time is driven explicitly (int ns)."""

from __future__ import annotations

import json

import pytest

from clobflow.core.errors import ConfigError
from clobflow.core.events import BookSnapshot, FeedStatus, NewMarket, PriceChange, LevelChange, Side
from clobflow.venues.polymarket.protocol import (
    MarketChannelProtocol,
    MarketStreamConfig,
    Reconnect,
    Send,
    Status,
)

S = 1_000_000_000
T0 = 1_790_000_000 * S


def cfg(**kw) -> MarketStreamConfig:
    base = dict(ping_interval_s=10, pong_timeout_s=30, stall_after_s=60,
                reconnect_min_s=0.5, reconnect_max_s=30, healthy_after_s=10)
    base.update(kw)
    return MarketStreamConfig(**base)


def book(asset: str, ts: int = T0) -> BookSnapshot:
    return BookSnapshot("0xm", asset, ((480_000, 1),), ((520_000, 1),), "h", 0, ts)


def opened(assets=("a", "b"), **kw) -> MarketChannelProtocol:
    p = MarketChannelProtocol(cfg(**kw))
    p.subscribe(list(assets), T0)
    p.on_open(T0)
    return p


# -- config ---------------------------------------------------------------------------------


def test_config_defaults():
    c = MarketStreamConfig()
    assert (c.max_assets_per_conn, c.ping_interval_s, c.pong_timeout_s) == (200, 10.0, 30.0)
    assert (c.reconnect_min_s, c.reconnect_max_s, c.custom_feature_enabled) == (0.5, 30.0, True)


@pytest.mark.parametrize("n", [0, 501])
def test_config_asset_limit(n):
    with pytest.raises(ConfigError) as e:
        MarketStreamConfig(max_assets_per_conn=n)
    assert e.value.key == "max_assets_per_conn"
    MarketStreamConfig(max_assets_per_conn=500)


@pytest.mark.parametrize(
    "kw,key",
    [({"ping_interval_s": 0}, "ping_interval_s"),
     ({"pong_timeout_s": 5}, "pong_timeout_s"),
     ({"reconnect_min_s": 2, "reconnect_max_s": 1}, "reconnect_max_s"),
     ({"stall_after_s": -1}, "stall_after_s")],
)
def test_config_bad_values(kw, key):
    with pytest.raises(ConfigError) as e:
        MarketStreamConfig(**kw)
    assert e.value.key == key


def test_config_from_mapping():
    assert MarketStreamConfig.from_mapping({"stall_after_s": 5}).stall_after_s == 5
    with pytest.raises(ConfigError) as e:
        MarketStreamConfig.from_mapping({"ping_interval": 5})
    assert e.value.key == "ping_interval"
    with pytest.raises(ConfigError) as e:
        MarketStreamConfig.from_mapping({"ping_interval_s": "x"})
    assert e.value.key == "ping_interval_s"
    with pytest.raises(ConfigError) as e:
        MarketStreamConfig.from_mapping({"max_assets_per_conn": 501})
    assert e.value.key == "max_assets_per_conn"


# -- subscriptions --------------------------------------------------------------------------


def test_initial_frame_exact_shape():
    p = MarketChannelProtocol(cfg())
    assert p.subscribe(["a", "b", "a"], T0) == []  # closed: nothing to send yet
    (frame,) = p.on_open(T0)
    assert frame == '{"type":"market","assets_ids":["a","b"],"custom_feature_enabled":true}'


def test_empty_open_sends_nothing_until_first_subscribe():
    p = MarketChannelProtocol(cfg())
    assert p.on_open(T0) == []
    assert p.next_deadline_ns() == T0 + 10 * S  # only the heartbeat; no stall watch on nothing
    (frame,) = p.subscribe(["a"], T0 + S)
    assert json.loads(frame) == {"type": "market", "assets_ids": ["a"], "custom_feature_enabled": True}
    (frame,) = p.subscribe(["a", "b"], T0 + S)
    assert json.loads(frame) == {"operation": "subscribe", "assets_ids": ["b"],
                                 "custom_feature_enabled": True}


def test_deltas_only():
    p = opened(("a", "b"))
    assert p.subscribe(["a", "b"], T0) == []
    (f,) = p.subscribe(["b", "c", "d"], T0)
    assert json.loads(f)["assets_ids"] == ["c", "d"]
    (f,) = p.unsubscribe(["a", "x", "c"], T0)
    assert json.loads(f) == {"operation": "unsubscribe", "assets_ids": ["a", "c"],
                             "custom_feature_enabled": True}
    assert p.unsubscribe(["a"], T0) == []
    assert p.assets == ("b", "d")


def test_changes_while_closed_go_out_on_open():
    p = opened(("a", "b"))
    p.on_close(T0 + S)
    assert p.subscribe(["c"], T0 + S) == [] and p.unsubscribe(["a"], T0 + S) == []
    (f,) = p.on_open(T0 + 2 * S)
    assert json.loads(f)["assets_ids"] == ["b", "c"]


def test_watch_window_restarts_when_a_connection_gets_assets_again():
    p = opened(("a",), stall_after_s=60, pong_timeout_s=10_000)
    p.unsubscribe(["a"], T0 + S)
    assert [a for a in p.poll(T0 + 100 * S) if type(a) is not Send] == []
    p.subscribe(["b"], T0 + 100 * S)
    assert [a for a in p.poll(T0 + 101 * S) if type(a) is not Send] == []  # not stalled at once
    assert p.next_deadline_ns() <= T0 + 160 * S


def test_capacity_is_enforced():
    p = MarketChannelProtocol(cfg(max_assets_per_conn=2))
    p.subscribe(["a", "b"], T0)
    assert p.room() == 0
    with pytest.raises(ValueError):
        p.subscribe(["c"], T0)


def test_custom_feature_flag_follows_config():
    p = MarketChannelProtocol(cfg(custom_feature_enabled=False))
    p.subscribe(["a"], T0)
    assert json.loads(p.on_open(T0)[0])["custom_feature_enabled"] is False


def test_resnapshot_unsubscribes_then_subscribes_owned_assets():
    p = opened(("a", "b"))
    unsub, sub = p.resnapshot(["b", "zz"], T0)
    assert json.loads(unsub) == {"operation": "unsubscribe", "assets_ids": ["b"],
                                 "custom_feature_enabled": True}
    assert json.loads(sub) == {"operation": "subscribe", "assets_ids": ["b"],
                               "custom_feature_enabled": True}
    assert p.resnapshot(["zz"], T0) == []
    p.on_close(T0)
    assert p.resnapshot(["a"], T0) == []  # the reconnect's dump brings the book anyway
    assert p.counters.resubscribes == 1


# -- text frames and heartbeat --------------------------------------------------------------


def test_text_classification():
    p = opened()
    assert p.on_text("PONG", T0) == "pong"
    assert p.on_text("NO NEW ASSETS", T0) == "no_new_assets"
    assert p.on_text("INVALID OPERATION", T0) == "other"
    c = p.counters
    assert (c.text_frames, c.pongs, c.no_new_assets, c.other_text) == (3, 1, 1, 1)
    assert p.last_text == "INVALID OPERATION"


def test_ping_schedule_and_pong_deadline():
    p = opened(stall_after_s=0)
    assert p.poll(T0 + 9 * S) == []
    assert p.next_deadline_ns() == T0 + 10 * S
    assert p.poll(T0 + 10 * S) == [Send("PING")]
    assert p.next_deadline_ns() == T0 + 20 * S
    p.on_text("PONG", T0 + 10 * S)
    assert p.poll(T0 + 20 * S) == [Send("PING")]
    assert p.poll(T0 + 30 * S) == [Send("PING")]  # last PONG at +10: deadline +40
    assert p.next_deadline_ns() == T0 + 40 * S
    assert p.poll(T0 + 40 * S) == [Reconnect("pong_timeout")]
    assert p.poll(T0 + 41 * S) == [] and p.next_deadline_ns() is None  # quiet until on_close
    assert p.counters.pings_sent == 3 and p.counters.pong_timeouts == 1


# -- stall watchdog -------------------------------------------------------------------------


def test_stall_resubscribes_then_reconnects():
    p = opened(("a", "b"), stall_after_s=60, pong_timeout_s=1000)
    p.on_events([book("a", T0 + S)], T0 + S)
    acts = [a for a in p.poll(T0 + 61 * S) if a != Send("PING")]
    assert acts[0] == Status(FeedStatus(("a", "b"), "stalled", "no_events", T0 + 61 * S))
    assert [json.loads(a.text)["operation"] for a in acts[1:3]] == ["unsubscribe", "subscribe"]
    assert acts[3] == Status(FeedStatus(("a", "b"), "resubscribed", "stall", T0 + 61 * S))
    assert p.next_deadline_ns() <= T0 + 121 * S
    acts = [a for a in p.poll(T0 + 121 * S) if a != Send("PING")]
    assert acts == [Status(FeedStatus(("a", "b"), "stalled", "silent_after_resubscribe",
                                      T0 + 121 * S)),
                    Reconnect("stalled")]
    assert p.counters.stalls == 2 and p.counters.resubscribes == 1


def test_data_after_resubscribe_clears_the_stall():
    p = opened(("a",), stall_after_s=60, pong_timeout_s=1000)
    assert any(type(a) is Status for a in p.poll(T0 + 60 * S))
    assert p.on_events([book("a")], T0 + 61 * S) is True
    acts = p.poll(T0 + 120 * S)
    assert all(type(a) is Send and a.text == "PING" for a in acts)
    assert p.next_deadline_ns() <= T0 + 121 * S  # watching again from the new data


def test_other_assets_are_not_evidence():
    p = opened(("a",), stall_after_s=60, pong_timeout_s=1000)
    nm = NewMarket("0xm", "1", "s", "q", ("x", "y"), ("Yes", "No"), 0, T0)
    assert p.on_events([nm, book("zz")], T0 + 30 * S) is False
    pc = PriceChange("0xm", (LevelChange("zz", Side.BUY, 1, 1), LevelChange("a", Side.BUY, 1, 1)),
                     0, T0)
    assert p.on_events([pc], T0 + 40 * S) is True
    assert p.last_data_ns() == T0 + 40 * S


def test_stall_watch_disabled_by_zero():
    p = opened(("a",), stall_after_s=0, pong_timeout_s=10_000)
    for k in range(1, 50):
        assert all(type(a) is Send for a in p.poll(T0 + k * 100 * S))


# -- close, reconnect, backoff --------------------------------------------------------------


def test_on_close_reports_reconnecting_and_resets_what_was_sent():
    p = opened(("a", "b"))
    st = p.on_close(T0 + 5 * S, "connection_lost")
    assert st == FeedStatus(("a", "b"), "reconnecting", "connection_lost", T0 + 5 * S)
    assert p.on_close(T0 + 6 * S) is None  # not open any more
    assert p.poll(T0 + 100 * S) == [] and p.next_deadline_ns() is None
    (f,) = p.on_open(T0 + 7 * S)
    assert json.loads(f)["type"] == "market"
    assert p.counters.reconnects == 1 and p.counters.opens == 2


def test_backoff_bounds_growth_cap():
    p = MarketChannelProtocol(cfg(reconnect_min_s=0.5, reconnect_max_s=30))
    assert p.backoff_s(0, 0.0) == 0.5 and p.backoff_s(0, 1.0) == 1.0
    assert p.backoff_s(3, 1.0) == 8.0
    assert p.backoff_s(10, 1.0) == 30.0 and p.backoff_s(1000, 0.999) <= 30.0
    assert p.backoff_s(10, 0.0) == 0.5
    delays = [p.next_backoff_s(0.5) for _ in range(4)]
    assert delays == [0.75, 1.25, 2.25, 4.25] and p.attempt == 4


def test_backoff_resets_only_after_a_healthy_session():
    p = opened(("a",), healthy_after_s=10)
    for _ in range(3):
        p.next_backoff_s(0.5)
    p.on_events([book("a")], T0 + S)
    p.on_close(T0 + 2 * S)  # data, but only 2 s: a flapping venue keeps its backoff
    assert p.attempt == 3
    p.on_open(T0 + 3 * S)
    p.on_close(T0 + 30 * S)  # long, but no data nor PONG
    assert p.attempt == 3
    p.on_open(T0 + 31 * S)
    p.on_text("PONG", T0 + 41 * S)
    p.on_close(T0 + 42 * S)
    assert p.attempt == 0
