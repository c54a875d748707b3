"""The decision journal: every decision with its reason code, in order.

An entry is captured cheaply on the decision path: one tuple in ``JournalEntry`` field order,
appended. Sinks with a ``take(entry_tuple)`` method get the tuple as it is (the JSON Lines file:
it encodes batches of them on its writer thread); any other sink is a callable given a
``JournalEntry`` (built only when such a sink, or ``keep``, asks for one). The file's bytes are
deterministic: fields in a fixed order, no wall-clock values, sequence numbers from the run.
Entries carry the engine's time (``ts_ns``: the simulated clock in a backtest), so the same
recording and config give a byte-identical journal.

Actions: ``skip`` (a filter failed), ``signal``, ``risk_reject``, ``order`` (sent to
execution), ``order_event`` (a transition of an order), ``fill``, ``settle``, ``halted`` (the
risk gate closed: kill switch or breaker; one line per halt) and ``resumed``, ``adopt``,
``position_conflict``, ``foreign_report`` (a report for an order this run did not place).
``reason`` is a stable snake_case code.

Writes: the caller (the kernel) marks the end of each event with ``end_of_event()``. A strategy's
decision and its order happen inside one event, so the file sink writes (or hands batches to
its writer thread) at those marks, never between a decision and its order; entries recording
money are written through to the OS at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from clobflow.core import ids


class JournalEntry(msgspec.Struct, frozen=True, gc=False):
    seq: int
    ts_ns: int
    strategy: str
    action: str
    reason: str
    passed: bool
    market: str = ""
    asset_id: str = ""
    inputs: dict[str, Any] | None = None


Sink = Callable[[JournalEntry], None]
EntryTuple = tuple[int, int, str, str, str, bool, str, str, "dict[str, Any] | None"]
"""``(seq, ts_ns, strategy, action, reason, passed, market, asset_id, inputs)``: a
``JournalEntry``'s fields in order (``JournalEntry(*t)`` builds one)."""


class Journal:
    """Numbers and fans out entries. ``counts`` tallies (action, reason) pairs for reports."""

    def __init__(self, sinks: list[Any] | None = None, *, keep: bool = False) -> None:
        self._sinks: list[Sink] = []
        self._takers: list[Callable[[EntryTuple], None]] = []
        self._ends: list[Callable[[], None]] = []
        for s in sinks or ():
            self.add_sink(s)
        self.seq = 0
        self.counts: dict[tuple[str, str], int] = {}
        self.entries: list[JournalEntry] | None = [] if keep else None

    def add_sink(self, sink: Any) -> None:
        """Add a sink: one with ``take(entry_tuple)`` gets tuples, any other callable gets
        ``JournalEntry``s; one with an ``end_of_event()`` method is told where events end."""
        take = getattr(sink, "take", None)
        if callable(take):
            self._takers.append(take)
        else:
            self._sinks.append(sink)
        end = getattr(sink, "end_of_event", None)
        if callable(end):
            self._ends.append(end)
            # the hot path calls this once per event: with one such sink, call it directly
            self.end_of_event = end if len(self._ends) == 1 else self._end_all  # type: ignore[method-assign]

    def end_of_event(self) -> None:
        """The current event is handled (its orders are out): sinks may write now."""

    def _end_all(self) -> None:
        for end in self._ends:
            end()

    def record(
        self,
        ts_ns: int,
        strategy: str,
        action: str,
        reason: str,
        *,
        passed: bool,
        market: str = "",
        asset_id: str = "",
        inputs: dict[str, Any] | None = None,
    ) -> None:
        self.seq = seq = self.seq + 1
        t = (seq, ts_ns, strategy, action, reason, passed, market, asset_id, inputs)
        key = (action, reason)
        counts = self.counts
        counts[key] = counts.get(key, 0) + 1
        for take in self._takers:
            take(t)
        if self._sinks or self.entries is not None:
            e = JournalEntry(*t)
            if self.entries is not None:
                self.entries.append(e)
            for s in self._sinks:
                s(e)


DURABLE_ACTIONS = frozenset({"fill", "settle", "foreign_report"})
"""Entries that record money: written through to the OS at once, so a crash of the process never
loses a recorded fill. (Fills arrive as execution reports, before any decision they cause.)"""

PROMPT_ACTIONS = frozenset({"order", "risk_reject", "halted", "resumed", "adopt", "position_conflict"})
"""Entries written at the end of their event (``end_of_event``): after the order left."""

_WRITE_SOON = DURABLE_ACTIONS | PROMPT_ACTIONS


class JsonlJournalFile:
    """A sink writing one JSON object per line. ``close()`` writes what is left and closes.

    Entries arrive as tuples (``take``) and wait in a list, so the decision path pays one append
    per entry. Every ``batch`` entries ``end_of_event()`` hands the list to a writer thread, which
    turns it into ``JournalEntry``s and JSON lines in one call (without ``end_of_event`` calls, a
    plain ``Journal`` user, at ``4 * batch``). Entries that must reach the OS soon are written on
    the caller's thread, with everything before them (batches still queued for the thread first:
    the file keeps the order): a ``PROMPT_ACTIONS`` entry at the end of its event (after its
    order left), a ``DURABLE_ACTIONS`` entry at once.

    ``threaded=False`` encodes the batches in place instead (a backtest: nothing waits on its
    decisions, and under the GIL a second thread only adds switching and lock waits).

    Why not hand prompt entries to the thread too: under the GIL a woken writer thread takes the
    interpreter from a busy decision loop for its whole batch, which measured worse at p99 than
    writing the few prompt entries in place; the thread wakes once per ``batch`` entries instead.
    """

    def __init__(self, path: str | Path, *, batch: int = 2048, threaded: bool = True) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        self._enc = msgspec.json.Encoder()
        self._pending: list[EntryTuple] = []
        self._prompt = False
        self._batch = batch
        self._limit = 4 * batch
        self._queue: list[list[EntryTuple]] = []  # handed over, not yet written (under _cond)
        self._cond = threading.Condition()
        self._write_lock = threading.Lock()  # one writer of the file at a time, batches in order
        self._closing = False
        self._threaded = threaded
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def take(self, t: EntryTuple) -> None:
        p = self._pending
        p.append(t)
        a = t[3]
        if a in _WRITE_SOON:
            if a in DURABLE_ACTIONS:
                self.flush()
            else:
                self._prompt = True
        elif len(p) >= self._limit:
            self._hand_over()

    def __call__(self, e: JournalEntry) -> None:
        """The entry-sink form (``Journal.add_sink`` prefers ``take``)."""
        self.take(msgspec.structs.astuple(e))  # type: ignore[arg-type]

    def end_of_event(self) -> None:
        if self._prompt:
            self.flush()
        elif len(self._pending) >= self._batch:
            self._hand_over()

    def flush(self) -> None:
        """Write every entry taken so far through to the OS, on this thread. On an error what
        was not written is kept (queued, in order) and the error raised."""
        self._prompt = False
        with self._write_lock:
            with self._cond:
                batches, self._queue = self._queue, []
            if self._pending:
                batches.append(self._pending)
                self._pending = []
            try:
                self._write(batches)
            finally:
                if batches:
                    with self._cond:
                        self._queue[:0] = batches
            self._f.flush()

    def close(self) -> None:
        if self._f.closed:
            return
        if self._thread is not None:
            with self._cond:
                self._closing = True
                self._cond.notify()
            self._thread.join()
        try:
            self.flush()  # what the thread could not write raises here, on the caller's thread
        finally:
            self._f.close()

    # -- the writer thread -------------------------------------------------------------------

    def _hand_over(self) -> None:
        self._prompt = False
        if not self._pending:
            return
        if not self._threaded or self._error is not None:
            # in place (also once the thread failed: a persisting error then raises here)
            self.flush()
            return
        with self._cond:
            self._queue.append(self._pending)
            self._cond.notify()
        self._pending = []
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="clobflow-journal-writer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return
            with self._write_lock:
                with self._cond:
                    batches, self._queue = self._queue, []
                try:
                    self._write(batches)
                    self._f.flush()
                except Exception as e:  # noqa: BLE001 - the caller's thread meets it again
                    # The batches not written go back first; from now on the caller writes in
                    # place, where the error (an unencodable input, a full disk) is raised.
                    self._error = e
                    with self._cond:
                        self._queue[:0] = batches
                    return

    def _write(self, batches: list[list[EntryTuple]]) -> None:
        """Write ``batches`` in order, removing each once written (what is left on an error
        was not written)."""
        entry = JournalEntry
        while batches:
            self._f.write(self._enc.encode_lines([entry(*t) for t in batches[0]]))
            del batches[0]


def read_journal(path: str | Path, *, legacy_venue: str = "polymarket") -> list[JournalEntry]:
    """The entries of a JSON Lines journal, in order. ``market``/``asset_id`` come back
    venue-qualified: journals written before ids carried their venue hold bare ids, and every
    one of those was ``legacy_venue``'s (Polymarket's), so they are read as such."""
    dec = msgspec.json.Decoder(JournalEntry)
    with open(path, "rb") as f:
        return [_qualified(dec.decode(line), legacy_venue) for line in f if line.strip()]


def _qualified(e: JournalEntry, venue: str) -> JournalEntry:
    m, a = ids.qualify(venue, e.market), ids.qualify(venue, e.asset_id)
    if m is e.market and a is e.asset_id:
        return e
    return msgspec.structs.replace(e, market=m, asset_id=a)
