"""Backtest mode: recorded raw frames through the live parser, books and kernel, on a
simulated clock driven by the frames' receive times. Deterministic: the same recording and
config give a byte-identical journal.

Market time is the same rule as in live modes (``VenueTimeClock``): the latest venue timestamp,
advanced by receive time elapsed since. For converted data (receive = venue time) that is the
receive clock itself; for a recording of a simulator replaying old data it is the replay's own
time, so a backtest of the recording decides exactly like a backtest of its source.

The loop per frame: parse it, move the clocks (receive time, then the frame's venue time), apply
the execution reports due by then (an order arriving before this frame meets the book as it
was), then apply each event to the books and hand it to the kernel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from clobflow.core.clock import SimClock, VenueTimeClock
from clobflow.engine import registry
from clobflow.engine.config import AppConfig
from clobflow.engine.kernel import Kernel
from clobflow.engine.modes import build_kernel, run_id_for, trust_policy
from clobflow.engine.recording import RunRecorder
from clobflow.observe.journal import Journal, JsonlJournalFile
from clobflow.sim.datasets import Dataset

Progress = Callable[[int, int], None]


@dataclass
class BacktestResult:
    run_id: str
    kernel: Kernel
    journal_path: Path
    frames: int
    parser_rejects: dict[str, int] = field(default_factory=dict)
    markets: int = 0


def run_backtest(
    config: AppConfig,
    dataset: Dataset,
    out_dir: str | Path,
    *,
    store_url: str | None = None,
    progress: Progress | None = None,
    store: bool = True,
) -> BacktestResult:
    """Run the enabled strategies over ``dataset``; write the journal (and the store) in
    ``out_dir``. ``store_url`` defaults to a fresh SQLite file in ``out_dir``; ``store=False``
    writes no store at all (the journal holds every decision; benchmarks of the engine alone)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    run_id = run_id_for(config, "backtest", dataset.name, None)
    journal_path = out / "journal.jsonl"
    jfile = JsonlJournalFile(journal_path, threaded=False)  # nothing waits on a backtest's decisions
    journal = Journal([jfile])
    recorder = _open_store(config, out, run_id, store_url) if store else None
    if recorder is not None:
        journal.add_sink(recorder.decisions())  # batched: a backtest journals every evaluation
    frames = dataset.frames
    recv_clock = SimClock(frames[0].ts_recv_ns if frames else 0)
    venue_clock = VenueTimeClock(recv_clock)
    # Market time only moves between frames (receive time is the frame's), so the kernel reads
    # a plain clock set once per frame from the venue-time rule, not the rule at every read.
    clock = _FrameClock(venue_clock.now_ns())
    # the venue's parser and integrity checker, as live (datasets hold its market channel)
    books = registry.book_set(config.feed.venue, trust_policy(config))
    parser = registry.parser(config.feed.venue, "market")
    kernel = build_kernel(config, mode="backtest", run_id=run_id, clock=clock, books=books,
                          journal=journal, recorder=recorder, out_dir=out)
    for m in dataset.markets:  # datasets hold the venue's bare ids, like its recorded frames
        kernel.add_market(m.qualified(config.feed.venue))
    try:
        kernel.start()
        total = len(frames)
        parse = parser.parse
        on_book_event = books.on_event
        on_event = kernel.on_event
        process_due = kernel.process_due
        step = max(1, total // 200)
        observe = venue_clock.observe
        market_now = venue_clock.now_ns
        for i, fr in enumerate(frames):
            ts = fr.ts_recv_ns
            recv_clock.set(ts)
            events = parse(fr.frame, ts)
            for ev in events:
                observe(getattr(ev, "ts_venue_ns", 0))
            clock.now = now = market_now()
            process_due(now)
            for ev in events:
                on_event(ev, on_book_event(ev))
            if progress is not None and i % step == 0:
                progress(i, total)
        kernel.stop()
        if progress is not None:
            progress(total, total)
    finally:
        jfile.close()
        if recorder is not None:
            recorder.close(kernel, clock.now_ns())
    return BacktestResult(run_id, kernel, journal_path, len(frames), dict(parser.rejects), len(dataset.markets))


class _FrameClock:
    """The kernel's clock in a backtest: the market time of the current frame, as the loop set
    it. Unlike ``SimClock`` it follows the venue-time rule back once: the first venue timestamp
    re-bases market time (a recording's receive times can be later than its venue's times)."""

    __slots__ = ("now",)

    def __init__(self, now: int) -> None:
        self.now = now

    def now_ns(self) -> int:
        return self.now


def _open_store(config: AppConfig, out: Path, run_id: str, store_url: str | None) -> RunRecorder:
    url = store_url or config.engine.store_url
    if url is None:
        db = out / "clobflow.sqlite"
        if db.exists():
            db.unlink()
        url = f"sqlite:///{db}"
    return RunRecorder.open(url, run_id=run_id, mode="backtest", strategy_names=[
        s.name for s in config.enabled_strategies()], config=config)
