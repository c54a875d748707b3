"""Shared helpers for the converter tests: an in-memory ``TableSink`` and a per-session cache of
converted datasets (each dataset is converted once per test session)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from clobflow.recorder.converters import convert_to_sink
from clobflow.recorder.tables import TABLES

DATA = Path(__file__).resolve().parents[2] / "data"


class ListSink:
    """A ``TableSink`` that keeps every written batch in memory (``rows[table]``)."""

    def __init__(self) -> None:
        self.rows: dict[str, list[msgspec.Struct]] = {}
        self.batches: list[tuple[str, int]] = []
        self.ensured = 0
        self.closed = False

    def ensure_tables(self) -> None:
        self.ensured += 1
        for table in TABLES:
            self.rows.setdefault(table, [])

    def write(self, table: str, rows: list[msgspec.Struct]) -> None:
        if table not in TABLES:
            raise KeyError(table)
        row_type = TABLES[table]
        assert all(type(r) is row_type for r in rows), f"foreign row in {table}"
        self.rows[table].extend(rows)
        self.batches.append((table, len(rows)))

    def count(self, table: str) -> int:
        return len(self.rows.get(table, []))

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        raise NotImplementedError("ListSink has no SQL")

    def close(self) -> None:
        self.closed = True


class Converted:
    """One converted dataset: the sink and the counts ``convert_to_sink`` returned."""

    def __init__(self, name: str) -> None:
        self.sink = ListSink()
        self.counts = convert_to_sink(name, self.sink, data_dir=DATA)

    def __getitem__(self, table: str) -> list:
        return self.sink.rows.get(table, [])


_CACHE: dict[str, Converted] = {}


@pytest.fixture(scope="session")
def converted():
    """``converted(name)`` -> the dataset converted from the repo's ``data/`` (cached)."""

    def get(name: str) -> Converted:
        if name not in _CACHE:
            _CACHE[name] = Converted(name)
        return _CACHE[name]

    return get
