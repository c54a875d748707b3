"""WebSocket connections of the simulated market channel: subscriptions, routing, send queues.

Client -> venue messages (protocol.md §1.1-1.2):

- ``{"type": "market", "assets_ids": [...], "custom_feature_enabled": bool}`` (first message):
  subscribe; reply ONE frame, a JSON array of ``book`` events for the listed tokens the venue
  knows (``[]`` if none; no reply with ``"initial_dump": false``).
- ``{"operation": "subscribe", "assets_ids": [...]}``: add the new tokens and reply with a book
  array for them; if all were already subscribed, reply the text ``NO NEW ASSETS``. An optional
  ``custom_feature_enabled`` updates the connection's flag.
- ``{"operation": "unsubscribe", "assets_ids": [...]}``: remove (no reply). A later subscribe of
  the same token sends its book again: clients re-snapshot a token this way.
- text ``PING`` -> text ``PONG``. Anything else is ignored.

Venue -> client routing (``Hub.route``): token events go to the connections subscribed to
their token; a ``price_change`` is cut down to the entries of the connection's tokens (dropped
if none remain); ``new_market``/``market_resolved`` (and ``best_bid_ask``) need
``custom_feature_enabled``. Frames a connection receives whole are sent as the original text.

Every frame to a connection goes through its bounded queue and its own writer task, so a slow
reader never blocks the replay or other connections; a connection whose queue overflows is
aborted. Replies share the queue, so they stay ordered with events.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from websockets.exceptions import ConnectionClosed

from clobflow.sim.datasets import wire
from clobflow.sim.venue.books import VenueBooks

_CUSTOM_ONLY = frozenset({"new_market", "market_resolved"})


class Connection:
    """One WebSocket client: its tokens, flags, queue and counters."""

    __slots__ = ("id", "ws", "assets", "custom", "queue", "sent", "peer")

    def __init__(self, conn_id: int, ws: Any, queue_max: int) -> None:
        self.id = conn_id
        self.ws = ws
        self.assets: set[str] = set()
        self.custom = False
        self.queue: asyncio.Queue[str] = asyncio.Queue(queue_max)
        self.sent = 0
        self.peer = str(getattr(ws, "remote_address", ""))

    def abort(self) -> None:
        """Drop the TCP connection without a close frame (what a network failure looks like)."""
        transport = getattr(self.ws, "transport", None)
        if transport is not None:
            transport.abort()


class Hub:
    """All market-channel connections of the venue.

    Args:
        books: the venue's book state (snapshots for subscribe replies).
        clock_ns: the venue clock (snapshot timestamps).
        queue_max: per-connection send queue bound, in frames.
        on_subscribe: called with the connection whenever it subscribes (the server counts
            subscribers to release a held replay).
    """

    def __init__(
        self,
        books: VenueBooks,
        *,
        clock_ns: Callable[[], int],
        queue_max: int,
        on_subscribe: Callable[[Connection], None] = lambda conn: None,
    ) -> None:
        self.books = books
        self._clock_ns = clock_ns
        self.queue_max = queue_max
        self._on_subscribe = on_subscribe
        self.conns: dict[int, Connection] = {}
        self._by_asset: dict[str, set[Connection]] = {}
        self._next_id = 1
        self.sent = 0
        self.overflow_drops = 0

    # -- lifecycle -------------------------------------------------------------------------

    async def serve(self, ws: Any) -> None:
        """The WebSocket handler: read client messages until the connection ends."""
        conn = Connection(self._next_id, ws, self.queue_max)
        self._next_id += 1
        self.conns[conn.id] = conn
        writer = asyncio.create_task(self._writer(conn), name=f"venue-writer-{conn.id}")
        try:
            async for msg in ws:
                text = msg if isinstance(msg, str) else msg.decode("utf-8", "replace")
                for reply in self.on_message(conn, text):
                    self.enqueue(conn, reply)
        except ConnectionClosed:
            pass
        finally:
            self._forget(conn)
            writer.cancel()

    async def _writer(self, conn: Connection) -> None:
        q, ws = conn.queue, conn.ws
        try:
            while True:
                text = await q.get()
                await ws.send(text)
                conn.sent += 1
                self.sent += 1
        except ConnectionClosed:
            pass

    def _forget(self, conn: Connection) -> None:
        self.conns.pop(conn.id, None)
        for a in conn.assets:
            subs = self._by_asset.get(a)
            if subs is not None:
                subs.discard(conn)
                if not subs:
                    del self._by_asset[a]
        conn.assets.clear()

    def enqueue(self, conn: Connection, text: str) -> bool:
        """Queue ``text`` for ``conn``; abort the connection if its queue is full."""
        try:
            conn.queue.put_nowait(text)
            return True
        except asyncio.QueueFull:
            self.overflow_drops += 1
            self._forget(conn)
            conn.abort()
            return False

    def abort(self, conn_id: int | None = None) -> int:
        """Abort one connection (by id) or all; returns how many were dropped."""
        targets = list(self.conns.values()) if conn_id is None else [self.conns[conn_id]]
        for conn in targets:
            self._forget(conn)
            conn.abort()
        return len(targets)

    def fullest_queue(self) -> int:
        """The longest send queue, in frames (0 with no connections)."""
        return max((c.queue.qsize() for c in self.conns.values()), default=0)

    # -- client messages -------------------------------------------------------------------

    def on_message(self, conn: Connection, text: str) -> list[str]:
        """Handle one client message; returns the frames to send back (in order)."""
        t = text.strip()
        if t == "PING":
            return ["PONG"]
        try:
            msg = json.loads(t)
        except ValueError:
            return []
        if not isinstance(msg, dict):
            return []
        assets = msg.get("assets_ids")
        if not isinstance(assets, list) or not all(isinstance(a, str) for a in assets):
            return []
        assets = list(dict.fromkeys(assets))
        op = msg.get("operation")
        if op is None and str(msg.get("type", "")).lower() == "market":
            conn.custom = bool(msg.get("custom_feature_enabled", False))
            self._subscribe(conn, assets)
            return [] if msg.get("initial_dump", True) is False else [self._dump(assets)]
        if op == "subscribe":
            if "custom_feature_enabled" in msg:
                conn.custom = bool(msg["custom_feature_enabled"])
            new = [a for a in assets if a not in conn.assets]
            if not new:
                return ["NO NEW ASSETS"]
            self._subscribe(conn, new)
            return [self._dump(new)]
        if op == "unsubscribe":
            for a in assets:
                if a in conn.assets:
                    conn.assets.discard(a)
                    subs = self._by_asset.get(a)
                    if subs is not None:
                        subs.discard(conn)
                        if not subs:
                            del self._by_asset[a]
        return []

    def _subscribe(self, conn: Connection, assets: list[str]) -> None:
        for a in assets:
            conn.assets.add(a)
            self._by_asset.setdefault(a, set()).add(conn)
        self._on_subscribe(conn)

    def _dump(self, assets: list[str]) -> str:
        now = self._clock_ns()
        books = [b for b in (self.books.book_event(a, now) for a in assets) if b is not None]
        return wire.encode(books)

    # -- venue events ----------------------------------------------------------------------

    def route(self, events: list[dict], text: str, is_array: bool) -> list[tuple[Connection, str]]:
        """Who gets what of one venue frame (``events`` decoded from ``text``)."""
        if not self.conns:
            return []
        parts: dict[Connection, list[dict]] = {}
        whole: dict[Connection, int] = {}  # events received unfiltered
        by_asset = self._by_asset
        for ev in events:
            et = ev.get("event_type")
            if et in _CUSTOM_ONLY:
                targets = [(c, ev, True) for c in self.conns.values() if c.custom]
            elif et == "price_change" and isinstance(ev.get("price_changes"), list):
                entries = [e for e in ev["price_changes"] if isinstance(e, dict)]
                conns: set[Connection] = set()
                for e in entries:
                    conns |= by_asset.get(e.get("asset_id"), set())
                targets = []
                for c in conns:
                    sub = [e for e in entries if e.get("asset_id") in c.assets]
                    if len(sub) == len(entries):
                        targets.append((c, ev, True))
                    else:
                        targets.append((c, dict(ev, price_changes=sub), False))
            else:
                subs = by_asset.get(ev.get("asset_id"), ())  # type: ignore[arg-type]
                need_custom = et == "best_bid_ask"
                targets = [(c, ev, True) for c in subs if c.custom or not need_custom]
            for c, obj, unchanged in targets:
                parts.setdefault(c, []).append(obj)
                if unchanged:
                    whole[c] = whole.get(c, 0) + 1
        out = []
        n = len(events)
        for c, objs in parts.items():
            if whole.get(c, 0) == n:
                out.append((c, text))
            elif is_array:
                out.append((c, wire.encode(objs)))
            else:
                out.append((c, wire.encode(objs[0])))
        out.sort(key=lambda d: d[0].id)  # deterministic order across connections
        return out
