"""``JobRun``: commits one job's pages so that an interrupted import, re-run, writes every row
exactly once.

One commit (``JobRun.commit``) takes the items of one fetched page and, in this order:

1. drops items whose key was already imported (by any job of the same kind in this state) or
   repeats within the page;
2. appends their output lines (CSV/JSONL; rows as JSONL when there is no sink) and their keys
   to the kind's key file, each fsynced;
3. without a sink: saves the checkpoint (new cursor + new committed file lengths) -- done;
   with a sink: saves the checkpoint with the rows staged as ``pending``, writes them to the
   sink (from a worker thread, never the event loop), then saves again with ``pending`` cleared.

A crash before a save leaves bytes past the committed lengths, which ``ImportState.open`` cuts
off: the page is fetched again. A crash with rows ``pending`` is settled when the next run opens:
the sink is asked which of those rows it already has (by ``KEY_COLUMNS``) and only the others
are written. A sink whose ``query`` fails is given all of them again (logged: at-least-once).

The progress callback runs after each commit, so an exception raised in it (how tests interrupt
an import) leaves a consistent checkpoint.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from clobflow.venues.polymarket.history.state import ImportState, JobState, Pending, StateError
from clobflow.recorder.sink import TableSink
from clobflow.recorder.tables import TABLES, columns

log = logging.getLogger(__name__)

KEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "trades": ("trade_id",),
    "market_windows": ("market", "winner"),
}
"""Columns whose values, joined with ``|``, are a row's dedupe key in each sink table."""


def row_key(table: str, row: msgspec.Struct) -> str:
    return "|".join(str(getattr(row, c)) for c in KEY_COLUMNS[table])


@dataclass(frozen=True, slots=True)
class Item:
    """One imported thing: its dedupe ``key``, an optional table row, optional output lines."""

    key: str
    table: str | None = None
    row: msgspec.Struct | None = None
    lines: dict[Path, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """Sent after every committed page. ``rows`` and ``duplicates`` count this job over all of
    its runs; ``units_total`` is None when unknown (e.g. a filter walk)."""

    job: str
    kind: str
    unit: str
    units_done: int
    units_total: int | None
    pages: int
    rows: int
    duplicates: int


Progress = Callable[[ProgressEvent], None]


@dataclass(frozen=True, slots=True)
class JobResult:
    """How a job ended: ``status`` is ``done`` or ``truncated`` (finished, but the venue would not
    serve everything: see ``notes``). ``missing`` lists items the venue does not know (404 or
    absent), ``resumed`` whether an earlier run had already started it, ``already_finished``
    whether it was finished before this run (nothing was fetched)."""

    key: str
    kind: str
    status: str
    pages: int
    rows: int
    duplicates: int
    missing: tuple[str, ...]
    notes: tuple[str, ...]
    resumed: bool
    already_finished: bool = False


class JobRun:
    """Drives one job's checkpoint. ``async with JobRun(...) as run`` settles pending sink rows."""

    def __init__(
        self,
        state: ImportState,
        kind: str,
        params: dict[str, Any],
        *,
        out_dir: Path,
        sink: TableSink | None = None,
        progress: Progress | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.state = state
        self.kind = kind
        self.key, self.job = state.job(kind, params)
        self.resumed = bool(self.job.cursor) or self.job.finished
        self.already_finished = self.job.finished
        self.out_dir = Path(out_dir)
        self.sink = sink
        self.progress = progress
        self.clock_ns = clock_ns
        self._pool: ThreadPoolExecutor | None = None

    async def __aenter__(self) -> JobRun:
        if self.state.pending is not None and self.sink is None:
            raise StateError(
                f"{self.state.path} has rows pending for a table sink: re-run with the same sink"
            )
        if self.sink is not None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-sink")
            try:
                await self._call(self.sink.ensure_tables)
                if self.state.pending is not None:
                    await self._settle(self.state.pending)
            except BaseException:
                self._pool.shutdown(wait=True)
                raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def _settle(self, pending: Pending) -> None:
        for table, raw in pending.tables.items():
            rows = [msgspec.convert(r, TABLES[table]) for r in raw]
            have = await self._existing(table, rows)
            todo = [r for r in rows if row_key(table, r) not in have]
            log.info("import: %d of %d pending %s rows were not in the sink", len(todo), len(rows), table)
            if todo:
                await self._call(self.sink.write, table, todo)  # type: ignore[union-attr]
        self.state.pending = None
        self.state.save()

    async def _existing(self, table: str, rows: list[msgspec.Struct]) -> set[str]:
        cols = KEY_COLUMNS[table]
        firsts = sorted({str(getattr(r, cols[0])) for r in rows})
        quoted = ", ".join("'" + v.replace("'", "''") + "'" for v in firsts)
        sql = f"SELECT {', '.join(cols)} FROM {table} WHERE {cols[0]} IN ({quoted})"
        try:
            found = await self._call(self.sink.query, sql)  # type: ignore[union-attr]
        except Exception as exc:  # a sink without SQL: rewrite them all (at-least-once)
            log.warning("import: cannot check pending %s rows in the sink (%s); writing them again",
                        table, exc)
            return set()
        return {"|".join(str(v) for v in r) for r in found}

    # -- the page commit -------------------------------------------------------------------

    def is_new(self, key: str) -> bool:
        return key not in self.state.keys(self.kind)

    async def commit(
        self,
        items: Sequence[Item],
        cursor: dict[str, Any],
        *,
        unit: str = "",
        units_done: int = 0,
        units_total: int | None = None,
        headers: dict[Path, str] | None = None,
        status: str | None = None,
    ) -> int:
        """Commit one page (see the module docstring); returns the rows newly written.

        ``cursor`` replaces the job's cursor; ``headers`` maps a file to the line written first
        when the file is still empty; ``status`` finishes the job (``done``/``truncated``).
        """
        seen = self.state.keys(self.kind)
        fresh: list[Item] = []
        page_keys: set[str] = set()
        for it in items:
            if it.key in seen or it.key in page_keys:
                self.job.bump("duplicates")
                continue
            page_keys.add(it.key)
            fresh.append(it)
        chunks: dict[Path, list[str]] = {}
        rows: dict[str, list[msgspec.Struct]] = {}
        for it in fresh:
            for path, line in it.lines.items():
                chunks.setdefault(path, []).append(line)
            if it.table is not None and it.row is not None:
                if self.sink is not None:
                    rows.setdefault(it.table, []).append(it.row)
                else:
                    obj = dict(zip(columns(it.table), msgspec.to_builtins(it.row), strict=True))
                    path = self.out_dir / f"{it.table}.jsonl"
                    chunks.setdefault(path, []).append(msgspec.json.encode(obj).decode() + "\n")
        for path, lines in chunks.items():
            head = (headers or {}).get(path)
            if head and self.state.committed(path) == 0:
                lines.insert(0, head)
            self.state.append(path, "".join(lines).encode())
        self.state.add_keys(self.kind, [it.key for it in fresh])
        job = self.job
        job.cursor = cursor
        job.bump("pages")
        job.bump("rows", len(fresh))
        job.updated_ns = self.clock_ns()
        if status is not None:
            job.status = status
        if rows:
            self.state.pending = Pending({t: [msgspec.to_builtins(r) for r in rs] for t, rs in rows.items()})
            self.state.save()
            for table, rs in rows.items():
                await self._call(self.sink.write, table, rs)  # type: ignore[union-attr]
            self.state.pending = None
        self.state.save()
        if self.progress is not None:
            self.progress(ProgressEvent(
                self.key, self.kind, unit, units_done, units_total,
                job.stats.get("pages", 0), job.stats.get("rows", 0), job.stats.get("duplicates", 0),
            ))
        return len(fresh)

    def note(self, text: str) -> None:
        """Record a warning on the job (saved with the next commit)."""
        if text not in self.job.notes:
            self.job.notes.append(text)
            log.warning("import %s: %s", self.kind, text)

    def mark_missing(self, item: str) -> None:
        if item not in self.job.missing:
            self.job.missing.append(item)

    def result(self) -> JobResult:
        j: JobState = self.job
        return JobResult(
            key=self.key, kind=self.kind, status=j.status, pages=j.stats.get("pages", 0),
            rows=j.stats.get("rows", 0), duplicates=j.stats.get("duplicates", 0),
            missing=tuple(j.missing), notes=tuple(j.notes), resumed=self.resumed,
            already_finished=self.already_finished,
        )
