"""SpotStreamProtocol driven with explicit time (int ns): no sockets, no sleeps."""

from __future__ import annotations

import pytest

from clobflow.core.errors import ConfigError
from clobflow.venues.binance.protocol import (
    Close,
    Rotate,
    SpotStreamConfig,
    SpotStreamProtocol,
    normalise_symbols,
)

S = 1_000_000_000
H = 3600 * S
T0 = 1_700_000_000 * S


def opened(symbols=("btcusdt",), **cfg) -> SpotStreamProtocol:
    p = SpotStreamProtocol(symbols, SpotStreamConfig(**cfg))
    assert p.wants_connect() and p.next_connect_delay_s(0.5) == 0.0  # first start: at once
    assert p.on_open(0, T0) is None
    assert not p.wants_connect() and p.live_conn == 0
    return p


# -- addressing ----------------------------------------------------------------------------

def test_combined_stream_url_for_n_symbols():
    p = SpotStreamProtocol(["BTCUSDT", "ethusdt", "btcusdt", " solusdt "])
    assert p.symbols == ("btcusdt", "ethusdt", "solusdt")
    assert p.stream_path() == "/stream?streams=btcusdt@trade/ethusdt@trade/solusdt@trade"
    assert p.url("wss://stream.binance.com:9443") == (
        "wss://stream.binance.com:9443/stream?streams=btcusdt@trade/ethusdt@trade/solusdt@trade")
    assert p.url("wss://stream.binance.com:9443/ws/").startswith(
        "wss://stream.binance.com:9443/stream?streams=")
    agg = SpotStreamProtocol(["btcusdt"], SpotStreamConfig(channel="aggTrade"))
    assert agg.stream_path() == "/stream?streams=btcusdt@aggTrade"


@pytest.mark.parametrize("bad", [[], ["btc-usdt"], ["btc usdt"], ["btcusdt@trade"]])
def test_invalid_symbols(bad):
    with pytest.raises(ValueError):
        normalise_symbols(bad)


def test_stream_limit():
    SpotStreamProtocol([f"s{i}" for i in range(1024)])
    with pytest.raises(ValueError, match="1024"):
        SpotStreamProtocol([f"s{i}" for i in range(1025)])


@pytest.mark.parametrize(("kw", "key"), [
    ({"max_conn_age_s": 86_400}, "max_conn_age_s"),
    ({"max_conn_age_s": 0}, "max_conn_age_s"),
    ({"channel": "bookTicker"}, "channel"),
    ({"stall_after_s": -1}, "stall_after_s"),
    ({"reconnect_min_s": 2, "reconnect_max_s": 1}, "reconnect_max_s"),
])
def test_config_validation(kw, key):
    with pytest.raises(ConfigError) as ei:
        SpotStreamConfig(**kw)
    assert ei.value.key == key


def test_config_from_mapping():
    assert SpotStreamConfig.from_mapping({"stall_after_s": 5}).stall_after_s == 5
    with pytest.raises(ConfigError) as ei:
        SpotStreamConfig.from_mapping({"stall_after": 5})
    assert ei.value.key == "stall_after"
    with pytest.raises(ConfigError) as ei:
        SpotStreamConfig.from_mapping({"max_conn_age_s": "long"})
    assert ei.value.key == "max_conn_age_s"


# -- 24 h rotation -------------------------------------------------------------------------

def test_proactive_rotation_before_24h():
    p = opened(stall_after_s=0)  # watchdog off: only the age matters here
    assert p.next_deadline_ns() == T0 + 23 * H
    assert p.poll(T0 + 23 * H - 1) == []
    assert p.poll(T0 + 23 * H) == [Rotate(0, "max_age")]
    assert p.poll(T0 + 23 * H + S) == []  # asked once
    assert p.next_deadline_ns() is None
    assert p.wants_connect() and p.need_reason == "max_age"
    assert p.next_connect_delay_s(0.9) == 0.0  # planned: no backoff
    # make-before-break: the replacement opens; the old one closes after the overlap
    t1 = T0 + 23 * H + S
    p.on_open(1, t1)
    assert p.live_conn == 1 and not p.wants_connect()
    assert p.next_deadline_ns() == t1 + 2 * S  # rotation_overlap_s
    p.on_trades(0, 1, 1, t1 + S)  # both deliver meanwhile
    p.on_trades(1, 1, 0, t1 + S)
    assert p.poll(t1 + 2 * S - 1) == []
    assert p.poll(t1 + 2 * S) == [Close(0, "replaced")]
    assert p.poll(t1 + 3 * S) == []  # asked once
    assert p.on_close(0, t1 + 3 * S, "replaced") is False
    assert p.counters.rotate_max_age == 1 and p.counters.drops == 0
    assert p.next_deadline_ns() == t1 + 23 * H


def test_zero_overlap_closes_at_the_open():
    p = opened(stall_after_s=0, rotation_overlap_s=0)
    p.poll(T0 + 23 * H)
    p.on_open(1, T0 + 23 * H + S)
    assert p.next_deadline_ns() == T0 + 23 * H + S
    assert p.poll(T0 + 23 * H + S) == [Close(0, "replaced")]


def test_configurable_age():
    p = opened(max_conn_age_s=3600, stall_after_s=0)
    assert p.poll(T0 + H) == [Rotate(0, "max_age")]


def test_live_connection_dropping_during_overlap():
    p = opened(stall_after_s=0)
    p.on_server_shutdown(0, T0 + S)
    p.on_open(1, T0 + 2 * S)
    assert p.on_close(1, T0 + 3 * S, "connection_lost") is False  # the new one died...
    assert p.live_conn == 0  # ...the old one, still open, is live again
    assert p.wants_connect() and p.counters.drops == 1
    assert p.next_connect_delay_s(0.0) > 0  # a drop: backoff
    assert p.poll(T0 + 10 * S) == []  # no Close for it any more
    p.on_open(2, T0 + 11 * S)
    assert p.poll(T0 + 13 * S) == [Close(0, "replaced")]


def test_replacement_failing_keeps_old_connection_live():
    p = opened(stall_after_s=0, reconnect_min_s=1, reconnect_max_s=8)
    p.poll(T0 + 23 * H)
    assert p.next_connect_delay_s(0.0) == 0.0
    p.on_connect_failed(T0 + 23 * H, "refused")
    assert p.wants_connect() and p.live_conn == 0
    assert p.next_connect_delay_s(0.0) == 1.0  # now the backoff applies
    # the venue cuts the old one at 24 h before a replacement succeeded
    assert p.on_close(0, T0 + 24 * H, "venue_closed_1001") is True
    assert p.live_conn is None and p.wants_connect() and p.need_reason == "max_age"
    assert p.counters.drops == 0  # a rotation in progress, not a surprise


# -- serverShutdown ------------------------------------------------------------------------

def test_server_shutdown_rotates_at_once():
    p = opened()
    p.on_trades(0, 5, 5, T0 + S)
    assert p.on_server_shutdown(0, T0 + 2 * S) == [Rotate(0, "server_shutdown")]
    assert p.on_server_shutdown(0, T0 + 3 * S) == []  # repeated notice: one rotation
    assert p.counters.server_shutdowns == 2 and p.counters.rotate_server_shutdown == 1
    assert p.next_connect_delay_s(0.7) == 0.0
    p.on_open(1, T0 + 4 * S)
    assert p.poll(T0 + 6 * S) == [Close(0, "replaced")]
    assert p.on_close(0, T0 + 7 * S, "replaced") is False
    # a notice on an unknown / closed connection is harmless
    assert p.on_server_shutdown(0, T0 + 6 * S) == []


# -- stall watchdog ------------------------------------------------------------------------

def test_stall_watchdog():
    p = opened(stall_after_s=30, reconnect_min_s=1, reconnect_max_s=60)
    assert p.next_deadline_ns() == T0 + 30 * S
    p.on_trades(0, 1, 1, T0 + 20 * S)
    assert p.poll(T0 + 30 * S) == []
    assert p.next_deadline_ns() == T0 + 50 * S
    p.on_trades(0, 1, 0, T0 + 40 * S)  # a duplicate still proves the feed is alive
    assert p.poll(T0 + 50 * S) == []
    assert p.poll(T0 + 70 * S) == [Rotate(0, "stalled")]
    assert p.counters.rotate_stalled == 1
    # a stall goes through the backoff (a halted venue must not cause a reconnect storm)
    d = p.next_connect_delay_s(0.5)
    assert 1.0 <= d <= 2.0 and p.attempt == 1
    p.on_open(1, T0 + 72 * S)
    assert p.poll(T0 + 74 * S) == [Close(0, "replaced")]


def test_stall_disabled():
    p = opened(stall_after_s=0)
    assert p.poll(T0 + 22 * H) == []


# -- drops and backoff ---------------------------------------------------------------------

def test_unplanned_close_and_jittered_backoff():
    p = opened(reconnect_min_s=0.5, reconnect_max_s=8)
    assert p.on_close(0, T0 + S, "connection_lost") is True
    assert p.wants_connect() and p.counters.drops == 1
    assert p.backoff_s(0, 0.0) == 0.5 and p.backoff_s(0, 1.0) == 1.0
    assert p.backoff_s(1, 1.0) == 2.0 and p.backoff_s(3, 1.0) == 8.0
    assert p.backoff_s(50, 1.0) == 8.0  # capped
    delays = [p.next_connect_delay_s(0.999) for _ in range(6)]
    assert delays == sorted(delays) and delays[-1] <= 8.0 and p.attempt == 6
    jittered = {p.backoff_s(4, r / 10) for r in range(10)}
    assert len(jittered) == 10 and min(jittered) >= 0.5  # spread, above the floor


def test_healthy_session_resets_backoff():
    p = opened(healthy_after_s=10)
    p.on_close(0, T0 + S, "connection_lost")
    for _ in range(3):
        p.next_connect_delay_s(0.5)
    assert p.attempt == 3
    p.on_open(1, T0 + 10 * S)
    p.on_trades(1, 3, 3, T0 + 11 * S)
    p.on_close(1, T0 + 15 * S, "connection_lost")  # open only 5 s: not healthy yet
    assert p.attempt == 3
    p.on_open(2, T0 + 20 * S)
    p.on_trades(2, 3, 3, T0 + 21 * S)
    p.on_close(2, T0 + 31 * S, "connection_lost")
    assert p.attempt == 0


def test_session_without_trades_is_not_healthy():
    p = opened(healthy_after_s=1)
    p.attempt = 4
    p.on_close(0, T0 + H, "connection_lost")
    assert p.attempt == 4


def test_counters_and_stop_restart():
    p = opened()
    p.on_frame(0, 200, T0)
    p.on_trades(0, 1, 1, T0)
    c = p.counters
    assert (c.frames, c.chars, c.trades, c.rows, c.opens) == (1, 200, 1, 1, 1)
    p.stop()
    assert not p.wants_connect() and p.live_conn is None
    assert p.on_close(0, T0, "stopped") is False  # already forgotten
    p.restart()
    assert p.wants_connect() and p.next_connect_delay_s(0.5) == 0.0
