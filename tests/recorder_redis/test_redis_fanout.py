"""RedisFanout against the real Redis at CLOBFLOW_TEST_REDIS_URL (skipped, with the reason, when
unset or unreachable). Every test uses its own key prefix and deletes its keys afterwards. Tests
that need no Redis (formatting, a closed port) always run."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from decimal import Decimal
from urllib.parse import urlparse

import pytest
import redis

from clobflow.recorder.redis_fanout import (
    RedisFanout,
    TopOfBook,
    format_mid,
    read_top,
    stream_key,
    tob_key,
)

ENV = "CLOBFLOW_TEST_REDIS_URL"
TS = 1_766_745_254_000_000_000
ASSET = "71321045679252212594626385532706912750332728571942532289631379312455583992563"


@pytest.fixture(scope="module")
def redis_url() -> str:
    url = os.environ.get(ENV)
    if not url:
        pytest.skip(f"{ENV} is not set (CI sets redis://127.0.0.1:6379/0)")
    try:
        redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis at {url} is unreachable: {exc}")
    return url


@pytest.fixture
def client(redis_url):
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


@pytest.fixture
def prefix(client):
    p = f"clobflow-test-{uuid.uuid4().hex[:12]}"
    yield p
    keys = list(client.scan_iter(match=f"{p}:*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture
def fanouts():
    made: list[RedisFanout] = []
    yield made
    for f in made:
        f.close(timeout=2)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def xentries(client, key) -> list[dict[str, str]]:
    return [{k.decode(): v.decode() for k, v in f.items()} for _, f in client.xrange(key)]


# -- no Redis needed -------------------------------------------------------------------------

def test_mid_is_exact():
    assert format_mid(513_000, 520_000) == "0.5165"
    assert format_mid(1, 2) == "0.0000015"  # half a micro-unit: a 7th decimal, not rounded
    assert format_mid(97_000_120_000, 97_000_130_000) == "97000.125"
    assert format_mid(None, 520_000) == "" and format_mid(513_000, None) == ""


@pytest.mark.parametrize("kw", [{"ttl_s": 0}, {"queue_max": 0}, {"stream_maxlen": -1},
                                {"reconnect_min_s": 1, "reconnect_max_s": 0.5}])
def test_invalid_settings(kw):
    with pytest.raises(ValueError):
        RedisFanout("redis://127.0.0.1:6379/0", **kw)


def test_constructor_and_close_do_no_io():
    f = RedisFanout(f"redis://127.0.0.1:{closed_port()}/0")
    assert f.stats()["writer_alive"] is False
    assert f.close() is True


def test_unreachable_redis_never_blocks_and_stays_bounded():
    f = RedisFanout(f"redis://127.0.0.1:{closed_port()}/0", queue_max=50,
                    reconnect_min_s=0.02, reconnect_max_s=0.1, socket_timeout_s=0.5)
    worst = 0.0
    t0 = time.perf_counter()
    for i in range(20_000):
        t = time.perf_counter()
        f.publish_top("polymarket", "0xm", f"a{i % 100}", 500_000 + i % 7, 510_000, 1, 1, TS + i)
        worst = max(worst, time.perf_counter() - t)
    total = time.perf_counter() - t0
    deadline = time.monotonic() + 5
    while f.stats()["errors"] < 3 and time.monotonic() < deadline:
        f.publish_top("polymarket", "0xm", "a0", 1, 2, 1, 1, TS)
        time.sleep(0.01)
    st = f.stats()
    assert st["errors"] >= 3 and st["written"] == 0
    assert "ConnectionError" in st["last_error"] or "Error" in st["last_error"]
    assert st["pending"] <= 50 and st["dropped"] > 0  # one per asset, and at most queue_max
    assert st["published"] == st["written"] + st["coalesced"] + st["dropped"] + st["pending"]
    assert total < 2.0 and worst < 0.05, (total, worst)  # the feed side never waited on Redis
    t = time.monotonic()
    assert f.flush(timeout=0.2) is False
    assert f.close(timeout=2) is False  # something was left unwritten
    assert time.monotonic() - t < 2.5
    assert f.stats()["writer_alive"] is False
    f.publish_top("polymarket", "0xm", "a0", 1, 2, 1, 1, TS)  # after close: dropped, no error


# -- real Redis ------------------------------------------------------------------------------

def test_cached_top_values_and_ttl(client, prefix, fanouts):
    f = RedisFanout(_url(client), key_prefix=prefix, ttl_s=10)
    fanouts.append(f)
    f.publish_top("polymarket", "0xmarket", ASSET, 513_000, 520_000, 1_500_000, 250_000_000, TS)
    assert f.flush(5)
    key = tob_key(prefix, "polymarket", ASSET)
    assert key == f"{prefix}:tob:polymarket:{ASSET}"
    assert json.loads(client.get(key)) == {
        "market": "0xmarket", "asset_id": ASSET, "best_bid": "0.513", "best_ask": "0.52",
        "bid_size": "1.5", "ask_size": "250", "mid": "0.5165", "ts_ns": str(TS)}
    assert 9_000 < client.pttl(key) <= 10_000
    top = read_top(client, "polymarket", ASSET, key_prefix=prefix)
    assert top == TopOfBook("polymarket", "0xmarket", ASSET, 513_000, 520_000, 1_500_000,
                            250_000_000, Decimal("0.5165"), TS)
    # an empty side
    f.publish_top("polymarket", "0xmarket", ASSET, 513_000, None, 1_500_000, None, TS + 1)
    assert f.flush(5)
    top = read_top(client, "polymarket", ASSET, key_prefix=prefix)
    assert (top.best_ask, top.ask_size, top.mid, top.ts_ns) == (None, None, None, TS + 1)
    assert read_top(client, "polymarket", "unknown", key_prefix=prefix) is None


def test_cache_expires(client, prefix, fanouts):
    f = RedisFanout(_url(client), key_prefix=prefix, ttl_s=0.2)
    fanouts.append(f)
    f.publish_top("kalshi", "KXBTC", "KXBTC-T1", 400_000, 410_000, 10_000_000, 5_000_000, TS)
    assert f.flush(5)
    assert read_top(client, "kalshi", "KXBTC-T1", key_prefix=prefix) is not None
    time.sleep(0.35)
    assert read_top(client, "kalshi", "KXBTC-T1", key_prefix=prefix) is None  # stale tops vanish


def test_stream_entries_in_order_with_fields(client, prefix, fanouts):
    f = RedisFanout(_url(client), key_prefix=prefix)
    fanouts.append(f)
    seq = [("a1", 100_000, 200_000), ("a2", 300_000, 310_000), ("a1", 110_000, 200_000),
           ("a3", 1, 999_999)]
    for i, (asset, bid, ask) in enumerate(seq):
        f.publish_top("polymarket", "0xm", asset, bid, ask, 1_000_000, 2_000_000, TS + i)
        assert f.flush(5)  # one batch each: no coalescing here
    got = xentries(client, stream_key(prefix, "polymarket"))
    assert got == [
        {"market": "0xm", "asset_id": "a1", "best_bid": "0.1", "best_ask": "0.2", "bid_size": "1",
         "ask_size": "2", "mid": "0.15", "ts_ns": str(TS)},
        {"market": "0xm", "asset_id": "a2", "best_bid": "0.3", "best_ask": "0.31", "bid_size": "1",
         "ask_size": "2", "mid": "0.305", "ts_ns": str(TS + 1)},
        {"market": "0xm", "asset_id": "a1", "best_bid": "0.11", "best_ask": "0.2", "bid_size": "1",
         "ask_size": "2", "mid": "0.155", "ts_ns": str(TS + 2)},
        {"market": "0xm", "asset_id": "a3", "best_bid": "0.000001", "best_ask": "0.999999",
         "bid_size": "1", "ask_size": "2", "mid": "0.5", "ts_ns": str(TS + 3)},
    ]
    assert f.stats()["written"] == 4 and f.stats()["coalesced"] == 0


def test_stream_is_trimmed(client, prefix, fanouts):
    f = RedisFanout(_url(client), key_prefix=prefix, stream_maxlen=10)
    fanouts.append(f)
    for i in range(1000):
        f.publish_top("polymarket", "0xm", f"a{i}", 1, 2, 1, 1, TS + i)
    assert f.flush(10)
    n = client.xlen(stream_key(prefix, "polymarket"))
    # "MAXLEN ~" trims whole radix-tree nodes (100 entries by default): near, not exactly, 10
    assert 10 <= n <= 10 + 100


class GatedClient:
    """The real client, whose pipelines wait for ``gate`` before executing: a slow Redis."""

    def __init__(self, url: str) -> None:
        self.real = redis.Redis.from_url(url)
        self.gate = threading.Event()
        self.waiting = threading.Event()
        self.connection_pool = self.real.connection_pool

    def pipeline(self, transaction=False):
        pipe = self.real.pipeline(transaction=transaction)
        execute = pipe.execute

        def gated_execute(*a, **kw):
            self.waiting.set()
            self.gate.wait(10)
            return execute(*a, **kw)

        pipe.execute = gated_execute
        return pipe

    def close(self) -> None:
        self.real.close()


def test_coalescing_when_redis_is_slower_than_the_feed(client, prefix, fanouts):
    gated: list[GatedClient] = []

    def factory(url):
        gated.append(GatedClient(url))
        return gated[-1]

    f = RedisFanout(_url(client), key_prefix=prefix, client_factory=factory)
    fanouts.append(f)
    f.publish_top("polymarket", "0xm", "x", 1_000, 2_000_000, 1, 1, TS)
    deadline = time.monotonic() + 5
    while not (gated and gated[0].waiting.is_set()) and time.monotonic() < deadline:
        time.sleep(0.001)
    assert gated and gated[0].waiting.is_set()  # the writer is stuck inside Redis now
    t0 = time.perf_counter()
    for i in range(2, 1001):
        f.publish_top("polymarket", "0xm", "x", i * 1_000, 2_000_000, 1, 1, TS + i)
        f.publish_top("polymarket", "0xm", "y", i * 1_000, 2_000_000, 1, 1, TS + i)
    assert time.perf_counter() - t0 < 1.0  # 1,998 publishes while Redis is stuck
    st = f.stats()
    assert st["pending"] == 3 and st["coalesced"] == 998 * 2  # in flight x, pending x and y
    gated[0].gate.set()
    assert f.flush(5)
    st = f.stats()
    assert st["written"] == 3 and st["published"] == 1999
    assert st["published"] == st["written"] + st["coalesced"] + st["dropped"]
    top = read_top(client, "polymarket", "x", key_prefix=prefix)
    assert top.best_bid == 1_000_000 and top.ts_ns == TS + 1000  # the newest value won
    entries = xentries(client, stream_key(prefix, "polymarket"))
    assert [(e["asset_id"], e["best_bid"]) for e in entries] == [("x", "0.001"), ("x", "1"),
                                                                 ("y", "1")]


def test_fast_feed_keeps_only_the_latest(client, prefix, fanouts):
    f = RedisFanout(_url(client), key_prefix=prefix)
    fanouts.append(f)
    n_assets, n = 10, 50_000
    for i in range(n):
        f.publish_top("polymarket", "0xm", f"a{i % n_assets}", i, i + 1, 1, 1, TS + i)
    assert f.flush(10)
    st = f.stats()
    assert st["published"] == n and st["coalesced"] > 0 and st["written"] < n
    assert st["published"] == st["written"] + st["coalesced"] + st["dropped"]
    for a in range(n_assets):
        last = n - n_assets + a
        assert read_top(client, "polymarket", f"a{a}", key_prefix=prefix).ts_ns == TS + last
    ts = [int(e["ts_ns"]) for e in xentries(client, stream_key(prefix, "polymarket"))]
    assert ts == sorted(ts)  # the stream follows the order of the updates


def test_another_process_reads_the_shared_cache(client, prefix, fanouts):
    f = RedisFanout(_url(client), key_prefix=prefix)
    fanouts.append(f)
    f.publish_top("polymarket", "0xmarket", ASSET, 513_000, 520_000, 1_500_000, 250_000_000, TS)
    assert f.flush(5)
    code = (
        "import json, sys, redis\n"
        "from clobflow.recorder.redis_fanout import read_top\n"
        "c = redis.Redis.from_url(sys.argv[1])\n"
        "t = read_top(c, 'polymarket', sys.argv[2], key_prefix=sys.argv[3])\n"
        "print(json.dumps([t.best_bid, t.best_ask, t.bid_size, t.ask_size, str(t.mid), t.ts_ns,"
        " t.market]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, _url(client), ASSET, prefix],
                         capture_output=True, text=True, timeout=30, check=True)
    assert json.loads(out.stdout) == [513_000, 520_000, 1_500_000, 250_000_000, "0.5165", TS,
                                      "0xmarket"]


def test_recovers_after_redis_goes_away_and_comes_back(client, prefix, fanouts):
    from tests.recorder_redis.tcpproxy import TcpProxy

    u = urlparse(_url(client))
    proxy = TcpProxy((u.hostname or "127.0.0.1", u.port or 6379))
    proxy.start()
    try:
        f = RedisFanout(f"redis://127.0.0.1:{proxy.port}{u.path or '/0'}", key_prefix=prefix,
                        reconnect_min_s=0.02, reconnect_max_s=0.1, socket_timeout_s=0.5)
        fanouts.append(f)
        f.publish_top("polymarket", "0xm", "a", 100_000, 200_000, 1, 1, TS)
        assert f.flush(5)
        proxy.cut()  # Redis "restarts"
        for i in range(1, 200):
            f.publish_top("polymarket", "0xm", "a", 100_000 + i, 200_000, 1, 1, TS + i)
            time.sleep(0.001)
        deadline = time.monotonic() + 5
        while f.stats()["errors"] < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert f.stats()["errors"] >= 2 and f.stats()["pending"] == 1
        proxy.start()  # back, on the same port
        assert f.flush(5)
        st = f.stats()
        assert st["reconnects"] >= 1 and st["connected"]
        assert read_top(client, "polymarket", "a", key_prefix=prefix).ts_ns == TS + 199
    finally:
        proxy.cut()


def _url(client) -> str:
    kw = client.connection_pool.connection_kwargs
    return f"redis://{kw.get('host', '127.0.0.1')}:{kw.get('port', 6379)}/{kw.get('db', 0)}"
