"""BinanceTradeStream against a loopback combined-stream server (real sockets on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from clobflow.recorder.tables import SpotPriceRow
from clobflow.venues.binance.parsing import SpotParser
from clobflow.venues.binance.protocol import SpotStreamConfig
from clobflow.venues.binance.ws import BINANCE_WS_URL, BinanceTradeStream
from tests.venues.binance.fakebinance import SHUTDOWN, FakeBinance, wait_until

PATH = "/stream?streams=ethusdt@trade/bnbbtc@trade"


def cfg(**kw) -> SpotStreamConfig:
    base = {"stall_after_s": 0, "reconnect_min_s": 0.05, "reconnect_max_s": 0.2,
            "healthy_after_s": 0.1, "rotation_overlap_s": 0.1, "open_timeout_s": 2,
            "close_timeout_s": 0.5}
    return SpotStreamConfig(**(base | kw))


class Sink:
    """Recording consumer: raw frames as the recorder would store them, and delivered rows."""

    def __init__(self) -> None:
        self.raw: list[tuple[str, int, int]] = []
        self.rows: list[SpotPriceRow] = []

    def on_raw(self, text: str, ts_recv_ns: int, conn_id: int) -> None:
        assert isinstance(text, str) and ts_recv_ns > 0
        self.raw.append((text, ts_recv_ns, conn_id))

    def on_rows(self, rows: list[SpotPriceRow]) -> None:
        assert rows
        self.rows.extend(rows)

    def ids(self, symbol: str) -> list[int]:
        return [int(r.trade_id) for r in self.rows if r.symbol == symbol]

    def conns(self) -> set[int]:
        return {c for _, _, c in self.raw}


def stream(venue: FakeBinance, sink: Sink, **kw) -> BinanceTradeStream:
    return BinanceTradeStream(venue.url, ["ETHUSDT", "bnbbtc"], on_raw=sink.on_raw,
                              on_rows=sink.on_rows, config=cfg(**kw))


def assert_contiguous(ids: list[int]) -> None:
    assert ids == list(range(ids[0], ids[0] + len(ids))), "gap or duplicate in trade ids"


async def test_default_url_is_never_contacted_by_construction():
    s = BinanceTradeStream(symbols=["btcusdt"], on_rows=lambda rows: None)
    assert s.url == BINANCE_WS_URL + "/stream?streams=btcusdt@trade"
    assert s.stats()["open_conns"] == 0
    with pytest.raises(ValueError):
        BinanceTradeStream(symbols=[], on_rows=lambda rows: None)


async def test_rows_flow_with_exact_values_and_raw_frames_replay():
    sink = Sink()
    async with FakeBinance() as venue:
        s = stream(venue, sink)
        await s.start()
        try:
            await wait_until(lambda: len(sink.rows) >= 30, what="30 rows")
        finally:
            await s.stop()
        assert [c.path for c in venue.conns] == [PATH]
    eth = [r for r in sink.rows if r.symbol == "ETHUSDT"]
    bnb = [r for r in sink.rows if r.symbol == "BNBBTC"]
    assert eth and bnb
    r = eth[0]
    assert (r.venue, r.price, r.size, r.buyer_is_maker) == ("binance", 4_149_740_000, 438_700, True)
    assert r.trade_id == "705291100"  # the capture's id + 1: the first published trade
    assert r.ts_venue_ns == (1639351062243 + 1) * 1_000_000
    assert (bnb[0].price, bnb[0].size, bnb[0].trade_id) == (1_000, 100_000_000, "12346")
    assert_contiguous(sink.ids("ETHUSDT"))
    assert_contiguous(sink.ids("BNBBTC"))
    st = s.stats()
    assert st["parser"]["ignored"]["bookTicker"] >= 1 and st["parser"]["ignored"]["aggTrade"] >= 1
    assert st["parser"]["rejects"] == {} and st["drops"] == 0 and st["opens"] == 1
    assert st["frames"] == len(sink.raw) and st["rows"] == len(sink.rows)
    # The recorder's raw frames replay through a fresh parser into exactly the delivered rows.
    replay = SpotParser()
    assert [row for text, ts, _ in sink.raw for row in replay.parse(text, ts)] == sink.rows


async def test_dropped_connection_reconnects_and_rows_keep_flowing():
    sink = Sink()
    async with FakeBinance() as venue:
        s = stream(venue, sink)
        await s.start()
        try:
            await wait_until(lambda: len(sink.rows) >= 10, what="rows on the first connection")
            venue.drop(venue.conns[0])
            await wait_until(lambda: len(venue.conns) == 2, what="a reconnect")
            assert not venue.conns[1].overlapped
            n = len(sink.rows)
            await wait_until(lambda: len(sink.rows) >= n + 20, what="rows after the reconnect")
        finally:
            await s.stop()
        assert [c.path for c in venue.conns] == [PATH, PATH]
    assert sink.conns() == {0, 1}
    st = s.stats()
    assert st["drops"] == 1 and st["opens"] == 2 and st["last_close_reason"] == "stopped"
    for sym in ("ETHUSDT", "BNBBTC"):
        ids = sink.ids(sym)
        assert ids == sorted(set(ids))  # trades lost in the gap, but never twice or backwards


async def test_server_shutdown_rotates_make_before_break():
    sink = Sink()
    async with FakeBinance() as venue:
        s = stream(venue, sink)
        await s.start()
        try:
            await wait_until(lambda: len(sink.rows) >= 10, what="rows")
            await venue.push(SHUTDOWN, venue.conns[0])
            await wait_until(lambda: len(venue.conns) == 2 and venue.conns[0].closed,
                             what="rotation")
            n = len(sink.rows)
            await wait_until(lambda: len(sink.rows) >= n + 20, what="rows after the rotation")
        finally:
            await s.stop()
        # the replacement was open before the old connection went away
        assert venue.conns[1].overlapped
        assert [c.path for c in venue.conns] == [PATH, PATH]
    st = s.stats()
    assert st["server_shutdowns"] == 1 and st["rotate_server_shutdown"] == 1
    assert st["drops"] == 0 and st["opens"] == 2
    assert sink.conns() == {0, 1}
    # both connections delivered during the 0.1 s overlap; the doubles were dropped
    assert st["parser"]["duplicates"] > 0
    assert st["trades"] == st["rows"] + st["parser"]["duplicates"]
    # no trade lost and none delivered twice across the rotation
    assert_contiguous(sink.ids("ETHUSDT"))
    assert_contiguous(sink.ids("BNBBTC"))


async def test_age_rotation_is_gapless():
    sink = Sink()
    async with FakeBinance() as venue:
        s = stream(venue, sink, max_conn_age_s=0.3)
        await s.start()
        try:
            await wait_until(lambda: s.stats()["rotate_max_age"] >= 3, what="three rotations")
            n = len(sink.rows)
            await wait_until(lambda: len(sink.rows) >= n + 5, what="rows after rotations")
        finally:
            await s.stop()
    st = s.stats()
    assert st["drops"] == 0 and st["opens"] >= 4
    assert len(sink.conns()) >= 4
    assert_contiguous(sink.ids("ETHUSDT"))
    assert_contiguous(sink.ids("BNBBTC"))


async def test_stall_watchdog_replaces_a_silent_connection():
    sink = Sink()
    async with FakeBinance() as venue:
        s = stream(venue, sink, stall_after_s=0.3)
        await s.start()
        try:
            await wait_until(lambda: len(sink.rows) >= 5, what="rows")
            venue.paused = True
            await wait_until(lambda: s.stats()["rotate_stalled"] >= 1, what="stall")
            await wait_until(lambda: len(venue.conns) >= 2, what="a replacement")
            venue.paused = False
            await wait_until(lambda: 1 in {c for _, _, c in sink.raw}, what="rows on the new one")
        finally:
            await s.stop()
    assert s.stats()["drops"] == 0


async def test_connect_failures_back_off_and_stop_is_prompt():
    with socket.socket() as sock:  # a port with no listener
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sink = Sink()
    s = BinanceTradeStream(f"ws://127.0.0.1:{port}", ["btcusdt"], on_rows=sink.on_rows,
                           config=cfg())
    await s.start()
    await wait_until(lambda: s.stats()["connect_failures"] >= 3, what="failures")
    st = s.stats()
    assert st["open_conns"] == 0 and st["need"] == "start" and st["attempt"] >= 2
    assert "ConnectionRefused" in st["last_error"] or "Errno" in st["last_error"]
    t = time.monotonic()
    await s.stop()
    assert time.monotonic() - t < 1.0


async def test_rejected_handshakes_are_retried():
    sink = Sink()
    async with FakeBinance() as venue:
        venue.reject_handshakes = 2
        s = stream(venue, sink)
        await s.start()
        try:
            await wait_until(lambda: len(sink.rows) >= 5, what="rows after rejections")
        finally:
            await s.stop()
    assert s.stats()["connect_failures"] == 2


async def test_callback_errors_do_not_stop_the_stream():
    rows: list = []

    def bad_raw(text, ts, cid):
        raise RuntimeError("recorder down")

    def on_rows(batch):
        rows.extend(batch)
        if len(rows) % 2:
            raise RuntimeError("consumer bug")

    async with FakeBinance() as venue:
        s = BinanceTradeStream(venue.url, ["ethusdt", "bnbbtc"], on_raw=bad_raw, on_rows=on_rows,
                               config=cfg())
        await s.start()
        try:
            await wait_until(lambda: len(rows) >= 10, what="rows despite errors")
        finally:
            await s.stop()
    assert s.stats()["callback_errors"] >= 10


async def test_restart_after_stop():
    sink = Sink()
    async with FakeBinance() as venue:
        s = stream(venue, sink)
        await s.start()
        await wait_until(lambda: len(sink.rows) >= 3, what="rows")
        await s.stop()
        await asyncio.sleep(0.02)
        n = len(sink.rows)
        assert all(c.closed for c in venue.conns)
        await s.start()
        try:
            await wait_until(lambda: len(sink.rows) >= n + 3, what="rows after restart")
        finally:
            await s.stop()
        assert len(venue.conns) == 2
