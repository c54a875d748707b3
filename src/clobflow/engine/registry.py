"""Venue adapters by name: the only engine module that imports venue packages, and only by name.

``ADAPTER_MODULES`` maps a venue name (as config and instrument ids spell it) to the module that
defines its ``ADAPTER`` (a ``core.ports.VenueAdapter``). Adding a venue is a package under
``venues/`` plus one line here. Modules are imported on first use, so a run loads only the
venues it names. ``register`` adds an adapter object directly (tests, plug-ins).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import partial

from clobflow.book.book_set import BookSet
from clobflow.book.integrity import IntegrityChecker
from clobflow.book.trust import TrustPolicy
from clobflow.core.errors import ConfigError
from clobflow.core.ports import VenueAdapter

ADAPTER_MODULES: dict[str, str] = {
    "polymarket": "clobflow.venues.polymarket.adapter",
    "binance": "clobflow.venues.binance.adapter",
}

_loaded: dict[str, VenueAdapter] = {}


def register(adapter: VenueAdapter) -> None:
    """Make ``adapter`` available under ``adapter.venue`` (replaces one of the same name)."""
    _loaded[adapter.venue] = adapter


def unregister(venue: str) -> None:
    _loaded.pop(venue, None)


def venues() -> list[str]:
    """Every venue name the registry can build."""
    return sorted(set(ADAPTER_MODULES) | set(_loaded))


def adapter(venue: str) -> VenueAdapter:
    """The adapter of ``venue``. Raises ``ConfigError`` (key ``venue``) for an unknown name."""
    a = _loaded.get(venue)
    if a is None:
        module = ADAPTER_MODULES.get(venue)
        if module is None:
            raise ConfigError("venue", f"unknown venue {venue!r} (one of {', '.join(venues())})")
        a = _loaded[venue] = importlib.import_module(module).ADAPTER
    return a


def book_set(venue: str, policy: TrustPolicy) -> BookSet:
    """Books for ``venue``'s events, with its integrity checker (venue-neutral rules if none)."""
    a = adapter(venue)
    return BookSet(policy, a.checker(policy) if a.checker is not None else None)


def parser(venue: str, channel: str) -> object:
    """A fresh parser for ``venue``'s recorded ``channel`` frames (``parse(frame, ts_recv_ns)``)
    whose events carry venue-qualified ids, as the live feed's do. Raises ``ConfigError`` if
    the venue has no parser for that channel."""
    factory = adapter(venue).parsers.get(channel)
    if factory is None:
        raise ConfigError("venue", f"venue {venue!r} has no parser for channel {channel!r}")
    return factory(venue)


def recorded_checkers() -> dict[str, Callable[[], IntegrityChecker]]:
    """``{venue: checker factory}`` for the venues with parsers: the recorder's books judge
    frames like the feed's (with the default trust policy)."""
    out: dict[str, Callable[[], IntegrityChecker]] = {}
    for v in venues():
        a = adapter(v)
        if a.parsers and a.checker is not None:
            out[v] = partial(a.checker, TrustPolicy())
    return out


def recorded_parsers() -> dict[tuple[str, str], type]:
    """``{(venue, channel): parser factory}`` over every venue: what the recorder derives tables
    with (called without arguments: bare ids beside the tables' venue column). Loads every
    adapter."""
    return {(v, ch): f for v in venues() for ch, f in adapter(v).parsers.items()}
