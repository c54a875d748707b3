"""The venue ports: what the engine needs from a venue adapter, with no venue in sight.

A venue package (``venues/<name>/``) is an adapter with four faces (NautilusTrader's split):

| face | port | what it does |
|---|---|---|
| market data | ``MarketDataClient`` | subscribes instruments; every frame's normalised events go to one callback, synchronously |
| integrity | ``book.integrity.IntegrityChecker`` | sans-I/O: judges applied events against the venue's own checks (trust, resync) |
| instruments | ``InstrumentProvider`` | discovery: which markets to follow now, as diffs; looks up markets by id |
| execution | ``execution.client.ExecutionClient`` | where orders go (simulated, shadow, later the venue) |

``VenueAdapter`` bundles the factories of one venue; ``engine/registry.py`` maps a venue name
from config to it. The ports are structural (``typing.Protocol``): an adapter implements them
without importing anything from ``engine/``.

Contracts shared by every market-data client:
- ``on_events(events, conn_id)`` is called from the client's reader with the events of one
  frame, in order, with no ``await`` between the frame arriving and the call; ``FeedStatus``
  events (reconnecting, stalled, unsubscribed) arrive through the same callback.
- ``on_raw(text, ts_recv_ns, conn_id)``, when given, sees every frame untouched before parsing.
- Instrument ids in and out are venue-qualified (``core.ids``: ``POLYMARKET:<token id>``): the
  client qualifies what it parses and strips what it sends; so does the instrument provider.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from clobflow.core.clock import Clock
from clobflow.core.markets import BinaryMarket

if TYPE_CHECKING:
    from clobflow.book.integrity import IntegrityChecker
    from clobflow.book.trust import TrustPolicy
    from clobflow.execution.client import ExecutionClient

OnEvents = Callable[[list, int], None]
"""``(events of one frame, connection id)``: called synchronously by the market-data client."""
OnRaw = Callable[[str, int, int], None]
"""``(frame text, ts_recv_ns, connection id)``: every frame, untouched, before parsing."""


class FeedStartError(Exception):
    """A feed could not start (endpoint unreachable, nothing to follow); one-line message."""


@dataclass(frozen=True, slots=True)
class InstrumentDiff:
    """One discovery refresh. ``current`` maps market id -> market (the set to follow now).

    ``changed``: markets in both sets whose metadata changed (tick, accepting orders, ...).
    ``error``: the ``Retryable``/``VenueRejected`` that made this refresh fail, else ``None``;
    on error ``current`` is the previous set minus markets whose window ended meanwhile.
    ``skipped``: ``(name or id, reason)`` for venue rows that could not be parsed.
    """

    added: list[BinaryMarket]
    removed: list[BinaryMarket]
    current: dict[str, BinaryMarket]
    changed: list[BinaryMarket] = field(default_factory=list)
    error: Exception | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        return bool(self.added or self.removed or self.changed)


@dataclass(frozen=True)
class MarketFilter:
    """Venue-neutral market selection a run asks for (the union of its strategies' filters)."""

    tags: tuple[str, ...] = ()
    max_hours_to_close: float | None = None
    min_minutes_to_close: float | None = None
    limit: int = 200


@dataclass(frozen=True)
class StreamSettings:
    """Venue-neutral connection settings (the config's ``feed`` section). Units in names."""

    max_assets_per_conn: int = 200
    stall_after_s: float = 60.0
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0


@runtime_checkable
class MarketDataClient(Protocol):
    """A venue's market-data stream (see the module docstring for the callback contract)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def subscribe(self, instrument_ids: Iterable[str]) -> int:
        """Start streaming these instruments (already subscribed ones are skipped); returns
        how many were new."""
        ...

    async def unsubscribe(self, instrument_ids: Iterable[str]) -> int:
        """Stop streaming these instruments; a ``FeedStatus("unsubscribed")`` follows."""
        ...

    async def resnapshot(self, instrument_ids: Iterable[str]) -> int:
        """Ask the venue for fresh snapshots of these instruments (the integrity checker
        asked for a resync); venues without snapshots may reconnect instead."""
        ...

    def stats(self) -> dict: ...


@runtime_checkable
class InstrumentProvider(Protocol):
    """A venue's discovery: the markets to follow, refreshed on a timer by the feed.

    ``venue_clock`` is the venue's clock (local time plus a measured offset; a replaying
    simulator's clock is in the past): it decides which windows are current.
    """

    venue_clock: Clock
    source: str
    """Where discovery reads from, for messages (e.g. the Gamma URL)."""

    async def start(self) -> None:
        """Prepare (e.g. measure the venue clock). Raises ``FeedStartError``."""
        ...

    async def refresh(self) -> InstrumentDiff:
        """Re-discover; never raises for venue errors (they are the diff's ``error``)."""
        ...

    async def lookup(self, instrument_ids: Iterable[str]) -> list[tuple[BinaryMarket, str | None]]:
        """Markets holding these instruments, open or closed, with the winning instrument id
        of those that resolved (``None`` if open). Raises ``Retryable``/``VenueRejected``."""
        ...

    async def aclose(self) -> None: ...

    def stats(self) -> dict: ...


@dataclass(frozen=True)
class VenueAdapter:
    """The factories of one venue. ``venue`` is its name in config and in instrument ids.

    - ``feed_config(...)``: the venue's own feed configuration (it carries ``venue``). A venue
      with discovery takes venue-neutral settings: ``(urls, filter, stream, trust,
      refresh_interval_s[, timer_interval_s])``, ``urls`` possibly empty (production endpoints);
      Binance takes its own keywords (``url``, ``symbols``).
    - ``market_data(feed_config, on_events, on_raw, clock)``: a ``MarketDataClient``.
    - ``instruments(feed_config, clock)``: an ``InstrumentProvider`` (``None``: the venue has
      no discovery; the feed follows what it is told).
    - ``checker(policy)``: the venue's ``IntegrityChecker`` (``None``: venue-neutral rules only).
    - ``parsers``: ``{channel: parser factory}`` for recorded frames (backtest, recorder tables);
      a parser has ``parse(frame, ts_recv_ns) -> list[Event]``. ``factory()`` keeps the venue's
      bare ids (the recorder's tables have a venue column); ``factory(venue)`` qualifies them
      (backtests: ids as the live feed names them).
    - ``execution(...)``: the venue's own ``ExecutionClient`` (``None``: runs use the simulated
      and shadow clients, ``engine.modes``; the signed venue clients come with live trading).
    """

    venue: str
    market_data: Callable[..., MarketDataClient]
    feed_config: Callable[..., Any] | None = None
    instruments: Callable[..., InstrumentProvider] | None = None
    checker: Callable[[TrustPolicy], IntegrityChecker] | None = None
    parsers: Mapping[str, Callable[[], Any]] = field(default_factory=dict)
    execution: Callable[..., ExecutionClient] | None = None
