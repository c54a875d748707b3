"""Real databases for the store tests: a fresh SQLite file per test, and a fresh PostgreSQL
schema per test (``CREATE SCHEMA t_<random>``, reached with ``options=-csearch_path=...``,
dropped afterwards). PostgreSQL comes from ``CLOBFLOW_TEST_POSTGRES_URL``; without it, or when
it is unreachable, those tests skip with the reason."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import URL, Engine, create_engine
from sqlalchemy.pool import NullPool

from clobflow.store import Store
from clobflow.store.engine import normalize_url

PG_ENV = "CLOBFLOW_TEST_POSTGRES_URL"


class PgSchema:
    """One throwaway schema in the test database."""

    def __init__(self, base: URL, name: str) -> None:
        self.base = base
        self.name = name

    def url(self, *, lock_timeout_ms: int | None = None) -> str:
        options = f"-csearch_path={self.name}"
        if lock_timeout_ms is not None:
            options += f" -clock_timeout={lock_timeout_ms}"
        return self.base.update_query_dict({"options": options}).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[tuple[URL, Engine]]:
    raw = os.environ.get(PG_ENV)
    if not raw:
        pytest.skip(f"{PG_ENV} is not set: PostgreSQL store tests skipped")
    base = normalize_url(raw)
    engine = create_engine(base, poolclass=NullPool, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            pass
    except Exception as e:  # noqa: BLE001 - any failure to connect means "skip, and say why"
        pytest.skip(f"PostgreSQL at {base.render_as_string(hide_password=True)} unreachable: {e}")
    yield base, engine
    engine.dispose()


@pytest.fixture
def pg_schema(pg_admin: tuple[URL, Engine]) -> Iterator[PgSchema]:
    base, admin = pg_admin
    name = f"t_{secrets.token_hex(6)}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    yield PgSchema(base, name)
    with admin.begin() as conn:
        conn.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
        conn.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return str(tmp_path / "store.db")
    return request.getfixturevalue("pg_schema").url()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store(db_url)
    s.migrate()
    yield s
    s.close()
