"""Select part of a recording: a receive-time range and/or some markets.

``select_frames(dataset, start_ns=..., end_ns=..., markets=[...])`` returns a **new** ``Dataset``
(the input is not modified) holding:

- **frames** whose receive time ``t`` satisfies ``start_ns <= t < end_ns`` (either bound may be
  ``None``) and, when ``markets`` is given, that concern at least one selected market, in their
  original relative order. Frame text is kept byte for byte (replay never rewrites what the venue
  sent), so an array frame mixing selected and other markets is kept whole; the engine only
  trades markets in the dataset's ``markets`` list, so the extra events build books nobody reads.
- **markets**: the selected markets (all, without a filter) that at least one kept frame
  concerns, in the dataset's order;
- **resolutions** of those markets published inside the time range.

How a frame is matched to markets: a regular-expression scan of the frame text for the values of
``"market"``, ``"asset_id"`` and ``"condition_id"`` keys (every market-channel event type carries
at least one of them: condition id on ``book``/``price_change``/``new_market``/
``market_resolved``/..., asset id on per-token events and ``price_changes[]`` entries). The scan
is several times cheaper than decoding the JSON, and ids never contain quotes or escapes. A frame
that names no id at all (``PONG``, ``NO NEW ASSETS``) concerns no market: it is kept by a
time-only selection and dropped by a market filter.

Market selectors (``markets=``): a condition id, a token id, an exact slug, or a slug prefix
(``btc-updown-15m`` selects every BTC 15-minute window). A selector that matches no market of the
dataset raises ``ValueError`` naming it (a typo should not silently select nothing).

Caveat: a time range cuts at frame boundaries. A market whose ``book`` snapshot lies before
``start_ns`` has no snapshot in the selection, so its books stay untrusted (deltas are dropped)
until the next snapshot: start ranges at window or day boundaries (the bundled 15-minute data
sends each window's snapshots at its first row).

``parse_time_ns`` turns the CLI's ``--start``/``--end`` text (ISO date or date-time) into epoch
nanoseconds. ``DatasetSpec`` names a dataset plus a selection as plain data, so that a worker
process (local or on a cluster) loads the frames itself instead of receiving them; ``dataset_for``
caches the loaded result per process.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from clobflow.core import ids
from clobflow.core.markets import BinaryMarket
from clobflow.sim.datasets import Dataset, load_dataset
from clobflow.sim.datasets.base import iso_utc, parse_iso_ns

__all__ = ["DatasetSpec", "dataset_for", "frame_ids", "match_markets", "parse_time_ns", "select_frames", "warm_worker"]

# The values of the id-carrying keys, wherever they sit in the frame (top level, array items,
# ``price_changes[]`` entries). Whitespace after the colon is allowed (pretty-printed captures).
_ID = re.compile(r'"(?:market|asset_id|condition_id)"\s*:\s*"([^"]+)"')
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NS = 1_000_000_000


def frame_ids(text: str) -> set[str]:
    """The condition and token ids a frame's text names (see the module docstring)."""
    return set(_ID.findall(text))


def match_markets(markets: Iterable[BinaryMarket], selectors: Iterable[str]) -> list[BinaryMarket]:
    """The markets matched by any selector (condition id, token id, slug, or slug prefix), in
    the order of ``markets``. Ids may be given bare or venue-qualified (``POLYMARKET:0x…``, as
    journals and reports name them); datasets hold bare ids.

    Raises:
        ValueError: a selector matches no market (the message names it).
    """
    ms = list(markets)
    chosen: set[str] = set()
    for sel in selectors:
        sel = ids.raw(sel.strip())
        # an exact id or slug wins; otherwise the selector is a slug prefix
        hit = [m for m in ms if sel in (m.condition_id, m.slug) or sel in m.token_ids] if sel else []
        if not hit and sel:
            hit = [m for m in ms if m.slug and m.slug.startswith(sel)]
        if not hit:
            raise ValueError(f"market {sel!r} matches no market in the data (give a condition id, slug or slug prefix)")
        chosen.update(m.condition_id for m in hit)
    return [m for m in ms if m.condition_id in chosen]


def select_frames(
    dataset: Dataset,
    *,
    start_ns: int | None = None,
    end_ns: int | None = None,
    markets: Iterable[str] | None = None,
) -> Dataset:
    """A new ``Dataset`` restricted to ``[start_ns, end_ns)`` receive time and to ``markets``
    (selectors; ``None`` = every market). Pure: ``dataset`` is left as it was.

    The result's ``name`` records the selection (``<name>[<start>..<end>;<k> markets]``) so a
    backtest's run id, which hashes the dataset name, differs from the whole recording's.

    Raises:
        ValueError: ``start_ns >= end_ns``, or a market selector matches nothing.
    """
    if start_ns is not None and end_ns is not None and start_ns >= end_ns:
        raise ValueError(f"empty time range: start {iso_utc(start_ns)} is not before end {iso_utc(end_ns)}")
    frames = dataset.frames
    # Frames are sorted by receive time (Dataset contract): bisect the range instead of scanning.
    times = [f.ts_recv_ns for f in frames] if (start_ns is not None or end_ns is not None) else None
    lo = bisect_left(times, start_ns) if times is not None and start_ns is not None else 0
    hi = bisect_left(times, end_ns) if times is not None and end_ns is not None else len(frames)
    window = frames[lo:hi]

    selected = dataset.markets if markets is None else match_markets(dataset.markets, markets)
    owner: dict[str, str] = {}  # condition id or token id -> condition id
    for m in selected:
        owner[m.condition_id] = m.condition_id
        for t in m.token_ids:
            owner[t] = m.condition_id

    seen: set[str] = set()
    kept = []
    findall = _ID.findall
    for fr in window:
        hits = {owner[i] for i in findall(fr.frame) if i in owner}
        if hits:
            seen |= hits
            kept.append(fr)
        elif markets is None:
            kept.append(fr)  # no filter: frames of unknown markets and text frames stay too
    out_markets = [m for m in selected if m.condition_id in seen]
    lo_t = start_ns if start_ns is not None else -(2**63)
    hi_t = end_ns if end_ns is not None else 2**63
    resolutions = {
        cid: r for cid, r in dataset.resolutions.items() if cid in seen and lo_t <= r.ts_ns < hi_t
    }
    return Dataset(
        name=_name(dataset.name, start_ns, end_ns, None if markets is None else len(out_markets)),
        markets=out_markets,
        frames=kept,
        resolutions=resolutions,
        description=dataset.description,
    )


def _name(base: str, start_ns: int | None, end_ns: int | None, n_markets: int | None) -> str:
    parts = []
    if start_ns is not None or end_ns is not None:
        a = iso_utc(start_ns) if start_ns is not None else ""
        b = iso_utc(end_ns) if end_ns is not None else ""
        parts.append(f"{a}..{b}")
    if n_markets is not None:
        parts.append(f"{n_markets} markets")
    return f"{base}[{';'.join(parts)}]" if parts else base


def parse_time_ns(text: str, *, end: bool = False) -> int:
    """CLI time text to epoch nanoseconds (UTC).

    Accepts ``YYYY-MM-DD`` or an ISO-8601 date-time (``2025-12-26T10:30``, ``...Z``,
    ``...+01:00``; a time without offset is UTC). A bare date is that day's midnight, except
    with ``end=True``, where it means the **end** of that day (the next midnight), so
    ``--start 2025-12-26 --end 2025-12-26`` selects the whole day. A date-time is exact (and an
    end bound is exclusive).

    Raises:
        ValueError: the text is neither (the message quotes it).
    """
    s = text.strip()
    try:
        if _DATE.match(s):
            day = datetime.strptime(s, "%Y-%m-%d").replace(tzinfo=UTC)
            if end:
                day += timedelta(days=1)
            return int((day - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) * _NS
        return parse_iso_ns(s)
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD) or ISO date-time (YYYY-MM-DDTHH:MM[:SS][Z|±HH:MM])") from None


# -- a selection that any process can load (sweep workers) -----------------------------------

@dataclass(frozen=True)
class DatasetSpec:
    """How a worker gets the data: ``load_dataset(source, limit_markets=...)`` then, if a bound
    or ``markets`` is set, ``select_frames``. Plain, picklable, hashable data. ``source`` is a
    registered name or a path that must resolve the same way in every worker (use an absolute
    path; on a cluster, a shared filesystem)."""

    source: str
    limit_markets: int | None = None
    start_ns: int | None = None
    end_ns: int | None = None
    markets: tuple[str, ...] | None = None

    def load(self) -> Dataset:
        ds = load_dataset(self.source, limit_markets=self.limit_markets)
        if self.start_ns is None and self.end_ns is None and self.markets is None:
            return ds
        return select_frames(ds, start_ns=self.start_ns, end_ns=self.end_ns, markets=self.markets)


_cached: tuple[DatasetSpec, Dataset] | None = None  # one per worker process


def dataset_for(spec: DatasetSpec) -> Dataset:
    """``spec.load()``, cached per process (one dataset at a time, to bound memory)."""
    global _cached
    if _cached is None or _cached[0] != spec:
        _cached = None
        _cached = (spec, spec.load())
    return _cached[1]


def warm_worker(spec: DatasetSpec) -> None:
    """Worker initializer: load the data once. A failure is left for the first task to raise
    again and report (an initializer's exception would break the whole pool instead)."""
    try:
        dataset_for(spec)
    except Exception:  # noqa: BLE001, S110
        pass
