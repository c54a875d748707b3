"""Engine benchmarks: (a) tick-to-decision and (b) backtest throughput.

(a) per two-leg ``price_change``: parse + book apply (with the trust check) + kernel (due
    execution reports, simulated matching hooks, portfolio marks) + the imbalance strategy's
    evaluation and its journal entry (+ the risk gate and an order when it signals). p50/p99 over
    all messages, and separately over the messages that produced a signal.
(b) a backtest over a long generated stream (~30 levels a side): level updates per second through
    the whole engine (imbalance strategy, simulated execution, accounting, journal to a file).
If ``nautilus_trader`` is importable, its BacktestEngine would run the same stream for a ratio;
it is not a dependency and is not installed here, which the output says.

Run: ``python bench/engine.py [--messages N] [--runs R]``. Numbers, not pass/fail; median of runs.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from market_data import NO, YES, generated_stream  # noqa: E402

from clobflow.book.book_set import BookSet  # noqa: E402
from clobflow.core.clock import SimClock  # noqa: E402
from clobflow.core.markets import BinaryMarket, OutcomeToken  # noqa: E402
from clobflow.engine.config import parse_config  # noqa: E402
from clobflow.engine.modes import build_kernel  # noqa: E402
from clobflow.observe.journal import Journal, JsonlJournalFile  # noqa: E402
from clobflow.venues.polymarket.parsing import MarketParser  # noqa: E402

T0 = 1_790_000_000_000 * 1_000_000
MARKET = BinaryMarket("0xbench", "bench-market", "q", OutcomeToken(YES, "Yes"), OutcomeToken(NO, "No"),
                      1_000, 5_000_000, start_ns=T0 - 10**12, end_ns=T0 + 10**15)


def setup(journal_path: Path):
    # generous limits so the strategy keeps evaluating and sometimes trades
    cfg = parse_config({
        "engine": {"mode": "backtest", "starting_cash_usd": 10_000_000},
        "risk": {"max_market_exposure_usd": 1e9, "max_total_exposure_usd": 1e9, "recent_order_window_s": 0},
        "strategies": [{"name": "imbalance", "min_imbalance": 0.3, "yes_price_min": 0.05, "yes_price_max": 0.95,
                        "max_spread": 0.5, "cooldown_minutes": 0, "max_positions": 1_000_000}],
    })
    clock = SimClock(T0)
    books = BookSet()
    jfile = JsonlJournalFile(journal_path)
    journal = Journal([jfile])
    k = build_kernel(cfg, mode="backtest", run_id="backtest-bench", clock=clock, books=books, journal=journal,
                     recorder=None)
    k.add_market(MARKET)
    k.start()
    return k, clock, books, jfile


def run_latency(frames, setup_frames, tmp: Path):
    k, clock, books, jfile = setup(tmp / "lat.jsonl")
    parser = MarketParser()
    for f in setup_frames:
        for ev in parser.parse(f, T0):
            k.on_event(ev, books.on_event(ev))
    parse, on_book, on_event, due = parser.parse, books.on_event, k.on_event, k.process_due
    lat, sig_lat = [], []
    ts = T0
    pc = time.perf_counter_ns
    gc.collect()
    gc.disable()
    try:
        for f in frames:
            ts += 50_000_000
            clock.set(ts)
            before = k.counters["orders"]
            t0 = pc()
            due(ts)
            for ev in parse(f, ts):
                on_event(ev, on_book(ev))
            dt = pc() - t0
            lat.append(dt)
            if k.counters["orders"] != before:
                sig_lat.append(dt)
    finally:
        gc.enable()
        jfile.close()
    return lat, sig_lat, dict(k.counters)


def run_throughput(frames, setup_frames, tmp: Path):
    k, clock, books, jfile = setup(tmp / "thr.jsonl")
    parser = MarketParser()
    for f in setup_frames:
        for ev in parser.parse(f, T0):
            k.on_event(ev, books.on_event(ev))
    parse, on_book, on_event, due, cset = parser.parse, books.on_event, k.on_event, k.process_due, clock.set
    levels_before = books.counters["level_changes"]
    ts = T0
    gc.collect()
    t0 = time.perf_counter()
    for f in frames:
        ts += 50_000_000
        cset(ts)
        due(ts)
        for ev in parse(f, ts):
            on_event(ev, on_book(ev))
    k.stop()
    secs = time.perf_counter() - t0
    jfile.close()
    return (books.counters["level_changes"] - levels_before) / secs, len(frames) / secs, dict(k.counters)


def pct(v, q):
    s = sorted(v)
    return s[min(len(s) - 1, int(q * len(s)))] / 1000.0 if s else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    setup_frames, frames = generated_stream(args.messages)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        p50, p99, sp50, sp99, rates, mrates = [], [], [], [], [], []
        counters = {}
        for _ in range(args.runs):
            lat, sig, counters = run_latency(frames[:50_000], setup_frames, tmp)
            p50.append(pct(lat, 0.5))
            p99.append(pct(lat, 0.99))
            if sig:
                sp50.append(pct(sig, 0.5))
                sp99.append(pct(sig, 0.99))
            lvl, msg, tc = run_throughput(frames, setup_frames, tmp)
            rates.append(lvl)
            mrates.append(msg)
    print(f"== (a) tick-to-decision per 2-leg price_change (50,000 messages, {args.runs} runs, median) ==")
    print(f"  all messages       p50 {statistics.median(p50):6.2f} µs   p99 {statistics.median(p99):6.2f} µs")
    if sp50:
        print(f"  with a signal      p50 {statistics.median(sp50):6.2f} µs   p99 {statistics.median(sp99):6.2f} µs"
              f"   ({counters.get('orders', 0)} orders in the last run)")
    print(f"== (b) backtest throughput ({len(frames):,} messages, ~30 levels a side, {args.runs} runs, median) ==")
    print(f"  {statistics.median(rates):12,.0f} level updates/s   ({statistics.median(mrates):,.0f} messages/s;"
          f" last run: {tc.get('orders', 0)} orders, {tc.get('fills', 0)} fills)")
    if importlib.util.find_spec("nautilus_trader") is None:
        print("  nautilus_trader is not installed: no comparison run (it is optional, not a dependency)")
    else:
        print("  nautilus_trader is installed, but the equivalent-strategy comparison is not implemented yet")


if __name__ == "__main__":
    main()
