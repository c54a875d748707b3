"""Toxic-flow detection for the complete-set bot: warn before resting bids get picked off.

The bot rests bids on both tokens of a binary market. Informed flow shows up on the book as
a *spike* (a huge order appears at a top level, suddenly) or a *sweep* (the best level moves
through several displayed levels at once), and on the tape as a huge print. ``ToxicFlow`` turns
these into a per-token severity that the bot's risk layer maps to "shrink" or "pull":

====  =========  ===========================================================================
 0    none       nothing active
 1    warn       a book spike (``> spike_multiple`` × the token's average order size)
 2    high       a sweep (``>= sweep_levels`` levels gone at once), or a trade-print spike
 3    severe     a spike (book or print) and a sweep on one token within ``hold_ms``, or any
                 spike beyond 4 × ``spike_multiple``
====  =========  ===========================================================================

Each flag keeps its severity for ``hold_ms`` from its ``ts_ns``; a token's severity is the
highest one still held (so a severe flag followed by a warning reads 3, then 1, then 0).

What it can see, and what it cannot:

- It sees aggregated price levels (L2), only the top ``depth_levels`` of each side, only at the
  moments it is called. A level's size change between two observations is the *net* of every
  add, cancel and fill in between: several orders read as one, an add and a cancel cancel out,
  a cancel and a fill look the same. So the "average order size" is really the average
  positive level change (plus print sizes), a proxy for an order, not an order.
- A maker pulling several top levels at once reads as a sweep. That is intended: makers who
  pull are usually informed too.
- A level that merely *scrolls into* the watched window (because a better one vanished) is
  not an add: only prices inside the previously watched range count.
- On coarse data, e.g. a 1 Hz top-of-book recording with one aggregated level per side, there
  are no orders to see at all: every change is a second's net change of one level, so the
  average is of level changes, observations are never within ``spike_window_ms`` of each
  other (no book spikes), and one level per side cannot show a multi-level sweep. There only
  trade prints can flag.
- Polymarket publishes one fill as several messages that share the book's ``hash``, each
  removing one level (see the real burst fixture). Diffing message by message would never see
  more than one level go, so sweeps are measured against the top as it was *before the current
  book version* (the last observation with a different hash). A book without a hash (``""``)
  is a new version on every observation. Spikes are diffed against the previous observation.

Units: prices and sizes are integer micro-units, times are ns ints; the average is an integer
(floored) kept exactly as an integer sum over a ring of the last ``avg_window`` samples.
Callers: feed ``on_book`` after every change of a token's book (every id ``BookSet.on_event``
returns), ``on_trade`` for every print, ``reset`` when a snapshot replaced a book (a snapshot's
differences are not order flow), ``forget`` when a market closes.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from clobflow.book.l2 import L2Book
from clobflow.core.configs import convert_section
from clobflow.core.errors import ConfigError
from clobflow.core.events import Side

NONE, WARN, HIGH, SEVERE = 0, 1, 2, 3
SPIKE, SWEEP, TRADE_SPIKE = "spike", "sweep", "trade_spike"
KINDS = (SPIKE, SWEEP, TRADE_SPIKE)
SEVERE_FACTOR = 4
"""A spike larger than this many times ``spike_multiple`` × average is severe on its own."""

_MS = 1_000_000
_BUY, _SELL = Side.BUY, Side.SELL
# Smallest allowed value of each (integer) config field.
_MIN = {
    "depth_levels": 1,
    "spike_multiple": 1,
    "spike_window_ms": 1,
    "sweep_levels": 2,  # one level gone is every ordinary fill of the best level
    "avg_window": 1,
    "min_samples": 1,
    "hold_ms": 1,
}


class ToxicConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Detector settings (all integers; units in the names).

    - ``depth_levels``: top levels watched per side (>= 1).
    - ``spike_multiple``: a level increase or a print is a spike when it exceeds this multiple
      of the token's average order size (>= 1).
    - ``spike_window_ms``: a book increase is only *sudden* (can be a spike) when the previous
      observation of the token is at most this old (>= 1).
    - ``sweep_levels``: levels that must vanish at once for a sweep, in ``[2, depth_levels]``
      (the detector cannot count levels it does not watch).
    - ``avg_window``: samples in the rolling average (a ring of the last ``avg_window``).
    - ``min_samples``: no spike flags before the average has this many samples, in
      ``[1, avg_window]`` (the ring never holds more than ``avg_window``).
    - ``hold_ms``: how long a flag keeps its severity (>= 1).

    Raises ``ConfigError`` naming the key on a wrong type or an out-of-range value.
    """

    depth_levels: int = 5
    spike_multiple: int = 50
    spike_window_ms: int = 500
    sweep_levels: int = 3
    avg_window: int = 200
    min_samples: int = 20
    hold_ms: int = 5000

    def __post_init__(self) -> None:
        for key, low in _MIN.items():
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int):
                raise ConfigError(key, f"must be an integer, got {v!r}")
            if v < low:
                raise ConfigError(key, f"must be >= {low}, got {v}")
        if self.sweep_levels > self.depth_levels:
            raise ConfigError(
                "sweep_levels", f"must be <= depth_levels ({self.depth_levels}), got {self.sweep_levels}"
            )
        if self.min_samples > self.avg_window:
            raise ConfigError(
                "min_samples", f"must be <= avg_window ({self.avg_window}), got {self.min_samples}"
            )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, prefix: str = "toxic") -> ToxicConfig:
        """Build from a config section; errors name ``"{prefix}.{field}"``."""
        return convert_section(data, cls, prefix)

    @property
    def spike_window_ns(self) -> int:
        return self.spike_window_ms * _MS

    @property
    def hold_ns(self) -> int:
        return self.hold_ms * _MS


class ToxicFlag(msgspec.Struct, frozen=True, gc=False):
    """One detection. Prices and sizes in micro-units, ``ts_ns`` the caller's clock.

    - ``kind``: ``"spike"`` (a book level grew), ``"sweep"`` or ``"trade_spike"``.
    - ``side``: the side of the suspected informed order: for a spike the side of the level that
      grew (``BUY`` = a bid); for a sweep and a print the taker's side (``SELL`` = bids taken).
    - ``price``: spike: the level's price; sweep by book: the deepest vanished level; by print
      (and trade spike): the print's price.
    - ``size``: spike: the increase; sweep by book: the displayed size that vanished; by print
      (and trade spike): the print's size.
    - ``average``: the token's average order size before this sample (0 if no samples).
    - ``levels``: levels swept (0 for spikes).
    - ``severity``: 1..3, as held from ``ts_ns`` for ``hold_ms``.
    """

    kind: str
    asset_id: str
    side: Side
    price: int
    size: int
    average: int
    levels: int
    severity: int
    ts_ns: int


class _Token:
    """Per-token state.

    - ``bk``/``bs``/``ak``/``asz``: the top of the last observation (bid keys and sizes, ask
      keys (negated prices) and sizes, best last), seen at ``seen_ns`` (``seen``: any yet).
    - ``base_*``: the top before the current book version ``hash`` (the sweep baseline).
      Top slices are fresh lists never mutated afterwards, so the baseline shares them with
      the top, and a list's identity names the observation it came from.
    - ``ring``/``pos``/``count``/``total``: the rolling average, ``total`` being the exact sum
      of the last ``count`` samples.
    - ``until[s]``: when the hold of severity ``s`` (1..3) ends; ``quiet_ns`` their max;
      ``kind_ts``: when each kind last flagged.
    - ``swept_ref``/``swept_n``: per ladder (0 bids, 1 asks), the top a sweep was measured
      against and its levels, so one fill is flagged once.
    """

    __slots__ = (
        "ak", "asz", "base_ak", "base_asz", "base_bk", "base_bs", "bk", "bs", "count", "hash",
        "kind_ts", "last_flag", "pos", "quiet_ns", "ring", "seen", "seen_ns", "swept_n",
        "swept_ref", "total", "until",
    )

    def __init__(self, window: int) -> None:
        self.reset_top()
        self.hash = ""
        self.ring = [0] * window
        self.pos = 0
        self.count = 0
        self.total = 0
        self.until = [0, 0, 0, 0]  # by severity 1..3: end of hold (ns), index 0 unused
        self.quiet_ns = 0  # max(until): before this nothing is held
        self.kind_ts: dict[str, int] = {}
        self.swept_ref: list[list[int] | None] = [None, None]
        self.swept_n = [0, 0]
        self.last_flag: ToxicFlag | None = None

    def reset_top(self) -> None:
        self.bk = self.bs = self.ak = self.asz = []
        self.base_bk = self.base_bs = self.base_ak = self.base_asz = []
        self.seen = False
        self.seen_ns = 0

    def average(self) -> int:
        return self.total // self.count if self.count else 0


class ToxicFlow:
    """Spike and sweep detector over many tokens. Deterministic; reads no clock.

    All methods take ``now_ns`` from the caller (engine time), and return severities as ints
    ``0..3``. Unknown tokens have severity 0 and average 0.
    """

    __slots__ = (
        "_depth", "_hold_ns", "_min", "_multiple", "_severe_multiple", "_sweep", "_tokens",
        "_window", "_window_ns", "config", "flags",
    )

    def __init__(self, config: ToxicConfig | None = None) -> None:
        c = self.config = config or ToxicConfig()
        self.flags: dict[str, int] = dict.fromkeys(KINDS, 0)
        self._tokens: dict[str, _Token] = {}
        self._depth = c.depth_levels
        self._window = c.avg_window
        self._window_ns = c.spike_window_ns
        self._hold_ns = c.hold_ns
        self._multiple = c.spike_multiple
        self._severe_multiple = c.spike_multiple * SEVERE_FACTOR
        self._sweep = c.sweep_levels
        self._min = c.min_samples

    # -- inputs ----------------------------------------------------------------------------

    def on_book(self, asset_id: str, book: L2Book, now_ns: int) -> int:
        """Observe ``book`` (the token's book after a change) at ``now_ns``; returns the
        token's severity. Cost: four slices of ``depth_levels`` ints and their comparison when
        the watched top did not change; the diff only when it did."""
        st = self._tokens.get(asset_id)
        if st is None:
            st = self._tokens[asset_id] = _Token(self._window)
        n = self._depth
        bk = book._bid_keys[-n:]
        bs = book._bid_sizes[-n:]
        ak = book._ask_keys[-n:]
        asz = book._ask_sizes[-n:]
        h = book.hash
        if h != st.hash or not h:
            # A new book version: the sweep baseline is the top the previous one ended with.
            st.hash = h
            st.base_bk, st.base_bs, st.base_ak, st.base_asz = st.bk, st.bs, st.ak, st.asz
        pbk, pbs, pak, pas = st.bk, st.bs, st.ak, st.asz
        st.seen_ns, last_ns = now_ns, st.seen_ns
        if bs == pbs and asz == pas and bk == pbk and ak == pak:
            # Nothing changed at the watched top (the common case): no diff, no new state.
            return NONE if now_ns >= st.quiet_ns else self._severity(st, now_ns)
        if st.seen:
            sudden = now_ns - last_ns <= self._window_ns
            if bk != pbk or bs != pbs:
                self._diff(st, asset_id, _BUY, 1, pbk, pbs, bk, bs, sudden, now_ns)
                if bk != pbk:  # the best can only move when the prices did
                    self._book_sweep(st, asset_id, 0, 1, bk, now_ns)
            if ak != pak or asz != pas:
                self._diff(st, asset_id, _SELL, -1, pak, pas, ak, asz, sudden, now_ns)
                if ak != pak:
                    self._book_sweep(st, asset_id, 1, -1, ak, now_ns)
        st.bk, st.bs, st.ak, st.asz = bk, bs, ak, asz
        st.seen = True
        return self._severity(st, now_ns)

    def on_trade(self, asset_id: str, price: int, size: int, side: Side, now_ns: int) -> int:
        """Observe a print (``side`` = taker's side); returns the token's severity.

        The print's size feeds the average. A size above ``spike_multiple`` × average is a
        ``trade_spike``. A print at or through ``sweep_levels`` displayed levels of the ladder
        it hit (in the last observed top or the top before the current book version, whichever
        shows more, since the print may come before or after the fill's book messages) is a
        ``sweep``, unless the book already flagged that sweep."""
        st = self._tokens.get(asset_id)
        if st is None:
            st = self._tokens[asset_id] = _Token(self._window)
        big = self._spike_grade(st, size)
        if big:
            self._flag(st, TRADE_SPIKE, asset_id, side, price, size, st.average(), 0,
                       SEVERE if big > 1 else HIGH, now_ns)
        if side == _BUY:  # lifted asks: ask keys (negated prices) at or above -price
            ladder, key, refs = 1, -price, (st.ak, st.base_ak)
        else:  # hit bids: bid prices at or above the print
            ladder, key, refs = 0, price, (st.bk, st.base_bk)
        walked, ref = 0, refs[0]
        for k in refs:
            w = len(k) - bisect_left(k, key)
            if w > walked:
                walked, ref = w, k
        if walked >= self._sweep and not self._swept(st, ladder, ref, walked):
            self._flag(st, SWEEP, asset_id, side, price, size, st.average(), walked, HIGH, now_ns)
        self._add(st, size)
        return self._severity(st, now_ns)

    def reset(self, asset_id: str) -> None:
        """Forget the token's observed top (keep its average and flags): the next ``on_book``
        is a fresh baseline. Call it when a snapshot replaced the book."""
        st = self._tokens.get(asset_id)
        if st is not None:
            st.reset_top()

    def forget(self, asset_id: str) -> None:
        """Drop all state of a token (its market closed)."""
        self._tokens.pop(asset_id, None)

    # -- outputs ---------------------------------------------------------------------------

    def severity(self, asset_id: str, now_ns: int) -> int:
        """The highest severity still held at ``now_ns`` (0 once ``hold_ms`` passed)."""
        st = self._tokens.get(asset_id)
        return 0 if st is None else self._severity(st, now_ns)

    def market_severity(self, asset_ids: Iterable[str], now_ns: int) -> int:
        """The highest severity over ``asset_ids`` (both tokens of a market)."""
        return max((self.severity(a, now_ns) for a in asset_ids), default=0)

    def last_flag(self, asset_id: str) -> ToxicFlag | None:
        st = self._tokens.get(asset_id)
        return None if st is None else st.last_flag

    def average(self, asset_id: str) -> int:
        """The token's average order size in micro shares (floored; 0 before any sample)."""
        st = self._tokens.get(asset_id)
        return 0 if st is None else st.average()

    def samples(self, asset_id: str) -> int:
        """Samples in the token's average (at most ``avg_window``)."""
        st = self._tokens.get(asset_id)
        return 0 if st is None else st.count

    # -- internals -------------------------------------------------------------------------

    def _diff(self, st: _Token, asset_id: str, side: Side, sign: int, pk: list[int],
              ps: list[int], nk: list[int], ns: list[int], sudden: bool, now_ns: int) -> None:
        """Feed every size increase of one side's top into the average; flag spikes.

        Keys ascend with the best last on both sides (asks negated: ``sign`` -1 recovers the
        price), so "inside the previously watched range" is ``key >= pk[0]`` on both."""
        if not pk:
            return  # no baseline: first sight of the side, or it was empty (cleared book)
        if nk == pk:  # same prices, sizes changed: pair them directly
            for k, old, new in zip(nk, ps, ns):
                if new > old:
                    self._order(st, asset_id, side, sign * k, new - old, sudden, now_ns)
            return
        prev = dict(zip(pk, ps))
        floor = pk[0] if len(pk) == self._depth else None
        for k, new in zip(nk, ns):
            old = prev.get(k)
            if old is None:
                if floor is not None and k < floor:
                    continue  # scrolled into the window from below: not an add we saw
                old = 0
            if new > old:
                self._order(st, asset_id, side, sign * k, new - old, sudden, now_ns)

    def _order(self, st: _Token, asset_id: str, side: Side, price: int, size: int,
               sudden: bool, now_ns: int) -> None:
        """One book increase: judge it against the average *before* it, then add it (a spike
        still counts, so a market where huge orders are normal stops flagging them)."""
        if sudden:
            big = self._spike_grade(st, size)
            if big:
                self._flag(st, SPIKE, asset_id, side, price, size, st.average(), 0,
                           SEVERE if big > 1 else WARN, now_ns)
        self._add(st, size)

    def _spike_grade(self, st: _Token, size: int) -> int:
        """0: no spike; 1: ``size > multiple × average``; 2: beyond ``SEVERE_FACTOR`` × that.
        Compared as ``size × count > multiple × total``: exact, no floored average."""
        c = st.count
        if c < self._min:
            return 0
        x = size * c
        t = st.total
        if x <= self._multiple * t:
            return 0
        return 2 if x > self._severe_multiple * t else 1

    def _add(self, st: _Token, size: int) -> None:
        ring, pos = st.ring, st.pos
        if st.count < self._window:
            st.count += 1
        else:
            st.total -= ring[pos]
        ring[pos] = size
        st.total += size
        st.pos = pos + 1 if pos + 1 < self._window else 0

    def _book_sweep(self, st: _Token, asset_id: str, ladder: int, sign: int, nk: list[int],
                    now_ns: int) -> None:
        """Count baseline levels strictly better than the new best: all of them are gone."""
        if ladder == 0:
            base_k, base_s = st.base_bk, st.base_bs
        else:
            base_k, base_s = st.base_ak, st.base_asz
        if not nk or not base_k:
            return  # an emptied side is a cleared book (resync), not judged as a sweep
        i = bisect_right(base_k, nk[-1])
        gone = len(base_k) - i
        if gone < self._sweep or self._swept(st, ladder, base_k, gone):
            return
        taker = _SELL if ladder == 0 else _BUY  # bids vanish under sellers, asks under buyers
        self._flag(st, SWEEP, asset_id, taker, sign * base_k[i], sum(base_s[i:]), st.average(),
                   gone, HIGH, now_ns)

    @staticmethod
    def _swept(st: _Token, ladder: int, ref: list[int], levels: int) -> bool:
        """Whether a sweep of ``levels`` against the top ``ref`` was already flagged; records
        it if not. One fill shows up in several messages (and maybe a print): flag it once,
        again only if it goes deeper."""
        if st.swept_ref[ladder] is ref and levels <= st.swept_n[ladder]:
            return True
        st.swept_ref[ladder] = ref
        st.swept_n[ladder] = levels
        return False

    def _flag(self, st: _Token, kind: str, asset_id: str, side: Side, price: int, size: int,
              average: int, levels: int, severity: int, now_ns: int) -> None:
        hold = self._hold_ns
        kind_ts = st.kind_ts
        # A spike and a sweep on one token within hold_ms: the spike was the informed order and
        # the sweep its execution (or the reverse): severe.
        others = (SPIKE, TRADE_SPIKE) if kind == SWEEP else (SWEEP,)
        for o in others:
            ts = kind_ts.get(o)
            if ts is not None and now_ns - ts < hold:
                severity = SEVERE
        kind_ts[kind] = now_ns
        end = now_ns + hold
        st.until[severity] = max(st.until[severity], end)
        st.quiet_ns = max(st.quiet_ns, end)
        self.flags[kind] += 1
        st.last_flag = ToxicFlag(kind, asset_id, Side(side), price, size, average, levels,
                                 severity, now_ns)

    @staticmethod
    def _severity(st: _Token, now_ns: int) -> int:
        if now_ns >= st.quiet_ns:
            return NONE
        until = st.until
        if now_ns < until[3]:
            return SEVERE
        if now_ns < until[2]:
            return HIGH
        return WARN if now_ns < until[1] else NONE

