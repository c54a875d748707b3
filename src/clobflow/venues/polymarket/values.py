"""Polymarket wire values: timestamps, derived trade ids, and the valid range of each number.

Kept apart from ``parsing`` so the REST client can share the timestamp rule, and so every range
the parser enforces is written down in one place (protocol.md §1.3):

- a book level price lies strictly inside (0, 1): a level at 0 or 1 can never trade;
- a top of book (``best_bid``/``best_ask``) lies in [0, 1] on the wire, where 0 (and 1 for an
  ask) means "no level"; a real top lies strictly inside (0, 1);
- sizes are never negative (``"0"`` deletes a level) and below ``SIZE_MAX``;
- a tick size lies strictly inside (0, 1);
- a fee rate lies in [0, 10000] basis points;
- a venue timestamp is missing (0) or lies in [1970-01-01, 2100-01-01).
"""

from __future__ import annotations

import hashlib
from decimal import Decimal, InvalidOperation

from clobflow.core.numbers import ONE

TS_MIN_NS = 0
"""Epoch: a negative venue time is corrupt. (Simulated venues legitimately start near 0.)"""
TS_MAX_NS = 4_102_444_800 * 1_000_000_000
"""2100-01-01T00:00:00Z: a later venue time is a corrupt value, not the future."""
SIZE_MAX = 10**12 * ONE
"""A trillion shares: a larger size is a corrupt value (the biggest real levels hold millions)."""
FEE_BPS_MAX = 10_000
"""A fee rate above 100 % is not a fee."""

_S_VS_MS = 100_000_000_000  # below: seconds (before year 5138); at or above: milliseconds


class BadTimestamp(ValueError):
    """A venue timestamp that is not a number, not finite, or outside [1970, 2100)."""


def epoch_to_ns(value: object) -> int:
    """Epoch milliseconds (or seconds, recognised by magnitude) as a string or number -> ns.

    Returns 0 for an empty or missing value. Exact: decimal strings go through ``Decimal``, never
    through a float, so ``"1.5e400"`` is refused instead of overflowing.

    Raises:
        BadTimestamp: not a finite number, or outside [``TS_MIN_NS``, ``TS_MAX_NS``).
    """
    if value is None or value == "":
        return 0
    t = type(value)
    if t is int:
        v = value
    elif t is str and len(value) <= 20 and value.isascii() and value.isdigit():  # type: ignore[union-attr]
        v = int(value)  # type: ignore[arg-type]
    elif t is str or t is float:
        return _decimal_epoch_to_ns(value)
    else:
        raise BadTimestamp(f"not a timestamp: {value!r}")
    ns = v * 1_000_000_000 if v < _S_VS_MS else v * 1_000_000  # type: ignore[operator]
    if not TS_MIN_NS <= ns < TS_MAX_NS:
        raise BadTimestamp(f"timestamp out of range: {value!r}")
    return ns


def _decimal_epoch_to_ns(value: object) -> int:
    text = value if type(value) is str else repr(value)
    if len(text) > 40 or not text.isascii():  # type: ignore[arg-type]
        raise BadTimestamp(f"not a timestamp: {text[:40]!r}")  # type: ignore[index]
    try:
        d = Decimal(text)  # type: ignore[arg-type]
    except InvalidOperation:
        raise BadTimestamp(f"not a timestamp: {text!r}") from None
    if not d.is_finite() or not 0 <= d < 10**16:
        raise BadTimestamp(f"timestamp out of range: {text!r}")
    ns = int(d * 1_000_000_000) if d < _S_VS_MS else int(d * 1_000_000)
    if not TS_MIN_NS <= ns < TS_MAX_NS:
        raise BadTimestamp(f"timestamp out of range: {text!r}")
    return ns


def derive_trade_id(
    asset_id: str, side: str, price: str, size: str, timestamp: str, tx_hash: str = ""
) -> str:
    """Polymarket's public trade prints have no id: derive a stable one from their fields
    (NT does the same; the transaction hash, when present, separates equal prints)."""
    key = f"{asset_id}|{side}|{price}|{size}|{timestamp}|{tx_hash}"
    h = hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()
    return h[:24]


def level_price_ok(p: int) -> bool:
    """A book level or trade price: strictly inside (0, 1)."""
    return 0 < p < ONE


def top_ok(p: int | None) -> bool:
    """A venue best bid/ask after "no level" became ``None``: absent, or strictly inside (0, 1)."""
    return p is None or 0 < p < ONE


def tick_ok(t: int) -> bool:
    """A tick size: strictly inside (0, 1)."""
    return 0 < t < ONE
