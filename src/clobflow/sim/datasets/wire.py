"""Polymarket market-channel wire objects, written the way the venue writes them (protocol.md §1).

The simulator does not import ``clobflow.venues`` (house rule), so it builds wire JSON here:
plain ``dict``s whose key order follows the real captures, encoded compactly. Conventions:

- every number is a decimal **string** (``format_micros`` of integer micro-units);
- ``timestamp`` is epoch **milliseconds** as a string;
- book levels are ``bids`` ascending and ``asks`` descending: the best level is **last**;
- an empty side's ``best_bid``/``best_ask`` is ``"0"`` (the parser reads bid ``"0"`` and ask
  ``"0"``/``"1"`` as "no level").

``book_hash`` is the simulator's book hash: SHA-1 over the token id and its levels, so the same
book always has the same hash and a client can recompute it. It is not the venue's recipe
(verified in ``venues/polymarket/book_hash.py``; see data/CONVERSIONS.md), so simulated hashes
do not verify against that one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import msgspec

from clobflow.core.numbers import format_micros

Levels = Sequence[tuple[int, int]]
"""``[(price, size), ...]`` in integer micro-units, **best first**."""

_encode = msgspec.json.Encoder().encode


def encode(obj: object) -> str:
    """Compact JSON text of a wire object (key order preserved)."""
    return _encode(obj).decode()


def ms(ts_ns: int) -> str:
    """Epoch nanoseconds as the wire's millisecond string."""
    return str(ts_ns // 1_000_000)


def top_str(price: int | None) -> str:
    """A ``best_bid``/``best_ask`` value: the price, or ``"0"`` for an empty side."""
    return "0" if price is None else format_micros(price)


def book_hash(asset_id: str, bids: Iterable[tuple[int, int]], asks: Iterable[tuple[int, int]]) -> str:
    """SHA-1 hex of ``asset_id`` and its levels (each side best first, micro-units)."""
    text = (
        asset_id
        + "|b:"
        + ",".join(f"{p}:{s}" for p, s in bids)
        + "|a:"
        + ",".join(f"{p}:{s}" for p, s in asks)
    )
    return hashlib.sha1(text.encode()).hexdigest()


def wire_levels(levels: Levels) -> list[dict[str, str]]:
    """Best-first levels as the wire's list, **worst first** (best last), numbers as strings."""
    return [{"price": format_micros(p), "size": format_micros(s)} for p, s in reversed(levels)]


def book_event(
    market: str,
    asset_id: str,
    bids: Levels,
    asks: Levels,
    ts_ns: int,
    hash_: str,
    *,
    tick_size: int | None = 10_000,
    min_order_size: int | None = 5_000_000,
    neg_risk: bool | None = False,
    last_trade_price: int | None = None,
) -> dict:
    """A ``book`` event (protocol.md §1.4). ``bids``/``asks`` best first; optional fields are
    left out when ``None``."""
    ev: dict = {
        "market": market,
        "asset_id": asset_id,
        "timestamp": ms(ts_ns),
        "hash": hash_,
        "bids": wire_levels(bids),
        "asks": wire_levels(asks),
    }
    if tick_size is not None:
        ev["tick_size"] = format_micros(tick_size)
    if min_order_size is not None:
        ev["min_order_size"] = format_micros(min_order_size)
    if neg_risk is not None:
        ev["neg_risk"] = neg_risk
    ev["event_type"] = "book"
    if last_trade_price is not None:
        ev["last_trade_price"] = format_micros(last_trade_price)
    return ev


def change_entry(
    asset_id: str, side: str, price: str, size: str, hash_: str, best_bid: str, best_ask: str
) -> dict:
    """One ``price_changes[]`` entry, from wire strings: ``side`` is ``"BUY"`` (bids) or
    ``"SELL"`` (asks), ``size`` the new absolute size (``"0"`` deletes), ``best_bid``/``best_ask``
    the token's top after the whole frame (``top_str``)."""
    return {
        "asset_id": asset_id,
        "price": price,
        "size": size,
        "side": side,
        "hash": hash_,
        "best_bid": best_bid,
        "best_ask": best_ask,
    }


def price_change_event(market: str, entries: list[dict], ts_ns: int) -> dict:
    """A batched ``price_change`` event (protocol.md §1.5)."""
    return {
        "market": market,
        "price_changes": entries,
        "timestamp": ms(ts_ns),
        "event_type": "price_change",
    }


def tick_size_change_event(market: str, asset_id: str, old_tick: int, new_tick: int, ts_ns: int) -> dict:
    """A ``tick_size_change`` event, key order as the 2025-02 capture."""
    return {
        "asset_id": asset_id,
        "event_type": "tick_size_change",
        "market": market,
        "new_tick_size": format_micros(new_tick),
        "old_tick_size": format_micros(old_tick),
        "timestamp": ms(ts_ns),
    }


def new_market_event(
    *,
    market_id: str,
    question: str,
    condition_id: str,
    slug: str,
    description: str,
    asset_ids: Sequence[str],
    outcomes: Sequence[str],
    event_id: str,
    event_slug: str,
    event_title: str,
    tags: Sequence[str],
    tick_size: int,
    ts_ns: int,
    fees_enabled: bool = False,
    fee_schedule: dict | None = None,
) -> dict:
    """A ``new_market`` event shaped like ``new_market_2025-12.json`` plus the newer fee fields."""
    return {
        "event_type": "new_market",
        "id": market_id,
        "question": question,
        "market": condition_id,
        "slug": slug,
        "description": description,
        "assets_ids": list(asset_ids),
        "outcomes": list(outcomes),
        "event_message": {
            "id": event_id,
            "ticker": event_slug,
            "slug": event_slug,
            "title": event_title,
            "description": description,
        },
        "timestamp": ms(ts_ns),
        "tags": list(tags),
        "condition_id": condition_id,
        "active": True,
        "clob_token_ids": list(asset_ids),
        "sports_market_type": "",
        "line": "",
        "game_start_time": "",
        "order_price_min_tick_size": format_micros(tick_size),
        "group_item_title": "",
        "fees_enabled": fees_enabled,
        "fee_schedule": fee_schedule,
    }


def market_resolved_event(
    *,
    market_id: str,
    condition_id: str,
    asset_ids: Sequence[str],
    winning_asset_id: str,
    winning_outcome: str,
    tags: Sequence[str],
    ts_ns: int,
) -> dict:
    """A ``market_resolved`` event shaped like ``market_resolved.json``."""
    return {
        "event_type": "market_resolved",
        "id": market_id,
        "market": condition_id,
        "assets_ids": list(asset_ids),
        "winning_asset_id": winning_asset_id,
        "winning_outcome": winning_outcome,
        "timestamp": ms(ts_ns),
        "tags": list(tags),
    }
