"""The batching policy: "100-1000 rows or N ms, whichever first", on a driven clock."""

from __future__ import annotations

import pytest

from clobflow.core.clock import SimClock, ms_to_ns
from clobflow.recorder.clickhouse import Batcher


@pytest.fixture
def clock() -> SimClock:
    return SimClock(1_000_000_000)


def sizes(batches: list[tuple[str, list[int]]]) -> list[tuple[str, int]]:
    return [(t, len(rows)) for t, rows in batches]


def test_defaults_are_the_documented_rule() -> None:
    b = Batcher()
    assert (b.max_rows, b.min_rows, b.max_ns) == (1000, 100, ms_to_ns(200))


def test_full_batches_come_out_at_max_rows_in_order(clock: SimClock) -> None:
    b = Batcher(max_rows=10, min_rows=3, max_ms=200, clock=clock)
    assert b.add("trades", range(9)) == []
    out = b.add("trades", range(9, 35))
    assert out == [("trades", list(range(0, 10))), ("trades", list(range(10, 20))), ("trades", list(range(20, 30)))]
    assert b.pending("trades") == 5
    assert b.due() == []  # the 5 left arrived just now


def test_time_flush_after_max_ms_since_the_first_pending_row(clock: SimClock) -> None:
    b = Batcher(max_rows=1000, min_rows=100, max_ms=200, clock=clock)
    b.add("spot_prices", [1])
    clock.advance(ms_to_ns(150))
    b.add("spot_prices", [2])  # does not restart the wait
    assert b.next_due_ns() == 1_000_000_000 + ms_to_ns(200)
    clock.advance(ms_to_ns(49))
    assert b.due() == []
    clock.advance(ms_to_ns(1))
    assert b.due() == [("spot_prices", [1, 2])]
    assert b.pending() == 0 and b.next_due_ns() is None
    assert b.due() == []  # nothing pending: nothing to flush, however long it has been


def test_wait_restarts_with_the_rows_left_after_a_full_batch(clock: SimClock) -> None:
    b = Batcher(max_rows=4, min_rows=2, max_ms=100, clock=clock)
    b.add("t", [1, 2, 3])
    clock.advance(ms_to_ns(90))
    assert b.add("t", [4, 5]) == [("t", [1, 2, 3, 4])]
    clock.advance(ms_to_ns(20))  # 110 ms after row 1, 20 ms after row 5
    assert b.due() == []
    clock.advance(ms_to_ns(80))
    assert b.due() == [("t", [5])]


def test_idle_writer_flushes_tables_with_min_rows_early(clock: SimClock) -> None:
    b = Batcher(max_rows=1000, min_rows=100, max_ms=200, clock=clock)
    b.add("orderbook_deltas", range(100))
    b.add("trades", range(99))
    assert b.due() == []  # busy writer keeps collecting
    assert sizes(b.due(idle=True)) == [("orderbook_deltas", 100)]  # 99 < min_rows: waits for max_ms
    assert b.pending("trades") == 99


def test_tables_batch_independently_oldest_first(clock: SimClock) -> None:
    b = Batcher(max_rows=5, min_rows=1, max_ms=10, clock=clock)
    b.add("b", [1])
    clock.advance(ms_to_ns(3))
    b.add("a", [1, 2])
    clock.advance(ms_to_ns(3))
    b.add("c", [1])
    clock.advance(ms_to_ns(5))  # b waited 11 ms, a 8 ms, c 5 ms
    assert sizes(b.due()) == [("b", 1)]
    assert sizes(b.drain()) == [("a", 2), ("c", 1)]
    assert b.pending() == 0


def test_adding_nothing_starts_no_wait(clock: SimClock) -> None:
    b = Batcher(clock=clock)
    assert b.add("t", []) == []
    assert b.next_due_ns() is None and b.drain() == []


@pytest.mark.parametrize(("max_rows", "min_rows", "max_ms"), [(10, 11, 5), (10, 0, 5), (10, 5, -1)])
def test_bad_settings_are_refused(max_rows: int, min_rows: int, max_ms: int) -> None:
    with pytest.raises(ValueError):
        Batcher(max_rows=max_rows, min_rows=min_rows, max_ms=max_ms)


def test_default_clock_is_monotonic() -> None:
    b = Batcher(max_ms=0)
    b.add("t", [1])
    assert b.due() == [("t", [1])]  # max_ms=0: due at once
