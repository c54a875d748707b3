"""Venue-qualified instrument ids: ``<VENUE>:<the venue's own id>``.

Inside the engine (books, kernel maps, journal, store, reports) every market and instrument id
carries its venue, so the same string on two venues never collides:

| venue | market | instrument |
|---|---|---|
| Polymarket | ``POLYMARKET:<condition id>`` | ``POLYMARKET:<token id>`` |
| Binance | ``BINANCE:<symbol>`` | ``BINANCE:<symbol>`` |
| Kalshi (later) | ``KALSHI:<ticker>`` | ``KALSHI:<ticker>`` |

Contract:
- The venue part is the registry's venue name upper-cased (``polymarket`` -> ``POLYMARKET``),
  letters, digits and ``_`` only; ``VENUE_SEP`` (``:``) ends it. The raw part is the venue's id
  untouched (it may itself contain ``:``; only the first separator counts).
- A *bare* id has no venue part: what venues send and what recorded data and the simulator
  hold. Venue adapters qualify ids on the way in and strip them on the way out (subscriptions,
  REST lookups); nothing else builds or slices ids by hand.
- ``qualify`` is idempotent: an id that already carries a venue is returned unchanged (so
  readers of old, bare data can qualify whatever they read).
- Ids are opaque everywhere else (simulated execution, risk, strategies): compare them, never
  parse them. For humans, print a slug or ``raw(iid)``.
"""

from __future__ import annotations

VENUE_SEP = ":"

_VENUE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def prefix(venue: str) -> str:
    """``"polymarket"`` -> ``"POLYMARKET:"`` (``""`` for an empty venue: ids stay bare)."""
    return f"{venue.upper()}{VENUE_SEP}" if venue else ""


def _venue_part(iid: str) -> int:
    """Index of the separator ending a venue part, or -1 when ``iid`` is bare."""
    i = iid.find(VENUE_SEP)
    if i <= 0:
        return -1
    head = iid[:i]
    return i if all(c in _VENUE_CHARS for c in head) else -1


def is_qualified(iid: str) -> bool:
    return _venue_part(iid) > 0


def qualify(venue: str, raw_id: str) -> str:
    """``qualify("polymarket", "123")`` -> ``"POLYMARKET:123"``; an already qualified id (of any
    venue) and the empty id are returned unchanged."""
    if not raw_id or _venue_part(raw_id) > 0:
        return raw_id
    return prefix(venue) + raw_id


def split(iid: str) -> tuple[str, str]:
    """``"POLYMARKET:123"`` -> ``("polymarket", "123")``; a bare id -> ``("", iid)``. The venue
    comes back as the registry spells it (lower case)."""
    i = _venue_part(iid)
    if i < 0:
        return "", iid
    return iid[:i].lower(), iid[i + 1 :]


def raw(iid: str) -> str:
    """The venue's own id: ``"POLYMARKET:123"`` -> ``"123"``; a bare id is returned unchanged."""
    i = _venue_part(iid)
    return iid if i < 0 else iid[i + 1 :]


class Qualifier:
    """``qualify`` for one venue with a bounded memo, for parsers' hot paths: the same few
    thousand ids arrive millions of times, and a dict lookup returns the *same* string object
    instead of building a new one per event. With an empty venue it returns ids unchanged.

    ``table`` is exposed so a hot loop can look up inline (``table.get(x) or q(x)``).
    """

    __slots__ = ("prefix", "table", "limit")

    def __init__(self, venue: str = "", limit: int = 50_000) -> None:
        self.prefix = prefix(venue)
        self.table: dict[str, str] = {}
        self.limit = limit

    def __call__(self, raw_id: str) -> str:
        q = self.table.get(raw_id)
        if q is None:
            q = self.prefix + raw_id if self.prefix and raw_id else raw_id
            if len(self.table) >= self.limit:
                self.table.clear()  # bounded: a flood of new ids never grows it
            self.table[raw_id] = q
        return q

    def many(self, raw_ids: object) -> tuple[str, ...]:
        return tuple(self(r) for r in raw_ids)  # type: ignore[attr-defined]
