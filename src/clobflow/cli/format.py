"""Small shared formatting helpers for the CLI (prices are micro-units)."""

from __future__ import annotations

from clobflow.core.numbers import format_micros


def px(v: int | None) -> str:
    """A price for display: ``0.513`` or ``-`` when absent."""
    return "-" if v is None else format_micros(v)


def qty(v: int | None) -> str:
    """A size for display with 2 decimals (venue share precision)."""
    return "-" if v is None else format_micros(v, 2)
