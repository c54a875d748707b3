"""The ClickHouse table sink (``TableSink``) and the batching policy its writer uses.

Map:

- ``ClickHouseSink``: creates the tables of ``recorder.tables.TABLES`` (DDL from
  ``clickhouse_ddl``), appends batches, counts and queries. Two backends, one DDL, one SQL:

  * a ClickHouse server through ``clickhouse-connect`` (``clickhouse://user:pass@host:8123/db``,
    ``http://...``, ``https://...``), or any ``clickhouse_connect`` client you pass in -- which
    includes the in-process chdb engine through clickhouse-connect's own ``chdb`` backend;
  * the in-process engine ``chdb`` (``chdb://PATH``, or a ``chdb.session.Session`` / a
    ``chdb.connect()`` connection you pass in), fed ``INSERT ... FORMAT JSONCompactEachRow``.

- ``Batcher``: when a table's pending rows become an insert -- "100-1000 rows or N ms,
  whichever comes first". Pure, clock-injected.

Everything runs on the recorder's one writer thread (sink contract), never on the event loop;
nothing here is thread-safe.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit, urlunsplit

import msgspec

from clobflow.core.clock import NS_PER_MS, Clock
from clobflow.core.errors import InvariantBroken, Retryable
from clobflow.recorder.clickhouse_ddl import (
    LAYOUTS,
    RowCodec,
    check_identifier,
    column_types,
    create_database_sql,
    create_table_sql,
    qualified,
)
from clobflow.recorder.tables import TABLES

DEFAULT_DATABASE = "clobflow"

_SERVER_SCHEMES = {"clickhouse": False, "http": False, "clickhouses": True, "https": True}


class SinkTarget(NamedTuple):
    """Where a sink URL points. ``kind`` is ``"server"`` or ``"chdb"``; ``location`` is the
    clickhouse-connect DSN (credentials kept, database path removed) or the chdb path."""

    kind: str
    location: str
    secure: bool
    database: str


def parse_sink_url(url: str, database: str = DEFAULT_DATABASE) -> SinkTarget:
    """Split a sink URL. A server URL's path (``.../db``) names the database and wins over
    ``database``; ``chdb://PATH`` takes everything after ``chdb://`` as the engine path
    (``chdb:///abs/dir``, ``chdb://rel/dir``, ``chdb://:memory:``).

    Raises: ValueError (unknown scheme, bad database name).
    """
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if sep and scheme == "chdb":
        if not rest:
            raise ValueError("chdb:// URL needs a path, e.g. chdb:///var/lib/clobflow/ch")
        return SinkTarget("chdb", rest, False, check_identifier(database))
    if not sep or scheme not in _SERVER_SCHEMES:
        raise ValueError(f"unsupported ClickHouse URL scheme {scheme!r}; use clickhouse://, http(s):// or chdb://")
    parts = urlsplit(url)
    path_db = unquote(parts.path.strip("/"))
    # The client connects without a database: ours may not exist until ensure_tables().
    dsn = urlunsplit(("http", parts.netloc, "", parts.query, ""))
    return SinkTarget("server", dsn, _SERVER_SCHEMES[scheme], check_identifier(path_db or database))


class _ConnectBackend:
    """A ``clickhouse_connect`` client: HTTP to a server, or its in-process chdb backend."""

    def __init__(self, client: Any, owned: bool) -> None:
        from clickhouse_connect.driver.exceptions import OperationalError

        self.client = client
        self.owned = owned
        # Connection-level failures (refused, reset, timeout): the same call may succeed later.
        self.transient: tuple[type[BaseException], ...] = (OperationalError,)

    def command(self, sql: str) -> None:
        self.client.command(sql)

    def use(self, database: str) -> None:
        self.client.database = database  # sent with every later request

    def insert(self, database: str, table: str, codec: RowCodec, rows: list[msgspec.Struct], _: bytes) -> None:
        data = [msgspec.structs.astuple(r) for r in rows]
        # A synchronous insert returns once the part is committed, even where the user's profile
        # turns async inserts on (which would return before the rows are written).
        self.client.insert(
            table, data, column_names=list(codec.columns), database=database,
            settings={"async_insert": 0},
        )  # fmt: skip

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.client.query(sql).result_rows]

    def close(self) -> None:
        if self.owned:
            self.client.close()


class _ChdbBackend:
    """The in-process chdb engine through a ``chdb.session.Session`` (or ``chdb.connect()``)."""

    transient: tuple[type[BaseException], ...] = ()  # local engine: no network to retry

    def __init__(self, session: Any, owned: bool) -> None:
        self.session = session
        self.owned = owned

    def command(self, sql: str) -> None:
        self.session.query(sql, "CSV")

    def use(self, database: str) -> None:
        self.command(f"USE `{check_identifier(database)}`")  # the session keeps it

    def insert(self, database: str, table: str, codec: RowCodec, rows: list[msgspec.Struct], data: bytes) -> None:
        # The rows travel as the data part of the statement, after FORMAT: ClickHouse hands it
        # to the JSON reader, never to the SQL parser, and JSON escaping (quotes, backslashes,
        # newlines, NUL) is msgspec's. Only checked identifiers are spliced into the SQL.
        cols = ", ".join(f"`{c}`" for c in codec.columns)
        head = f"INSERT INTO {qualified(database, table)} ({cols}) FORMAT JSONCompactEachRow\n"
        self.session.query(head + data.decode(), "CSV")

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        # Arrow keeps Int64/Bool/Array/NULL as Python values (JSON output would quote Int64).
        table = self.session.query(sql, "ArrowTable")
        return list(zip(*(col.to_pylist() for col in table.columns), strict=True))

    def close(self) -> None:
        if self.owned:
            self.session.close()


def _backend_for(obj: Any) -> _ConnectBackend | _ChdbBackend:
    from clickhouse_connect.driver.client import Client

    if isinstance(obj, Client):
        return _ConnectBackend(obj, owned=False)
    if type(obj).__module__.startswith("chdb.") and callable(getattr(obj, "query", None)):
        return _ChdbBackend(obj, owned=False)
    raise TypeError(f"expected a URL, a clickhouse_connect client or a chdb session, got {type(obj).__name__}")


class ClickHouseSink:
    """``TableSink`` over ClickHouse (a server, or the in-process chdb engine).

    ``url_or_client``: ``clickhouse://user:pass@host:8123[/db]`` / ``http(s)://...`` (server;
    the URL path, when present, names the database and overrides ``database``), ``chdb://PATH``
    (in-process engine storing under PATH; one engine path per process is a chdb limit), or an
    open ``clickhouse_connect`` client / ``chdb`` session. Opening a server URL connects, and
    raises ``Retryable`` when the server cannot be reached. A sink closes only what it opened:
    a client or session passed in stays the caller's to close (the sink does select
    ``database`` on it as the default for ``query``).

    Contract (``recorder.sink``): ``ensure_tables()`` creates the database and every table if
    missing and checks existing ones still match the row Structs; ``write(table, rows)``
    returns once the batch is committed to a part (visible to queries and on disk; fsync is
    the server's ``fsync_after_insert`` policy), raises otherwise -- ``Retryable`` for a
    connection failure; re-sending an identical batch after an unclear failure does not
    duplicate it (``clickhouse_ddl.DEDUP_WINDOW``). ``count``/``query`` read back.
    ``market_windows`` is a ReplacingMergeTree: ``count`` counts it ``FINAL`` (one row per
    window); your own queries add ``FINAL`` (or run ``OPTIMIZE ... FINAL``) to see it deduplicated.
    """

    def __init__(self, url_or_client: str | Any, *, database: str = DEFAULT_DATABASE) -> None:
        if isinstance(url_or_client, str):
            target = parse_sink_url(url_or_client, database)
            self.database = target.database
            self._where = target.kind
            if target.kind == "chdb":
                from chdb.session import Session

                self._backend: _ConnectBackend | _ChdbBackend = _ChdbBackend(Session(target.location), owned=True)
            else:
                import clickhouse_connect
                from clickhouse_connect.driver.exceptions import OperationalError

                try:  # the client connects (and asks the server's version) right away
                    client = clickhouse_connect.get_client(dsn=target.location, secure=target.secure)
                except OperationalError as exc:
                    raise Retryable(f"cannot reach ClickHouse for {self.database!r}: {exc}") from exc
                self._backend = _ConnectBackend(client, owned=True)
        else:
            self.database = check_identifier(database)
            self._backend = _backend_for(url_or_client)
            self._where = "client"
        self._codecs = {t: RowCodec(t) for t in TABLES}
        self._db_selected = False
        self._closed = False

    def __repr__(self) -> str:  # never the URL: it may carry a password
        return f"ClickHouseSink({self._where}, database={self.database!r})"

    @contextmanager
    def _calls(self, what: str) -> Iterator[None]:
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")
        try:
            yield
        except self._backend.transient as exc:
            raise Retryable(f"ClickHouse {what} failed: {exc}") from exc

    def _select_db(self) -> None:
        # Make ``database`` the default for unqualified names -- once it exists: selecting a
        # missing database fails, and ``command`` must also work before ``ensure_tables``.
        if self._db_selected:
            return
        exists = f"SELECT count() FROM system.databases WHERE name = '{self.database}'"  # checked identifier
        if self._backend.query(exists)[0][0]:
            self._backend.use(self.database)
            self._db_selected = True

    def command(self, sql: str) -> None:
        """Run a statement without a result (DDL, ``OPTIMIZE TABLE ... FINAL``); unqualified
        names resolve in ``database`` once it exists."""
        with self._calls("command"):
            self._select_db()
            self._backend.command(sql)

    def ensure_tables(self) -> None:
        """Create the database and every table of ``TABLES`` if missing (idempotent).

        Raises: InvariantBroken when a table exists with other columns or types than its row
        Struct now has (``CREATE ... IF NOT EXISTS`` would silently keep the old shape). The
        tables are derived data: drop and rebuild, or ALTER the table to match.
        """
        with self._calls("ensure_tables"):
            self._backend.command(create_database_sql(self.database))
            for table in TABLES:
                self._backend.command(create_table_sql(table, self.database))
            self._select_db()
            found: dict[str, list[tuple[str, str]]] = {}
            for table, name, ch_type in self._backend.query(
                "SELECT table, name, type FROM system.columns "
                f"WHERE database = '{self.database}' ORDER BY table, position"  # checked identifier
            ):
                found.setdefault(table, []).append((name, ch_type))
        for table in TABLES:
            want = column_types(table)
            if found.get(table) != want:
                raise InvariantBroken(
                    f"{self.database}.{table} has columns {found.get(table)} but the row Struct "
                    f"{TABLES[table].__name__} needs {want}; drop and rebuild it or ALTER it to match"
                )

    def write(self, table: str, rows: Sequence[msgspec.Struct]) -> None:
        """Append ``rows`` (row Structs of ``table``, any sequence) as one insert; durable on return.

        An empty list is a no-op. Raises: ValueError (unknown table, or a value that does not
        fit its column -- nothing is written), TypeError (a row of another type), Retryable
        (connection failure: keep the batch and retry it), or the backend's own error.
        """
        if table not in self._codecs:
            raise ValueError(f"unknown table {table!r}; known: {sorted(TABLES)}")
        if not rows:
            return
        rows = list(rows)  # a DeltaRows (recorder.batches) builds its rows here
        codec = self._codecs[table]
        data = codec.encode(rows)
        with self._calls(f"insert into {table}"):
            self._backend.insert(self.database, table, codec, rows, data)

    def count(self, table: str) -> int:
        """Rows in ``table`` (``market_windows``: distinct windows, i.e. counted ``FINAL``)."""
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}; known: {sorted(TABLES)}")
        final = " FINAL" if LAYOUTS[table].version_column else ""
        with self._calls("count"):
            rows = self._backend.query(f"SELECT count() FROM {qualified(self.database, table)}{final}")
        return int(rows[0][0])

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Run a SELECT (unqualified table names resolve in ``database``) and return its rows as
        tuples of Python values: Int64 -> int, String -> str, Bool -> bool, Array -> list,
        NULL -> None, on every backend. (Types our tables do not use, like DateTime, may differ
        between backends: chdb's Arrow output gives epoch seconds.)"""
        with self._calls("query"):
            self._select_db()
            return self._backend.query(sql)

    def close(self) -> None:
        """Release the connection or engine (idempotent). Later calls raise RuntimeError."""
        if not self._closed:
            self._closed = True
            self._backend.close()


class _MonotonicClock:
    def now_ns(self) -> int:
        return time.monotonic_ns()


class Batcher:
    """When pending rows of each table become an insert: "100-1000 rows or N ms, whichever first".

    ClickHouse writes every insert as a new part and merges parts in the background, so many
    tiny inserts cost far more than a few big ones; but a row should also reach the store soon
    after it was recorded. The rule, per table:

    - ``add`` returns a batch as soon as ``max_rows`` rows are pending (exactly ``max_rows``;
      a table never holds that many after ``add`` returns);
    - ``due()`` returns everything pending of a table once ``max_ms`` have passed since its
      oldest pending row arrived (at least one row, so a quiet table still flushes);
    - ``due(idle=True)`` -- the writer has nothing else queued -- also returns tables with at
      least ``min_rows`` pending: a decent insert already, no reason to sit on it;
    - ``drain()`` returns everything (shutdown).

    So inserts are 100-1000 rows under load, and smaller only when a table has been quiet for
    ``max_ms``. Batches come out in table-by-oldest-row order; rows keep their order. Pure: the
    time comes from ``clock`` (a ``core.clock.Clock``; default: the monotonic clock), nothing
    sleeps or does I/O -- the writer loop can wait ``next_due_ns() - now`` for more rows.
    """

    __slots__ = ("max_rows", "min_rows", "max_ns", "_clock", "_pending", "_since")

    def __init__(self, max_rows: int = 1000, min_rows: int = 100, max_ms: int = 200, clock: Clock | None = None) -> None:
        if not 1 <= min_rows <= max_rows:
            raise ValueError(f"need 1 <= min_rows <= max_rows, got min_rows={min_rows} max_rows={max_rows}")
        if max_ms < 0:
            raise ValueError(f"max_ms must be >= 0, got {max_ms}")
        self.max_rows = max_rows
        self.min_rows = min_rows
        self.max_ns = max_ms * NS_PER_MS
        self._clock: Clock = clock if clock is not None else _MonotonicClock()
        self._pending: dict[str, list[Any]] = {}
        self._since: dict[str, int] = {}  # table -> arrival time (ns) of its oldest pending row

    def add(self, table: str, rows: Iterable[Any]) -> list[tuple[str, list[Any]]]:
        """Queue ``rows`` for ``table``; return the full ``max_rows`` batches now ready."""
        pending = self._pending.setdefault(table, [])
        was_empty = not pending
        pending.extend(rows)
        if not pending:
            return []
        now = self._clock.now_ns()
        if was_empty:
            self._since[table] = now
        out: list[tuple[str, list[Any]]] = []
        n = self.max_rows
        if len(pending) >= n:
            cut = len(pending) - len(pending) % n
            out = [(table, pending[i : i + n]) for i in range(0, cut, n)]
            del pending[:cut]
            # A cut always takes every older row (fewer than max_rows were pending), so what is
            # left arrived just now.
            self._since[table] = now
        if not pending:
            self._since.pop(table, None)
        return out

    def due(self, *, idle: bool = False) -> list[tuple[str, list[Any]]]:
        """Take the tables whose oldest row waited ``max_ms`` (and, if ``idle``, those with
        ``min_rows`` or more pending)."""
        now = self._clock.now_ns()
        return self._take(
            t for t, since in self._since.items()
            if now - since >= self.max_ns or (idle and len(self._pending[t]) >= self.min_rows)
        )  # fmt: skip

    def drain(self) -> list[tuple[str, list[Any]]]:
        """Take everything pending (at shutdown)."""
        return self._take(list(self._since))

    def pending(self, table: str | None = None) -> int:
        """Rows waiting for ``table`` (all tables when None)."""
        if table is not None:
            return len(self._pending.get(table, ()))
        return sum(len(p) for p in self._pending.values())

    def next_due_ns(self) -> int | None:
        """Clock time at which ``due()`` will next return a batch; None when nothing is pending."""
        return min(self._since.values()) + self.max_ns if self._since else None

    def _take(self, tables: Iterable[str]) -> list[tuple[str, list[Any]]]:
        chosen = sorted(tables, key=self._since.__getitem__)  # oldest first
        out = []
        for t in chosen:
            out.append((t, self._pending[t]))
            self._pending[t] = []
            del self._since[t]
        return out
