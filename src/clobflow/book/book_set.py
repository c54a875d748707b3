"""The set of books a feed maintains, with trust tracking. Pure: events in, state and resync
requests out; no I/O, no clock reads (times come from the events or the caller).

Map:
- ``on_event(event)`` routes any market event; returns the asset ids whose book changed.
- ``BookSnapshot`` replaces a book and makes it trusted.
- ``PriceChange`` applies each level to its own token's book (deltas for a book that awaits a
  snapshot are dropped and counted), then compares each touched book's top with the venue's
  ``best_bid``/``best_ask``. The venue's values describe the book *version* named by ``hash``,
  and one fill is published as several messages sharing a hash (protocol.md §1.5; the real
  burst fixture shows the top agreeing only after the group's last message). So a check that
  does not match yet stays *pending* and is judged when that token's next message carries a
  different hash, when the policy's grace period passes (``check_stale``), or never (a snapshot
  replaces the book). A judged mismatch makes the book suspect; ``mismatches_to_untrusted`` in a
  row make it untrusted and put it on ``resync``. Changes without a hash are judged at once.
- ``TickSizeChange`` drops the book and puts it on ``resync``.
- ``FeedStatus("reconnecting")`` marks the named books untrusted until their new snapshot.
- ``check_stale(now_ns)`` marks subscribed books with no recent update suspect.

``resync`` is the set of tokens whose snapshot must be fetched again; the feed's protocol layer
drains it (``take_resync``).
"""

from __future__ import annotations

from clobflow.book.l2 import L2Book
from clobflow.book.trust import Reason, Trust, TrustPolicy
from clobflow.core.events import (
    BookSnapshot,
    FeedStatus,
    MarketResolved,
    PriceChange,
    TickSizeChange,
)


TRUSTED = Trust.TRUSTED
UNTRUSTED = Trust.UNTRUSTED


class TrackedBook:
    """A book with its trust state and bookkeeping.

    ``state``/``reason``/``since_ns``: current trust and the receive time of its last change;
    ``mismatches``: consecutive judged top-of-book mismatches; ``pending``: a version whose top
    did not match yet, ``(hash, venue best bid, venue best ask, since_ns)``.
    """

    __slots__ = ("book", "state", "reason", "since_ns", "mismatches", "pending", "last_update_ns", "updates")

    def __init__(self, asset_id: str) -> None:
        self.book = L2Book(asset_id)
        self.state = Trust.UNTRUSTED
        self.reason = Reason.NO_SNAPSHOT
        self.since_ns = 0
        self.mismatches = 0
        self.pending: tuple[str, int | None, int | None, int] | None = None
        self.last_update_ns = 0
        self.updates = 0

    @property
    def trusted(self) -> bool:
        return self.state == Trust.TRUSTED

    def __repr__(self) -> str:
        return f"{self.state.name.lower()}({self.reason})"


class BookSet:
    """Books by token id, updated from market events, each with a trust state."""

    __slots__ = ("policy", "_books", "resync", "counters", "transitions")

    def __init__(self, policy: TrustPolicy | None = None) -> None:
        self.policy = policy or TrustPolicy()
        self._books: dict[str, TrackedBook] = {}
        self.resync: set[str] = set()
        self.counters: dict[str, int] = {
            "snapshots": 0,
            "level_changes": 0,
            "dropped_deltas": 0,
            "bbo_checks": 0,
            "bbo_mismatches": 0,
            "resyncs_requested": 0,
        }
        # (ts_ns, asset_id, state, reason) for every trust change; bounded by the caller's reads.
        self.transitions: list[tuple[int, str, Trust, str]] = []

    # -- access ----------------------------------------------------------------------------

    def __contains__(self, asset_id: str) -> bool:
        return asset_id in self._books

    def __len__(self) -> int:
        return len(self._books)

    def get(self, asset_id: str) -> TrackedBook | None:
        return self._books.get(asset_id)

    def get_book(self, asset_id: str) -> L2Book | None:
        """The book of ``asset_id`` if tracked, else ``None`` (never creates one)."""
        tb = self._books.get(asset_id)
        return None if tb is None else tb.book

    def book(self, asset_id: str) -> L2Book:
        """The book of ``asset_id`` (created empty and untrusted if unknown)."""
        return self.track(asset_id).book

    def trust(self, asset_id: str) -> TrackedBook:
        """The tracked book of ``asset_id``: ``.state``, ``.reason``, ``.trusted``, ``.since_ns``."""
        return self.track(asset_id)

    def track(self, asset_id: str) -> TrackedBook:
        tb = self._books.get(asset_id)
        if tb is None:
            tb = self._books[asset_id] = TrackedBook(asset_id)
        return tb

    def forget(self, asset_id: str) -> None:
        """Stop tracking a token (unsubscribed)."""
        self._books.pop(asset_id, None)
        self.resync.discard(asset_id)

    def asset_ids(self) -> list[str]:
        return list(self._books)

    def take_resync(self) -> list[str]:
        """The tokens that need a fresh snapshot, once each; clears the set."""
        out = sorted(self.resync)
        self.resync.clear()
        return out

    # -- events ----------------------------------------------------------------------------

    def on_event(self, ev: object) -> tuple[str, ...]:
        """Apply one event; returns the token ids whose book changed (may be empty)."""
        if type(ev) is PriceChange:
            return self.apply_price_change(ev)
        if type(ev) is BookSnapshot:
            self.apply_snapshot(ev)
            return (ev.asset_id,)
        if type(ev) is TickSizeChange:
            self.apply_tick_size_change(ev)
            return (ev.asset_id,)
        if type(ev) is FeedStatus:
            return self.apply_feed_status(ev)
        if type(ev) is MarketResolved:
            for a in ev.asset_ids:
                tb = self._books.get(a)
                if tb is not None:
                    self._transition(tb, Trust.UNTRUSTED, Reason.RESOLVED, ev.ts_recv_ns)
            return ev.asset_ids
        return ()

    def apply_snapshot(self, ev: BookSnapshot) -> None:
        tb = self.track(ev.asset_id)
        book = tb.book
        book.load(ev.bids, ev.asks)
        if ev.tick_size is not None:
            book.tick_size = ev.tick_size
        book.hash = ev.hash
        book.ts_venue_ns = ev.ts_venue_ns
        book.ts_recv_ns = ev.ts_recv_ns
        tb.last_update_ns = ev.ts_recv_ns
        tb.updates += 1
        tb.mismatches = 0
        tb.pending = None
        self.counters["snapshots"] += 1
        self.resync.discard(ev.asset_id)
        self._transition(tb, Trust.TRUSTED, Reason.SNAPSHOT, ev.ts_recv_ns)

    def apply_price_change(self, ev: PriceChange) -> tuple[str, ...]:
        books = self._books
        changes = ev.changes
        n = len(changes)
        # The venue's top of book is checked after a token's *last* entry in the message. The
        # usual message has one entry per token, where every entry is its token's last.
        last: dict[str, int] | None = None
        if n > 2 or (n == 2 and changes[0].asset_id == changes[1].asset_id):
            last = {c.asset_id: i for i, c in enumerate(changes)}
        touched: list[str] = []
        dropped = 0
        checks = 0
        ts = ev.ts_recv_ns
        tv = ev.ts_venue_ns
        for i, ch in enumerate(changes):
            asset = ch.asset_id
            tb = books.get(asset)
            if tb is None:
                tb = self.track(asset)
            if tb.state == UNTRUSTED:
                # No valid base to apply a delta to: wait for the snapshot.
                dropped += 1
                continue
            h = ch.hash
            p = tb.pending
            if p is not None and p[0] != h:
                # A new version begins: the previous one is complete, judge it now.
                tb.pending = None
                self._judge(tb, p[1], p[2], ts)
                if tb.state == UNTRUSTED:
                    dropped += 1
                    continue
            book = tb.book
            book.set_level(ch.side, ch.price, ch.size)
            if last is not None and last[asset] != i:
                continue
            touched.append(asset)
            book.ts_venue_ns = tv
            book.ts_recv_ns = ts
            book.hash = h
            tb.last_update_ns = ts
            tb.updates += 1
            vb = ch.best_bid
            va = ch.best_ask
            if vb is None and va is None:
                continue  # legacy frames carry no top of book to check against
            k = book._bid_keys
            if (k[-1] if k else None) == vb:
                k = book._ask_keys
                if (-k[-1] if k else None) == va:
                    checks += 1
                    tb.pending = None
                    tb.mismatches = 0
                    if tb.state:  # not TRUSTED
                        self._transition(tb, TRUSTED, Reason.BBO_MATCH, ts)
                    continue
            if h:
                p = tb.pending
                tb.pending = (h, vb, va, p[3] if p is not None else ts)
            else:
                self._judge(tb, vb, va, ts)
        counters = self.counters
        counters["level_changes"] += n - dropped
        counters["bbo_checks"] += checks
        if dropped:
            counters["dropped_deltas"] += dropped
        return tuple(touched)

    def _judge(self, tb: TrackedBook, vb: int | None, va: int | None, ts: int) -> None:
        """Compare the book's top with the venue's for a completed version; move trust."""
        book = tb.book
        self.counters["bbo_checks"] += 1
        if book.best_bid() == vb and book.best_ask() == va:
            tb.mismatches = 0
            if tb.state != Trust.TRUSTED:
                self._transition(tb, Trust.TRUSTED, Reason.BBO_MATCH, ts)
            return
        self.counters["bbo_mismatches"] += 1
        tb.mismatches += 1
        if tb.mismatches >= self.policy.mismatches_to_untrusted:
            self._untrust(tb, Reason.BBO_MISMATCH_REPEATED, ts)
        else:
            self._transition(tb, Trust.SUSPECT, Reason.BBO_MISMATCH, ts)

    def apply_tick_size_change(self, ev: TickSizeChange) -> None:
        tb = self.track(ev.asset_id)
        # Levels on the old grid may be invalid on the new one (protocol.md §1.8): drop the
        # book and wait for a fresh snapshot rather than guess.
        tb.book.clear()
        tb.pending = None
        tb.book.tick_size = ev.new_tick_size
        self._untrust(tb, Reason.TICK_SIZE_CHANGE, ev.ts_recv_ns)

    def apply_feed_status(self, ev: FeedStatus) -> tuple[str, ...]:
        if ev.status == "reconnecting":
            for a in ev.asset_ids:
                tb = self._books.get(a)
                if tb is not None:
                    # The new connection's initial dump brings the snapshot: no extra resync.
                    self._transition(tb, Trust.UNTRUSTED, Reason.RECONNECT, ev.ts_recv_ns)
            return ev.asset_ids
        if ev.status == "unsubscribed":
            for a in ev.asset_ids:
                self.forget(a)
            return ev.asset_ids
        if ev.status == "stalled":
            for a in ev.asset_ids:
                tb = self._books.get(a)
                if tb is not None and tb.state == Trust.TRUSTED:
                    self._transition(tb, Trust.SUSPECT, Reason.STALE, ev.ts_recv_ns)
            return ev.asset_ids
        return ()

    def check_stale(self, now_ns: int) -> list[str]:
        """Timer duty: judge pending checks older than ``policy.pending_grace_ns``, and mark
        trusted books with no update for ``policy.stale_after_ns`` suspect.

        Returns the tokens that became suspect or untrusted. A stale book heals on its next
        matching update or snapshot.
        """
        limit = self.policy.stale_after_ns
        grace = self.policy.pending_grace_ns
        out = []
        for a, tb in self._books.items():
            p = tb.pending
            if p is not None and now_ns - p[3] >= grace:
                tb.pending = None
                self._judge(tb, p[1], p[2], now_ns)
                if tb.state != Trust.TRUSTED:
                    out.append(a)
                    continue
            if limit > 0 and tb.state == Trust.TRUSTED and now_ns - tb.last_update_ns >= limit:
                self._transition(tb, Trust.SUSPECT, Reason.STALE, now_ns)
                out.append(a)
        return out

    def seed_from_complement(self, asset_id: str, complement_id: str, ts_ns: int) -> bool:
        """Build ``asset_id``'s book as the mirror of its complement's trusted book.

        On Polymarket one engine matches both tokens: a bid at p on one token is an ask at 1−p on
        the other. Used when the venue sent a snapshot for only one token of a binary market.
        The seeded book is marked trusted with reason ``mirror_of_complement``; the venue's
        best_bid/best_ask checks confirm or refute it on the next delta. Returns False when the
        complement has no trusted book.
        """
        src = self._books.get(complement_id)
        if src is None or src.state != Trust.TRUSTED:
            return False
        from clobflow.book.binary import mirror_levels

        tb = self.track(asset_id)
        bids, asks = mirror_levels(src.book)
        tb.book.load(bids, asks)
        tb.book.tick_size = src.book.tick_size
        tb.last_update_ns = ts_ns
        tb.mismatches = 0
        self._transition(tb, Trust.TRUSTED, Reason.MIRROR, ts_ns)
        return True

    # -- internals -------------------------------------------------------------------------

    def _untrust(self, tb: TrackedBook, reason: str, ts_ns: int) -> None:
        self._transition(tb, Trust.UNTRUSTED, reason, ts_ns)
        tb.mismatches = 0
        a = tb.book.asset_id
        if a not in self.resync:
            self.resync.add(a)
            self.counters["resyncs_requested"] += 1

    def _transition(self, tb: TrackedBook, state: Trust, reason: str, ts_ns: int) -> None:
        if state != tb.state or reason != tb.reason:
            tb.state = state
            tb.reason = reason
            tb.since_ns = ts_ns
            self.transitions.append((ts_ns, tb.book.asset_id, state, reason))
            if len(self.transitions) > 10_000:
                del self.transitions[:5_000]
