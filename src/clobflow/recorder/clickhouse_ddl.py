"""ClickHouse schema of the normalised recorder tables, derived from the row Structs.

Map:

- ``column_types(table)``: ``[(column, ClickHouse type)]`` read off the row Struct of
  ``recorder.tables.TABLES`` (field order = column order). Nothing here copies a column list.
- ``LAYOUTS``: the one hand-written part per table -- which time column partitions it, its
  sorting key, and (``market_windows``) the ReplacingMergeTree version column.
- ``create_database_sql`` / ``create_table_sql``: the DDL, idempotent (``IF NOT EXISTS``).
- ``RowCodec``: checks a batch against the column types and encodes it as
  ``JSONCompactEachRow`` lines (one JSON array per row, in column order).

Type mapping: ``int`` -> ``Int64``, ``str`` -> ``String`` (``LowCardinality(String)`` for the
columns in ``LOW_CARDINALITY``), ``bool`` -> ``Bool``, ``list[X]`` -> ``Array(X)``,
``X | None`` -> ``Nullable(X)``. Any other field type raises ``TypeError``: a new kind of
column is a decision (floats are not money, DESIGN §3.3), not something to guess.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, NamedTuple

import msgspec
import msgspec.inspect as mi

from clobflow.recorder.tables import TABLES

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

LOW_CARDINALITY: frozenset[str] = frozenset({"venue", "side", "source", "symbol", "asset", "outcome"})
"""Text columns with a handful of distinct values; stored dictionary-encoded. Ids (market,
asset_id, trade_id, ...) are not here: they have millions of values over time."""

DEDUP_WINDOW = 1000
"""``non_replicated_deduplication_window``: the server remembers the hashes of the last N
inserted blocks per table and drops a block it has already seen. The sink contract has the
caller retry a batch whose ``write`` raised; when the insert had in fact committed (the
reply was lost), the identical retry is dropped instead of duplicating the rows. Two
genuinely different batches never hash alike: every row carries its ns timestamp. TRUNCATE and
DROP PARTITION forget the hashes of what they remove, so rebuilding a table from the raw frames
re-inserts normally."""


class TableLayout(NamedTuple):
    """How one table is stored.

    ``time_column``: partitions by its UTC day (``toYYYYMMDD``), so old days can be dropped or
    moved as a unit. ``order_by``: the sorting (= primary) key; queries filter on a prefix of it
    (venue, market, then a time range). ``version_column``: when set, the engine is
    ``ReplacingMergeTree(version_column)``: rows with an equal sorting key collapse at merge
    time to the one with the greatest version.
    """

    time_column: str
    order_by: tuple[str, ...]
    version_column: str | None = None


_BOOK_KEY = ("venue", "market", "asset_id", "ts_ns")

LAYOUTS: dict[str, TableLayout] = {
    "orderbook_snapshots": TableLayout("ts_ns", _BOOK_KEY),
    "orderbook_deltas": TableLayout("ts_ns", _BOOK_KEY),
    "trades": TableLayout("ts_ns", ("venue", "market", "ts_ns")),
    "spot_prices": TableLayout("ts_ns", ("venue", "symbol", "ts_ns")),
    # One row per window. The key ends in ``market`` (a condition id / ticker, unique per venue)
    # so two windows of one asset and start never merge -- nor do the many non-up/down
    # markets that share asset "" -- while a re-discovered window (same venue, asset, start,
    # market) collapses to its latest discovery (``discovered_ns`` is the version, so a later
    # row that learned the ``winner`` wins). ReplacingMergeTree only merges rows *within a
    # partition*, so this table is partitioned by ``window_start_ns``, which is the same on
    # every discovery, not by ``discovered_ns``: a window re-discovered after midnight (a
    # restart, a look-ahead listing) would otherwise sit in two partitions and never dedup.
    "market_windows": TableLayout(
        "window_start_ns", ("venue", "asset", "window_start_ns", "market"), "discovered_ns"
    ),
}

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_identifier(name: str) -> str:
    """Return ``name`` if it is a plain identifier (letters, digits, ``_``); else ValueError.

    Database names come from config and URLs; refusing anything else keeps them out of the
    business of SQL quoting altogether.
    """
    if not isinstance(name, str) or not _IDENT.match(name):
        raise ValueError(f"not a plain ClickHouse identifier: {name!r}")
    return name


def _q(name: str) -> str:
    return f"`{check_identifier(name)}`"


def qualified(database: str, table: str) -> str:
    """```database`.`table```, both checked to be plain identifiers."""
    return f"{_q(database)}.{_q(table)}"


def _map(t: mi.Type, column: str, table: str) -> tuple[str, Any]:
    """(ClickHouse type, msgspec type that validates a JSON value of it) for one field type."""
    if isinstance(t, mi.IntType):
        return "Int64", Annotated[int, msgspec.Meta(ge=INT64_MIN, le=INT64_MAX)]
    if isinstance(t, mi.StrType):
        return ("LowCardinality(String)" if column in LOW_CARDINALITY else "String"), str
    if isinstance(t, mi.BoolType):
        return "Bool", bool
    if isinstance(t, mi.ListType):
        inner, check = _map(t.item_type, "", table)
        return f"Array({inner})", list[check]  # type: ignore[valid-type]
    if isinstance(t, mi.UnionType):
        rest = [u for u in t.types if not isinstance(u, mi.NoneType)]
        if len(rest) == 1 and len(t.types) == 2:
            inner, check = _map(rest[0], "", table)
            nullable = f"Nullable({inner})"
            if column in LOW_CARDINALITY:
                nullable = f"LowCardinality({nullable})"  # LowCardinality must be outermost
            return nullable, check | None
    raise TypeError(f"{table}.{column}: no ClickHouse type for {t!r}; extend clickhouse_ddl._map")


def _fields(table: str) -> list[mi.Field]:
    try:
        row_type = TABLES[table]
    except KeyError:
        raise ValueError(f"unknown table {table!r}; known: {sorted(TABLES)}") from None
    info = mi.type_info(row_type)
    assert isinstance(info, mi.StructType)
    return list(info.fields)


def column_types(table: str) -> list[tuple[str, str]]:
    """``[(column, ClickHouse type)]`` of ``table``, in the row Struct's field order.

    Raises: ValueError (unknown table), TypeError (a field type with no mapping).
    """
    return [(f.name, _map(f.type, f.name, table)[0]) for f in _fields(table)]


def create_database_sql(database: str) -> str:
    return f"CREATE DATABASE IF NOT EXISTS {_q(database)}"


def partition_expr(column: str) -> str:
    """UTC day of an ns-since-epoch Int64 column, as ``YYYYMMDD``.

    ``fromUnixTimestamp64Nano`` is exact integer arithmetic; ``toDateTime64(ts_ns / 1e9)``
    goes through a Float64 and rounds e.g. 23:59:59.999999999 up into the next day.
    """
    return f"toYYYYMMDD(fromUnixTimestamp64Nano({_q(column)}, 'UTC'))"


def create_table_sql(table: str, database: str) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for ``table`` in ``database``.

    Raises: ValueError (unknown table, bad identifier, or a layout naming a column the row
    Struct lacks / a nullable sorting column), TypeError (unmapped field type).
    """
    cols = column_types(table)
    types = dict(cols)
    layout = LAYOUTS[table]
    keyed = (layout.time_column, *layout.order_by) + ((layout.version_column,) if layout.version_column else ())
    for c in keyed:
        if c not in types:
            raise ValueError(f"{table}: layout names column {c!r}, which the row Struct lacks")
        if "Nullable" in types[c]:
            raise ValueError(f"{table}: key column {c!r} must not be nullable")
    engine = "MergeTree"
    if layout.version_column:
        engine = f"ReplacingMergeTree({_q(layout.version_column)})"
    body = ",\n".join(f"    {_q(name)} {ch_type}" for name, ch_type in cols)
    return (
        f"CREATE TABLE IF NOT EXISTS {qualified(database, table)}\n(\n{body}\n)\n"
        f"ENGINE = {engine}\n"
        f"PARTITION BY {partition_expr(layout.time_column)}\n"
        f"ORDER BY ({', '.join(_q(c) for c in layout.order_by)})\n"
        f"SETTINGS non_replicated_deduplication_window = {DEDUP_WINDOW}"
    )


class RowCodec:
    """Check and encode batches of one table's rows.

    ``encode(rows)`` returns the batch as ``JSONCompactEachRow`` bytes (one JSON array per row,
    in column order -- the row Structs are ``array_like``). msgspec does not type-check a
    Struct's fields at construction, so the encoded batch is decoded once against the column
    types before it leaves: a float price, a bool in an int column or an int outside Int64 (which
    ClickHouse's JSON reader would silently wrap around) raises here, and nothing is written.
    """

    __slots__ = ("table", "row_type", "columns", "_encoder", "_checker")

    def __init__(self, table: str) -> None:
        fields = _fields(table)
        self.table = table
        self.row_type = TABLES[table]
        self.columns: tuple[str, ...] = tuple(f.name for f in fields)
        checks = [(f.name, _map(f.type, f.name, table)[1]) for f in fields]
        check_type = msgspec.defstruct(f"_{table}_check", checks, array_like=True)
        self._encoder = msgspec.json.Encoder()
        self._checker = msgspec.json.Decoder(check_type)

    def encode(self, rows: list[msgspec.Struct]) -> bytes:
        """Raises: TypeError (a row of another type), ValueError (a value that does not fit
        its column, naming the row and column)."""
        row_type = self.row_type
        for i, row in enumerate(rows):
            if type(row) is not row_type:
                raise TypeError(f"{self.table}: row {i} is {type(row).__name__}, expected {row_type.__name__}")
        data = self._encoder.encode_lines(rows)
        try:
            self._checker.decode_lines(data)
        except msgspec.ValidationError:
            self._explain(data)
            raise
        return data

    def _explain(self, data: bytes) -> None:
        """Re-check line by line (the slow path, on failure only) to name the row and column."""
        for i, line in enumerate(data.splitlines()):
            try:
                self._checker.decode(line)
            except msgspec.ValidationError as exc:
                m = re.search(r"\$\[(\d+)\]", str(exc))
                col = f" column {self.columns[int(m.group(1))]!r}" if m else ""
                raise ValueError(f"{self.table}: row {i}{col}: {exc}") from None
