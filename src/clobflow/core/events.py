"""Immutable market-data events: the only thing parsers produce and books consume.

Conventions (all events):
- prices and sizes are integer micro-units (see ``core.numbers``);
- ``ts_venue_ns`` is the venue's own timestamp, ``ts_recv_ns`` the local receive time, both integer
  nanoseconds since the epoch (0 when the venue sent none);
- ``market`` is the market identifier (Polymarket: the condition id), ``asset_id`` the outcome token.

Snapshot levels are ordered **best first** (bids descending, asks ascending), whatever order the
venue used on the wire.
"""

from __future__ import annotations

from enum import IntEnum

import msgspec


class Side(IntEnum):
    """Order or ladder side. ``BUY`` updates the bid ladder, ``SELL`` the ask ladder."""

    BUY = 0
    SELL = 1


BID = Side.BUY
ASK = Side.SELL

Levels = tuple[tuple[int, int], ...]
"""``((price, size), ...)`` best first."""


class Event(msgspec.Struct, frozen=True, gc=False):
    """Base of all market-data events."""


class BookSnapshot(Event, frozen=True, gc=False, tag="book"):
    """A full replacement of one token's book."""

    market: str
    asset_id: str
    bids: Levels
    asks: Levels
    hash: str
    ts_venue_ns: int
    ts_recv_ns: int
    tick_size: int | None = None
    min_order_size: int | None = None
    last_trade_price: int | None = None


class LevelChange(msgspec.Struct, frozen=True, gc=False):
    """One level of one token set to an absolute size (0 removes the level).

    ``best_bid``/``best_ask`` are the venue's top of book for ``asset_id`` after the change
    (``None`` when the venue sent none, or when that side is empty).
    """

    asset_id: str
    side: Side
    price: int
    size: int
    best_bid: int | None = None
    best_ask: int | None = None
    hash: str = ""


class PriceChange(Event, frozen=True, gc=False, tag="price_change"):
    """Level changes that the venue published together (usually both tokens of one market)."""

    market: str
    changes: tuple[LevelChange, ...]
    ts_venue_ns: int
    ts_recv_ns: int


class LevelDelta(Event, frozen=True, gc=False, tag="level_delta"):
    """One level of one token changed by a signed amount (Kalshi ``orderbook_delta``).

    ``delta`` is signed micro-units of size; a level never goes negative (a delta that would
    make it so is an integrity failure: the book waits for a fresh snapshot). ``seq`` is the
    venue's sequence number (0 when it sends none); gaps are the venue checker's business.
    """

    market: str
    asset_id: str
    side: Side
    price: int
    delta: int
    seq: int
    ts_venue_ns: int
    ts_recv_ns: int


class Trade(Event, frozen=True, gc=False, tag="trade"):
    """A public trade print. ``side`` is the taker's side; ``trade_id`` is derived if absent."""

    market: str
    asset_id: str
    price: int
    size: int
    side: Side
    trade_id: str
    ts_venue_ns: int
    ts_recv_ns: int
    fee_rate_bps: int | None = None
    transaction_hash: str = ""


class TickSizeChange(Event, frozen=True, gc=False, tag="tick_size_change"):
    """The token's tick changed: the local book must be dropped until a fresh snapshot."""

    market: str
    asset_id: str
    old_tick_size: int
    new_tick_size: int
    ts_venue_ns: int
    ts_recv_ns: int


class BestBidAsk(Event, frozen=True, gc=False, tag="best_bid_ask"):
    """The venue's own top of book for one token (``None``: side empty)."""

    market: str
    asset_id: str
    best_bid: int | None
    best_ask: int | None
    ts_venue_ns: int
    ts_recv_ns: int


class NewMarket(Event, frozen=True, gc=False, tag="new_market"):
    """A market was created. ``asset_ids`` pair index by index with ``outcomes``."""

    market: str
    market_id: str
    slug: str
    question: str
    asset_ids: tuple[str, ...]
    outcomes: tuple[str, ...]
    ts_venue_ns: int
    ts_recv_ns: int
    tick_size: int | None = None
    active: bool = True
    tags: tuple[str, ...] = ()


class MarketResolved(Event, frozen=True, gc=False, tag="market_resolved"):
    """A market resolved: ``winning_asset_id`` pays 1, every other token 0."""

    market: str
    market_id: str
    asset_ids: tuple[str, ...]
    winning_asset_id: str
    winning_outcome: str
    ts_venue_ns: int
    ts_recv_ns: int


class FeedStatus(Event, frozen=True, gc=False, tag="feed_status"):
    """Not a venue message: the feed's own news about a set of tokens.

    ``status`` is one of ``"reconnecting"`` (books must be distrusted until a new snapshot),
    ``"stalled"`` (no event within the stall window), ``"resubscribed"``, ``"unsubscribed"``.
    """

    asset_ids: tuple[str, ...]
    status: str
    reason: str
    ts_recv_ns: int


class WalletTrade(Event, frozen=True, gc=False, tag="wallet_trade"):
    """One trade of a watched wallet, as the chain (or a venue's activity feed) reported it.

    Venue-neutral: ``market``/``asset`` are the instrument ids the books use, ``outcome`` the
    outcome's label (``"Up"``, ``"Yes"``...), ``side`` the wallet's side, ``price``/``size``
    micro-units, ``notional`` collateral micro-units. ``tx_hash`` + ``log_index`` identify the
    trade on chain (a re-delivery carries the same pair).
    """

    market: str
    asset: str
    outcome: str
    wallet: str
    side: Side
    price: int
    size: int
    notional: int
    tx_hash: str
    log_index: int
    ts_venue_ns: int
    ts_recv_ns: int


class TimerFired(Event, frozen=True, gc=False, tag="timer"):
    """Not a venue message: the engine's periodic tick at ``ts_ns`` (engine time)."""

    ts_ns: int


MarketEvent = BookSnapshot | PriceChange | Trade | TickSizeChange | BestBidAsk | NewMarket | MarketResolved
