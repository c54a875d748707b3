"""The set of books a feed maintains, with trust tracking. Pure: events in, state and resync
requests out; no I/O, no clock reads (times come from the events or the caller). Venue-neutral:
a venue's own checks come from its adapter's ``IntegrityChecker`` (``book/integrity.py``).

Map:
- ``on_event(event)`` routes any market event; returns the asset ids whose book changed.
- ``BookSnapshot`` replaces a book and makes it trusted (unless it is crossed).
- ``PriceChange`` applies each level's absolute size to its own token's book (deltas for a book
  that awaits a snapshot are dropped and counted); the checker sees each token's last change of
  the message (Polymarket compares the venue's ``best_bid``/``best_ask``).
- ``LevelDelta`` adds a signed size; a level that would go negative untrusts the book
  (``negative_level``) and requests a resync.
- Invariant after every snapshot and update: a trusted book is never crossed or locked. A
  crossed book turns suspect (``crossed``) and heals when an update uncrosses it; every move to
  trusted (snapshot, mirror seed, a checker's match) goes through ``_transition``, which turns
  it into ``crossed`` instead when the book is crossed.
- ``TrackedBook.tradeable``: trusted and no venue check pending (what strategies and risk use).
- ``TickSizeChange`` drops the book and puts it on ``resync``.
- ``FeedStatus("reconnecting")`` marks the named books untrusted until their new snapshot;
  ``"unsubscribed"`` forgets them; ``"stalled"`` makes trusted ones suspect.
- ``MarketResolved`` untrusts the market's books (``market_resolved``).
- ``check_stale(now_ns)`` gives the checker its timer duty and marks subscribed books with no
  recent update suspect.

``resync`` is the set of tokens whose snapshot must be fetched again; the feed drains it
(``take_resync``) and asks the market-data client for fresh snapshots.
"""

from __future__ import annotations

from typing import Any

from clobflow.book.integrity import IntegrityChecker, NoChecks
from clobflow.book.l2 import L2Book
from clobflow.book.trust import Reason, Trust, TrustPolicy
from clobflow.core.events import (
    BookSnapshot,
    FeedStatus,
    LevelDelta,
    MarketResolved,
    PriceChange,
    TickSizeChange,
)


TRUSTED = Trust.TRUSTED
UNTRUSTED = Trust.UNTRUSTED
CROSSED = Reason.CROSSED
PENDING_CHECK = "pending_check"


class TrackedBook:
    """A book with its trust state and bookkeeping.

    ``state``/``reason``/``since_ns``: current trust and the receive time of its last change;
    ``mismatches``: consecutive failed venue checks; ``pending``: the venue checker's state for
    a check not judged yet (opaque here; cleared when the book is replaced or dropped).
    """

    __slots__ = ("book", "state", "reason", "since_ns", "mismatches", "pending", "last_update_ns", "updates")

    def __init__(self, asset_id: str) -> None:
        self.book = L2Book(asset_id)
        self.state = Trust.UNTRUSTED
        self.reason = Reason.NO_SNAPSHOT
        self.since_ns = 0
        self.mismatches = 0
        self.pending: Any = None  # the checker's own state, opaque here
        self.last_update_ns = 0
        self.updates = 0

    @property
    def trusted(self) -> bool:
        return self.state == Trust.TRUSTED

    @property
    def tradeable(self) -> bool:
        """Trusted with no venue check pending: what strategies and risk may act on. A pending
        check is a top of book that disagrees with the venue's and waits for the rest of its
        version; until it is judged, the local top may be wrong."""
        return self.state == Trust.TRUSTED and self.pending is None

    @property
    def hold_reason(self) -> str:
        """Why the book is not tradeable: its trust reason, ``pending_check`` for a trusted book
        whose venue check is pending, ``""`` when it is tradeable."""
        if self.state != Trust.TRUSTED:
            return self.reason
        return "" if self.pending is None else PENDING_CHECK

    def __repr__(self) -> str:
        return f"{self.state.name.lower()}({self.reason})"


class BookSet:
    """Books by token id, updated from market events, each with a trust state.

    ``checker``: the venue's integrity checker (default: venue-neutral rules only).
    """

    __slots__ = ("policy", "checker", "_books", "_watch", "_order", "_created", "resync", "counters", "transitions")

    def __init__(self, policy: TrustPolicy | None = None, checker: IntegrityChecker | None = None) -> None:
        self.policy = policy or TrustPolicy()
        self.checker: IntegrityChecker = checker if checker is not None else NoChecks()
        self._books: dict[str, TrackedBook] = {}
        # The books ``check_stale`` may have work for: every book that is not untrusted or has
        # a pending check (a superset). The timer then costs the few live books, not every book
        # ever followed (a backtest follows every market of its recording from the start).
        self._watch: dict[int, TrackedBook] = {}  # keyed by ``_order`` (the walk order)
        self._order: dict[str, int] = {}  # token -> when its book was created
        self._created = 0  # books created so far: the next creation index (never reused)
        self.resync: set[str] = set()
        self.counters: dict[str, int] = {
            "snapshots": 0,
            "level_changes": 0,
            "dropped_deltas": 0,
            "resyncs_requested": 0,
        }
        for name in self.checker.counters:
            self.counters[name] = 0
        self.checker.bind(self)
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
            self._order[asset_id] = self._created
            self._created += 1
        return tb

    def forget(self, asset_id: str) -> None:
        """Stop tracking a token (unsubscribed)."""
        if self._books.pop(asset_id, None) is not None:
            self._watch.pop(self._order.pop(asset_id), None)  # forgotten entirely: bounded over churn
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
        if type(ev) is LevelDelta:
            return self.apply_level_delta(ev)
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
        self._transition(tb, Trust.TRUSTED, Reason.SNAPSHOT, ev.ts_recv_ns)  # ``crossed`` if it is

    def apply_price_change(self, ev: PriceChange) -> tuple[str, ...]:
        books = self._books
        checker = self.checker
        after_changes = checker.after_changes
        changes = ev.changes
        n = len(changes)
        # The venue's checks apply after a token's *last* entry in the message. The usual
        # message has one entry per token, where every entry is its token's last.
        last: dict[str, int] | None = None
        if n > 2 or (n == 2 and changes[0].asset_id == changes[1].asset_id):
            last = {c.asset_id: i for i, c in enumerate(changes)}
        touched: list[str] = []
        dropped = 0
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
            if tb.pending is not None:
                checker.before_change(tb, ch, ts)  # may judge a completed version
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
            book.hash = ch.hash
            tb.last_update_ns = ts
            tb.updates += 1
            after_changes(tb, ch, ts)
            # the venue-neutral invariant, inline on the hot path (see ``_check_crossed``)
            k = book._bid_keys
            a = book._ask_keys
            if (k and a and k[-1] >= -a[-1]) or tb.reason == CROSSED:
                self._check_crossed(tb, ts)
        self.counters["level_changes"] += n - dropped
        if dropped:
            self.counters["dropped_deltas"] += dropped
        return tuple(touched)

    def apply_level_delta(self, ev: LevelDelta) -> tuple[str, ...]:
        """A signed change to one level. Dropped while the book awaits a snapshot; a delta that
        would make a level negative untrusts the book (``negative_level``) and asks for a resync."""
        tb = self.track(ev.asset_id)
        if tb.state == UNTRUSTED:
            self.counters["dropped_deltas"] += 1
            return ()
        self.checker.on_delta(tb, ev)  # e.g. a sequence gap untrusts the book
        if tb.state == UNTRUSTED:
            self.counters["dropped_deltas"] += 1
            return ()
        book = tb.book
        if not book.apply_delta(ev.side, ev.price, ev.delta):
            self.request_resync(tb, Reason.NEGATIVE_LEVEL, ev.ts_recv_ns)
            return (ev.asset_id,)
        self.counters["level_changes"] += 1
        book.ts_venue_ns = ev.ts_venue_ns
        book.ts_recv_ns = ev.ts_recv_ns
        tb.last_update_ns = ev.ts_recv_ns
        tb.updates += 1
        self._check_crossed(tb, ev.ts_recv_ns)
        return (ev.asset_id,)

    def _check_crossed(self, tb: TrackedBook, ts: int) -> None:
        """The venue-neutral invariant: a trusted book is never crossed or locked. A crossed
        book is suspect (``crossed``) until an update uncrosses it."""
        k = tb.book._bid_keys
        a = tb.book._ask_keys
        if k and a and k[-1] >= -a[-1]:
            if tb.state == TRUSTED:
                self._transition(tb, Trust.SUSPECT, Reason.CROSSED, ts)
        elif tb.reason == Reason.CROSSED:
            self._transition(tb, TRUSTED, Reason.UNCROSSED, ts)

    def apply_tick_size_change(self, ev: TickSizeChange) -> None:
        tb = self.track(ev.asset_id)
        # Levels on the old grid may be invalid on the new one (protocol.md §1.8): drop the
        # book and wait for a fresh snapshot rather than guess.
        tb.book.clear()
        tb.pending = None
        tb.book.tick_size = ev.new_tick_size
        self.request_resync(tb, Reason.TICK_SIZE_CHANGE, ev.ts_recv_ns)

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
        """Timer duty: the checker judges what waited too long (``policy.pending_grace_ns``),
        then trusted books with no update for ``policy.stale_after_ns`` turn suspect.

        Returns the tokens that became suspect or untrusted. A stale book heals on its next
        matching update or snapshot.
        """
        limit = self.policy.stale_after_ns
        on_timer = self.checker.on_timer
        out = []
        watch = self._watch
        if not watch:
            return out
        # Only a book that is not untrusted, or has a pending check, can change here. A pending
        # check is only set on a book being updated, which is not untrusted (``_transition`` put
        # it in ``_watch``), so an untrusted book without one can leave the watch.
        for i in [i for i, tb in watch.items() if tb.state == UNTRUSTED and tb.pending is None]:
            del watch[i]
        # in the books' own order (creation), as a walk over every book would go
        for i in sorted(watch) if len(watch) > 1 else list(watch):
            tb = watch[i]
            a = tb.book.asset_id
            if tb.pending is not None:
                on_timer(tb, now_ns)
                if tb.state != Trust.TRUSTED:
                    out.append(a)
                    continue
            if limit > 0 and tb.state == Trust.TRUSTED and now_ns - tb.last_update_ns >= limit:
                self._transition(tb, Trust.SUSPECT, Reason.STALE, now_ns)
                out.append(a)
        return out

    # -- trust moves (for the checker) -------------------------------------------------------

    def mark(self, tb: TrackedBook, state: Trust, reason: str, ts_ns: int) -> None:
        """Move ``tb`` to ``state`` for ``reason`` (recorded in ``transitions`` if it changed)."""
        self._transition(tb, state, reason, ts_ns)

    def request_resync(self, tb: TrackedBook, reason: str, ts_ns: int) -> None:
        """Untrust ``tb`` for ``reason`` and put it on ``resync`` (a fresh snapshot is needed)."""
        self._transition(tb, Trust.UNTRUSTED, reason, ts_ns)
        tb.mismatches = 0
        tb.pending = None
        a = tb.book.asset_id
        if a not in self.resync:
            self.resync.add(a)
            self.counters["resyncs_requested"] += 1

    # -- internals -------------------------------------------------------------------------

    def _transition(self, tb: TrackedBook, state: Trust, reason: str, ts_ns: int) -> None:
        if state == TRUSTED:
            # The one gate every move to TRUSTED passes (snapshot, mirror seed, a checker's
            # match, uncrossing): a crossed or locked book is never trusted, whoever asks.
            k = tb.book._bid_keys
            a = tb.book._ask_keys
            if k and a and k[-1] >= -a[-1]:
                state = Trust.SUSPECT
                reason = CROSSED
        if state != UNTRUSTED:
            self._watch[self._order[tb.book.asset_id]] = tb
        if state != tb.state or reason != tb.reason:
            tb.state = state
            tb.reason = reason
            tb.since_ns = ts_ns
            self.transitions.append((ts_ns, tb.book.asset_id, state, reason))
            if len(self.transitions) > 10_000:
                del self.transitions[:5_000]
