"""Latency, fee and queue models of the simulated execution."""

from __future__ import annotations

import pytest

from clobflow.core.events import Side
from clobflow.core.fees import taker_fee
from clobflow.core.markets import FeeSchedule
from clobflow.core.orders import Liquidity
from clobflow.sim.exec_models import (
    FeeModel,
    LatencyModel,
    crosses,
    level_may_have_traded,
    queue_after_cancels,
    queue_after_trade,
    strictly_through,
)
from tests.execution.helpers import S, real_market


def test_fixed_latency_without_jitter():
    lat = LatencyModel(submit_ns=30, ack_ns=7)
    assert (lat.arrival_ns(100), lat.cancel_arrival_ns(100), lat.report_ns(100)) == (130, 130, 107)
    assert LatencyModel(30, 7, cancel_ns=3).cancel_arrival_ns(100) == 103


def test_jitter_is_seeded_bounded_and_reproducible():
    def draws(seed):
        lat = LatencyModel(submit_ns=1_000, ack_ns=0, jitter_ns=500, seed=seed)
        return [lat.arrival_ns(0) - 1_000 for _ in range(200)]

    a = draws(42)
    assert a == draws(42) and a != draws(43)
    assert min(a) >= 0 and max(a) <= 500 and len(set(a)) > 100
    # splitmix64's first output for seed 0 (a reference value), reduced to [0, 500]
    assert draws(0)[0] == 0xE220A8397B1DCDAF % 501


def test_negative_latency_is_refused():
    with pytest.raises(ValueError):
        LatencyModel(submit_ns=-1)
    with pytest.raises(ValueError):
        LatencyModel(jitter_ns=-1)


def test_fee_model_takers_pay_the_markets_schedule_makers_pay_nothing():
    m = real_market()  # real crypto schedule: rate 0.07, exponent 1
    fm = FeeModel()
    assert fm.schedule(m) == FeeSchedule(rate=70_000, exponent=1, taker_only=True, rebate_rate=200_000)
    assert fm.fee(m, Liquidity.TAKER, 480_000, 2_083_334) == 36_400  # protocol.md §4.3 example
    assert fm.fee(m, Liquidity.MAKER, 480_000, 2_083_334) == 0
    what_if = FeeModel({m.condition_id: FeeSchedule(rate=250_000, exponent=2)})
    # the Jan-2026 formula: 100 x 0.25 x 0.25^2 = $1.5625 (protocol.md §4.3 rounds it to $1.56)
    assert what_if.fee(m, Liquidity.TAKER, 500_000, 100 * S) == 1_562_500
    assert FeeModel({m.condition_id: None}).fee(m, Liquidity.TAKER, 500_000, 100 * S) == 0
    assert fm.fee(m, Liquidity.TAKER, 300_000, 7 * S) == taker_fee(7 * S, 300_000, m.fee_schedule)


def test_queue_helpers():
    assert queue_after_trade(100, 30) == (70, 0)
    assert queue_after_trade(100, 100) == (0, 0)
    assert queue_after_trade(100, 130) == (0, 30)
    assert queue_after_cancels(100, 60) == 60
    assert queue_after_cancels(40, 60) == 40
    assert crosses(Side.BUY, 500, 500) and crosses(Side.BUY, 500, 490) and not crosses(Side.BUY, 500, 510)
    assert crosses(Side.SELL, 500, 500) and crosses(Side.SELL, 500, 510) and not crosses(Side.SELL, 500, 490)
    assert not crosses(Side.BUY, 500, None)
    assert strictly_through(Side.BUY, 500, 490) and not strictly_through(Side.BUY, 500, 500)
    assert strictly_through(Side.SELL, 500, 510) and not strictly_through(Side.SELL, 500, None)


def test_level_may_have_traded_only_at_the_top_or_when_the_other_side_reaches_it():
    assert level_may_have_traded(Side.BUY, 500, prev_best=500, opposite_best=510)  # was the best bid
    assert not level_may_have_traded(Side.BUY, 490, prev_best=500, opposite_best=510)  # deeper: cancels
    assert level_may_have_traded(Side.BUY, 490, prev_best=500, opposite_best=490)  # ask reached it
    assert level_may_have_traded(Side.SELL, 510, prev_best=510, opposite_best=500)
    assert not level_may_have_traded(Side.SELL, 520, prev_best=510, opposite_best=500)
    assert not level_may_have_traded(Side.SELL, 520, prev_best=None, opposite_best=None)
