"""Crashed runs: a run whose process died (kill -9) is marked ``crashed`` at the next start,
with the time it was found; a run still alive (another process, fresh heartbeat) is left alone."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

from clobflow.store import Store
from clobflow.store.liveness import Heartbeat, is_dead, owner_tag, recover_crashed_runs

HOST = socket.gethostname()


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_dead_and_live_runs_are_told_apart(store: Store) -> None:
    now = time.time_ns()
    store.start_run("alive-here", "paper", "s", "{}", now, owner=owner_tag(), heartbeat_ns=now)
    store.start_run("killed", "paper", "s", "{}", now, owner=f"{HOST}:{_dead_pid()}", heartbeat_ns=now)
    store.start_run("other-host-fresh", "paper", "s", "{}", now, owner="elsewhere:1", heartbeat_ns=now - 10**9)
    store.start_run("other-host-stale", "paper", "s", "{}", now, owner="elsewhere:1", heartbeat_ns=now - 600 * 10**9)
    store.start_run("pre-liveness", "paper", "s", "{}", now)
    store.start_run("done", "paper", "s", "{}", now, owner=f"{HOST}:{_dead_pid()}", heartbeat_ns=now)
    store.finish_run("done", now, "finished")

    found = recover_crashed_runs(store, now + 10**9)

    assert sorted(found) == ["killed", "other-host-stale", "pre-liveness"]
    for run_id in found:
        row = store.run(run_id)
        assert row is not None and row["status"] == "crashed" and row["finished_ns"] == now + 10**9
        assert json.loads(row["summary_json"])["crash_found_ns"] == now + 10**9
    assert {r["run_id"] for r in store.running_runs()} == {"alive-here", "other-host-fresh"}
    assert store.run("done")["status"] == "finished"  # type: ignore[index]
    assert recover_crashed_runs(store, now + 2 * 10**9) == []  # each crash is recorded once


def test_a_reused_pid_is_caught_by_the_stale_heartbeat() -> None:
    now = time.time_ns()
    row = {"owner": f"{HOST}:{os.getpid()}", "heartbeat_ns": now - 61 * 10**9}
    assert is_dead(row, now)  # our own pid is alive, but nobody beat for a minute
    assert not is_dead({**row, "heartbeat_ns": now - 10**9}, now)


def test_heartbeat_thread_moves_the_heartbeat_and_stops_when_the_run_ends(store: Store) -> None:
    store.start_run("r", "paper", "s", "{}", 0, owner=owner_tag(), heartbeat_ns=1)
    hb = Heartbeat(store, "r", interval_s=0.02).start()
    deadline = time.monotonic() + 5
    while hb.beats < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert store.run("r")["heartbeat_ns"] > 1  # type: ignore[index]
    store.finish_run("r", 5, "finished")
    hb._thread.join(timeout=5)  # noqa: SLF001 - it ends by itself once the run is not running
    assert not hb._thread.is_alive()  # noqa: SLF001
    hb.stop()
