"""Complete-set bot benchmarks.

Detection (``bench_detection``): the cost of ``BinaryDetector.check`` per book update when it
finds nothing (its fast path), and what it finds on real data.

- ``real``: the bundled 1 Hz recording ``pm-btc15m-tob-1s`` (66 fifteen-minute BTC windows),
  parsed with ``MarketParser`` and applied with ``BookSet``; after every event each touched
  market's (YES, NO) pair is checked once to count hits by classification and reason, and a
  frozen copy of the pair is kept so the timing can replay exactly those states afterwards.
- ``synthetic``: consistent mirrored pairs (NO bid = 1 − YES ask, 5 levels a side) along a
  random walk of the YES mid; nothing may ever be found there. The fast path reads only the
  best ask of each book, so depth does not change its cost.
- ``multi``: ``MultiOutcomeDetector.check`` on consistent 3- and 10-outcome events (YES asks
  summing above 1), the same way.

Method (printed with the numbers): (1) throughput -- one tight loop calls ``check`` on every
no-hit state; the same loop with no call is timed too and subtracted, so ``net`` is the cost of
the call itself and ``loop`` includes iteration; median of the runs. (2) distribution -- each
state is checked ``batch`` times in a row between two ``perf_counter_ns`` reads (one read costs
about as much as a check here), the empty batch loop is subtracted and the result divided by
``batch``; p50/p99 over states, median of the runs. GC is disabled while timing.

Run: ``python bench/complete_set.py [--runs R] [--synthetic N] [--batch B]``. Numbers, not
pass/fail.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
from collections import Counter
from contextlib import contextmanager

from clobflow.book.book_set import BookSet, TrackedBook
from clobflow.book.trust import Trust
from clobflow.core.numbers import ONE, SCALE
from clobflow.sim.datasets import load_dataset
from clobflow.strategies.complete_set.detector import (
    BinaryDetector,
    DetectorConfig,
    MultiOutcomeDetector,
)
from clobflow.venues.polymarket.parsing import MarketParser

DATASET = "pm-btc15m-tob-1s"
CONFIG = DetectorConfig(target_size=10 * SCALE, min_margin=0, max_leg_skew_ns=1_000_000_000, mirror_tolerance=0)

METHOD = (
    "loop = one pass over all no-hit states calling check(); net = loop minus the same pass with no call; "
    "p50/p99 = per state, {batch} calls between two perf_counter_ns reads, empty batch subtracted, / {batch}; "
    "medians of {runs} runs, GC off"
)


# -- states -------------------------------------------------------------------------------------


def _frozen(tb: TrackedBook) -> TrackedBook:
    """A copy of ``tb`` that later updates do not touch (its levels, receive time and trust)."""
    c = TrackedBook(tb.book.asset_id)
    c.book.load(*tb.book.snapshot())
    c.book.ts_recv_ns = tb.book.ts_recv_ns
    c.state, c.reason = tb.state, tb.reason
    return c


def real_states(config: DetectorConfig = CONFIG, dataset: str = DATASET):
    """Replay ``dataset``; returns ``(states, detector, mirror_gaps)``.

    ``states``: one ``(yes, no, ts_ns, fee_schedule)`` per market touched by an event, with
    frozen books; ``detector`` checked each state once, live; ``mirror_gaps``: the larger
    mirror gap (micro price) of every hit.
    """
    ds = load_dataset(dataset)
    by_token = {t: m for m in ds.markets for t in m.token_ids}
    parser, books = MarketParser(), BookSet()
    det = BinaryDetector(config)
    frozen: dict[str, TrackedBook] = {}  # copy-on-write: a book is copied only when it changes
    states, gaps = [], []
    for f in ds.frames:
        for ev in parser.parse(f.frame, f.ts_recv_ns):
            touched = books.on_event(ev)
            markets = {}
            for a in touched:
                tb = books.get(a)
                if tb is not None:
                    frozen[a] = _frozen(tb)
                m = by_token.get(a)
                if m is not None:
                    markets[m.condition_id] = m
            for m in markets.values():
                yes, no = frozen.get(m.yes.token_id), frozen.get(m.no.token_id)
                if yes is None or no is None:
                    continue
                hit = det.check(yes, no, f.ts_recv_ns, m.fee_schedule)
                if hit is not None:
                    d = hit.detail
                    gaps.append(max(abs(d["yes_mirror_gap"] or 0), abs(d["no_mirror_gap"] or 0)))
                states.append((yes, no, f.ts_recv_ns, m.fee_schedule))
    return states, det, gaps


def synthetic_states(n: int, levels: int = 5, seed: int = 11):
    """``n`` consistent mirrored (YES, NO) pairs along a random walk of the YES mid (0.001 grid)."""
    rng = random.Random(seed)
    tick = 1_000
    mid = 500_000
    out = []
    for i in range(n):
        mid = min(900_000, max(100_000, mid + rng.choice((-tick, 0, tick))))
        half = rng.randint(1, 3) * tick
        bid, ask = mid - half, mid + half
        ybids = [(bid - k * tick, rng.randint(5, 5_000) * SCALE) for k in range(levels)]
        yasks = [(ask + k * tick, rng.randint(5, 5_000) * SCALE) for k in range(levels)]
        yes, no = TrackedBook("Y"), TrackedBook("N")
        yes.book.load(ybids, yasks)
        no.book.load([(ONE - p, s) for p, s in yasks], [(ONE - p, s) for p, s in ybids])
        for tb in (yes, no):
            tb.state = Trust.TRUSTED
            tb.book.ts_recv_ns = i
        out.append((yes, no, i, None))
    return out


def multi_states(n: int, outcomes: int, seed: int = 5):
    """``n`` consistent events of ``outcomes`` mirrored outcomes whose YES asks sum above 1."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        weights = [rng.random() + 0.1 for _ in range(outcomes)]
        total = sum(weights)
        pairs = []
        for k, w in enumerate(weights):
            ask = max(2_000, int(w / total * ONE) // 1_000 * 1_000 + 2_000)  # rounding + spread push the sum > 1
            bid = ask - 2_000
            yes, no = TrackedBook(f"Y{k}"), TrackedBook(f"N{k}")
            yes.book.load([(bid, 100 * SCALE)], [(ask, 100 * SCALE)])
            no.book.load([(ONE - ask, 100 * SCALE)], [(ONE - bid, 100 * SCALE)])
            for tb in (yes, no):
                tb.state = Trust.TRUSTED
                tb.book.ts_recv_ns = i
            pairs.append((yes, no))
        out.append(pairs)
    return out


# -- timing -------------------------------------------------------------------------------------


@contextmanager
def _quiet_gc():
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _empty_batch_ns(rep: range) -> float:
    """Median cost of an empty ``for _ in rep`` between two clock reads (subtracted per batch)."""
    clock = time.perf_counter_ns
    samples = []
    for _ in range(2_000):
        a = clock()
        for _ in rep:
            pass
        samples.append(clock() - a)
    return statistics.median(samples)


def _summary(loop_ns: int, empty_ns: int, per: list[float]) -> tuple[float, float, float, float]:
    """(loop ns/check, net ns/check, p50 ns, p99 ns) from one run's raw timings."""
    k = len(per)
    per.sort()
    return loop_ns / k, (loop_ns - empty_ns) / k, per[k // 2], per[min(k - 1, int(0.99 * k))]


def _time_binary(check, states, batch: int) -> tuple[float, float, float, float]:
    """One run of ``BinaryDetector.check`` over ``(yes, no, ts, schedule)`` states (see METHOD)."""
    clock, rep = time.perf_counter_ns, range(batch)
    with _quiet_gc():
        t0 = clock()
        for y, n, t, s in states:
            check(y, n, t, s)
        t1 = clock()
        for y, n, t, s in states:
            pass
        t2 = clock()
        base = _empty_batch_ns(rep)
        per = []
        for y, n, t, s in states:
            a = clock()
            for _ in rep:
                check(y, n, t, s)
            per.append((clock() - a - base) / batch)
    return _summary(t1 - t0, t2 - t1, per)


def _time_multi(check, events, batch: int) -> tuple[float, float, float, float]:
    """The same for ``MultiOutcomeDetector.check`` over lists of (YES, NO) pairs: the loops are
    spelled out per signature because any adapter (``*args``, ``partial``) would be timed too."""
    clock, rep = time.perf_counter_ns, range(batch)
    with _quiet_gc():
        t0 = clock()
        for ev in events:
            check(ev, 0, None, augmented=False)
        t1 = clock()
        for ev in events:
            pass
        t2 = clock()
        base = _empty_batch_ns(rep)
        per = []
        for ev in events:
            a = clock()
            for _ in rep:
                check(ev, 0, None, augmented=False)
            per.append((clock() - a - base) / batch)
    return _summary(t1 - t0, t2 - t1, per)


def _medians(runs: list[tuple[float, float, float, float]]) -> dict[str, float]:
    keys = ("loop_ns", "net_ns", "p50_ns", "p99_ns")
    return {k: statistics.median(r[i] for r in runs) for i, k in enumerate(keys)}


def _quantile(values: list[int], q: float) -> int | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


# -- sections -----------------------------------------------------------------------------------


def bench_detection(runs: int = 5, synthetic: int = 20_000, batch: int = 16, multi: int = 5_000) -> dict:
    """Detection cost and findings (see the module docstring). Returns a dict of plain numbers:
    ``real``/``synthetic``/``multi3``/``multi10`` timings (ns per check), ``hits`` (real data:
    counts by classification and reason, mirror-gap quantiles), ``config`` and ``method``."""
    t0 = time.perf_counter()
    states, live, gaps = real_states()
    replay_s = time.perf_counter() - t0
    # time only the states where nothing is found: the per-update cost that every update pays
    probe = BinaryDetector(CONFIG)
    quiet = [st for st in states if probe.check(*st) is None]
    hit_states = [st for st in states if probe.check(*st) is not None]
    out: dict = {
        "config": {f: getattr(CONFIG, f) for f in CONFIG.__struct_fields__},
        "method": METHOD.format(batch=batch, runs=runs),
        "replay_s": replay_s,
    }
    det = BinaryDetector(CONFIG)
    out["real"] = {"updates": len(states), "no_hit_updates": len(quiet),
                   **_medians([_time_binary(det.check, quiet, batch) for _ in range(runs)])}
    if hit_states:
        # the candidate path (walk, fees, classification, Hit) for contrast; loop-level only
        slow = [_time_binary(det.check, hit_states, 1) for _ in range(runs)]
        out["real"]["hit_path_ns"] = statistics.median(r[1] for r in slow)
    syn = synthetic_states(synthetic)
    det = BinaryDetector(CONFIG)
    timings = [_time_binary(det.check, syn, batch) for _ in range(runs)]
    assert det.counters["candidates"] == 0, "a consistent mirrored book produced a candidate"
    out["synthetic"] = {"updates": len(syn), **_medians(timings)}
    for k in (3, 10):
        events = multi_states(multi, k)
        mdet = MultiOutcomeDetector(CONFIG)
        timings = [_time_multi(mdet.check, events, batch) for _ in range(runs)]
        assert mdet.counters["candidates"] == 0, "a consistent event produced a candidate"
        out[f"multi{k}"] = {"events": len(events), **_medians(timings)}
    c = live.counters
    out["hits"] = {
        "checks": c["checks"],
        "candidates": c["candidates"],
        "below_margin": c["below_margin"],
        "executable": c["executable"],
        "inconsistent": c["inconsistent"],
        "by_reason": {r: n for r, n in live.by_reason.items() if n},
        "mirror_gap_p10": _quantile(gaps, 0.10),
        "mirror_gap_p50": _quantile(gaps, 0.50),
        "mirror_gap_min": min(gaps) if gaps else None,
        "markets_with_hits": len(Counter(st[0].book.asset_id for st in hit_states)),
    }
    return out


def _row(label: str, r: dict, n_key: str) -> str:
    return (f"  {label:34s} {r[n_key]:>7,}  loop {r['loop_ns']:6.0f} ns  net {r['net_ns']:6.0f} ns"
            f"  p50 {r['p50_ns']:6.0f} ns  p99 {r['p99_ns']:6.0f} ns")


def print_detection(res: dict) -> None:
    cfg = res["config"]
    print("== detection: BinaryDetector.check per book update, nothing found (fast path) ==")
    print(f"  method: {res['method']}")
    print(f"  config: {cfg}")
    print(f"  {'':34s} {'states':>7s}")
    print(_row(f"real {DATASET} (no-hit updates)", res["real"], "no_hit_updates"))
    print(_row("synthetic mirrored pairs", res["synthetic"], "updates"))
    print(_row("multi-outcome, 3 outcomes", res["multi3"], "events"))
    print(_row("multi-outcome, 10 outcomes", res["multi10"], "events"))
    if "hit_path_ns" in res["real"]:
        print(f"  candidate path on the real hits (walk + fees + classify + Hit): {res['real']['hit_path_ns']:,.0f} ns")
    h = res["hits"]
    print(f"== detection: findings on {DATASET} ({res['real']['updates']:,} pair updates, replay {res['replay_s']:.1f} s) ==")
    print(f"  candidates {h['candidates']:,}  below margin after walk/fees {h['below_margin']:,}"
          f"  -> executable {h['executable']:,}  inconsistent {h['inconsistent']:,}")
    print(f"  by reason: {h['by_reason']}  (in {h['markets_with_hits']} of the windows)")
    if h["mirror_gap_p50"] is not None:
        print(f"  larger mirror gap of a hit (micro price): min {h['mirror_gap_min']:,}"
              f"  p10 {h['mirror_gap_p10']:,}  p50 {h['mirror_gap_p50']:,}")


def bench_second_leg(windows: int = 300, runs: int = 5) -> dict:
    """Second-leg delay: wall time from a fill event reaching the strategy to the second-leg
    order returning from ``ctx.submit`` (risk checks and the hand-off to execution included),
    inside the real kernel with simulated execution. Each window: quote both sides, the Up ask
    trades through our bid, and the second leg fires on Down — as a FAK when Down's ask is at
    the ceiling (taker path) or as a post-only bid when it is not (maker path)."""
    from clobflow.book.book_set import BookSet
    from clobflow.core.clock import SimClock
    from clobflow.core.events import BookSnapshot
    from clobflow.core.markets import BinaryMarket, OutcomeToken
    from clobflow.engine.config import parse_config
    from clobflow.engine.modes import build_kernel
    from clobflow.observe.journal import Journal

    S, NS = 1_000_000, 10**9
    out: dict[str, list[float]] = {"taker": [], "maker": []}
    for _ in range(runs):
        for path, down_ask in (("taker", 490_000), ("maker", 530_000)):
            cfg = parse_config({
                "engine": {"mode": "backtest"}, "sim": {"submit_latency_ms": 0, "ack_latency_ms": 0},
                "strategies": [{"kind": "complete_set", "max_markets": windows + 1,
                                "max_total_exposure_usd": 10**9, "max_daily_loss_usd": 10**9}]})
            t0 = 1_766_745_000 * NS
            clock = SimClock(t0)
            books = BookSet()
            k = build_kernel(cfg, mode="backtest", run_id="bench-leg", clock=clock, books=books,
                             journal=Journal(), recorder=None)
            strat = k.strategies[0]
            k.start()
            for i in range(windows):
                m = BinaryMarket(f"0x{i}", f"btc-updown-15m-{i}", "q", OutcomeToken(f"U{i}", "Up"),
                                 OutcomeToken(f"D{i}", "Down"), 10_000, 5 * S, start_ns=t0, end_ns=t0 + 900 * NS)
                k.add_market(m)
                for step, (ub, ua, ua_sz) in enumerate(((480_000, 490_000, 100), (440_000, 470_000, 10))):
                    at = t0 + (10 + 2 * i + step) * NS  # time only moves forward
                    clock.set(at)
                    for asset, bid, ask, asz in ((f"U{i}", ub, ua, ua_sz), (f"D{i}", 470_000, down_ask, 100)):
                        ev = BookSnapshot(m.condition_id, asset, ((bid, 100 * S),), ((ask, asz * S),), f"h{at}", at, at)
                        k.on_event(ev, books.on_event(ev))
                    k.process_due(at)
            strat.log.close()
            if len(strat.leg_latencies_ns) < windows:
                rows = [(r.slug, r.action, r.reason) for r in strat.log.rows if r.action not in ("detect", "observe")]
                raise SystemExit(f"only {len(strat.leg_latencies_ns)} second legs: {rows[:30]}")
            out[path].extend(strat.leg_latencies_ns)
    res = {}
    for path, lat in out.items():
        lat.sort()
        res[path] = {"n": len(lat), "p50_us": _quantile(lat, 0.5) / 1000, "p99_us": _quantile(lat, 0.99) / 1000,
                     "max_us": lat[-1] / 1000}
    return res


def print_second_leg(res: dict) -> None:
    print("== second leg: fill event -> second-leg order (wall time, real kernel + risk + sim execution) ==")
    for path, r in res.items():
        print(f"  {path:6s} n={r['n']:,}  p50 {r['p50_us']:.1f} us  p99 {r['p99_us']:.1f} us  max {r['max_us']:.1f} us"
              f"   (target <= 2,000 us)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--synthetic", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=16)
    args = ap.parse_args()
    t0 = time.perf_counter()
    print_detection(bench_detection(runs=args.runs, synthetic=args.synthetic, batch=args.batch))
    print_second_leg(bench_second_leg(runs=args.runs))
    print(f"(total {time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
