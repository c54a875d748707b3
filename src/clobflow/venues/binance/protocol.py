"""Sans-I/O protocol of the Binance spot trade stream (protocol.md §6, DESIGN §3.4).

The class never touches a socket, a task or a clock: the pump (``ws.py``) tells it what happened
(a connection opened or closed, a frame, trades decoded, a ``serverShutdown``) with the time in
integer ns, and carries out what it decides (connect now or after a delay, close a replaced
connection). Every rule lives here and is tested by driving time explicitly.

Map:
- streams: N symbols on ONE combined-stream connection,
  ``/stream?streams=btcusdt@trade/ethusdt@trade`` (names are lower case; at most 1024 streams per
  connection). Binance pushes data without any subscribe message.
- heartbeat: the server pings every 20 s and websockets answers automatically, so there is no
  application heartbeat here.
- rotation (make-before-break): a connection that reaches ``max_conn_age_s`` (default 23 h, before
  the venue's 24 h cut), that receives ``serverShutdown``, or that carried no trade for
  ``stall_after_s`` is marked *rotating*; the pump opens a replacement, and ``rotation_overlap_s``
  after the replacement opened, ``poll`` returns ``Close`` for the old one. Both deliver during the
  overlap (a new connection may start streaming a little after its handshake); the parser drops
  the doubles by trade id. Rotation for age or shutdown connects at once; a stall uses the backoff
  (a venue-wide halt must not turn into a reconnect storm).
- reconnect: an unplanned close of the live connection, or a failed connect, waits a jittered
  exponential backoff; a healthy session (trades seen, open >= ``healthy_after_s``) resets it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import msgspec

from clobflow.core.configs import convert_section

from clobflow.core.clock import s_to_ns
from clobflow.core.errors import ConfigError

VENUE_MAX_STREAMS_PER_CONN = 1024
VENUE_MAX_CONN_AGE_S = 24 * 3600.0
"""Binance closes every stream connection after 24 h (protocol.md §6)."""

_SYMBOL = re.compile(r"^[a-z0-9]+$")
_CHANNELS = ("trade", "aggTrade")
PLANNED = frozenset({"max_age", "server_shutdown"})
"""Rotation reasons that reconnect at once (the old connection still works meanwhile)."""


class SpotStreamConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Settings of the Binance spot trade stream (one section; units in names).

    - ``channel``: ``"trade"`` (every trade, default) or ``"aggTrade"`` (aggregated per taker order
      and price; the pump then parses aggTrade payloads as rows).
    - ``max_conn_age_s``: rotate a connection this old; in (0, 86400) (venue limit 24 h).
    - ``stall_after_s``: rotate when a connection carried no trade for this long; 0 disables.
      BTCUSDT trades several times a second; a quiet symbol alone on a connection needs more.
    - ``reconnect_min_s``/``reconnect_max_s``: bounds of the jittered exponential backoff.
    - ``healthy_after_s``: a session that saw trades and stayed open this long resets the backoff.
    - ``rotation_overlap_s``: how long a rotated connection stays open after its replacement
      opened (both deliver; duplicates are dropped). 0 closes it as soon as the new one is open.
    - ``ping_interval_s``/``ping_timeout_s``: the client's own keepalive pings (websockets); the
      server's pings are answered regardless. 0 disables.
    - ``open_timeout_s``, ``close_timeout_s``: handshake and closing-handshake limits.
    - ``max_frame_bytes``: largest accepted frame (trades are ~200 bytes).

    Raises ``ConfigError`` (naming the key) on an invalid value.
    """

    channel: str = "trade"
    max_conn_age_s: float = 23 * 3600.0
    stall_after_s: float = 60.0
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0
    healthy_after_s: float = 10.0
    rotation_overlap_s: float = 2.0
    ping_interval_s: float = 20.0
    ping_timeout_s: float = 20.0
    open_timeout_s: float = 10.0
    close_timeout_s: float = 2.0
    max_frame_bytes: int = 1024 * 1024

    def __post_init__(self) -> None:
        if self.channel not in _CHANNELS:
            raise ConfigError("channel", f"{self.channel!r} is not one of {_CHANNELS}")
        if not 0 < self.max_conn_age_s < VENUE_MAX_CONN_AGE_S:
            raise ConfigError("max_conn_age_s", f"{self.max_conn_age_s} is outside (0, 86400): "
                              "Binance cuts every connection at 24 h")
        for key in ("reconnect_min_s", "open_timeout_s", "close_timeout_s", "max_frame_bytes"):
            if getattr(self, key) <= 0:
                raise ConfigError(key, f"must be > 0, got {getattr(self, key)}")
        for key in ("stall_after_s", "healthy_after_s", "rotation_overlap_s", "ping_interval_s",
                    "ping_timeout_s"):
            if getattr(self, key) < 0:
                raise ConfigError(key, f"must be >= 0, got {getattr(self, key)}")
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ConfigError("reconnect_max_s", "must be >= reconnect_min_s")

    @classmethod
    def from_mapping(cls, data: dict) -> SpotStreamConfig:
        """Build from a plain mapping (e.g. a TOML section); wrong types and unknown keys raise
        ``ConfigError`` naming the key."""
        return convert_section(data, cls, "")


class Rotate(msgspec.Struct, frozen=True, gc=False):
    """Open a replacement for connection ``conn_id``; ``reason`` is a short stable string
    (``max_age`` | ``server_shutdown`` | ``stalled``)."""

    conn_id: int
    reason: str


class Close(msgspec.Struct, frozen=True, gc=False):
    """Close connection ``conn_id`` now: its replacement has been open long enough."""

    conn_id: int
    reason: str


Action = Rotate | Close


class StreamCounters(msgspec.Struct, gc=False):
    """Counters over the life of the stream (all connections). ``chars`` is the length of the
    received text frames (bytes, for the ASCII JSON Binance sends)."""

    frames: int = 0
    chars: int = 0
    trades: int = 0  # trade payloads decoded, duplicates included
    rows: int = 0  # rows delivered
    opens: int = 0
    closes: int = 0
    drops: int = 0  # unplanned closes of the live connection
    connect_failures: int = 0
    server_shutdowns: int = 0
    rotate_max_age: int = 0
    rotate_server_shutdown: int = 0
    rotate_stalled: int = 0


class ConnState:
    """Bookkeeping of one open connection (times in int ns)."""

    __slots__ = ("conn_id", "opened_ns", "last_trade_ns", "trades", "rotating", "close_at_ns")

    def __init__(self, conn_id: int, now_ns: int) -> None:
        self.conn_id = conn_id
        self.opened_ns = now_ns
        self.last_trade_ns = now_ns  # the stall window starts at the open
        self.trades = 0
        self.rotating = ""  # reason, once a replacement was asked for
        self.close_at_ns: int | None = None  # set once the replacement is open


def normalise_symbols(symbols: Iterable[str]) -> tuple[str, ...]:
    """Lower-case, de-duplicated (order kept) symbols. Raises ``ValueError`` on an empty list or
    a symbol that is not alphanumeric."""
    out = tuple(dict.fromkeys(s.strip().lower() for s in symbols))
    if not out:
        raise ValueError("at least one symbol is required")
    bad = [s for s in out if not _SYMBOL.match(s)]
    if bad:
        raise ValueError(f"invalid symbols: {bad!r}")
    return out


class SpotStreamProtocol:
    """State machine of the trade stream (one live connection, two during a rotation).
    Not thread-safe; no I/O; times are int ns; connection ids are chosen by the pump.

    Pump loop: while ``wants_connect()``: sleep ``next_connect_delay_s(rand)``, connect, then
    ``on_open`` or ``on_connect_failed``. Per frame: ``on_frame``, then ``on_trades`` /
    ``on_server_shutdown``. Timer: ``poll`` at ``next_deadline_ns`` (carry out its ``Close``
    actions). Socket gone: ``on_close``.
    """

    def __init__(self, symbols: Iterable[str], config: SpotStreamConfig | None = None) -> None:
        self.config = config = config or SpotStreamConfig()
        self.symbols = normalise_symbols(symbols)
        if len(self.symbols) > VENUE_MAX_STREAMS_PER_CONN:
            raise ValueError(f"{len(self.symbols)} symbols exceed Binance's "
                             f"{VENUE_MAX_STREAMS_PER_CONN} streams per connection")
        self.streams = tuple(f"{s}@{config.channel}" for s in self.symbols)
        self.counters = StreamCounters()
        self.attempt = 0  # consecutive failures; drives the backoff
        self.last_error = ""
        self.last_close_reason = ""
        self._conns: dict[int, ConnState] = {}
        self._live: int | None = None  # the connection whose rows count (the newest open one)
        self._need = "start"  # why a connection is wanted ("" = none wanted)
        self._fast = True  # the next attempt goes without delay (first start, planned rotation)
        self._age_ns = s_to_ns(config.max_conn_age_s)
        self._stall_ns = s_to_ns(config.stall_after_s)
        self._healthy_ns = s_to_ns(config.healthy_after_s)
        self._overlap_ns = s_to_ns(config.rotation_overlap_s)

    # -- addressing ------------------------------------------------------------------------

    def stream_path(self) -> str:
        """``/stream?streams=btcusdt@trade/ethusdt@trade`` (the combined-stream endpoint)."""
        return "/stream?streams=" + "/".join(self.streams)

    def url(self, base_url: str) -> str:
        """The full URL for ``base_url`` = ``scheme://host[:port]`` (a trailing ``/ws`` or
        ``/stream`` is tolerated and replaced)."""
        base = base_url.rstrip("/")
        for suffix in ("/ws", "/stream"):
            if base.endswith(suffix):
                base = base[: -len(suffix)]
        return base + self.stream_path()

    # -- inspection ------------------------------------------------------------------------

    @property
    def live_conn(self) -> int | None:
        return self._live

    def conns(self) -> dict[int, ConnState]:
        return dict(self._conns)

    def wants_connect(self) -> bool:
        """True when a new connection should be opened: none is live, or the live one rotates."""
        return bool(self._need)

    @property
    def need_reason(self) -> str:
        return self._need

    # -- connecting ------------------------------------------------------------------------

    def next_connect_delay_s(self, rand: float) -> float:
        """Seconds to wait before the next connect attempt (``rand`` in [0, 1)): 0 at the first
        start and for a planned rotation, else the backoff (which advances ``attempt``)."""
        if self._fast:
            self._fast = False
            return 0.0
        delay = self.backoff_s(self.attempt, rand)
        self.attempt += 1
        return delay

    def backoff_s(self, attempt: int, rand: float) -> float:
        """Full jitter above a floor: uniform in ``[min, min(max, min * 2**(attempt+1))]``, so many
        clients dropped together do not reconnect in lockstep."""
        lo = self.config.reconnect_min_s
        hi = min(self.config.reconnect_max_s, lo * 2.0 ** min(attempt + 1, 60))
        return lo + rand * (hi - lo)

    def on_connect_failed(self, now_ns: int, error: str = "") -> None:
        """A connect attempt failed (refused, DNS, TLS, rejected handshake, timeout)."""
        self.counters.connect_failures += 1
        self.last_error = error[:300]

    def on_open(self, conn_id: int, now_ns: int) -> None:
        """Connection ``conn_id`` is open and becomes the live one. A connection it replaces is
        closed by ``poll`` after ``rotation_overlap_s``."""
        self.counters.opens += 1
        self._conns[conn_id] = ConnState(conn_id, now_ns)
        old = self._conns.get(self._live) if self._live is not None else None
        if old is not None:
            old.rotating = old.rotating or "replaced"
            old.close_at_ns = now_ns + self._overlap_ns
        self._live = conn_id
        self._need = ""
        self._fast = False

    # -- input -----------------------------------------------------------------------------

    def on_frame(self, conn_id: int, nchars: int, now_ns: int) -> None:
        """Account one received frame of ``nchars`` characters (every frame, before parsing)."""
        c = self.counters
        c.frames += 1
        c.chars += nchars

    def on_trades(self, conn_id: int, trades: int, rows: int, now_ns: int) -> None:
        """``trades`` trade payloads were decoded on ``conn_id`` (``rows`` of them new):
        evidence that the connection is live, duplicates included."""
        self.counters.trades += trades
        self.counters.rows += rows
        st = self._conns.get(conn_id)
        if st is not None and trades:
            st.last_trade_ns = now_ns
            st.trades += trades

    def on_server_shutdown(self, conn_id: int, now_ns: int) -> list[Rotate]:
        """The venue announced it will close ``conn_id``: rotate it now (a no-op if it already
        rotates or is no longer tracked)."""
        self.counters.server_shutdowns += 1
        return self._rotate(conn_id, "server_shutdown")

    # -- timers ----------------------------------------------------------------------------

    def poll(self, now_ns: int) -> list[Action]:
        """Timer duty: closing replaced connections, age rotation, the stall watchdog. Returns the
        actions to carry out (each at most once)."""
        out: list[Action] = []
        for st in list(self._conns.values()):
            if st.close_at_ns is not None:
                if now_ns >= st.close_at_ns:
                    st.close_at_ns = None  # asked once; on_close forgets the connection
                    out.append(Close(st.conn_id, "replaced"))
                continue
            if st.rotating:
                continue
            if now_ns - st.opened_ns >= self._age_ns:
                out += self._rotate(st.conn_id, "max_age")
            elif self._stall_ns and now_ns - st.last_trade_ns >= self._stall_ns:
                out += self._rotate(st.conn_id, "stalled")
        return out

    def next_deadline_ns(self) -> int | None:
        """When ``poll`` next has something to do (int ns), or None (nothing open, or every open
        connection already rotating and none waiting to be closed)."""
        dl = None
        for st in self._conns.values():
            if st.close_at_ns is not None:
                dl = st.close_at_ns if dl is None else min(dl, st.close_at_ns)
                continue
            if st.rotating:
                continue
            d = st.opened_ns + self._age_ns
            if self._stall_ns:
                d = min(d, st.last_trade_ns + self._stall_ns)
            dl = d if dl is None else min(dl, d)
        return dl

    def _rotate(self, conn_id: int, reason: str) -> list[Rotate]:
        st = self._conns.get(conn_id)
        if st is None or st.rotating:
            return []
        st.rotating = reason
        setattr(self.counters, "rotate_" + reason, getattr(self.counters, "rotate_" + reason) + 1)
        if conn_id == self._live:
            self._need = reason
            # Age and shutdown: the old socket still works, replace it at once. A stall goes
            # through the backoff: if the venue is halted, replacements would stall too.
            self._fast = reason in PLANNED
        return [Rotate(conn_id, reason)]

    # -- closing ---------------------------------------------------------------------------

    def on_close(self, conn_id: int, now_ns: int, reason: str = "closed") -> bool:
        """Connection ``conn_id`` is gone (either side closed it). Returns True when it was the
        live connection and none is left, i.e. the stream has no data source until the next
        open. A replaced connection still in its overlap becomes live again instead."""
        st = self._conns.pop(conn_id, None)
        if st is None:
            return False
        self.counters.closes += 1
        self.last_close_reason = reason
        if st.trades and now_ns - st.opened_ns >= self._healthy_ns:
            self.attempt = 0  # it worked for a while: the next failure starts from min again
        if conn_id != self._live:
            return False  # a replaced connection finishing: expected
        self._live = None
        if not st.rotating:
            self.counters.drops += 1
            self._need = reason or "closed"
            self._fast = False
        elif not self._need:
            self._need = st.rotating
        # A replaced connection still inside its overlap keeps working: make it live again (it
        # stays "rotating", so a replacement is still wanted) rather than have no source at all.
        for old in self._conns.values():
            if old.close_at_ns is not None:
                old.close_at_ns = None
                self._live = old.conn_id
                return False
        return True

    def stop(self) -> None:
        """The pump is closing every connection on purpose: forget them (their ``on_close`` is
        then a no-op, not a drop) and want nothing until ``restart``."""
        if self._conns:
            self.counters.closes += len(self._conns)
            self.last_close_reason = "stopped"
        self._conns.clear()
        self._live = None
        self._need = ""

    def restart(self) -> None:
        """Want a connection again, at once (after ``stop``)."""
        if self._live is None:
            self._need = "start"
            self._fast = True
