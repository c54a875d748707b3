"""Helpers for tests that run clobflow as a user does: real subprocesses (``clobflow venue``,
``clobflow run``) on loopback, and a dump of every store row for checks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from clobflow.store.engine import normalize_url

ROOT = Path(__file__).resolve().parents[2]
STORE_TABLES = ("runs", "signals", "decisions", "orders", "order_transitions", "fills", "positions")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def cli(*args: str, env: dict[str, str] | None = None, **kw) -> subprocess.Popen:  # type: ignore[no-untyped-def]
    """Start ``clobflow ARGS`` (stdout/stderr piped, text)."""
    return subprocess.Popen([sys.executable, "-m", "clobflow.cli.main", *args], cwd=ROOT, env=env or clean_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


@contextmanager
def venue(speed: float = 30, dataset: str = "pm-btc15m-tob-1s", env: dict[str, str] | None = None) -> Iterator[str]:
    """A ``clobflow venue --loop`` subprocess; yields its http base URL (ws at ``/ws/market``)."""
    port = free_port()
    p = cli("venue", "--dataset", dataset, "--port", str(port), "--speed", str(speed), "--loop", env=env)
    try:
        assert p.stdout is not None
        line = p.stdout.readline()
        assert "ws://127.0.0.1" in line, (line, p.stderr.read() if p.poll() is not None else "")  # type: ignore[union-attr]
        yield f"http://127.0.0.1:{port}"
    finally:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def run_args(http: str, config: Path, out: Path, duration: float | None = None) -> list[str]:
    ws = http.replace("http://", "ws://") + "/ws/market"
    args = ["run", "--mode", "paper", "--config", str(config), "--out", str(out),
            "--ws-url", ws, "--gamma-url", http, "--clob-url", http]
    return args + (["--duration", str(duration)] if duration is not None else [])


def store_rows(url: str) -> dict[str, list[dict]]:
    """Every row of every store table (plain dicts), read with a fresh engine."""
    engine = sa.create_engine(normalize_url(url))
    try:
        with engine.connect() as conn:
            return {t: [dict(r) for r in conn.execute(sa.text(f"SELECT * FROM {t}")).mappings()] for t in STORE_TABLES}
    finally:
        engine.dispose()


def wait_for(cond, timeout: float = 30.0, every: float = 0.1) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("condition not reached in time")
        time.sleep(every)
