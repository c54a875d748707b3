"""Venue-neutral trust rules of BookSet (no venue checker): snapshots, absolute and signed-delta
updates, the crossed/locked invariant, tick-size changes, reconnects, staleness, resolution.
Polymarket's own checks are in tests/venues/polymarket/test_integrity.py."""

from __future__ import annotations

from clobflow.book.book_set import BookSet
from clobflow.book.l2 import L2Book
from clobflow.book.trust import Reason, Trust, TrustPolicy
from clobflow.core.events import (
    BookSnapshot,
    FeedStatus,
    LevelChange,
    LevelDelta,
    MarketResolved,
    PriceChange,
    Side,
    TickSizeChange,
)

S = 1_000_000


def snap(asset="A", bids=((480_000, 10 * S),), asks=((520_000, 10 * S),), ts=1):
    return BookSnapshot("m", asset, tuple(bids), tuple(asks), "h0", ts, ts)


def pc(*changes, ts=2):
    return PriceChange("m", tuple(changes), ts, ts)


def ch(price, size, side=Side.BUY, asset="A"):
    return LevelChange(asset, side, price, size)


def delta(price, d, side=Side.BUY, asset="A", seq=1, ts=3):
    return LevelDelta("m", asset, side, price, d, seq, ts, ts)


def test_no_snapshot_means_untrusted_and_deltas_dropped():
    bs = BookSet()
    bs.on_event(pc(ch(490_000, S)))
    bs.on_event(delta(490_000, S))
    assert bs.trust("A").state == Trust.UNTRUSTED and bs.trust("A").reason == Reason.NO_SNAPSHOT
    assert bs.counters["dropped_deltas"] == 2 and bs.book("A").empty


def test_absolute_updates_keep_a_sane_book_trusted_without_venue_checks():
    bs = BookSet()
    bs.on_event(snap())
    assert bs.on_event(pc(ch(490_000, S), ch(500_000, 0, Side.SELL))) == ("A",)
    assert bs.trust("A").trusted and bs.book("A").best_bid() == 490_000


def test_signed_deltas_add_and_remove_size():
    bs = BookSet()
    bs.on_event(snap())
    assert bs.on_event(delta(480_000, -4 * S)) == ("A",)
    assert bs.book("A").best_bid_size() == 6 * S
    bs.on_event(delta(490_000, 3 * S))
    assert bs.book("A").best_bid() == 490_000 and bs.book("A").best_bid_size() == 3 * S
    bs.on_event(delta(490_000, -3 * S))
    assert bs.book("A").best_bid() == 480_000  # a level at 0 is gone
    assert bs.trust("A").trusted and bs.counters["level_changes"] == 3


def test_a_delta_that_would_go_negative_untrusts_and_asks_for_a_snapshot():
    bs = BookSet()
    bs.on_event(snap())
    bs.on_event(delta(480_000, -11 * S, ts=7))
    st = bs.trust("A")
    assert (st.state, st.reason, st.since_ns) == (Trust.UNTRUSTED, Reason.NEGATIVE_LEVEL, 7)
    assert bs.book("A").best_bid_size() == 10 * S  # the level itself is left as it was
    assert bs.take_resync() == ["A"]
    bs.on_event(snap(ts=9))
    assert bs.trust("A").trusted


def test_l2_apply_delta_contract():
    b = L2Book("A")
    assert b.apply_delta(Side.SELL, 600_000, 2 * S) and b.best_ask() == 600_000
    assert not b.apply_delta(Side.SELL, 600_000, -3 * S) and b.best_ask_size() == 2 * S
    assert not b.apply_delta(Side.BUY, 100_000, -1)  # no level is size 0; 0 - 1 < 0
    assert b.apply_delta(Side.SELL, 600_000, -2 * S) and b.empty


def test_a_crossed_or_locked_snapshot_is_never_trusted():
    bs = BookSet()
    bs.on_event(snap(bids=((520_000, S),), asks=((520_000, S),)))  # locked
    assert bs.trust("A").state == Trust.SUSPECT and bs.trust("A").reason == Reason.CROSSED
    bs.on_event(snap(bids=((530_000, S),), asks=((520_000, S),), ts=2))  # crossed
    assert not bs.trust("A").trusted and bs.book("A").crossed()


class _VouchForAnything:
    """A checker that marks every book it sees trusted (a venue check that "matched"): the
    BookSet's gate must still refuse to call a crossed book trusted."""

    counters = ()

    def bind(self, books):
        self.books = books

    def before_change(self, tb, change, ts_ns):
        pass

    def after_changes(self, tb, change, ts_ns):
        self.books.mark(tb, Trust.TRUSTED, Reason.BBO_MATCH, ts_ns)

    def on_delta(self, tb, event):
        pass

    def on_timer(self, tb, now_ns):
        tb.pending = None
        self.books.mark(tb, Trust.TRUSTED, Reason.BBO_MATCH, now_ns)


def test_no_path_to_trusted_accepts_a_crossed_book():
    """Every move to trusted passes one gate: a checker's match after a change or on the timer,
    and an explicit ``mark`` (as a mirror seed does), all end ``crossed`` on a crossed book."""
    bs = BookSet(checker=_VouchForAnything())
    bs.on_event(snap())
    bs.on_event(pc(ch(530_000, S), ts=5))  # crossed; the checker "matches" it
    st = bs.trust("A")
    assert (st.state, st.reason) == (Trust.SUSPECT, Reason.CROSSED)
    assert all(s != Trust.TRUSTED for t, _, s, _ in bs.transitions if t == 5)  # never trusted, even briefly
    st.pending = ("v", None, None, 0)
    bs.check_stale(6)  # the timer's judgement
    assert (st.state, st.reason) == (Trust.SUSPECT, Reason.CROSSED)
    bs.mark(st, Trust.TRUSTED, Reason.MIRROR, 7)
    assert (st.state, st.reason) == (Trust.SUSPECT, Reason.CROSSED)
    bs.on_event(pc(ch(530_000, 0), ts=8))  # uncrossed: trusted again
    assert st.trusted and st.tradeable


def test_a_delta_that_crosses_makes_the_book_suspect():
    bs = BookSet()
    bs.on_event(snap())
    bs.on_event(delta(520_000, S, side=Side.SELL, ts=4))  # no change of the top
    assert bs.trust("A").trusted
    bs.on_event(delta(470_000, S, side=Side.SELL, ts=5))  # an ask below the bid
    assert (bs.trust("A").state, bs.trust("A").reason) == (Trust.SUSPECT, Reason.CROSSED)
    bs.on_event(delta(470_000, -S, side=Side.SELL, ts=6))
    assert bs.trust("A").reason == Reason.UNCROSSED and bs.trust("A").tradeable


def test_tradeable_means_trusted_with_no_check_pending():
    bs = BookSet()
    tb = bs.track("A")
    assert not tb.tradeable and tb.hold_reason == Reason.NO_SNAPSHOT
    bs.on_event(snap())
    assert tb.tradeable and tb.hold_reason == ""
    tb.pending = ("v1", 500_000, 520_000, 2)  # what a venue checker keeps while it waits
    assert tb.trusted and not tb.tradeable and tb.hold_reason == "pending_check"
    bs.on_event(snap(ts=3))  # a snapshot replaces the book and its pending check
    assert tb.tradeable


def test_an_update_that_crosses_makes_the_book_suspect_until_it_uncrosses():
    bs = BookSet()
    bs.on_event(snap())
    bs.on_event(pc(ch(520_000, S), ts=5))  # bid at the ask: locked
    st = bs.trust("A")
    assert (st.state, st.reason, st.since_ns) == (Trust.SUSPECT, Reason.CROSSED, 5)
    bs.on_event(delta(530_000, S, ts=6))  # still crossed: stays suspect
    assert bs.trust("A").reason == Reason.CROSSED
    bs.on_event(pc(ch(520_000, 0), ch(530_000, 0), ts=7))
    assert bs.trust("A").trusted and bs.trust("A").reason == Reason.UNCROSSED
    # an empty side is not crossed
    bs.on_event(snap(bids=(), asks=((520_000, S),), ts=8))
    assert bs.trust("A").trusted


def test_uncrossing_does_not_heal_a_book_suspect_for_another_reason():
    bs = BookSet(TrustPolicy(stale_after_ns=10))
    bs.on_event(snap(ts=1))
    bs.check_stale(100)
    assert bs.trust("A").reason == Reason.STALE
    bs.on_event(pc(ch(490_000, S), ts=101))
    assert bs.trust("A").reason == Reason.STALE  # no venue check here to vouch for it


def test_tick_size_change_drops_the_book_until_a_fresh_snapshot():
    bs = BookSet()
    bs.on_event(snap())
    bs.on_event(TickSizeChange("m", "A", 10_000, 1_000, 3, 3))
    st = bs.trust("A")
    assert st.state == Trust.UNTRUSTED and st.reason == Reason.TICK_SIZE_CHANGE
    assert bs.book("A").empty and bs.book("A").tick_size == 1_000
    assert bs.take_resync() == ["A"]
    bs.on_event(snap(ts=5))
    assert bs.trust("A").trusted


def test_reconnect_stale_unsubscribe_and_resolution():
    bs = BookSet(TrustPolicy(stale_after_ns=100))
    bs.on_event(snap("A", ts=1))
    bs.on_event(snap("B", ts=1))
    bs.on_event(FeedStatus(("A",), "reconnecting", "closed", 5))
    assert bs.trust("A").state == Trust.UNTRUSTED and bs.trust("A").reason == Reason.RECONNECT
    assert bs.take_resync() == []  # the new connection's initial dump brings the snapshot
    assert bs.check_stale(200) == ["B"]
    assert bs.trust("B").state == Trust.SUSPECT and bs.trust("B").reason == Reason.STALE
    bs.on_event(snap("B", ts=300))
    assert bs.trust("B").trusted
    bs.on_event(MarketResolved("m", "1", ("B",), "B", "Yes", 350, 350))
    assert bs.trust("B").reason == Reason.RESOLVED and not bs.trust("B").trusted
    bs.on_event(FeedStatus(("B",), "unsubscribed", "", 400))
    assert "B" not in bs


def test_the_stale_timer_finds_every_live_book_among_many_idle_ones_in_book_order():
    """``check_stale`` walks only books that can change (not untrusted, or a check pending), but
    finds each of them, in the order the books were created, whatever order they came alive in."""
    bs = BookSet(TrustPolicy(stale_after_ns=100))
    idle = [f"idle{i}" for i in range(200)]
    for a in idle:
        bs.book(a)  # followed, never snapshotted: untrusted
    for a in ("C", "B", "A"):
        bs.book(a)
    for a, ts in (("A", 10), ("C", 20), ("B", 30)):  # alive in another order than created
        bs.on_event(snap(a, ts=ts))
    assert bs.check_stale(100) == []
    assert bs.check_stale(125) == ["C", "A"]  # A (10) and C (20) are stale; created C, B, A
    bs.on_event(MarketResolved("m", "1", ("B",), "B", "Yes", 126, 126))  # B untrusted: leaves
    assert bs.check_stale(500) == []
    bs.on_event(snap("B", ts=600))  # trusted again: watched again
    bs.on_event(snap("idle7", ts=600))
    assert bs.check_stale(700) == ["idle7", "B"]
    assert [bs.trust(a).reason for a in ("idle7", "B")] == [Reason.STALE, Reason.STALE]
