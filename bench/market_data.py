"""Market-data hot path benchmark: parse + apply + top-5 imbalance per 2-leg ``price_change``.

Streams:
- ``burst``: the real capture ``fixtures/polymarket/ws_market/book_then_price_change_burst_2026-09.json``
  (49 price_change messages), replayed many times from its snapshot;
- ``generated``: a long synthetic stream (default 200,000 messages) on a ~30-level-a-side binary
  market, each message two mirrored entries (a level on YES and its complement on NO) with
  correct best_bid/best_ask.

Each message is parsed, applied to both books (with the top-of-book trust check) and followed by
one top-5 imbalance. For each stream it prints the per-message latency p50/p99 (median over runs) and throughput
(messages/s, median over runs) for three pipelines in the same process, and clobflow's ratio
against each reference:
- ``clobflow``: the engine's parser and ``BookSet`` with the Polymarket integrity checker;
- ``plain``: issue 11's reference, a plain pure-Python pipeline (msgspec typed decode into
  structs, list-indexed book with the best level last, incremental top-5), without trust checks;
- ``naive_json``: what a typical bot does (stdlib ``json``, a dict book sorted on every query). Finally it loads 1,000
token books (30 levels a side) and prints the process RSS.

Run: ``python bench/market_data.py [--messages N] [--runs R]``. Numbers, not pass/fail.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import time
from bisect import bisect_left
from pathlib import Path

import msgspec

from clobflow.book.book_set import BookSet
from clobflow.venues.polymarket.integrity import PolymarketIntegrity
from clobflow.venues.polymarket.parsing import MarketParser

ROOT = Path(__file__).resolve().parents[1]
BURST = ROOT / "fixtures" / "polymarket" / "ws_market" / "book_then_price_change_burst_2026-09.json"
YES = "7667056713091772381649057261554060553787846267246429199094006765912765807111"
NO = "5417956400964272335335531617609199106355304633076830368776998863549928002968"


# -- streams ------------------------------------------------------------------------------------


def burst_stream() -> tuple[list[bytes], list[bytes]]:
    """(setup frames, timed price_change frames) from the real capture."""
    msgs = json.loads(BURST.read_text())
    a = msgs[0]["asset_id"]
    b = next(c["asset_id"] for c in msgs[1]["price_changes"] if c["asset_id"] != a)
    book_a = msgs[0]
    # B's book is A's mirror (the capture has no snapshot for B)
    book_b = {
        "event_type": "book", "market": book_a["market"], "asset_id": b, "hash": "mirror",
        "timestamp": book_a["timestamp"],
        "bids": [{"price": _c(l["price"]), "size": l["size"]} for l in book_a["asks"]],
        "asks": [{"price": _c(l["price"]), "size": l["size"]} for l in book_a["bids"]],
    }
    setup = [json.dumps(book_a).encode(), json.dumps(book_b).encode()]
    timed = [json.dumps(m, separators=(",", ":")).encode() for m in msgs[1:] if m["event_type"] == "price_change"]
    return setup, timed


def _c(p: str) -> str:
    from decimal import Decimal

    return str(Decimal(1) - Decimal(p))


def generated_stream(n: int, levels: int = 30, seed: int = 7) -> tuple[list[bytes], list[bytes]]:
    """A binary market whose YES bids mirror NO asks; each message updates one YES level and
    its NO mirror, with the venue's best_bid/best_ask after the change."""
    rng = random.Random(seed)
    tick = 1  # in 0.001
    yes_bids = {500 - i * tick: rng.randint(5, 5000) * 100 for i in range(1, levels + 1)}
    yes_asks = {500 + i * tick: rng.randint(5, 5000) * 100 for i in range(1, levels + 1)}

    def fmt(milli: int) -> str:
        return f"0.{milli:03d}"

    def sz(centi: int) -> str:
        return f"{centi // 100}.{centi % 100:02d}"

    def book(asset: str, bids: dict, asks: dict) -> bytes:
        return json.dumps({
            "event_type": "book", "market": "0xbench", "asset_id": asset, "timestamp": "1790000000000",
            "hash": "h", "tick_size": "0.001",
            "bids": [{"price": fmt(p), "size": sz(s)} for p, s in sorted(bids.items())],
            "asks": [{"price": fmt(p), "size": sz(s)} for p, s in sorted(asks.items(), reverse=True)],
        }).encode()

    setup = [
        book(YES, yes_bids, yes_asks),
        book(NO, {1000 - p: s for p, s in yes_asks.items()}, {1000 - p: s for p, s in yes_bids.items()}),
    ]
    out = []
    ts = 1_790_000_000_000
    for i in range(n):
        ts += rng.randint(1, 50)
        side_bid = rng.random() < 0.5
        ladder = yes_bids if side_bid else yes_asks
        best_b, best_a = max(yes_bids), min(yes_asks)
        r = rng.random()
        if r < 0.70 or len(ladder) < 5:  # resize an existing level near the top
            keys = sorted(ladder, reverse=side_bid)[: min(8, len(ladder))]
            p = rng.choice(keys)
            ladder[p] = rng.randint(5, 5000) * 100
            size = ladder[p]
        elif r < 0.85:  # remove a level
            p = rng.choice(sorted(ladder, reverse=side_bid)[:10])
            if len(ladder) > 5:
                del ladder[p]
                size = 0
            else:
                size = ladder[p]
        else:  # add a level inside the spread or behind the top
            if side_bid:
                p = rng.choice([best_b + 1, best_b - rng.randint(1, 40)])
                if p >= best_a:
                    p = best_b - 1
            else:
                p = rng.choice([best_a - 1, best_a + rng.randint(1, 40)])
                if p <= best_b:
                    p = best_a + 1
            p = max(1, min(999, p))
            size = rng.randint(5, 5000) * 100
            ladder[p] = size
        bb, ba = max(yes_bids), min(yes_asks)
        entries = [
            {"asset_id": YES, "price": fmt(p), "size": sz(size), "side": "BUY" if side_bid else "SELL",
             "hash": f"{i:040x}", "best_bid": fmt(bb), "best_ask": fmt(ba)},
            {"asset_id": NO, "price": fmt(1000 - p), "size": sz(size), "side": "SELL" if side_bid else "BUY",
             "hash": f"{i + 1:040x}", "best_bid": fmt(1000 - ba), "best_ask": fmt(1000 - bb)},
        ]
        out.append(json.dumps({"market": "0xbench", "price_changes": entries, "timestamp": str(ts),
                               "event_type": "price_change"}, separators=(",", ":")).encode())
    return setup, out


# -- pipelines ----------------------------------------------------------------------------------


class Clobflow:
    name = "clobflow"

    def __init__(self) -> None:
        self.parser = MarketParser("polymarket")  # the engine's form: venue-qualified ids
        self.books = BookSet(checker=PolymarketIntegrity())

    def setup(self, frames: list[bytes]) -> None:
        for f in frames:
            for ev in self.parser.parse(f, 0):
                self.books.on_event(ev)

    def make_step(self):
        parse, on_event, get = self.parser.parse, self.books.on_event, self.books.get

        def step(frame: bytes, ts: int) -> float | None:
            # One imbalance per message, on its first token (in a binary market the other
            # token's top-5 imbalance is the mirror of it).
            imb = None
            for ev in parse(frame, ts):
                touched = on_event(ev)
                if touched:
                    imb = get(touched[0]).book.imbalance(5)
            return imb

        return step

    def check(self) -> str:
        c = self.books.counters
        return f"rejects={sum(self.parser.rejects.values())} mismatches={c['bbo_mismatches']}"


class Naive:
    """The old reference, what a typical bot does: json.loads, a dict per side, sort on every query."""

    name = "naive_json"

    def __init__(self) -> None:
        self.books: dict[str, dict[str, dict[float, float]]] = {}

    def setup(self, frames: list[bytes]) -> None:
        for f in frames:
            m = json.loads(f)
            self.books[m["asset_id"]] = {
                "bids": {float(l["price"]): float(l["size"]) for l in m["bids"]},
                "asks": {float(l["price"]): float(l["size"]) for l in m["asks"]},
            }

    def make_step(self):
        books = self.books

        def step(frame: bytes, ts: int) -> float | None:
            m = json.loads(frame)
            changes = m["price_changes"]
            for c in changes:
                b = books.setdefault(c["asset_id"], {"bids": {}, "asks": {}})
                side = b["bids"] if c["side"] == "BUY" else b["asks"]
                p, s = float(c["price"]), float(c["size"])
                if s == 0:
                    side.pop(p, None)
                else:
                    side[p] = s
            b = books[changes[0]["asset_id"]]
            bd = sum(v for _, v in sorted(b["bids"].items(), reverse=True)[:5])
            ad = sum(v for _, v in sorted(b["asks"].items())[:5])
            return (bd - ad) / (bd + ad) if bd + ad else None

        return step

    def check(self) -> str:
        return ""


class _PChange(msgspec.Struct, gc=False):
    asset_id: str
    price: str
    size: str
    side: str
    best_bid: str = ""
    best_ask: str = ""


class _PFrame(msgspec.Struct, gc=False):
    price_changes: list[_PChange]


class _PLevel(msgspec.Struct, gc=False):
    price: str
    size: str


class _PBook(msgspec.Struct, gc=False):
    asset_id: str
    bids: list[_PLevel]
    asks: list[_PLevel]


def _micros(s: str) -> int:
    whole, _, frac = s.partition(".")
    return int(whole or "0") * 1_000_000 + int((frac + "000000")[:6])


class Plain:
    """The plain pure-Python pipeline issue 11 measures clobflow against: msgspec typed decode
    into structs, decimal strings to integer micro-units through a memo, a list-indexed book
    with the best level last, and an incremental top-5 depth per side. No trust, no checks."""

    name = "plain"

    def __init__(self) -> None:
        self.dec = msgspec.json.Decoder(_PFrame)
        self.memo: dict[str, int] = {}
        # asset -> [bid_keys, bid_sizes, bid_top5, ask_keys, ask_sizes, ask_top5]
        self.books: dict[str, list] = {}

    def setup(self, frames: list[bytes]) -> None:
        dec = msgspec.json.Decoder(_PBook)
        for f in frames:
            m = dec.decode(f)
            b = sorted((_micros(l.price), _micros(l.size)) for l in m.bids)
            a = sorted((-_micros(l.price), _micros(l.size)) for l in m.asks)
            bs, as_ = [s for _, s in b], [s for _, s in a]
            self.books[m.asset_id] = [[k for k, _ in b], bs, sum(bs[-5:]), [k for k, _ in a], as_, sum(as_[-5:])]

    def make_step(self):
        decode, memo, books = self.dec.decode, self.memo, self.books

        def num(s: str) -> int:
            v = memo.get(s)
            if v is None:
                v = memo[s] = _micros(s)
            return v

        def step(frame: bytes, ts: int) -> float | None:
            changes = decode(frame).price_changes
            for c in changes:
                b = books[c.asset_id]
                o = 0 if c.side == "BUY" else 3
                keys, sizes = b[o], b[o + 1]
                p = num(c.price)
                size = num(c.size)
                key = p if o == 0 else -p
                n = len(keys)
                i = bisect_left(keys, key)
                if i < n and keys[i] == key:
                    if size:
                        if i >= n - 5:  # incremental: a resize inside the top 5
                            b[o + 2] += size - sizes[i]
                        sizes[i] = size
                        continue
                    del keys[i]
                    del sizes[i]
                elif size:
                    keys.insert(i, key)
                    sizes.insert(i, size)
                else:
                    continue
                if i >= n - 6:  # the top 5 changed membership
                    b[o + 2] = sum(sizes[-5:])
            b = books[changes[0].asset_id]
            bd, ad = b[2], b[5]
            return (bd - ad) / (bd + ad) if bd + ad else None

        return step

    def check(self) -> str:
        return ""


def run_once(pipeline_cls, setup, frames, reps: int, timed: bool):
    """One run: ``reps`` passes, each reloading the ``setup`` snapshots (untimed) and then
    stepping through ``frames``. Returns per-message latencies (ns) or the summed seconds."""
    p = pipeline_cls()
    step = p.make_step()
    clock = time.perf_counter_ns
    lat: list[int] = []
    total = 0
    gc.collect()
    gc.disable()
    try:
        for _ in range(reps):
            p.setup(setup)
            if timed:
                for f in frames:
                    t0 = clock()
                    step(f, t0)
                    lat.append(clock() - t0)
            else:
                t0 = clock()
                for f in frames:
                    step(f, 0)
                total += clock() - t0
        return (lat if timed else total / 1e9), p.check()
    finally:
        gc.enable()


def pct(values: list[int], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] / 1000.0


def bench_stream(label: str, setup, frames, runs: int, reps: int = 1) -> None:
    n = len(frames) * reps
    print(f"\n== {label}: {n:,} price_change messages, {runs} runs (median) ==")
    results = {}
    for cls in (Clobflow, Plain, Naive):
        p50s, p99s, rates = [], [], []
        note = ""
        for _ in range(runs):
            lat, note = run_once(cls, setup, frames, reps, timed=True)
            p50s.append(pct(lat, 0.50))
            p99s.append(pct(lat, 0.99))
            secs, _ = run_once(cls, setup, frames, reps, timed=False)
            rates.append(n / secs)
        results[cls.name] = (statistics.median(p50s), statistics.median(p99s), statistics.median(rates))
        p50, p99, rate = results[cls.name]
        print(f"  {cls.name:10s} p50 {p50:6.2f} µs   p99 {p99:6.2f} µs   {rate:12,.0f} msg/s   {note}")
    c = results["clobflow"]
    for ref in ("plain", "naive_json"):
        n = results[ref]
        print(f"  vs {ref:10s} p50 {n[0] / c[0]:5.2f}x, p99 {n[1] / c[1]:5.2f}x, throughput {c[2] / n[2]:5.2f}x"
              "  (>1 = clobflow faster)")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_memory(n_books: int = 1000, levels: int = 30) -> None:
    before = rss_mb()
    parser, books = MarketParser(), BookSet()
    rng = random.Random(1)
    for i in range(n_books):
        bids = [{"price": f"0.{500 - k:03d}", "size": f"{rng.randint(5, 99999)}.{rng.randint(0, 99):02d}"} for k in range(levels, 0, -1)]
        asks = [{"price": f"0.{501 + k:03d}", "size": f"{rng.randint(5, 99999)}.{rng.randint(0, 99):02d}"} for k in range(levels, 0, -1)]
        frame = json.dumps({"event_type": "book", "market": f"0x{i:064x}", "asset_id": str(10**76 + i),
                            "timestamp": "1790000000000", "hash": "h", "bids": bids, "asks": asks})
        for ev in parser.parse(frame, 0):
            books.on_event(ev)
    gc.collect()
    after = rss_mb()
    print(f"\n== memory: {len(books):,} token books x {levels} levels a side ==")
    print(f"  process RSS {after:.1f} MB (books added {after - before:.1f} MB; target <= 300 MB)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    bench_memory()  # first: later runs leave freed memory in the heap that the books would reuse
    setup, frames = burst_stream()
    reps = max(1, 20_000 // len(frames))
    # Each pass reloads the capture's snapshots (untimed), so every pass is the real sequence
    # on a trusted book. (Replaying the burst without them measured dropped deltas: the books
    # turned untrusted after the first pass.)
    bench_stream("real burst capture (repeated)", setup, frames, args.runs, reps)
    setup, frames = generated_stream(args.messages)
    bench_stream("generated stream, ~30 levels a side", setup, frames, args.runs)


if __name__ == "__main__":
    main()
