"""Polymarket's order-book ``hash``: the SHA-1 the venue puts on every ``book`` message, every
``GET /book`` response and every ``price_change`` entry. Pure functions, no I/O.

Source of the recipe: ``generate_orderbook_summary_hash`` in Polymarket's own SDKs
(``Polymarket/py-clob-client`` ``py_clob_client/utilities.py`` since "fix: orderbook hash" #232,
2026-01-07, and ``Polymarket/py-clob-client-v2`` ``py_clob_client_v2/utilities.py``): SHA-1 of the
compact JSON (``,`` and ``:`` separators, no spaces) of the summary in the server's Go struct
order, with ``hash`` set to ``""`` while hashing::

    {"market","asset_id","timestamp","hash":"","bids":[{"price","size"}..],"asks":[..],
     "min_order_size","tick_size","neg_risk","last_trade_price"}

Verified here (docs/book_hash.md has every attempt; tests/venues/polymarket/test_book_hash.py
holds the goldens): it reproduces all three real 2026 ``book`` captures and, replaying the real
burst capture, **every** ``price_change`` hash of both tokens (98 of 98 entries).

Facts the verification established (they are not in the SDKs' docs):

- Levels in wire order: bids ascending, asks descending (best level last) — ``L2Book`` order.
  Prices and sizes are the venue's minimal decimal strings (all 1,052 in the captures are).
- A ``price_change`` entry's hash is this function of the token's book *after* the change, with
  the message's ``timestamp``. The entries of one match (a fill published as several messages
  with one timestamp) all carry the hash of the book after the **whole** match, and their
  ``last_trade_price`` is the fill's price.
- ``min_order_size``, ``neg_risk`` (and after the first snapshot ``tick_size`` and
  ``last_trade_price``) are hashed but not sent on the market channel: a verifier must know them
  from the market's metadata (``GET /book`` has them all).
- In the burst capture the *complement* token's hashes use the same ``last_trade_price`` string
  as the first token's (``"0.255"``, then ``"0.301"``), not ``1 - p``.
- ``last_trade_price`` keeps the venue's string (``"0.920"`` with a 0.01 tick): micro-units lose
  the trailing zero, so ``last_trade_price_forms`` gives both spellings to try.
- Before the fields were added (2024 captures) the hash covered only
  ``{"market","asset_id","hash":"","bids","asks"}``: ``summary_hash_2024``. Between the two, a
  form without ``last_trade_price`` existed (late 2025, per third-party clients); no capture of
  it is at hand, so it is not implemented.
- Polymarket users report (py-clob-client-v2 issue #117) that a WS ``book`` hash sometimes uses a
  ``last_trade_price`` received *after* the book: a mismatch is evidence, not proof, of a wrong
  local book.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import NamedTuple

from clobflow.core.events import BookSnapshot
from clobflow.core.numbers import format_micros

# Compact separators, like Go's encoding/json and the SDKs' json.dumps(separators=(",", ":")).
_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _levels(levels: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"price": p, "size": s} for p, s in levels]


def summary_hash(
    market: str,
    asset_id: str,
    timestamp: str,
    bids: Iterable[tuple[str, str]],
    asks: Iterable[tuple[str, str]],
    min_order_size: str,
    tick_size: str,
    neg_risk: bool,
    last_trade_price: str,
) -> str:
    """The venue's hash of a book summary, from wire strings.

    ``bids`` ascending and ``asks`` descending (wire order), as ``(price, size)`` strings;
    ``timestamp`` in epoch milliseconds as the venue writes it. Returns 40 hex digits.
    """
    payload = {
        "market": market,
        "asset_id": asset_id,
        "timestamp": timestamp,
        "hash": "",
        "bids": _levels(bids),
        "asks": _levels(asks),
        "min_order_size": min_order_size,
        "tick_size": tick_size,
        "neg_risk": neg_risk,
        "last_trade_price": last_trade_price,
    }
    return hashlib.sha1(_ENCODE(payload).encode("utf-8")).hexdigest()


def summary_hash_2024(
    market: str, asset_id: str, bids: Iterable[tuple[str, str]], asks: Iterable[tuple[str, str]]
) -> str:
    """The hash as the venue computed it in 2024 (no timestamp, no market metadata): it
    reproduces the 2024 ``book`` and ``GET /book`` captures. Kept to read old recordings."""
    payload = {"market": market, "asset_id": asset_id, "hash": "", "bids": _levels(bids),
               "asks": _levels(asks)}
    return hashlib.sha1(_ENCODE(payload).encode("utf-8")).hexdigest()


def wire_levels(levels: Iterable[tuple[int, int]]) -> list[tuple[str, str]]:
    """Micro-unit ``(price, size)`` levels as the venue's strings, order kept."""
    return [(format_micros(p), format_micros(s)) for p, s in levels]


def last_trade_price_forms(price: int | None) -> tuple[str, ...]:
    """The spellings of a last trade price to try: the minimal decimal, then three decimals
    (every ``last_trade_price`` observed so far has three: ``"0.920"``, ``"0.255"``, ``"0.301"``).
    ``None`` (no trade known) hashes as ``""``, as in the SDKs' test vectors."""
    if price is None:
        return ("",)
    minimal = format_micros(price)
    fixed = format_micros(price, 3)
    return (minimal,) if fixed == minimal else (minimal, fixed)


class BookMeta(NamedTuple):
    """The hashed inputs of a token's book that are not its levels and timestamp. Only the
    first snapshot after subscribing carries ``tick_size`` and ``last_trade_price``; the
    market channel never carries ``min_order_size`` or ``neg_risk`` (market metadata has them)."""

    market: str
    min_order_size: int
    tick_size: int
    neg_risk: bool
    last_trade_price: str


def book_hash(
    asset_id: str,
    ts_ms: int,
    bids_best_first: Iterable[tuple[int, int]],
    asks_best_first: Iterable[tuple[int, int]],
    meta: BookMeta,
) -> str:
    """``summary_hash`` of a local book held in micro-units, levels given best first (as
    ``L2Book.levels`` and ``BookSnapshot`` hold them)."""
    return summary_hash(
        meta.market,
        asset_id,
        str(ts_ms),
        wire_levels(reversed(list(bids_best_first))),
        wire_levels(reversed(list(asks_best_first))),
        format_micros(meta.min_order_size),
        format_micros(meta.tick_size),
        meta.neg_risk,
        meta.last_trade_price,
    )


def verify_snapshot(
    ev: BookSnapshot,
    min_order_size: int | None,
    neg_risk: bool | None,
    tick_size: int | None = None,
    last_trade_price: int | None = None,
) -> bool | None:
    """Does the snapshot's ``hash`` match its own content? ``None`` when it cannot be judged:
    no hash, or a hashed input unknown. The event's own ``min_order_size``/``tick_size``/
    ``last_trade_price`` win; the arguments fill what the market channel leaves out (market
    metadata, the last ``tick_size_change``, the last trade's price). Tries both spellings of
    the last trade price (``last_trade_price_forms``); a SHA-1 cannot match by accident."""
    mos = ev.min_order_size if ev.min_order_size is not None else min_order_size
    tick = ev.tick_size if ev.tick_size is not None else tick_size
    ltp = ev.last_trade_price if ev.last_trade_price is not None else last_trade_price
    if not ev.hash or mos is None or neg_risk is None or tick is None or ltp is None:
        return None
    ts_ms = ev.ts_venue_ns // 1_000_000
    return any(
        book_hash(ev.asset_id, ts_ms, ev.bids, ev.asks, BookMeta(ev.market, mos, tick, neg_risk, form))
        == ev.hash
        for form in last_trade_price_forms(ltp)
    )
