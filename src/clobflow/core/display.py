"""The one way numbers are printed for people (report text, tables, log lines).

Every human-readable output goes through these helpers, so money, prices, sizes, counts and
ratios look the same everywhere: thousands separators, a fixed number of decimals, ``-`` for a
missing value, never a raw float or a micro-unit integer. Machine-readable outputs (JSON, CSV
columns documented as exact) keep exact values instead: integers in micro-units or
``core.numbers.format_micros`` decimal strings.

Inputs are micro-units (``int``, 1e-6) for money, prices and shares; rounding is half-even on
the exact ``Decimal`` (never through a float).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from clobflow.core.numbers import SCALE

__all__ = ["count", "money", "pct", "price", "ratio", "shares", "signed_money"]

DASH = "-"


def _dec(value: int, places: int) -> Decimal:
    return (Decimal(value) / SCALE).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def money(value: int | None, places: int = 2) -> str:
    """Dollars from micro-units: ``-1_234_567_890`` -> ``"-1,234.57"``."""
    return DASH if value is None else f"{_dec(value, places):,.{places}f}"


def signed_money(value: int | None, places: int = 2) -> str:
    """``money`` with an explicit ``+`` on gains (``"+1.84"``), for P&L columns."""
    if value is None:
        return DASH
    s = money(value, places)
    return s if s.startswith("-") or _dec(value, places) == 0 else "+" + s


def price(value: int | None, places: int = 4) -> str:
    """A price (or pair cost) from micro-units with ``places`` decimals: ``0.9719``."""
    return DASH if value is None else f"{_dec(value, places):,.{places}f}"


def shares(value: int | None, places: int = 2) -> str:
    """Shares from micro-shares, 2 decimals (the venue's share precision): ``8,069.00``."""
    return DASH if value is None else f"{_dec(value, places):,.{places}f}"


def count(value: int | None) -> str:
    """An integer count with separators: ``12,195``."""
    return DASH if value is None else f"{value:,}"


def pct(value: float | None, places: int = 1) -> str:
    """A fraction as a percentage: ``0.1538`` -> ``"15.4%"``."""
    return DASH if value is None else f"{value * 100:,.{places}f}%"


def ratio(value: float | None, places: int = 2) -> str:
    """A dimensionless ratio (Sharpe, profit factor): ``1.23``; ``inf`` stays ``inf``."""
    if value is None:
        return DASH
    if value == float("inf"):
        return "inf"
    return f"{value:,.{places}f}"
