"""The bot's decision log: capture on the decision path, enrich and write in the background.

``capture(values)`` is all the decision path pays: one tuple of values it already holds (the
``Decision`` fields in order) appended to a deque. A writer thread drains the deque, builds the
``Decision`` rows, writes them as JSON lines (``decisions.jsonl``) in capture order, keeps each
market's rows until its window resolves, then reviews the window (``review``: counterfactuals
and anomalies, written to ``counterfactuals.jsonl`` and ``anomalies.jsonl``).

Back-pressure: the deque holds at most ``capacity`` rows. In a live run a full buffer drops the
row and counts it (``drops``): the trading path never waits on a disk. In a backtest
(``lossless``) the capture waits for the writer instead, so the files are complete and
byte-identical between reruns (the writer consumes strictly in order; nothing in a row depends
on wall time).

Without a directory the rows stay in memory (``rows``, ``reviews``): tests and sweeps.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from pathlib import Path
from typing import IO

import msgspec

from clobflow.strategies.complete_set.records import Decision
from clobflow.strategies.complete_set.review import WindowReview, review_window

_RESOLVED = "__resolved__"


class DecisionLog:
    """Bounded, ordered, background-written decision rows (see the module docstring)."""

    def __init__(self, out_dir: Path | None = None, *, capacity: int = 65_536, lossless: bool = True,
                 keep_rows: bool | None = None, tolerance_ppm: int = 5_000, set_size: int | None = None,
                 poll_s: float = 0.02) -> None:
        self.capacity = capacity
        self.lossless = lossless
        self.drops = 0
        self.written = 0
        self.seq = 0
        self.tolerance_ppm = tolerance_ppm
        self.set_size = set_size  # the skip counterfactual's "take a set now" size (micro shares)
        self.keep_rows = out_dir is None if keep_rows is None else keep_rows
        self.rows: list[Decision] = []
        self.reviews: list[WindowReview] = []
        self._q: deque = deque()
        self._by_market: dict[str, list[Decision]] = {}
        self._files: dict[str, IO[bytes]] = {}
        self.paths: dict[str, Path] = {}
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            for name in ("decisions", "counterfactuals", "anomalies"):
                p = out_dir / f"{name}.jsonl"
                self.paths[name] = p
                self._files[name] = p.open("wb")
        self._enc = msgspec.json.Encoder()
        self._poll_s = poll_s
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="decision-log", daemon=True)
        self._thread.start()

    # -- the decision path -----------------------------------------------------------------

    def capture(self, *values: object) -> None:
        """Queue one row: ``values`` are the ``Decision`` fields after ``seq``, in order (the
        sequence number is assigned here). O(1); waits only in lossless mode on a full buffer."""
        q = self._q
        if len(q) >= self.capacity:
            if not self.lossless:
                self.drops += 1
                return
            while len(q) >= self.capacity:
                time.sleep(0.0005)
        self.seq += 1
        q.append((self.seq, *values))

    def window_resolved(self, market: str, slug: str, winner: str) -> None:
        """``market`` resolved with ``winner`` (``up``/``down``): review its rows (in order)."""
        self._q.append((_RESOLVED, market, slug, winner))

    # -- lifecycle -------------------------------------------------------------------------

    def flush(self, timeout_s: float = 30.0) -> None:
        """Wait until everything captured so far is written (tests, end of run)."""
        # counted in 1 ms waits: the strategy package reads no clock (a wait is not a decision)
        for _ in range(int(timeout_s * 1000)):
            if not (self._q or not self._idle.is_set()) or self._error is not None:
                break
            time.sleep(0.001)
        if self._error is not None:
            raise RuntimeError("decision log writer failed") from self._error

    def close(self) -> None:
        self.flush()
        self._stop.set()
        self._thread.join(timeout=10)
        for f in self._files.values():
            f.close()

    # -- the writer thread -----------------------------------------------------------------

    def _run(self) -> None:
        q = self._q
        try:
            while True:
                if not q:
                    self._idle.set()
                    if self._stop.is_set():
                        return
                    time.sleep(self._poll_s)
                    continue
                self._idle.clear()
                out: list[bytes] = []
                while q:
                    item = q.popleft()
                    if item[0] == _RESOLVED:
                        self._write(out, "decisions")
                        self._review(*item[1:])
                        continue
                    row = Decision(*item)
                    out.append(self._enc.encode(row))
                    self._by_market.setdefault(row.market, []).append(row)
                    if self.keep_rows:
                        self.rows.append(row)
                self._write(out, "decisions")
        except BaseException as exc:  # surfaced by flush(); the thread must not die silently
            self._error = exc
            self._idle.set()

    def _write(self, lines: list[bytes], name: str) -> None:
        if not lines:
            return
        self.written += len(lines) if name == "decisions" else 0
        f = self._files.get(name)
        if f is not None:
            f.write(b"\n".join(lines) + b"\n")
            f.flush()
        lines.clear()

    def _review(self, market: str, slug: str, winner: str) -> None:
        rows = self._by_market.pop(market, [])
        rev = review_window(rows, winner, tolerance_ppm=self.tolerance_ppm, set_size=self.set_size)
        if not rev.slug:
            rev = msgspec.structs.replace(rev, slug=slug, market=market)
        self.reviews.append(rev)
        self._write([self._enc.encode(c) for c in rev.counterfactuals], "counterfactuals")
        self._write([self._enc.encode(a) for a in rev.anomalies], "anomalies")
