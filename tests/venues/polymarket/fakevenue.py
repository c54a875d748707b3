"""A tiny loopback Polymarket market channel for the pump tests (127.0.0.1, port 0).

It speaks the subset the client needs (protocol.md §1): the initial ``{"type":"market",...}``
subscription answered with an array of ``book`` snapshots; dynamic ``operation``
subscribe/unsubscribe (a subscribe with nothing new answers ``NO NEW ASSETS``); text PING -> PONG.
Knobs: ``answer_ping``, ``silent`` (send no data at all), ``reject_handshakes`` (answer the next N
upgrades with HTTP 503); actions: ``push`` scripted frames, ``drop`` connections abruptly.
Books are the real 2026-08 capture with the asset id replaced.
"""

from __future__ import annotations

import asyncio
import json
import time
from http import HTTPStatus
from pathlib import Path

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

_FIXTURE = (Path(__file__).resolve().parents[3] / "fixtures" / "polymarket" / "ws_market"
            / "book_2026-08.json")
BOOK_TEMPLATE = json.loads(_FIXTURE.read_text())


def book_for(asset_id: str, hash_: str = "") -> dict:
    """The captured book with ``asset_id`` (and optionally ``hash``) replaced."""
    b = dict(BOOK_TEMPLATE)
    b["asset_id"] = asset_id
    if hash_:
        b["hash"] = hash_
    return b


class FakeConn:
    """Server side of one client connection."""

    def __init__(self, index: int, ws: ServerConnection) -> None:
        self.index = index
        self.ws = ws
        self.subscribed: set[str] = set()
        self.received: list[str] = []  # every client frame, in order
        self.closed = False

    def messages(self) -> list[dict]:
        """The JSON frames received (PINGs left out)."""
        out = []
        for m in self.received:
            try:
                out.append(json.loads(m))
            except ValueError:
                pass
        return out

    @property
    def pings(self) -> int:
        return sum(1 for m in self.received if m == "PING")


class FakeVenue:
    """``async with FakeVenue() as venue: venue.url``; state is inspected by the test."""

    def __init__(self) -> None:
        self.conns: list[FakeConn] = []
        self.answer_ping = True
        self.silent = False
        self.reject_handshakes = 0
        self.rejected = 0
        self.books_sent = 0
        self._server = None
        self.url = ""

    async def __aenter__(self) -> FakeVenue:
        self._server = await serve(self._handler, "127.0.0.1", 0, ping_interval=None,
                                   process_request=self._process_request, max_size=None)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc) -> None:
        self._server.close()
        await self._server.wait_closed()

    def _process_request(self, conn, request):
        if self.reject_handshakes > 0:
            self.reject_handshakes -= 1
            self.rejected += 1
            return conn.respond(HTTPStatus.SERVICE_UNAVAILABLE, "try later\n")
        return None

    # -- handler ---------------------------------------------------------------------------

    async def _handler(self, ws: ServerConnection) -> None:
        conn = FakeConn(len(self.conns), ws)
        self.conns.append(conn)
        try:
            async for msg in ws:
                conn.received.append(msg)
                if msg == "PING":
                    if self.answer_ping:
                        await ws.send("PONG")
                    continue
                try:
                    obj = json.loads(msg)
                except ValueError:
                    continue
                assets = obj.get("assets_ids") or []
                if obj.get("type") == "market":
                    conn.subscribed.update(assets)
                    await self._send_books(conn, assets)
                elif obj.get("operation") == "subscribe":
                    new = [a for a in assets if a not in conn.subscribed]
                    if not new:
                        await ws.send("NO NEW ASSETS")
                        continue
                    conn.subscribed.update(new)
                    await self._send_books(conn, new)
                elif obj.get("operation") == "unsubscribe":
                    conn.subscribed.difference_update(assets)
        except ConnectionClosed:
            pass
        finally:
            conn.closed = True

    async def _send_books(self, conn: FakeConn, assets: list[str]) -> None:
        if self.silent or not assets:
            return
        self.books_sent += len(assets)
        await conn.ws.send(json.dumps([book_for(a) for a in assets]))

    # -- scripting -------------------------------------------------------------------------

    def open_conns(self) -> list[FakeConn]:
        return [c for c in self.conns if not c.closed]

    async def push(self, frame: str | dict | list, conn: FakeConn | None = None) -> None:
        """Send a frame to one connection or to every open one."""
        text = frame if isinstance(frame, str) else json.dumps(frame)
        for c in [conn] if conn is not None else self.open_conns():
            await c.ws.send(text)

    def drop(self, conn: FakeConn | None = None) -> None:
        """Cut connections without a closing handshake (the client sees code 1006)."""
        for c in [conn] if conn is not None else self.open_conns():
            c.ws.transport.abort()


async def wait_until(predicate, timeout_s: float = 5.0, what: str = "condition") -> None:
    """Poll ``predicate()`` every 10 ms until true; AssertionError after ``timeout_s``."""
    end = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
