"""Alembic migration scripts of the store (a package so that installs carry them; Alembic itself
loads ``env.py`` and ``versions/*.py`` by path). Run them with ``Store.migrate()``."""
