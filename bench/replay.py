"""Replay benchmarks: how fast recorded frames come back, stage by stage.

On the bundled 15-minute recording, written in the recorder's format (``frames.jsonl.gz`` via
``clobflow.sim.datasets.convert``; a plain ``frames.jsonl`` copy is measured beside it):

(a) read:          ``recorder.frames.read_frames`` (decompress + decode each ``RawFrame``);
(b) read + parse:  (a) then ``MarketParser.parse`` of every frame (the events the engine sees);
(c) parse only:    the parser over frames already in memory (what (b) costs beyond (a));
(d) select:        ``replay.selection.select_frames`` keeping 1 market in 8 (the text scan);
(e) backtest:      ``engine.backtest.run_backtest`` over the loaded recording (parser, books,
                   kernel, the imbalance strategy, simulated execution, journal, SQLite store).

Rates are frames per second (and events per second where it helps), the median of ``--runs``
runs (``--backtest-runs`` for (e), which takes seconds each). Numbers, not pass/fail.

Run: ``python bench/replay.py [--runs 5] [--backtest-runs 3] [--config config/imbalance.yaml]``.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from clobflow.engine.backtest import run_backtest
from clobflow.engine.config import load_config, parse_config
from clobflow.recorder.frames import read_frames
from clobflow.replay.selection import select_frames
from clobflow.sim.datasets import convert, rawfile
from clobflow.venues.polymarket.parsing import MarketParser

ROOT = Path(__file__).resolve().parents[1]
DATASET = "pm-btc15m-tob-1s"


def timed(fn: Callable[[], int], runs: int) -> tuple[float, int]:
    """Median seconds of ``runs`` calls of ``fn`` (which returns a count), and that count."""
    times, count = [], 0
    for _ in range(runs):
        gc.collect()
        t = time.perf_counter()
        count = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), count


def line(name: str, seconds: float, frames: int, extra: str = "") -> None:
    print(f"  {name:<32} {frames / seconds:>12,.0f} frames/s   ({seconds * 1e3:8.1f} ms for {frames:,}){extra}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--backtest-runs", type=int, default=3)
    ap.add_argument("--config", type=Path, default=ROOT / "config" / "imbalance.yaml")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="clobflow-bench-replay-"))
    try:
        t = time.perf_counter()
        gz, _ = convert(DATASET, tmp)
        plain = tmp / "frames.jsonl"
        with gzip.open(gz, "rb") as src, open(plain, "wb") as dst:
            shutil.copyfileobj(src, dst)
        print(f"{DATASET} -> {gz.name} ({gz.stat().st_size / 1e6:.1f} MB gz, {plain.stat().st_size / 1e6:.1f} MB plain) "
              f"in {time.perf_counter() - t:.1f} s; median of {args.runs} runs")

        for path in (gz, plain):
            s, n = timed(lambda p=path: sum(1 for _ in read_frames(p)), args.runs)
            line(f"(a) read {path.name}", s, n)

        def read_parse() -> int:
            parser, events, n = MarketParser(), 0, 0
            for fr in read_frames(gz):
                events += len(parser.parse(fr.frame, fr.ts_recv_ns))
                n += 1
            read_parse.events = events  # type: ignore[attr-defined]
            return n

        s, n = timed(read_parse, args.runs)
        line(f"(b) read + parse {gz.name}", s, n, f"  {read_parse.events / s:,.0f} events/s")  # type: ignore[attr-defined]

        frames = list(read_frames(gz))

        def parse_only() -> int:
            parse = MarketParser().parse
            for fr in frames:
                parse(fr.frame, fr.ts_recv_ns)
            return len(frames)

        s, n = timed(parse_only, args.runs)
        line("(c) parse only (in memory)", s, n)

        t = time.perf_counter()
        ds = rawfile.load(tmp)  # what `clobflow backtest --data <dir>` loads
        print(f"  load as a Dataset: {time.perf_counter() - t:.2f} s ({len(ds.frames):,} frames, {len(ds.markets)} markets)")
        every8 = [m.condition_id for m in ds.markets[::8]]
        s, _ = timed(lambda: len(select_frames(ds, markets=every8).frames), args.runs)
        line(f"(d) select {len(every8)} of {len(ds.markets)} markets", s, len(ds.frames), "  (frames scanned)")

        cfg = load_config(args.config) if args.config.exists() else parse_config({})
        out = tmp / "bt"
        s, n = timed(lambda: run_backtest(cfg, ds, out).frames, args.backtest_runs)
        line("(e) full backtest", s, n, f"  median of {args.backtest_runs}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
