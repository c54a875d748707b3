"""Run liveness: tell a run that is still running (maybe in another process on the same store)
from one whose process died without a goodbye (kill -9, power loss), and mark the latter
``crashed`` at the next start.

Each running process writes its ``owner`` (``"<host>:<pid>"``) when it starts the run and a
wall-clock ``heartbeat_ns`` every ``HEARTBEAT_INTERVAL_S`` (``Heartbeat``, a daemon thread). A
``running`` row is dead when:

- its owner is on this host and that pid does not exist any more (found at once after a kill);
- or its last heartbeat (or, without one, its owner-less start) is older than ``stale_after_s``
  (a process on another host, or a pid reused by an unrelated process);
- or it has neither owner nor heartbeat (written before liveness existed: nobody beats for it).

``recover_crashed_runs(store)`` marks every dead run ``crashed`` (``finished_ns`` = when it was
found, ``summary_json`` = ``{"crash_found_ns", "last_heartbeat_ns", "owner"}``). Two processes
starting together may both look; ``Store.mark_crashed`` only changes a row still ``running``,
so each crash is recorded once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any

from clobflow.store.errors import StoreError
from clobflow.store.store import Store

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_S = 5.0
STALE_AFTER_S = 60.0
"""A heartbeat older than this means dead (12 missed beats: a busy database or a paused
process is not mistaken for a crash)."""


def owner_tag() -> str:
    """``"<host>:<pid>"`` of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    try:  # Linux: a killed child not yet reaped is a zombie, dead for our purpose
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except OSError:
        return True


def is_dead(row: dict[str, Any], now_ns: int, *, stale_after_s: float = STALE_AFTER_S,
            host: str | None = None) -> bool:
    """Whether the ``running`` run ``row`` (a ``runs`` row) has no live process behind it."""
    owner, beat = row.get("owner"), row.get("heartbeat_ns")
    if owner is None and beat is None:
        return True
    if owner:
        h, _, pid = owner.rpartition(":")
        if h == (host or socket.gethostname()) and pid.isdigit() and not pid_alive(int(pid)):
            return True
    return beat is None or now_ns - beat > stale_after_s * 1e9


def recover_crashed_runs(store: Store, now_ns: int | None = None, *, stale_after_s: float = STALE_AFTER_S) -> list[str]:
    """Mark every dead ``running`` run ``crashed`` (see the module docstring); returns their ids."""
    now = time.time_ns() if now_ns is None else now_ns
    found = []
    for row in store.running_runs():
        if not is_dead(row, now, stale_after_s=stale_after_s):
            continue
        detail = {"crash_found_ns": now, "last_heartbeat_ns": row.get("heartbeat_ns"), "owner": row.get("owner")}
        if store.mark_crashed(row["run_id"], now, detail):
            found.append(row["run_id"])
    return found


class Heartbeat:
    """A daemon thread writing ``store.heartbeat(run_id, now)`` every ``interval_s``. A failed
    beat (database busy or away) is logged once and retried at the next interval: a missed beat
    only matters after ``STALE_AFTER_S``."""

    def __init__(self, store: Store, run_id: str, interval_s: float = HEARTBEAT_INTERVAL_S) -> None:
        self._store = store
        self._run_id = run_id
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{run_id}", daemon=True)
        self.beats = 0

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)

    def _loop(self) -> None:
        failing = False
        while not self._stop.wait(self._interval_s):
            try:
                if not self._store.heartbeat(self._run_id, time.time_ns()):
                    return  # finished, or marked crashed by someone: nothing to keep alive
                self.beats += 1
                failing = False
            except StoreError as e:
                if not failing:
                    log.warning("run %s: heartbeat not written (%s); retrying", self._run_id, e)
                failing = True
