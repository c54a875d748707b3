"""Pre-trade checks: pure functions of integers and read-only objects, no state, no clock.

Each check returns ``None`` when it passes, or a ``Violation``: the stable reason code
(``Code``) and the numbers it compared (``detail``, JSON-friendly ints/strings, journaled with
the decision). Limits are inclusive: a value *equal* to its limit passes, one micro-unit or
nanosecond beyond it fails (except ``max_positions``, where the limit is a count that may be
reached but not exceeded, and the kill switch, which trips *at* its threshold).

Units: prices, sizes and money in micro-units; times in ns; fee rates in bps; the price
deviation limit in parts per million of the reference price.
"""

from __future__ import annotations

from typing import NamedTuple

from clobflow.book.book_set import TrackedBook
from clobflow.book.l2 import L2Book
from clobflow.book.trust import Trust
from clobflow.core.events import Side
from clobflow.core.fees import fee_rate_bps
from clobflow.core.markets import BinaryMarket, FeeSchedule

PPM = 1_000_000


class Code:
    """Stable reason codes (journaled, exported, matched on by dashboards)."""

    OK = "ok"
    KILL_SWITCH = "kill_switch"
    BREAKER_OPEN = "breaker_open"
    SIGNAL_STALE = "signal_stale"
    BOOK_MISSING = "book_missing"
    BOOK_UNTRUSTED = "book_untrusted"
    BOOK_SUSPECT = "book_suspect"
    BOOK_PENDING_CHECK = "book_pending_check"
    MARKET_UNKNOWN = "market_unknown"
    MARKET_CLOSED = "market_closed"
    TOO_CLOSE_TO_CLOSE = "too_close_to_close"
    DUPLICATE_IN_FLIGHT = "duplicate_in_flight"
    RECENT_ORDER = "recent_order"
    COOLDOWN = "cooldown"
    POSITION_EXISTS = "position_exists"
    MAX_ADDS = "max_adds"
    MAX_POSITIONS = "max_positions"
    MARKET_EXPOSURE = "market_exposure"
    TOTAL_EXPOSURE = "total_exposure"
    SPREAD_TOO_WIDE = "spread_too_wide"
    PRICE_DEVIATION = "price_deviation"
    FEE_RATE_TOO_HIGH = "fee_rate_too_high"


class Violation(NamedTuple):
    """A failed check: ``reason`` is a ``Code`` value, ``detail`` the numbers compared."""

    reason: str
    detail: dict


# -- gates ------------------------------------------------------------------------------------


def check_kill_switch(tripped: bool, why: str | None = None) -> Violation | None:
    if tripped:
        return Violation(Code.KILL_SWITCH, {"why": why or "tripped"})
    return None


def check_breaker(is_open: bool, failures: int = 0, opened_ns: int | None = None) -> Violation | None:
    if is_open:
        return Violation(Code.BREAKER_OPEN, {"failures": failures, "opened_ns": opened_ns})
    return None


def check_signal_age(signal_ns: int, now_ns: int, max_age_ns: int) -> Violation | None:
    """``signal_stale`` when ``now - signal > max_age``. A signal stamped in the future (a
    caller's clock mix-up) counts as age 0 rather than as stale."""
    age = now_ns - signal_ns
    if age > max_age_ns:
        return Violation(Code.SIGNAL_STALE, {"age_ns": age, "max_ns": max_age_ns})
    return None


# -- book -------------------------------------------------------------------------------------


def check_book(tb: TrackedBook | None, require_trusted: bool) -> Violation | None:
    """``book_missing`` without a tracked book; ``book_untrusted`` for an UNTRUSTED book (always:
    it waits for a snapshot and its levels are not valid); ``book_suspect`` for a SUSPECT book
    when ``require_trusted``; ``book_pending_check`` for a TRUSTED book whose top disagrees with
    the venue's and waits to be judged (``not tb.tradeable``), when ``require_trusted``."""
    if tb is None:
        return Violation(Code.BOOK_MISSING, {})
    state = tb.state
    if state == Trust.TRUSTED:
        if tb.pending is None or not require_trusted:
            return None
        return Violation(Code.BOOK_PENDING_CHECK, {"trust_reason": tb.reason, "since_ns": tb.since_ns})
    if state == Trust.UNTRUSTED:
        return Violation(Code.BOOK_UNTRUSTED, {"trust_reason": tb.reason, "since_ns": tb.since_ns})
    if require_trusted:
        return Violation(Code.BOOK_SUSPECT, {"trust_reason": tb.reason, "since_ns": tb.since_ns})
    return None


# -- market -----------------------------------------------------------------------------------


def check_market_known(market: BinaryMarket | None, condition_id: str, asset_id: str) -> Violation | None:
    """``market_unknown`` when the market is not loaded or ``asset_id`` is not one of its tokens
    (an intent naming the wrong market would bypass every per-market limit)."""
    if market is None:
        return Violation(Code.MARKET_UNKNOWN, {"market": condition_id})
    if asset_id not in market.token_ids:
        return Violation(Code.MARKET_UNKNOWN, {"market": condition_id, "asset_id": asset_id})
    return None


def check_market_open(market: BinaryMarket, now_ns: int) -> Violation | None:
    """``market_closed`` when the market is flagged closed, not accepting orders, has no order
    book, or its ``end_ns`` is at or before ``now_ns``. (``active`` is not consulted: Gamma keeps
    finished markets active for hours; discovery filters on it.)"""
    why = None
    if market.closed:
        why = "closed"
    elif not market.accepting_orders:
        why = "not_accepting_orders"
    elif not market.enable_order_book:
        why = "no_order_book"
    elif market.end_ns is not None and market.end_ns <= now_ns:
        why = "ended"
    if why is None:
        return None
    detail: dict = {"why": why}
    if market.end_ns is not None:
        detail["to_close_ns"] = market.end_ns - now_ns
    return Violation(Code.MARKET_CLOSED, detail)


def check_time_to_close(market: BinaryMarket, now_ns: int, min_ns: int) -> Violation | None:
    """``too_close_to_close`` when ``end_ns - now < min``. Passes when the end is unknown."""
    end = market.end_ns
    if end is None:
        return None
    left = end - now_ns
    if left < min_ns:
        return Violation(Code.TOO_CLOSE_TO_CLOSE, {"to_close_ns": left, "min_ns": min_ns})
    return None


# -- orders and positions ---------------------------------------------------------------------


def check_in_flight(in_flight: int, max_live: int = 1) -> Violation | None:
    """``duplicate_in_flight`` when the market already has ``max_live`` live orders (of this
    strategy): one by default (a taker strategy), more for a quoting strategy that rests a bid
    on each token and fires a second leg while one is still being cancelled."""
    if in_flight >= max_live:
        return Violation(Code.DUPLICATE_IN_FLIGHT, {"in_flight": in_flight, "max": max_live - 1})
    return None


def check_recent_order(last_order_ns: int | None, now_ns: int, window_ns: int) -> Violation | None:
    """``recent_order`` when the token had an order less than ``window`` ago."""
    if last_order_ns is None:
        return None
    since = now_ns - last_order_ns
    if since < window_ns:
        return Violation(Code.RECENT_ORDER, {"since_ns": since, "window_ns": window_ns})
    return None


def check_cooldown(last_entry_ns: int | None, now_ns: int, cooldown_ns: int) -> Violation | None:
    """``cooldown`` when the market's last entry was less than ``cooldown`` ago."""
    if last_entry_ns is None:
        return None
    since = now_ns - last_entry_ns
    if since < cooldown_ns:
        return Violation(Code.COOLDOWN, {"since_ns": since, "cooldown_ns": cooldown_ns})
    return None


def check_position_exists(has_position: bool, one_per_market: bool) -> Violation | None:
    if one_per_market and has_position:
        return Violation(Code.POSITION_EXISTS, {})
    return None


def check_max_adds(entries: int, max_adds: int | None) -> Violation | None:
    """``max_adds`` when the open position already took ``1 + max_adds`` entries (the first one
    and ``max_adds`` additions); ``None`` means no limit."""
    if max_adds is not None and entries > max_adds:
        return Violation(Code.MAX_ADDS, {"adds": entries - 1, "max": max_adds})
    return None


def check_max_positions(open_count: int, has_position: bool, limit: int) -> Violation | None:
    """``max_positions`` when an entry would open position number ``limit + 1``. Adding to a
    market already held opens no new position, so it is not counted."""
    if not has_position and open_count >= limit:
        return Violation(Code.MAX_POSITIONS, {"open": open_count, "max": limit})
    return None


def check_market_exposure(current: int, add: int, limit: int) -> Violation | None:
    """``market_exposure`` when ``current + add > limit`` (micro-units)."""
    after = current + add
    if after > limit:
        return Violation(Code.MARKET_EXPOSURE, {"exposure": current, "add": add, "after": after, "max": limit})
    return None


def check_total_exposure(current: int, add: int, limit: int) -> Violation | None:
    """``total_exposure`` when ``current + add > limit`` (micro-units)."""
    after = current + add
    if after > limit:
        return Violation(Code.TOTAL_EXPOSURE, {"exposure": current, "add": add, "after": after, "max": limit})
    return None


# -- prices -----------------------------------------------------------------------------------


def check_spread(book: L2Book, max_spread: int) -> Violation | None:
    """``spread_too_wide`` when ``best ask - best bid > max`` or a side is empty (an infinite
    spread). A transiently crossed book (negative spread) passes."""
    s = book.spread()
    if s is None or s > max_spread:
        return Violation(Code.SPREAD_TOO_WIDE, {"spread": s, "max": max_spread})
    return None


def reference_price(side: Side, book: L2Book, post_only: bool = False) -> int | None:
    """The touch an order of ``side`` would trade against: best ask for a BUY, best bid for a
    SELL (``None`` when that side is empty). A post-only order never trades against that touch;
    it joins its own side, so its reference is the same-side best (best bid for a BUY, best ask
    for a SELL), falling back to the opposite touch when its own side is empty."""
    if post_only:
        own = book.best_bid() if side == Side.BUY else book.best_ask()
        if own is not None:
            return own
    return book.best_ask() if side == Side.BUY else book.best_bid()


def check_price_deviation(side: Side, price: int, book: L2Book, max_ppm: int,
                          post_only: bool = False) -> Violation | None:
    """``price_deviation`` when ``|price - ref| / ref > max_ppm / 1e6``, computed exactly as
    ``|price - ref| * 1e6 > max_ppm * ref``; also when there is no reference to compare to.
    ``ref`` is ``reference_price(side, book, post_only)``.

    The deviation is two-sided (as specified): it guards against fat fingers and signals
    computed on a market that has since moved. A passive order far below the ask also fails,
    so with low prices (ask 0.10: one tick is 10 %) size the limit for the strategy's style.
    """
    ref = reference_price(side, book, post_only)
    if ref is None or ref <= 0:
        return Violation(Code.PRICE_DEVIATION, {"price": price, "reference": ref, "max_ppm": max_ppm})
    dev = abs(price - ref)
    if dev * PPM > max_ppm * ref:
        return Violation(Code.PRICE_DEVIATION, {
            "price": price, "reference": ref, "deviation_ppm": dev * PPM // ref, "max_ppm": max_ppm})
    return None


def check_fee_rate(price: int, schedule: FeeSchedule | None, max_bps: int, post_only: bool = False) -> Violation | None:
    """``fee_rate_too_high`` when the effective taker fee at ``price`` (``core.fees.fee_rate_bps``,
    bps of notional, floored) exceeds ``max_bps``. A post-only order never takes, so it pays no
    fee under a taker-only schedule and passes."""
    if schedule is None or (post_only and schedule.taker_only):
        return None
    bps = fee_rate_bps(price, schedule)
    if bps > max_bps:
        return Violation(Code.FEE_RATE_TOO_HIGH, {"fee_rate_bps": bps, "max_bps": max_bps, "price": price})
    return None
