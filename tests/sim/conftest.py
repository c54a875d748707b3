"""Shared fixtures for the simulator tests: converted datasets, built once per session."""

from __future__ import annotations

import pytest

from clobflow.sim.datasets import Dataset, load_dataset


@pytest.fixture(scope="session")
def ds15() -> Dataset:
    return load_dataset("pm-btc15m-tob-1s")


@pytest.fixture(scope="session")
def ds1h() -> Dataset:
    return load_dataset("pm-btc1h-l2-1s")


@pytest.fixture(scope="session")
def ds15_small() -> Dataset:
    """The first four 15-minute windows (all resolved)."""
    return load_dataset("pm-btc15m-tob-1s", limit_markets=4)
