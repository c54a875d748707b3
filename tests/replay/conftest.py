"""Shared data for the replay tests: the bundled 15-minute recording, loaded once per session."""

from __future__ import annotations

import pytest

from clobflow.sim.datasets import load_dataset


@pytest.fixture(scope="session")
def ds15():
    return load_dataset("pm-btc15m-tob-1s")
