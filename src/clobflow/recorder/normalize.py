"""Normalisation: clobflow events -> rows of the derived tables (``recorder.tables``).

Map:
- pure row builders: ``snapshot_row`` (venue ``book``), ``delta_rows`` (one row per
  ``LevelChange``; ``batches.DeltaRows`` keeps a batch of them as events), ``trade_row``,
  ``book_row`` (a full book read from an ``L2Book``), ``market_window_row`` (a discovered
  market; ``updown_window`` reads the up/down slug). Rows carry bare ids whatever the events
  carried (``batches.bare``).
- ``TableBuilder``: the stateful part, with no I/O — frames and events in, rows out. It keeps
  its own ``BookSet``, writes periodic full-book snapshots of every trusted or suspect book on a
  fixed grid of the frames' receive times (so the same frames always give the same rows: the
  tables are rebuildable from the raw files), and tells top-of-book hooks when a token's top
  changes. A stream's events come from one of two places:

  * *parsed here* (``add_frame`` with a parser it is given): rebuilding tables from raw files,
    or a ``Recorder`` fed raw frames only;
  * *fed* (streams named in ``fed``): the live feed already parsed each frame for its own
    books, so ``add_frame`` only advances the snapshot grid and ``add_events`` takes that
    frame's events (one parse per frame). The rows are the same as parsing here.

Why parsers are injected: nothing outside ``venues/`` imports a venue (DESIGN §2); the
composition root (``engine/record.py``) hands in ``MarketParser`` for ``("polymarket",
"market")``. Frames of a stream neither parsed nor fed stay raw-only (counted in ``underived``).

Units as everywhere: prices and sizes in integer micro-units, times in integer ns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import msgspec

from clobflow.book.book_set import BookSet
from clobflow.book.integrity import IntegrityChecker
from clobflow.book.l2 import L2Book
from clobflow.book.trust import Trust, TrustPolicy
from clobflow.core.events import BookSnapshot, FeedStatus, MarketResolved, PriceChange, Side, Trade
from clobflow.core.markets import BinaryMarket
from clobflow.recorder.batches import DeltaRows, bare, delta_rows
from clobflow.recorder.tables import (
    TABLES,
    BookSnapshotRow,
    MarketWindowRow,
    TradeRow,
)

# The recurring up/down series (protocol.md §3.4): the slug suffix is the window start (unix s).
_UPDOWN = re.compile(r"^([a-z0-9]+)-updown-(5m|15m)-(\d+)$")
_UPDOWN_PERIOD_S = {"5m": 300, "15m": 900}
_NS = 1_000_000_000
_TAKER = {Side.BUY: "BUY", Side.SELL: "SELL"}


class Parser(Protocol):
    """What ``TableBuilder`` needs of a venue parser: pure, never raises (``MarketParser``)."""

    def parse(self, frame: str, ts_recv_ns: int) -> list: ...


TopOfBookHook = Callable[[str, str, L2Book, int], None]
"""``hook(asset_id, market, book, ts_ns)``; see ``TableBuilder``."""


# -- pure row builders ---------------------------------------------------------------------


def updown_window(slug: str) -> tuple[str, int, int] | None:
    """``(asset, start_ns, end_ns)`` of an up/down slug ``{asset}-updown-{5m|15m}-{start}``,
    else ``None``. ``btc-updown-15m-1766745000`` -> ``("btc", 1766745000e9, 1766745900e9)``."""
    m = _UPDOWN.match(slug)
    if m is None:
        return None
    start = int(m.group(3))
    return m.group(1), start * _NS, (start + _UPDOWN_PERIOD_S[m.group(2)]) * _NS


def market_window_row(m: BinaryMarket, discovered_ns: int, venue: str = "polymarket",
                      winner: str = "") -> MarketWindowRow:
    """One ``market_windows`` row. ``asset`` comes from an up/down slug ("" otherwise); the
    window is the market's ``start_ns``/``end_ns`` (the slug's arithmetic where unknown, else 0).
    ``event_id`` is the event slug: ``BinaryMarket`` keeps no Gamma event id."""
    uw = updown_window(m.slug)
    start = m.start_ns if m.start_ns is not None else (uw[1] if uw else 0)
    end = m.end_ns if m.end_ns is not None else (uw[2] if uw else 0)
    return MarketWindowRow(
        discovered_ns=discovered_ns, venue=venue, event_id=m.event_slug, market=m.condition_id,
        slug=m.slug, asset=uw[0] if uw else "", yes_token=m.yes.token_id, no_token=m.no.token_id,
        window_start_ns=start, window_end_ns=end, tick_size=m.tick_size, question=m.question,
        winner=winner,
    )


def snapshot_row(ev: BookSnapshot, venue: str = "polymarket") -> BookSnapshotRow:
    """A venue ``book`` message as a snapshot row (levels best first, ``source="venue"``)."""
    return BookSnapshotRow(
        ev.ts_recv_ns, ev.ts_venue_ns, venue, bare(ev.market), bare(ev.asset_id),
        [p for p, _ in ev.bids], [s for _, s in ev.bids],
        [p for p, _ in ev.asks], [s for _, s in ev.asks],
        "venue", ev.hash,
    )


def trade_row(ev: Trade, venue: str = "polymarket", outcome: str = "") -> TradeRow:
    """A public trade print (``source="ws"``; ``side`` is the taker's, "BUY"/"SELL")."""
    return TradeRow(
        ev.ts_recv_ns, ev.ts_venue_ns, venue, bare(ev.market), bare(ev.asset_id), ev.price, ev.size,
        _TAKER[ev.side], ev.trade_id, "ws", "", outcome, ev.transaction_hash, ev.fee_rate_bps,
    )


def book_row(book: L2Book, market: str, ts_ns: int, venue: str = "polymarket",
             source: str = "periodic") -> BookSnapshotRow:
    """The whole of ``book`` at ``ts_ns``; ``ts_venue_ns`` and ``hash`` are those of the last
    update the book reflects."""
    bids, asks = book.snapshot()
    return BookSnapshotRow(
        ts_ns, book.ts_venue_ns, venue, bare(market), bare(book.asset_id),
        [p for p, _ in bids], [s for _, s in bids], [p for p, _ in asks], [s for _, s in asks],
        source, book.hash,
    )


# -- the stateful builder ------------------------------------------------------------------


class _Stream:
    """Parser (``None`` for a fed stream), books and ids of one (venue, channel). Keys are the
    ids as the events carry them (qualified when fed by the live feed)."""

    __slots__ = ("venue", "parser", "books", "asset_market", "next_snapshot_ns", "tops", "ts_ns")

    def __init__(self, venue: str, parser: Parser | None, checker: IntegrityChecker | None = None) -> None:
        self.venue = venue
        self.parser = parser
        # Never judged stale: this BookSet only mirrors the feed's to produce rows (with the
        # venue's checker, so a book the venue contradicts is not written as a snapshot).
        self.books = BookSet(TrustPolicy(stale_after_ns=0), checker)
        self.asset_market: dict[str, str] = {}
        self.next_snapshot_ns = 0
        self.tops: dict[str, tuple[int | None, int, int | None, int]] = {}
        self.ts_ns = 0  # receive time of the stream's latest frame


class TableBuilder:
    """Derives table rows from raw frames (or their events), market lists and spot rows. No
    I/O, one thread.

    Rows accumulate per table (``pending`` counts them, ``take`` hands them over: a list, or a
    ``DeltaRows`` for ``orderbook_deltas``). Periodic snapshots: when a frame's receive time
    reaches the next multiple of ``snapshot_interval_s``, every tracked book that is not
    untrusted (an untrusted book waits for a snapshot and may be empty) is written with
    ``ts_ns`` = that boundary and ``source="periodic"``, as it stood before the frame. ``0``
    disables them.

    ``fed``: the (venue, channel) streams whose events arrive through ``add_events`` (each
    frame's ``add_frame`` first, then its events): their frames are not parsed here.

    ``top_of_book_hooks`` are called as ``hook(asset_id, market, book, ts_ns)`` (bare ids) after
    a frame changed a token's best bid/ask or their sizes (not on deeper changes); ``book`` is
    this builder's own ``L2Book``: read it, never keep or change it. A raising hook is counted in
    ``hook_errors`` and does not stop the others. ``checkers`` maps a venue to a factory of its
    integrity checker (injected like the parsers: ``recorder/`` imports no venue).
    """

    def __init__(self, parsers: Mapping[tuple[str, str], Callable[[], Parser]], *,
                 snapshot_interval_s: float = 60.0,
                 top_of_book_hooks: Sequence[TopOfBookHook] = (),
                 checkers: Mapping[str, Callable[[], IntegrityChecker]] | None = None,
                 fed: Iterable[tuple[str, str]] = ()) -> None:
        self._factories = dict(parsers)
        self._checkers = dict(checkers or {})
        self._fed = set(fed)
        self._streams: dict[tuple[str, str], _Stream | None] = {}
        self.interval_ns = int(snapshot_interval_s * _NS)
        # The caller's list itself when it is one, so hooks added later are seen.
        self.hooks = top_of_book_hooks if isinstance(top_of_book_hooks, list) else list(top_of_book_hooks)
        self.rows: dict[str, Any] = {t: [] for t in TABLES}
        self.rows["orderbook_deltas"] = DeltaRows()
        self.markets: dict[str, BinaryMarket] = {}
        self.windows: dict[str, MarketWindowRow] = {}
        self.frames = 0
        self.parsed = 0  # frames parsed here (a fed stream's frames are not)
        self.events = 0
        self.underived = 0
        self.hook_errors = 0

    def feed(self, venue: str, channel: str) -> None:
        """Make ``(venue, channel)`` a fed stream (before its first frame: raises
        ``RuntimeError`` after)."""
        if (venue, channel) in self._streams:
            raise RuntimeError(f"stream {venue}/{channel} already has frames: feed it before the first")
        self._fed.add((venue, channel))

    def pending(self, table: str) -> int:
        """Rows built for ``table`` and not taken yet."""
        return len(self.rows[table])

    def take(self, table: str) -> Sequence[msgspec.Struct]:
        """The rows built for ``table`` since the last ``take`` (the buffer is emptied): a list,
        or a ``DeltaRows`` for ``orderbook_deltas``."""
        rows = self.rows[table]
        if rows:
            self.rows[table] = DeltaRows() if type(rows) is DeltaRows else []
        return rows

    def parser_rejects(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self._streams.values():
            for k, v in dict(getattr(s.parser, "rejects", {}) if s else {}).items():
                out[k] = out.get(k, 0) + v
        return out

    # -- inputs ----------------------------------------------------------------------------

    def add_markets(self, markets: Iterable[BinaryMarket], discovered_ns: int,
                    venue: str = "polymarket") -> None:
        """Markets discovered (new or changed: the caller passes what the market log wrote)."""
        rows = self.rows["market_windows"]
        for m in markets:
            self.markets[m.condition_id] = m
            row = market_window_row(m, discovered_ns, venue)
            self.windows[m.condition_id] = row
            rows.append(row)
            for s in self._streams.values():
                if s is not None and s.venue == venue:
                    for t in m.token_ids:
                        s.asset_market[t] = m.condition_id

    def forget_markets(self, markets: Iterable[BinaryMarket], venue: str = "polymarket") -> None:
        """Markets no longer followed: no more periodic snapshots of their books."""
        gone = {bare(t) for m in markets for t in m.token_ids}
        for s in self._streams.values():
            if s is not None and s.venue == venue:
                for a in s.books.asset_ids():
                    if bare(a) in gone:
                        s.books.forget(a)
                        s.tops.pop(a, None)

    def invalidate_books(self, ts_ns: int) -> None:
        """Frames were skipped: every book is untrusted until its next venue snapshot (no
        periodic snapshot of a book that missed deltas; delta rows go on)."""
        for s in self._streams.values():
            if s is not None:
                assets = tuple(s.books.asset_ids())
                s.books.apply_feed_status(FeedStatus(assets, "reconnecting", "frames_skipped", ts_ns))
                s.books.transitions.clear()
                s.tops.clear()

    def add_frame(self, text: str, ts_recv_ns: int, venue: str, channel: str) -> None:
        """One raw frame: advance the snapshot grid, then parse it and append the rows it yields
        (a fed stream's rows come with ``add_events``)."""
        self.frames += 1
        key = (venue, channel)
        s = self._streams.get(key, False)
        if s is False:
            s = self._new_stream(key)
        if s is None:
            self.underived += 1
            return
        s.ts_ns = ts_recv_ns
        if self.interval_ns and ts_recv_ns >= s.next_snapshot_ns:
            if s.next_snapshot_ns:
                self._periodic(s, ts_recv_ns // self.interval_ns * self.interval_ns)
            s.next_snapshot_ns = (ts_recv_ns // self.interval_ns + 1) * self.interval_ns
        if s.parser is not None:
            self.parsed += 1
            events = s.parser.parse(text, ts_recv_ns)
            if events:
                self._derive(s, events)

    def add_events(self, events: list, venue: str, channel: str) -> None:
        """The events a fed stream's latest frame parsed to (after that frame's ``add_frame``).
        ``FeedStatus`` events are not the venue's and are ignored: the rows depend on the frames
        alone, so they can be rebuilt from the raw files."""
        s = self._streams.get((venue, channel))
        if s is not None:
            self._derive(s, events)

    def _derive(self, s: _Stream, events: list) -> None:
        self.events += len(events)
        rows, books, am, venue = self.rows, s.books, s.asset_market, s.venue
        deltas = rows["orderbook_deltas"]
        hooks = self.hooks
        for ev in events:
            t = type(ev)
            if t is PriceChange:
                deltas.add(venue, ev)
                for c in ev.changes:
                    am[c.asset_id] = ev.market
            elif t is BookSnapshot:
                rows["orderbook_snapshots"].append(snapshot_row(ev, venue))
                am[ev.asset_id] = ev.market
            elif t is Trade:
                m = self.markets.get(bare(ev.market))
                a = bare(ev.asset_id)
                outcome = m.outcome_of(a) if m is not None and a in m.token_ids else ""
                rows["trades"].append(trade_row(ev, venue, outcome))
            elif t is MarketResolved:
                w = self.windows.get(bare(ev.market))
                if w is not None and not w.winner:
                    w = self.windows[w.market] = msgspec.structs.replace(w, winner=bare(ev.winning_asset_id))
                    rows["market_windows"].append(w)
            elif t is FeedStatus:
                continue
            touched = books.on_event(ev)
            if hooks and touched:
                self._hooks(s, touched, s.ts_ns)
        if books.resync:
            books.resync.clear()  # the feed asks the venue again; this mirror just follows
        if books.transitions:
            books.transitions.clear()

    def add_spot(self, rows: Iterable[msgspec.Struct]) -> None:
        self.rows["spot_prices"].extend(rows)

    # -- internals -------------------------------------------------------------------------

    def _new_stream(self, key: tuple[str, str]) -> _Stream | None:
        factory = self._factories.get(key)
        checker = self._checkers.get(key[0])
        fed = key in self._fed
        s = None if factory is None and not fed else _Stream(
            key[0], None if fed else factory(), checker() if checker is not None else None)  # type: ignore[misc]
        if s is not None:
            for m in self.markets.values():
                for t in m.token_ids:
                    s.asset_market[t] = m.condition_id
        self._streams[key] = s
        return s

    def _periodic(self, s: _Stream, ts_ns: int) -> None:
        out = self.rows["orderbook_snapshots"]
        am = s.asset_market
        for asset in s.books.asset_ids():
            tb = s.books.get(asset)
            market = am.get(asset)
            if tb is None or market is None or tb.state == Trust.UNTRUSTED:
                continue
            out.append(book_row(tb.book, market, ts_ns, s.venue))

    def _hooks(self, s: _Stream, touched: tuple[str, ...], ts_ns: int) -> None:
        for asset in touched:
            book = s.books.get_book(asset)
            if book is None:
                continue
            top = (book.best_bid(), book.best_bid_size(), book.best_ask(), book.best_ask_size())
            if s.tops.get(asset) == top:
                continue
            s.tops[asset] = top
            a, market = bare(asset), bare(s.asset_market.get(asset, ""))
            for hook in self.hooks:
                try:
                    hook(a, market, book, ts_ns)
                except Exception:  # noqa: BLE001 - a consumer's bug must not stop recording
                    self.hook_errors += 1
