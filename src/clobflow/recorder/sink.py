"""The table-sink port: where derived rows go (embedded store, ClickHouse, a test's list).

Contract: ``ensure_tables()`` creates every table of ``recorder.tables.TABLES`` if missing;
``write(table, rows)`` appends a batch (a sequence of that table's row Structs: a list, or for
``orderbook_deltas`` a ``recorder.batches.DeltaRows``, which builds its rows when iterated or
indexed) and returns only when the batch is durable in the sink (committed), raising on failure
so the caller can keep and retry it (the same batch object, never changed); ``count(table)``
and ``query(sql)`` read back (for tests, health and replay); ``close()`` releases the
connection. Sinks are called from one writer thread, never from the
event loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import msgspec


class TableSink(Protocol):
    def ensure_tables(self) -> None: ...

    def write(self, table: str, rows: Sequence[msgspec.Struct]) -> None: ...

    def count(self, table: str) -> int: ...

    def query(self, sql: str) -> list[tuple[Any, ...]]: ...

    def close(self) -> None: ...
