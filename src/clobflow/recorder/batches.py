"""Row batches: what the recorder hands a sink's ``write(table, rows)``, and what waits for it.

A batch is a sequence of one table's row Structs, in order. Every table's batches are plain
lists except ``orderbook_deltas``, whose batches are ``DeltaRows``: the ``PriceChange`` events
the rows derive from (one row per level change, in message order), kept exactly as the parser
made them. Why: a real frame carries ~5 level changes, and building one Python row object per
change (then a dict, then JSON) cost more than all the rest of recording a frame. A
``DeltaRows`` is a ``Sequence[BookDeltaRow]``: a sink that iterates or indexes it (a test's
list, ClickHouse) gets the rows, built once on first use (``delta_rows``); ``DuckDBSink``
instead encodes the events in C (msgspec) and lets SQL unnest them (``embedded.py``), so the
rows are never built in Python at all.

Ids: rows carry the venue's own (bare) ids. Events from the live feed carry venue-qualified ids
(``POLYMARKET:<token>``, ``core.ids``), a parser of recorded frames bare ones: both give the
same rows (``bare``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from clobflow.core import ids
from clobflow.core.events import PriceChange, Side
from clobflow.recorder.tables import BookDeltaRow

SIDE_NAMES = {Side.BUY: "bid", Side.SELL: "ask"}  # a delta row's ``side``
_BARE_MAX = 100_000  # distinct ids remembered; a recorder follows a few thousand a day

_bare: dict[str, str] = {}


def bare(iid: str) -> str:
    """``ids.raw`` with a memo: the same few thousand ids arrive millions of times."""
    b = _bare.get(iid)
    if b is None:
        if len(_bare) >= _BARE_MAX:
            _bare.clear()
        b = _bare[iid] = ids.raw(iid)
    return b


def delta_rows(ev: PriceChange, venue: str = "polymarket") -> list[BookDeltaRow]:
    """One row per level change, in message order (``size`` absolute, 0 = level removed)."""
    ts, tv, market = ev.ts_recv_ns, ev.ts_venue_ns, bare(ev.market)
    return [
        BookDeltaRow(ts, tv, venue, market, bare(c.asset_id), SIDE_NAMES[c.side], c.price, c.size,
                     c.best_bid, c.best_ask, c.hash)
        for c in ev.changes
    ]


class DeltaRows(Sequence[BookDeltaRow]):
    """``orderbook_deltas`` rows as the ``PriceChange`` events they derive from.

    ``parts``: runs of ``(venue, [event, ...])`` in order (one run unless venues alternate).
    ``len()`` is the number of rows. Built by ``add`` until handed to a sink; never changed
    after (a sink may keep it, and it is shared by every sink).
    """

    __slots__ = ("parts", "n", "_rows")

    def __init__(self) -> None:
        self.parts: list[tuple[str, list[PriceChange]]] = []
        self.n = 0
        self._rows: list[BookDeltaRow] | None = None

    def add(self, venue: str, ev: PriceChange) -> None:
        parts = self.parts
        if parts and parts[-1][0] == venue:
            parts[-1][1].append(ev)
        else:
            parts.append((venue, [ev]))
        self.n += len(ev.changes)

    @classmethod
    def concat(cls, batches: Sequence[DeltaRows]) -> DeltaRows:
        out = cls()
        for b in batches:
            for venue, events in b.parts:
                if out.parts and out.parts[-1][0] == venue:
                    out.parts[-1][1].extend(events)
                else:
                    out.parts.append((venue, list(events)))
            out.n += b.n
        return out

    def rows(self) -> list[BookDeltaRow]:
        """The rows, built on first use."""
        if self._rows is None:
            out: list[BookDeltaRow] = []
            for venue, events in self.parts:
                for ev in events:
                    out.extend(delta_rows(ev, venue))
            self._rows = out
        return self._rows

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: Any) -> Any:
        return self.rows()[i]

    def __iter__(self) -> Iterator[BookDeltaRow]:
        return iter(self.rows())

    def __repr__(self) -> str:
        return f"DeltaRows({self.n} rows from {sum(len(e) for _, e in self.parts)} events)"


def merge(batches: Sequence[Sequence[Any]]) -> Sequence[Any]:
    """One batch holding ``batches`` in order (all of one table)."""
    if len(batches) == 1:
        return batches[0]
    if isinstance(batches[0], DeltaRows):
        return DeltaRows.concat(batches)  # type: ignore[arg-type]
    out: list[Any] = []
    for b in batches:
        out.extend(b)
    return out
