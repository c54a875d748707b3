"""A loopback Binance spot combined-stream server for the pump tests (127.0.0.1, port 0).

It behaves like the venue where it matters: the client asks for ``/stream?streams=...`` and gets
data without subscribing; a *publisher* emits one frame every ``interval_s`` to **every** open
connection (so two overlapping connections see the same trades, as with the real venue). The
frames are the real captures from ``fixtures/binance/`` wrapped as combined-stream frames:
the 2021-12 ``ethusdt@trade`` (legacy, with ``b``/``a``), the documented current ``trade`` payload
(BNBBTC), the ``bookTicker`` and ``aggTrade`` captures. Only the trade id ``t`` (and ``T``) advance
per published trade, so the stream looks live; every other value is as captured.

Knobs: ``paused`` (publish nothing: a stall), ``reject_handshakes``; actions: ``drop`` a connection
(no closing handshake), ``push`` a scripted frame (e.g. ``serverShutdown``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from http import HTTPStatus
from pathlib import Path

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

FIX = Path(__file__).resolve().parents[3] / "fixtures" / "binance"
ETH_TRADE = json.loads((FIX / "ws_spot_trade_combined_2021-12.json").read_text())
BOOK_TICKER = json.loads((FIX / "ws_spot_bookticker_combined_2022-03.json").read_text())
AGG_TRADE = json.loads((FIX / "ws_spot_aggtrade_combined_2023-02.json").read_text())
DOC_TRADE = json.loads((FIX / "docs_examples_2026-07.json").read_text())["trade"]
SHUTDOWN = {"stream": "!serverShutdown", "data": {"e": "serverShutdown", "E": 1770123456789}}


class FakeConn:
    def __init__(self, index: int, ws: ServerConnection) -> None:
        self.index = index
        self.ws = ws
        self.path = ws.request.path
        self.sent = 0
        self.closed = False
        self.overlapped = False  # another connection was still open when this one opened


class FakeBinance:
    """``async with FakeBinance() as venue: venue.url``; state is inspected by the test."""

    def __init__(self, interval_s: float = 0.002) -> None:
        self.interval_s = interval_s
        self.conns: list[FakeConn] = []
        self.paused = False
        self.reject_handshakes = 0
        self.published = 0  # trades published (each to every open connection)
        self.url = ""
        self._next_id = {"ETHUSDT": ETH_TRADE["data"]["t"], "BNBBTC": DOC_TRADE["t"]}
        self._server = None
        self._task: asyncio.Task | None = None

    async def __aenter__(self) -> FakeBinance:
        self._server = await serve(self._handler, "127.0.0.1", 0, ping_interval=None,
                                   process_request=self._process_request)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}"
        self._task = asyncio.get_running_loop().create_task(self._publisher())
        return self

    async def __aexit__(self, *exc) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._server.close()
        await self._server.wait_closed()

    def _process_request(self, conn, request):
        if self.reject_handshakes > 0:
            self.reject_handshakes -= 1
            return conn.respond(HTTPStatus.SERVICE_UNAVAILABLE, "try later\n")
        if not request.path.startswith("/stream?streams="):
            return conn.respond(HTTPStatus.NOT_FOUND, "unknown path\n")
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        conn = FakeConn(len(self.conns), ws)
        conn.overlapped = bool(self.open_conns())
        self.conns.append(conn)
        try:
            await ws.wait_closed()
        finally:
            conn.closed = True

    # -- publishing ------------------------------------------------------------------------

    def _script(self):
        """The endless cycle of frames: trades interleaved with streams the client ignores."""
        while True:
            yield self._trade(ETH_TRADE["data"], "ethusdt@trade")
            yield self._trade(DOC_TRADE, "bnbbtc@trade")
            yield BOOK_TICKER
            yield self._trade(ETH_TRADE["data"], "ethusdt@trade")
            yield AGG_TRADE

    def _trade(self, template: dict, stream: str) -> dict:
        sym = template["s"]
        self._next_id[sym] += 1
        step = self._next_id[sym] - template["t"]
        self.published += 1
        return {"stream": stream, "data": template | {"t": self._next_id[sym], "T": template["T"] + step}}

    async def _publisher(self) -> None:
        script = self._script()
        while True:
            await asyncio.sleep(self.interval_s)
            if self.paused or not self.open_conns():
                continue
            await self.push(next(script))

    # -- scripting -------------------------------------------------------------------------

    def open_conns(self) -> list[FakeConn]:
        return [c for c in self.conns if not c.closed]

    async def push(self, frame: dict | str, conn: FakeConn | None = None) -> None:
        text = frame if isinstance(frame, str) else json.dumps(frame)
        for c in [conn] if conn is not None else self.open_conns():
            with contextlib.suppress(ConnectionClosed):
                await c.ws.send(text)
                c.sent += 1

    def drop(self, conn: FakeConn) -> None:
        """Cut a connection without a closing handshake (the client sees 1006)."""
        conn.ws.transport.abort()


async def wait_until(predicate, timeout_s: float = 5.0, what: str = "condition") -> None:
    """Poll ``predicate()`` every 5 ms until true; AssertionError after ``timeout_s``."""
    end = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)
