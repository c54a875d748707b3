"""``ImportState``: the resumable checkpoint of every import job run against one output directory.

One JSON file (written atomically: temp file, fsync, ``os.replace``, fsync of the directory)
holds:

- ``jobs``: per job key (kind + the parameters that define *what* is imported, see
  ``job_key``) the cursor reached (offset, keyset cursor, time window, token index ...), its
  status (``running`` / ``done`` / ``truncated``), counters, missing items and notes;
- ``files``: the **committed length** in bytes of every file the importer appends to: the outputs
  (JSONL, CSV) and the per-kind dedupe-key files ``<state>.keys/<kind>.keys`` (one imported key
  per line: the "ids already imported"). On open, anything past a committed length is the tail of
  a page whose checkpoint was never written, and is cut off; the page is fetched again;
- ``pending``: rows staged for a ``TableSink`` whose write was not yet confirmed (see
  ``runner``), so a crash between the sink write and the checkpoint neither loses nor doubles
  them.

Paths are stored relative to the state file's directory. One process at a time may use a state
file: ``open`` takes an exclusive ``flock`` on ``<state>.lock`` (released by the OS if the process
dies), so a second importer fails fast with ``StateError`` instead of corrupting the outputs.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

import msgspec

VERSION = 1


class StateError(Exception):
    """The checkpoint cannot be used: unreadable, locked by another process, or an output file
    was changed outside the importer. The message says what to do."""


class JobState(msgspec.Struct):
    """One job's progress. ``cursor`` is kind-specific (documented by each job module)."""

    kind: str
    params: dict[str, Any]
    status: str = "running"  # "running" | "done" | "truncated" (done, but the venue hid some rows)
    cursor: dict[str, Any] = msgspec.field(default_factory=dict)
    stats: dict[str, int] = msgspec.field(default_factory=dict)
    missing: list[str] = msgspec.field(default_factory=list)
    notes: list[str] = msgspec.field(default_factory=list)
    updated_ns: int = 0

    @property
    def finished(self) -> bool:
        return self.status in ("done", "truncated")

    def bump(self, name: str, n: int = 1) -> None:
        self.stats[name] = self.stats.get(name, 0) + n


class Pending(msgspec.Struct):
    """Rows handed to the sink but not yet confirmed: ``table -> rows`` (row Structs as lists)."""

    tables: dict[str, list[list[Any]]]


class _File(msgspec.Struct):
    version: int = VERSION
    files: dict[str, int] = msgspec.field(default_factory=dict)
    pending: Pending | None = None
    jobs: dict[str, JobState] = msgspec.field(default_factory=dict)


def canonical_params(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with ``None`` dropped and lists sorted and de-duplicated (order never changes
    what is imported), so equal requests get equal job keys."""
    out: dict[str, Any] = {}
    for k, v in sorted(params.items()):
        if v is None:
            continue
        if isinstance(v, (list, tuple, set, frozenset)):
            v = sorted(set(v))
        out[k] = v
    return out


def job_key(kind: str, params: dict[str, Any]) -> str:
    """``kind:{canonical JSON of params}``: the identity of a job across runs."""
    return f"{kind}:" + json.dumps(canonical_params(params), sort_keys=True, separators=(",", ":"))


class ImportState:
    """A loaded checkpoint with its lock held. Build with ``ImportState.open(path)``; ``close()``
    (or ``with``) releases the lock. Not thread-safe; one event loop drives it."""

    def __init__(self, path: Path, data: _File, lock_fd: int) -> None:
        self.path = path
        self.dir = path.parent
        self._data = data
        self._lock_fd: int | None = lock_fd
        self._keys: dict[str, set[str]] = {}

    # -- lifecycle -------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path) -> ImportState:
        """Lock and load ``path`` (a missing file is an empty state), then cut every tracked file
        back to its committed length.

        Raises:
            StateError: locked by another process, unreadable, from a newer version, or a tracked
                file is shorter than committed (changed outside the importer).
        """
        path = Path(path).expanduser().resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(str(path) + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StateError(f"{path} is in use by another import; wait for it or stop it") from None
        try:
            data = _File()
            if path.exists():
                try:
                    data = msgspec.json.decode(path.read_bytes(), type=_File)
                except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                    raise StateError(
                        f"{path} is not an import state ({exc}); move it away to start over"
                    ) from None
                if data.version > VERSION:
                    raise StateError(f"{path} was written by a newer clobflow (version {data.version})")
            state = cls(path, data, fd)
            state._truncate_tails()
            return state
        except BaseException:
            os.close(fd)
            raise

    def close(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    def __enter__(self) -> ImportState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _truncate_tails(self) -> None:
        for rel, size in self._data.files.items():
            p = self.dir / rel
            actual = p.stat().st_size if p.exists() else 0
            if actual < size:
                raise StateError(
                    f"{p} is shorter ({actual} bytes) than the checkpoint says ({size}): it was changed "
                    f"outside the importer; restore it or delete {self.path} to start over"
                )
            if actual > size:
                with open(p, "r+b") as f:
                    f.truncate(size)
                    f.flush()
                    os.fsync(f.fileno())

    # -- jobs ------------------------------------------------------------------------------

    def job(self, kind: str, params: dict[str, Any]) -> tuple[str, JobState]:
        """The job for ``(kind, params)``, created (``running``, empty cursor) if new."""
        key = job_key(kind, params)
        job = self._data.jobs.get(key)
        if job is None:
            job = self._data.jobs[key] = JobState(kind=kind, params=canonical_params(params))
        return key, job

    @property
    def jobs(self) -> dict[str, JobState]:
        return self._data.jobs

    # -- tracked files ---------------------------------------------------------------------

    def rel(self, path: Path) -> str:
        return os.path.relpath(Path(path).resolve(), self.dir)

    def committed(self, path: Path) -> int:
        """Committed length of ``path`` in bytes (0 if never written; an untracked existing
        file's current length, which is then left alone)."""
        rel = self.rel(path)
        if rel in self._data.files:
            return self._data.files[rel]
        return path.stat().st_size if path.exists() else 0

    def append(self, path: Path, data: bytes) -> None:
        """Append and fsync ``data`` after ``path``'s committed length; the new length is
        committed by the next ``save``."""
        start = self.committed(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as f:
            if f.tell() != start:  # our own earlier, uncommitted append in this process
                f.truncate(start)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        self._data.files[self.rel(path)] = start + len(data)

    def keys_path(self, kind: str) -> Path:
        return self.path.with_name(self.path.name.removesuffix(".json") + ".keys") / f"{kind}.keys"

    def keys(self, kind: str) -> set[str]:
        """Every key imported so far by jobs of ``kind`` (loaded once, then kept in memory)."""
        seen = self._keys.get(kind)
        if seen is None:
            p = self.keys_path(kind)
            seen = set()
            if p.exists():
                with open(p, "rb") as f:
                    seen = set(f.read(self.committed(p)).decode().splitlines())
            self._keys[kind] = seen
        return seen

    def add_keys(self, kind: str, keys: list[str]) -> None:
        if keys:
            self.append(self.keys_path(kind), "".join(k + "\n" for k in keys).encode())
            self.keys(kind).update(keys)

    # -- pending sink rows -----------------------------------------------------------------

    @property
    def pending(self) -> Pending | None:
        return self._data.pending

    @pending.setter
    def pending(self, value: Pending | None) -> None:
        self._data.pending = value

    # -- persistence -----------------------------------------------------------------------

    def save(self) -> None:
        """Write the checkpoint atomically (a reader sees the old or the new file, never half)."""
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            f.write(msgspec.json.encode(self._data))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        dfd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
