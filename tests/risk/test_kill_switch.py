from __future__ import annotations

import pytest

from clobflow.risk import KillSwitch
from clobflow.risk.kill_switch import NS_PER_DAY

USD = 1_000_000
S = 1_000_000_000
DAY = 20_500  # an epoch day: 2026-02-16 UTC
MIDNIGHT = DAY * NS_PER_DAY


def test_drawdown_from_high_water_mark_trips_at_the_limit():
    ks = KillSwitch(max_drawdown=100 * USD)
    ks.update(1_000 * USD, MIDNIGHT + S)
    ks.update(1_200 * USD, MIDNIGHT + 2 * S)  # new high-water mark
    assert ks.update(1_100 * USD + 1, MIDNIGHT + 3 * S) is False  # 99.999999 down
    assert ks.drawdown == 100 * USD - 1
    assert ks.update(1_100 * USD, MIDNIGHT + 4 * S) is True
    assert (ks.reason, ks.tripped_ns) == ("drawdown", MIDNIGHT + 4 * S)
    assert ks.detail == {"drawdown": 100 * USD, "max": 100 * USD, "high_water": 1_200 * USD,
                         "equity": 1_100 * USD}


def test_stays_tripped_until_reset_which_rebases():
    ks = KillSwitch(max_drawdown=100 * USD)
    ks.update(1_000 * USD, MIDNIGHT)
    ks.update(900 * USD, MIDNIGHT + S)
    assert ks.tripped
    assert ks.update(5_000 * USD, MIDNIGHT + 2 * S) is True  # recovery does not clear it
    ks.update(850 * USD, MIDNIGHT + 3 * S)
    assert ks.reason == "drawdown" and ks.tripped_ns == MIDNIGHT + S  # first trip kept
    ks.reset(MIDNIGHT + 4 * S)
    assert not ks.tripped and ks.reason is None and ks.reset_ns == MIDNIGHT + 4 * S
    assert ks.high_water == 850 * USD  # re-based: the accepted loss does not re-trip
    assert ks.update(851 * USD, MIDNIGHT + 5 * S) is False
    assert ks.update(750 * USD, MIDNIGHT + 6 * S) is True  # 101 below the new high


def test_daily_loss_with_utc_rollover():
    ks = KillSwitch(max_daily_loss=50 * USD)
    ks.update(1_000 * USD, MIDNIGHT + 10 * S)
    assert ks.day == DAY and ks.day_open == 1_000 * USD
    assert ks.update(960 * USD, MIDNIGHT + NS_PER_DAY - 1) is False  # 40 down, last ns of the day
    # the next UTC day opens at the last equity seen (960), not at the first of the new day
    assert ks.update(915 * USD, MIDNIGHT + NS_PER_DAY) is False
    assert (ks.day, ks.day_open, ks.daily_loss) == (DAY + 1, 960 * USD, 45 * USD)
    assert ks.update(910 * USD + 1, MIDNIGHT + NS_PER_DAY + S) is False
    assert ks.update(910 * USD, MIDNIGHT + NS_PER_DAY + 2 * S) is True  # 50 down today
    assert ks.reason == "daily_loss"
    assert ks.detail["day"] == DAY + 1 and ks.detail["day_open"] == 960 * USD


def test_same_losses_in_one_day_trip():
    ks = KillSwitch(max_daily_loss=50 * USD)
    ks.update(1_000 * USD, MIDNIGHT + 10 * S)
    ks.update(960 * USD, MIDNIGHT + 20 * S)
    assert ks.update(950 * USD, MIDNIGHT + 30 * S) is True


def test_drawdown_spanning_days_still_trips():
    ks = KillSwitch(max_drawdown=100 * USD, max_daily_loss=60 * USD)
    ks.update(1_000 * USD, MIDNIGHT)
    ks.update(950 * USD, MIDNIGHT + S)
    ks.update(900 * USD, MIDNIGHT + NS_PER_DAY + S)  # 50 today, 100 from the high
    assert ks.reason == "drawdown"


def test_off_by_default_and_manual_trip():
    ks = KillSwitch()
    assert ks.update(1 * USD, MIDNIGHT) is False
    assert ks.update(-10**9 * USD, MIDNIGHT + S) is False
    ks.trip("operator", MIDNIGHT + 2 * S)
    ks.trip("second", MIDNIGHT + 3 * S)
    assert ks.tripped and ks.reason == "operator" and ks.tripped_ns == MIDNIGHT + 2 * S


def test_invalid_thresholds():
    with pytest.raises(ValueError):
        KillSwitch(max_drawdown=0)
    with pytest.raises(ValueError):
        KillSwitch(max_daily_loss=-1)
