"""The ``trades`` job: Data API trade history by market(s) and/or wallet -> ``trades`` rows.

Both APIs map to the same ``TradeRow`` (``mapping.trade_row``; protocol.md §3.3):

- **v2** ``GET /v2/trades`` (preferred): keyset ``cursor`` pages, no depth limit. ``start``/
  ``end`` are honoured by the venue on the wallet (``user``) shape only, so they are always also
  applied here, and a market walk stops at the first row older than ``start`` (newest first).
  Cursor: ``{"api": "v2", "unit": i, "cursor": <next_cursor>}``.
- **v1** ``GET /trades`` (legacy, camelCase): ``offset`` pages, and the venue refuses offsets past
  a cap with a 400 (reported at ~3,500 rows; docs say 10,000). Strategy, per unit: walk offsets
  while ``offset <= v1_max_offset``; on reaching it, or on a 400 at ``offset > 0``, start a new
  **time window** ending at the oldest timestamp seen (``end=<that second>``, inclusive, offset 0):
  rows of that second come again and are dropped by the dedupe key. Two failure modes are
  detected, recorded in ``notes`` and finish the unit as ``truncated`` instead of looping: more
  rows in one second than the cap (the window cannot move), and a venue that ignores ``end``
  (rows newer than the window come back; some reports say the real ``/trades`` does). Cursor:
  ``{"api": "v1", "unit": i, "end": s, "offset": n, "floor": s}``.
- **auto**: v2, unless the venue answers 404 for it (then v1). The choice is kept in the cursor.

Units are the market list in chunks of ``MARKET_CHUNK`` (v2 takes at most 20 condition ids), or
one wallet-only unit. Dedupe key: ``TradeRow.trade_id`` (derived from wallet, token, side, price,
size, second and transaction hash; the Data API sends no id).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clobflow.venues.polymarket.history.clients import DataApiClient
from clobflow.venues.polymarket.history.mapping import NS, trade_row
from clobflow.venues.polymarket.history.runner import Item, JobResult, JobRun, Progress
from clobflow.venues.polymarket.history.state import ImportState
from clobflow.recorder.sink import TableSink
from clobflow.venues.polymarket.http import HttpRejected

MARKET_CHUNK = 20
TABLE = "trades"


@dataclass(frozen=True, slots=True)
class TradeQuery:
    """What to import: condition ids and/or a proxy wallet, an optional inclusive range in epoch
    seconds, side, ``taker_only`` (the venue's default: a fill once, on its taker side)."""

    markets: tuple[str, ...] = ()
    user: str | None = None
    start_s: int | None = None
    end_s: int | None = None
    side: str | None = None
    taker_only: bool = True
    api: str = "v2"

    def params(self) -> dict[str, Any]:
        return {"markets": [m.lower() for m in self.markets] or None,
                "user": self.user.lower() if self.user else None, "start": self.start_s,
                "end": self.end_s, "side": self.side, "taker_only": self.taker_only, "api": self.api}


class _Walk:
    """Shared state of one job run: the query, the run, the units."""

    def __init__(self, run: JobRun, data: DataApiClient, q: TradeQuery, page_size: int) -> None:
        self.run, self.data, self.q, self.page_size = run, data, q, page_size
        markets = sorted({m.lower() for m in q.markets})
        self.units = [markets[i : i + MARKET_CHUNK] for i in range(0, len(markets), MARKET_CHUNK)] or [[]]
        self.user = q.user.lower() if q.user else None

    def label(self, u: int) -> str:
        return f"markets {u + 1}/{len(self.units)}" if self.units[u] else f"wallet {self.user}"

    def items(self, rows: list[dict[str, Any]]) -> tuple[list[Item], int | None]:
        """Rows in the query's range as items, and the oldest timestamp of all parsed rows."""
        q, out, oldest = self.q, [], None
        for d in rows:
            try:
                row = trade_row(d)
            except ValueError as exc:
                self.run.job.bump("malformed")
                if self.run.job.stats["malformed"] <= 3:
                    self.run.note(f"skipped a malformed trade: {exc}")
                continue
            ts = row.ts_ns // NS
            oldest = ts if oldest is None else min(oldest, ts)
            if (q.start_s is None or ts >= q.start_s) and (q.end_s is None or ts <= q.end_s):
                out.append(Item(row.trade_id, TABLE, row))
        return out, oldest

    async def commit(self, items: list[Item], cursor: dict[str, Any], u: int, unit_done: bool) -> None:
        last = unit_done and u + 1 == len(self.units)
        status = None
        if last:
            status = "truncated" if self.run.job.stats.get("truncated_units") else "done"
        await self.run.commit(items, cursor, unit=self.label(u), units_done=u + unit_done,
                              units_total=len(self.units), status=status)

    def base(self) -> dict[str, Any]:
        return {"user": self.user, "side": self.q.side, "start": self.q.start_s}

    # -- v2 ------------------------------------------------------------------------------------

    async def v2(self, u: int, cur: dict[str, Any]) -> None:
        base = {**self.base(), "condition_id": ",".join(self.units[u]) or None,
                "taker_only": self.q.taker_only, "end": self.q.end_s}
        token = cur.get("cursor")
        while True:
            params = {**base, "cursor": token} if token else {**base, "limit": self.page_size}
            page = await self.data.trades_v2(params)
            items, oldest = self.items(page.rows)
            past_start = self.q.start_s is not None and oldest is not None and oldest < self.q.start_s
            done = page.next_cursor is None or past_start
            cursor = {"api": "v2", "unit": u + 1}
            if not done:
                cursor = {"api": "v2", "unit": u, "cursor": page.next_cursor}
            await self.commit(items, cursor, u, done)
            if done:
                return
            token = page.next_cursor

    # -- v1 ------------------------------------------------------------------------------------

    async def v1(self, u: int, cur: dict[str, Any], max_offset: int) -> None:
        base = {**self.base(), "market": ",".join(self.units[u]) or None, "takerOnly": self.q.taker_only}
        end: int | None = cur.get("end", self.q.end_s)
        offset: int = int(cur.get("offset", 0))
        floor: int | None = cur.get("floor")
        while True:
            rows = None
            if offset <= max_offset:
                try:
                    params = {**base, "end": end, "limit": self.page_size, "offset": offset}
                    rows = await self.data.trades_v1(params)
                except HttpRejected as exc:
                    if exc.status != 400 or offset == 0:
                        raise
                    self.run.note(f"v1 /trades refused offset {offset} (HTTP 400): walking time windows")
            if rows is None:  # the offset cap: a new window ending at the oldest second seen
                if floor is None or (end is not None and floor >= end):
                    self.run.note(f"v1 /trades: more than {offset} trades at t={end}s in {self.label(u)}; "
                                  "the offset cap hides the rest (use --api v2)")
                    return await self._truncate(u)
                end, offset, floor = floor, 0, None
                continue
            rolled = end is not None and end != self.q.end_s
            if rolled and any(int(r.get("timestamp", 0)) > end for r in rows):  # type: ignore[operator]
                self.run.note(f"v1 /trades ignored end={end}: rows before it are out of reach of the offset "
                              "cap (use --api v2)")
                items, _ = self.items(rows)
                return await self._truncate(u, items)
            items, oldest = self.items(rows)
            if oldest is not None:
                floor = oldest if floor is None else min(floor, oldest)
            past_start = self.q.start_s is not None and oldest is not None and oldest < self.q.start_s
            if len(rows) < self.page_size or past_start:
                return await self.commit(items, {"api": "v1", "unit": u + 1}, u, True)
            offset += len(rows)
            cursor = {"api": "v1", "unit": u, "end": end, "offset": offset, "floor": floor}
            await self.commit(items, cursor, u, False)

    async def _truncate(self, u: int, items: list[Item] | None = None) -> None:
        self.run.job.bump("truncated_units")
        await self.commit(items or [], {"api": "v1", "unit": u + 1}, u, True)


async def _probe_v2(data: DataApiClient, walk: _Walk) -> str:
    """``auto``: v2 unless the venue does not have it (404)."""
    try:
        await data.trades_v2({"user": walk.user, "condition_id": ",".join(walk.units[0]) or None, "limit": 1})
    except HttpRejected as exc:
        if exc.status == 404:
            return "v1"
        raise
    return "v2"


async def import_trades(
    state: ImportState,
    data: DataApiClient,
    query: TradeQuery,
    *,
    out_dir: Path,
    sink: TableSink | None = None,
    progress: Progress | None = None,
    page_size: int = 500,
    v1_max_offset: int = 3000,
    clock_ns: Callable[[], int] = time.time_ns,
) -> JobResult:
    """Run (or resume, or find finished) the trades job for ``query`` (see the module docstring).

    Rows go to ``sink`` table ``trades`` when given, else ``<out_dir>/trades.jsonl``.
    ``page_size`` must stay within the venue's page cap (v1: 500, v2: 1,000).

    Raises:
        ValueError: neither markets nor a wallet, an unknown ``api``/``side``, or start > end.
        HttpRetryable / HttpRejected: the venue failed; progress up to the last page is saved.
        StateError: the checkpoint cannot be used.
    """
    if not query.markets and not query.user:
        raise ValueError("give at least one market (condition id) or a wallet")
    if query.api not in ("v2", "v1", "auto"):
        raise ValueError(f"api must be v2, v1 or auto, got {query.api!r}")
    if query.side not in (None, "BUY", "SELL"):
        raise ValueError(f"side must be BUY or SELL, got {query.side!r}")
    if query.start_s is not None and query.end_s is not None and query.start_s > query.end_s:
        raise ValueError(f"start {query.start_s} is after end {query.end_s}")
    if page_size < 1:
        raise ValueError("page_size must be >= 1")
    async with JobRun(state, "trades", query.params(), out_dir=out_dir, sink=sink, progress=progress,
                      clock_ns=clock_ns) as run:
        if run.job.finished:
            return run.result()
        walk = _Walk(run, data, query, page_size)
        cur = dict(run.job.cursor)
        api = cur.get("api") or query.api
        if api == "auto":
            api = await _probe_v2(data, walk)
        u = int(cur.get("unit", 0))
        while u < len(walk.units):
            if api == "v2":
                await walk.v2(u, cur)
            else:
                await walk.v1(u, cur, v1_max_offset)
            u, cur = u + 1, {}
        return run.result()
