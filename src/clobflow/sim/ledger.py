"""The paper simulator's venue-side record: an append-only ledger file, written like a venue's.

Paper fills happen inside our own process, so without this the only records of them are ours
(journal and store) and a crash could not be checked against an independent one. The simulated
execution client (``execution.sim_client``) hands every batch of venue answers here *before*
scheduling them for delivery to the engine: each order's arrival (accepted or rejected) and
each fill, as ``execution.venue_record`` entries, one JSON object per line, written and
``fsync``'ed at once. So whatever the engine was told, the ledger already holds, and a kill -9
between a fill at the venue and its report reaching the engine leaves the fill in the ledger
only: the next start adopts it from there (``engine.reconcile``).

``read_ledger(path)`` gives a ``VenueRecord``; a line torn by a kill is skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from clobflow.core.orders import Accepted, ExecutionReport, Filled, OrderIntent, Rejected
from clobflow.execution.venue_record import ListedRecord, VenueEntry, VenueFill, VenueOrder
from clobflow.observe.jsonl import read_tolerant


def ledger_path(out_dir: Path, run_id: str) -> Path:
    """Where a paper run's simulator ledger lives (beside its journal)."""
    return out_dir / f"sim-ledger-{run_id}.jsonl"


class SimLedger:
    """Append-only, fsync'ed venue record of one simulated venue session."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._enc = msgspec.json.Encoder()
        self.entries = 0

    def record(self, reports: list[ExecutionReport], venue_ns: int, arrived: OrderIntent | None = None) -> None:
        """One batch of the venue's answers at ``venue_ns``: the arrival of ``arrived`` (its
        first report says accepted or rejected) and every fill among ``reports``. Durable when
        this returns."""
        buf = bytearray()
        if arrived is not None and reports:
            first = reports[0]
            i = arrived
            self._add(buf, VenueOrder(
                i.client_order_id, i.strategy, i.market, i.asset_id, i.side.name, i.order_type.value, i.price,
                i.size, "rejected" if isinstance(first, Rejected) else "accepted",
                first.reason if isinstance(first, Rejected) else "",
                first.venue_order_id if isinstance(first, Accepted) else "", venue_ns))
        for r in reports:
            if isinstance(r, Filled) and r.fill is not None:
                self._add(buf, VenueFill(r.fill))
        if buf:
            os.write(self._fd, buf)
            os.fsync(self._fd)  # a venue's record survives us

    def _add(self, buf: bytearray, e: VenueEntry) -> None:
        self._enc.encode_into(e, buf, -1)
        buf.extend(b"\n")
        self.entries += 1

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def read_ledger(path: str | Path) -> ListedRecord:
    """The ledger's entries as a ``VenueRecord`` (lines torn by a kill are skipped; a missing
    file is an empty record)."""
    p = Path(path)
    return ListedRecord(read_tolerant(p, VenueEntry)[0] if p.is_file() else [])
