"""Market discovery: which Polymarket markets to follow now, and what changed since last time.

Map:
- ``DiscoveryFilter``: frozen, validated (``ConfigError``) description of the wanted markets.
- ``updown_slugs``: pure slug arithmetic for the crypto up/down series.
- ``select``: pure client-side filter (time to close, active/closed/order book, tags, limit).
- ``Discovery.refresh``: query Gamma, filter again client-side, diff against the previous set.
- ``Discovery.run``: refresh loop with backoff on errors.
- ``venue_clock_offset_ns``: venue ``/time`` minus our clock, for a ``LiveClock(offset_ns)``
  that makes a simulator replaying old data "now" for discovery.

Why filter twice: Gamma's server filters are advisory. It keeps finished sports markets
``active``/not ``closed`` for hours (Polymarket/rs-clob-client#199), its ``active`` and
``tag_slug`` list filters are legacy/undocumented for ``/markets``, and a stale cache can
return a market whose window has already ended. The client decides.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import msgspec

from clobflow.core import ids
from clobflow.core.clock import Clock, s_to_ns
from clobflow.core.errors import ConfigError, Retryable, VenueRejected
from clobflow.core.markets import BinaryMarket
from clobflow.core.ports import InstrumentDiff
from clobflow.venues.polymarket.clob_rest import ClobRestClient
from clobflow.venues.polymarket.gamma import GammaClient, Skipped, ns_to_iso, parse_gamma_markets

# Window length of each up/down series (protocol.md §3.4): the slug suffix is the window START,
# aligned to the window length; endDate = start + length.
UPDOWN_PERIOD_S: Mapping[str, int] = {"5m": 300, "15m": 900}
_ASSET = re.compile(r"^[a-z0-9]+$")
_NS_PER_S = 1_000_000_000


@dataclass(frozen=True, slots=True)
class DiscoveryFilter:
    """What to follow. Every check is applied client-side by ``select``; Gamma only narrows.

    - ``slugs`` / ``token_ids``: explicit markets (queried by ``slug=`` / ``clob_token_ids=``);
      token ids may be venue-qualified (``POLYMARKET:<token>``), they are kept bare.
    - ``updown_assets`` x ``updown_intervals``: the current up/down window and
      ``updown_windows_ahead`` (0..96) following ones (``("btc",)``, ``("15m",)``, 1 -> 2
      markets). Intervals: ``"5m"``, ``"15m"`` (the unix-start slug series of protocol.md §3.4).
    - ``tags``: Gamma tag slugs (``"crypto"``); each runs a broad ``/markets`` query.
    - ``max_hours_to_close`` / ``min_minutes_to_close``: keep markets whose ``endDate`` is at
      most / at least that far ahead (a market without ``endDate`` fails ``max_hours_to_close``).
    - ``limit``: at most this many markets in the selected set (named ones first, then by
      nearest close), and at most this many rows fetched by a broad query.

    A broad query (``active``/``closed``/``end_date_*``, plus ``tag_slug`` per tag) runs when
    ``tags`` is given, or when no explicit selector (slugs, token ids, up/down) is.
    """

    slugs: tuple[str, ...] = ()
    token_ids: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    max_hours_to_close: float | None = None
    min_minutes_to_close: float | None = None
    active_only: bool = True
    exclude_closed: bool = True
    require_order_book: bool = True
    require_accepting_orders: bool = False
    updown_assets: tuple[str, ...] = ()
    updown_intervals: tuple[str, ...] = ("15m",)
    updown_windows_ahead: int = 1
    limit: int = 200

    def __post_init__(self) -> None:
        for name in ("slugs", "token_ids", "tags", "updown_assets", "updown_intervals"):
            value = getattr(self, name)
            if isinstance(value, str) or not isinstance(value, (tuple, list)):
                raise ConfigError(name, f"must be a list of strings, got {value!r}")
            if not all(isinstance(v, str) and v.strip() for v in value):
                raise ConfigError(name, f"must hold non-empty strings, got {value!r}")
            object.__setattr__(self, name, tuple(dict.fromkeys(value)))  # lists from TOML
        # token ids as the engine prints them (POLYMARKET:<token>) or bare: Gamma wants them bare
        object.__setattr__(self, "token_ids", tuple(dict.fromkeys(map(ids.raw, self.token_ids))))
        for a in self.updown_assets:
            if not _ASSET.match(a):
                raise ConfigError("updown_assets", f"{a!r} is not a lowercase code like 'btc'")
        for i in self.updown_intervals:
            if i not in UPDOWN_PERIOD_S:
                known = sorted(UPDOWN_PERIOD_S)
                raise ConfigError("updown_intervals", f"{i!r} is not one of {known}")
        if self.updown_assets and not self.updown_intervals:
            raise ConfigError("updown_intervals", "is empty while updown_assets is not")
        ahead = self.updown_windows_ahead
        if isinstance(ahead, bool) or not isinstance(ahead, int) or not 0 <= ahead <= 96:
            raise ConfigError("updown_windows_ahead", f"must be an integer in 0..96, got {ahead!r}")
        for name in ("max_hours_to_close", "min_minutes_to_close"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))
                                  or not math.isfinite(v) or v < 0):
                raise ConfigError(name, f"must be a finite number >= 0 or null, got {v!r}")
        if self.max_hours_to_close is not None and self.max_hours_to_close == 0:
            raise ConfigError("max_hours_to_close", "must be > 0 (use null for no bound)")
        if (self.max_hours_to_close is not None and self.min_minutes_to_close is not None
                and self.min_minutes_to_close >= self.max_hours_to_close * 60):
            raise ConfigError("min_minutes_to_close", "must be below max_hours_to_close")
        flags = ("active_only", "exclude_closed", "require_order_book", "require_accepting_orders")
        for name in flags:
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(name, f"must be true or false, got {getattr(self, name)!r}")
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 1:
            raise ConfigError("limit", f"must be an integer >= 1, got {self.limit!r}")

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any], *, prefix: str = "discovery") -> DiscoveryFilter:
        """Build from a config section; unknown keys are a ``ConfigError``."""
        known = {f.name for f in fields(cls)}
        for key in d:
            if key not in known:
                raise ConfigError(f"{prefix}.{key}", "unknown key")
        try:
            return cls(**d)
        except ConfigError as exc:
            raise ConfigError(f"{prefix}.{exc.key}", exc.message) from None

    @property
    def broad_query(self) -> bool:
        return bool(self.tags) or not (self.slugs or self.token_ids or self.updown_assets)


def updown_slugs(
    assets: Iterable[str], intervals: Iterable[str], now_s: int | float, ahead: int
) -> list[str]:
    """Slugs ``{asset}-updown-{interval}-{start}`` of the window containing ``now_s`` and the
    ``ahead`` next ones: ``start = floor(now / P) * P + k * P`` for ``k`` in ``0..ahead``.

    A ``now_s`` exactly on a boundary belongs to the window starting there. Ordered by asset,
    then interval, then window. Raises ``ValueError`` for an unknown interval or ``ahead < 0``.
    """
    if ahead < 0:
        raise ValueError("ahead must be >= 0")
    now = math.floor(now_s)
    out = []
    for asset in assets:
        for interval in intervals:
            period = UPDOWN_PERIOD_S.get(interval)
            if period is None:
                raise ValueError(f"unknown up/down interval {interval!r}")
            start = now // period * period
            out.extend(f"{asset}-updown-{interval}-{start + k * period}" for k in range(ahead + 1))
    return out


def _named(m: BinaryMarket, flt: DiscoveryFilter) -> bool:
    if m.slug in flt.slugs or m.yes.token_id in flt.token_ids or m.no.token_id in flt.token_ids:
        return True
    for asset in flt.updown_assets:
        for interval in flt.updown_intervals:
            prefix = f"{asset}-updown-{interval}-"
            if m.slug.startswith(prefix) and m.slug[len(prefix):].isdigit():
                return True
    return False


def select(
    markets: Iterable[BinaryMarket], flt: DiscoveryFilter, now_ns: int
) -> list[BinaryMarket]:
    """The markets that pass ``flt`` at ``now_ns`` (epoch ns), at most ``flt.limit`` of them.

    Always drops a market whose ``end_ns`` is at or before ``now_ns`` (its window is over).
    The tag filter applies only to markets that were not named explicitly (slug, token id or
    up/down series): naming a market is a stronger statement than its tags. Result order:
    named first, then by ``end_ns`` (unknown last), then slug; duplicates (same condition id)
    keep the first seen.
    """
    max_end = min_end = None
    if flt.max_hours_to_close is not None:
        max_end = now_ns + s_to_ns(flt.max_hours_to_close * 3600)
    if flt.min_minutes_to_close is not None:
        min_end = now_ns + s_to_ns(flt.min_minutes_to_close * 60)
    wanted_tags = set(flt.tags)
    seen: dict[str, tuple[bool, BinaryMarket]] = {}
    for m in markets:
        if m.condition_id in seen:
            continue
        if flt.active_only and not m.active:
            continue
        if flt.exclude_closed and m.closed:
            continue
        if flt.require_order_book and not m.enable_order_book:
            continue
        if flt.require_accepting_orders and not m.accepting_orders:
            continue
        if m.end_ns is not None:
            if m.end_ns <= now_ns or (min_end is not None and m.end_ns < min_end):
                continue
            if max_end is not None and m.end_ns > max_end:
                continue
        elif max_end is not None:
            continue
        named = _named(m, flt)
        if wanted_tags and not named and wanted_tags.isdisjoint(m.tags):
            continue
        seen[m.condition_id] = (named, m)
    ranked = sorted(seen.values(), key=lambda nm: (not nm[0], *_order_key(nm[1])))
    return [m for _, m in ranked[: flt.limit]]


DiscoveryDiff = InstrumentDiff
"""One refresh's outcome (the venue-neutral ``core.ports.InstrumentDiff``), keyed by condition id."""


OnDiff = Callable[[DiscoveryDiff], Awaitable[None] | None]


class Discovery:
    """Keeps the set of markets to follow. Not thread-safe; concurrent ``refresh`` calls are
    serialised by a lock (each diffs against the set the previous one adopted).

    ``clock`` gives "now" (pass an offset ``LiveClock`` to line up with a replaying simulator;
    see ``venue_clock_offset_ns``). Counters: ``refreshes``, ``errors`` (total),
    ``consecutive_errors``, ``last_error``.
    """

    def __init__(self, gamma: GammaClient, flt: DiscoveryFilter, clock: Clock) -> None:
        self.gamma = gamma
        self.filter = flt
        self.clock = clock
        self.current: dict[str, BinaryMarket] = {}
        self.refreshes = 0
        self.errors = 0
        self.consecutive_errors = 0
        self.last_error: Exception | None = None
        self._lock = asyncio.Lock()

    async def _fetch(self, now_ns: int, skipped: Skipped) -> list[BinaryMarket]:
        flt = self.filter
        found: list[BinaryMarket] = []
        slugs = list(flt.slugs)
        if flt.updown_assets:
            slugs += updown_slugs(flt.updown_assets, flt.updown_intervals, now_ns // _NS_PER_S,
                                  flt.updown_windows_ahead)
        if slugs:
            found += await self.gamma.markets_by_slugs(slugs, skipped=skipped)
        if flt.token_ids:
            found += await self.gamma.markets_by_token_ids(flt.token_ids, skipped=skipped)
        if flt.broad_query:
            params: dict[str, Any] = {}
            if flt.active_only:
                params["active"] = True
            if flt.exclude_closed:
                params["closed"] = False
            min_s = 0.0 if flt.min_minutes_to_close is None else flt.min_minutes_to_close * 60
            params["end_date_min"] = ns_to_iso(now_ns + s_to_ns(min_s))
            if flt.max_hours_to_close is not None:
                # Round the upper bound up a second so the server never cuts what we'd keep.
                max_end = now_ns + s_to_ns(flt.max_hours_to_close * 3600) + _NS_PER_S
                params["end_date_max"] = ns_to_iso(max_end)
            for tag in flt.tags or (None,):
                rows = await self.gamma.markets(max_count=flt.limit, tag_slug=tag, **params)
                markets, bad = parse_gamma_markets(rows)
                skipped.extend(bad)
                if tag is not None:
                    # Gamma's /markets omits `tags` unless asked (`include_tag`, not used here):
                    # a market with no tag information is credited with the tag it was found by.
                    markets = [
                        m if m.tags else msgspec.structs.replace(m, tags=(tag,)) for m in markets
                    ]
                found += markets
        return found

    async def refresh(self) -> DiscoveryDiff:
        """Query, filter, diff, and adopt the new set.

        Never raises ``Retryable``/``VenueRejected``: such a failure is returned in ``error``
        and the previous set is kept (only markets whose window has ended since are removed:
        the clock needs no server). Other exceptions are bugs and propagate.
        """
        async with self._lock:
            return await self._refresh()

    async def _refresh(self) -> DiscoveryDiff:
        now_ns = self.clock.now_ns()
        self.refreshes += 1
        skipped: Skipped = []
        error: Exception | None = None
        try:
            fetched = await self._fetch(now_ns, skipped)
        except (Retryable, VenueRejected) as exc:
            error = exc
            self.errors += 1
            self.consecutive_errors += 1
            self.last_error = exc
            fetched = list(self.current.values())
        else:
            self.consecutive_errors = 0
        new = {m.condition_id: m for m in select(fetched, self.filter, now_ns)}
        old = self.current
        key = _order_key
        added = sorted((m for c, m in new.items() if c not in old), key=key)
        removed = sorted((m for c, m in old.items() if c not in new), key=key)
        changed = sorted((m for c, m in new.items() if c in old and old[c] != m), key=key)
        self.current = new
        return DiscoveryDiff(added, removed, dict(new), changed, error, skipped)

    async def run(
        self,
        interval_s: float,
        on_diff: OnDiff,
        *,
        error_backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        iterations: int | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        """Refresh every ``interval_s`` seconds and call ``on_diff`` (sync or async) after the
        first refresh, after any refresh with changes, and after any failed refresh.

        After a failure the next attempt waits ``error_backoff_s * 2**(n-1)`` (capped at
        ``max_backoff_s``) for the n-th consecutive failure instead of ``interval_s``.
        Stops after ``iterations`` refreshes (``None``: until cancelled). Exceptions raised by
        ``on_diff`` propagate (a consumer bug must not be retried silently).
        """
        n = 0
        while iterations is None or n < iterations:
            n += 1
            diff = await self.refresh()
            if n == 1 or diff.has_changes or diff.error is not None:
                result = on_diff(diff)
                if inspect.isawaitable(result):
                    await result
            if iterations is not None and n >= iterations:
                break
            if diff.error is not None:
                delay = min(error_backoff_s * 2 ** (self.consecutive_errors - 1), max_backoff_s)
            else:
                delay = interval_s
            await sleep(delay)


def _order_key(m: BinaryMarket) -> tuple[int, str]:
    return (m.end_ns if m.end_ns is not None else 1 << 63, m.slug)


async def venue_clock_offset_ns(clob: ClobRestClient, clock: Clock) -> int:
    """Venue time minus ``clock`` time, in ns (add it to ``clock`` to get venue time).

    ``GET /time`` has whole-second resolution, so the venue's time lies in ``[t, t + 1 s)``; we
    take its middle and compare it with the middle of our request's round trip. Precision is
    about +-0.5 s plus half the round trip: fine for choosing windows, not for latency stats.

    Raises: ``HttpRetryable`` / ``HttpRejected`` from ``clob.server_time_s``.
    """
    t0 = clock.now_ns()
    venue_s = await clob.server_time_s()
    t1 = clock.now_ns()
    return venue_s * _NS_PER_S + _NS_PER_S // 2 - (t0 + t1) // 2
