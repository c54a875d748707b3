"""Polymarket's integrity checker (sans-I/O): the venue's best bid/ask per book version, and the
mirror of a binary market's two books.

The venue's ``best_bid``/``best_ask`` on a ``price_change`` entry describe the book *version*
named by its ``hash``, and one fill is published as several messages sharing a hash
(protocol.md §1.5): every message of the group carries the top as it stands after the whole
match. So local levels *beyond* the venue's top (bids above its best bid, asks below its best
ask) are already consumed: they are removed at once and counted (``consumed_levels``), the
group's later removals of them then change nothing. A top that still does not match (a level
the venue has and we do not have yet) stays *pending* (``tb.pending`` holds
``(hash, venue best bid, venue best ask, since_ns)``) and is judged when that token's next
message carries a different hash, when the policy's grace period passes (``on_timer``), or never
(a snapshot replaces the book). A judged mismatch makes the book suspect;
``mismatches_to_untrusted`` in a row make it untrusted and request a resync. Changes without a
hash are judged at once; legacy frames without a top of book are not checked.

``seed_from_complement`` builds a token's book as the mirror of its complement's (one matching
engine serves both tokens: a bid at p on one is an ask at 1−p on the other).
"""

from __future__ import annotations

from clobflow.book.binary import mirror_levels
from clobflow.book.book_set import BookSet, TrackedBook
from clobflow.book.l2 import L2Book
from clobflow.book.trust import Reason, Trust
from clobflow.core.events import LevelChange, LevelDelta

TRUSTED = Trust.TRUSTED
UNTRUSTED = Trust.UNTRUSTED


class PolymarketIntegrity:
    """Judges each book version against the venue's own top of book (see the module map)."""

    counters = ("bbo_checks", "bbo_mismatches", "consumed_levels")

    __slots__ = ("books", "_counters", "_grace_ns", "_to_untrusted")

    books: BookSet

    def bind(self, books: BookSet) -> None:
        self.books = books
        self._counters = books.counters
        self._grace_ns = books.policy.pending_grace_ns
        self._to_untrusted = books.policy.mismatches_to_untrusted

    def before_change(self, tb: TrackedBook, change: LevelChange, ts_ns: int) -> None:
        p = tb.pending
        if p is not None and p[0] != change.hash:
            # A new version begins: the previous one is complete, judge it now.
            tb.pending = None
            self._judge(tb, p[1], p[2], ts_ns)

    def after_changes(self, tb: TrackedBook, change: LevelChange, ts_ns: int) -> None:
        vb = change.best_bid
        va = change.best_ask
        if vb is None and va is None:
            return  # legacy frames carry no top of book to check against
        book = tb.book
        k = book._bid_keys
        a = book._ask_keys
        if ((k[-1] if k else None) != vb or (-a[-1] if a else None) != va) and not self._consume(book, vb, va):
            h = change.hash
            if h:
                p = tb.pending
                tb.pending = (h, vb, va, p[3] if p is not None else ts_ns)
            else:
                self._judge(tb, vb, va, ts_ns)
            return
        self._counters["bbo_checks"] += 1
        tb.pending = None
        tb.mismatches = 0
        if tb.state:  # not TRUSTED
            self.books.mark(tb, TRUSTED, Reason.BBO_MATCH, ts_ns)

    def _consume(self, book: L2Book, vb: int | None, va: int | None) -> bool:
        """Remove the levels beyond the venue's top as consumed; True when the top then matches.

        The venue's top describes the book after the whole match, while the removal of each
        level it consumed arrives in later messages of the group (the real burst: the fill at
        0.301 reports best bid 0.29 while 0.311 and 0.301 are removed two messages later).
        Holding those levels meanwhile would show a crossed book with phantom liquidity. An
        empty side (``None``) removes nothing: ``None`` also means "not sent", and the group's
        own removals (or the mismatch judgement) settle it.
        """
        n = 0
        if vb is not None:
            k = book._bid_keys
            if k and k[-1] > vb:
                n = book.remove_bids_above(vb)
        if va is not None:
            k = book._ask_keys
            if k and -k[-1] < va:
                n += book.remove_asks_below(va)
        if not n:
            return False
        self._counters["consumed_levels"] += n
        return book.best_bid() == vb and book.best_ask() == va

    def on_delta(self, tb: TrackedBook, event: LevelDelta) -> None:
        pass  # Polymarket sends absolute sizes only

    def on_timer(self, tb: TrackedBook, now_ns: int) -> None:
        p = tb.pending
        if p is not None and now_ns - p[3] >= self._grace_ns:
            tb.pending = None
            self._judge(tb, p[1], p[2], now_ns)

    def _judge(self, tb: TrackedBook, vb: int | None, va: int | None, ts: int) -> None:
        """Compare the book's top with the venue's for a completed version; move trust."""
        if tb.state == UNTRUSTED:
            return  # waiting for a snapshot already (e.g. a reconnect): nothing to judge
        books = self.books
        book = tb.book
        self._counters["bbo_checks"] += 1
        if book.best_bid() == vb and book.best_ask() == va:
            tb.mismatches = 0
            if tb.state != TRUSTED:
                books.mark(tb, TRUSTED, Reason.BBO_MATCH, ts)
            return
        self._counters["bbo_mismatches"] += 1
        tb.mismatches += 1
        if tb.mismatches >= self._to_untrusted:
            books.request_resync(tb, Reason.BBO_MISMATCH_REPEATED, ts)
        else:
            books.mark(tb, Trust.SUSPECT, Reason.BBO_MISMATCH, ts)


def seed_from_complement(books: BookSet, asset_id: str, complement_id: str, ts_ns: int) -> bool:
    """Build ``asset_id``'s book as the mirror of its complement's trusted book.

    Used when the venue sent a snapshot for only one token of a binary market. The seeded book
    is marked trusted with reason ``mirror_of_complement``; the venue's best_bid/best_ask checks
    confirm or refute it on the next delta. Returns False when the complement has no trusted book.
    """
    src = books.get(complement_id)
    if src is None or src.state != TRUSTED:
        return False
    tb = books.track(asset_id)
    bids, asks = mirror_levels(src.book)
    tb.book.load(bids, asks)
    tb.book.tick_size = src.book.tick_size
    tb.last_update_ns = ts_ns
    tb.mismatches = 0
    tb.pending = None  # a check pending on the replaced book says nothing about this one
    books.mark(tb, TRUSTED, Reason.MIRROR, ts_ns)  # ``crossed`` instead if it is (BookSet's gate)
    return True
