"""Fuzz harness shared by ``tests/venues/test_fuzz.py`` (a fixed sample in CI) and
``bench/fuzz.py`` (a million inputs): mutated real captures through every parser, the accepted
events through a ``BookSet``, and the checks that must hold whatever the input.

Checks (each violation is counted by kind, never raised, so a bench run reports them all):
- ``escaped``: an exception left ``parse`` (the contract is "never raises");
- ``uncounted``: a frame produced no event and was counted nowhere (rejects, text, ignored);
- ``accepted_out_of_range``: an event the parser accepted holds a value outside its range;
- ``trusted_bad_price`` / ``trusted_bad_size`` / ``trusted_crossed``: a *trusted* book holds a
  level outside (0, 1), a size <= 0, or is crossed or locked (best bid >= best ask).
"""

from __future__ import annotations

import gzip
import json
import random
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from clobflow.book.book_set import BookSet
from clobflow.core.events import (
    BestBidAsk,
    BookSnapshot,
    NewMarket,
    PriceChange,
    Side,
    TickSizeChange,
    Trade,
)
from clobflow.core.numbers import ONE
from clobflow.replay.source import iter_frames
from clobflow.testing.mutations import Mutator
from clobflow.venues.binance.parsing import TIME_MAX_NS, VALUE_MAX, SpotParser
from clobflow.venues.polymarket.integrity import PolymarketIntegrity
from clobflow.venues.polymarket.parsing import MarketParser
from clobflow.venues.polymarket.values import FEE_BPS_MAX, SIZE_MAX, TS_MAX_NS

ROOT = Path(__file__).resolve().parents[2]
PM_DIR = ROOT / "fixtures" / "polymarket" / "ws_market"
BN_DIR = ROOT / "fixtures" / "binance"
BURST = PM_DIR / "book_then_price_change_burst_2026-09.json"
TS = 1_790_000_000_000_000_000


def pm_seeds() -> list[Any]:
    """Every real market-channel capture: each event alone, and each array as captured."""
    out: list[Any] = []
    for f in sorted(PM_DIR.glob("*.json")):
        d = json.loads(f.read_text())
        if isinstance(d, list):
            out.extend(d)
            out.append(d)
        else:
            out.append(d)
    return out


def binance_seeds() -> list[Any]:
    """The real Binance captures (combined-stream frames) and the documented payloads, raw and
    wrapped."""
    out: list[Any] = []
    for f in sorted(BN_DIR.glob("ws_*.json")):
        out.append(json.loads(f.read_text()))
    docs = json.loads((BN_DIR / "docs_examples_2026-07.json").read_text())
    for kind, v in docs.items():
        if isinstance(v, dict):
            out.append(v)
            out.append({"stream": f"x@{kind}", "data": v})
    return out


class Tally:
    """What a fuzz run saw: inputs, parser rejects by reason, violations by kind, examples."""

    def __init__(self) -> None:
        self.inputs = 0
        self.events = 0
        self.rejects: Counter[str] = Counter()
        self.violations: Counter[str] = Counter()
        self.examples: dict[str, bytes | str] = {}
        self.trusted_checks = 0

    def violate(self, kind: str, example: bytes | str | object) -> None:
        self.violations[kind] += 1
        if kind not in self.examples:
            self.examples[kind] = example if isinstance(example, (bytes, str)) else repr(example)[:2000]

    def merge_rejects(self, parser: Any, prefix: str) -> None:
        for k, v in parser.rejects.items():
            self.rejects[f"{prefix}:{k}"] += v


# -- Polymarket: single frames and streams into books --------------------------------------------


def check_pm_event(ev: object) -> bool:
    """True when every value of an accepted event lies in its range (values.py)."""
    t = type(ev)
    if t is BookSnapshot:
        ok = all(0 < p < ONE and 0 <= s < SIZE_MAX for p, s in ev.bids + ev.asks)  # type: ignore[attr-defined]
        ok &= ev.tick_size is None or 0 < ev.tick_size < ONE  # type: ignore[attr-defined]
        return ok and 0 <= ev.ts_venue_ns < TS_MAX_NS  # type: ignore[attr-defined]
    if t is PriceChange:
        for c in ev.changes:  # type: ignore[attr-defined]
            if not (0 < c.price < ONE and 0 <= c.size < SIZE_MAX):
                return False
            if any(x is not None and not 0 < x < ONE for x in (c.best_bid, c.best_ask)):
                return False
        return 0 <= ev.ts_venue_ns < TS_MAX_NS  # type: ignore[attr-defined]
    if t is Trade:
        fee = ev.fee_rate_bps  # type: ignore[attr-defined]
        return (0 < ev.price < ONE and 0 < ev.size < SIZE_MAX  # type: ignore[attr-defined]
                and (fee is None or 0 <= fee <= FEE_BPS_MAX) and 0 <= ev.ts_venue_ns < TS_MAX_NS)  # type: ignore[attr-defined]
    if t is TickSizeChange:
        return 0 < ev.new_tick_size < ONE and 0 <= ev.old_tick_size < ONE  # type: ignore[attr-defined]
    if t is BestBidAsk:
        return all(x is None or 0 < x < ONE for x in (ev.best_bid, ev.best_ask))  # type: ignore[attr-defined]
    if t is NewMarket:
        return ev.tick_size is None or 0 < ev.tick_size < ONE  # type: ignore[attr-defined]
    return True


def check_trusted(books: BookSet, assets: tuple[str, ...], tally: Tally, frame: bytes | str) -> None:
    """The invariant of a trusted book, on every book the last event touched."""
    for a in assets:
        tb = books.get(a)
        if tb is None or not tb.trusted:
            continue
        tally.trusted_checks += 1
        b = tb.book
        levels = b.levels(Side.BUY) + b.levels(Side.SELL)
        if any(not 0 < p < ONE for p, _ in levels):
            tally.violate("trusted_bad_price", frame)
        if any(s <= 0 for _, s in levels):
            tally.violate("trusted_bad_size", frame)
        bid, ask = b.best_bid(), b.best_ask()
        if bid is not None and ask is not None and bid >= ask:
            tally.violate("trusted_crossed", frame)


def feed_pm(parser: MarketParser, books: BookSet | None, frame: bytes | str, tally: Tally) -> None:
    """One frame through the parser (and the books), every check applied."""
    tally.inputs += 1
    before = (sum(parser.rejects.values()), parser.text)
    try:
        events = parser.parse(frame, TS)
    except Exception as exc:  # noqa: BLE001 - counting is the point
        tally.violate(f"escaped:{type(exc).__name__}", frame)
        return
    tally.events += len(events)
    if not events and (sum(parser.rejects.values()), parser.text) == before and not _empty_array(frame):
        tally.violate("uncounted", frame)
    for ev in events:
        if not check_pm_event(ev):
            tally.violate("accepted_out_of_range", frame)
        if books is not None:
            try:
                changed = books.on_event(ev)
            except Exception as exc:  # noqa: BLE001
                tally.violate(f"book_raised:{type(exc).__name__}", frame)
                continue
            check_trusted(books, changed, tally, frame)


def pm_stream(rng: random.Random, mutator: Mutator, burst: list[dict], others: list[Any],
              rate: float) -> list[bytes]:
    """One session: the real burst (snapshot, then price changes) with other captured events
    slipped in, each message mutated with probability ``rate``, sometimes several per frame."""
    msgs: list[Any] = list(burst)
    for _ in range(rng.randrange(4)):
        msgs.insert(rng.randrange(len(msgs) + 1), rng.choice(others))
    frames: list[bytes] = []
    i = 0
    while i < len(msgs):
        k = 1 if rng.random() < 0.85 else rng.randrange(2, 5)
        group = msgs[i : i + k]
        i += k
        if rng.random() < rate:
            frames.append(mutator.mutate(group if k > 1 else group[0]))
        else:
            frames.append(json.dumps(group if k > 1 else group[0]).encode())
    return frames


def run_pm_streams(rng: random.Random, sessions: int, tally: Tally, rate: float = 0.3) -> None:
    seeds = pm_seeds()
    burst = json.loads(BURST.read_text())
    mutator = Mutator(seeds, rng)
    parser = MarketParser()
    for _ in range(sessions):
        books = BookSet(checker=PolymarketIntegrity())
        for frame in pm_stream(rng, mutator, burst, seeds, rate):
            feed_pm(parser, books, frame, tally)
    tally.merge_rejects(parser, "polymarket")


def run_pm_frames(rng: random.Random, n: int, tally: Tally) -> None:
    """``n`` independent hostile frames (every seed, every mutation, raw bytes)."""
    mutator = Mutator(pm_seeds(), rng)
    parser = MarketParser()
    for _ in range(n):
        feed_pm(parser, None, mutator.frame(), tally)
    tally.merge_rejects(parser, "polymarket")


def _empty_array(frame: bytes | str) -> bool:
    """``[]``: valid and eventless (the venue sends it after a subscription with no books)."""
    try:
        return json.loads(frame) == []
    except (ValueError, RecursionError):
        return False


# -- Binance ------------------------------------------------------------------------------------


def feed_binance(parser: SpotParser, frame: bytes | str, tally: Tally) -> None:
    tally.inputs += 1
    before = (sum(parser.rejects.values()), sum(parser.ignored.values()), parser.duplicates,
              parser.shutdowns)
    try:
        rows = parser.parse(frame, TS)
    except Exception as exc:  # noqa: BLE001
        tally.violate(f"escaped:{type(exc).__name__}", frame)
        return
    tally.events += len(rows)
    after = (sum(parser.rejects.values()), sum(parser.ignored.values()), parser.duplicates,
             parser.shutdowns)
    if not rows and after == before:
        tally.violate("uncounted", frame)
    for r in rows:
        if not (0 < r.price <= VALUE_MAX and 0 < r.size <= VALUE_MAX and 0 < r.ts_venue_ns < TIME_MAX_NS):
            tally.violate("accepted_out_of_range", frame)


def run_binance(rng: random.Random, n: int, tally: Tally) -> None:
    mutator = Mutator(binance_seeds(), rng)
    parser = SpotParser(dedupe=False)  # every accepted trade is checked, repeats included
    for _ in range(n):
        feed_binance(parser, mutator.frame(), tally)
    tally.merge_rejects(parser, "binance")


# -- the books replay reader --------------------------------------------------------------------


def hostile_file(rng: random.Random, mutator: Mutator, directory: Path) -> Path:
    """A recording in one of the formats ``iter_frames`` reads, with mutated lines/bytes."""
    burst = json.loads(BURST.read_text())
    kind = rng.choice(("jsonl", "raw", "json", "gz"))
    lines = []
    for m in burst[: rng.randrange(1, len(burst) + 1)]:
        msg = mutator.mutate(m) if rng.random() < 0.3 else json.dumps(m).encode()
        if kind in ("raw", "gz"):
            if rng.random() < 0.8:
                row = {"ts_recv_ns": rng.choice((TS, -1, "x", None, 10**30)) if rng.random() < 0.1 else TS,
                       "frame": msg.decode("utf-8", "replace")}
                lines.append(json.dumps(row).encode())
            else:
                lines.append(msg)
        else:
            lines.append(msg)
    if kind == "json":
        data = b"[" + b",".join(lines) + b"]"
        if rng.random() < 0.5:
            data = mutator._bytes(data)  # noqa: SLF001 - the same byte mutations
        path = directory / "f.json"
    else:
        data = b"\n".join(lines) + b"\n"
        path = directory / "f.jsonl"
    if kind == "gz":
        data = gzip.compress(data)
        if rng.random() < 0.3:
            data = data[: rng.randrange(len(data) + 1)]
        path = directory / "f.jsonl.gz"
    path.write_bytes(data)
    return path


def run_replay_files(rng: random.Random, n: int, tally: Tally) -> None:
    """``n`` hostile files through ``iter_frames`` + parser + books, as ``clobflow books`` reads
    them. ``iter_frames`` may refuse a whole file with ``ValueError`` (one line for the CLI);
    anything else escaping is a violation."""
    mutator = Mutator(pm_seeds(), rng)
    with tempfile.TemporaryDirectory() as d:
        for _ in range(n):
            path = hostile_file(rng, mutator, Path(d))
            parser = MarketParser()
            books = BookSet(checker=PolymarketIntegrity())
            try:
                for ts, frame in iter_frames(path):
                    if type(ts) is not int:
                        tally.violate("reader_bad_ts", repr(ts))
                    feed_pm(parser, books, frame, tally)
            except ValueError:
                tally.rejects["replay:file_refused"] += 1
            except Exception as exc:  # noqa: BLE001
                tally.violate(f"reader_escaped:{type(exc).__name__}", path.read_bytes()[:4000])
            tally.merge_rejects(parser, "replay")
