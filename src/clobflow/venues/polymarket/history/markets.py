"""The ``markets`` job: Gamma ``GET /markets`` -> ``market_windows`` rows, plus every raw Gamma
object appended to ``<out>/gamma_markets.jsonl`` (kept for later use: fees, tags, rules...).

Two walks (protocol.md §3.4):

- by slugs: ``?slug=a&slug=b...`` ``slug_chunk`` at a time; cursor ``{"chunk": i}``. Slugs Gamma
  does not return are reported in ``missing``. Gamma is reported to hide closed markets from
  list queries unless asked, so pass ``closed`` when importing resolved markets.
- by filters (``closed``, ``tag_slug``, ``end_date_min``/``end_date_max``): offset pages in a
  stable order (``order=id&ascending=true``, so markets created during the walk land at the end
  rather than shifting the pages already read); cursor ``{"offset": n, "count": n}``; stops at a
  short page or ``max_markets``.

Dedupe key: ``<conditionId>|<winner>`` (``mapping.market_key``): a market is written once per
known outcome, so re-importing after resolution adds the resolved row. Non-binary or malformed
markets keep their raw line but get no row (counted as ``skipped``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from clobflow.venues.polymarket.history.mapping import market_key, market_window_row
from clobflow.venues.polymarket.history.runner import Item, JobResult, JobRun, Progress
from clobflow.venues.polymarket.history.state import ImportState
from clobflow.recorder.sink import TableSink
from clobflow.venues.polymarket.gamma import GammaClient
from clobflow.venues.polymarket.http import HttpRejected, encode_params

RAW_FILE = "gamma_markets.jsonl"
TABLE = "market_windows"


@dataclass(frozen=True, slots=True)
class MarketQuery:
    """What to import. ``end_min``/``end_max`` are ISO-8601 bounds on the market's ``endDate``."""

    slugs: tuple[str, ...] = ()
    closed: bool | None = None
    tag: str | None = None
    end_min: str | None = None
    end_max: str | None = None
    max_markets: int = 10_000

    def params(self) -> dict[str, Any]:
        return {"slugs": list(self.slugs) or None, "closed": self.closed, "tag": self.tag,
                "end_min": self.end_min, "end_max": self.end_max,
                "max_markets": None if self.slugs else self.max_markets}


def _items(run: JobRun, rows: list[dict[str, Any]], raw_path: Path) -> list[Item]:
    now = run.clock_ns()
    out = []
    for d in rows:
        try:
            row = market_window_row(d, now)
        except ValueError as exc:
            row = None
            if run.is_new(market_key(d)):
                run.job.bump("skipped")
                if run.job.stats["skipped"] <= 3:
                    run.note(f"no market_windows row: {exc}")
        line = msgspec.json.encode(d).decode() + "\n"
        out.append(Item(market_key(d), TABLE if row else None, row, {raw_path: line}))
    return out


async def _get(gamma: GammaClient, params: dict[str, Any]) -> list[dict[str, Any]]:
    body = await gamma.http.get_json("/markets", encode_params(params), family="markets")
    if not isinstance(body, list):
        raise HttpRejected(f"gamma GET /markets: expected a JSON list, got {type(body).__name__}", status=200)
    return [x for x in body if isinstance(x, dict)]


async def import_markets(
    state: ImportState,
    gamma: GammaClient,
    query: MarketQuery,
    *,
    out_dir: Path,
    sink: TableSink | None = None,
    progress: Progress | None = None,
    page_size: int = 100,
    slug_chunk: int = 50,
    clock_ns: Callable[[], int] = time.time_ns,
) -> JobResult:
    """Run (or resume, or find finished) the markets job for ``query``.

    Rows go to ``sink`` table ``market_windows`` when given, else ``<out_dir>/market_windows.jsonl``;
    ``discovered_ns`` is ``clock_ns()`` when the page was read.

    Raises:
        HttpRetryable / HttpRejected: the venue failed; progress up to the last page is saved.
        StateError: the checkpoint cannot be used.
    """
    if page_size < 1 or slug_chunk < 1:
        raise ValueError("page_size and slug_chunk must be >= 1")
    out_dir = Path(out_dir)
    raw_path = out_dir / RAW_FILE
    async with JobRun(state, "markets", query.params(), out_dir=out_dir, sink=sink, progress=progress,
                      clock_ns=clock_ns) as run:
        if run.job.finished:
            return run.result()
        if query.slugs:
            slugs = sorted(set(query.slugs))
            chunks = [slugs[i : i + slug_chunk] for i in range(0, len(slugs), slug_chunk)]
            for i in range(int(run.job.cursor.get("chunk", 0)), len(chunks)):
                chunk = chunks[i]
                rows = await _get(gamma, {"slug": chunk, "closed": query.closed, "limit": len(chunk)})
                rows = [r for r in rows if r.get("slug") in chunk]
                for s in sorted(set(chunk) - {r.get("slug") for r in rows}):
                    run.mark_missing(s)
                last = i + 1 == len(chunks)
                await run.commit(_items(run, rows, raw_path), {"chunk": i + 1},
                                 unit=f"slugs {i + 1}/{len(chunks)}", units_done=i + 1,
                                 units_total=len(chunks), status="done" if last else None)
            return run.result()
        offset = int(run.job.cursor.get("offset", 0))
        count = int(run.job.cursor.get("count", 0))
        while True:
            want = min(page_size, query.max_markets - count)
            rows = [] if want <= 0 else await _get(gamma, {
                "closed": query.closed, "tag_slug": query.tag, "end_date_min": query.end_min,
                "end_date_max": query.end_max, "order": "id", "ascending": True,
                "limit": want, "offset": offset,
            })
            rows = rows[:max(want, 0)]
            offset += len(rows)
            count += len(rows)
            last = len(rows) < want or count >= query.max_markets
            await run.commit(_items(run, rows, raw_path), {"offset": offset, "count": count},
                             unit=f"offset {offset}", units_done=count, units_total=None,
                             status="done" if last else None)
            if last:
                return run.result()
