"""The recorder service: raw frames to disk first, derived tables after, off the event loop.

Map:
- ``on_raw(text, ts_recv_ns, conn_id, venue, channel)`` runs on the event loop for every frame
  and only appends a tuple to a bounded deque (O(1), never blocks). A full queue (or a closed
  recorder) drops the frame and counts it by reason: drops are never silent.
- One writer thread drains the queue in cycles (woken every ``batch_ms`` or when
  1,000 frames wait). Each cycle first writes *every* queued frame to the raw files
  and sync-flushes them (``RawFrameWriter``), counting them ``acked``; then it derives rows
  from the frames written (``TableBuilder``) for at most ``batch_ms``, and appends rows to
  every sink once a table has ``batch_max`` rows or its oldest row waited ``batch_ms``.
- One parse per frame: a stream whose frames the live feed parses anyway (its books need
  them) is *fed*: ``events_hook(venue, channel)`` returns the callable the feed calls with
  each frame's events right after ``on_raw`` took that frame (O(1): the list is queued behind
  its frame, or dropped with it). Other streams' frames are parsed on the writer thread with
  the ``parsers`` given (e.g. frames offered without a feed). The rows are the same either way.
- Deriving costs more than writing raw. Frames written but not yet derived wait in a backlog,
  so a burst never holds back the raw path; past ``derive_backlog_max`` frames the oldest are
  not derived (counted in ``derive_skipped``, books untrusted until their next venue
  snapshot): under overload the derived tables get a counted gap, never the raw files.
- Rows leave in batches (``batches``; ``orderbook_deltas`` as the events themselves) through
  an ``Outbox`` (``outbox``) to every sink.
- ``on_markets``/``on_spot_rows``/``flush``/``close`` travel through the same queue, so they
  are handled in order with the frames around them.
- Every ``health_interval_s`` the writer logs one health line.

Failures: a raw write error (disk full) is retried with backoff and the batch kept, so frames
are never acked unwritten; meanwhile the queue fills and further frames are dropped, counted.
A sink error keeps that sink's rows and retries them; past ``max_pending_rows`` per table the
oldest batches are dropped and counted (they are derived data: rebuildable from the raw files).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from clobflow.core.markets import BinaryMarket
from clobflow.recorder.frames import RawFrame
from clobflow.recorder.markets_log import MarketLog
from clobflow.recorder.normalize import Parser, TableBuilder, TopOfBookHook
from clobflow.recorder.outbox import Outbox
from clobflow.recorder.raw_writer import RawFrameWriter
from clobflow.recorder.sink import TableSink
from clobflow.recorder.tables import TABLES, SpotPriceRow

_DRAIN_MAX = 20_000  # frames per cycle: bounds one raw batch and the memory it holds
_WAKE_FRAMES = 1_000  # frames waiting that wake the writer before batch_ms
_CLOSING_TRIES = 5


class _Ctl:
    """A non-frame queue item: ``kind`` in markets | spot | flush | stop."""

    __slots__ = ("kind", "payload", "done")

    def __init__(self, kind: str, payload: Any = None) -> None:
        self.kind = kind
        self.payload = payload
        self.done = threading.Event()


class _Events:
    """A fed stream's events of the frame queued just before them."""

    __slots__ = ("events", "venue", "channel")

    def __init__(self, events: list, venue: str, channel: str) -> None:
        self.events = events
        self.venue = venue
        self.channel = channel


class Recorder:
    """Records raw frames and derives the normalised tables into ``sinks``.

    Args:
        root: recording directory (``raw/``, ``markets/``; the embedded sink adds its file).
        sinks: ``TableSink``s receiving every derived row (tables are created on ``start``).
        parsers: ``{(venue, channel): parser factory}`` for derivation (``engine.record``
            supplies the registry's); frames of other streams are recorded raw only.
        checkers: ``{venue: integrity checker factory}`` for the derivation's books.
        queue_max: frames that may wait for the writer (their events items not counted);
            beyond, new frames are dropped.
        batch_max / batch_ms: a table's rows go to the sinks once ``batch_max`` wait or the
            oldest waited ``batch_ms``. Large inserts are cheap per row (DuckDB spends a fixed
            few ms per statement: 5k-row inserts cost ~1.7x the CPU per row of 20k-row ones).
        snapshot_interval_s: periodic full-book snapshots (``TableBuilder``); 0 disables.
        health_interval_s: the health line's period (0 disables); ``log`` prints it.
        connection_states: returns something printable about the feed's connections; called
            from the writer thread, so it must only read a value the loop keeps current.
        on_top_of_book: hooks ``hook(asset_id, market, book, ts_ns)`` run on the writer thread
            when a token's top of book changes (see ``TableBuilder``); append before ``start``.
        rotate_mb / fsync: see ``RawFrameWriter``.
        derive_backlog_max: written frames that may wait for derivation (default
            ``queue_max``); beyond, derivation skips the oldest.
        max_write_rows: pending batches of one table are merged into one ``sink.write`` (one
            transaction) up to this many rows (a batch is never split): a backlog is written in
            few large inserts, which DuckDB does 1.5x faster per row.

    ``received``: frames offered; ``acked``: frames durably written and flushed; ``dropped``:
    by reason (``queue_full``, ``closed``). At any moment received == acked + queued + dropped.
    """

    def __init__(
        self,
        root: str | Path,
        sinks: Sequence[TableSink],
        *,
        parsers: Mapping[tuple[str, str], Callable[[], Parser]] | None = None,
        checkers: Mapping[str, Callable[[], Any]] | None = None,
        queue_max: int = 100_000,
        batch_max: int = 20_000,
        batch_ms: float = 200,
        snapshot_interval_s: float = 60,
        health_interval_s: float = 10,
        log: Callable[[str], Any] = print,
        connection_states: Callable[[], object] | None = None,
        on_top_of_book: list[TopOfBookHook] | None = None,
        rotate_mb: float = 64,
        fsync: bool = False,
        max_pending_rows: int = 200_000,
        derive_backlog_max: int | None = None,
        max_write_rows: int = 20_000,
    ) -> None:
        if queue_max < 1 or batch_max < 1 or batch_ms <= 0:
            raise ValueError("queue_max and batch_max must be >= 1, batch_ms > 0")
        self.root = Path(root)
        self.sinks = list(sinks)
        self.queue_max = queue_max
        self.batch_max = batch_max
        self.batch_s = batch_ms / 1000
        self.health_interval_s = health_interval_s
        self.log = log
        self.connection_states = connection_states
        self.on_top_of_book: list[TopOfBookHook] = on_top_of_book if on_top_of_book is not None else []
        self.derive_backlog_max = queue_max if derive_backlog_max is None else derive_backlog_max
        self.max_write_rows = max(batch_max, max_write_rows)
        self.raw = RawFrameWriter(self.root, rotate_mb=rotate_mb, fsync=fsync)
        self.builder = TableBuilder(parsers or {}, snapshot_interval_s=snapshot_interval_s,
                                    top_of_book_hooks=self.on_top_of_book, checkers=checkers)
        self._q: deque = deque()
        self._backlog: deque = deque()  # written (acked) items waiting for derivation, in order
        self._backlog_frames = 0
        self._wake = threading.Event()
        self._wake_depth = min(batch_max, _WAKE_FRAMES)
        self._thread: threading.Thread | None = None
        self._closed = False
        self._took = False  # whether on_raw queued its latest frame (its events follow it)
        # Frames queued (by the loop) and taken (by the writer): each written by one thread only,
        # so their difference is the queue's frame depth without a lock (events items are free).
        self._queued = 0
        self._taken = 0
        self._stopping = False
        self._stop_seen = False
        self._market_logs: dict[str, MarketLog] = {}
        self._since: dict[str, float] = {}
        self.received = 0
        self.acked = 0
        self.drops = {"queue_full": 0, "closed": 0}
        self.rows = dict.fromkeys(TABLES, 0)
        self.rows_dropped = dict.fromkeys(TABLES, 0)
        self.derive_skipped = 0
        self.raw_errors = 0
        self.errors = 0
        self.last_error = ""
        self.outbox = Outbox(self.sinks, max_write_rows=self.max_write_rows, max_pending_rows=max_pending_rows,
                             rows_dropped=self.rows_dropped, on_error=self._sink_failed)

    # -- event-loop side: O(1), never blocks ---------------------------------------------------

    def on_raw(self, text: str, ts_recv_ns: int, conn_id: int, venue: str = "polymarket",
               channel: str = "market") -> None:
        """Queue one frame exactly as received (the ``MarketFeed``/``MarketStream`` hook)."""
        self.received += 1
        q = self._q
        if self._closed:
            self.drops["closed"] += 1
            self._took = False
            return
        depth = self._queued - self._taken
        if depth >= self.queue_max:
            self.drops["queue_full"] += 1
            self._took = False
            return
        q.append((text, ts_recv_ns, conn_id, venue, channel))
        self._queued += 1
        self._took = True
        if depth + 1 == self._wake_depth:
            self._wake.set()

    def events_hook(self, venue: str = "polymarket", channel: str = "market") -> Callable[[list], None]:
        """Make ``(venue, channel)`` a fed stream and return its events callable.

        The caller (``MarketFeed``'s ``on_parsed``) must call it on the event loop with the
        events of each frame right after handing that frame to ``on_raw`` (and with nothing
        else in between; lists of its own ``FeedStatus`` events are ignored). Events of a
        frame ``on_raw`` dropped are dropped with it. Call before the stream's first frame.
        """
        self.builder.feed(venue, channel)
        q = self._q

        def on_events(events: list) -> None:
            if self._took:
                q.append(_Events(events, venue, channel))

        return on_events

    def on_markets(self, added: Iterable[BinaryMarket], removed: Iterable[BinaryMarket] = (), *,
                   venue: str = "polymarket", ts_ns: int | None = None) -> None:
        """Discovered markets (new or changed) for the market log and ``market_windows``;
        ``removed`` ones get no more periodic snapshots. ``ts_ns`` defaults to now. Markets are
        kept with the venue's own ids (``BinaryMarket.bare``), like the frames and tables."""
        ts = time.time_ns() if ts_ns is None else ts_ns
        self._ctl(_Ctl("markets", ([m.bare() for m in added], [m.bare() for m in removed], venue, ts)))

    def on_spot_rows(self, rows: Sequence[SpotPriceRow]) -> None:
        """Spot trades of the underlying (e.g. the Binance capture) for ``spot_prices``."""
        if not rows:
            return
        if self._closed or self._queued - self._taken >= self.queue_max:
            self.rows_dropped["spot_prices"] += len(rows)
            return
        self._ctl(_Ctl("spot", list(rows)))

    def _ctl(self, c: _Ctl) -> _Ctl:
        if self._stopping:
            return c  # after close: nothing is handled any more (flush() checks first)
        self._q.append(c)
        self._wake.set()
        return c

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Recorder:
        """Create the sinks' tables and start the writer thread. Returns ``self``."""
        if self._thread is None:
            for s in self.sinks:
                s.ensure_tables()
            self._thread = threading.Thread(target=self._run, name="recorder-writer", daemon=True)
            self._thread.start()
        return self

    def flush(self, timeout: float | None = None) -> bool:
        """Block until everything queued before the call is in the raw files and the sinks.

        Returns ``False`` on timeout, or when some rows could not be written (sink errors).
        Blocking: from a coroutine use ``await asyncio.to_thread(recorder.flush)``.
        """
        self.start()
        if self._stopping or self._thread is None or not self._thread.is_alive():
            return False
        c = self._ctl(_Ctl("flush"))
        return c.done.wait(timeout) and bool(c.payload)

    def close(self, timeout: float | None = None) -> None:
        """Stop accepting frames, drain the queue, write everything, close files and sinks.

        Idempotent. Frames offered afterwards are dropped (``closed``).
        """
        self.start()
        self._closed = True
        if not self._stopping:
            self._stopping = True
            self._q.append(_Ctl("stop"))
            self._wake.set()
        assert self._thread is not None
        self._thread.join(timeout)

    # -- writer thread -----------------------------------------------------------------------

    def _run(self) -> None:
        next_health = time.monotonic() + self.health_interval_s
        last = (time.monotonic(), 0, 0)
        while not self._stop_seen:
            if not self._backlog and len(self._q) < self._wake_depth:
                self._wake.wait(self.batch_s)  # idle, or a partial batch: let frames gather
            self._wake.clear()
            try:
                self._cycle()
            except Exception as exc:  # noqa: BLE001 - a bug must not end recording silently
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                self.log(f"recorder: writer error: {self.last_error}")
            now = time.monotonic()
            if self.health_interval_s and now >= next_health:
                self.log(self.health_line(now - last[0], self.acked - last[1], sum(self.rows.values()) - last[2]))
                last = (now, self.acked, sum(self.rows.values()))
                next_health = now + self.health_interval_s
        self._shutdown()

    def _cycle(self) -> None:
        self._take(min(len(self._q), _DRAIN_MAX))
        self._derive(time.perf_counter() + self.batch_s)
        if self._stop_seen and self._q:
            # Items that raced close() (queued after the stop item): write and derive them too.
            self._take(len(self._q))
            self._derive(time.perf_counter() + self.batch_s)
        self._flush_rows(force=self._stop_seen)

    def _take(self, n: int) -> None:
        """Move ``n`` queued items to the derive backlog, writing their frames raw first."""
        pop = self._q.popleft
        items = [pop() for _ in range(n)]
        frames = [RawFrame(it[1], it[3], it[4], it[2], it[0]) for it in items if type(it) is tuple]
        self._taken += len(frames)
        if frames:
            self._write_raw(frames)
        self._backlog.extend(items)
        self._backlog_frames += len(frames)
        if self._backlog_frames > self.derive_backlog_max:
            self._skip_derivation(self._backlog_frames - self.derive_backlog_max // 2)

    def _derive(self, deadline: float) -> None:
        """Derive backlog items in order until it is empty or ``deadline`` (perf_counter)
        passes (after the stop item: until it is empty)."""
        backlog, add_frame, add_events = self._backlog, self.builder.add_frame, self.builder.add_events
        pop, clock = backlog.popleft, time.perf_counter
        n = 0
        while backlog:
            it = pop()
            t = type(it)
            if t is _Ctl:
                self._control(it)
                continue
            try:
                if t is tuple:
                    self._backlog_frames -= 1
                    add_frame(it[0], it[1], it[3], it[4])
                else:
                    add_events(it.events, it.venue, it.channel)
            except Exception as exc:  # noqa: BLE001 - the frame is safe on disk already
                self.errors += 1
                self.last_error = f"derive: {type(exc).__name__}: {exc}"
            n += 1
            if n & 63 == 0 and clock() > deadline and not self._stop_seen:
                break

    def _skip_derivation(self, n: int) -> None:
        """Drop the oldest ``n`` frames and their events from the derive backlog (controls
        stay, in order)."""
        kept: deque = deque()
        skipped, last_ts, dropping = 0, 0, False
        for it in self._backlog:
            t = type(it)
            if t is tuple:
                dropping = skipped < n
                if dropping:
                    skipped, last_ts = skipped + 1, it[1]
                    continue
            elif t is _Events and dropping:
                continue
            kept.append(it)
        self._backlog = kept
        self._backlog_frames -= skipped
        self.derive_skipped += skipped
        self.builder.invalidate_books(last_ts)
        self.log(f"recorder: deriving fell behind, {skipped} frames not derived ({self.derive_skipped} in all); "
                 "the raw files are complete: rebuild the tables from them")

    def _write_raw(self, frames: list[RawFrame]) -> None:
        delay, tries = 0.05, 0
        while True:
            try:
                self.raw.write_batch(frames)
                self.acked += len(frames)
                return
            except Exception as exc:  # noqa: BLE001 - OSError is retried; anything else is a bug
                self.raw_errors += 1
                tries += 1
                self.last_error = f"raw write: {type(exc).__name__}: {exc}"
                if not isinstance(exc, OSError) or (self._closed and tries >= _CLOSING_TRIES):
                    # A bug, or shutting down with the disk still refusing: give up, but say so.
                    self.drops["write_failed"] = self.drops.get("write_failed", 0) + len(frames)
                    self.log(f"recorder: {len(frames)} frames could not be written: {exc}")
                    return
                if self.raw_errors == 1 or self.raw_errors % 100 == 0:
                    self.log(f"recorder: raw write failed ({self.raw_errors}), retrying: {exc}")
                time.sleep(delay)  # the frames stay unacked; the queue absorbs, then drops
                delay = min(delay * 2, 5.0)

    def _control(self, c: _Ctl) -> None:
        if c.kind == "markets":
            added, removed, venue, ts = c.payload
            log = self._market_logs.get(venue)
            if log is None:
                log = self._market_logs[venue] = MarketLog(self.root, venue)
            self.builder.add_markets(log.append(added, ts), ts, venue)
            if removed:
                self.builder.forget_markets(removed, venue)
        elif c.kind == "spot":
            self.builder.add_spot(c.payload)
        elif c.kind == "flush":
            c.payload = self._flush_rows(force=True)
            c.done.set()
        elif c.kind == "stop":
            self._stop_seen = True

    def _flush_rows(self, force: bool) -> bool:
        """Move built rows to the sinks' pending batches and write what is due; returns whether
        nothing is left pending."""
        now = time.monotonic()
        b = self.builder
        for table in TABLES:
            n = b.pending(table)
            if n:
                since = self._since.setdefault(table, now)
                if force or n >= self.batch_max or now - since >= self.batch_s:
                    batch = b.take(table)
                    self._since.pop(table, None)
                    self.rows[table] += n
                    self.outbox.add(table, batch)
        return self.outbox.write(force)

    def _sink_failed(self, text: str, count: int) -> None:
        self.last_error = text
        if count == 1 or count % 100 == 0:
            self.log(f"recorder: {text} (rows kept for retry)")

    def _shutdown(self) -> None:
        errors = []
        for closer in [self.raw.close, *(m.close for m in self._market_logs.values()),
                       *(s.close for s in self.sinks)]:
            try:
                closer()
            except Exception as exc:  # noqa: BLE001 - close the rest regardless
                errors.append(exc)
                self.errors += 1
                self.last_error = f"close: {type(exc).__name__}: {exc}"
        if errors:
            self.log(f"recorder: errors while closing: {'; '.join(map(str, errors))}")

    # -- reading -----------------------------------------------------------------------------

    def stats(self) -> dict:
        """Counters (plain ints, read without locks: exact once ``close`` returned)."""
        return {
            "received": self.received,
            "acked": self.acked,
            "dropped": sum(self.drops.values()),
            "drops": dict(self.drops),
            "queue_depth": self._queued - self._taken,
            "queue_max": self.queue_max,
            "derive_backlog": self._backlog_frames,
            "derive_skipped": self.derive_skipped,
            "rows": dict(self.rows),
            "rows_pending": self.outbox.pending_rows(),
            "rows_dropped": dict(self.rows_dropped),
            "raw_files": self.raw.files,
            "raw_bytes": self.raw.bytes_in,
            "raw_bytes_compressed": self.raw.bytes_out,
            "raw_errors": self.raw_errors,
            "sink_errors": self.outbox.errors,
            "errors": self.errors,
            "last_error": self.last_error,
            "parser_rejects": self.builder.parser_rejects(),
            "underived_frames": self.builder.underived,
            "parsed_frames": self.builder.parsed,  # by the recorder itself: 0 when fed by the feed
            "hook_errors": self.builder.hook_errors,
            "markets_logged": sum(m.written for m in self._market_logs.values()),
        }

    def health_line(self, dt_s: float, frames: int, rows: int) -> str:
        conns = ""
        if self.connection_states is not None:
            try:
                conns = f", conns {self.connection_states()}"
            except Exception as exc:  # noqa: BLE001 - health must not fail
                conns = f", conns ? ({type(exc).__name__})"
        dt = max(dt_s, 1e-9)
        err = f", last error {self.last_error}" if self.last_error else ""
        return (f"recorder: {frames / dt:,.0f} frames/s, {rows / dt:,.0f} rows/s, "
                f"queue {self._queued - self._taken}/{self.queue_max}, dropped {sum(self.drops.values())}, "
                f"acked {self.acked}/{self.received}, derive backlog {self._backlog_frames} "
                f"(skipped {self.derive_skipped}), sink errors {self.outbox.errors}{conns}{err}")

