"""Rows on their way to the sinks: the recorder's writer thread hands each table's batches
(``batches``) to an ``Outbox``, which writes them to every sink in order.

- ``PendingRows``: one sink's unwritten batches of one table, oldest first. ``head`` merges
  the oldest into one write up to a row bound, never splitting a batch (a backlog after an
  outage goes out in few large writes); ``trim`` drops the oldest whole batches past a bound.
- ``Outbox.write``: every sink gets every batch. A failing sink keeps its batches and is
  retried ``retry_s`` later (the others go on); past ``max_pending_rows`` rows of one table the
  oldest batches are dropped and counted in ``rows_dropped`` (derived data: rebuildable from
  the raw files). Writer thread only: nothing here is thread-safe.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from clobflow.recorder.batches import merge
from clobflow.recorder.sink import TableSink
from clobflow.recorder.tables import TABLES


class PendingRows:
    """One sink's batches of one table not yet written, oldest first; ``rows`` counts them."""

    __slots__ = ("batches", "rows")

    def __init__(self) -> None:
        self.batches: deque[Sequence[Any]] = deque()
        self.rows = 0

    def add(self, batch: Sequence[Any]) -> None:
        self.batches.append(batch)
        self.rows += len(batch)

    def head(self, max_rows: int) -> tuple[Sequence[Any], int]:
        """``(batch, k)``: the oldest ``k`` batches merged, as many as fit in ``max_rows`` rows
        (at least one, whatever its size). Call ``pop(k)`` once it is written."""
        take, n = [], 0
        for b in self.batches:
            if take and n + len(b) > max_rows:
                break
            take.append(b)
            n += len(b)
        return merge(take), len(take)

    def pop(self, k: int) -> None:
        for _ in range(k):
            self.rows -= len(self.batches.popleft())

    def trim(self, max_rows: int) -> int:
        """Drop the oldest whole batches while more than ``max_rows`` rows wait; returns the
        rows dropped."""
        dropped = 0
        while self.rows > max_rows and self.batches:
            n = len(self.batches.popleft())
            self.rows -= n
            dropped += n
        return dropped


class Outbox:
    """Batches waiting for ``sinks``. ``on_error(text, count)`` is told of each sink failure
    (``count``: failures so far); ``rows_dropped`` is the caller's per-table counter."""

    def __init__(self, sinks: Sequence[TableSink], *, max_write_rows: int, max_pending_rows: int,
                 rows_dropped: dict[str, int], on_error: Callable[[str, int], Any], retry_s: float = 1.0) -> None:
        self.sinks = list(sinks)
        self.max_write_rows = max_write_rows
        self.max_pending_rows = max_pending_rows
        self.rows_dropped = rows_dropped
        self.on_error = on_error
        self.retry_s = retry_s
        self.errors = 0
        self._pending: list[dict[str, PendingRows]] = [{t: PendingRows() for t in TABLES} for _ in self.sinks]
        self._retry_at = 0.0

    def add(self, table: str, batch: Sequence[Any]) -> None:
        for pend in self._pending:
            pend[table].add(batch)

    def pending_rows(self) -> dict[str, int]:
        """Per table, the most rows any sink still waits for."""
        return {t: max((p[t].rows for p in self._pending), default=0) for t in TABLES}

    def write(self, force: bool = False) -> bool:
        """Write what waits (unless a failed sink's retry is not due yet and not ``force``);
        returns whether nothing is left pending."""
        now = time.monotonic()
        if now < self._retry_at and not force:
            return False
        clean = True
        for sink, pend in zip(self.sinks, self._pending, strict=True):
            for table, p in pend.items():
                if p.rows and not self._write(sink, table, p):
                    clean = False
        self._retry_at = 0.0 if clean else now + self.retry_s
        return clean

    def _write(self, sink: TableSink, table: str, pending: PendingRows) -> bool:
        try:
            while pending.batches:
                batch, k = pending.head(self.max_write_rows)
                sink.write(table, batch)
                pending.pop(k)
        except Exception as exc:  # noqa: BLE001 - any sink failure: keep the rows, retry later
            self.errors += 1
            self.on_error(f"sink {type(sink).__name__}.{table}: {exc}", self.errors)
        self.rows_dropped[table] += pending.trim(self.max_pending_rows)
        return not pending.rows
