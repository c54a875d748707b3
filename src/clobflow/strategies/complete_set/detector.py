"""Taker complete-set detector: is buying one share of every outcome, at the asks, below 1?

A complete set (one YES + one NO of a binary market, or one YES of every outcome of a neg-risk
event) pays exactly 1 at resolution. Buying it as a taker for less than 1 after taker fees is a
riskless margin -- if the books are real. This module finds such candidates and says whether the
data can be believed:

- ``executable``: every check passed (reason ``ok``);
- ``inconsistent``: the books disagree with themselves or each other, so the "arb" is an artefact
  of the data, not something a taker order would get. Reasons, in precedence order:
  ``augmented_event`` (multi only: the event's "other" outcome is not listed, so the set is not
  complete), ``untrusted`` (a book is not tradeable: not ``Trust.TRUSTED``, or a venue check of
  its top still pending), ``crossed_book`` (a book's best bid
  >= its best ask), ``stale_leg`` (a YES book and its NO book were last updated more than
  ``max_leg_skew_ns`` apart), ``mirror_mismatch`` (see below), ``insufficient_depth`` (fewer
  sets than ``min_size`` can be walked). ``Hit.reason`` is the first that applies;
  ``Hit.detail["failed"]`` lists them all.

Mirror (protocol.md §1.5): Polymarket matches both tokens of a binary market in one engine, so a
resting BUY of NO at q is also offered as a SELL of YES at 1−q. A consistent pair therefore has
``YES ask == 1 − NO bid`` and ``NO ask == 1 − YES bid``; a gap above ``mirror_tolerance`` is a
``mirror_mismatch`` (as is a side present with its mirror side absent).

Units: prices, sizes and money in integer micro-units (1e-6); margins are micro fractions of 1
(0.03 -> 30_000); times in ns. Rounding always goes against the taker (VWAPs and per-set fees
round up), so rounding never manufactures a margin.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from clobflow.book.book_set import TrackedBook
from clobflow.book.l2 import L2Book
from clobflow.core.errors import ConfigError
from clobflow.core.events import Side
from clobflow.core.fees import taker_fee
from clobflow.core.markets import FeeSchedule
from clobflow.core.numbers import ONE, SCALE

BINARY = "binary"
MULTI = "multi"
EXECUTABLE = "executable"
INCONSISTENT = "inconsistent"


class HitReason:
    """``Hit.reason`` codes (stable strings: journaled and exported), in precedence order."""

    OK = "ok"
    AUGMENTED_EVENT = "augmented_event"
    UNTRUSTED = "untrusted"
    CROSSED_BOOK = "crossed_book"
    STALE_LEG = "stale_leg"
    MIRROR_MISMATCH = "mirror_mismatch"
    INSUFFICIENT_DEPTH = "insufficient_depth"

    ALL = (OK, AUGMENTED_EVENT, UNTRUSTED, CROSSED_BOOK, STALE_LEG, MIRROR_MISMATCH, INSUFFICIENT_DEPTH)


class DetectorConfig(msgspec.Struct, frozen=True):
    """Thresholds of the detector.

    - ``target_size``: sets to walk the books for, in micro shares (10 shares -> 10_000_000).
    - ``min_margin``: net margin per set (micro fraction of 1, after fees) a hit needs. 0 means
      any set strictly below 1 after fees; a set at exactly 1 is never a hit.
    - ``max_leg_skew_ns``: a YES book and its NO book whose ``ts_recv_ns`` differ by more than
      this are ``stale_leg``. On Polymarket one order updates both books in one message, so a
      consistent live pair has skew 0; polled data (one REST call per token) does not.
    - ``mirror_tolerance``: micro price; how far ``YES ask`` may be from ``1 − NO bid`` (and
      ``NO ask`` from ``1 − YES bid``) before ``mirror_mismatch``.
    - ``min_size``: micro shares; fewer walkable sets than this is ``insufficient_depth`` (e.g.
      the market's ``min_order_size``, 5 shares). 0 accepts any positive size.

    Raises ``ConfigError(key, message)`` for a non-int or out-of-range value.
    """

    target_size: int = 10 * SCALE
    min_margin: int = 0
    max_leg_skew_ns: int = 1_000_000_000
    mirror_tolerance: int = 0
    min_size: int = 0

    def __post_init__(self) -> None:
        for key in ("target_size", "min_margin", "max_leg_skew_ns", "mirror_tolerance", "min_size"):
            v = getattr(self, key)
            if type(v) is not int:  # bool and float are refused: state is integer micro-units
                raise ConfigError(key, f"must be an int in micro-units (or ns), got {v!r}")
            if v < 0:
                raise ConfigError(key, f"must be >= 0, got {v}")
        if self.target_size == 0:
            raise ConfigError("target_size", "must be > 0")
        if self.min_margin >= ONE:
            raise ConfigError("min_margin", f"must be < {ONE} (a margin of 1 is impossible), got {self.min_margin}")
        if self.mirror_tolerance > ONE:
            raise ConfigError("mirror_tolerance", f"must be <= {ONE}, got {self.mirror_tolerance}")
        if self.min_size > self.target_size:
            raise ConfigError("min_size", f"must be <= target_size ({self.target_size}), got {self.min_size}")


class Leg(msgspec.Struct, frozen=True):
    """One bought token of a set, walked for ``size`` shares (micro shares) from its best ask.

    ``price``: VWAP (micro price, rounded up); ``cost``: notional in micro-dollars, rounded up,
    without the fee; ``fee``: exact taker fee in micro-dollars, summed level by level;
    ``limit_price``: the worst level reached (the limit a FAK order needs to take this leg);
    ``levels``: ask levels touched.
    """

    asset_id: str
    price: int
    size: int
    fee: int
    cost: int
    limit_price: int
    levels: int


class Hit(msgspec.Struct, frozen=True):
    """A complete set priced below 1 after fees (see the module docstring for the verdicts).

    - ``kind``: ``"binary"`` (YES + NO of one market) or ``"multi"`` (YES of every outcome).
    - ``ts_ns``: the caller's ``now_ns``.
    - ``asset_ids``/``legs``: the tokens bought, in the caller's order (binary: YES, NO).
    - ``gross``: cost of one set at the walked VWAPs, micro price (sum of ``leg.price``).
    - ``fees``: total taker fee for ``size`` sets, micro-dollars (sum of ``leg.fee``).
    - ``net_margin``: ``ONE − gross − ceil(fees / sets)``, micro fraction per set.
    - ``size``: sets available, micro shares: min over legs of the walkable depth, capped at
      ``target_size``.
    - ``classification``: ``"executable"`` or ``"inconsistent"``; ``reason``: a ``HitReason``.
    - ``detail``: the numbers compared (tops, ``one_minus_*`` mirrors, gaps, ``skew_ns``, trust
      states; per outcome under ``"outcomes"`` for multi), ``failed`` (every reason that
      applied), ``available``, ``notional`` and ``profit`` (micro-dollars for ``size`` sets:
      payout ``size`` minus notional minus fees).
    """

    kind: str
    ts_ns: int
    asset_ids: tuple[str, ...]
    legs: tuple[Leg, ...]
    gross: int
    fees: int
    net_margin: int
    size: int
    classification: str
    reason: str
    detail: dict[str, Any]


# -- shared slow path ---------------------------------------------------------------------------


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def walk_leg(book: L2Book, size: int, schedule: FeeSchedule | None) -> Leg:
    """Take ``size`` micro shares from ``book``'s asks, best first, with the exact taker fee of
    each level's fill. ``size`` must not exceed the ask depth. ``size == 0`` gives a zero leg
    priced at the best ask (0 if the side is empty)."""
    keys, sizes = book._ask_keys, book._ask_sizes  # negated prices, best (lowest) ask last
    left, num, fee, i = size, 0, 0, len(keys) - 1
    price = -keys[-1] if keys else 0
    while left > 0:
        price = -keys[i]
        take = min(left, sizes[i])
        num += price * take
        # per level, not at the VWAP: the fee is convex in price and floored per fill
        fee += taker_fee(take, price, schedule)
        left -= take
        i -= 1
    vwap = _ceil_div(num, size) if size else price
    return Leg(book.asset_id, vwap, size, fee, _ceil_div(num, SCALE), price, len(keys) - 1 - i)


def _side_tops(book: L2Book) -> tuple[int | None, int | None]:
    b, a = book._bid_keys, book._ask_keys
    return (b[-1] if b else None), (-a[-1] if a else None)


def _mirror_gap(ask: int | None, other_bid: int | None) -> int | None:
    """``ask − (1 − other_bid)``; ``None`` when either side is missing."""
    return None if ask is None or other_bid is None else ask - (ONE - other_bid)


def _mirror_ok(ask: int | None, other_bid: int | None, tol: int) -> bool:
    if ask is None or other_bid is None:
        # the mirror puts an ask exactly where the other token has a bid: one without the other
        # is a disagreement, both absent is consistent
        return ask is None and other_bid is None
    return abs(ask - (ONE - other_bid)) <= tol


def _crossed(bid: int | None, ask: int | None) -> bool:
    return bid is not None and ask is not None and bid >= ask


def pair_facts(yes: TrackedBook, no: TrackedBook, config: DetectorConfig) -> dict[str, Any]:
    """The consistency numbers of one outcome's (YES, NO) books and the checks they fail.

    Keys: ``yes_bid``/``yes_ask``/``no_bid``/``no_ask``, ``one_minus_no_bid`` (what the YES ask
    should be), ``one_minus_yes_bid`` (what the NO ask should be), ``yes_mirror_gap``/
    ``no_mirror_gap`` (ask minus its mirror), ``skew_ns``, ``yes_trust``/``no_trust``, and the
    booleans ``untrusted``, ``crossed``, ``stale``, ``mirror_mismatch``.
    """
    yb, ya = _side_tops(yes.book)
    nb, na = _side_tops(no.book)
    tol = config.mirror_tolerance
    skew = abs(yes.book.ts_recv_ns - no.book.ts_recv_ns)
    return {
        "yes_asset": yes.book.asset_id,
        "no_asset": no.book.asset_id,
        "yes_bid": yb,
        "yes_ask": ya,
        "no_bid": nb,
        "no_ask": na,
        "one_minus_no_bid": None if nb is None else ONE - nb,
        "one_minus_yes_bid": None if yb is None else ONE - yb,
        "yes_mirror_gap": _mirror_gap(ya, nb),
        "no_mirror_gap": _mirror_gap(na, yb),
        "skew_ns": skew,
        "yes_trust": yes.state.name.lower(),
        "no_trust": no.state.name.lower(),
        "untrusted": not yes.tradeable or not no.tradeable,  # a pending venue check included
        "crossed": _crossed(yb, ya) or _crossed(nb, na),
        "stale": skew > config.max_leg_skew_ns,
        "mirror_mismatch": not (_mirror_ok(ya, nb, tol) and _mirror_ok(na, yb, tol)),
    }


_PAIR_CHECKS = (
    ("untrusted", HitReason.UNTRUSTED),
    ("crossed", HitReason.CROSSED_BOOK),
    ("stale", HitReason.STALE_LEG),
    ("mirror_mismatch", HitReason.MIRROR_MISMATCH),
)


class _Detector:
    """Counters and the candidate path shared by both detectors.

    ``counters``: ``checks`` (calls), ``candidates`` (passed the fast path), ``below_margin``
    (candidates whose net margin after walking and fees fell short), ``executable`` and
    ``inconsistent`` (hits by classification); ``by_reason``: hits by ``HitReason``.
    """

    __slots__ = ("_checks", "_counts", "_floor", "_min_net", "by_reason", "config")

    def __init__(self, config: DetectorConfig) -> None:
        self.config = config
        # A hit needs net >= max(min_margin, 1 micro); net <= ONE − (sum of best asks), so the
        # sum must be <= ONE − that. Ask keys are negated prices: the fast path compares the sum
        # of negated best asks against the negated bound, with no negation per call.
        self._min_net = max(config.min_margin, 1)
        self._floor = -(ONE - self._min_net)
        self._checks = 0
        self._counts = {"candidates": 0, "below_margin": 0, EXECUTABLE: 0, INCONSISTENT: 0}
        self.by_reason = dict.fromkeys(HitReason.ALL, 0)

    @property
    def counters(self) -> dict[str, int]:
        # ``checks`` is a plain slot on the hot path (a dict increment costs more); merged here.
        return {"checks": self._checks, **self._counts}

    def _evaluate(
        self,
        kind: str,
        pairs: Sequence[tuple[TrackedBook, TrackedBook]],
        legs: Sequence[TrackedBook],
        now_ns: int,
        schedule: FeeSchedule | None,
        augmented: bool,
    ) -> Hit | None:
        """Walk ``legs`` for the available sets, price them with fees, classify with ``pairs``."""
        cfg = self.config
        counts = self._counts
        counts["candidates"] += 1
        size = cfg.target_size
        for tb in legs:
            filled, _ = tb.book.walk(Side.BUY, size)  # BUY takes the asks
            size = min(size, filled)
        walked = tuple(walk_leg(tb.book, size, schedule) for tb in legs)
        gross = sum(leg.price for leg in walked)
        fees = sum(leg.fee for leg in walked)
        net = ONE - gross - (_ceil_div(fees * SCALE, size) if size else 0)
        if net < self._min_net:
            counts["below_margin"] += 1
            return None

        facts = [pair_facts(y, n, cfg) for y, n in pairs]
        failed = [HitReason.AUGMENTED_EVENT] if augmented else []
        failed += [reason for key, reason in _PAIR_CHECKS if any(f[key] for f in facts)]
        if size < max(cfg.min_size, 1):
            failed.append(HitReason.INSUFFICIENT_DEPTH)
        reason = failed[0] if failed else HitReason.OK
        classification = INCONSISTENT if failed else EXECUTABLE
        counts[classification] += 1
        self.by_reason[reason] += 1

        notional = sum(leg.cost for leg in walked)
        detail: dict[str, Any] = facts[0] if kind == BINARY else {"outcomes": facts}
        detail.update(
            failed=failed,
            available=size,
            target_size=cfg.target_size,
            notional=notional,
            profit=size - notional - fees,
        )
        return Hit(kind, now_ns, tuple(leg.asset_id for leg in walked), walked, gross, fees, net, size,
                   classification, reason, detail)


# -- the two detectors --------------------------------------------------------------------------


class BinaryDetector(_Detector):
    """YES + NO of one binary market.

    ``check`` is built for every book update: when the two best asks sum to more than
    ``ONE − max(min_margin, 1)`` (or an ask side is empty) it returns ``None`` after a handful of
    attribute loads and one comparison, allocating nothing. Only a candidate is walked.

    On Polymarket a binary hit can only be mirror-consistent if a book is crossed: with the
    mirror, ``YES ask + NO ask = (1 − NO bid) + NO ask = 1 + NO spread``, below 1 only when the
    NO spread is negative (and symmetrically for YES). With a tolerance t the sum can dip to
    ``1 + spread − t``. So essentially every binary hit on Polymarket is an inconsistency
    (transient crossing mid-fill, or two books polled at different moments). The classifier
    still decides from the data, not from this argument.
    """

    __slots__ = ()

    def check(self, yes: TrackedBook, no: TrackedBook, now_ns: int, schedule: FeeSchedule | None) -> Hit | None:
        """A ``Hit`` if one YES + one NO cost below 1 after fees, else ``None``.

        ``schedule``: the market's taker fee (``None``: no fee). ``now_ns`` stamps the hit.
        """
        self._checks += 1
        ya = yes.book._ask_keys
        na = no.book._ask_keys
        if not ya or not na or ya[-1] + na[-1] < self._floor:
            return None
        return self._evaluate(BINARY, ((yes, no),), (yes, no), now_ns, schedule, False)


class MultiOutcomeDetector(_Detector):
    """One YES of every outcome of a multi-outcome (neg-risk) event.

    Each outcome is its own binary market with its own YES/NO books, and exactly one outcome
    pays 1, so the YES asks summing below 1 is a real complete set -- unless the event is
    *augmented* (its "other" outcome is not listed): then the listed outcomes do not cover
    every result and the set is never ``executable`` (``augmented_event``).

    Checks per outcome are those of ``BinaryDetector`` (trust, crossed, YES/NO skew, mirror of
    its own NO book). Skew is not compared across outcomes: separate markets update
    independently, and a quiet outcome's staleness is ``BookSet.check_stale``'s job (it makes
    the book suspect, hence ``untrusted`` here).
    """

    __slots__ = ()

    def check(
        self,
        outcomes: Sequence[tuple[TrackedBook, TrackedBook]],
        now_ns: int,
        schedule: FeeSchedule | None,
        *,
        augmented: bool,
    ) -> Hit | None:
        """A ``Hit`` if one YES of every outcome costs below 1 after fees, else ``None``.

        ``outcomes``: ``(YES book, NO book)`` per outcome, all of the event's listed outcomes.
        ``schedule``: one fee schedule for every leg (neg-risk events share it).
        Raises ``ValueError`` for fewer than 2 outcomes (not a set).
        """
        self._checks += 1
        total = 0
        for yes, _ in outcomes:
            k = yes.book._ask_keys
            if not k:
                return None  # an outcome nobody sells: no set to buy
            total += k[-1]
        if total < self._floor:
            return None
        if len(outcomes) < 2:
            raise ValueError(f"a complete set needs at least 2 outcomes, got {len(outcomes)}")
        return self._evaluate(MULTI, outcomes, [y for y, _ in outcomes], now_ns, schedule, augmented)
