"""Soak: a paper run fed ~5k messages/s over loopback for a bounded time; prints the RSS slope
(MB/min) and the stalls.

The venue simulator runs as a subprocess (``clobflow venue``; its memory is not ours) replaying
the bundled L2 recording (``pm-btc1h-l2-1s``: two hourly BTC markets, ~1 frame/s, full books)
at ``--speed`` x, looping, so the feed, books, kernel, imbalance strategy, simulated execution,
journal and SQLite store of this process take ~``speed`` frames/s. RSS is sampled every
``--every`` seconds; the slope is a least-squares fit over the samples after ``--warmup``
seconds (imports, first books, caches filling). Loopback only.

Run: ``python bench/soak.py [--seconds 180] [--speed 5000] [--every 5] [--warmup 30]``.
Numbers, not pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tempfile
import time
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


def slope_mb_per_min(samples: list[tuple[float, float]]) -> float:
    n = len(samples)
    if n < 2:
        return float("nan")
    mt = sum(t for t, _ in samples) / n
    mr = sum(r for _, r in samples) / n
    var = sum((t - mt) ** 2 for t, _ in samples)
    return 60 * sum((t - mt) * (r - mr) for t, r in samples) / var if var else float("nan")


async def soak(http: str, seconds: float, every: float, warmup: float, out: Path) -> None:
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
    last_frames, last_t = 0, t0
    print(f"{'t_s':>6} {'rss_mb':>8} {'msg/s':>8} {'events':>10} {'stalls':>6} {'reconn':>6} {'untrusted':>9}")
    while (now := time.monotonic()) - t0 < seconds:
        await asyncio.sleep(every)
        now = time.monotonic()
        st = run.feed.data.stats()
        frames = st.get("frames", 0)
        rate = (frames - last_frames) / (now - last_t)
        last_frames, last_t = frames, now
        gc.collect()
        r = rss_mb()
        t = now - t0
        if t >= warmup:
            samples.append((t, r))
        untrusted = sum(1 for a in run.feed.token_market if (tb := run.feed.books.get(a)) and not tb.trusted)
        print(f"{t:6.0f} {r:8.1f} {rate:8.0f} {run.kernel.counters['events']:10d} {st.get('stalls', 0):6d} "
              f"{st.get('reconnects', 0):6d} {untrusted:9d}", flush=True)
    stop.set()
    await task
    st = run.feed.data.stats()
    total_t = time.monotonic() - t0
    print(f"\nsoak {total_t:.0f} s: {st.get('frames', 0) / total_t:.0f} msg/s average, "
          f"{run.kernel.counters['events']} events, {st.get('stalls', 0)} stalls, {st.get('reconnects', 0)} reconnects, "
          f"parser rejects {sum(st['parser']['rejects'].values())}")
    print(f"RSS {samples[0][1] if samples else float('nan'):.1f} -> {samples[-1][1] if samples else float('nan'):.1f} MB; "
          f"slope after {warmup:.0f} s warm-up: {slope_mb_per_min(samples):+.2f} MB/min")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=180)
    ap.add_argument("--speed", type=float, default=5000)
    ap.add_argument("--every", type=float, default=5)
    ap.add_argument("--warmup", type=float, default=30)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="clobflow-soak-") as tmp, \
            venue(speed=args.speed, dataset="pm-btc1h-l2-1s") as http:
        asyncio.run(soak(http, args.seconds, args.every, args.warmup, Path(tmp)))


if __name__ == "__main__":
    main()
