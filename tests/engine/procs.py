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


class Proc:
    """A ``clobflow`` subprocess whose stdout lines are collected by a thread (no blocking reads)."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        import threading

        self.p = cli(*args, env=env)
        self.lines: list[str] = []
        self._t = threading.Thread(target=self._pump, daemon=True)
        self._t.start()

    def _pump(self) -> None:
        assert self.p.stdout is not None
        for line in self.p.stdout:
            self.lines.append(line)

    def saw(self, needle: str) -> bool:
        return any(needle in line for line in list(self.lines))

    def kill9(self) -> None:
        self.p.kill()  # SIGKILL: no handler, no flush, no goodbye
        self.p.wait(10)
        self._t.join(5)

    def finish(self, timeout: float = 120) -> tuple[int, str, str]:
        rc = self.p.wait(timeout)
        self._t.join(5)
        err = self.p.stderr.read() if self.p.stderr else ""
        return rc, "".join(self.lines), err


def run_id_of(lines: str) -> str | None:
    """The run id from the start line ``paper run <run_id>: N markets from ...``."""
    for line in lines.splitlines():
        if line.startswith("paper run ") and " markets from " in line:
            return line.split()[2].rstrip(":")
    return None


def trading_config(path: Path, store_url: str) -> Path:
    """A paper config that trades often on the bundled data (loose imbalance thresholds)."""
    path.write_text(
        "engine: {mode: paper, timer_interval_s: 0.2, store_url: '%s'}\n"
        "feed: {subscription_refresh_interval_s: 2}\n"
        "strategies:\n  - {name: imbalance, min_imbalance: 0.05,"
        " yes_price_min: 0.05, yes_price_max: 0.95}\n" % store_url
    )
    return path


def kill_restart_cycles(http: str, cfg: Path, out: Path, store_url: str, cycles: int, rng, *,  # type: ignore[no-untyped-def]
                        final_s: float = 4.0, log=lambda s: None) -> dict:
    """``cycles`` times: start a paper run, SIGKILL it at a random point (a random delay after
    start; right after it logs an order or a fill; or right after the simulator's ledger grows,
    when the venue has answered and the engine may not have heard yet), restart on the same
    store and folder; then one clean run of ``final_s``. Returns ``{"killed": [run ids],
    "final": run id, "outputs": [...]}``; check the store with ``clobflow.engine.audit``."""
    from clobflow.sim.ledger import ledger_path

    killed: list[str] = []
    outputs: list[str] = []
    for i in range(cycles):
        p = Proc(*run_args(http, cfg, out))
        wait_for(lambda: p.saw(" markets from ") or p.p.poll() is not None, timeout=60)
        assert p.p.poll() is None, p.finish()
        before = len(p.lines)
        choice = rng.random()
        if choice < 0.3:
            delay = rng.uniform(0.2, 5.0)
            point = f"after {delay:.2f} s"
            time.sleep(delay)
        elif choice < 0.75:
            # right after it logs an order or a fill: the store's batch is most likely unwritten
            what = "order " if choice < 0.5 else "fill "
            point = f"right after an {what.strip()}" if what == "order " else "right after a fill"
            try:
                wait_for(lambda: any(line.startswith(what) for line in p.lines[before:]), timeout=15, every=0.002)
            except AssertionError:
                point = f"after 15 s (no {what.strip()} came)"
        else:
            # right after the venue wrote its answer: the report may still be on its way to the engine
            led = ledger_path(out, run_id_of("".join(p.lines)) or "")
            size0 = led.stat().st_size if led.exists() else 0
            point = "right after the simulator's ledger grew"
            try:
                wait_for(lambda: led.exists() and led.stat().st_size > size0, timeout=15, every=0.001)
            except AssertionError:
                point = "after 15 s (the ledger did not grow)"
        p.kill9()
        rid = run_id_of("".join(p.lines))
        assert rid is not None
        killed.append(rid)
        outputs.append("".join(p.lines))
        log(f"cycle {i + 1}: killed {rid} {point}")
    p = Proc(*run_args(http, cfg, out, duration=final_s))
    rc, stdout, stderr = p.finish()
    assert rc == 0, stderr
    outputs.append(stdout)
    return {"killed": killed, "final": run_id_of(stdout), "outputs": outputs}
