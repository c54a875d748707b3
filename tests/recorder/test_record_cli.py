"""``clobflow record`` as a user runs it: a real subprocess recording a ``clobflow venue``
subprocess over loopback, stopped with SIGTERM. Nothing acknowledged may be lost, and what the
recorder wrote must be exactly what the venue sent."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from clobflow.recorder.embedded import DuckDBSink
from clobflow.recorder.markets_log import read_markets
from clobflow.recorder.raw_writer import RawReadStats, iter_raw

ROOT = Path(__file__).resolve().parents[2]

# `clobflow record` through main.py once it is registered there; until then the same command
# function in a one-command Typer app.
_FALLBACK = (
    "import sys, typer\n"
    "from clobflow.cli.errors import UserError\n"
    "from clobflow.cli.record_cmd import record\n"
    "app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)\n"
    "app.command('record')(record)\n"
    "app.command('_')(lambda: None)\n"
    "try:\n    app()\n"
    "except UserError as exc:\n    print(f'clobflow: {exc}', file=sys.stderr); sys.exit(2)\n"
)


def record_argv(*args: str) -> list[str]:
    from clobflow.cli import main

    main._register()
    if any(c.name == "record" for c in main.app.registered_commands):
        return [sys.executable, "-m", "clobflow.cli.main", "record", *args]
    return [sys.executable, "-c", _FALLBACK, "record", *args]


def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}


class Lines:
    """Collects a subprocess's stdout lines on a thread."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self._t = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._t.start()

    def _read(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float) -> re.Match:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for line in list(self.lines):
                m = re.search(pattern, line)
                if m:
                    return m
            time.sleep(0.05)
        raise AssertionError(f"no line matching {pattern!r} in {self.lines}")


@pytest.fixture
def venue():
    proc = subprocess.Popen(
        [sys.executable, "-m", "clobflow.cli.main", "venue", "--dataset", "pm-btc15m-tob-1s", "--port", "0",
         "--speed", "20"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env())
    try:
        out = Lines(proc)
        url = out.wait_for(r"http (http://127\.0\.0\.1:\d+)", 30).group(1)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_sigterm_loses_no_acknowledged_frame(tmp_path, venue):
    http = venue
    ws = http.replace("http://", "ws://") + "/ws/market"
    out = tmp_path / "rec"
    proc = subprocess.Popen(
        record_argv("--out", str(out), "--ws-url", ws, "--gamma-url", http, "--clob-url", http,
                    "--snapshot-interval", "1", "--health-interval", "0.5"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env())
    try:
        lines = Lines(proc)
        # frames flowing and acknowledged (speed 20: ~20 frames/s for the current window)
        lines.wait_for(r"acked (\d{2,})/", 30)
        time.sleep(2.0)
        with httpx.Client(trust_env=False, timeout=5) as c:
            # Freeze delivery, let in-flight frames land, then read what the venue sent us.
            assert c.post(f"{http}/_sim/fault", json={"kind": "stall", "seconds": 60}).status_code == 200
            time.sleep(0.5)
            state = c.get(f"{http}/_sim/state").json()
        (conn,) = state["connections"]
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = proc.stderr.read()  # type: ignore[union-attr]
    assert rc == 0, stderr
    final = lines.wait_for(r"recorded: received=(\d+) acked=(\d+) dropped=(\d+)", 5)
    received, acked, dropped = map(int, final.groups())
    assert received == acked and dropped == 0
    st = RawReadStats()
    frames = list(iter_raw(out, stats=st))
    assert len(frames) == acked
    assert st.damaged == st.unterminated == 0  # closed cleanly
    # exactly what the venue sent on that connection (a PONG may have crossed the SIGTERM)
    assert len(frames) >= conn["sent"] > 20, (conn, len(frames))
    assert all(f.frame == "PONG" for f in frames[conn["sent"]:]), (conn, len(frames))
    assert [f.ts_recv_ns for f in frames] == sorted(f.ts_recv_ns for f in frames)
    assert {(f.venue, f.channel) for f in frames} == {("polymarket", "market")}
    # the derived tables have every kind of row this data has (it has no trades)
    sink = DuckDBSink(out)
    try:
        sources = dict(sink.query("SELECT source, count(*) FROM orderbook_snapshots GROUP BY source"))
        assert sources.get("venue", 0) >= 2 and sources.get("periodic", 0) >= 2
        assert sink.count("orderbook_deltas") > 20
        windows = sink.query("SELECT slug, asset, window_end_ns - window_start_ns FROM market_windows")
        assert windows and all(a == "btc" and d == 900 * 10**9 for _, a, d in windows)
        assert re.search(rf"orderbook_deltas={sink.count('orderbook_deltas')}\b", final.string)
    finally:
        sink.close()
    assert {m.slug for m in read_markets(out).values()} == {w[0] for w in windows}
    assert any("frames/s" in line for line in lines.lines)


def test_bad_arguments_are_one_line_errors(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    for args, needle in ((["--out", str(tmp_path), "--duration", "-1"], "--duration"),
                         (["--out", str(f)], "not a folder"),
                         (["--out", str(tmp_path), "--interval", "7m"], "--interval")):
        res = subprocess.run(record_argv(*args), capture_output=True, text=True, timeout=60, cwd=ROOT, env=env())
        assert res.returncode == 2, (args, res.stdout, res.stderr)
        assert len(res.stderr.strip().splitlines()) == 1 and needle in res.stderr, res.stderr
