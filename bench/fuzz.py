"""Fuzz bench: a million hostile inputs through every parser, bounded in time.

Inputs (the harness of ``tests/venues/fuzzing.py``, on mutated real captures from fixtures/):
- Polymarket streams: the real book + price-change burst with other captured events slipped in,
  30 % of the messages mutated, fed through ``MarketParser`` into a ``BookSet`` with the venue's
  integrity checker; after every event each touched *trusted* book is checked;
- Polymarket single frames: every capture, every mutation kind, raw bytes;
- Binance frames: the real captures and documented payloads, mutated;
- recorded files through the ``books`` replay reader (``iter_frames``): mutated lines, broken gzip.

Prints inputs, events accepted, escaped exceptions (must be 0), frames counted nowhere (must be 0),
accepted events out of range (must be 0), trusted books that are out of range / crossed / locked
(must be 0), and parser rejects by reason. Exit status 1 when any of those is not 0.

Run: ``python bench/fuzz.py [--inputs 1000000] [--seconds 900] [--seed 1]``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the harness lives with the tests

from tests.venues import fuzzing as fz  # noqa: E402

# Share of the inputs per source, and the chunk each loop turn runs.
MIX = (("pm_streams", 0.45, 4), ("pm_frames", 0.35, 5000), ("binance", 0.18, 5000),
       ("replay_files", 0.02, 10))
# Kinds that are violations of the guarantees (anything else in Tally.violations is too).
MUST_BE_ZERO = ("escaped", "uncounted", "accepted_out_of_range", "trusted_bad_price",
                "trusted_bad_size", "trusted_crossed", "book_raised", "reader_escaped", "reader_bad_ts")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inputs", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=900.0, help="stop early past this time")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    tallies = {name: fz.Tally() for name, _, _ in MIX}
    t0 = time.monotonic()
    deadline = t0 + args.seconds
    total = 0
    while total < args.inputs and time.monotonic() < deadline:
        # run the source furthest below its share of the inputs so far
        name, _, chunk = min(MIX, key=lambda m: tallies[m[0]].inputs / m[1])
        t = tallies[name]
        if name == "pm_streams":
            fz.run_pm_streams(rng, chunk * 25, t)
        elif name == "pm_frames":
            fz.run_pm_frames(rng, chunk, t)
        elif name == "binance":
            fz.run_binance(rng, chunk, t)
        else:
            fz.run_replay_files(rng, chunk, t)
        total = sum(x.inputs for x in tallies.values())
    elapsed = time.monotonic() - t0
    return report(tallies, total, elapsed, args)


def report(tallies: dict[str, fz.Tally], total: int, elapsed: float, args: argparse.Namespace) -> int:
    print(f"fuzz: {total:,} inputs in {elapsed:.0f} s ({total / elapsed:,.0f}/s), seed {args.seed}"
          + ("" if total >= args.inputs else f"  [stopped by --seconds before {args.inputs:,}]"))
    bad = 0
    for name, t in tallies.items():
        esc = sum(v for k, v in t.violations.items() if k.startswith(("escaped", "reader_escaped")))
        print(f"  {name:13s} inputs {t.inputs:>9,}  events {t.events:>9,}  escaped {esc}"
              + (f"  trusted-book checks {t.trusted_checks:,}" if t.trusted_checks else ""))
        bad += sum(t.violations.values())
    print("violations (all must be 0):")
    merged: dict[str, int] = {k: 0 for k in MUST_BE_ZERO}
    for t in tallies.values():
        for k, v in t.violations.items():
            merged[k] = merged.get(k, 0) + v
    for k, v in merged.items():
        print(f"  {k:24s} {v}")
    print("rejects by reason:")
    rejects: dict[str, int] = {}
    for t in tallies.values():
        for k, v in t.rejects.items():
            rejects[k] = rejects.get(k, 0) + v
    for k in sorted(rejects):
        print(f"  {k:32s} {rejects[k]:>9,}")
    for t in tallies.values():
        for k, ex in t.examples.items():
            print(f"example {k}: {ex[:300]!r}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
