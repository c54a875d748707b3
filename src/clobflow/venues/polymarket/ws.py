"""Asyncio pump of the Polymarket market channel: a pool of WebSocket connections.

The pump only reads, writes, sleeps and reconnects (DESIGN §3.4). Every rule (what to send on open,
subscription deltas, PING/PONG deadlines, the stall watchdog, backoff) lives in
``protocol.MarketChannelProtocol``, one instance per connection.

Map:
- assets are spread so no connection holds more than ``max_assets_per_conn``; new assets go to the
  first connection with room, else to a new connection.
- each connection runs one task: connect -> session -> ``FeedStatus("reconnecting")`` to the
  consumer -> jittered backoff -> connect again. A failure to connect (refused, DNS, TLS, rejected
  handshake, timeout) is counted and retried; it never ends the stream.
- a session is a reader (this task) plus a timer task that runs ``protocol.poll`` at the protocol's
  next deadline.
- per frame, with no ``await`` in between: ``on_raw(text, ts_recv_ns, conn_id)`` (the recorder
  hook, before parsing) -> parse -> ``on_events(events, conn_id)``. Plain-text frames (``PONG``,
  ``NO NEW ASSETS``) go to the protocol, not the parser, and produce no callback.

Consumer duty: ``FeedStatus`` events arrive through the same ``on_events`` callback (``reconnecting``
before a reconnect, ``stalled``/``resubscribed`` from the watchdog, ``unsubscribed`` after
``unsubscribe``). Feeding them to ``BookSet.on_event`` keeps book trust right; tokens that
``BookSet.take_resync()`` returns must be passed to ``resnapshot``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Iterable

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from clobflow.core.clock import Clock, LiveClock
from clobflow.core.events import FeedStatus
from clobflow.venues.polymarket.parsing import MarketParser
from clobflow.venues.polymarket.protocol import (
    ConnCounters,
    MarketChannelProtocol,
    MarketStreamConfig,
    Reconnect,
    Send,
    Status,
)

MARKET_WS_URL = "wss://ws-subscriptions-clob.polymarket.com/ws/market"
"""Production market channel (protocol.md §1; SDK ``environments.py``)."""

log = logging.getLogger(__name__)

OnEvents = Callable[[list, int], None]
OnRaw = Callable[[str, int, int], None]
_COUNTER_FIELDS = ConnCounters.__struct_fields__


class _Conn:
    """One pooled connection: its protocol, socket and task."""

    __slots__ = ("id", "proto", "ws", "task", "state", "wake", "send_lock", "close_reason",
                 "last_error", "active", "stalled_ns")

    def __init__(self, conn_id: int, config: MarketStreamConfig) -> None:
        self.id = conn_id
        self.proto = MarketChannelProtocol(config)
        self.ws: ClientConnection | None = None
        self.task: asyncio.Task | None = None
        self.state = "new"  # new | connecting | open | closed
        self.wake = asyncio.Event()  # deadlines changed: the timer recomputes its sleep
        self.send_lock = asyncio.Lock()  # keeps frames of concurrent callers in call order
        self.close_reason = ""  # set when we close the socket ourselves
        self.last_error = ""
        self.active = True  # False once retired (no assets left) or removed
        self.stalled_ns = 0  # last data before the stall watchdog fired (0: not stalled), for its logs


class MarketStream:
    """A pool of market-channel connections that delivers parsed events synchronously.

    ``on_events(events, conn_id)`` is called right after each frame is parsed (never with an empty
    list), and with ``FeedStatus`` events from the feed itself. ``on_raw(text, ts_recv_ns,
    conn_id)``, when given, receives every frame untouched before parsing. Exceptions raised by
    either callback are counted (``callback_errors``), the first is logged, and the stream goes on.
    ``connect_options`` are extra keyword arguments for ``websockets.asyncio.client.connect``
    (e.g. ``proxy=None``, ``additional_headers``).
    """

    def __init__(
        self,
        url: str = MARKET_WS_URL,
        config: MarketStreamConfig | None = None,
        *,
        on_events: OnEvents,
        on_raw: OnRaw | None = None,
        parser: MarketParser | None = None,
        venue: str = "",
        clock: Clock | None = None,
        rng: random.Random | None = None,
        connect_options: dict | None = None,
    ) -> None:
        self.url = url
        self.config = config or MarketStreamConfig()
        self._on_events = on_events
        self._on_raw = on_raw
        # venue "polymarket": events and FeedStatus name assets POLYMARKET:<token>, and so must
        # subscribe/unsubscribe/resnapshot (the protocol strips the prefix on the wire)
        self.parser = parser or MarketParser(venue)
        self._clock = clock or LiveClock()
        self._rng = rng or random.Random()
        self._connect_options = dict(connect_options or {})
        self._conns: dict[int, _Conn] = {}
        self._owner: dict[str, _Conn] = {}
        self._next_id = 0
        self._started = False
        self._stopping = False
        self._retired = ConnCounters()  # counters of connections no longer in the pool
        self.callback_errors = 0
        self.binary_frames = 0

    # -- public API ------------------------------------------------------------------------

    async def start(self) -> None:
        """Launch a task per connection (connections are created by ``subscribe``)."""
        if self._started:
            return
        self._started = True
        self._stopping = False
        for conn in self._conns.values():
            if conn.task is None:
                self._launch(conn)

    async def stop(self) -> None:
        """Close every socket cleanly and cancel the tasks. No ``FeedStatus`` is delivered: after
        ``stop`` the consumer must treat every book as stale. The subscriptions are kept:
        ``start`` again reconnects them."""
        self._stopping = True
        conns = list(self._conns.values())
        await asyncio.gather(*(c.ws.close() for c in conns if c.ws is not None),
                             return_exceptions=True)
        tasks = [c.task for c in conns if c.task is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for c in conns:
            c.task = None
            c.state = "closed"
        self._started = False

    async def run_for(self, seconds: float) -> None:
        """Start, run for ``seconds``, stop."""
        await self.start()
        try:
            await asyncio.sleep(seconds)
        finally:
            await self.stop()

    async def subscribe(self, assets: Iterable[str]) -> int:
        """Subscribe token ids (duplicates and already subscribed ones ignored). Returns how many
        were new. Frames go out now on open sockets; others send them when they open."""
        new = [a for a in dict.fromkeys(assets) if a not in self._owner]
        if not new:
            return 0
        now = self._clock.now_ns()
        limit = self.config.max_assets_per_conn
        plan: list[tuple[_Conn, list[str]]] = []
        i = 0
        for conn in self._conns.values():
            room = conn.proto.room()
            if i < len(new) and room > 0:
                plan.append((conn, new[i:i + room]))
                i += room
        while i < len(new):
            plan.append((self._new_conn(), new[i:i + limit]))
            i += limit
        # All state changes first (no await), then the I/O: a concurrent call sees a consistent pool.
        sends = []
        for conn, chunk in plan:
            for a in chunk:
                self._owner[a] = conn
            sends.append((conn, conn.proto.subscribe(chunk, now)))
        for conn, frames in sends:
            await self._send_all(conn, frames)
            conn.wake.set()
            if self._started and conn.task is None:
                self._launch(conn)
        return len(new)

    async def unsubscribe(self, assets: Iterable[str]) -> int:
        """Unsubscribe token ids; delivers ``FeedStatus(..., "unsubscribed")`` so consumers drop
        the books. A connection left with no asset is closed. Returns how many were known."""
        groups = self._group(assets, pop=True)
        now = self._clock.now_ns()
        sends = []
        for conn, chunk in groups.items():
            sends.append((conn, conn.proto.unsubscribe(chunk, now)))
            self._deliver([FeedStatus(tuple(chunk), "unsubscribed", "unsubscribe", now)], conn.id)
        for conn, frames in sends:
            await self._send_all(conn, frames)
            if not conn.proto.assets and conn.active:
                await self._retire(conn)
        return sum(len(c) for c in groups.values())

    async def resnapshot(self, assets: Iterable[str]) -> int:
        """Ask the owning connections to resend books (unsubscribe+subscribe) for these tokens,
        e.g. those from ``BookSet.take_resync()``. Returns how many were routed."""
        groups = self._group(assets, pop=False)
        now = self._clock.now_ns()
        sends = [(conn, conn.proto.resnapshot(chunk, now)) for conn, chunk in groups.items()]
        for conn, frames in sends:
            await self._send_all(conn, frames)
        return sum(len(c) for c in groups.values())

    def assignment(self) -> dict[int, tuple[str, ...]]:
        """Connection id -> its assets."""
        return {cid: c.proto.assets for cid, c in self._conns.items()}

    def owner_of(self, asset_id: str) -> int | None:
        conn = self._owner.get(asset_id)
        return None if conn is None else conn.id

    def stats(self) -> dict:
        """Counters (summed over connections, including retired ones), parser rejects by reason,
        and per-connection state: ``state``, ``assets``, ``last_event_age_s`` (None unless open),
        ``attempt`` (backoff), ``last_error``."""
        now = self._clock.now_ns()
        totals = {f: getattr(self._retired, f) for f in _COUNTER_FIELDS}
        conns = []
        for c in self._conns.values():
            p = c.proto
            row: dict = {"id": c.id, "state": c.state, "assets": len(p.assets),
                         "last_event_age_s": (now - p.last_data_ns()) / 1e9 if p.is_open else None,
                         "attempt": p.attempt, "last_error": c.last_error}
            for f in _COUNTER_FIELDS:
                v = getattr(p.counters, f)
                row[f] = v
                totals[f] += v
            conns.append(row)
        par = self.parser
        return {
            "connections": len(self._conns),
            "assets": len(self._owner),
            **totals,
            "callback_errors": self.callback_errors,
            "binary_frames": self.binary_frames,
            "parser": {
                "frames": getattr(par, "frames", 0),
                "events": getattr(par, "events", 0),
                "text": getattr(par, "text", 0),
                "rejects": dict(getattr(par, "rejects", {})),
                "last_reject": getattr(par, "last_reject", ""),
            },
            "conns": conns,
        }

    # -- pool ------------------------------------------------------------------------------

    def _new_conn(self) -> _Conn:
        conn = _Conn(self._next_id, self.config)
        self._next_id += 1
        self._conns[conn.id] = conn
        return conn

    def _launch(self, conn: _Conn) -> None:
        conn.task = asyncio.get_running_loop().create_task(
            self._run(conn), name=f"clobflow-pm-market-{conn.id}")

    def _group(self, assets: Iterable[str], *, pop: bool) -> dict[_Conn, list[str]]:
        groups: dict[_Conn, list[str]] = {}
        for a in dict.fromkeys(assets):
            conn = self._owner.pop(a, None) if pop else self._owner.get(a)
            if conn is not None:
                groups.setdefault(conn, []).append(a)
        return groups

    async def _retire(self, conn: _Conn) -> None:
        conn.active = False
        self._conns.pop(conn.id, None)
        for f in _COUNTER_FIELDS:
            setattr(self._retired, f, getattr(self._retired, f) + getattr(conn.proto.counters, f))
        if conn.ws is not None:
            conn.close_reason = "retired"
            await conn.ws.close()
        if conn.task is not None:
            conn.task.cancel()
            await asyncio.gather(conn.task, return_exceptions=True)
        conn.state = "closed"

    # -- connection task -------------------------------------------------------------------

    async def _run(self, conn: _Conn) -> None:
        proto, clock, cfg = conn.proto, self._clock, self.config
        options = {"ping_interval": None,  # Polymarket uses the text PING, not protocol pings
                   "open_timeout": cfg.open_timeout_s, "close_timeout": cfg.close_timeout_s,
                   "max_size": cfg.max_frame_bytes, **self._connect_options}
        try:
            while not self._stopping and conn.active:
                conn.state = "connecting"
                try:
                    ws = await connect(self.url, **options)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # refused, DNS, TLS, rejected handshake, timeout
                    proto.on_connect_failed(clock.now_ns())
                    conn.state = "closed"
                    conn.last_error = f"{type(exc).__name__}: {exc}"[:300]
                    log.warning("market ws %d: connect failed (%s), attempt %d",
                                conn.id, conn.last_error, proto.attempt + 1)
                    await asyncio.sleep(proto.next_backoff_s(self._rng.random()))
                    continue
                reason = await self._session(conn, ws)
                conn.ws = None
                conn.state = "closed"
                status = proto.on_close(clock.now_ns(), reason)
                if self._stopping or not conn.active:
                    break
                log.info("market ws %d: closed (%s), reconnecting", conn.id, reason)
                if status is not None:
                    # Before the reconnect: consumers distrust these books until the new dump.
                    self._deliver([status], conn.id)
                await asyncio.sleep(proto.next_backoff_s(self._rng.random()))
        finally:
            if proto.is_open:
                proto.on_close(clock.now_ns(), "stopped")
            conn.ws = None
            conn.state = "closed"

    async def _session(self, conn: _Conn, ws: ClientConnection) -> str:
        """Run one open socket until it closes; returns the close reason."""
        proto = conn.proto
        conn.ws = ws
        conn.close_reason = ""
        conn.state = "open"
        timer = None
        try:
            async with conn.send_lock:
                for frame in proto.on_open(self._clock.now_ns()):
                    await ws.send(frame)
            timer = asyncio.get_running_loop().create_task(self._timer(conn, ws))
            await self._read(conn, ws)
        except ConnectionClosed:
            pass
        except Exception:  # a bug of ours: log it, and let the reconnect loop start afresh
            log.exception("market ws %d: session failed", conn.id)
            conn.close_reason = conn.close_reason or "internal_error"
        finally:
            if timer is not None:
                timer.cancel()
                await asyncio.gather(timer, return_exceptions=True)
            await ws.close()
        if conn.close_reason:
            return conn.close_reason
        code = ws.close_code
        return "connection_lost" if code in (None, 1006) else f"venue_closed_{code}"

    async def _read(self, conn: _Conn, ws: ClientConnection) -> None:
        # The per-frame path: no await between receive, on_raw, parse and on_events.
        proto, clock, cid = conn.proto, self._clock, conn.id
        parse, on_raw, on_events = self.parser.parse, self._on_raw, self._on_events
        async for msg in ws:
            ts = clock.now_ns()
            if type(msg) is not str:
                self.binary_frames += 1
                msg = msg.decode("utf-8", "replace")
            if on_raw is not None:
                try:
                    on_raw(msg, ts, cid)
                except Exception:
                    self._callback_failed("on_raw")
            proto.count_frame(len(msg))
            first = msg[:1]
            if first != "{" and first != "[" and msg and msg.lstrip()[:1] not in ("{", "["):
                proto.on_text(msg, ts)
                continue
            events = parse(msg, ts)
            if events:
                proto.on_events(events, ts)
                if conn.stalled_ns:
                    log.warning("market ws %d: events again after %.1f s of silence", cid, (ts - conn.stalled_ns) / 1e9)
                    conn.stalled_ns = 0
                try:
                    on_events(events, cid)
                except Exception:
                    self._callback_failed("on_events")

    async def _timer(self, conn: _Conn, ws: ClientConnection) -> None:
        try:
            await self._tick(conn, ws)
        except Exception:  # without heartbeats the session is unsafe: end it
            log.exception("market ws %d: timer failed", conn.id)
            conn.close_reason = conn.close_reason or "internal_error"
            await ws.close()

    async def _tick(self, conn: _Conn, ws: ClientConnection) -> None:
        proto, clock = conn.proto, self._clock
        while True:
            conn.wake.clear()
            for act in proto.poll(clock.now_ns()):
                t = type(act)
                if t is Send:
                    await self._send(conn, ws, act.text)
                elif t is Status:
                    st = act.status
                    if st.status == "stalled":  # the watchdog fired: say so once, loudly
                        conn.stalled_ns = conn.stalled_ns or proto.last_data_ns() or st.ts_recv_ns
                        log.warning("market ws %d: stalled (%s): no events on %d assets for %.1f s, %s", conn.id,
                                    st.reason, len(st.asset_ids), (st.ts_recv_ns - proto.last_data_ns()) / 1e9,
                                    "reconnecting" if st.reason == "silent_after_resubscribe" else "resubscribing")
                    self._deliver([st], conn.id)
                elif t is Reconnect:
                    conn.close_reason = act.reason
                    log.info("market ws %d: closing (%s)", conn.id, act.reason)
                    await ws.close(1000, act.reason)
                    return
            deadline = proto.next_deadline_ns()
            timeout = None
            if deadline is not None:
                # +1 ms: never wake a hair before the deadline and spin.
                timeout = max(0.0, (deadline - clock.now_ns()) / 1e9) + 0.001
            try:
                async with asyncio.timeout(timeout):
                    await conn.wake.wait()
            except TimeoutError:
                pass

    # -- I/O helpers -----------------------------------------------------------------------

    async def _send(self, conn: _Conn, ws: ClientConnection, text: str) -> None:
        try:
            async with conn.send_lock:
                await ws.send(text)
        except ConnectionClosed:
            pass  # the reader sees the close; the next on_open resends the whole set

    async def _send_all(self, conn: _Conn, frames: list[str]) -> None:
        ws = conn.ws
        if ws is None:
            return  # not open: the protocol sends everything on the next open
        for f in frames:
            await self._send(conn, ws, f)

    def _deliver(self, events: list, conn_id: int) -> None:
        try:
            self._on_events(events, conn_id)
        except Exception:
            self._callback_failed("on_events")

    def _callback_failed(self, which: str) -> None:
        self.callback_errors += 1
        if self.callback_errors == 1 or self.callback_errors % 1000 == 0:
            log.exception("market ws: %s callback raised (%d so far)", which, self.callback_errors)
