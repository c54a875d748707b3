"""Polymarket taker fees (protocol.md §4.3), in exact integers.

``fee = C × rate × (p·(1−p))^exponent`` where ``C`` is the share count, charged to takers only,
floored to 5 decimals (10 micro-units); a positive fee is at least 0.00001. Verified against the
real V2 ``OrderFilled`` events in ``fixtures/polymarket/rest/chain_orderfilled_taker_fees_2026-09.json``.
"""

from __future__ import annotations

from clobflow.core.markets import FeeSchedule
from clobflow.core.numbers import ONE, SCALE

_FEE_QUANTUM = 10  # 0.00001 in micro-units
_PP_SCALE = SCALE * SCALE  # p·(1−p) computed on micro-unit prices carries 1e12


def taker_fee(size: int, price: int, schedule: FeeSchedule | None) -> int:
    """Taker fee in collateral micro-units for ``size`` shares at ``price`` (both micro-units).

    Returns 0 without a schedule or with a zero rate. Raises ``ValueError`` for a price outside
    ``[0, 1]`` or a negative size.
    """
    if schedule is None or schedule.rate == 0 or size == 0:
        return 0
    if not 0 <= price <= ONE or size < 0:
        raise ValueError(f"price {price} or size {size} out of range")
    e = schedule.exponent
    pp = price * (ONE - price)
    num = size * schedule.rate * pp**e
    den = SCALE * _PP_SCALE**e  # size·rate carry 1e6·1e6; the fee is wanted in 1e6
    fee = num // den
    fee -= fee % _FEE_QUANTUM
    if fee == 0 and num > 0:
        return _FEE_QUANTUM
    return fee


def fee_rate_bps(price: int, schedule: FeeSchedule | None) -> int:
    """The effective taker fee as basis points of notional at ``price`` (rounded down):
    ``rate × (p(1−p))^e / p``. Used by risk's fee-rate cap."""
    if schedule is None or schedule.rate == 0 or price <= 0:
        return 0
    e = schedule.exponent
    pp = price * (ONE - price)
    # fee per share / price, in bps: rate·pp^e / (SCALE·PP^e) / (price/SCALE) · 1e4
    return schedule.rate * pp**e * 10_000 // (_PP_SCALE**e * price)
