"""Shared pieces of the dataset converters: table names, exact numbers, times, venue ids.

- ``Rows``: what every converter yields, ``(table name, row Struct)`` pairs in a deterministic
  order (the registry batches them into a ``TableSink``).
- ``Micros``: decimal text -> integer micro-units. Exact when the text has at most 6 decimals;
  otherwise (float artefacts such as ``0.09999999999999998``, exponents such as ``9e-05``,
  averaged fill prices) rounded half-even to the nearest micro-unit. Never a float in between.
- Times: ``iso_ns`` (ISO-8601, naive = UTC), ``eastern_ns`` (naive US-Eastern wall time, the
  US DST rule since 2007, no tz database needed), ``S`` / ``MS`` scale factors.
- Ids: Polymarket ids derived exactly as the simulator derives them (``pm_token_id``,
  ``pm_condition_id`` re-exported from ``clobflow.sim.datasets.btc15m``, so rows line up with the
  sim's markets); Kalshi outcome ids ``kalshi_asset_id(ticker, "yes" | "no")``.
- ``yes_book_from_bids``: Kalshi's bids-only YES/NO ladders as one two-sided YES book.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

import msgspec

from clobflow.core.numbers import ONE, NumberFormatError, micros_from_number, parse_micros
from clobflow.sim.datasets.base import parse_iso_ns
from clobflow.sim.datasets.btc15m import condition_id as pm_condition_id
from clobflow.sim.datasets.btc15m import token_id as pm_token_id

__all__ = [
    "MS",
    "S",
    "SIZE_UNKNOWN",
    "SNAPSHOTS",
    "SPOT",
    "TRADES",
    "WINDOWS",
    "Micros",
    "Rows",
    "eastern_ns",
    "iso_ns",
    "kalshi_asset_id",
    "pm_condition_id",
    "pm_token_id",
    "yes_book_from_bids",
]

SNAPSHOTS = "orderbook_snapshots"
TRADES = "trades"
SPOT = "spot_prices"
WINDOWS = "market_windows"

Rows = Iterator[tuple[str, msgspec.Struct]]
"""A converter's output: ``(table name, row)`` pairs, deterministic order."""

S = 1_000_000_000
"""Nanoseconds per second."""
MS = 1_000_000
"""Nanoseconds per millisecond."""

SIZE_UNKNOWN = 0
"""Size written for a book level whose price was recorded but whose size was not (top-of-book
samples without sizes, Kalshi levels only known through signed deltas). Readers must treat a
0-size level in a *converted* snapshot as "size not recorded", never as liquidity."""


class Micros:
    """Decimal text (or a JSON number) -> micro-units.

    Exact for plain decimals with at most 6 fractional digits (``parse_micros``' fast path);
    anything else that is a finite number is rounded half-even to the nearest micro-unit
    (those slow-path results are memoised: float artefacts repeat).

    Raises:
        NumberFormatError: the text is not a finite number.
    """

    def __init__(self) -> None:
        self._memo: dict[object, int] = {}

    def __call__(self, value: str | float | int) -> int:
        if type(value) is str:
            try:
                return parse_micros(value)
            except NumberFormatError:
                pass
        v = self._memo.get(value)
        if v is None:
            v = self._convert(value)
            if len(self._memo) > 100_000:
                self._memo.clear()
            self._memo[value] = v
        return v

    @staticmethod
    def _convert(value: str | float | int) -> int:
        if not isinstance(value, str):
            return micros_from_number(value)
        try:
            return parse_micros(value)
        except NumberFormatError:
            try:
                d = Decimal(value.strip())
            except InvalidOperation:
                raise NumberFormatError(f"not a number: {value!r}") from None
            if not d.is_finite():
                raise NumberFormatError(f"not a finite number: {value!r}") from None
            return micros_from_number(d)


def iso_ns(text: str) -> int:
    """ISO-8601 date-time (``Z``/offset, or naive = UTC; ``T`` or space) -> epoch ns, exact."""
    return parse_iso_ns(text)


def _eastern_is_dst(local: datetime) -> bool:
    """US daylight time (since 2007) for a naive Eastern wall time: from the 2nd Sunday of
    March 02:00 to the 1st Sunday of November 02:00 (ambiguous hour read as standard time)."""
    y = local.year
    march1 = datetime(y, 3, 1)
    start = march1 + timedelta(days=(6 - march1.weekday()) % 7 + 7, hours=2)
    nov1 = datetime(y, 11, 1)
    end = nov1 + timedelta(days=(6 - nov1.weekday()) % 7, hours=1)
    return start <= local < end


def eastern_ns(local: datetime) -> int:
    """A naive US-Eastern wall time -> epoch ns (EST = UTC-5, EDT = UTC-4)."""
    offset_h = 4 if _eastern_is_dst(local) else 5
    return iso_ns((local + timedelta(hours=offset_h)).isoformat())


def kalshi_asset_id(ticker: str, side: str) -> str:
    """The id of one outcome of a Kalshi market: ``"<ticker>:yes"`` / ``"<ticker>:no"``.

    Kalshi has no token ids; a market's YES book is the book of ``<ticker>:yes``. Used for
    ``asset_id`` in book/trade rows and for ``yes_token``/``no_token``/``winner`` in windows.
    """
    if side not in ("yes", "no"):
        raise ValueError(f"Kalshi side must be 'yes' or 'no', not {side!r}")
    return f"{ticker}:{side}"


def yes_book_from_bids(
    yes_bids: Iterable[tuple[int, int]], no_bids: Iterable[tuple[int, int]]
) -> tuple[list[int], list[int], list[int], list[int]]:
    """Kalshi's two bids-only ladders as one two-sided YES book (protocol.md §5).

    A NO bid at ``p`` for ``n`` contracts is a YES ask at ``1 - p`` for ``n``: the YES asks are
    the NO bids mirrored, so the best YES ask is ``1 - best NO bid``. Inputs are
    ``(price, size)`` pairs in micro-units in any order; levels with size <= 0 are dropped.

    Returns:
        ``(bid_prices, bid_sizes, ask_prices, ask_sizes)``, each side best first (bids
        descending, asks ascending), ready for ``BookSnapshotRow``.
    """
    bids = sorted(((p, s) for p, s in yes_bids if s > 0), reverse=True)
    asks = sorted((ONE - p, s) for p, s in no_bids if s > 0)
    return [p for p, _ in bids], [s for _, s in bids], [p for p, _ in asks], [s for _, s in asks]
