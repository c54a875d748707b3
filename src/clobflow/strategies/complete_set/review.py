"""After-window review of the complete-set bot: counterfactuals (here) and anomalies
(``anomalies``), as pure functions.

Input: the ``Decision`` rows (``records``) of ONE market's window, plus the resolved winner
(``"up"`` or ``"down"``). Output: one ``Counterfactual`` per decision (what was done against
the obvious alternative, both valued at resolution), the window's ``Anomaly`` list, and a
``WindowReview`` bundling both with totals. No clock, no I/O: the same rows give the same
review, so it can run in a backtest, after a live window, or in a test.

Units: every money amount (``acted``, ``alternative``, ``regret``) is in micro-dollars; prices
and margins are micro-units of 1 (``500_000`` is 0.5); sizes are micro-shares (``10_000_000``
is 10 shares); times are ns. A (micro-share × micro-price) product is divided by ``ONE`` once,
after summing, with floor division (so a negative half micro-dollar rounds down to -1).

The valuation model (how ``counterfactuals`` prices each action) is in that function's
docstring.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import msgspec

from clobflow.core.numbers import ONE
from clobflow.strategies.complete_set.anomalies import Anomaly, anomalies, one_market
from clobflow.strategies.complete_set.records import DOWN, NOT_DECISIONS, UP, Decision, other

__all__ = ["Anomaly", "Counterfactual", "ReviewTotals", "WindowReview", "anomalies", "counterfactuals",
           "review_window"]  # anomalies live in their own module; re-exported for one import

GOOD = "good"
BAD = "bad"
NEUTRAL = "neutral"

NOT_EXECUTABLE = "not_executable"
NO_BOOK = "no_book"

_PPM = 1_000_000

# Actions that place an order whose fills (matched by ``order_id``) are the decision's outcome.
_PLACING = frozenset({"quote", "requote", "second_leg", "chase", "unwind"})


class Counterfactual(msgspec.Struct, frozen=True, gc=False):
    """One decision against its alternative, both valued at resolution (micro-dollars).

    ``regret = alternative - acted``: positive means the alternative would have earned more.
    ``label`` is ``good`` / ``bad`` / ``neutral`` (see ``counterfactuals``). ``executable`` is
    False when the alternative could not really have been taken (an inconsistent detection, a
    skip without a book); such a row is always ``neutral`` and its regret is not counted in
    ``ReviewTotals.regret``. ``note`` is ``""`` or ``;``-joined codes (``not_executable``,
    ``no_book``, ``capped_by_depth``, ``unknown_action``, ...).
    """

    seq: int
    ts_ns: int
    market: str
    action: str
    reason: str
    side: str
    acted: int
    alternative: int
    alternative_name: str
    regret: int
    label: str
    executable: bool
    note: str = ""


class ReviewTotals(msgspec.Struct, frozen=True, gc=False):
    """Label counts, plus sums in micro-dollars. ``regret`` sums executable rows only (a
    profit that could not have been taken is not regret); ``acted`` sums every row."""

    good: int
    bad: int
    neutral: int
    not_executable: int
    acted: int
    regret: int


class WindowReview(msgspec.Struct, frozen=True, gc=False):
    """The review of one market's window: counterfactuals, anomalies and their totals."""

    market: str
    slug: str
    winner: str
    counterfactuals: list[Counterfactual]
    anomalies: list[Anomaly]
    totals: ReviewTotals


# --------------------------------------------------------------------------- counterfactuals


class _Outcome(NamedTuple):
    """What one evaluator returns; ``basis`` is the size (micro-shares) the label scales by."""

    acted: int
    alternative: int
    name: str
    basis: int
    executable: bool = True
    notes: tuple[str, ...] = ()


_Evaluator = Callable[[Decision, list[Decision], str, int | None], _Outcome]


def counterfactuals(
    rows: Iterable[Decision], winner: str, *, tolerance_ppm: int = 5_000, set_size: int | None = None
) -> list[Counterfactual]:
    """One ``Counterfactual`` per decision row (every action but ``fill`` and ``observe``), in seq order.

    Model. A share of side ``s`` pays ``ONE`` if ``s == winner`` else 0, so one share bought at
    ``p`` is worth ``value(s, p) = payout(s) - p`` at resolution. ``avg(s)`` is the average
    price paid for side ``s``, ``cost × ONE // shares`` from the decision row itself (the
    inventory before the decision; 0 with no shares). A row that places an order (quote,
    requote, second_leg, chase, unwind) owns the ``fill`` rows with its ``order_id`` that come
    after it and before the next placing row with the same ``order_id``; ``filled`` is their
    size, each fill is valued at its own price, and each fill's ``detail["fee"]``
    (micro-dollars) is subtracted from ``acted``.

    ==================  ===========================================  ================================
    action              acted                                        alternative
    ==================  ===========================================  ================================
    quote, requote      Σ fill.size × value(s, fill.price) − fees    ``no_quote`` = 0
    cancel              0 (the pulled bid no longer fills)           ``keep_quote`` =
                                                                     detail["would_fill"] ×
                                                                     value(s, price), else 0
    second_leg, chase,  paired × (ONE − fill.price − avg(o))         ``stay_exposed`` (``hold`` for
    unwind buy_missing  + naked × value(s, fill.price) − fees        the unwind) = paired ×
                                                                     (payout(o) − avg(o))
    unwind sell_excess  Σ fill.size × (fill.price − avg(s)) − fees   ``hold`` = filled ×
                                                                     (payout(s) − avg(s))
    skip                0                                            ``take_set_now`` = n × (ONE −
                                                                     up_ask − down_ask) −
                                                                     n × detail["fee_per_set"]
    detect              0 (hit value if detail["taken"])             ``take_hit`` = size × margin
                                                                     (``pass`` = 0 if taken)
    ==================  ===========================================  ================================

    ``o`` is the other side. A completing leg locks pairs only against the other side's
    unmatched shares (``paired`` = the first fills up to ``shares(o) − shares(s)``); the rest
    of its fills are ``naked`` new exposure valued like a plain buy. With nothing filled both
    sides are 0. For ``skip``, ``n`` is ``set_size``, else the row's size, else 0, capped by
    the known top-of-book ask sizes (note ``capped_by_depth``); a skip with either ask unknown
    has no alternative (0, note ``no_book``, not executable). A ``detect`` is executable only
    with reason ``executable``. An unknown action or unwind reason yields 0 / 0.

    Label: ``basis`` is the row's size (``n`` for a skip); ``notional = basis × price // ONE``,
    or ``basis`` when the row has no price (a set costs about ONE), at least 1; ``band =
    tolerance_ppm × notional // 1e6``. ``bad`` if ``regret > band``, ``good`` if ``regret <
    −band``, else ``neutral``. Non-executable rows are ``neutral`` (note ``not_executable``
    unless a more specific note is given).

    Raises:
        ValueError: ``winner`` is not ``"up"``/``"down"``, or the rows span several markets.
    """
    if winner not in (UP, DOWN):
        raise ValueError(f"winner must be 'up' or 'down', got {winner!r}")
    ordered = one_market(rows)
    fills = _attribute_fills(ordered)
    out: list[Counterfactual] = []
    for row in ordered:
        if row.action in NOT_DECISIONS:
            continue
        evaluate = _EVALUATORS.get(row.action, _eval_unknown)
        outcome = evaluate(row, fills.get(row.seq, []), winner, set_size)
        out.append(_judge(row, outcome, tolerance_ppm))
    return out


def _attribute_fills(ordered: list[Decision]) -> dict[int, list[Decision]]:
    """Placing row seq -> its fills: each fill goes to the latest earlier placing row with its
    order_id. One id can appear on several rows (a ``requote`` row names the order it
    replaces), so a fill after the requote is the requote's; a fill before any row is no one's."""
    owner: dict[str, int] = {}
    out: dict[int, list[Decision]] = {}
    for row in ordered:
        if row.action in _PLACING and row.order_id:
            owner[row.order_id] = row.seq
        elif row.action == "fill" and row.order_id in owner:
            out.setdefault(owner[row.order_id], []).append(row)
    return out


def _judge(row: Decision, o: _Outcome, tolerance_ppm: int) -> Counterfactual:
    regret = o.alternative - o.acted
    notes = list(o.notes)
    if not o.executable:
        label = NEUTRAL
        if not notes:
            notes.append(NOT_EXECUTABLE)
    else:
        label = _label(regret, _band(o.basis, row.price, tolerance_ppm))
    return Counterfactual(
        seq=row.seq, ts_ns=row.ts_ns, market=row.market, action=row.action, reason=row.reason,
        side=row.side, acted=o.acted, alternative=o.alternative, alternative_name=o.name,
        regret=regret, label=label, executable=o.executable, note=";".join(notes),
    )


def _band(basis: int, price: int | None, tolerance_ppm: int) -> int:
    """The regret (micro-dollars) within which a decision is neutral: a ppm of its notional."""
    notional = basis if price is None else basis * price // ONE
    return tolerance_ppm * max(notional, 1) // _PPM


def _label(regret: int, band: int) -> str:
    if regret > band:
        return BAD
    if regret < -band:
        return GOOD
    return NEUTRAL


def _payout(side: str, winner: str) -> int:
    return ONE if side == winner else 0


def _shares(row: Decision, side: str) -> int:
    return row.up_shares if side == UP else row.down_shares


def _avg_cost(row: Decision, side: str) -> int:
    """Average price paid (micro-units) for ``side`` held at the row; 0 with no shares.

    Cost is micro-dollars and shares micro-shares, so the ratio needs one ``ONE`` back in.
    """
    shares = _shares(row, side)
    cost = row.up_cost if side == UP else row.down_cost
    return cost * ONE // shares if shares > 0 else 0


def _detail(row: Decision, key: str) -> Any:
    return row.detail.get(key) if row.detail else None


def _fees(fills: list[Decision]) -> int:
    return sum(_detail(f, "fee") or 0 for f in fills)


def _fill_price(fill: Decision, placed: Decision) -> int:
    """A fill's price, else the placing row's (a maker fill is at the bid's price)."""
    price = fill.price if fill.price is not None else placed.price
    if price is None:
        raise ValueError(f"fill seq={fill.seq} has no price and its order (seq={placed.seq}) none either")
    return price


def _eval_quote(row: Decision, fills: list[Decision], winner: str, _set: int | None) -> _Outcome:
    pay = _payout(row.side, winner)
    pnl = sum(f.size * (pay - _fill_price(f, row)) for f in fills)
    return _Outcome(pnl // ONE - _fees(fills), 0, "no_quote", row.size)


def _eval_cancel(row: Decision, _fills: list[Decision], winner: str, _set: int | None) -> _Outcome:
    # The fills the order got before the cancel belong to its quote; what the cancel changed
    # is only what would have filled afterwards, which the bot records (if it knows) as
    # ``detail["would_fill"]`` (micro-shares). Without it the alternative is unknown: 0.
    would = _detail(row, "would_fill") or 0
    alt = would * (_payout(row.side, winner) - row.price) // ONE if row.price is not None else 0
    return _Outcome(0, alt, "keep_quote", row.size)


def _completing(name: str) -> _Evaluator:
    """Evaluator for a buy of the lagging side ``s`` that completes sets with the other side."""

    def evaluate(row: Decision, fills: list[Decision], winner: str, _set: int | None) -> _Outcome:
        side, o = row.side, other(row.side)
        avg_o = _avg_cost(row, o)
        unmatched = max(0, _shares(row, o) - _shares(row, side))
        pay_s, pay_o = _payout(side, winner), _payout(o, winner)
        acted = alt = 0
        for f in fills:
            p = _fill_price(f, row)
            paired = min(f.size, unmatched)
            unmatched -= paired
            acted += paired * (ONE - p - avg_o) + (f.size - paired) * (pay_s - p)
            alt += paired * (pay_o - avg_o)
        return _Outcome(acted // ONE - _fees(fills), alt // ONE, name, row.size)

    return evaluate


def _eval_sell_excess(row: Decision, fills: list[Decision], winner: str, _set: int | None) -> _Outcome:
    avg = _avg_cost(row, row.side)
    acted = sum(f.size * (_fill_price(f, row) - avg) for f in fills)
    alt = sum(f.size for f in fills) * (_payout(row.side, winner) - avg)
    return _Outcome(acted // ONE - _fees(fills), alt // ONE, "hold", row.size)


_UNWINDS: dict[str, _Evaluator] = {
    "sell_excess": _eval_sell_excess,
    "buy_missing": _completing("hold"),
}


def _eval_unwind(row: Decision, fills: list[Decision], winner: str, set_size: int | None) -> _Outcome:
    evaluate = _UNWINDS.get(row.reason)
    if evaluate is None:
        return _Outcome(0, 0, "hold", row.size, notes=("unknown_reason",))
    return evaluate(row, fills, winner, set_size)


def _eval_skip(row: Decision, _fills: list[Decision], _winner: str, set_size: int | None) -> _Outcome:
    # A set pays ONE whoever wins, so taking one at the asks needs no winner.
    if row.up_ask is None or row.down_ask is None:
        return _Outcome(0, 0, "take_set_now", 0, executable=False, notes=(NO_BOOK,))
    n = set_size if set_size is not None else row.size
    notes: tuple[str, ...] = ()
    # Past the top level the asks are worse than the row shows: cap at the visible depth
    # (a size of 0 means "not recorded", not "empty", since the ask itself is known).
    depth = [d for d in (row.up_ask_size, row.down_ask_size) if d > 0]
    if depth and min(depth) < n:
        n, notes = min(depth), ("capped_by_depth",)
    fee_per_set = _detail(row, "fee_per_set") or 0
    alt = n * (ONE - row.up_ask - row.down_ask) // ONE - n * fee_per_set // ONE
    return _Outcome(0, alt, "take_set_now", n, notes=notes)


def _eval_detect(row: Decision, _fills: list[Decision], _winner: str, _set: int | None) -> _Outcome:
    hit = row.size * row.margin // ONE if row.margin is not None else 0
    executable = row.reason == "executable"
    if _detail(row, "taken"):
        return _Outcome(hit, 0, "pass", row.size, executable)
    return _Outcome(0, hit, "take_hit", row.size, executable)


def _eval_unknown(row: Decision, _fills: list[Decision], _winner: str, _set: int | None) -> _Outcome:
    return _Outcome(0, 0, "none", row.size, notes=("unknown_action",))


_EVALUATORS: dict[str, _Evaluator] = {
    "quote": _eval_quote,
    "requote": _eval_quote,
    "cancel": _eval_cancel,
    "second_leg": _completing("stay_exposed"),
    "chase": _completing("stay_exposed"),
    "unwind": _eval_unwind,
    "skip": _eval_skip,
    "detect": _eval_detect,
}


# ------------------------------------------------------------------------------------ review


def review_window(
    rows: Iterable[Decision],
    winner: str,
    *,
    tolerance_ppm: int = 5_000,
    set_size: int | None = None,
    extreme_margin: int = 50_000,
    latency_spike_ns: int = 2_000_000,
    untrusted_ms: int = 10_000,
) -> WindowReview:
    """The whole review of one resolved window (keywords as in ``counterfactuals`` and
    ``anomalies``). ``market``/``slug`` come from the rows (``""`` when there are none)."""
    ordered = one_market(rows)
    cfs = counterfactuals(ordered, winner, tolerance_ppm=tolerance_ppm, set_size=set_size)
    found = anomalies(ordered, extreme_margin=extreme_margin, latency_spike_ns=latency_spike_ns,
                      untrusted_ms=untrusted_ms)
    head = ordered[0] if ordered else None
    return WindowReview(
        market=head.market if head else "", slug=head.slug if head else "", winner=winner,
        counterfactuals=cfs, anomalies=found, totals=_totals(cfs),
    )


def _totals(cfs: list[Counterfactual]) -> ReviewTotals:
    labels = [c.label for c in cfs]
    return ReviewTotals(
        good=labels.count(GOOD), bad=labels.count(BAD), neutral=labels.count(NEUTRAL),
        not_executable=sum(not c.executable for c in cfs),
        acted=sum(c.acted for c in cfs),
        regret=sum(c.regret for c in cfs if c.executable),
    )
