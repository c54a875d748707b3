"""Redis fan-out of the latest top of book, for other processes (dashboards, other strategies).

``RedisFanout.publish_top(...)`` is called on the event loop for every book change. It never
blocks on Redis: it puts the newest top of book per ``(venue, asset_id)`` into a coalescing dict
and wakes a background writer thread. **Only the newest value per asset is kept**: when Redis is
slower than the feed (or down), intermediate tops are skipped and counted in ``coalesced`` — a
slow Redis must never slow the feed, and readers only want "the latest" anyway. Memory is bounded
by ``queue_max`` distinct assets; a new asset arriving while that many are pending is dropped and
counted in ``dropped`` (assets already pending keep updating).

The writer drains the dict in one pipelined round trip per batch (no MULTI: a batch need not be
atomic, and every command is independent). Per asset:

- ``SET {prefix}:tob:{venue}:{asset_id} <json> PX ttl`` — the shared cache. A JSON string rather
  than a hash: one atomic command sets value and expiry together (``HSET`` + ``EXPIRE`` could leave
  a key without a TTL if the writer died in between), and a reader always sees one consistent top.
- ``XADD {prefix}:tob:{venue} MAXLEN ~ stream_maxlen * <fields>`` — the change log, in the order of
  each asset's latest update (a coalesced asset moves to the end of the batch).

Fields (all strings, in both places): ``market``, ``asset_id``, ``best_bid``, ``best_ask``,
``bid_size``, ``ask_size`` — exact decimal strings rendered from integer micro-units (``"0.513"``;
``""`` for an empty side) — ``mid`` (exact: a half micro-unit is written as a 7th decimal;
``""`` unless both sides exist) and ``ts_ns`` (the book's receive time, integer ns, as a string so
JavaScript readers keep every digit).

On a Redis error the failed batch is merged back under newer values (still one per asset, still
bounded), the error is counted (``errors``, ``last_error``), the connection pool is reset and the
writer waits a jittered exponential backoff before trying again; redis-py's own retries are off
so the backoff is ours. A batch that failed half-way may be written again: the cache is
idempotent, the stream may then hold a repeated entry (at-least-once).

``read_top(client, venue, asset_id)`` reads one cached top back (any process, any redis client).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from decimal import Decimal

import msgspec
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from clobflow.core.numbers import format_micros, parse_micros

_Item = tuple  # (venue, market, asset_id, best_bid, best_ask, bid_size, ask_size, ts_ns)
_json = msgspec.json.Encoder()


def tob_key(prefix: str, venue: str, asset_id: str) -> str:
    """Key of the cached top of book of one asset."""
    return f"{prefix}:tob:{venue}:{asset_id}"


def stream_key(prefix: str, venue: str) -> str:
    """Key of the per-venue stream of top-of-book changes."""
    return f"{prefix}:tob:{venue}"


def _opt(v: int | None) -> str:
    return "" if v is None else format_micros(v)


def format_mid(best_bid: int | None, best_ask: int | None) -> str:
    """The exact mid of two micro-unit prices as a decimal string (``""`` if a side is missing).
    ``(bid + ask) / 2`` may end in half a micro-unit: it is written with a 7th decimal, never
    rounded."""
    if best_bid is None or best_ask is None:
        return ""
    v = (best_bid + best_ask) * 5  # in 1e-7 units
    sign = "-" if v < 0 else ""
    whole, frac = divmod(abs(v), 10_000_000)
    return f"{sign}{whole}" if frac == 0 else f"{sign}{whole}.{frac:07d}".rstrip("0")


def top_fields(item: _Item) -> dict[str, str]:
    """The wire fields of one top of book (see the module doc)."""
    _venue, market, asset_id, bid, ask, bid_size, ask_size, ts_ns = item
    return {"market": market, "asset_id": asset_id, "best_bid": _opt(bid), "best_ask": _opt(ask),
            "bid_size": _opt(bid_size), "ask_size": _opt(ask_size), "mid": format_mid(bid, ask),
            "ts_ns": str(ts_ns)}


class TopOfBook(msgspec.Struct, frozen=True):
    """A cached top of book as read back: prices and sizes in integer micro-units (None = empty
    side), ``mid`` exact (None unless both sides exist), ``ts_ns`` the book's receive time."""

    venue: str
    market: str
    asset_id: str
    best_bid: int | None
    best_ask: int | None
    bid_size: int | None
    ask_size: int | None
    mid: Decimal | None
    ts_ns: int


def read_top(client: redis.Redis, venue: str, asset_id: str, *,
             key_prefix: str = "clobflow") -> TopOfBook | None:
    """Read the latest top of book of ``asset_id`` written by a ``RedisFanout`` (in any process).
    Returns None when there is none (never written, or older than the writer's TTL).

    Raises ``redis.RedisError`` on connection problems, ``msgspec.DecodeError`` /
    ``NumberFormatError`` if the key holds something else.
    """
    raw = client.get(tob_key(key_prefix, venue, asset_id))
    if raw is None:
        return None
    d = msgspec.json.decode(raw, type=dict[str, str])

    def num(k: str) -> int | None:
        return parse_micros(d[k]) if d.get(k) else None

    return TopOfBook(venue=venue, market=d.get("market", ""), asset_id=d.get("asset_id", asset_id),
                     best_bid=num("best_bid"), best_ask=num("best_ask"), bid_size=num("bid_size"),
                     ask_size=num("ask_size"), mid=Decimal(d["mid"]) if d.get("mid") else None,
                     ts_ns=int(d["ts_ns"]))


class RedisFanout:
    """Latest-value fan-out of top of book to Redis (see the module doc).

    ``publish_top`` may be called from one thread at a time (the event loop); everything else
    from anywhere. The writer thread starts on the first publish (no work in the constructor).
    ``client_factory`` (tests) replaces ``redis.Redis.from_url``.

    Raises ``ValueError`` on a non-positive ``ttl_s``, ``stream_maxlen`` or ``queue_max``.
    """

    def __init__(self, url: str, *, key_prefix: str = "clobflow", ttl_s: float = 10.0,
                 stream_maxlen: int = 100_000, queue_max: int = 10_000,
                 reconnect_min_s: float = 0.1, reconnect_max_s: float = 5.0,
                 socket_timeout_s: float = 2.0,
                 client_factory: Callable[[str], redis.Redis] | None = None) -> None:
        for name, v in (("ttl_s", ttl_s), ("stream_maxlen", stream_maxlen),
                        ("queue_max", queue_max), ("reconnect_min_s", reconnect_min_s),
                        ("socket_timeout_s", socket_timeout_s)):
            if v <= 0:
                raise ValueError(f"{name} must be > 0, got {v}")
        if reconnect_max_s < reconnect_min_s:
            raise ValueError("reconnect_max_s must be >= reconnect_min_s")
        self.url = url
        self.key_prefix = key_prefix
        self.ttl_ms = max(1, int(round(ttl_s * 1000)))
        self.stream_maxlen = stream_maxlen
        self.queue_max = queue_max
        self._backoff = (reconnect_min_s, reconnect_max_s)
        self._socket_timeout_s = socket_timeout_s
        self._client_factory = client_factory
        self._client: redis.Redis | None = None
        self._lock = threading.Lock()  # guards _pending and the counters the publisher touches
        self._idle = threading.Condition(self._lock)  # notified after each batch (flush waits)
        self._pending: dict[tuple[str, str], _Item] = {}
        self._inflight = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._rng = random.Random()
        self.published = 0  # publish_top calls
        self.coalesced = 0  # values replaced by a newer one before being written
        self.dropped = 0  # refused: queue full of other assets, or after close
        self.written = 0  # values written to Redis
        self.batches = 0
        self.errors = 0
        self.reconnects = 0  # successful batches right after a failure
        self.last_error = ""
        self._failing = 0  # consecutive failed batches

    # -- event-loop side -------------------------------------------------------------------

    def publish_top(self, venue: str, market: str, asset_id: str, best_bid: int | None,
                    best_ask: int | None, bid_size: int | None, ask_size: int | None,
                    ts_ns: int) -> None:
        """Queue the newest top of book of ``asset_id`` (prices and sizes in integer micro-units,
        None for an empty side; ``ts_ns`` int ns). O(1); never waits for Redis or I/O."""
        key = (venue, asset_id)
        with self._lock:
            self.published += 1
            if self._closed:
                self.dropped += 1
                return
            pending = self._pending
            if pending.pop(key, None) is not None:  # re-inserted at the end: batch in update order
                self.coalesced += 1
            elif len(pending) >= self.queue_max:
                self.dropped += 1
                return
            pending[key] = (venue, market, asset_id, best_bid, best_ask, bid_size, ask_size, ts_ns)
        if self._thread is None:
            self._start()
        if not self._wake.is_set():
            self._wake.set()

    # -- control ---------------------------------------------------------------------------

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything published so far is written (or failed and waits for a retry
        past ``timeout``). Returns True when nothing is pending."""
        self._wake.set()
        end = time.monotonic() + timeout
        with self._idle:
            while self._pending or self._inflight:
                left = end - time.monotonic()
                if left <= 0 or self._thread is None or not self._thread.is_alive():
                    return False
                self._wake.set()
                self._idle.wait(min(left, 0.05))
        return True

    def close(self, timeout: float = 5.0) -> bool:
        """Write what is pending (one attempt if Redis fails), stop the writer and disconnect.
        Later publishes are dropped. Returns True when nothing was left unwritten."""
        with self._lock:
            self._closed = True
        self._stop.set()
        self._wake.set()
        t = self._thread
        if t is not None:
            t.join(timeout)
        if self._client is not None and (t is None or not t.is_alive()):
            try:
                self._client.close()
            except Exception:
                pass
        with self._lock:
            return not self._pending and not self._inflight

    def stats(self) -> dict:
        """Counters: ``published`` (calls), ``written``, ``coalesced``, ``dropped``, ``pending``,
        ``batches``, ``errors``, ``last_error``, ``reconnects``, ``connected`` (the last batch
        succeeded), ``writer_alive``. At rest, published = written + coalesced + dropped +
        pending."""
        with self._lock:
            pending = len(self._pending) + self._inflight
            return {"published": self.published, "written": self.written,
                    "coalesced": self.coalesced, "dropped": self.dropped, "pending": pending,
                    "batches": self.batches, "errors": self.errors, "last_error": self.last_error,
                    "reconnects": self.reconnects, "connected": self.batches > 0 and not self._failing,
                    "writer_alive": self._thread is not None and self._thread.is_alive()}

    # -- writer thread ---------------------------------------------------------------------

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="clobflow-redis-fanout",
                                            daemon=True)
        self._thread.start()

    def _connect(self) -> redis.Redis:
        if self._client is None:
            if self._client_factory is not None:
                self._client = self._client_factory(self.url)
            else:
                # No redis-py retries: a failure returns at once and our backoff decides.
                self._client = redis.Redis.from_url(
                    self.url, socket_timeout=self._socket_timeout_s,
                    socket_connect_timeout=self._socket_timeout_s, retry=Retry(NoBackoff(), 0))
        return self._client

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                batch, self._pending = self._pending, {}
                self._inflight = len(batch)
            ok = True
            if batch:
                ok = self._write(batch)
            with self._idle:
                if not ok:
                    self._requeue(batch)
                self._inflight = 0
                self._idle.notify_all()
                done = self._stop.is_set() and (not self._pending or not ok)
            if done:
                return
            if not ok:
                self._stop.wait(self._delay())  # close() cuts the backoff short
                self._wake.set()  # retry what was merged back
            elif self._stop.is_set():
                self._wake.set()  # closing: drain what arrived meanwhile

    def _write(self, batch: dict[tuple[str, str], _Item]) -> bool:
        try:
            pipe = self._connect().pipeline(transaction=False)
            prefix, px, maxlen = self.key_prefix, self.ttl_ms, self.stream_maxlen
            for (venue, asset_id), item in batch.items():
                fields = top_fields(item)
                pipe.set(tob_key(prefix, venue, asset_id), _json.encode(fields), px=px)
                pipe.xadd(stream_key(prefix, venue), fields, maxlen=maxlen, approximate=True)
            pipe.execute()
        except Exception as exc:  # RedisError, OSError, or a bad value: never kill the writer
            self._failed(exc)
            return False
        with self._lock:
            self.written += len(batch)
            self.batches += 1
            if self._failing:
                self.reconnects += 1
            self._failing = 0
        return True

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            self.errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"[:300]
            self._failing += 1
        if self._client is not None:
            try:  # drop broken sockets; the next command reconnects
                self._client.connection_pool.disconnect()
            except Exception:
                pass

    def _requeue(self, batch: dict[tuple[str, str], _Item]) -> None:
        """Merge a failed batch back (lock held): older values first, newer ones win, bounded."""
        pending = self._pending
        merged = {k: v for k, v in batch.items() if k not in pending}
        self.coalesced += len(batch) - len(merged)
        merged.update(pending)
        over = len(merged) - self.queue_max
        if over > 0:  # drop the oldest: the freshest tops matter most
            for k in list(merged)[:over]:
                del merged[k]
            self.dropped += over
        self._pending = merged

    def _delay(self) -> float:
        lo, hi = self._backoff
        cap = min(hi, lo * 2.0 ** min(self._failing - 1, 30))
        return cap * (0.5 + 0.5 * self._rng.random())  # equal jitter: never below half the cap
