"""Migrations build exactly ``store/schema.py`` on SQLite and PostgreSQL, from empty or older."""

from __future__ import annotations

import importlib.resources
import re
import threading

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from clobflow.store import Store
from clobflow.store.migrate import MIGRATIONS_DIR, head_revision
from clobflow.store.schema import OPEN_POSITION_INDEX, metadata


def _norm_predicate(sql: object) -> str:
    text = str(sql).replace("::text", "")
    return re.sub(r"[\s()]", "", text).lower()


def schema_diff(store: Store) -> list[object]:
    """Differences between the database and ``metadata``: Alembic's comparison (tables, columns,
    types, nullability, indexes, unique and foreign keys), plus what it does not look at:
    partial-index predicates and check-constraint names."""
    engine = store._engine  # noqa: SLF001 - the test inspects the real connection pool's database
    diffs: list[object] = []
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs.extend(compare_metadata(ctx, metadata))
        insp = inspect(conn)
        key = f"{store.dialect}_where"
        for table in metadata.sorted_tables:
            reflected = {ix["name"]: ix for ix in insp.get_indexes(table.name)}
            for ix in table.indexes:
                want = ix.dialect_options[store.dialect]._non_defaults.get("where")
                got = reflected.get(ix.name, {}).get("dialect_options", {}).get(key)
                if (want is None) != (got is None) or (
                    want is not None and _norm_predicate(want) != _norm_predicate(got)
                ):
                    diffs.append(("predicate", ix.name, want, got))
            want_ck = {c.name for c in table.constraints if c.__class__.__name__ == "CheckConstraint"}
            got_ck = {c["name"] for c in insp.get_check_constraints(table.name)}
            if want_ck != got_ck:
                diffs.append(("check constraints", table.name, sorted(want_ck), sorted(got_ck)))
    return diffs


def test_migrate_fresh_database_matches_schema(db_url: str) -> None:
    store = Store(db_url)
    try:
        assert store.revision() is None
        store.migrate()
        assert store.revision() == head_revision()
        assert schema_diff(store) == []
        store.migrate()  # at head: nothing to do
        assert store.revision() == head_revision()
    finally:
        store.close()


def test_partial_index_is_checked_by_the_comparison(store: Store) -> None:
    # Guard against a comparison that cannot fail: the predicate really is in the database.
    engine = store._engine  # noqa: SLF001
    with engine.connect() as conn:
        ixs = {ix["name"]: ix for ix in inspect(conn).get_indexes("positions")}
    where = ixs[OPEN_POSITION_INDEX]["dialect_options"][f"{store.dialect}_where"]
    assert _norm_predicate(where) == "status='open'"
    assert ixs[OPEN_POSITION_INDEX]["unique"]


def test_older_database_is_brought_to_head(store: Store) -> None:
    store.downgrade("base")  #: the state of a database from before the store existed
    assert store.revision() is None
    with store._engine.connect() as conn:  # noqa: SLF001
        assert not set(inspect(conn).get_table_names()) & set(metadata.tables)
    store.migrate()
    assert store.revision() == head_revision()
    assert schema_diff(store) == []


def test_concurrent_migrate_is_safe(db_url: str) -> None:
    # A tiny busy timeout and four racers make the "database is locked" of a slow, loaded
    # machine happen every time: migrate() must wait it out, not fail.
    stores = [Store(db_url, busy_timeout_s=0.001) for _ in range(4)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(stores))

    def go(s: Store) -> None:
        try:
            barrier.wait()
            s.migrate()
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=go, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert stores[0].revision() == head_revision()
    for s in stores:
        s.close()


def test_migrations_ship_inside_the_package() -> None:
    # script_location is the package directory itself: env.py and the revisions are package
    # files (found by setuptools' package discovery through their __init__.py).
    pkg = importlib.resources.files("clobflow.store.migrations")
    assert pkg.joinpath("env.py").is_file()
    assert any(p.name.endswith(".py") and p.name != "__init__.py" for p in pkg.joinpath("versions").iterdir())
    assert MIGRATIONS_DIR.joinpath("env.py").is_file()
