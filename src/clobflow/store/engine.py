"""Database URLs and SQLAlchemy engines for the store (SQLite default, PostgreSQL at scale).

- ``normalize_url``: a SQLite file path or ``sqlite:///...`` URL, or a PostgreSQL URL
  (``postgresql://``, ``postgres://`` or ``postgresql+psycopg://``; always driven by psycopg 3).
- ``make_engine``: SQLite connections get WAL (readers never block the writer, and two processes
  can share the file), ``foreign_keys=ON`` and a busy timeout (a locked database is waited for,
  up to ``busy_timeout_s``, instead of failing at once). SQLAlchemy, not the ``sqlite3`` module,
  emits ``BEGIN``, so DDL is transactional and write transactions can ask for
  ``BEGIN IMMEDIATE`` (take the write lock up front: no lock upgrade, no deadlock between two
  writers that both read first).

Creating an engine does not connect; the first query does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url

WRITE_OPTION = "clobflow_write"
"""Connection execution option: on SQLite, the transaction starts with ``BEGIN IMMEDIATE``."""


def normalize_url(url: str | URL) -> URL:
    """The SQLAlchemy URL for ``url``.

    Raises:
        ValueError: an in-memory SQLite database (each connection would see its own; use a
            file), or a database/driver the store does not support.
    """
    if isinstance(url, str) and "://" not in url:
        if url in ("", ":memory:"):
            raise ValueError("the store needs a SQLite file path, not an in-memory database")
        return URL.create("sqlite", database=str(Path(url).expanduser().absolute()))
    u = make_url(url)
    backend, _, driver = u.drivername.partition("+")
    if backend in ("postgresql", "postgres"):
        if driver not in ("", "psycopg"):
            raise ValueError(f"PostgreSQL driver {driver!r} is not supported: use psycopg (postgresql+psycopg://)")
        return u.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if driver not in ("", "pysqlite"):
            raise ValueError(f"SQLite driver {driver!r} is not supported")
        if not u.database or u.database == ":memory:" or u.database.startswith("file::memory:"):
            raise ValueError("the store needs a SQLite file, not an in-memory database")
        return u.set(drivername="sqlite")
    raise ValueError(f"unsupported database {u.drivername!r}: use SQLite or PostgreSQL")


def make_engine(url: URL, *, busy_timeout_s: float = 5.0, echo: bool = False) -> Engine:
    """An engine for a URL from ``normalize_url`` (no connection is opened here)."""
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, busy_timeout_s, echo)
    # A dead or unreachable server must fail a call in seconds, not after the TCP timeout.
    connect_args = {} if "connect_timeout" in url.query else {"connect_timeout": 10}
    return create_engine(url, pool_pre_ping=True, echo=echo, connect_args=connect_args)


def _sqlite_engine(url: URL, busy_timeout_s: float, echo: bool) -> Engine:
    engine = create_engine(
        url,
        echo=echo,
        # One connection is used by one thread at a time (the pool hands it over).
        connect_args={"timeout": busy_timeout_s, "check_same_thread": False},
    )
    busy_ms = int(busy_timeout_s * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # We emit BEGIN ourselves (below); sqlite3's implicit BEGIN skips DDL and SELECTs.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {busy_ms}")
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA foreign_keys = ON")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(WRITE_OPTION):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    return engine
