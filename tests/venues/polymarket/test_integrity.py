"""Polymarket's integrity checker inside a BookSet: the hash-versioned best bid/ask check, the
grace period, mirror seeding, and replay of the real price_change captures."""

from __future__ import annotations

import json
from pathlib import Path

from clobflow.book.binary import BinaryBook
from clobflow.book.book_set import BookSet as _BookSet
from clobflow.book.trust import Reason, Trust, TrustPolicy
from clobflow.core.events import (
    BookSnapshot,
    FeedStatus,
    LevelChange,
    PriceChange,
    Side,
)
from clobflow.core.markets import BinaryMarket, OutcomeToken
from clobflow.venues.polymarket.integrity import PolymarketIntegrity, seed_from_complement
from clobflow.venues.polymarket.parsing import MarketParser

FIX = Path(__file__).parents[3] / "fixtures" / "polymarket" / "ws_market"
S = 1_000_000


def BookSet(policy: TrustPolicy | None = None) -> _BookSet:  # noqa: N802 - reads like the class
    """A BookSet with Polymarket's checker, as the Polymarket adapter builds it."""
    return _BookSet(policy, PolymarketIntegrity())


def snap(asset="A", bids=((480_000, 10 * S),), asks=((520_000, 10 * S),), ts=1):
    return BookSnapshot("m", asset, tuple(bids), tuple(asks), "h0", ts, ts)


def pc(*changes, ts=2):
    return PriceChange("m", tuple(changes), ts, ts)


def ch(price, size, bb, ba, side=Side.BUY, asset="A", h="h1"):
    return LevelChange(asset, side, price, size, bb, ba, h)


def test_no_snapshot_means_untrusted_and_deltas_dropped():
    bs = BookSet()
    bs.on_event(pc(ch(490_000, S, 490_000, None)))
    assert bs.trust("A").state == Trust.UNTRUSTED and bs.trust("A").reason == Reason.NO_SNAPSHOT
    assert bs.counters["dropped_deltas"] == 1 and bs.book("A").empty


def test_snapshot_trusts_and_matching_delta_keeps_trust():
    bs = BookSet()
    bs.on_event(snap())
    assert bs.trust("A").trusted
    bs.on_event(pc(ch(490_000, S, 490_000, 520_000)))
    assert bs.trust("A").trusted and bs.book("A").best_bid() == 490_000
    assert bs.counters["bbo_mismatches"] == 0


def test_mismatch_suspect_then_repeated_untrusted_and_resync():
    bs = BookSet(TrustPolicy(mismatches_to_untrusted=3))
    bs.on_event(snap())
    # venue says best bid 0.50 but our book says 0.49: judged when the next version arrives
    bs.on_event(pc(ch(490_000, S, 500_000, 520_000, h="v1")))
    assert bs.trust("A").trusted  # pending, not yet judged
    bs.on_event(pc(ch(470_000, 2 * S, 500_000, 520_000, h="v2")))
    assert bs.trust("A").state == Trust.SUSPECT and bs.trust("A").reason == Reason.BBO_MISMATCH
    bs.on_event(pc(ch(460_000, 2 * S, 500_000, 520_000, h="v3")))
    bs.on_event(pc(ch(450_000, 2 * S, 500_000, 520_000, h="v4")))
    st = bs.trust("A")
    assert st.state == Trust.UNTRUSTED and st.reason == Reason.BBO_MISMATCH_REPEATED
    assert bs.take_resync() == ["A"] and bs.take_resync() == []
    # deltas are dropped until the snapshot; the snapshot restores trust
    # v4's own delta arrived after v3 was judged untrusted, so it was dropped too
    assert bs.counters["dropped_deltas"] == 1
    bs.on_event(pc(ch(440_000, S, 490_000, 520_000, h="v5")))
    assert bs.counters["dropped_deltas"] == 2
    bs.on_event(snap(ts=9))
    assert bs.trust("A").trusted


def test_mismatch_heals_when_a_later_version_matches():
    bs = BookSet()
    bs.on_event(snap())
    bs.on_event(pc(ch(490_000, S, 500_000, 520_000, h="v1")))
    bs.on_event(pc(ch(470_000, S, 500_000, 520_000, h="v2")))
    assert bs.trust("A").state == Trust.SUSPECT
    bs.on_event(pc(ch(500_000, S, 500_000, 520_000, h="v3")))
    assert bs.trust("A").trusted and bs.trust("A").reason == Reason.BBO_MATCH


def test_a_reconnected_book_is_not_judged_by_a_stale_pending_check():
    bs = BookSet(TrustPolicy(pending_grace_ns=1_000))
    bs.on_event(snap())
    bs.on_event(pc(ch(490_000, S, 500_000, 520_000, h="v1"), ts=10))
    bs.on_event(FeedStatus(("A",), "reconnecting", "closed", 20))
    bs.check_stale(5_000)
    assert bs.trust("A").reason == Reason.RECONNECT  # still waiting for its snapshot


def test_the_venue_check_counters_belong_to_the_checker():
    assert "bbo_checks" in BookSet().counters and "bbo_checks" not in _BookSet().counters


def test_pending_check_is_judged_after_the_grace_period():
    bs = BookSet(TrustPolicy(pending_grace_ns=1_000))
    bs.on_event(snap())
    bs.on_event(pc(ch(490_000, S, 500_000, 520_000, h="v1"), ts=10))
    assert bs.check_stale(500) == [] and bs.trust("A").trusted
    assert bs.check_stale(2_000) == ["A"] and bs.trust("A").state == Trust.SUSPECT


def test_change_without_hash_is_judged_at_once():
    bs = BookSet()
    bs.on_event(snap())
    bs.on_event(pc(ch(490_000, S, 500_000, 520_000, h="")))
    assert bs.trust("A").state == Trust.SUSPECT


def _seeded_burst():
    """The real burst capture, its first (book) message applied, and token B seeded as A's
    mirror (the capture has a snapshot for token A only; one matching engine serves both)."""
    msgs = json.loads((FIX / "book_then_price_change_burst_2026-09.json").read_text())
    parser, bs = MarketParser(), BookSet()
    a = msgs[0]["asset_id"]
    for ev in parser.parse(json.dumps(msgs[0]), 1):
        bs.on_event(ev)
    b = next(c["asset_id"] for c in msgs[1]["price_changes"] if c["asset_id"] != a)
    assert seed_from_complement(bs, b, a, 1)
    return msgs, parser, bs, a, b


def test_real_burst_local_top_equals_venue_top_for_every_version():
    """Done-criterion: replay the real capture; for every book version (hash group) the local top
    of book equals the venue's best_bid/best_ask on every entry of that version."""
    msgs, parser, bs, a, b = _seeded_burst()
    entries = []  # (asset, hash, venue top, local top after its message)
    checked = 0
    for i, m in enumerate(msgs[1:], start=1):
        for ev in parser.parse(json.dumps(m), i):
            bs.on_event(ev)
            if isinstance(ev, PriceChange):
                for c in ev.changes:
                    bk = bs.book(c.asset_id)
                    entries.append((c.asset_id, c.hash, (c.best_bid, c.best_ask), (bk.best_bid(), bk.best_ask())))
    # the last message of each (asset, hash) group carries the version's final state
    last_local = {}
    for asset, h, _venue, local in entries:
        last_local[(asset, h)] = local
    for asset, h, venue, _local in entries:
        assert last_local[(asset, h)] == venue, (asset[:6], h)
        checked += 1
    assert checked == 98
    assert bs.counters["bbo_mismatches"] == 0
    assert bs.trust(a).trusted and bs.trust(b).trusted
    assert sum(parser.rejects.values()) == 0


def test_burst_books_mirror_each_other_throughout():
    msgs, parser, bs, a, b = _seeded_burst()
    market = BinaryMarket("m", "s", "q", OutcomeToken(a, "Yes"), OutcomeToken(b, "No"), 1_000, 5 * S)
    view = BinaryBook(market, bs.book(a), bs.book(b))
    crossed = 0
    for i, m in enumerate(msgs[1:-1], start=1):
        for ev in parser.parse(json.dumps(m), i):
            bs.on_event(ev)
        assert view.is_mirrored(), i
        cost = view.complete_set_cost()
        # mirrored books: YES ask + NO ask = 1 + YES spread; never below 1: the fill's group
        # would hold its consumed levels for two messages (a crossed book, protocol.md §1.5),
        # but the first message's venue top removes them at once
        assert cost == 1_000_000 + view.yes.spread()
        crossed += cost < 1_000_000
    assert crossed == 0


def test_levels_beyond_the_venue_top_are_consumed_at_once():
    """A venue best bid below our bids (best ask above our asks) means those levels are gone:
    they are removed at once and counted, and the check matches without waiting."""
    bs = BookSet()
    bs.on_event(snap(bids=((480_000, S), (470_000, S), (460_000, S)), asks=((520_000, S), (530_000, S))))
    # a seller took 0.48 and 0.47, a buyer 0.52; the first message of the version removes 0.48
    # and reports the top after the whole match
    bs.on_event(pc(ch(480_000, 0, 460_000, 530_000, h="v1")))
    tb = bs.trust("A")
    assert bs.book("A").levels(Side.BUY) == [(460_000, S)]
    assert bs.book("A").levels(Side.SELL) == [(530_000, S)]
    assert bs.counters["consumed_levels"] == 2 and tb.tradeable and tb.pending is None
    # the group's later removals of the consumed levels change nothing
    bs.on_event(pc(ch(470_000, 0, 460_000, 530_000, h="v1"), ch(520_000, 0, 460_000, 530_000, Side.SELL, h="v1")))
    assert bs.counters["consumed_levels"] == 2 and bs.counters["bbo_mismatches"] == 0 and tb.tradeable


def test_consuming_does_not_invent_a_missing_level():
    """Bids above the venue's best bid go at once, but a venue top we do not hold yet (its level
    is in a later message of the version) stays a pending check: trusted, not tradeable."""
    bs = BookSet()
    bs.on_event(snap(bids=((480_000, S), (450_000, S)), asks=((520_000, S),)))
    bs.on_event(pc(ch(480_000, S // 2, 460_000, 520_000, h="v1")))  # 0.48 consumed; 0.46 not here yet
    tb = bs.trust("A")
    assert bs.book("A").best_bid() == 450_000 and bs.counters["consumed_levels"] == 1
    assert tb.trusted and not tb.tradeable and tb.hold_reason == "pending_check"
    bs.on_event(pc(ch(460_000, S, 460_000, 520_000, h="v1")))
    assert tb.tradeable and bs.counters["bbo_mismatches"] == 0


def test_an_empty_venue_side_consumes_nothing():
    """``None`` is both "empty side" and "not sent": no level is removed on it; the version's
    own removals (or the mismatch judgement) settle the side."""
    bs = BookSet()
    bs.on_event(snap(bids=((480_000, S),), asks=((520_000, S),)))
    bs.on_event(pc(ch(490_000, S, None, 520_000, h="v1")))
    assert bs.book("A").best_bid() == 490_000 and bs.counters["consumed_levels"] == 0
    assert not bs.trust("A").tradeable


def test_legacy_single_capture_applies_without_a_check():
    bs = BookSet()
    parser = MarketParser()
    (ev,) = parser.parse((FIX / "price_change_legacy_single_2024-08.json").read_bytes(), 1)
    asset = ev.changes[0].asset_id
    bs.on_event(snap(asset, bids=(), asks=((600_000, S),)))
    bs.on_event(ev)
    assert bs.book(asset).best_ask() == 514_000 and bs.trust(asset).trusted
