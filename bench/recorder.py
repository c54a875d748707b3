"""Recorder benchmarks: frames/s recorded with no loss, and replay read speed.

(a) loopback: the venue simulator in its own process (``clobflow venue --speed 0``: as fast as
    the reader reads) replays the 66-window BTC 15-minute dataset (57,971 real frames, ~5 level
    changes each) to the ``clobflow record`` pipeline (``open_recorder`` + ``recording_feed``):
    a ``MarketFeed`` following every window hands each frame (``on_raw``) and its parsed events
    (``on_parsed``) to a ``Recorder``; with the tables and with ``--no-tables``. The feed parses
    and applies every frame on the event loop (its books drive resnapshots); the recorder
    derives the tables from those same events on its writer thread (one parse per frame). So
    this is the whole recording process: websockets + feed + writer.
    Printed per run: the receive rate (frames / time to the last frame), **end to end** (frames
    / time until every frame is acked and every row is in DuckDB, ``close`` included) and frames
    per CPU-second of the recording process (all its threads: the one-core figure; the
    simulator and anything else on the machine share the wall clock).
(b) recorder alone, frames offered as fast as a loop can, until all are acked and every row is
    in DuckDB (the writer's own capacity): *fed* (each frame's events, parsed beforehand as the
    feed parses them, follow it: what ``record`` does), *parsing* (frames only: the writer
    parses, like ``rebuild_tables``), and raw only.
(c) replay: ``iter_raw`` over what (a) wrote, alone and with ``MarketParser`` + ``BookSet``.

Each run prints received, acked, dropped, rows and rates; the summary is the median of runs.
Run: ``python bench/recorder.py [--runs R] [--skip-loopback]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from clobflow.book.book_set import BookSet
from clobflow.book.trust import TrustPolicy
from clobflow.venues.polymarket.feed import FeedConfig
from clobflow.engine import registry
from clobflow.engine.record import RecordConfig, open_recorder, recording_feed
from clobflow.recorder.embedded import DuckDBSink
from clobflow.recorder.raw_writer import RawReadStats, iter_raw
from clobflow.recorder.service import Recorder
from clobflow.sim.datasets import load_dataset
from clobflow.venues.polymarket.discovery import DiscoveryFilter
from clobflow.venues.polymarket.parsing import MarketParser
from clobflow.venues.polymarket.protocol import MarketStreamConfig

DATASET = "pm-btc15m-tob-1s"
ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}


def start_venue() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "clobflow.cli.main", "venue", "--dataset", DATASET, "--port", "0", "--speed", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT, env=_env())
    line = proc.stdout.readline()  # type: ignore[union-attr]
    m = re.search(r"http (http://127\.0\.0\.1:\d+)", line)
    if not m:
        proc.kill()
        raise SystemExit(f"venue did not start: {line!r}")
    return proc, m.group(1)


async def loopback_run(out: Path, slugs: tuple[str, ...], tables: bool = True) -> dict:
    proc, http = start_venue()
    try:
        ws = http.replace("http://", "ws://") + "/ws/market"
        flt = DiscoveryFilter(slugs=slugs, limit=len(slugs))
        feed_cfg = FeedConfig(ws_url=ws, gamma_url=http, clob_url=http, discovery=flt,
                              stream=MarketStreamConfig(stall_after_s=0), trust=TrustPolicy(stale_after_ns=0),
                              refresh_interval_s=3600)
        cfg = RecordConfig(out=out, feed=feed_cfg, health_interval_s=0, tables=tables)
        rec = open_recorder(cfg)
        feed = recording_feed(cfg, rec)
        t0, c0 = time.perf_counter(), time.process_time()
        await feed.start()
        async with httpx.AsyncClient(trust_env=False, timeout=10) as c:
            while True:
                await asyncio.sleep(0.05)
                st = (await c.get(f"{http}/_sim/state")).json()
                if st["finished"] and rec.received >= st["frames_sent"]:
                    break
                if time.perf_counter() - t0 > 300:
                    raise SystemExit(f"loopback run did not finish: {st}")
        t_recv = time.perf_counter()
        await feed.stop()
        await asyncio.to_thread(rec.close)
        t_done, c_done = time.perf_counter(), time.process_time()
        s = rec.stats()
        return {"sent": st["frames_sent"], "received": s["received"], "acked": s["acked"], "dropped": s["dropped"],
                "rows": sum(s["rows"].values()), "recv_s": t_recv - t0, "wall_s": t_done - t0, "cpu_s": c_done - c0,
                "mb": s["raw_bytes_compressed"] / 1e6, "dropped_slow": st["dropped_slow_consumers"]}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


def alone_run(out: Path, frames: list, mode: str, events: list) -> dict:
    """``mode``: fed | parsing | raw (see (b)); ``events``: each frame's, parsed beforehand."""
    sinks = [DuckDBSink(out, threads=1)] if mode != "raw" else []
    rec = Recorder(out, sinks, parsers=registry.recorded_parsers() if mode == "parsing" else None,
                   checkers=registry.recorded_checkers(), health_interval_s=0)
    hook = rec.events_hook() if mode == "fed" else None
    rec.start()
    t0, c0 = time.perf_counter(), time.process_time()
    on_raw = rec.on_raw
    if hook is not None:
        for fr, evs in zip(frames, events, strict=True):
            on_raw(fr.frame, fr.ts_recv_ns, 0)
            if evs:
                hook(evs)
    else:
        for fr in frames:
            on_raw(fr.frame, fr.ts_recv_ns, 0)
    t_offer = time.perf_counter()
    rec.close()
    t1, c1 = time.perf_counter(), time.process_time()
    s = rec.stats()
    return {"received": s["received"], "acked": s["acked"], "dropped": s["dropped"], "rows": sum(s["rows"].values()),
            "offer_us": (t_offer - t0) / len(frames) * 1e6, "wall_s": t1 - t0, "cpu_s": c1 - c0,
            "skipped": s["derive_skipped"]}


def replay_run(root: Path) -> tuple[float, float, int]:
    t = time.perf_counter()
    n = sum(1 for _ in iter_raw(root))
    read = n / (time.perf_counter() - t)
    parser, books = MarketParser(), BookSet()
    st = RawReadStats()
    t = time.perf_counter()
    for f in iter_raw(root, stats=st):
        for ev in parser.parse(f.frame, f.ts_recv_ns):
            books.on_event(ev)
    return read, st.frames / (time.perf_counter() - t), n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-loopback", action="store_true")
    args = ap.parse_args()
    ds = load_dataset(DATASET)
    slugs = tuple(m.slug for m in ds.markets)
    tmp = Path(tempfile.mkdtemp(prefix="clobflow-bench-rec-"))
    print(f"dataset {DATASET}: {len(ds.frames):,} frames, {len(ds.markets)} markets; python {sys.version.split()[0]}")
    try:
        if not args.skip_loopback:
            for tables in (True, False):
                what = "raw files + market log + DuckDB tables" if tables else "raw files + market log only (--no-tables)"
                print(f"\n(a) loopback: simulator process (speed 0) -> MarketFeed -> Recorder -> {what}")
                rates, e2e, cpu_rates = [], [], []
                for r in range(args.runs):
                    out = tmp / f"loop{int(tables)}{r}"
                    res = asyncio.run(loopback_run(out, slugs, tables))
                    rates.append(res["received"] / res["recv_s"])
                    e2e.append(res["received"] / res["wall_s"])
                    cpu_rates.append(res["received"] / res["cpu_s"])
                    ok = res["received"] == res["acked"] == res["sent"] and not res["dropped"]
                    print(f"  run {r + 1}: sent {res['sent']:,} received {res['received']:,} acked {res['acked']:,} "
                          f"dropped {res['dropped']} ({'no loss' if ok else 'LOSS'}) rows {res['rows']:,}; "
                          f"received at {rates[-1]:,.0f}/s, end to end {e2e[-1]:,.0f} frames/s "
                          f"({res['rows'] / res['wall_s']:,.0f} rows/s), wall {res['wall_s']:.2f} s "
                          f"(last frame at {res['recv_s']:.2f} s), cpu {res['cpu_s']:.2f} s, raw {res['mb']:.1f} MB")
                print(f"  median: received at {statistics.median(rates):,.0f} frames/s, end to end "
                      f"{statistics.median(e2e):,.0f} frames/s, {statistics.median(cpu_rates):,.0f} frames per "
                      "CPU-second of the recording process")
        parser = MarketParser("polymarket")  # as the live feed parses (qualified ids)
        events = [parser.parse(fr.frame, fr.ts_recv_ns) for fr in ds.frames]
        for mode in ("fed", "parsing", "raw"):
            what = {"fed": "fed each frame's events (as record is) -> all acked, all rows in DuckDB",
                    "parsing": "frames only, parsed on the writer -> all acked, all rows in DuckDB",
                    "raw": "all acked (raw only)"}[mode]
            print(f"\n(b) recorder alone, {what}")
            rates, cpu_rates = [], []
            for r in range(args.runs):
                out = tmp / f"alone-{mode}{r}"
                res = alone_run(out, ds.frames, mode, events)
                rates.append(res["received"] / res["wall_s"])
                cpu_rates.append(res["received"] / res["cpu_s"])
                print(f"  run {r + 1}: received {res['received']:,} acked {res['acked']:,} dropped {res['dropped']} "
                      f"not derived {res['skipped']} rows {res['rows']:,}; {rates[-1]:,.0f} frames/s, "
                      f"{res['rows'] / res['wall_s']:,.0f} rows/s into DuckDB, wall {res['wall_s']:.2f} s, "
                      f"cpu {res['cpu_s']:.2f} s; offer {res['offer_us']:.2f} us/frame")
            print(f"  median: {statistics.median(rates):,.0f} frames/s wall, "
                  f"{statistics.median(cpu_rates):,.0f} frames per CPU-second (all threads)")
        print("\n(c) replay of the recorded raw files")
        src = tmp / ("loop10" if not args.skip_loopback else "alone-raw0")
        reads, parses = [], []
        for _ in range(args.runs):
            read, parse, n = replay_run(src)
            reads.append(read)
            parses.append(parse)
        print(f"  {n:,} frames: iter_raw {statistics.median(reads):,.0f} frames/s; "
              f"iter_raw + parse + books {statistics.median(parses):,.0f} frames/s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
