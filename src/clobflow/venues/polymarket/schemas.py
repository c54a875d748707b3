"""Wire Structs for the Polymarket market channel (protocol.md §1).

They mirror the JSON as sent: every number is a string, optional fields default, unknown fields
are ignored (msgspec's default). The tag ``event_type`` may be anywhere in the object.
Legacy spellings are accepted: ``buys``/``sells`` for ``bids``/``asks``; the single-asset
``price_change`` with top-level ``asset_id``/``price``/``side``/``size``; and the older
``changes[]`` form.
"""

from __future__ import annotations

from typing import Union

import msgspec

Num = Union[str, int, float]  # venues promise strings; tolerate a bare JSON number


class WLevel(msgspec.Struct, gc=False):
    price: Num
    size: Num


class WBook(msgspec.Struct, tag_field="event_type", tag="book", gc=False):
    asset_id: str
    market: str = ""
    timestamp: Num = ""
    hash: str = ""
    bids: list[WLevel] | None = None
    asks: list[WLevel] | None = None
    buys: list[WLevel] | None = None
    sells: list[WLevel] | None = None
    tick_size: Num | None = None
    min_order_size: Num | None = None
    last_trade_price: Num | None = None


class WChange(msgspec.Struct, gc=False):
    price: Num
    size: Num
    side: str
    asset_id: str = ""
    hash: str = ""
    best_bid: Num | None = None
    best_ask: Num | None = None


class WPriceChange(msgspec.Struct, tag_field="event_type", tag="price_change", gc=False):
    market: str = ""
    timestamp: Num = ""
    price_changes: list[WChange] | None = None
    # legacy single-asset form (before Sep 2025)
    asset_id: str | None = None
    price: Num | None = None
    size: Num | None = None
    side: str | None = None
    hash: str = ""
    # oldest form: {"asset_id", "changes": [{"price","side","size"}]}
    changes: list[WChange] | None = None


class WLastTrade(msgspec.Struct, tag_field="event_type", tag="last_trade_price", gc=False):
    asset_id: str
    price: Num
    size: Num
    side: str
    market: str = ""
    timestamp: Num = ""
    fee_rate_bps: Num | None = None
    transaction_hash: str = ""


class WTickSizeChange(msgspec.Struct, tag_field="event_type", tag="tick_size_change", gc=False):
    asset_id: str
    new_tick_size: Num
    old_tick_size: Num = "0"
    market: str = ""
    timestamp: Num = ""


class WBestBidAsk(msgspec.Struct, tag_field="event_type", tag="best_bid_ask", gc=False):
    asset_id: str
    best_bid: Num | None = None
    best_ask: Num | None = None
    market: str = ""
    spread: Num | None = None
    timestamp: Num = ""


class WNewMarket(msgspec.Struct, tag_field="event_type", tag="new_market", gc=False):
    market: str = ""
    id: str = ""
    slug: str = ""
    question: str = ""
    assets_ids: list[str] | None = None
    clob_token_ids: list[str] | None = None
    outcomes: list[str] | None = None
    order_price_min_tick_size: Num | None = None
    active: bool = True
    tags: list[str] | None = None
    timestamp: Num = ""


class WMarketResolved(msgspec.Struct, tag_field="event_type", tag="market_resolved", gc=False):
    market: str = ""
    id: str = ""
    assets_ids: list[str] | None = None
    winning_asset_id: str = ""
    winning_outcome: str = ""
    timestamp: Num = ""


WireEvent = Union[
    WBook, WPriceChange, WLastTrade, WTickSizeChange, WBestBidAsk, WNewMarket, WMarketResolved
]
WireFrame = Union[list[WireEvent], WireEvent]

KNOWN_EVENT_TYPES = frozenset(
    {"book", "price_change", "last_trade_price", "tick_size_change", "best_bid_ask",
     "new_market", "market_resolved"}
)


class WAny(msgspec.Struct, gc=False):
    """Just enough to classify an event that failed typed decoding."""

    event_type: str | None = None
