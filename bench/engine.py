"""Engine benchmarks: (a) tick-to-decision with many signals and (b) backtest throughput.

(a) Tick-to-decision on ``--markets`` binary markets (10 levels a side each; default 2,000), a
    stream of two-leg ``price_change`` messages (one YES level and its NO mirror, with the venue's
    best bid/ask), market picked at random, 1 ms of market time apart (the simulated venue's
    50 ms order latency is 50 messages; the timer's duties fall due every 1,000 messages). The imbalance strategy
    (top-5 imbalance >= 0.3, no cooldown) evaluates every message and signals whenever a market
    it does not hold turns imbalanced: hundreds of signals, each one a FAK order through risk and
    simulated execution. Per message, from the frame's bytes in hand (before parsing):
    - decision: until the strategy's ``on_book`` returned (its skip journaled, or its signal
      journaled and its order handed to execution and journaled);
    - to the order: until ``execution.submit`` was called (messages that signalled);
    - whole event: until the kernel returned (incl. the timer's duties when one fell due).
    p50/p99 over all messages, median over ``--runs`` runs; the ratio is p99 / 15 µs (target).
    The two timing hooks (a wrapper around the strategy's handler and around ``submit``) add
    ~0.1 µs each.
(b) a backtest over a long generated stream (~30 levels a side): level updates per second through
    the whole engine (imbalance strategy, simulated execution, accounting, journal to a file).
    The comparison with NautilusTrader on real recorded events is ``bench/backtest_vs_nautilus.py``.

Run: ``python bench/engine.py [--messages N] [--markets M] [--runs R]``. Numbers, not pass/fail;
median of runs.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from market_data import NO, YES, generated_stream  # noqa: E402

from clobflow.core.clock import SimClock  # noqa: E402
from clobflow.core.markets import BinaryMarket, OutcomeToken  # noqa: E402
from clobflow.engine.config import parse_config  # noqa: E402
from clobflow.engine import registry  # noqa: E402
from clobflow.engine.modes import build_kernel, trust_policy  # noqa: E402
from clobflow.observe.journal import Journal, JsonlJournalFile  # noqa: E402
from clobflow.venues.polymarket.parsing import MarketParser  # noqa: E402

T0 = 1_790_000_000_000 * 1_000_000
TARGET_P99_US = 15.0
STEP_NS = 1_000_000  # (a): 1 ms of market time a message: every book updates well within 30 s


def _market(cid: str, yes: str, no: str) -> BinaryMarket:
    return BinaryMarket(cid, f"bench-{cid}", "q", OutcomeToken(yes, "Yes"), OutcomeToken(no, "No"),
                        1_000, 5_000_000, start_ns=T0 - 10**12, end_ns=T0 + 10**15)


MARKET = _market("0xbench", YES, NO)


def setup(journal_path: Path, markets: list[BinaryMarket], min_imbalance: float = 0.3, threaded: bool = True):
    # generous limits so the strategy keeps evaluating and trades whenever it signals
    cfg = parse_config({
        "engine": {"mode": "backtest", "starting_cash_usd": 10_000_000},
        "risk": {"max_market_exposure_usd": 1e9, "max_total_exposure_usd": 1e9, "recent_order_window_s": 0},
        "strategies": [{"name": "imbalance", "min_imbalance": min_imbalance, "yes_price_min": 0.05,
                        "yes_price_max": 0.95, "max_spread": 0.5, "cooldown_minutes": 0,
                        "max_positions": 1_000_000}],
    })
    clock = SimClock(T0)
    books = registry.book_set("polymarket", trust_policy(cfg))  # with the venue's checks, as live
    jfile = JsonlJournalFile(journal_path, threaded=threaded)  # live: a writer thread; a backtest: in place
    journal = Journal([jfile])
    k = build_kernel(cfg, mode="backtest", run_id="backtest-bench", clock=clock, books=books, journal=journal,
                     recorder=None)
    for m in markets:
        k.add_market(m)
    k.start()
    return k, clock, books, jfile


def signal_stream(n_markets: int, n: int, levels: int = 10, seed: int = 11):
    """(markets, setup frames, timed frames): ``n_markets`` mirrored binary books and ``n``
    two-leg ``price_change`` messages, each resizing one of the top 5 levels of a random side
    of a random market (so its top-5 imbalance wanders and crosses the signal threshold)."""
    rng = random.Random(seed)
    markets, setup_frames, books = [], [], []
    ms = str(T0 // 1_000_000)

    def px(milli: int) -> str:
        return f"0.{milli:03d}"

    def sz(centi: int) -> str:
        return f"{centi // 100}.{centi % 100:02d}"

    def snapshot(cid: str, asset: str, bids: dict[int, int], asks: dict[int, int]) -> bytes:
        return json.dumps({
            "event_type": "book", "market": cid, "asset_id": asset, "timestamp": ms, "hash": "h",
            "tick_size": "0.001",
            "bids": [{"price": px(p), "size": sz(v)} for p, v in sorted(bids.items())],
            "asks": [{"price": px(p), "size": sz(v)} for p, v in sorted(asks.items(), reverse=True)],
        }).encode()

    for k in range(n_markets):
        cid, yes, no = f"0x{k:064x}", str(10**76 + 2 * k), str(10**76 + 2 * k + 1)
        mid = rng.randint(300, 700)
        bids = {mid - i: rng.randint(5, 5000) * 100 for i in range(1, levels + 1)}
        asks = {mid + i: rng.randint(5, 5000) * 100 for i in range(1, levels + 1)}
        markets.append(_market(cid, yes, no))
        setup_frames.append(snapshot(cid, yes, bids, asks))
        setup_frames.append(snapshot(cid, no, {1000 - p: v for p, v in asks.items()},
                                     {1000 - p: v for p, v in bids.items()}))
        books.append((cid, yes, no, bids, asks))
    frames = []
    for i in range(n):
        cid, yes, no, bids, asks = books[rng.randrange(n_markets)]
        on_bid = rng.random() < 0.5
        ladder = bids if on_bid else asks
        p = rng.choice(sorted(ladder, reverse=on_bid)[:5])
        ladder[p] = rng.randint(5, 5000) * 100
        bb, ba = max(bids), min(asks)
        frames.append(json.dumps({"market": cid, "timestamp": ms, "event_type": "price_change", "price_changes": [
            {"asset_id": yes, "price": px(p), "size": sz(ladder[p]), "side": "BUY" if on_bid else "SELL",
             "hash": f"{2 * i:040x}", "best_bid": px(bb), "best_ask": px(ba)},
            {"asset_id": no, "price": px(1000 - p), "size": sz(ladder[p]), "side": "SELL" if on_bid else "BUY",
             "hash": f"{2 * i + 1:040x}", "best_bid": px(1000 - ba), "best_ask": px(1000 - bb)},
        ]}, separators=(",", ":")).encode())
    return markets, setup_frames, frames


def run_latency(markets, setup_frames, frames, tmp: Path):
    k, clock, books, jfile = setup(tmp / "lat.jsonl", markets)
    parser = MarketParser()
    for f in setup_frames:
        for ev in parser.parse(f, T0):
            k.on_event(ev, books.on_event(ev))
    pc = time.perf_counter_ns
    decided = [0]
    sent = [0]

    def timed(handler):
        def on_book(ctx, market, asset):
            handler(ctx, market, asset)
            decided[0] = pc()
        return on_book

    k._book_routes = [(timed(h), ctx) for h, ctx in k._book_routes]
    submit = k.execution.submit

    def spy_submit(order, now):
        sent[0] = pc()
        submit(order, now)

    k.execution.submit = spy_submit
    parse, on_book, on_event, due = parser.parse, books.on_event, k.on_event, k.process_due
    decision, to_order, whole = [], [], []
    ts = T0
    gc.collect()
    gc.disable()
    try:
        for f in frames:
            ts += STEP_NS
            clock.set(ts)
            sent[0] = decided[0] = 0
            t0 = pc()
            due(ts)
            for ev in parse(f, ts):
                on_event(ev, on_book(ev))
            t1 = pc()
            whole.append(t1 - t0)
            if decided[0]:
                decision.append(decided[0] - t0)
            if sent[0]:
                to_order.append(sent[0] - t0)
    finally:
        gc.enable()
        jfile.close()
    return decision, to_order, whole, dict(k.counters)


def run_throughput(frames, setup_frames, tmp: Path):
    k, clock, books, jfile = setup(tmp / "thr.jsonl", [MARKET], threaded=False)
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
    ap.add_argument("--markets", type=int, default=2_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    n_lat = min(args.messages, 50_000)
    markets, lat_setup, lat_frames = signal_stream(args.markets, n_lat)
    setup_frames, frames = generated_stream(args.messages)
    res: dict[str, list[float]] = {}

    def add(name: str, v: float) -> None:
        res.setdefault(name, []).append(v)

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for _ in range(args.runs):
            decision, to_order, whole, lc = run_latency(markets, lat_setup, lat_frames, tmp)
            for name, v in (("decision", decision), ("order", to_order), ("whole", whole)):
                add(name + "50", pct(v, 0.5))
                add(name + "99", pct(v, 0.99))
            add("signals", len(to_order))
            lvl, msg, tc = run_throughput(frames, setup_frames, tmp)
            add("lvl", lvl)
            add("msg", msg)
    med = {k: statistics.median(v) for k, v in res.items()}
    print(f"== (a) tick-to-decision, {n_lat:,} two-leg price_change messages over {args.markets:,} markets "
          f"({args.runs} runs, median) ==")
    print(f"  decision, all messages    p50 {med['decision50']:6.2f} µs   p99 {med['decision99']:6.2f} µs"
          f"   p99 / target {TARGET_P99_US:.0f} µs = {med['decision99'] / TARGET_P99_US:.2f}")
    print(f"  to the order (signalled)  p50 {med['order50']:6.2f} µs   p99 {med['order99']:6.2f} µs"
          f"   p99 / target {TARGET_P99_US:.0f} µs = {med['order99'] / TARGET_P99_US:.2f}"
          f"   ({med['signals']:,.0f} signals a run; last run {lc.get('orders', 0)} orders, {lc.get('fills', 0)} fills)")
    print(f"  whole event, all messages p50 {med['whole50']:6.2f} µs   p99 {med['whole99']:6.2f} µs   (incl. timer duties)")
    print(f"== (b) backtest throughput ({len(frames):,} messages, ~30 levels a side, {args.runs} runs, median) ==")
    print(f"  {med['lvl']:12,.0f} level updates/s   ({med['msg']:,.0f} messages/s;"
          f" last run: {tc.get('orders', 0)} orders, {tc.get('fills', 0)} fills)   target 400,000:"
          f" {med['lvl'] / 400_000:.2f} of it")
    print("  vs NautilusTrader on the real recording: bench/backtest_vs_nautilus.py")


if __name__ == "__main__":
    main()
