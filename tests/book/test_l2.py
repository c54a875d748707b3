"""L2 book against a naive reference (a dict sorted on every query), on random update sequences."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from clobflow.book.l2 import L2Book
from clobflow.core.events import ASK, BID, Side
from clobflow.core.numbers import SCALE


class NaiveBook:
    def __init__(self) -> None:
        self.sides: dict[int, dict[int, int]] = {0: {}, 1: {}}

    def set_level(self, side, price, size):
        if size > 0:
            self.sides[side][price] = size
        else:
            self.sides[side].pop(price, None)

    def levels(self, side, n=None):
        items = sorted(self.sides[side].items(), reverse=(side == 0))
        return items if n is None else items[:n]

    def best(self, side):
        lv = self.levels(side, 1)
        return lv[0][0] if lv else None

    def depth(self, side, n):
        return sum(s for _, s in self.levels(side, n))

    def walk(self, side, size):
        other = 1 - side
        left, num = size, 0
        for p, s in self.levels(other):
            take = min(s, left)
            num += p * take
            left -= take
            if left == 0:
                break
        return size - left, num // SCALE


prices = st.integers(min_value=1, max_value=999).map(lambda c: c * 1000)
sizes = st.one_of(st.just(0), st.integers(min_value=1, max_value=10**6).map(lambda s: s * 10_000))
ops = st.lists(st.tuples(st.sampled_from([BID, ASK]), prices, sizes), max_size=300)


@settings(max_examples=300, deadline=None)
@given(ops, st.integers(min_value=1, max_value=12), st.integers(min_value=1, max_value=10**9))
def test_random_updates_match_naive_book(seq, n, walk_size):
    book, ref = L2Book("t"), NaiveBook()
    for side, price, size in seq:
        book.set_level(side, price, size)
        ref.set_level(side, price, size)
    assert book.best_bid() == ref.best(0)
    assert book.best_ask() == ref.best(1)
    assert book.levels(BID) == ref.levels(0) and book.levels(ASK) == ref.levels(1)
    assert book.levels(BID, n) == ref.levels(0, n)
    assert book.bid_depth(n) == ref.depth(0, n) and book.ask_depth(n) == ref.depth(1, n)
    total = ref.depth(0, n) + ref.depth(1, n)
    expected_imb = None if total == 0 else (ref.depth(0, n) - ref.depth(1, n)) / total
    assert book.imbalance(n) == expected_imb
    for side in (Side.BUY, Side.SELL):
        assert book.walk(side, walk_size) == ref.walk(side, walk_size)
    assert len(book) == len(ref.sides[0]) + len(ref.sides[1])


@settings(max_examples=100, deadline=None)
@given(ops)
def test_load_equals_sequence_of_sets(seq):
    a = L2Book("t")
    for side, price, size in seq:
        a.set_level(side, price, size)
    b = L2Book("t")
    b.load(a.levels(BID), a.levels(ASK))
    assert a.snapshot() == b.snapshot()


def test_top_of_book_and_queries():
    b = L2Book("t")
    b.load([(480_000, 100 * SCALE), (470_000, 50 * SCALE)], [(520_000, 30 * SCALE), (530_000, 200 * SCALE)])
    assert (b.best_bid(), b.best_ask()) == (480_000, 520_000)
    assert (b.best_bid_size(), b.best_ask_size()) == (100 * SCALE, 30 * SCALE)
    assert b.mid() == 500_000 and b.spread() == 40_000
    # buy 100 shares: 30 @ 0.52 + 70 @ 0.53 = 15.6 + 37.1 = 52.7 dollars
    assert b.walk(Side.BUY, 100 * SCALE) == (100 * SCALE, 52_700_000)
    assert b.vwap(Side.BUY, 100 * SCALE) == 527_000
    assert b.vwap(Side.SELL, 1000 * SCALE) is None  # not enough bids
    assert b.imbalance(1) == (100 - 30) / 130
    b.set_level(Side.SELL, 520_000, 0)
    assert b.best_ask() == 530_000
    b.set_level(Side.BUY, 540_000, 1 * SCALE)  # transiently crossed: allowed
    assert b.spread() == -10_000


def test_empty_book():
    b = L2Book("t")
    assert b.best_bid() is None and b.mid() is None and b.spread() is None
    assert b.imbalance() is None and b.walk(Side.BUY, 5) == (0, 0)
    b.set_level(Side.BUY, 500_000, 0)  # deleting a missing level is a no-op
    assert b.empty


@settings(max_examples=150, deadline=None)
@given(ops, prices, prices)
def test_remove_beyond_a_top_matches_naive_book(seq, bid_top, ask_top):
    """``remove_bids_above(p)`` drops exactly the bids priced above p, ``remove_asks_below(p)``
    exactly the asks priced below p, and each returns how many it dropped."""
    book, ref = L2Book("t"), NaiveBook()
    for side, price, size in seq:
        book.set_level(side, price, size)
        ref.set_level(side, price, size)
    gone_b = [p for p in ref.sides[0] if p > bid_top]
    gone_a = [p for p in ref.sides[1] if p < ask_top]
    assert book.remove_bids_above(bid_top) == len(gone_b)
    assert book.remove_asks_below(ask_top) == len(gone_a)
    for p in gone_b:
        ref.set_level(0, p, 0)
    for p in gone_a:
        ref.set_level(1, p, 0)
    assert book.levels(BID) == ref.levels(0) and book.levels(ASK) == ref.levels(1)
    assert book.remove_bids_above(bid_top) == 0 and book.remove_asks_below(ask_top) == 0


@settings(max_examples=300, deadline=None)
@given(ops, prices, prices)
def test_incremental_top_depth_equals_a_fresh_sum_after_every_mutation(seq, bid_top, ask_top):
    """The top-5 depth kept incrementally equals ``sum`` of the best five sizes after every
    kind of mutation: set (resize, insert, delete, at or behind the top), remove beyond a top,
    load, clear."""
    book = L2Book("t")

    def fresh(side: int) -> int:
        return sum(s for _, s in book.levels(side, 5))

    def check() -> None:
        assert book.bid_depth(5) == fresh(BID) and book.ask_depth(5) == fresh(ASK)
        total = fresh(BID) + fresh(ASK)
        assert book.imbalance(5) == (None if total == 0 else (fresh(BID) - fresh(ASK)) / total)

    for side, price, size in seq:
        book.set_level(side, price, size)
        check()
    book.remove_bids_above(bid_top)
    book.remove_asks_below(ask_top)
    check()
    book.load(book.levels(ASK), book.levels(BID))
    check()
    book.clear()
    check()
    assert book.imbalance(5) is None
