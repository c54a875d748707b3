"""The integrity-checker port: a venue's own rules for whether a book can be trusted.

``BookSet`` applies events and keeps the venue-neutral rules (no snapshot, reconnect, tick-size
change, stale, crossed or locked, a delta that would make a level negative). A venue adds what
only it can check (Polymarket: its ``best_bid``/``best_ask`` per hash-versioned book; Kalshi:
sequence numbers) with a checker, constructed by the venue adapter and handed to ``BookSet``.

A checker is sans-I/O and synchronous: it reads the ``TrackedBook`` and the change, and moves
trust through the ``BookSet`` it was bound to (``books.mark(tb, state, reason, ts)`` and
``books.request_resync(tb, reason, ts)``). It may keep per-book state in ``tb.pending`` (opaque
to ``BookSet``, cleared whenever the book is replaced or dropped) and count consecutive failed
checks in ``tb.mismatches``.

Hooks (all optional in spirit; ``NoChecks`` implements them as no-ops):
- ``before_change(tb, change, ts)``: called before a level change is applied, only when
  ``tb.pending`` is set (a version awaiting judgement); may judge it.
- ``after_changes(tb, change, ts)``: after a message's last change to a token (``change`` is
  that last change, carrying the venue's own checks).
- ``on_delta(tb, event)``: before a signed delta is applied (e.g. sequence gap detection).
- ``on_timer(tb, now_ns)``: timer duty for a book with ``tb.pending`` set (grace periods).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from clobflow.book.book_set import BookSet, TrackedBook
    from clobflow.core.events import LevelChange, LevelDelta


class IntegrityChecker(Protocol):
    counters: tuple[str, ...]
    """Counter names the checker adds to ``BookSet.counters`` (start at 0)."""

    def bind(self, books: BookSet) -> None: ...

    def before_change(self, tb: TrackedBook, change: LevelChange, ts_ns: int) -> None: ...

    def after_changes(self, tb: TrackedBook, change: LevelChange, ts_ns: int) -> None: ...

    def on_delta(self, tb: TrackedBook, event: LevelDelta) -> None: ...

    def on_timer(self, tb: TrackedBook, now_ns: int) -> None: ...


class NoChecks:
    """The checker of a venue with no checks of its own: venue-neutral rules only."""

    counters: tuple[str, ...] = ()

    def bind(self, books: BookSet) -> None:
        pass

    def before_change(self, tb: TrackedBook, change: LevelChange, ts_ns: int) -> None:
        pass

    def after_changes(self, tb: TrackedBook, change: LevelChange, ts_ns: int) -> None:
        pass

    def on_delta(self, tb: TrackedBook, event: LevelDelta) -> None:
        pass

    def on_timer(self, tb: TrackedBook, now_ns: int) -> None:
        pass
