"""Every real market-channel capture, replayed through the parser and a BookSet with Polymarket's
checker: after every ``price_change`` entry whose token has a book, our top of book is the
venue's ``best_bid``/``best_ask`` of that entry, and the book is tradeable (trusted, no check
pending). A token with no snapshot is seeded as its complement's mirror (one matching engine
serves both tokens), as ``clobflow books`` does.

Only the burst capture has a book for the tokens of its price_changes; the others are single
messages (or carry no top of book): they are replayed too, and the test says which entries
could not be compared and why, so a new capture with a book is compared automatically.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from clobflow.book.book_set import BookSet
from clobflow.book.trust import Reason
from clobflow.core.events import PriceChange
from clobflow.replay.source import iter_frames
from clobflow.venues.polymarket.integrity import PolymarketIntegrity, seed_from_complement
from clobflow.venues.polymarket.parsing import MarketParser

FIX = Path(__file__).parents[3] / "fixtures" / "polymarket" / "ws_market"
BURST = "book_then_price_change_burst_2026-09.json"
BURST_TOKENS = (
    "76670567130917723816490572615540605537878462672464291990940067659127658071111",  # the snapshot's
    "54179564009642723353355316176091991063553046330768303687769988635499280029688",  # its mirror
)


def _has_book(bs: BookSet, asset: str) -> bool:
    tb = bs.get(asset)
    return tb is not None and tb.reason != Reason.NO_SNAPSHOT


def replay(path: Path) -> tuple[Counter, Counter, list, BookSet]:
    """Replay one capture. Returns (matched entries per token, entries not comparable by
    reason, mismatches as (message, token, venue top, our top, trust), the BookSet)."""
    parser, bs = MarketParser(), BookSet(checker=PolymarketIntegrity())
    matched: Counter = Counter()
    skipped: Counter = Counter()
    wrong: list = []
    for i, (ts, frame) in enumerate(iter_frames(path)):
        for ev in parser.parse(frame, ts):
            if type(ev) is PriceChange:
                assets = sorted({c.asset_id for c in ev.changes})
                if len(assets) == 2:
                    for x, y in (assets, assets[::-1]):
                        if not _has_book(bs, x) and _has_book(bs, y):
                            assert seed_from_complement(bs, x, y, ts)
            bs.on_event(ev)
            if type(ev) is not PriceChange:
                continue
            last = {c.asset_id: c for c in ev.changes}  # a token's last entry carries its top
            for asset, c in last.items():
                if c.best_bid is None and c.best_ask is None:
                    skipped["no_top_in_message"] += 1
                    continue
                if not _has_book(bs, asset):
                    skipped["no_book_for_token"] += 1
                    continue
                tb = bs.get(asset)
                ours = (tb.book.best_bid(), tb.book.best_ask())
                if ours == (c.best_bid, c.best_ask) and tb.tradeable:
                    matched[asset] += 1
                else:
                    wrong.append((i, asset[:8], (c.best_bid, c.best_ask), ours, repr(tb), tb.tradeable))
    assert sum(parser.rejects.values()) == 0, parser.rejects
    return matched, skipped, wrong, bs


def test_every_capture_gives_the_venue_top_on_every_entry():
    captures = sorted(FIX.glob("*.json"))
    assert len(captures) >= 10
    compared = {}
    for path in captures:
        matched, skipped, wrong, _ = replay(path)
        assert wrong == [], (path.name, wrong)
        if matched:
            compared[path.name] = dict(matched)
        else:
            # nothing comparable: say why (single messages of a token with no book)
            assert set(skipped) <= {"no_top_in_message", "no_book_for_token"}, path.name
    assert compared == {BURST: {BURST_TOKENS[0]: 49, BURST_TOKENS[1]: 49}}


def test_burst_fill_consumes_the_levels_beyond_the_venue_top_at_once():
    """The fill at 0.301: its first message reports the top after the whole match (YES best bid
    0.29, NO best ask 0.71) while the removals of 0.311 and 0.301 (NO: 0.689 and 0.699) come two
    messages later. Those four levels are removed at once; no book is ever crossed; the venue
    checks never mismatch; both books end trusted and tradeable."""
    matched, _, wrong, bs = replay(FIX / BURST)
    assert wrong == [] and sum(matched.values()) == 98
    assert bs.counters["consumed_levels"] == 4
    assert bs.counters["bbo_mismatches"] == 0
    assert all(r != Reason.CROSSED for _, _, _, r in bs.transitions)
    yes, no = (bs.get(a) for a in BURST_TOKENS)
    assert yes.tradeable and no.tradeable
    assert (yes.book.best_bid(), yes.book.best_ask()) == (290_000, 301_000)
    assert (no.book.best_bid(), no.book.best_ask()) == (699_000, 710_000)
