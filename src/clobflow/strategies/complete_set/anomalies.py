"""Anomalies of one window of the complete-set bot, for a human to review: extreme and
inconsistent margins, flash moves and untrusted books seen on the stream, second-leg latency
spikes, and books that stayed not-ready. A pure function of the window's ``Decision`` rows
(``records``); ``review.review_window`` bundles it with the counterfactuals.

Units: margins in micro-units of 1, latencies in ns, spans in ms, counts as counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from clobflow.strategies.complete_set.records import NOT_DECISIONS, Decision

_NS_PER_MS = 1_000_000


class Anomaly(msgspec.Struct, frozen=True, gc=False):
    """Something in the window worth a human look.

    ``kind``: ``extreme_margin``, ``inconsistent_margin``, ``latency_spike``,
    ``stuck_untrusted``, or an ``observe`` row's reason (``flash_move``, ``untrusted_book``).
    ``value`` is what was measured and ``threshold`` what it crossed, in the kind's unit (a
    margin in micro-units, a latency in ns, a span in ms, a count); ``severity`` is 1 (look
    when convenient) to 3 (look now).
    """

    kind: str
    ts_ns: int
    market: str
    severity: int
    value: int
    threshold: int
    detail: dict[str, Any]


def one_market(rows: Iterable[Decision]) -> list[Decision]:
    """The rows in seq order; all must belong to one market."""
    ordered = sorted(rows, key=lambda r: r.seq)
    markets = {r.market for r in ordered}
    if len(markets) > 1:
        raise ValueError(f"rows of one market expected, got {sorted(markets)}")
    return ordered


def anomalies(
    rows: Iterable[Decision],
    *,
    extreme_margin: int = 50_000,
    latency_spike_ns: int = 2_000_000,
    untrusted_ms: int = 10_000,
) -> list[Anomaly]:
    """The window's anomalies, ordered by ``ts_ns`` (then by kind of check).

    - ``extreme_margin``: a consistent ``detect`` or a ``quote`` whose ``|margin|`` exceeds
      ``extreme_margin`` (micro-units); value is the signed margin. Inconsistent detections
      are left to the next check (their margins are artefacts of a broken book).
    - ``inconsistent_margin``: ONE per window summarising every ``detect`` row with reason
      ``inconsistent``: value = their count, threshold 0, detail has the first/last ts and
      seq and the worst (largest ``|margin|``) margin.
    - ``observe`` rows pass through with kind = their reason (``flash_move``,
      ``untrusted_book``, ...), value/threshold/severity from ``detail`` when present.
    - ``latency_spike``: a ``second_leg`` whose ``latency_ns`` exceeds ``latency_spike_ns``.
    - ``stuck_untrusted``: one per run of ``skip``/``book_not_ready`` rows (``fill`` and
      ``observe`` rows do not break a run; any other row does) lasting more than
      ``untrusted_ms``: value = ms from the run's first row to the row that broke it, or to
      the window's end (last row's ``ts_ns + seconds_left_ms``) when none did. Skips are
      journaled once per change of reason, so one row can stand for a whole outage.

    Severity for a value over a threshold: 1 above it, 2 from twice it, 3 from four times it.
    """
    ordered = one_market(rows)
    found = [
        *_extreme_margins(ordered, extreme_margin),
        *_inconsistent_summary(ordered),
        *_observed(ordered),
        *_latency_spikes(ordered, latency_spike_ns),
        *_stuck_untrusted(ordered, untrusted_ms),
    ]
    return sorted(found, key=lambda a: a.ts_ns)


def _severity(value: int, threshold: int) -> int:
    """1..3 by how far ``|value|`` is past ``threshold`` (×2 -> 2, ×4 -> 3)."""
    v = abs(value)
    if threshold > 0 and v >= 4 * threshold:
        return 3
    if threshold > 0 and v >= 2 * threshold:
        return 2
    return 1


def _anomaly(kind: str, row: Decision, value: int, threshold: int, detail: dict[str, Any]) -> Anomaly:
    return Anomaly(kind, row.ts_ns, row.market, _severity(value, threshold), value, threshold,
                   {"seq": row.seq, **detail})


def _extreme_margins(rows: list[Decision], limit: int) -> Iterable[Anomaly]:
    for r in rows:
        consistent_detect = r.action == "detect" and r.reason != "inconsistent"
        if (consistent_detect or r.action == "quote") and r.margin is not None and abs(r.margin) > limit:
            yield _anomaly("extreme_margin", r, r.margin, limit, {"action": r.action, "reason": r.reason})


# Persistent inconsistency means a broken book, not a blip: severity by how many rows saw it.
_INCONSISTENT_SEVERITY = ((100, 3), (10, 2), (1, 1))


def _inconsistent_summary(rows: list[Decision]) -> Iterable[Anomaly]:
    bad = [r for r in rows if r.action == "detect" and r.reason == "inconsistent"]
    if not bad:
        return
    worst = max((r.margin for r in bad if r.margin is not None), key=abs, default=None)
    severity = next(s for n, s in _INCONSISTENT_SEVERITY if len(bad) >= n)
    first, last = bad[0], bad[-1]
    yield Anomaly("inconsistent_margin", first.ts_ns, first.market, severity, len(bad), 0, {
        "count": len(bad), "first_ts_ns": first.ts_ns, "last_ts_ns": last.ts_ns,
        "first_seq": first.seq, "last_seq": last.seq, "worst_margin": worst,
    })


def _observed(rows: list[Decision]) -> Iterable[Anomaly]:
    for r in rows:
        if r.action != "observe":
            continue
        d = r.detail or {}
        # Only the detail speaks for the observation: the row's own ``threshold`` is the
        # required margin at that moment, not this anomaly's limit.
        value = d.get("value", 0)
        threshold = d.get("threshold", 0)
        severity = min(3, max(1, d.get("severity") or _severity(value, threshold)))
        yield Anomaly(r.reason, r.ts_ns, r.market, severity, value, threshold, {"seq": r.seq, **d})


def _latency_spikes(rows: list[Decision], limit_ns: int) -> Iterable[Anomaly]:
    for r in rows:
        if r.action == "second_leg" and r.latency_ns is not None and r.latency_ns > limit_ns:
            yield _anomaly("latency_spike", r, r.latency_ns, limit_ns, {"reason": r.reason})


def _stuck_untrusted(rows: list[Decision], limit_ms: int) -> Iterable[Anomaly]:
    # The bot journals a skip once per change of reason, so a long outage may be ONE row: a
    # run is measured to the next decision row (which shows the bot acting on a ready book,
    # or skipping for another reason), or, when none follows, to the window's end.
    run: list[Decision] = []
    for r in [*rows, None]:  # None closes the last run
        if r is not None and r.action == "skip" and r.reason == "book_not_ready":
            run.append(r)
            continue
        if r is not None and r.action in NOT_DECISIONS:
            continue  # a fill or the stream reporting on the book does not make it ready
        if run:
            end_ns, ended_by = _run_end(run[-1], r)
            span_ms = (end_ns - run[0].ts_ns) // _NS_PER_MS
            if span_ms > limit_ms:
                yield _anomaly("stuck_untrusted", run[0], span_ms, limit_ms, {
                    "count": len(run), "last_seq": run[-1].seq, "end_ts_ns": end_ns, "ended_by": ended_by})
            run = []


def _run_end(last: Decision, breaker: Decision | None) -> tuple[int, str]:
    """When a not-ready run ended (ns) and what says so: the breaking row, else the window's
    end from the last row's ``seconds_left_ms``, else that row itself."""
    if breaker is not None:
        return breaker.ts_ns, f"{breaker.action}:{breaker.reason}"
    if last.seconds_left_ms is not None:
        return last.ts_ns + last.seconds_left_ms * _NS_PER_MS, "window_end"
    return last.ts_ns, "last_row"
