"""Dated taker-fee schedules: which fee a market family charged at a given time.

A market's own ``fee_schedule`` (from Gamma ``feeSchedule`` or the WS ``new_market`` message)
is the truth for that market and always wins. Recorded or imported markets from before the
venue published schedules carry none, so a backtest needs to know what was in force *then*;
a constant would price a December 2025 window with 2026 fees (or the reverse).

``FEE_HISTORY`` holds, per family, the eras as ``(start, schedule)``; ``None`` = no fee.
The 15-minute crypto up/down family (protocol.md §4.3):

=========================  ==============================================================
from (UTC)                 taker fee per share
=========================  ==============================================================
(launch)                   none
2026-01-06 00:00           ``0.25 × (p(1−p))²`` (docs change of 2026-01-06, "$1.56 on 100
                           shares at 0.50")
2026-03-30 00:00           ``0.07 × p(1−p)``, maker rebate 20 % (fees extended to most
                           markets; first reports 2026-03-31/04-01, fixtures from 2026-08/09
                           show ``rate 0.07, exponent 1``). The exact switch hour is not
                           documented: treat windows on 2026-03-30/31 as uncertain.
=========================  ==============================================================

A market's schedule is fixed when it is created (the venue stamps it on the market), so the
era is chosen by the market's window start (``start_ns``), falling back to the time asked.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from datetime import UTC, datetime

from clobflow.core.markets import BinaryMarket, FeeSchedule

_NS = 1_000_000_000


def utc_ns(text: str) -> int:
    """``YYYY-MM-DD[THH:MM]`` (UTC) -> epoch ns."""
    dt = datetime.fromisoformat(text).replace(tzinfo=UTC)
    return int(dt.timestamp()) * _NS


class DatedFees:
    """The eras of one market family, sorted by start time (epoch ns)."""

    __slots__ = ("family", "_starts", "_schedules")

    def __init__(self, family: str, eras: list[tuple[int, FeeSchedule | None]]) -> None:
        if not eras or sorted(s for s, _ in eras) != [s for s, _ in eras]:
            raise ValueError(f"{family}: eras must be non-empty and sorted by start")
        self.family = family
        self._starts = [s for s, _ in eras]
        self._schedules = [f for _, f in eras]

    def at(self, ts_ns: int) -> FeeSchedule | None:
        """The schedule in force at ``ts_ns`` (``None`` before the first era or when feeless)."""
        i = bisect_right(self._starts, ts_ns) - 1
        return self._schedules[i] if i >= 0 else None


CRYPTO_UPDOWN_15M = "crypto_updown_15m"
FEES_2026_01_06 = FeeSchedule(rate=250_000, exponent=2, taker_only=True, rebate_rate=0)
FEES_2026_03_30 = FeeSchedule(rate=70_000, exponent=1, taker_only=True, rebate_rate=200_000)

FEE_HISTORY: dict[str, DatedFees] = {
    CRYPTO_UPDOWN_15M: DatedFees(CRYPTO_UPDOWN_15M, [
        (0, None),
        (utc_ns("2026-01-06"), FEES_2026_01_06),
        (utc_ns("2026-03-30"), FEES_2026_03_30),
    ]),
}

_FAMILIES = ((re.compile(r"^[a-z]+-updown-15m-\d+$"), CRYPTO_UPDOWN_15M),)


def family_of(slug: str) -> str | None:
    """The fee family of a market slug (``btc-updown-15m-1766745000`` -> ``crypto_updown_15m``)."""
    for pattern, family in _FAMILIES:
        if pattern.match(slug):
            return family
    return None


def dated_schedule(slug: str, ts_ns: int) -> FeeSchedule | None:
    """The family's schedule at ``ts_ns``; ``None`` for an unknown family or a feeless era."""
    family = family_of(slug)
    return None if family is None else FEE_HISTORY[family].at(ts_ns)


def schedule_in_force(market: BinaryMarket, ts_ns: int) -> FeeSchedule | None:
    """The taker fee schedule that applies to ``market``: its own when it has one, else the
    dated table at its window start (or ``ts_ns`` when the start is unknown)."""
    if market.fee_schedule is not None:
        return market.fee_schedule
    return dated_schedule(market.slug, market.start_ns if market.start_ns is not None else ts_ns)
