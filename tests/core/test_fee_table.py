"""The dated fee table: the taker fee in force on a 15-minute crypto market by its window start,
and the margin arithmetic on top of it."""

from __future__ import annotations

import pytest

from clobflow.core.fee_table import (
    FEES_2026_01_06,
    FEES_2026_03_30,
    DatedFees,
    dated_schedule,
    family_of,
    schedule_in_force,
    utc_ns,
)
from clobflow.core.fees import taker_fee
from clobflow.core.markets import BinaryMarket, FeeSchedule, OutcomeToken
from clobflow.sim.datasets.btc15m import window_market
from clobflow.strategies.complete_set.pricing import fee_per_share, leg_ceiling, taker_limit

S = 1_000_000


def test_eras_of_the_15_minute_crypto_family():
    slug = "btc-updown-15m-1766745000"
    assert family_of(slug) == "crypto_updown_15m" and family_of("will-x-happen") is None
    assert dated_schedule(slug, utc_ns("2025-12-26")) is None
    assert dated_schedule(slug, utc_ns("2026-01-05T23:59")) is None
    assert dated_schedule(slug, utc_ns("2026-01-06")) == FEES_2026_01_06
    assert dated_schedule(slug, utc_ns("2026-03-29T23:59")) == FEES_2026_01_06
    assert dated_schedule(slug, utc_ns("2026-03-30")) == FEES_2026_03_30
    assert dated_schedule("will-x-happen", utc_ns("2026-06-01")) is None


def test_fee_arithmetic_by_date_on_100_shares_at_half():
    # no fee in Dec 2025; 0.25 × (0.25)² × 100 = 1.5625 from 2026-01-06 (the docs' "$1.56");
    # 0.07 × 0.25 × 100 = 1.75 from 2026-03-30
    at = {d: dated_schedule("eth-updown-15m-1", utc_ns(d)) for d in ("2025-12-26", "2026-02-01", "2026-05-01")}
    assert [taker_fee(100 * S, 500_000, s) for s in at.values()] == [0, 1_562_500, 1_750_000]
    # per share at 0.40: 0.25 × (0.24)² = 0.0144, 0.07 × 0.24 = 0.0168
    assert fee_per_share(400_000, at["2026-02-01"]) == 14_400
    assert fee_per_share(400_000, at["2026-05-01"]) == 16_800


def test_a_market_with_its_own_schedule_keeps_it_and_the_window_start_picks_the_era():
    own = FeeSchedule(rate=30_000)
    m = BinaryMarket("0x", "btc-updown-15m-1", "q", OutcomeToken("a", "Up"), OutcomeToken("b", "Down"), 10_000,
                     5 * S, fee_schedule=own)
    assert schedule_in_force(m, utc_ns("2025-01-01")) is own
    # the bundled windows (Dec 2025 / Jan 2026) predate fees; a window from Feb 2026 gets the 2nd era
    assert window_market(1_766_745_000).fee_schedule is None
    assert window_market(utc_ns("2026-02-01") // 10**9).fee_schedule == FEES_2026_01_06


def test_taker_limit_leaves_the_margin_after_the_fee():
    # pair: the Up leg cost 0.48; 2.5 % margin -> ceiling 0.495 -> 0.49 on a 0.01 tick
    ceiling = leg_ceiling(480_000, 25_000, 10_000)
    assert ceiling == 490_000
    assert taker_limit(ceiling, None, 10_000) == 490_000
    # with 0.07 × p(1−p): 0.48 + 0.07×0.2496 = 0.4975 > 0.49, 0.47 + 0.01746 = 0.4875 <= 0.49
    assert taker_limit(ceiling, FEES_2026_03_30, 10_000) == 470_000
    assert taker_limit(5_000, FEES_2026_03_30, 10_000) is None


def test_eras_must_be_sorted():
    with pytest.raises(ValueError):
        DatedFees("x", [(2, None), (1, None)])
