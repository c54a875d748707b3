"""Fuzzing every parser with Hypothesis: mutated real captures (``clobflow.testing.mutations``),
raw bytes, and hostile values in each numeric field. A fixed sample (``derandomize``) so CI is
reproducible and quick; ``bench/fuzz.py`` runs the same harness on a million inputs.

Whatever the input: nothing escapes a parser, every frame without an event is counted by reason,
an accepted event holds only in-range values, and a trusted book is never out of range, crossed
or locked (see ``tests/venues/fuzzing.py``).
"""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clobflow.book.book_set import BookSet
from clobflow.venues.binance.parsing import SpotParser
from clobflow.venues.polymarket.integrity import PolymarketIntegrity
from clobflow.venues.polymarket.parsing import MarketParser
from tests.venues import fuzzing as fz

CI = settings(derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# Hypothesis draws the seed of a ``random.Random`` that drives the mutator: a failing example
# replays from its seed, and drawing every mutation decision through Hypothesis would be ~20x
# slower for no shrinking benefit (a mutated frame does not shrink meaningfully).
_SEEDS = st.integers(min_value=0, max_value=2**32 - 1).map(random.Random)


def _clean(t: fz.Tally) -> None:
    assert not t.violations, (dict(t.violations), {k: v[:300] for k, v in t.examples.items()})


@settings(CI, max_examples=25)
@given(_SEEDS)
def test_polymarket_streams_keep_trusted_books_sound(rng):
    t = fz.Tally()
    fz.run_pm_streams(rng, 4, t)
    _clean(t)
    assert t.trusted_checks > 0  # the books were trusted at times: the check had teeth


@pytest.mark.parametrize("run,n,examples", [(fz.run_pm_frames, 200, 60), (fz.run_binance, 200, 60),
                                            (fz.run_replay_files, 2, 25)],
                         ids=["polymarket_frames", "binance_frames", "replay_files"])
def test_mutated_captures(run, n, examples):
    """Single hostile frames (Polymarket, Binance) and hostile recordings (replay reader)."""

    @settings(CI, max_examples=examples)
    @given(_SEEDS)
    def check(rng):
        t = fz.Tally()
        run(rng, n, t)
        _clean(t)

    check()


@settings(CI, max_examples=400)
@given(st.one_of(st.binary(max_size=400), st.text(max_size=400)))
def test_raw_bytes_and_text(frame):
    t = fz.Tally()
    fz.feed_pm(MarketParser(), None, frame, t)
    fz.feed_binance(SpotParser(), frame, t)
    _clean(t)


_ANY_NUMBER = st.one_of(
    st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.decimals(allow_nan=True, allow_infinity=True).map(str), st.none(), st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.sampled_from(["1e400", "1.5e400", "-0", "0", "1", "0.9999999", "0.000001", "٣", "1e-7"]),
)
_PM_FIELDS = [
    ("book_2026-08.json", ("bids", 0, "price")), ("book_2026-08.json", ("asks", 0, "size")),
    ("book_2026-08.json", ("timestamp",)), ("book_2026-08.json", ("tick_size",)),
    ("book_2026-08.json", ("last_trade_price",)), ("book_2026-08.json", ("min_order_size",)),
    ("price_change_batched_2024-10.json", ("price_changes", 0, "price")),
    ("price_change_batched_2024-10.json", ("price_changes", 0, "size")),
    ("price_change_batched_2024-10.json", ("price_changes", 0, "best_bid")),
    ("price_change_batched_2024-10.json", ("price_changes", 0, "best_ask")),
    ("price_change_legacy_single_2024-08.json", ("price",)),
    ("last_trade_price_2024-08.json", ("fee_rate_bps",)), ("last_trade_price_2024-08.json", ("price",)),
    ("last_trade_price_2024-08.json", ("size",)), ("tick_size_change_2025-02.json", ("new_tick_size",)),
    ("tick_size_change_2025-02.json", ("old_tick_size",)), ("best_bid_ask_2025-12.json", ("best_bid",)),
    ("new_market_2025-12.json", ("order_price_min_tick_size",)),
]


@settings(CI, max_examples=600)
@given(st.sampled_from(_PM_FIELDS), _ANY_NUMBER)
def test_any_value_in_any_polymarket_number_field(field, value):
    name, path = field
    msg = json.loads((fz.PM_DIR / name).read_text())
    msg = msg[0] if isinstance(msg, list) else msg
    node = msg
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    try:
        frame = json.dumps(msg)
    except ValueError:
        return
    t = fz.Tally()
    books = BookSet(checker=PolymarketIntegrity())
    fz.feed_pm(MarketParser(), books, frame, t)
    _clean(t)


@settings(CI, max_examples=300)
@given(st.sampled_from(["p", "q", "T", "t", "E", "s", "m"]), _ANY_NUMBER)
def test_any_value_in_any_binance_trade_field(key, value):
    msg = json.loads((fz.BN_DIR / "ws_spot_trade_combined_2021-12.json").read_text())
    msg["data"][key] = value
    try:
        frame = json.dumps(msg)
    except ValueError:
        return
    t = fz.Tally()
    fz.feed_binance(SpotParser(), frame, t)
    _clean(t)


def test_the_mutator_reaches_every_reject_reason():
    """The sample is not vacuous: the mutations provoke each way a frame can be refused."""
    t = fz.Tally()
    fz.run_pm_frames(random.Random(7), 3000, t)
    seen = {k.split(":")[1] for k in t.rejects}
    assert {"invalid_json", "schema", "bad_number", "out_of_range", "bad_time", "too_deep",
            "unknown_event_type", "not_an_object"} <= seen, seen
    assert "internal_error" not in seen
