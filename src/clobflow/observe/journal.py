"""The decision journal: every decision with its reason code, in order.

A ``JournalEntry`` is captured cheaply on the decision path (one Struct, appended) and handed to
sinks: a JSON Lines file (deterministic bytes: fields in a fixed order, no wall-clock values,
sequence numbers from the run) and, optionally, the SQL store's writer. Entries carry the
engine's time (``ts_ns``: the simulated clock in a backtest), so the same recording and config
give a byte-identical journal.

Actions: ``skip`` (a filter failed), ``signal``, ``risk_reject``, ``order`` (sent to
execution), ``order_event`` (a transition of an order), ``fill``, ``settle``, ``halted`` (the
risk gate closed: kill switch or breaker; one line per halt) and ``resumed``, ``adopt``,
``position_conflict``, ``foreign_report`` (a report for an order this run did not place).
``reason`` is a stable snake_case code.

Writes: the caller (the kernel) marks the end of each event with ``end_of_event()``. A strategy's
decision and its order happen inside one event, so the file sink writes at those marks (and for
entries recording money at once), never between a decision and its order.
"""

from __future__ import annotations

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


class Journal:
    """Numbers and fans out entries. ``counts`` tallies (action, reason) pairs for reports."""

    def __init__(self, sinks: list[Sink] | None = None, *, keep: bool = False) -> None:
        self._sinks: list[Sink] = []
        self._ends: list[Callable[[], None]] = []
        for s in sinks or ():
            self.add_sink(s)
        self.seq = 0
        self.counts: dict[tuple[str, str], int] = {}
        self.entries: list[JournalEntry] | None = [] if keep else None

    def add_sink(self, sink: Sink) -> None:
        """Add a sink; one with an ``end_of_event()`` method is told where events end."""
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
    ) -> JournalEntry:
        self.seq += 1
        e = JournalEntry(self.seq, ts_ns, strategy, action, reason, passed, market, asset_id, inputs)
        key = (action, reason)
        self.counts[key] = self.counts.get(key, 0) + 1
        if self.entries is not None:
            self.entries.append(e)
        for s in self._sinks:
            s(e)
        return e


DURABLE_ACTIONS = frozenset({"fill", "settle", "foreign_report"})
"""Entries that record money: written through to the OS at once, so a crash of the process never
loses a recorded fill. (Fills arrive as execution reports, before any decision they cause.)"""

PROMPT_ACTIONS = frozenset({"order", "risk_reject", "halted", "resumed", "adopt", "position_conflict"})
"""Entries written at the end of their event (``end_of_event``): after the order left."""


class JsonlJournalFile:
    """A sink writing one JSON object per line. ``close()`` flushes and closes the file.

    Buffered in memory: ``DURABLE_ACTIONS`` entries flush the buffer (and everything before them,
    keeping the order) to the OS immediately; ``end_of_event()`` writes it when it holds a
    ``PROMPT_ACTIONS`` entry or more than 1 MiB. Without ``end_of_event`` calls (a plain
    ``Journal`` user) the buffer is also written when it passes 4 MiB.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        self._enc = msgspec.json.Encoder()
        self._buf = bytearray()
        self._prompt = False

    def __call__(self, e: JournalEntry) -> None:
        self._enc.encode_into(e, self._buf, -1)
        self._buf.extend(b"\n")
        a = e.action
        if a in DURABLE_ACTIONS:
            self.flush()
        elif a in PROMPT_ACTIONS:
            self._prompt = True
        elif len(self._buf) > 4 << 20:
            self._f.write(self._buf)
            self._buf.clear()

    def end_of_event(self) -> None:
        if self._prompt or len(self._buf) > 1 << 20:
            self.flush()

    def flush(self) -> None:
        self._prompt = False
        self._f.write(self._buf)
        self._buf.clear()
        self._f.flush()

    def close(self) -> None:
        if not self._f.closed:
            self.flush()
            self._f.close()


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
