"""``VenueServer``: a local Polymarket look-alike serving a ``Dataset`` over real sockets.

One port serves both:

- ``ws://HOST:PORT/ws/market``: the market channel (protocol.md §1; see ``hub``), replaying the
  dataset's frames on the venue clock (see ``replay``);
- ``http://HOST:PORT/...``: Gamma ``/markets`` and ``/events``, CLOB ``/book`` and ``/time``,
  and the simulator's ``/_sim/state`` and ``/_sim/fault`` (see ``rest``).

The venue keeps its own book per token (``books``), applying every frame it emits, so subscribe
snapshots and ``/book`` are current. Faults (``inject`` or ``POST /_sim/fault``; see
``faults``) act on what is delivered, never on that state. Everything runs on one asyncio loop;
call ``inject``/``state`` from that loop.

Usage::

    async with VenueServer(load_dataset("pm-btc15m-tob-1s"), speed=10) as venue:
        ...  # connect to venue.ws_url, query venue.http_url
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgspec
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from clobflow.recorder.frames import RawFrame
from clobflow.sim.datasets import wire
from clobflow.sim.datasets.base import Dataset, iso_utc
from clobflow.sim.venue import faults as faultlib
from clobflow.sim.venue.books import VenueBooks
from clobflow.sim.venue.faults import FaultError, Faults
from clobflow.sim.venue.httpio import body_connection, json_response, request_body, split_target
from clobflow.sim.venue.hub import Hub
from clobflow.sim.venue.replay import Replayer
from clobflow.sim.venue.rest import RestApi

WS_PATH = "/ws/market"

log = logging.getLogger(__name__)


def _decode(text: str) -> tuple[list[dict], bool]:
    """A recorded frame's events and whether it was an array (plain text -> no events)."""
    try:
        obj = msgspec.json.decode(text)
    except msgspec.DecodeError:
        return [], False
    if isinstance(obj, list):
        return [e for e in obj if isinstance(e, dict)], True
    return ([obj] if isinstance(obj, dict) else []), False


class VenueServer:
    """A WebSocket + HTTP venue simulator on one port.

    Args:
        dataset: what to replay and list.
        host, port: where to listen (``port=0``: any free port; read ``.port`` after start).
        speed: venue-clock rate: 1.0 real time, N N× faster, 0 as fast as consumers read.
        loop: restart from the beginning when the data ends (books are re-sent).
        start_at_ns: start the replay at this venue time (earlier frames only build state).
        wait_for_subscribers: hold the clock at the start until this many connections have
            subscribed (0: start at once). ``release()`` starts it by hand.
        queue_max: per-connection send queue bound in frames (overflow drops the connection).
        slow_consumer_timeout_s: at speed 0 the replay waits for queues over half full; a
            connection still over half full after this long is dropped.
    """

    def __init__(
        self,
        dataset: Dataset,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        speed: float = 1.0,
        loop: bool = False,
        start_at_ns: int | None = None,
        wait_for_subscribers: int = 1,
        queue_max: int = 10_000,
        slow_consumer_timeout_s: float = 5.0,
    ) -> None:
        if speed < 0:
            raise ValueError(f"speed must be >= 0, got {speed}")
        if queue_max < 2:
            raise ValueError("queue_max must be >= 2")
        self.dataset = dataset
        self.host = host
        self._want_port = port
        self.speed = speed
        self.loop = loop
        self.start_at_ns = start_at_ns
        if wait_for_subscribers < 0:
            raise ValueError("wait_for_subscribers must be >= 0")
        self.wait_for_subscribers = wait_for_subscribers
        self._subscribers: set[int] = set()
        self.queue_max = queue_max
        self.slow_consumer_timeout_s = slow_consumer_timeout_s
        self.books = VenueBooks()
        self.rest = RestApi(self)
        self.frames_replayed = 0
        self.emit_errors = 0
        self._server: Server | None = None
        self._task: asyncio.Task | None = None
        self.replay: Replayer | None = None
        self.hub: Hub | None = None
        self.faults: Faults | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen and start the replay task. Raises ``OSError`` if the port is unavailable."""
        loop = asyncio.get_running_loop()
        self.books.clear()
        self._subscribers.clear()
        self.frames_replayed = 0
        self.faults = Faults(loop.time)
        self.replay = Replayer(
            self.dataset.frames,
            emit=self._emit,
            apply=self._apply,
            on_restart=self.books.clear,
            pace=self._pace,
            speed=self.speed,
            loop=self.loop,
            start_at_ns=self.start_at_ns,
            hold=self.wait_for_subscribers > 0,
        )
        self.hub = Hub(
            self.books, clock_ns=self.replay.now_ns, queue_max=self.queue_max,
            on_subscribe=self._on_subscribe,
        )
        self._server = await serve(
            self.hub.serve,
            self.host,
            self._want_port,
            process_request=self._process_request,
            create_connection=body_connection,
            compression=None,
            ping_interval=None,  # the market channel uses application-level PING/PONG
        )
        self._task = asyncio.create_task(self._run_replay(), name="venue-replay")

    async def _run_replay(self) -> None:
        await self.replay.run()  # type: ignore[union-attr]
        # a frame held back for a reorder fault must not be lost when the data ends
        for conn, text in self.faults.flush():  # type: ignore[union-attr]
            self.hub.enqueue(conn, text)  # type: ignore[union-attr]

    def _on_subscribe(self, conn: Any) -> None:
        self._subscribers.add(conn.id)
        if len(self._subscribers) >= self.wait_for_subscribers and self.replay is not None:
            self.replay.release()

    def release(self) -> None:
        """Start a held replay now, whoever has subscribed."""
        if self.replay is not None:
            self.replay.release()

    async def stop(self) -> None:
        """Stop the replay, close every connection and the listening socket."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        if self._server is not None:
            self._server.close(close_connections=False)
            if self.hub is not None:
                self.hub.abort()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> VenueServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def wait_replayed(self, timeout: float | None = None) -> None:
        """Wait until the replay has emitted every frame (never returns with ``loop``)."""
        assert self._task is not None, "not started"
        await asyncio.wait_for(asyncio.shield(self._task), timeout)

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return self._server.sockets[0].getsockname()[1]

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}{WS_PATH}"

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def now_ns(self) -> int:
        """The venue clock (epoch ns)."""
        return self.replay.now_ns() if self.replay is not None else (self.dataset.start_ns or 0)

    # -- frames ----------------------------------------------------------------------------

    def _apply(self, fr: RawFrame) -> None:
        for ev in _decode(fr.frame)[0]:
            self.books.apply(ev)

    def _emit(self, fr: RawFrame) -> None:
        events, is_array = _decode(fr.frame)
        for ev in events:
            self.books.apply(ev)
        self.frames_replayed += 1
        if not events:
            return
        try:
            delivery = self.hub.route(events, fr.frame, is_array)  # type: ignore[union-attr]
        except Exception:  # an odd recorded frame must not end the replay for everyone
            self.emit_errors += 1
            log.exception("venue: cannot route frame at %d", fr.ts_recv_ns)
            return
        self._deliver(delivery)

    def _deliver(self, delivery: list) -> None:
        hub, faults = self.hub, self.faults
        for conn, text in faults.transform(delivery):  # type: ignore[union-attr]
            hub.enqueue(conn, text)  # type: ignore[union-attr]

    async def _pace(self) -> None:
        """Speed 0: wait while a queue is over half full; drop a reader stuck there too long."""
        hub = self.hub
        half = self.queue_max // 2
        if hub is None or hub.fullest_queue() <= half:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.slow_consumer_timeout_s
        while hub.fullest_queue() > half:
            if loop.time() >= deadline:
                for conn in [c for c in hub.conns.values() if c.queue.qsize() > half]:
                    hub.overflow_drops += 1
                    hub.abort(conn.id)
                return
            await asyncio.sleep(0.002)

    # -- HTTP ------------------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path, query = split_target(request.path)
        if request.headers.get("Upgrade", "").lower() == "websocket":
            if path == WS_PATH:
                return None  # continue with the WebSocket handshake
            return json_response(404, {"error": f"no WebSocket endpoint at {path}"})
        status, obj = self.rest.handle(request.method, path, query, request_body(request))
        return json_response(status, obj)

    # -- control ---------------------------------------------------------------------------

    def state(self) -> dict:
        """The simulator's state, as ``GET /_sim/state`` returns it."""
        rp, hub, faults = self.replay, self.hub, self.faults
        now = self.now_ns()
        return {
            "dataset": self.dataset.name,
            "position_ns": now,
            "position": iso_utc(now),
            "speed": self.speed,
            "loop": self.loop,
            "loops": rp.loops if rp else 0,
            "started": bool(rp and rp.released),
            "finished": bool(rp and rp.finished),
            "frames_total": len(self.dataset.frames),
            "frames_replayed": self.frames_replayed,
            "frames_sent": hub.sent if hub else 0,
            "emit_errors": self.emit_errors,
            "dropped_slow_consumers": hub.overflow_drops if hub else 0,
            "connections": [
                {"id": c.id, "assets": len(c.assets), "custom_feature_enabled": c.custom,
                 "queued": c.queue.qsize(), "sent": c.sent}
                for c in (hub.conns.values() if hub else ())
            ],
            "faults": {
                "active": faults.active() if faults else {},
                "applied": dict(faults.applied) if faults else {},
                "lost_frames": faults.lost_frames if faults else 0,
                "duplicated_frames": faults.duplicated if faults else 0,
                "reordered_pairs": faults.reordered if faults else 0,
            },
        }

    def inject(self, kind: str, **params: Any) -> dict:
        """Apply a fault now (see ``faults`` for kinds and params); returns what was done.

        Raises:
            FaultError: unknown kind, bad parameter, unknown connection or token.
            RuntimeError: the server is not started.
        """
        if self.hub is None or self.faults is None:
            raise RuntimeError("venue not started")
        p = faultlib.validate(kind, params)
        hub, faults = self.hub, self.faults
        result: dict = {"kind": kind}
        if kind == "disconnect":
            conn = p.get("conn")
            if conn is not None and conn not in hub.conns:
                raise FaultError(f"no connection with id {conn}")
            result["dropped"] = hub.abort(conn)
        elif kind == "stall":
            faults.start_stall(p["seconds"])
            result["seconds"] = p["seconds"]
        elif kind == "malformed":
            now = self.now_ns()
            for c in list(hub.conns.values()):
                asset = next(iter(sorted(c.assets)), "0")
                st = self.books.get(asset)
                market = st.market if st else ""
                for i in range(p["count"]):
                    hub.enqueue(c, faultlib.malformed_frame(i, asset, market, now))
            result["count"] = p["count"]
            result["connections"] = len(hub.conns)
        elif kind in ("duplicate", "reorder"):
            if kind == "duplicate":
                faults.duplicate_left += p["count"]
            else:
                faults.reorder_left += p["count"]
            result["count"] = p["count"]
        elif kind == "tick_size_change":
            result["assets"] = self._tick_size_change(p.get("asset_id"), p["new_tick_size"])
        faults.applied[kind] += 1
        return result

    def _tick_size_change(self, asset_id: str | None, new_tick: int) -> list[str]:
        if asset_id is not None and self.books.get(asset_id) is None:
            raise FaultError(f"unknown asset_id {asset_id!r}")
        assets = [asset_id] if asset_id is not None else sorted(self.books.tokens)
        now = self.now_ns()
        for a in assets:
            st = self.books.tokens[a]
            old = self.books.set_tick(a, new_tick)
            ev = wire.tick_size_change_event(st.market, a, old, new_tick, now)
            self._deliver(self.hub.route([ev], wire.encode(ev), False))  # type: ignore[union-attr]
        return assets
