"""Aggregating and printing the fill-realism comparison of ``wallet`` over many windows:
``summarize`` (JSON-ready, exact integers) and ``render_text`` (a fixed-width table through
``core.display``; no floats)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from clobflow.core import display as D
from clobflow.core.numbers import ONE
from clobflow.strategies.complete_set.records import DOWN, UP
from clobflow.strategies.complete_set.wallet import (
    MINUTES,
    SIDES,
    S,
    FillComparison,
    SideTotals,
    median,
    side_totals,
)


_WHO = ("ours", "theirs")
_COUNTS = ("corroborated_fills", "corroborated_shares", "uncorroborated_fills", "uncorroborated_shares")
_MINUTES = ("ours_per_minute", "theirs_per_minute")


def summarize(comparisons: Iterable[FillComparison]) -> dict[str, Any]:
    """Pool windows: ``{"windows", "ours_pair_cost", "theirs_pair_cost", "ours_locked_profit",
    "theirs_locked_profit", "up": {...}, "down": {...}}``; values are ints, ``None`` or int
    lists, so the dict serialises as is.

    Per side: ``ours_fills``, ``ours_shares``, ``ours_vwap`` and ``theirs_*`` likewise (pooled
    exactly: ``Σ cost_e12 // Σ shares``), ``corroborated_fills``/``_shares``,
    ``uncorroborated_fills``/``_shares``, ``corroborated_frac`` (micro), ``ours_per_minute``/
    ``theirs_per_minute`` (buckets summed), ``median_price_diff`` (over all windows' diffs).
    Pooled pair cost = the two pooled VWAPs added; locked profit = the windows' sum. For a
    single window every value equals that window's own.
    """
    comps = list(comparisons)
    out: dict[str, Any] = {"windows": len(comps)}
    pooled = {(who, s): _pool(getattr(c, who).side(s) for c in comps) for who in _WHO for s in SIDES}
    for who in _WHO:
        u, d = pooled[who, UP].vwap, pooled[who, DOWN].vwap
        out[f"{who}_pair_cost"] = None if u is None or d is None else u + d
        out[f"{who}_locked_profit"] = sum(getattr(c, who).locked_profit for c in comps)
    for s in SIDES:
        sc = [c.side(s) for c in comps]
        side: dict[str, Any] = {}
        for who in _WHO:
            t = pooled[who, s]
            side |= {f"{who}_fills": t.fills, f"{who}_shares": t.shares, f"{who}_vwap": t.vwap}
        side |= {key: sum(getattr(x, key) for x in sc) for key in _COUNTS}
        ours = side["ours_shares"]
        side["corroborated_frac"] = side["corroborated_shares"] * ONE // ours if ours else None
        side |= {key: [sum(getattr(x, key)[m] for x in sc) for m in range(MINUTES)] for key in _MINUTES}
        side["median_price_diff"] = median(sorted(d for x in sc for d in x.price_diffs))
        out[s] = side
    return out


def _pool(totals: Iterable[SideTotals]) -> SideTotals:
    fills = shares = cost_e12 = 0
    for t in totals:
        fills, shares, cost_e12 = fills + t.fills, shares + t.shares, cost_e12 + t.cost_e12
    return side_totals(fills, shares, cost_e12)


_HEAD = (
    f"{'window (UTC)':<16} {'side':<4} {'ours n':>6} {'ours sh':>10} {'ours px':>7} "
    f"{'real n':>7} {'real sh':>10} {'real px':>7} {'corr n':>6} {'corr %':>6} {'med dpx':>8}"
)


def render_text(comparisons: Iterable[FillComparison]) -> str:
    """A fixed-width plain-text table: one line per window and side (``n`` fills, ``sh`` shares,
    ``px`` VWAP, ``corr`` corroborated fills and share %, ``med dpx`` median of our price minus
    the nearest real one), the pooled totals (``summarize``) with both pair costs, then fills per
    minute over all windows. Prices with 4 decimals, shares with 2, ``-`` for none; printed from
    integers, never through a float."""
    comps = list(comparisons)
    rule = "-" * len(_HEAD)
    lines = [_HEAD, rule]
    for c in comps:
        label = datetime.fromtimestamp(c.window_start_ns // S, UTC).strftime("%Y-%m-%d %H:%M")
        one = summarize([c])
        lines += [_row(label, s, one[s]) for s in SIDES]
    total = summarize(comps)
    lines.append(rule)
    lines += [_row(f"all {len(comps)} windows", s, total[s]) for s in SIDES]
    lines.append(
        f"pair cost: ours {_px(total['ours_pair_cost'])}, real {_px(total['theirs_pair_cost'])}; "
        f"locked profit: ours {D.money(total['ours_locked_profit'])}, "
        f"real {D.money(total['theirs_locked_profit'])}"
    )
    lines += ["", f"{'fills per minute':<16} " + " ".join(f"{m:>5}" for m in range(MINUTES))]
    for s in SIDES:
        for who, key in zip(("ours", "real"), _MINUTES):
            lines.append(f"{s + ' ' + who:<16} " + " ".join(f"{D.count(n):>5}" for n in total[s][key]))
    return "\n".join(lines) + "\n"


def _px(v: int | None) -> str:
    return D.price(v)


def _row(label: str, side: str, x: dict[str, Any]) -> str:
    """One table line from a ``summarize`` side dict."""
    frac, dpx = x["corroborated_frac"], x["median_price_diff"]
    pct = "-" if frac is None else D.price(frac * 100, 1)
    dp = "-" if dpx is None else ("+" if dpx > 0 else "") + D.price(dpx)
    return (
        f"{label:<16} {side:<4} {D.count(x['ours_fills']):>6} {D.shares(x['ours_shares']):>10} "
        f"{_px(x['ours_vwap']):>7} {D.count(x['theirs_fills']):>7} {D.shares(x['theirs_shares']):>10} "
        f"{_px(x['theirs_vwap']):>7} {D.count(x['corroborated_fills']):>6} {pct:>6} {dp:>8}"
    )
