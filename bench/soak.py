"""Soak: a paper run fed ~5k messages/s over loopback for a bounded time; prints the RSS slope
(MB/min) and the stalls.

The venue simulator runs as a subprocess (``clobflow venue``; its memory is not ours) replaying
the bundled L2 recording (``pm-btc1h-l2-1s``: two hourly BTC markets, ~1 frame/s, full books)
at ``--speed`` x, looping, so the feed, books, kernel, imbalance strategy, simulated execution,
journal and SQLite store of this process take ~``speed`` frames/s. RSS and malloc's bytes in
use (``mallinfo2``: what RSS counts minus the freed pages the allocator keeps) are sampled every
``--every`` seconds; each slope is a least-squares fit over the samples after ``--warmup``
seconds (imports, first books, caches filling), printed with the residual standard deviation
around the line (the noise). The 1-minute load average is printed too: the machine may be
shared. Loopback only.

``--tracemalloc N``: trace Python allocations (N frames each; slows the run, so the feed rate
drops), add the traced heap to every line and its slope to the summary (far less noisy than RSS:
no allocator arenas, no page cache), and print the N_TOP lines whose allocations grew most from
the end of the warm-up to the end, each with its traceback.

Run: ``python bench/soak.py [--seconds 180] [--speed 5000] [--every 5] [--warmup 30]
[--tracemalloc 1] [--top 15]``. Numbers, not pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from clobflow.engine.config import parse_config  # noqa: E402
from clobflow.engine.live import LiveRun, run_live  # noqa: E402
from tests.engine.procs import venue  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _fit(samples: list[tuple[float, float]]) -> tuple[float, float, float]:
    """Least-squares line through (seconds, MB): (slope in MB/s, mean time, mean MB)."""
    n = len(samples)
    mt = sum(t for t, _ in samples) / n
    mr = sum(r for _, r in samples) / n
    var = sum((t - mt) ** 2 for t, _ in samples)
    b = sum((t - mt) * (r - mr) for t, r in samples) / var if var else float("nan")
    return b, mt, mr


def slope_mb_per_min(samples: list[tuple[float, float]]) -> float:
    return 60 * _fit(samples)[0] if len(samples) >= 2 else float("nan")


def residual_sd(samples: list[tuple[float, float]]) -> float:
    """Standard deviation of the samples around their least-squares line (the noise, MB)."""
    n = len(samples)
    if n < 3:
        return float("nan")
    b, mt, mr = _fit(samples)
    return (sum((r - mr - b * (t - mt)) ** 2 for t, r in samples) / (n - 2)) ** 0.5


class _MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                "fsmblks", "uordblks", "fordblks", "keepcost")]


def malloc_mb() -> float:
    """Bytes in use by malloc (glibc ``mallinfo2``: ``uordblks + hblkhd``, MB): the C heap
    (SQLite's page cache, Python's large objects) without the freed pages RSS still counts."""
    try:
        f = ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError):
        return float("nan")
    f.restype = _MallInfo2
    m = f()
    return (m.uordblks + m.hblkhd) / 2**20


def heap_mb() -> float:
    """Python heap traced by tracemalloc (MB), or nan when not tracing."""
    return tracemalloc.get_traced_memory()[0] / 2**20 if tracemalloc.is_tracing() else float("nan")


def growth_report(base: tracemalloc.Snapshot, end: tracemalloc.Snapshot, top: int) -> None:
    """The ``top`` source lines whose live allocations grew most between two snapshots."""
    skip = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap>")]
    base, end = base.filter_traces(skip), end.filter_traces(skip)
    diffs = end.compare_to(base, "traceback")
    diffs.sort(key=lambda d: d.size_diff, reverse=True)
    print(f"\ntop {top} growth sites (tracemalloc, warm-up end -> end):")
    for d in diffs[:top]:
        frames = list(d.traceback)
        where = " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in reversed(frames[-4:]))
        print(f"  {d.size_diff / 1024:+9.1f} KiB {d.count_diff:+8d} blocks  {where}")


async def soak(http: str, seconds: float, every: float, warmup: float, out: Path, top: int) -> None:
    cfg = parse_config({
        "engine": {"mode": "paper", "timer_interval_s": 1},
        "feed": {"stall_after_s": 10, "stale_after_s": 30, "subscription_refresh_interval_s": 5},
        "strategies": [{"name": "imbalance", "max_hours_to_close": 48,
                        "min_minutes_to_close": 0, "categories": []}],
    })
    holder: list[LiveRun] = []
    stop = asyncio.Event()
    ws = http.replace("http://", "ws://") + "/ws/market"
    task = asyncio.create_task(run_live(cfg, "paper", out, ws_url=ws, gamma_url=http, clob_url=http,
                                        stop_event=stop, on_started=holder.append, log=lambda s: None))
    while not holder:
        if task.done():
            await task
        await asyncio.sleep(0.1)
    run = holder[0]
    t0 = time.monotonic()
    samples: list[tuple[float, float]] = []
    heap: list[tuple[float, float]] = []
    mall: list[tuple[float, float]] = []
    base: tracemalloc.Snapshot | None = None
    last_frames, last_t = 0, t0
    print(f"{'t_s':>6} {'rss_mb':>8} {'malloc_mb':>9} {'heap_mb':>8} {'msg/s':>8} {'events':>10} {'stalls':>6} {'reconn':>6} "
          f"{'untrusted':>9} {'load1':>5}")
    while (now := time.monotonic()) - t0 < seconds:
        await asyncio.sleep(every)
        now = time.monotonic()
        st = run.feed.data.stats()
        frames = st.get("frames", 0)
        rate = (frames - last_frames) / (now - last_t)
        last_frames, last_t = frames, now
        gc.collect()
        r, h, ma = rss_mb(), heap_mb(), malloc_mb()
        t = now - t0
        if t >= warmup:
            samples.append((t, r))
            heap.append((t, h))
            mall.append((t, ma))
            if base is None and tracemalloc.is_tracing():
                base = tracemalloc.take_snapshot()
        untrusted = sum(1 for a in run.feed.token_market if (tb := run.feed.books.get(a)) and not tb.trusted)
        print(f"{t:6.0f} {r:8.1f} {ma:9.2f} {h:8.2f} {rate:8.0f} {run.kernel.counters['events']:10d} {st.get('stalls', 0):6d} "
              f"{st.get('reconnects', 0):6d} {untrusted:9d} {os.getloadavg()[0]:5.2f}", flush=True)
    end = tracemalloc.take_snapshot() if base is not None else None
    stop.set()
    await task
    st = run.feed.data.stats()
    total_t = time.monotonic() - t0
    print(f"\nsoak {total_t:.0f} s: {st.get('frames', 0) / total_t:.0f} msg/s average, "
          f"{run.kernel.counters['events']} events, {st.get('stalls', 0)} stalls, {st.get('reconnects', 0)} reconnects, "
          f"parser rejects {sum(st['parser']['rejects'].values())}")
    print(f"RSS {samples[0][1] if samples else float('nan'):.1f} -> {samples[-1][1] if samples else float('nan'):.1f} MB; "
          f"slope after {warmup:.0f} s warm-up: {slope_mb_per_min(samples):+.3f} MB/min "
          f"(residual sd {residual_sd(samples):.2f} MB)")
    if mall:
        print(f"malloc in use {mall[0][1]:.2f} -> {mall[-1][1]:.2f} MB; slope {slope_mb_per_min(mall):+.3f} MB/min "
              f"(residual sd {residual_sd(mall):.2f} MB)")
    if base is not None and end is not None:
        print(f"traced Python heap {heap[0][1]:.2f} -> {heap[-1][1]:.2f} MB; slope {slope_mb_per_min(heap):+.4f} MB/min "
              f"(residual sd {residual_sd(heap):.3f} MB)")
        growth_report(base, end, top)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=180)
    ap.add_argument("--speed", type=float, default=5000)
    ap.add_argument("--every", type=float, default=5)
    ap.add_argument("--warmup", type=float, default=30)
    ap.add_argument("--tracemalloc", type=int, default=0, metavar="N",
                    help="trace allocations with N frames each (0: off)")
    ap.add_argument("--top", type=int, default=15, help="growth sites to print with --tracemalloc")
    args = ap.parse_args()
    if args.tracemalloc:
        tracemalloc.start(args.tracemalloc)
    with tempfile.TemporaryDirectory(prefix="clobflow-soak-") as tmp, \
            venue(speed=args.speed, dataset="pm-btc1h-l2-1s") as http:
        asyncio.run(soak(http, args.seconds, args.every, args.warmup, Path(tmp), args.top))


if __name__ == "__main__":
    main()
