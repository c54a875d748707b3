"""Alembic environment for the store.

Normally ``Store.migrate()`` hands us an open connection (``config.attributes["connection"]``)
already inside a transaction, so the whole upgrade commits or rolls back as one. Without one
(developer use through ``migrate.alembic_config(url=...)``) we open an engine on
``sqlalchemy.url``.
"""

from __future__ import annotations

from alembic import context

from clobflow.store.engine import WRITE_OPTION, make_engine, normalize_url
from clobflow.store.schema import metadata

config = context.config


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        # SQLite cannot ALTER most things: later revisions use batch mode there.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection and no sqlalchemy.url: use clobflow.store.migrate.alembic_config")
    engine = make_engine(normalize_url(url))
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported for the store")
run_migrations_online()
