from __future__ import annotations

import pytest

from clobflow.risk import BreakerState, CircuitBreaker

S = 1_000_000_000
T0 = 1_790_000_000 * S


def test_trips_after_three_consecutive_failures():
    b = CircuitBreaker(3, 60 * S)
    assert b.record_failure(T0, "rejected") is False
    assert b.record_failure(T0 + 1, "unknown") is False
    assert b.state is BreakerState.CLOSED and b.failures == 2
    assert b.record_failure(T0 + 2, "rejected") is True
    assert b.state is BreakerState.OPEN
    assert (b.opened_ns, b.failures, b.trips, b.last_reason) == (T0 + 2, 3, 1, "rejected")
    assert b.reopens_at_ns == T0 + 2 + 60 * S


def test_success_resets_the_count():
    b = CircuitBreaker(3, 60 * S)
    b.record_failure(T0)
    b.record_failure(T0)
    b.record_success(T0)
    assert b.failures == 0
    b.record_failure(T0)
    b.record_failure(T0)
    assert not b.is_open(T0)
    b.record_failure(T0)
    assert b.is_open(T0)


def test_cooloff_then_reset_without_half_open():
    b = CircuitBreaker(3, 60 * S)
    for _ in range(3):
        b.record_failure(T0)
    assert b.is_open(T0 + 60 * S - 1)
    # late reports of orders sent before the trip neither extend nor end the cool-off
    assert b.record_failure(T0 + 30 * S) is False
    b.record_success(T0 + 31 * S)
    assert b.is_open(T0 + 60 * S - 1)
    assert b.poll(T0 + 60 * S) is BreakerState.CLOSED
    assert b.failures == 0 and b.opened_ns is None and b.reopens_at_ns is None
    # fully closed (not half-open): one failure does not re-open it
    b.record_failure(T0 + 61 * S)
    assert not b.is_open(T0 + 61 * S)
    assert b.total_failures == 5


def test_on_change_and_operator_reset():
    calls = []
    b = CircuitBreaker(1, 10 * S, on_change=lambda: calls.append(1))
    b.record_failure(T0)
    assert len(calls) == 1 and b.is_open(T0)
    b.reset()
    assert len(calls) == 2 and not b.is_open(T0)
    b.reset()  # already closed: no change reported
    assert len(calls) == 2


def test_invalid_limits():
    with pytest.raises(ValueError):
        CircuitBreaker(0, S)
    with pytest.raises(ValueError):
        CircuitBreaker(1, -1)
