"""Sans-I/O protocol of ONE Polymarket market-channel connection (protocol.md §1, DESIGN §3.4).

The class never touches a socket, a task or a clock: the pump (``ws.py``) feeds it what happened
(socket opened/closed, a text frame, parsed events, the time in integer ns) and carries out what it
returns (frames to send, ``Action`` objects from ``poll``). Every rule lives here, so it is tested by
driving time explicitly.

Map:
- subscriptions: the desired asset set, and what the current socket was told. ``on_open`` sends the
  initial ``{"type":"market","assets_ids":[...],"custom_feature_enabled":...}`` (nothing while the
  set is empty); ``subscribe``/``unsubscribe`` send only the delta as ``operation`` frames (the venue
  answers a duplicate with ``NO NEW ASSETS``); ``resnapshot`` sends unsubscribe+subscribe, which
  makes the venue send fresh ``book`` snapshots.
- heartbeat: text ``PING`` every ``ping_interval_s``; no ``PONG`` for ``pong_timeout_s`` -> reconnect
  (the official SDK marks a connection stale after 30 s without PONG).
- stall watchdog: no event about the subscribed assets for ``stall_after_s`` while the socket is open
  -> ``FeedStatus("stalled")`` and a resubscribe; still silent ``stall_after_s`` later -> reconnect.
- reconnect: ``on_close`` gives the ``FeedStatus("reconnecting")`` that consumers must see before the
  new socket's snapshots, and ``next_backoff_s`` a jittered exponential delay.
"""

from __future__ import annotations


import msgspec

from clobflow.core import ids
from clobflow.core.configs import convert_section

from clobflow.core.clock import s_to_ns
from clobflow.core.errors import ConfigError
from clobflow.core.events import FeedStatus, MarketResolved, NewMarket, PriceChange

VENUE_MAX_ASSETS_PER_CONN = 500
"""Polymarket's hard limit of assets per market-channel connection (protocol.md §1.1)."""

PING = "PING"
PONG = "PONG"
NO_NEW_ASSETS = "NO NEW ASSETS"


class MarketStreamConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Settings of the market-channel stream (one section; units in names).

    - ``max_assets_per_conn``: assets per connection, 1..500 (venue limit 500; NT uses 200).
    - ``ping_interval_s``: period of the text ``PING`` (venue: every 10 s).
    - ``pong_timeout_s``: reconnect when no ``PONG`` arrived for this long (SDK: 30 s).
    - ``stall_after_s``: no event about the connection's assets for this long -> resubscribe; as
      long again without one -> reconnect. 0 disables the watchdog. Quiet markets are normal: a
      resubscribe is cheap (the venue answers with fresh books, which count as events).
    - ``reconnect_min_s``/``reconnect_max_s``: bounds of the jittered exponential backoff.
    - ``healthy_after_s``: a session open this long that received a PONG or data resets the backoff.
    - ``custom_feature_enabled``: needed for ``best_bid_ask``, ``new_market``, ``market_resolved``.
    - ``open_timeout_s``, ``close_timeout_s``: WebSocket handshake and closing-handshake limits.
    - ``max_frame_bytes``: largest accepted frame (the initial dump of 500 books is large).

    Raises ``ConfigError`` (naming the key) on an invalid value.
    """

    max_assets_per_conn: int = 200
    ping_interval_s: float = 10.0
    pong_timeout_s: float = 30.0
    stall_after_s: float = 60.0
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0
    healthy_after_s: float = 10.0
    custom_feature_enabled: bool = True
    open_timeout_s: float = 10.0
    close_timeout_s: float = 2.0
    max_frame_bytes: int = 16 * 1024 * 1024

    def __post_init__(self) -> None:
        if not 1 <= self.max_assets_per_conn <= VENUE_MAX_ASSETS_PER_CONN:
            raise ConfigError(
                "max_assets_per_conn",
                f"{self.max_assets_per_conn} is outside 1..{VENUE_MAX_ASSETS_PER_CONN} "
                "(Polymarket allows at most 500 assets per connection)",
            )
        for key in ("ping_interval_s", "pong_timeout_s", "reconnect_min_s", "open_timeout_s",
                    "close_timeout_s", "max_frame_bytes"):
            if getattr(self, key) <= 0:
                raise ConfigError(key, f"must be > 0, got {getattr(self, key)}")
        for key in ("stall_after_s", "healthy_after_s"):
            if getattr(self, key) < 0:
                raise ConfigError(key, f"must be >= 0, got {getattr(self, key)}")
        if self.pong_timeout_s <= self.ping_interval_s:
            raise ConfigError("pong_timeout_s", "must exceed ping_interval_s (a PONG answers a PING)")
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ConfigError("reconnect_max_s", "must be >= reconnect_min_s")

    @classmethod
    def from_mapping(cls, data: dict) -> MarketStreamConfig:
        """Build from a plain mapping (e.g. a TOML section); wrong types and unknown keys raise
        ``ConfigError`` naming the key."""
        return convert_section(data, cls, "")


class Send(msgspec.Struct, frozen=True, gc=False):
    """Send this text frame on the connection."""

    text: str


class Reconnect(msgspec.Struct, frozen=True, gc=False):
    """Close the socket and reconnect; ``reason`` is a short stable string."""

    reason: str


class Status(msgspec.Struct, frozen=True, gc=False):
    """Deliver this ``FeedStatus`` to the event consumers."""

    status: FeedStatus


Action = Send | Reconnect | Status


class ConnCounters(msgspec.Struct, gc=False):
    """Counters of one connection (monotonic over its life, across reconnects).

    ``chars`` is the length of the received text frames: equal to bytes for the ASCII JSON the
    venue sends (it avoids re-encoding every frame).
    """

    frames: int = 0
    chars: int = 0
    events: int = 0
    text_frames: int = 0
    pongs: int = 0
    no_new_assets: int = 0
    other_text: int = 0
    pings_sent: int = 0
    frames_sent: int = 0
    opens: int = 0
    reconnects: int = 0
    connect_failures: int = 0
    pong_timeouts: int = 0
    stalls: int = 0
    resubscribes: int = 0


def _frame(obj: dict) -> str:
    return msgspec.json.encode(obj).decode()


class MarketChannelProtocol:
    """State machine of one market-channel connection. Not thread-safe; no I/O; times are int ns.

    Lifecycle: ``on_open`` -> (``on_text`` / ``on_events`` / ``poll`` / ``subscribe`` ...)* ->
    ``on_close`` -> ``next_backoff_s`` -> ``on_open`` ... Subscriptions may change while closed;
    the next ``on_open`` sends the whole desired set.
    """

    __slots__ = (
        "config", "counters", "attempt", "last_text", "_desired", "_sent", "_open", "_initial_sent",
        "_closing", "_opened_ns", "_next_ping_ns", "_last_pong_ns", "_last_data_ns",
        "_resubscribed_ns", "_healthy", "_ping_ns", "_pong_ns", "_stall_ns",
    )

    def __init__(self, config: MarketStreamConfig | None = None) -> None:
        self.config = config = config or MarketStreamConfig()
        self.counters = ConnCounters()
        self.attempt = 0  # consecutive failed connects / unhealthy sessions, drives the backoff
        self.last_text = ""
        self._desired: dict[str, None] = {}  # ordered set: deterministic frames
        self._sent: set[str] = set()  # what the current socket was told
        self._open = False
        self._initial_sent = False
        self._closing = False  # a Reconnect was returned: stay quiet until on_close
        self._opened_ns = 0
        self._next_ping_ns = 0
        self._last_pong_ns = 0
        self._last_data_ns = 0  # last event about a desired asset (or the open / first subscribe)
        self._resubscribed_ns: int | None = None  # set while a stall resubscribe awaits data
        self._healthy = False
        self._ping_ns = s_to_ns(config.ping_interval_s)
        self._pong_ns = s_to_ns(config.pong_timeout_s)
        self._stall_ns = s_to_ns(config.stall_after_s)

    # -- inspection ------------------------------------------------------------------------

    @property
    def assets(self) -> tuple[str, ...]:
        """The desired asset set, in subscription order."""
        return tuple(self._desired)

    @property
    def is_open(self) -> bool:
        return self._open

    def room(self) -> int:
        """How many more assets this connection may take."""
        return self.config.max_assets_per_conn - len(self._desired)

    def last_data_ns(self) -> int:
        """Time of the last event about a subscribed asset (or of the open / first subscribe)."""
        return self._last_data_ns

    # -- subscriptions ---------------------------------------------------------------------

    # Assets are kept as the engine names them (``POLYMARKET:<token>``, or bare in the
    # simulator's own tests), which is also how parsed events name them, so the stall watchdog
    # compares like with like; only the frames sent to the venue carry its bare ids.

    def _initial(self, assets: list[str]) -> str:
        return _frame({"type": "market", "assets_ids": [ids.raw(a) for a in assets],
                       "custom_feature_enabled": self.config.custom_feature_enabled})

    def _op(self, op: str, assets: list[str]) -> str:
        return _frame({"operation": op, "assets_ids": [ids.raw(a) for a in assets],
                       "custom_feature_enabled": self.config.custom_feature_enabled})

    def on_open(self, now_ns: int) -> list[str]:
        """The socket is open: returns the frames to send first (the initial subscription, or
        nothing while the asset set is empty). Resets heartbeat and watchdog deadlines."""
        self._open = True
        self._closing = False
        self._healthy = False
        self._opened_ns = self._last_pong_ns = self._last_data_ns = now_ns
        self._resubscribed_ns = None
        self._next_ping_ns = now_ns + self._ping_ns
        self.counters.opens += 1
        self._sent = set(self._desired)
        self._initial_sent = bool(self._desired)
        if not self._desired:
            return []
        self.counters.frames_sent += 1
        return [self._initial(list(self._desired))]

    def subscribe(self, assets, now_ns: int) -> list[str]:
        """Add assets; returns the frames to send now (only the assets not yet subscribed).

        Raises ``ValueError`` when the connection would exceed ``max_assets_per_conn`` (the pump
        distributes assets so this never happens)."""
        new = [a for a in dict.fromkeys(assets) if a not in self._desired]
        if not new:
            return []
        if len(new) > self.room():
            raise ValueError(f"{len(new)} assets exceed this connection's room of {self.room()}")
        for a in new:
            self._desired[a] = None
        if not self._open:
            return []  # on_open sends the whole set
        if not self._sent:
            # The watchdog had nothing to watch: its window starts with these assets.
            self._last_data_ns = max(self._last_data_ns, now_ns)
        if not self._initial_sent:
            # The first assets of a socket opened empty: the venue expects the initial message.
            self._initial_sent = True
            self._sent.update(new)
            self.counters.frames_sent += 1
            return [self._initial(new)]
        self._sent.update(new)
        self.counters.frames_sent += 1
        return [self._op("subscribe", new)]

    def unsubscribe(self, assets, now_ns: int) -> list[str]:
        """Remove assets; returns the frames to send now (only assets that were subscribed)."""
        gone = [a for a in dict.fromkeys(assets) if a in self._desired]
        for a in gone:
            del self._desired[a]
        told = [a for a in gone if a in self._sent]
        if not told or not self._open:
            return []
        self._sent.difference_update(told)
        if not self._sent:
            self._resubscribed_ns = None  # nothing left to watch
        self.counters.frames_sent += 1
        return [self._op("unsubscribe", told)]

    def resnapshot(self, assets, now_ns: int) -> list[str]:
        """Unsubscribe+subscribe frames for owned assets whose book must be rebuilt (the venue
        answers the subscribe with fresh ``book`` snapshots). Nothing while closed: the next
        ``on_open`` brings a full dump anyway."""
        owned = [a for a in dict.fromkeys(assets) if a in self._sent]
        if not owned or not self._open:
            return []
        self.counters.resubscribes += 1
        self.counters.frames_sent += 2
        return [self._op("unsubscribe", owned), self._op("subscribe", owned)]

    # -- input -----------------------------------------------------------------------------

    def count_frame(self, nchars: int) -> None:
        """Account one received frame of ``nchars`` characters (called for every frame)."""
        c = self.counters
        c.frames += 1
        c.chars += nchars

    def on_text(self, text: str, now_ns: int) -> str:
        """Classify a plain-text (non-JSON) frame: returns ``"pong"``, ``"no_new_assets"`` or
        ``"other"``. A PONG pushes the pong deadline back."""
        c = self.counters
        c.text_frames += 1
        t = text.strip()
        if t == PONG:
            c.pongs += 1
            self._last_pong_ns = now_ns
            self._healthy = True
            return "pong"
        self.last_text = t[:200]
        if t == NO_NEW_ASSETS:
            c.no_new_assets += 1
            return "no_new_assets"
        c.other_text += 1
        return "other"

    def on_events(self, events: list, now_ns: int) -> bool:
        """Record parsed events; returns True when one concerns a subscribed asset (evidence of a
        live feed for the stall watchdog). ``new_market`` for other assets is broadcast to every
        connection and proves nothing about ours."""
        self.counters.events += len(events)
        if not self._concerns(events):
            return False
        self._last_data_ns = now_ns
        self._resubscribed_ns = None
        self._healthy = True
        return True

    def _concerns(self, events: list) -> bool:
        d = self._desired
        for ev in events:
            t = type(ev)
            if t is PriceChange:
                for ch in ev.changes:
                    if ch.asset_id in d:
                        return True
            elif t is NewMarket or t is MarketResolved:
                for a in ev.asset_ids:
                    if a in d:
                        return True
            else:
                a = getattr(ev, "asset_id", None)
                if a is not None and a in d:
                    return True
        return False

    # -- timers ----------------------------------------------------------------------------

    def poll(self, now_ns: int) -> list[Action]:
        """Timer duty at ``now_ns``: heartbeat, pong deadline, stall watchdog. Returns actions in
        the order to carry out. After a ``Reconnect`` nothing more until ``on_close``."""
        if not self._open or self._closing:
            return []
        out: list[Action] = []
        if now_ns - self._last_pong_ns >= self._pong_ns:
            self.counters.pong_timeouts += 1
            self._closing = True
            return [Reconnect("pong_timeout")]
        if now_ns >= self._next_ping_ns:
            out.append(Send(PING))
            self.counters.pings_sent += 1
            self.counters.frames_sent += 1
            self._next_ping_ns = now_ns + self._ping_ns
        if self._stall_ns > 0 and self._sent:
            assets = tuple(a for a in self._desired if a in self._sent)
            resub = self._resubscribed_ns
            if resub is not None and now_ns - resub >= self._stall_ns:
                self.counters.stalls += 1
                self._closing = True
                out.append(Status(FeedStatus(assets, "stalled", "silent_after_resubscribe", now_ns)))
                out.append(Reconnect("stalled"))
            elif resub is None and now_ns - self._last_data_ns >= self._stall_ns:
                self.counters.stalls += 1
                self.counters.resubscribes += 1
                self.counters.frames_sent += 2
                self._resubscribed_ns = now_ns
                lst = list(assets)
                out.append(Status(FeedStatus(assets, "stalled", "no_events", now_ns)))
                out.append(Send(self._op("unsubscribe", lst)))
                out.append(Send(self._op("subscribe", lst)))
                out.append(Status(FeedStatus(assets, "resubscribed", "stall", now_ns)))
        return out

    def next_deadline_ns(self) -> int | None:
        """When ``poll`` next has something to do (int ns), or None while closed/closing."""
        if not self._open or self._closing:
            return None
        dl = min(self._next_ping_ns, self._last_pong_ns + self._pong_ns)
        if self._stall_ns > 0 and self._sent:
            resub = self._resubscribed_ns
            base = self._last_data_ns if resub is None else resub
            dl = min(dl, base + self._stall_ns)
        return dl

    # -- closing and backoff ---------------------------------------------------------------

    def on_close(self, now_ns: int, reason: str = "closed") -> FeedStatus | None:
        """The socket closed (by either side). Returns the ``FeedStatus("reconnecting")`` to deliver
        before reconnecting (None when nothing was subscribed on it). Ends the session's
        bookkeeping; a healthy session resets the backoff attempt counter."""
        was_open = self._open
        told = tuple(a for a in self._desired if a in self._sent)
        if was_open:
            self.counters.reconnects += 1
            if self._healthy and now_ns - self._opened_ns >= s_to_ns(self.config.healthy_after_s):
                self.attempt = 0
        self._open = False
        self._closing = False
        self._initial_sent = False
        self._sent = set()
        self._resubscribed_ns = None
        if not was_open or not told:
            return None
        return FeedStatus(told, "reconnecting", reason, now_ns)

    def on_connect_failed(self, now_ns: int) -> None:
        """A connection attempt failed (refused, DNS, handshake, timeout)."""
        self.counters.connect_failures += 1

    def backoff_s(self, attempt: int, rand: float) -> float:
        """Delay in seconds before reconnect number ``attempt`` (0-based), ``rand`` in [0, 1).

        Full jitter above a floor: uniform in ``[min, min(max, min * 2**(attempt+1))]``, so a pool
        of connections dropped together does not reconnect in lockstep."""
        lo = self.config.reconnect_min_s
        hi = min(self.config.reconnect_max_s, lo * 2.0 ** min(attempt + 1, 60))
        return lo + rand * (hi - lo)

    def next_backoff_s(self, rand: float) -> float:
        """The delay before the next attempt (seconds); advances the attempt counter."""
        delay = self.backoff_s(self.attempt, rand)
        self.attempt += 1
        return delay
