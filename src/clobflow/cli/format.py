"""Small shared formatting helpers for the CLI (prices are micro-units) and its console."""

from __future__ import annotations

from rich.console import Console

from clobflow.core.numbers import format_micros


def px(v: int | None) -> str:
    """A price for display: ``0.513`` or ``-`` when absent."""
    return "-" if v is None else format_micros(v)


def qty(v: int | None) -> str:
    """A size for display with 2 decimals (venue share precision)."""
    return "-" if v is None else format_micros(v, 2)


def console() -> Console:
    """The CLI's Rich console. On a terminal it follows the terminal's width; otherwise (a pipe,
    a file, CI) Rich would assume 80 columns and wrap or elide report lines and tables, so lines
    are never wrapped and tables get room (wide tables keep every number)."""
    c = Console()
    if c.is_terminal:
        return c
    return Console(width=max(c.width, WIDE), soft_wrap=True)


WIDE = 240
