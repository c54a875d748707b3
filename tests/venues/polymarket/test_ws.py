"""The market-channel pump against a loopback fake venue (real sockets on 127.0.0.1, no mocks)."""

from __future__ import annotations

import contextlib
import json
import random
import socket
import time

import pytest

from clobflow.book.book_set import BookSet
from clobflow.book.trust import Trust
from clobflow.core.errors import ConfigError
from clobflow.core.events import BookSnapshot, FeedStatus, PriceChange
from clobflow.venues.polymarket.protocol import MarketStreamConfig
from clobflow.venues.polymarket.ws import MarketStream
from tests.venues.polymarket.fakevenue import FakeVenue, book_for, wait_until

FAST = MarketStreamConfig(
    ping_interval_s=0.2, pong_timeout_s=0.6, stall_after_s=0, reconnect_min_s=0.05,
    reconnect_max_s=0.2, healthy_after_s=0.1, open_timeout_s=2, close_timeout_s=0.5,
)


def cfg(**kw) -> MarketStreamConfig:
    return MarketStreamConfig(**{f: getattr(FAST, f) for f in FAST.__struct_fields__} | kw)


def tokens(n: int, start: int = 0) -> list[str]:
    # Real token ids are ~77-digit decimal strings.
    return [str(10**76 + i) for i in range(start, start + n)]


class Sink:
    """Recording consumer: every callback in arrival order, and a BookSet fed like the engine."""

    def __init__(self) -> None:
        self.log: list[tuple] = []  # ("raw", conn, text) | ("ev", conn, event)
        self.books = BookSet()

    def on_raw(self, text: str, ts_recv_ns: int, conn_id: int) -> None:
        assert isinstance(text, str) and ts_recv_ns > 0
        self.log.append(("raw", conn_id, text))

    def on_events(self, events: list, conn_id: int) -> None:
        assert events
        for ev in events:
            self.log.append(("ev", conn_id, ev))
            self.books.on_event(ev)

    def events(self, kind=None) -> list:
        return [e for k, _, e in self.log if k == "ev" and (kind is None or type(e) is kind)]

    def statuses(self, status: str) -> list[FeedStatus]:
        return [e for e in self.events(FeedStatus) if e.status == status]

    def index(self, pred) -> int:
        return next(i for i, (k, _, e) in enumerate(self.log) if k == "ev" and pred(e))


@contextlib.asynccontextmanager
async def running(url: str, assets=(), config: MarketStreamConfig = FAST, **kw):
    sink = Sink()
    stream = MarketStream(url, config, on_events=sink.on_events, on_raw=sink.on_raw,
                          rng=random.Random(7), connect_options={"proxy": None}, **kw)
    await stream.subscribe(assets)
    await stream.start()
    try:
        yield stream, sink
    finally:
        await stream.stop()


async def test_initial_subscribe_shape_books_and_raw_before_parse():
    a, b = tokens(2)
    async with FakeVenue() as venue, running(venue.url, [a, b]) as (stream, sink):
        await wait_until(lambda: len(sink.events(BookSnapshot)) == 2, what="initial books")
        (conn,) = venue.conns
        assert conn.received[0] == (
            '{"type":"market","assets_ids":["%s","%s"],"custom_feature_enabled":true}' % (a, b))
        assert sink.books.trust(a).state == Trust.TRUSTED
        # The raw frame (untouched, one array) precedes the events parsed from it.
        raw_i = next(i for i, r in enumerate(sink.log) if r[0] == "raw")
        assert json.loads(sink.log[raw_i][2]) == [book_for(a), book_for(b)]
        assert raw_i < sink.index(lambda e: type(e) is BookSnapshot)
        st = stream.stats()
        assert st["conns"][0]["state"] == "open" and st["conns"][0]["assets"] == 2
        assert st["frames"] >= 1 and st["chars"] >= len(sink.log[raw_i][2])


async def test_pool_splits_assets_by_connection_limit():
    with pytest.raises(ConfigError):
        cfg(max_assets_per_conn=501)
    ids = tokens(450)
    async with FakeVenue() as venue, running(venue.url, ids, cfg(max_assets_per_conn=200)) as (
            stream, sink):
        await wait_until(lambda: len(sink.events(BookSnapshot)) == 450, what="450 books")
        assert sorted(len(v) for v in stream.assignment().values()) == [50, 200, 200]
        assert sorted(len(c.subscribed) for c in venue.conns) == [50, 200, 200]
        # Later assets fill the connection with room before a new one is opened.
        await stream.subscribe(tokens(160, 1000))
        assert sorted(len(v) for v in stream.assignment().values()) == [10, 200, 200, 200]
        await wait_until(lambda: len(venue.conns) == 4, what="4th connection")
        assert stream.stats()["assets"] == 610


async def test_dynamic_subscribe_unsubscribe_send_only_deltas_and_resnapshot():
    a, b, c = tokens(3)
    async with FakeVenue() as venue, running(venue.url, [a, b]) as (stream, sink):
        await wait_until(lambda: len(sink.events(BookSnapshot)) == 2)
        assert await stream.subscribe([b, c]) == 1
        await wait_until(lambda: len(venue.conns[0].messages()) == 2)
        assert venue.conns[0].messages()[1] == {
            "operation": "subscribe", "assets_ids": [c], "custom_feature_enabled": True}
        assert await stream.unsubscribe([a, "999"]) == 1
        await wait_until(lambda: len(venue.conns[0].messages()) == 3)
        assert venue.conns[0].messages()[2]["operation"] == "unsubscribe"
        assert venue.conns[0].messages()[2]["assets_ids"] == [a]
        assert sink.statuses("unsubscribed")[0].asset_ids == (a,)
        assert a not in sink.books
        # resnapshot: unsubscribe + subscribe, and the venue sends a fresh book.
        n_books = len(sink.events(BookSnapshot))
        assert await stream.resnapshot([b]) == 1
        await wait_until(lambda: len(sink.events(BookSnapshot)) == n_books + 1)
        ops = [(m["operation"], m["assets_ids"]) for m in venue.conns[0].messages()[3:]]
        assert ops == [("unsubscribe", [b]), ("subscribe", [b])]
        # The last asset leaves: the connection is closed and retired.
        await stream.unsubscribe([b, c])
        assert stream.assignment() == {}
        await wait_until(lambda: venue.conns[0].closed, what="retired connection closed")


async def test_ping_schedule_and_missing_pong_reconnects():
    a = tokens(1)[0]
    async with FakeVenue() as venue, running(venue.url, [a]) as (stream, sink):
        await wait_until(lambda: venue.conns and venue.conns[0].pings >= 3, timeout_s=2)
        assert len(venue.conns) == 1 and stream.stats()["pongs"] >= 2
        venue.answer_ping = False
        t = time.monotonic()
        await wait_until(lambda: len(venue.conns) == 2, timeout_s=3, what="reconnect")
        assert time.monotonic() - t >= 0.3  # waited for the pong deadline
        assert venue.conns[0].closed
        st = stream.stats()
        assert st["pong_timeouts"] == 1 and st["reconnects"] == 1
        assert sink.statuses("reconnecting")[0].reason == "pong_timeout"


async def test_server_drop_reconnects_with_backoff_and_fresh_books():
    a, b = tokens(2)
    async with FakeVenue() as venue, running(venue.url, [a, b]) as (stream, sink):
        await wait_until(lambda: len(sink.events(BookSnapshot)) == 2)
        await stream.subscribe([tokens(1, 5)[0]])
        await wait_until(lambda: len(sink.events(BookSnapshot)) == 3)
        venue.drop()
        t_drop = time.monotonic()
        await wait_until(lambda: sink.statuses("reconnecting"), what="reconnecting status")
        st = sink.statuses("reconnecting")[0]
        assert st.reason == "connection_lost" and len(st.asset_ids) == 3
        assert sink.books.trust(a).state == Trust.UNTRUSTED
        await wait_until(lambda: len(venue.conns) == 2, what="new connection")
        assert time.monotonic() - t_drop >= FAST.reconnect_min_s  # backoff, not a hot loop
        await wait_until(lambda: len(sink.events(BookSnapshot)) == 6, what="fresh books")
        # New socket, whole set in one initial frame; books after the status.
        assert len(venue.conns) == 2
        first = venue.conns[1].messages()[0]
        assert first["type"] == "market" and len(first["assets_ids"]) == 3
        i_status = sink.index(lambda e: type(e) is FeedStatus and e.status == "reconnecting")
        i_book = sink.index(lambda e: type(e) is BookSnapshot and e.ts_recv_ns > st.ts_recv_ns)
        assert i_status < i_book
        assert sink.books.trust(a).state == Trust.TRUSTED
        assert stream.stats()["reconnects"] == 1


async def test_stall_resubscribe_heals_a_quiet_connection():
    a = tokens(1)[0]
    async with FakeVenue() as venue, running(venue.url, [a], cfg(stall_after_s=0.5)) as (
            stream, sink):
        await wait_until(lambda: venue.conns and len(venue.conns[0].messages()) >= 3, timeout_s=3)
        assert sink.statuses("resubscribed")
        ops = [m.get("operation") for m in venue.conns[0].messages()]
        assert ops[:3] == [None, "unsubscribe", "subscribe"]
        await wait_until(lambda: len(sink.events(BookSnapshot)) >= 2, what="book after resub")
        assert sink.statuses("stalled")[0].reason == "no_events"
        assert len(venue.conns) == 1  # the resubscribe's books were evidence: no reconnect


async def test_silent_stall_resubscribes_then_reconnects():
    a = tokens(1)[0]
    async with FakeVenue() as venue, running(venue.url, [a], cfg(stall_after_s=0.5)) as (
            stream, sink):
        await wait_until(lambda: len(sink.events(BookSnapshot)) == 1)
        venue.silent = True  # heartbeats still fine, but no data at all
        await wait_until(lambda: len(venue.conns) == 2, timeout_s=4, what="stall reconnect")
        ops = [m.get("operation") for m in venue.conns[0].messages()]
        assert ops == [None, "unsubscribe", "subscribe"]
        reasons = [s.reason for s in sink.statuses("stalled")]
        assert reasons[:2] == ["no_events", "silent_after_resubscribe"]
        assert sink.statuses("reconnecting")[0].reason == "stalled"
        assert stream.stats()["stalls"] >= 2


async def test_malformed_frames_are_counted_and_the_stream_goes_on():
    a, b = tokens(2)
    async with FakeVenue() as venue, running(venue.url, [a, b]) as (stream, sink):
        await wait_until(lambda: len(sink.events(BookSnapshot)) == 2)
        await venue.push("{not json")
        await venue.push({"event_type": "mystery", "asset_id": a})
        await venue.push([{"event_type": "book", "bids": []}, book_for(b, "h2")])
        await venue.push("SOMETHING ODD")
        await venue.push({"market": "0xm", "event_type": "price_change", "timestamp": "1",
                          "price_changes": [{"asset_id": a, "price": "0.5", "size": "10",
                                             "side": "BUY", "hash": "x"}]})
        await wait_until(lambda: sink.events(PriceChange), what="price change after junk")
        st = stream.stats()
        assert st["parser"]["rejects"] == {"invalid_json": 1, "unknown_event_type": 1, "schema": 1}
        assert st["other_text"] == 1
        assert len(sink.events(BookSnapshot)) == 3  # the good book of the mixed array survived
        assert len(venue.conns) == 1


async def test_connect_failures_are_retried_and_counted():
    venue = FakeVenue()
    venue.reject_handshakes = 2
    async with venue, running(venue.url, tokens(1)) as (stream, sink):
        await wait_until(lambda: sink.events(BookSnapshot), timeout_s=3, what="connected")
        st = stream.stats()
        assert st["connect_failures"] == 2 and venue.rejected == 2
        assert "503" in st["conns"][0]["last_error"]

    with socket.socket() as s:  # a port with nobody listening: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with running(f"ws://127.0.0.1:{port}", tokens(1)) as (stream, sink):
        await wait_until(lambda: stream.stats()["connect_failures"] >= 3, timeout_s=3)
        assert stream.stats()["conns"][0]["state"] in ("connecting", "closed")


async def test_callback_errors_do_not_kill_the_stream():
    a = tokens(1)[0]
    seen = []

    def bad(events, conn_id):
        seen.extend(events)
        raise RuntimeError("consumer bug")

    async with FakeVenue() as venue:
        stream = MarketStream(venue.url, FAST, on_events=bad, connect_options={"proxy": None})
        await stream.subscribe([a])
        await stream.start()
        try:
            await wait_until(lambda: seen)
            await venue.push(book_for(a, "h2"))
            await wait_until(lambda: len(seen) == 2)
            assert stream.stats()["callback_errors"] == 2
        finally:
            await stream.stop()
        # stop() closes cleanly: the venue sees every socket closed, no task is left behind.
        await wait_until(lambda: all(c.closed for c in venue.conns), timeout_s=2)
        assert stream.stats()["conns"][0]["state"] == "closed"
        assert venue.conns[0].ws.close_code == 1000
