"""Asyncio pump of the Binance spot trade stream.

The pump only connects, reads, sleeps and closes (DESIGN §3.4); every rule (which URL, when to
rotate, how long to back off, which connection is live) lives in ``protocol.SpotStreamProtocol``,
and every byte of meaning in ``parsing.SpotParser``.

Map:
- one supervisor task: while the protocol wants a connection, it sleeps the protocol's delay and
  connects; otherwise it sleeps until the protocol's next deadline (age / stall / end of a rotation
  overlap) or a wake-up, and runs ``poll``. A rotation opens the replacement first and closes the
  old socket ``rotation_overlap_s`` later (make-before-break), so the 24 h cut and
  ``serverShutdown`` lose no trades.
- one reader task per open socket. Per frame, with no ``await`` in between:
  ``on_raw(text, ts_recv_ns, conn_id)`` (the recorder hook, before parsing) -> parse ->
  ``on_rows(rows)``. A ``serverShutdown`` frame starts a rotation.
- pings: the server pings every 20 s; websockets answers them by itself. The client's own
  keepalive pings (``ping_interval_s``) detect a dead TCP path sooner than the stall watchdog.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Iterable

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from clobflow.core.clock import Clock, LiveClock
from clobflow.recorder.tables import SpotPriceRow
from clobflow.venues.binance.parsing import SpotParser
from clobflow.venues.binance.protocol import (
    Close,
    SpotStreamConfig,
    SpotStreamProtocol,
    StreamCounters,
)

BINANCE_WS_URL = "wss://stream.binance.com:9443"
"""Production spot stream host (protocol.md §6); ``wss://data-stream.binance.vision`` also works
for market data."""

log = logging.getLogger(__name__)

OnRows = Callable[[list[SpotPriceRow]], None]
OnRaw = Callable[[str, int, int], None]


class _Session:
    __slots__ = ("id", "ws", "task", "close_reason")

    def __init__(self, conn_id: int, ws: ClientConnection) -> None:
        self.id = conn_id
        self.ws = ws
        self.task: asyncio.Task | None = None
        self.close_reason = ""  # set when we close it ourselves


class BinanceTradeStream:
    """Spot trades of ``symbols`` from one combined-stream connection, delivered synchronously.

    ``on_rows(rows)`` gets the new ``SpotPriceRow`` of each frame (never an empty list; duplicates
    from a rotation overlap are already removed). ``on_raw(text, ts_recv_ns, conn_id)``, when
    given, gets every frame untouched before parsing. Exceptions raised by either callback are
    counted (``callback_errors``), the first is logged, and the stream goes on.
    ``connect_options`` are extra keyword arguments for ``websockets.asyncio.client.connect``.

    Raises ``ValueError`` for an empty or invalid symbol list (see ``normalise_symbols``).
    """

    def __init__(
        self,
        base_url: str = BINANCE_WS_URL,
        symbols: Iterable[str] = (),
        *,
        on_raw: OnRaw | None = None,
        on_rows: OnRows,
        clock: Clock | None = None,
        config: SpotStreamConfig | None = None,
        parser: SpotParser | None = None,
        rng: random.Random | None = None,
        connect_options: dict | None = None,
    ) -> None:
        self.config = config or SpotStreamConfig()
        self.protocol = SpotStreamProtocol(symbols, self.config)
        self.base_url = base_url
        self.url = self.protocol.url(base_url)
        self.parser = parser or SpotParser(agg_trades=self.config.channel == "aggTrade")
        self._on_rows = on_rows
        self._on_raw = on_raw
        self._clock = clock or LiveClock()
        self._rng = rng or random.Random()
        self._connect_options = dict(connect_options or {})
        self._sessions: dict[int, _Session] = {}
        self._next_id = 0
        self._task: asyncio.Task | None = None
        self._wake: asyncio.Event | None = None
        self._stopping = False
        self.callback_errors = 0
        self.binary_frames = 0

    # -- public API ------------------------------------------------------------------------

    async def start(self) -> None:
        """Launch the supervisor (it connects at once). Idempotent."""
        if self._task is not None:
            return
        self._stopping = False
        self._wake = asyncio.Event()
        self.protocol.restart()
        self._task = asyncio.get_running_loop().create_task(
            self._supervise(), name="clobflow-binance-trades")

    async def stop(self) -> None:
        """Close every socket and end the tasks. Idempotent; ``start`` again reconnects."""
        self._stopping = True
        if self._wake is not None:
            self._wake.set()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        sessions = list(self._sessions.values())
        self.protocol.stop()  # before the closes: they are not drops
        for s in sessions:
            s.close_reason = "stopped"
        await asyncio.gather(*(s.ws.close() for s in sessions), return_exceptions=True)
        await asyncio.gather(*(s.task for s in sessions if s.task is not None),
                             return_exceptions=True)

    def stats(self) -> dict:
        """Stream counters (``StreamCounters`` fields), parser counters under ``parser``, and
        ``url``, ``live_conn``, ``open_conns``, ``attempt``, ``need`` (why a connection is wanted,
        "" when none), ``last_error``, ``last_close_reason``, ``last_trade_age_s`` (None unless a
        connection is live), ``callback_errors``, ``binary_frames``."""
        p = self.protocol
        now = self._clock.now_ns()
        live = p.conns().get(p.live_conn) if p.live_conn is not None else None
        return {
            **{f: getattr(p.counters, f) for f in StreamCounters.__struct_fields__},
            "url": self.url,
            "live_conn": p.live_conn,
            "open_conns": len(self._sessions),
            "attempt": p.attempt,
            "need": p.need_reason,
            "last_error": p.last_error,
            "last_close_reason": p.last_close_reason,
            "last_trade_age_s": None if live is None else (now - live.last_trade_ns) / 1e9,
            "callback_errors": self.callback_errors,
            "binary_frames": self.binary_frames,
            "parser": self.parser.stats(),
        }

    # -- supervisor ------------------------------------------------------------------------

    async def _supervise(self) -> None:
        proto, clock = self.protocol, self._clock
        wake = self._wake
        assert wake is not None
        while not self._stopping:
            if proto.wants_connect():
                delay = proto.next_connect_delay_s(self._rng.random())
                if delay > 0:
                    await asyncio.sleep(delay)
                await self._connect_once()
                continue
            for act in proto.poll(clock.now_ns()):
                if type(act) is Close:
                    await self._close(act.conn_id, act.reason)
                else:
                    log.info("binance ws %d: rotating (%s)", act.conn_id, act.reason)
            if proto.wants_connect():
                continue
            deadline = proto.next_deadline_ns()
            timeout = None
            if deadline is not None:
                # +1 ms: never wake a hair before the deadline and spin.
                timeout = max(0.0, (deadline - clock.now_ns()) / 1e9) + 0.001
            wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await wake.wait()

    async def _connect_once(self) -> None:
        proto, cfg = self.protocol, self.config
        options = {
            "open_timeout": cfg.open_timeout_s, "close_timeout": cfg.close_timeout_s,
            "max_size": cfg.max_frame_bytes,
            "ping_interval": cfg.ping_interval_s or None, "ping_timeout": cfg.ping_timeout_s or None,
            **self._connect_options,
        }
        try:
            ws = await connect(self.url, **options)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # refused, DNS, TLS, rejected handshake, timeout
            err = f"{type(exc).__name__}: {exc}"
            proto.on_connect_failed(self._clock.now_ns(), err)
            log.warning("binance ws: connect failed (%s), attempt %d", err, proto.attempt + 1)
            return
        sess = _Session(self._next_id, ws)
        self._next_id += 1
        self._sessions[sess.id] = sess
        proto.on_open(sess.id, self._clock.now_ns())
        sess.task = asyncio.get_running_loop().create_task(
            self._read(sess), name=f"clobflow-binance-trades-{sess.id}")

    async def _close(self, conn_id: int, reason: str) -> None:
        sess = self._sessions.get(conn_id)
        if sess is not None:
            sess.close_reason = reason
            await sess.ws.close(1000, reason)

    # -- reader ----------------------------------------------------------------------------

    async def _read(self, sess: _Session) -> None:
        # The per-frame path: no await between receive, on_raw, parse and on_rows.
        proto, clock, cid, ws = self.protocol, self._clock, sess.id, sess.ws
        decode, on_raw, on_rows = self.parser.decode, self._on_raw, self._on_rows
        try:
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
                proto.on_frame(cid, len(msg), ts)
                rows, trades, shutdown = decode(msg, ts)
                if trades:
                    proto.on_trades(cid, trades, len(rows), ts)
                if rows:
                    try:
                        on_rows(rows)
                    except Exception:
                        self._callback_failed("on_rows")
                if shutdown and proto.on_server_shutdown(cid, ts):
                    log.info("binance ws %d: serverShutdown received, rotating", cid)
                    self._poke()
        except ConnectionClosed:
            pass
        except Exception:  # a bug of ours: log it; the supervisor reconnects
            log.exception("binance ws %d: reader failed", cid)
            sess.close_reason = sess.close_reason or "internal_error"
            await ws.close()
        finally:
            self._sessions.pop(cid, None)
            code = ws.close_code
            reason = sess.close_reason or (
                "connection_lost" if code in (None, 1006) else f"venue_closed_{code}")
            if proto.on_close(cid, clock.now_ns(), reason) and not self._stopping:
                log.info("binance ws %d: closed (%s), reconnecting", cid, reason)
            self._poke()

    # -- helpers ---------------------------------------------------------------------------

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _callback_failed(self, which: str) -> None:
        self.callback_errors += 1
        if self.callback_errors == 1 or self.callback_errors % 1000 == 0:
            log.exception("binance ws: %s callback raised (%d so far)", which, self.callback_errors)
