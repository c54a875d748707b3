"""Markets and instruments.

A Polymarket binary market is two outcome tokens (YES/NO, or Up/Down) of one condition. The
``tick_size`` here is the one known when the market was loaded; the live tick is an event
(``TickSizeChange``) and is tracked by the book.
"""

from __future__ import annotations

import msgspec

from clobflow.core import ids
from clobflow.core.numbers import ONE


class FeeSchedule(msgspec.Struct, frozen=True):
    """Taker fee ``fee = shares × rate × (p·(1−p))^exponent`` (protocol.md §4.3).

    ``rate`` and ``rebate_rate`` are in micro-units (0.07 -> 70_000). Makers pay nothing when
    ``taker_only``.
    """

    rate: int
    exponent: int = 1
    taker_only: bool = True
    rebate_rate: int = 0


class OutcomeToken(msgspec.Struct, frozen=True):
    token_id: str
    outcome: str


class BinaryMarket(msgspec.Struct, frozen=True):
    """One binary market: two outcome tokens, their trading rules and their window.

    Units: ``tick_size`` is a price in micro-units (0.01 -> 10_000); ``min_order_size`` is a share
    count in micro-units (5 shares -> 5_000_000); ``start_ns``/``end_ns`` are epoch nanoseconds
    (``None`` when unknown).
    """

    condition_id: str
    slug: str
    question: str
    yes: OutcomeToken
    no: OutcomeToken
    tick_size: int
    min_order_size: int
    neg_risk: bool = False
    fee_schedule: FeeSchedule | None = None
    start_ns: int | None = None
    end_ns: int | None = None
    market_id: str = ""
    event_slug: str = ""
    active: bool = True
    closed: bool = False
    accepting_orders: bool = True
    enable_order_book: bool = True
    tags: tuple[str, ...] = ()
    neg_risk_augmented: bool = False  # a neg-risk event whose "other" outcome is not listed
    venue: str = ""  # the registry's venue name; "" while ids are the venue's own (bare)

    def qualified(self, venue: str) -> BinaryMarket:
        """This market with venue-qualified condition and token ids (``core.ids``) and ``venue``
        set; ids already qualified stay as they are (idempotent). ``market_id`` (the venue's
        internal numeric id) stays the venue's own."""
        if self.venue == venue and ids.is_qualified(self.condition_id):
            return self
        return msgspec.structs.replace(
            self, venue=venue, condition_id=ids.qualify(venue, self.condition_id),
            yes=OutcomeToken(ids.qualify(venue, self.yes.token_id), self.yes.outcome),
            no=OutcomeToken(ids.qualify(venue, self.no.token_id), self.no.outcome))

    def bare(self) -> BinaryMarket:
        """This market as the venue, recorded data and the simulator hold it: the venue's own
        ids and no ``venue`` (the inverse of ``qualified``)."""
        if not self.venue and not ids.is_qualified(self.condition_id):
            return self
        return msgspec.structs.replace(
            self, venue="", condition_id=ids.raw(self.condition_id),
            yes=OutcomeToken(ids.raw(self.yes.token_id), self.yes.outcome),
            no=OutcomeToken(ids.raw(self.no.token_id), self.no.outcome))

    @property
    def token_ids(self) -> tuple[str, str]:
        return (self.yes.token_id, self.no.token_id)

    def other(self, token_id: str) -> str:
        """The complementary token of ``token_id``. Raises ``KeyError`` for a foreign token."""
        if token_id == self.yes.token_id:
            return self.no.token_id
        if token_id == self.no.token_id:
            return self.yes.token_id
        raise KeyError(token_id)

    def outcome_of(self, token_id: str) -> str:
        if token_id == self.yes.token_id:
            return self.yes.outcome
        if token_id == self.no.token_id:
            return self.no.outcome
        raise KeyError(token_id)

    def seconds_to_close(self, now_ns: int) -> float | None:
        """Seconds until ``end_ns`` (negative once closed); ``None`` if the end is unknown."""
        if self.end_ns is None:
            return None
        return (self.end_ns - now_ns) / 1e9

    def on_tick(self, price: int) -> bool:
        """Whether ``price`` lies on this market's tick grid within ``[tick, 1 - tick]``."""
        return self.tick_size <= price <= ONE - self.tick_size and price % self.tick_size == 0
