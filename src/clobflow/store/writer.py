"""``StoreWriter``: keeps SQL writes off the decision path.

The core loop ``submit``s typed records (``store.records``: signals, decisions, orders,
transitions, fills, position updates) to a bounded ``queue.Queue``; one background thread drains
it in batches of up to ``batch_max`` records (lingering up to ``flush_interval_s`` to fill a
batch) and writes each batch in **one transaction**, one multi-row statement per table, tables
in ``sql.WRITE_ORDER`` and rows of a table in submission order.

Guarantees:
- ``submit`` never drops a record: when the queue is full it waits up to ``put_timeout_s`` and
  then raises ``StoreBackpressure`` (the record was not accepted; the caller decides).
- "Acknowledged" means committed: ``flush(timeout_s)`` returns only once everything submitted
  before the call is committed (``stats().written`` has passed it), and raises
  ``StoreWriteError`` otherwise. ``close()`` flushes, then stops the thread.
- A transient database error (locked, busy, unreachable: ``StoreUnavailable``) keeps the batch
  in memory and retries it with exponential backoff (``backoff_s`` doubling up to
  ``backoff_max_s``), before anything newer, so order is kept; after ``retries`` failed attempts
  it logs a warning once and goes on retrying. Meanwhile the queue fills up and ``submit``
  reports backpressure: a dead database is loud, not lossy.
- A batch the database refuses (constraint violation, bad value) is re-written record by record:
  good records commit, refused ones are kept in ``failed_records()`` (``flush`` raises while any
  remain; ``retry_failed()`` queues them again, e.g. after the missing run was started).

Delivery is at least once: if a connection dies during COMMIT the outcome is unknown and the
batch is retried. Fills, orders and position updates are idempotent; a repeated decision or
transition hits its unique ``seq`` and is refused loudly (kept in ``failed_records()``), never
duplicated; only signals (no natural key) could be written twice.

Position **open / close** do not go through the writer: they are synchronous ``Store`` calls,
because the strategy needs the uniqueness answer (``DuplicatePosition``) at decision time, and a
queued close would let a new open race ahead of it. ``PositionUpdate`` may go through the writer;
a close then passes the final size and cost itself (``Store.close_position``), so whether a queued
update lands before the close (overwritten) or after it (ignored) never shows in the row.

Counters (``stats()``): submitted, written, batches, max_depth, errors, failed, backpressure,
queued, held, last_error.

Threading: ``submit``, ``flush`` and ``stats`` may be called from any thread; do not ``submit``
concurrently with ``close``.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from collections.abc import Sequence

import msgspec

from clobflow.store.errors import StoreBackpressure, StoreError, StoreUnavailable, StoreWriteError
from clobflow.store.records import RECORD_TYPES, Record
from clobflow.store.store import Store

log = logging.getLogger(__name__)

_POLL_S = 0.01  # granularity of the linger wait (so a flush does not wait out the interval)


class WriterStats(msgspec.Struct, frozen=True):
    submitted: int  # records accepted by submit
    written: int  # records whose transaction committed
    batches: int  # committed transactions
    max_depth: int  # largest queue depth seen after a submit
    errors: int  # failed write attempts (each retry counts) and refused records
    failed: int  # records refused by the database, kept in failed_records()
    backpressure: int  # submit calls refused because the queue stayed full
    queued: int  # records waiting in the queue now
    held: int  # records taken from the queue, not yet committed (in flight or retrying)
    last_error: str | None


class StoreWriter:
    """Background writer for ``store``. Call ``start()`` (or use ``with``) before ``submit``.

    Args:
        max_queue: queue capacity in records (the memory bound).
        batch_max: records per transaction at most.
        flush_interval_s: how long the thread lingers to fill a batch.
        put_timeout_s: how long ``submit`` waits on a full queue before ``StoreBackpressure``.
        retries: failed attempts on one batch before the stall is logged (retrying goes on).
        backoff_s, backoff_max_s: first and largest pause between attempts.
    """

    def __init__(
        self,
        store: Store,
        *,
        max_queue: int = 10_000,
        batch_max: int = 500,
        flush_interval_s: float = 0.2,
        put_timeout_s: float = 1.0,
        retries: int = 3,
        backoff_s: float = 0.05,
        backoff_max_s: float = 2.0,
    ) -> None:
        if max_queue < 1 or batch_max < 1:
            raise ValueError("max_queue and batch_max must be >= 1")
        self._store = store
        self._batch_max = batch_max
        self._flush_interval_s = flush_interval_s
        self._put_timeout_s = put_timeout_s
        self._retries = retries
        self._backoff_s = backoff_s
        self._backoff_max_s = backoff_max_s
        self._queue: queue.Queue[Record] = queue.Queue(maxsize=max_queue)
        self._cond = threading.Condition()
        self._head: list[Record] = []  # written before anything from the queue (retries)
        self._inflight = 0
        self._failed: list[tuple[Record, str]] = []
        self._submitted = self._written = self._batches = self._max_depth = 0
        self._errors = self._backpressure = 0
        self._last_error: str | None = None
        self._crash: BaseException | None = None
        self._flush_waiters = 0
        self._state = "new"  # new -> running -> closing -> closed
        self._closing = threading.Event()
        self._abort = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> StoreWriter:
        """Start the writer thread (a daemon; an ``atexit`` hook closes the writer if the
        program ends without ``close()``)."""
        if self._state != "new":
            raise StoreError(f"writer already {self._state}")
        self._thread = threading.Thread(target=self._run, name="clobflow-store-writer", daemon=True)
        self._state = "running"
        self._thread.start()
        atexit.register(self._atexit)
        return self

    def __enter__(self) -> StoreWriter:
        return self.start() if self._state == "new" else self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self, timeout_s: float = 10.0) -> None:
        """Flush, then stop the thread. Idempotent.

        Raises:
            StoreWriteError: not everything could be committed within ``timeout_s``; the thread
                is stopped anyway and the records are in ``unwritten()``.
        """
        if self._state in ("new", "closed"):
            self._state = "closed"
            return
        self._state = "closing"
        self._closing.set()
        try:
            self.flush(timeout_s)
        finally:
            self._abort.set()
            assert self._thread is not None
            self._thread.join(timeout=max(timeout_s, 1.0))
            self._state = "closed"
            atexit.unregister(self._atexit)

    def _atexit(self) -> None:
        try:
            self.close()
        except StoreError as e:
            log.error("store writer closed at exit with unwritten records: %s", e)

    # -- caller side -------------------------------------------------------------------------

    def submit(self, record: Record) -> None:
        """Queue ``record`` for writing; returns at once unless the queue is full.

        Raises:
            TypeError: not a store record.
            StoreBackpressure: the queue stayed full for ``put_timeout_s`` (record not accepted).
            StoreError: the writer is not running (not started, or closing/closed).
        """
        if type(record) not in RECORD_TYPES:
            raise TypeError(f"not a store record: {type(record).__name__}")
        if self._state != "running":
            raise StoreError(f"store writer is {self._state}, not running")
        try:
            self._queue.put(record, timeout=self._put_timeout_s)
        except queue.Full:
            with self._cond:
                self._backpressure += 1
                last = self._last_error
            raise StoreBackpressure(
                f"store writer queue full ({self._queue.maxsize} records) for {self._put_timeout_s}s;"
                f" last database error: {last}"
            ) from None
        depth = self._queue.qsize()
        with self._cond:
            self._submitted += 1
            if depth > self._max_depth:
                self._max_depth = depth

    def submit_many(self, records: Sequence[Record]) -> None:
        """``submit`` each of ``records`` in order, taking the queue's lock once when they fit
        (a backtest's decisions arrive in batches of hundreds). Same errors as ``submit``; on
        ``StoreBackpressure`` the records before the refused one were accepted."""
        for r in records:
            if type(r) not in RECORD_TYPES:
                raise TypeError(f"not a store record: {type(r).__name__}")
        if self._state != "running":
            raise StoreError(f"store writer is {self._state}, not running")
        q = self._queue
        n = len(records)
        with q.not_full:
            fits = q.maxsize - len(q.queue) >= n
            if fits:
                q.queue.extend(records)
                q.unfinished_tasks += n
                q.not_empty.notify(n)
        if not fits:
            for r in records:
                self.submit(r)
            return
        depth = q.qsize()
        with self._cond:
            self._submitted += n
            if depth > self._max_depth:
                self._max_depth = depth

    def flush(self, timeout_s: float = 10.0) -> None:
        """Wait until every record submitted before this call is committed.

        Raises:
            StoreWriteError: still unwritten at ``timeout_s`` (the message has the last database
                error), refused records are held in ``failed_records()``, or the thread died.
        """
        deadline = time.monotonic() + timeout_s
        with self._cond:
            target = self._submitted
            self._flush_waiters += 1
            try:
                while self._written + len(self._failed) < target:
                    left = target - self._written - len(self._failed)
                    if self._crash is not None:
                        raise StoreWriteError(f"store writer crashed; {left} records unwritten") from self._crash
                    if self._thread is None or not self._thread.is_alive():
                        raise StoreWriteError(f"store writer is not running; {left} records unwritten")
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise StoreWriteError(
                            f"{left} records not committed within {timeout_s}s; last error: {self._last_error}"
                        )
                    self._cond.wait(remaining)
            finally:
                self._flush_waiters -= 1
            if self._failed:
                raise StoreWriteError(
                    f"{len(self._failed)} records refused by the database (kept, see failed_records());"
                    f" last error: {self._failed[-1][1]}"
                )

    def failed_records(self) -> list[tuple[Record, str]]:
        """Records the database refused, with the error text, oldest first."""
        with self._cond:
            return list(self._failed)

    def retry_failed(self) -> int:
        """Queue the refused records again (ahead of the queue); returns how many."""
        with self._cond:
            records = [r for r, _ in self._failed]
            self._failed.clear()
            self._head.extend(records)
            return len(records)

    def unwritten(self) -> list[Record]:
        """Records not committed: retrying, refused, and still queued. Meant for after
        ``close()`` failed (while running, the queue part is a moving snapshot)."""
        with self._cond:
            out = list(self._head) + [r for r, _ in self._failed]
        with self._queue.mutex:
            out.extend(self._queue.queue)
        return out

    def stats(self) -> WriterStats:
        with self._cond:
            return WriterStats(
                submitted=self._submitted,
                written=self._written,
                batches=self._batches,
                max_depth=self._max_depth,
                errors=self._errors,
                failed=len(self._failed),
                backpressure=self._backpressure,
                queued=self._queue.qsize(),
                held=len(self._head) + self._inflight,
                last_error=self._last_error,
            )

    @property
    def submitted(self) -> int:
        return self._submitted

    @property
    def written(self) -> int:
        return self._written

    @property
    def errors(self) -> int:
        return self._errors

    @property
    def last_error(self) -> str | None:
        return self._last_error

    # -- writer thread -----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._abort.is_set():
                batch = self._next_batch()
                if batch is None:
                    return
                if batch:
                    self._write(batch)
        except BaseException as e:  # a bug here must not vanish with the thread
            with self._cond:
                self._crash = e
                self._last_error = f"writer crashed: {e!r}"
                self._cond.notify_all()
            raise

    def _next_batch(self) -> list[Record] | None:
        """The next batch; ``[]``: nothing yet; ``None``: closing and drained."""
        with self._cond:
            if self._head:
                batch, self._head = self._head, []
                self._inflight = len(batch)
                return batch
        closing = self._closing.is_set()
        try:
            first = self._queue.get(timeout=min(self._flush_interval_s, 0.05) or _POLL_S)
        except queue.Empty:
            return None if closing else []
        batch = [first]
        deadline = time.monotonic() + self._flush_interval_s
        get_nowait = self._queue.get_nowait
        while len(batch) < self._batch_max:
            try:
                batch.append(get_nowait())
                continue
            except queue.Empty:
                pass
            if self._flush_waiters or self._closing.is_set():
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(self._queue.get(timeout=min(remaining, _POLL_S)))
            except queue.Empty:
                pass
        with self._cond:
            self._inflight = len(batch)
        return batch

    def _write(self, batch: list[Record]) -> None:
        attempt = 0
        while True:
            try:
                self._store.write(batch)
            except StoreUnavailable as e:
                attempt += 1
                self._note_error(e)
                if attempt == self._retries:
                    log.warning("store writer: %d records held after %d attempts: %s", len(batch), attempt, e)
                delay = min(self._backoff_s * 2 ** (attempt - 1), self._backoff_max_s)
                if self._abort.wait(delay):
                    self._hold(batch)
                    return
            except Exception as e:  # refused: find and keep the bad records, write the rest
                self._note_error(e)
                self._isolate(batch)
                return
            else:
                self._committed(len(batch))
                return

    def _isolate(self, batch: Sequence[Record]) -> None:
        for i, rec in enumerate(batch):
            try:
                self._store.write((rec,))
            except StoreUnavailable as e:
                self._note_error(e)
                self._hold(list(batch[i:]))
                return
            except Exception as e:
                self._note_error(e)
                with self._cond:
                    self._failed.append((rec, f"{type(e).__name__}: {e}"))
                    self._inflight -= 1
                    self._cond.notify_all()
            else:
                self._committed(1)

    def _committed(self, n: int) -> None:
        with self._cond:
            self._written += n
            self._batches += 1
            self._inflight = max(0, self._inflight - n)
            self._cond.notify_all()

    def _hold(self, records: list[Record]) -> None:
        with self._cond:
            self._head = records + self._head
            self._inflight = 0
            self._cond.notify_all()

    def _note_error(self, e: BaseException) -> None:
        with self._cond:
            self._errors += 1
            self._last_error = f"{type(e).__name__}: {e}"
