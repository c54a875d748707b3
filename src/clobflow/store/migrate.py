"""Alembic, driven from code: no ``alembic.ini`` at runtime.

``upgrade(connection)`` brings the database behind an open transaction to the newest revision
(``head``). The migration scripts live in ``store/migrations`` (a package directory, so an
installed wheel carries ``env.py`` and ``versions/*.py``).

Making a new revision after editing ``store/schema.py`` (developers, in the source tree)::

    from alembic import command
    from clobflow.store.migrate import alembic_config
    cfg = alembic_config(url="sqlite:////tmp/dev.db")   # a database at the current head
    command.upgrade(cfg, "head")
    command.revision(cfg, message="add x", autogenerate=True)

then read and fix the generated file (autogenerate misses partial-index predicates and check
constraints) and keep ``tests/store/test_migrations.py`` green.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(*, connection: Connection | None = None, url: str | None = None) -> Config:
    """An Alembic ``Config`` for the store's migrations.

    ``connection``: migrations run on it, inside its transaction (``Store.migrate`` does this).
    ``url``: otherwise ``env.py`` opens its own engine on this URL.
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    cfg.set_main_option("path_separator", "os")
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest revision id of the store's migrations."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Upgrade the database behind ``connection`` (in its current transaction) to ``revision``."""
    command.upgrade(alembic_config(connection=connection), revision)


def downgrade(connection: Connection, revision: str) -> None:
    """Downgrade the database behind ``connection`` to ``revision`` (``"base"``: empty)."""
    command.downgrade(alembic_config(connection=connection), revision)
