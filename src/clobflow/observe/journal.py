"""The decision journal: every decision with its reason code, in order.

A ``JournalEntry`` is captured cheaply on the decision path (one Struct, appended) and handed to
sinks: a JSON Lines file (deterministic bytes: fields in a fixed order, no wall-clock values,
sequence numbers from the run) and, optionally, the SQL store's writer. Entries carry the
engine's time (``ts_ns``: the simulated clock in a backtest), so the same recording and config
give a byte-identical journal.

Actions: ``skip`` (a filter failed), ``signal``, ``risk_reject``, ``order`` (sent to
execution), ``order_event`` (a transition of an order), ``fill``, ``settle``, ``breaker``,
``kill_switch``. ``reason`` is a stable snake_case code.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec


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
        self._sinks = list(sinks or ())
        self.seq = 0
        self.counts: dict[tuple[str, str], int] = {}
        self.entries: list[JournalEntry] | None = [] if keep else None

    def add_sink(self, sink: Sink) -> None:
        self._sinks.append(sink)

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


DURABLE_ACTIONS = frozenset({"order", "fill", "settle", "risk_reject", "kill_switch", "breaker"})
"""Entries that record money or an order: written through to the OS at once, so a crash of the
process never loses a recorded fill (the frequent ``skip`` entries are buffered)."""


class JsonlJournalFile:
    """A sink writing one JSON object per line. ``close()`` flushes and closes the file.

    Buffered in memory up to 1 MiB, except ``DURABLE_ACTIONS`` entries, which flush the buffer
    (and everything before them, keeping the order) to the OS immediately.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        self._enc = msgspec.json.Encoder()
        self._buf = bytearray()

    def __call__(self, e: JournalEntry) -> None:
        self._enc.encode_into(e, self._buf, -1)
        self._buf.extend(b"\n")
        if e.action in DURABLE_ACTIONS:
            self.flush()
        elif len(self._buf) > 1 << 20:
            self._f.write(self._buf)
            self._buf.clear()

    def flush(self) -> None:
        self._f.write(self._buf)
        self._buf.clear()
        self._f.flush()

    def close(self) -> None:
        if not self._f.closed:
            self.flush()
            self._f.close()


def read_journal(path: str | Path) -> list[JournalEntry]:
    dec = msgspec.json.Decoder(JournalEntry)
    with open(path, "rb") as f:
        return [dec.decode(line) for line in f if line.strip()]
