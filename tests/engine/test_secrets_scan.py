"""No credential is stored, logged, journaled or reported (issue 10, finding 6).

A paper run against the loopback venue simulator, as a user starts it (``clobflow run`` in a
subprocess), with credentials set the ways a user sets them: a password in
``engine.store_url`` (the real PostgreSQL; trust authentication ignores it) and fake API keys
in the environment. Then every output file, every log line (stdout and stderr) and every store
row is searched for the secret strings: zero hits."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import make_url

from tests.store.conftest import PgSchema, pg_admin, pg_schema  # noqa: F401 - fixtures

from .procs import cli, clean_env, run_args, store_rows, trading_config, venue

PASSWORD = "Pw-7f3c91e0aa-store"
SECRETS = {
    "POLYMARKET_API_KEY": "fake-api-key-5d1e8c7b",
    "POLYMARKET_API_SECRET": "fake-api-secret-0b9a4f12",
    "POLYMARKET_PASSPHRASE": "fake-passphrase-c3e7a2",
    "CLOBFLOW_PRIVATE_KEY": "0xfeedface1234abcd5678",
}


def _scan(text: str) -> list[str]:
    return [s for s in (PASSWORD, *SECRETS.values()) if s in text]


def test_a_paper_run_with_credentials_leaves_none_anywhere(pg_schema: PgSchema, tmp_path: Path) -> None:  # noqa: F811
    url = make_url(pg_schema.url()).set(password=PASSWORD).render_as_string(hide_password=False)
    assert PASSWORD in url
    cfg = trading_config(tmp_path / "cfg.yaml", url)
    out = tmp_path / "out"
    env = clean_env(**SECRETS)
    with venue(speed=30) as http:
        p = cli(*run_args(http, cfg, out, duration=10), env=env)
        stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == 0, stderr
    assert "order" in stdout  # it traded: the scan covers orders, fills and their logs
    hits = {"stdout": _scan(stdout), "stderr": _scan(stderr)}
    files = [f for f in out.rglob("*") if f.is_file()]
    assert any(f.name.startswith("journal") for f in files) and any(f.name.startswith("report") for f in files)
    for f in files:
        hits[str(f)] = _scan(f.read_bytes().decode("utf-8", "replace"))
    rows = store_rows(pg_schema.url())
    assert rows["runs"] and rows["orders"] and rows["decisions"], stdout
    for table, table_rows in rows.items():
        hits[table] = _scan(repr(table_rows))
    assert {k: v for k, v in hits.items() if v} == {}
    run = rows["runs"][0]
    assert "***" in run["config_json"] and "127.0.0.1" in run["config_json"]  # redacted, still readable

