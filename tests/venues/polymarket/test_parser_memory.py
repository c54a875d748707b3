"""The parser's number memo stays small (issue 10, finding 8: a paper run's memory grew ~3.5
MB/min because the memo kept every distinct size string, up to 200k entries, ~22 MB)."""

from __future__ import annotations

import tracemalloc

from clobflow.sim.datasets import load_dataset
from clobflow.venues.polymarket.parsing import _CACHE_LIMIT, MarketParser


def test_parsing_a_long_recording_keeps_the_memo_and_memory_bounded():
    frames = load_dataset("pm-btc15m-tob-1s").frames[:30_000]  # ~90k distinct number strings
    parser = MarketParser()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        peak_table = 0
        for fr in frames:
            parser.parse(fr.frame, fr.ts_recv_ns)
            peak_table = max(peak_table, len(parser._micros.table))  # noqa: SLF001
        grown = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert peak_table <= _CACHE_LIMIT <= 10_000
    assert grown < 3_000_000, f"parser state grew {grown / 1e6:.1f} MB over {len(frames)} frames"
    assert parser.events >= len(frames)  # it did parse them
