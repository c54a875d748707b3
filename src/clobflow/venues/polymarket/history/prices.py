"""The ``prices`` job: CLOB ``GET /prices-history`` per token -> ``<out>/prices/<token>.csv``.

Each CSV has the header ``t,price`` then one line per point: ``t`` in epoch seconds and the price
as an exact decimal string of its micro-units (``0.505``), oldest first within one job's range.
(Prices are not trades, so they do not go to the ``trades`` table; a ``price_history`` table
would be ``(venue, asset_id, ts_ns, price, fidelity_s)`` if the platform wants one.)

With a date range, each token is read in windows of ``window_s`` (``startTs``/``endTs``): the
venue refuses long ranges (reported near 15 days; protocol.md §3.1), so the default is 14 days and
a window refused with a 400 is halved down to ``min_window_s`` before giving up. Consecutive
windows share their boundary second, so the result is complete whether the venue treats
``endTs`` as inclusive or not; the shared point is dropped by the dedupe key ``<token>|<t>``.
Without a range, one ``interval=max`` request per token. A token the venue does not know (404)
is listed in ``missing``. Cursor: ``{"token": i, "next": <window start or null>, "window": s}``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clobflow.core.numbers import format_micros
from clobflow.venues.polymarket.history.clients import PriceHistoryClient
from clobflow.venues.polymarket.history.runner import Item, JobResult, JobRun, Progress
from clobflow.venues.polymarket.history.state import ImportState
from clobflow.venues.polymarket.http import HttpRejected

HEADER = "t,price\n"
DEFAULT_WINDOW_S = 14 * 86_400


@dataclass(frozen=True, slots=True)
class PriceQuery:
    """Tokens and an optional inclusive range in epoch seconds (both or neither)."""

    tokens: tuple[str, ...]
    start_s: int | None = None
    end_s: int | None = None
    fidelity_min: int = 1

    def params(self) -> dict[str, Any]:
        return {"tokens": list(self.tokens), "start": self.start_s, "end": self.end_s,
                "fidelity": self.fidelity_min}


def prices_path(out_dir: Path, token: str) -> Path:
    return Path(out_dir) / "prices" / f"{token}.csv"


async def import_prices(
    state: ImportState,
    clob: PriceHistoryClient,
    query: PriceQuery,
    *,
    out_dir: Path,
    progress: Progress | None = None,
    window_s: int = DEFAULT_WINDOW_S,
    min_window_s: int = 3600,
    clock_ns: Callable[[], int] = time.time_ns,
) -> JobResult:
    """Run (or resume, or find finished) the prices job for ``query``.

    Raises:
        ValueError: no tokens, a half-open range, ``start_s > end_s``, or a window under 2 s.
        HttpRetryable / HttpRejected: the venue failed (a 400 even at ``min_window_s``, or any
            other 4xx but 404); progress up to the last window is saved.
    """
    if not query.tokens:
        raise ValueError("no tokens to import")
    if (query.start_s is None) != (query.end_s is None):
        raise ValueError("give both start and end, or neither")
    if query.start_s is not None and query.start_s > query.end_s:  # type: ignore[operator]
        raise ValueError(f"start {query.start_s} is after end {query.end_s}")
    if min_window_s < 2 or window_s < min_window_s:
        raise ValueError("need 2 <= min_window_s <= window_s")
    tokens = sorted(set(query.tokens))
    async with JobRun(state, "prices", query.params(), out_dir=out_dir, progress=progress,
                      clock_ns=clock_ns) as run:
        if run.job.finished:
            return run.result()
        cur = run.job.cursor
        i, nxt, window = int(cur.get("token", 0)), cur.get("next"), int(cur.get("window", window_s))
        while i < len(tokens):
            token = tokens[i]
            path = prices_path(out_dir, token)
            lo = nxt if nxt is not None else query.start_s
            hi = None if lo is None else min(lo + window, query.end_s)  # type: ignore[type-var]
            try:
                if lo is None:
                    points = await clob.prices_history(token, interval="max", fidelity_min=query.fidelity_min)
                else:
                    points = await clob.prices_history(token, start_s=lo, end_s=hi,
                                                       fidelity_min=query.fidelity_min)
            except HttpRejected as exc:
                if exc.status == 404:
                    run.mark_missing(token)
                    points, hi = [], None
                elif exc.status == 400 and lo is not None and window > min_window_s:
                    window = max(min_window_s, window // 2)  # the venue's range limit: smaller windows
                    continue
                else:
                    raise
            if lo is not None and hi is not None:
                points = [(t, p) for t, p in points if lo <= t <= hi]
            if hi is None or hi >= query.end_s:  # type: ignore[operator]
                i, nxt = i + 1, None
            else:
                nxt = hi
            items = [Item(f"{token}|{t}", lines={path: f"{t},{format_micros(p)}\n"}) for t, p in points]
            await run.commit(items, {"token": i, "next": nxt, "window": window}, unit=token,
                             units_done=i, units_total=len(tokens), headers={path: HEADER},
                             status="done" if i == len(tokens) else None)
        if not run.job.finished:  # resumed exactly at the end
            await run.commit([], dict(run.job.cursor), status="done")
        return run.result()
