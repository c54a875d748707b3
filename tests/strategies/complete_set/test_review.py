"""The after-window review on hand-built Decision rows: every action's acted/alternative in
exact micro-dollars (worked out by hand in each test), every label, every anomaly kind."""

from __future__ import annotations

import msgspec
import pytest

from clobflow.strategies.complete_set.records import Decision
from clobflow.strategies.complete_set.review import (
    Anomaly,
    Counterfactual,
    ReviewTotals,
    WindowReview,
    anomalies,
    counterfactuals,
    review_window,
)

S = 1_000_000  # one share / one dollar / a price of 1.0, in micro-units
SEC = 1_000_000_000
T0 = 1_766_745_000 * SEC


def row(seq: int, action: str, reason: str, **kw) -> Decision:
    """A row of market 0xm; ``ts_ns`` defaults to one second per seq."""
    kw.setdefault("ts_ns", T0 + seq * SEC)
    return Decision(seq=seq, market="0xm", slug="btc-updown-15m-1", action=action, reason=reason, **kw)


def fill(seq: int, order_id: str, size: int, price: int, *, side: str = "up", fee: int = 0) -> Decision:
    return row(seq, "fill", "maker", side=side, order_id=order_id, size=size, price=price,
               detail={"fee": fee} if fee else None)


def one(rows: list[Decision], winner: str, **kw) -> Counterfactual:
    cfs = counterfactuals(rows, winner, **kw)
    assert len(cfs) == 1
    return cfs[0]


def numbers(cf: Counterfactual) -> tuple[int, int, str, int, str]:
    return cf.acted, cf.alternative, cf.alternative_name, cf.regret, cf.label


# ------------------------------------------------------------------------------ quote / requote

QUOTE_ROWS = [
    row(1, "quote", "open", side="up", price=450_000, size=20 * S, order_id="A"),
    fill(2, "A", 10 * S, 450_000),
    fill(3, "B", 5 * S, 450_000),  # another order: not this quote's
    fill(4, "A", 4 * S, 450_000, fee=20_000),
]


def test_quote_acted_is_its_fills_at_resolution_less_fees() -> None:
    # 14 shares x (1 - 0.45) = 7.70, less the 0.02 fee. Notional 20 x 0.45 = 9.00 -> band 0.045.
    assert numbers(one(QUOTE_ROWS, "up")) == (7_680_000, 0, "no_quote", -7_680_000, "good")
    # 14 shares x (0 - 0.45) = -6.30, less the fee.
    assert numbers(one(QUOTE_ROWS, "down")) == (-6_320_000, 0, "no_quote", 6_320_000, "bad")


def test_fills_go_to_the_latest_earlier_placing_row_with_their_order_id() -> None:
    rows = [
        fill(0, "A", 7 * S, 400_000),  # before any order A: owned by nothing
        row(1, "quote", "open", side="up", price=400_000, size=10 * S, order_id="A"),
        fill(2, "A", 3 * S, 400_000),
        row(3, "requote", "lean", side="up", price=420_000, size=10 * S, order_id="A"),
        fill(4, "A", 5 * S, 420_000),
    ]
    quote, requote = counterfactuals(rows, "up")
    assert (quote.seq, quote.acted) == (1, 3 * 600_000)
    assert (requote.seq, requote.acted, requote.action) == (3, 5 * 580_000, "requote")


# ------------------------------------------------------------------------------------- cancel


def test_cancel_without_would_fill_is_zero_against_zero() -> None:
    cancel = row(1, "cancel", "toxic", side="down", price=400_000, size=10 * S, order_id="A")
    assert numbers(one([cancel], "down")) == (0, 0, "keep_quote", 0, "neutral")


def test_cancel_with_would_fill_values_the_kept_quote() -> None:
    cancel = row(1, "cancel", "toxic", side="down", price=400_000, size=10 * S, detail={"would_fill": 5 * S})
    # Kept: 5 x (1 - 0.40) = 3.00 missed (band: 0.5% of 4.00 = 0.02).
    assert numbers(one([cancel], "down")) == (0, 3_000_000, "keep_quote", 3_000_000, "bad")
    # Kept: 5 x (0 - 0.40) = -2.00 avoided.
    assert numbers(one([cancel], "up")) == (0, -2_000_000, "keep_quote", -2_000_000, "good")


# --------------------------------------------------------------------------- second_leg / chase


def leg_rows(**state) -> list[Decision]:
    return [
        row(1, "second_leg", "taker", side="down", price=500_000, size=10 * S, order_id="L", **state),
        fill(2, "L", 10 * S, 500_000, side="down", fee=10_000),
    ]


def test_second_leg_locks_pairs_against_staying_exposed() -> None:
    rows = leg_rows(up_shares=10 * S, up_cost=4_500_000)  # 10 Up at an average 0.45
    # Locked: 10 x (1 - 0.50 - 0.45) = 0.50, less the 0.01 fee. Exposed: 10 x (1 - 0.45) = 5.50.
    assert numbers(one(rows, "up")) == (490_000, 5_500_000, "stay_exposed", 5_010_000, "bad")
    # Exposed: 10 x (0 - 0.45) = -4.50.
    assert numbers(one(rows, "down")) == (490_000, -4_500_000, "stay_exposed", -4_990_000, "good")


def test_second_leg_without_fills_is_zero_against_zero() -> None:
    rows = leg_rows(up_shares=10 * S, up_cost=4_500_000)[:1]
    assert numbers(one(rows, "up")) == (0, 0, "stay_exposed", 0, "neutral")


def test_second_leg_pairs_only_the_other_sides_unmatched_shares() -> None:
    # Up 10 (avg 0.45) against Down 6: only 4 Up are unmatched. The fills (3 then 7 Down at 0.50)
    # pair 3 + 1; the other 6 are naked Down.
    rows = [
        row(1, "second_leg", "maker", side="down", price=500_000, size=10 * S, order_id="L",
            up_shares=10 * S, up_cost=4_500_000, down_shares=6 * S, down_cost=3_000_000),
        fill(2, "L", 3 * S, 500_000, side="down"),
        fill(3, "L", 7 * S, 500_000, side="down"),
    ]
    # Acted: 4 x (1 - 0.50 - 0.45) + 6 x (1 - 0.50) = 0.20 + 3.00. Exposed: 4 x (0 - 0.45).
    assert numbers(one(rows, "down")) == (3_200_000, -1_800_000, "stay_exposed", -5_000_000, "good")


def test_chase_is_valued_like_a_second_leg() -> None:
    rows = [
        row(1, "chase", "step", side="up", price=480_000, size=5 * S, order_id="C",
            down_shares=10 * S, down_cost=5_000_000, detail={"step": 10_000}),
        fill(2, "C", 5 * S, 480_000),
    ]
    # Locked: 5 x (1 - 0.48 - 0.50) = 0.10. Exposed: 5 x (0 - 0.50) = -2.50.
    assert numbers(one(rows, "up")) == (100_000, -2_500_000, "stay_exposed", -2_600_000, "good")


# ------------------------------------------------------------------------------------- unwind


def test_unwind_sell_excess_against_holding() -> None:
    rows = [
        row(1, "unwind", "sell_excess", side="up", price=550_000, size=6 * S, order_id="U",
            up_shares=10 * S, up_cost=4_000_000),  # avg 0.40
        fill(2, "U", 6 * S, 550_000, fee=3_000),
    ]
    # Sold: 6 x (0.55 - 0.40) = 0.90, less 0.003. Held: 6 x (0 - 0.40) = -2.40.
    assert numbers(one(rows, "down")) == (897_000, -2_400_000, "hold", -3_297_000, "good")
    # Held: 6 x (1 - 0.40) = 3.60.
    assert numbers(one(rows, "up")) == (897_000, 3_600_000, "hold", 2_703_000, "bad")


def test_unwind_buy_missing_against_holding() -> None:
    rows = [
        row(1, "unwind", "buy_missing", side="up", price=550_000, size=10 * S, order_id="M",
            down_shares=10 * S, down_cost=4_800_000),  # avg 0.48
        fill(2, "M", 10 * S, 550_000, fee=15_000),
    ]
    # Bought: 10 x (1 - 0.55 - 0.48) = -0.30, less 0.015. Held: 10 x (1 - 0.48) = 5.20.
    assert numbers(one(rows, "down")) == (-315_000, 5_200_000, "hold", 5_515_000, "bad")


def test_unwind_with_an_unknown_reason_is_zero_with_a_note() -> None:
    cf = one([row(1, "unwind", "mystery", side="up", price=500_000, size=S)], "up")
    assert (cf.acted, cf.alternative, cf.note) == (0, 0, "unknown_reason")


# --------------------------------------------------------------------------------------- skip

SKIP_BOOK = {"up_ask": 470_000, "down_ask": 500_000, "detail": {"fee_per_set": 5_000}}


def test_skip_against_taking_a_set_now() -> None:
    skip = row(1, "skip", "margin_too_thin", **SKIP_BOOK)
    # 10 sets x (1 - 0.47 - 0.50) = 0.30, less 10 x 0.005 fees. Band: 0.5% of 10 = 0.05.
    cf = one([skip], "up", set_size=10 * S)
    assert numbers(cf) == (0, 250_000, "take_set_now", 250_000, "bad")
    assert (cf.executable, cf.note) == (True, "")


def test_skip_set_size_falls_back_to_the_row_size_then_zero() -> None:
    # 4 x 0.03 - 4 x 0.005.
    assert one([row(1, "skip", "margin_too_thin", size=4 * S, **SKIP_BOOK)], "up").alternative == 100_000
    assert numbers(one([row(1, "skip", "margin_too_thin", **SKIP_BOOK)], "up")) == (
        0, 0, "take_set_now", 0, "neutral")


def test_skip_set_is_capped_by_the_visible_ask_depth() -> None:
    skip = row(1, "skip", "margin_too_thin", up_ask_size=3 * S, **SKIP_BOOK)  # down size unrecorded
    cf = one([skip], "up", set_size=10 * S)
    assert (cf.alternative, cf.note) == (3 * 30_000 - 3 * 5_000, "capped_by_depth")


def test_skip_of_an_overpriced_set_is_good() -> None:
    skip = row(1, "skip", "margin_too_thin", up_ask=520_000, down_ask=500_000)
    assert numbers(one([skip], "down", set_size=10 * S)) == (0, -200_000, "take_set_now", -200_000, "good")


def test_skip_without_a_book_has_no_alternative() -> None:
    skip = row(1, "skip", "book_not_ready", up_ask=470_000, down_ask=None)
    cf = one([skip], "up", set_size=10 * S)
    assert numbers(cf) == (0, 0, "take_set_now", 0, "neutral")
    assert (cf.executable, cf.note) == (False, "no_book")


# ------------------------------------------------------------------------------------- detect


def test_detect_executable_missed_hit_is_regret() -> None:
    cf = one([row(1, "detect", "executable", size=10 * S, margin=25_000)], "up")
    # 10 sets x 0.025 net margin; band 0.5% of 10 = 0.05.
    assert numbers(cf) == (0, 250_000, "take_hit", 250_000, "bad")
    assert cf.executable


def test_detect_taken_is_valued_against_passing() -> None:
    cf = one([row(1, "detect", "executable", size=10 * S, margin=25_000, detail={"taken": True})], "up")
    assert numbers(cf) == (250_000, 0, "pass", -250_000, "good")


def test_detect_inconsistent_is_not_regret() -> None:
    cf = one([row(1, "detect", "inconsistent", size=10 * S, margin=300_000)], "down")
    assert numbers(cf) == (0, 3_000_000, "take_hit", 3_000_000, "neutral")
    assert (cf.executable, cf.note) == (False, "not_executable")


# -------------------------------------------------------------------------------------- labels


def test_label_band_is_a_ppm_of_notional_and_exclusive() -> None:
    rows = [row(1, "quote", "open", side="up", price=500_000, size=10 * S, order_id="A"),
            fill(2, "A", S, 990_000)]
    # Acted 1 x 0.01 = 10_000, regret -10_000; notional 5.00.
    assert one(rows, "up", tolerance_ppm=2_000).label == "neutral"  # band exactly 10_000
    assert one(rows, "up", tolerance_ppm=1_999).label == "good"  # band 9_995
    cancel = row(1, "cancel", "toxic", side="up", price=500_000, size=10 * S, detail={"would_fill": S})
    assert one([cancel], "up", tolerance_ppm=100_000).label == "neutral"  # regret 500_000 = band
    assert one([cancel], "up", tolerance_ppm=99_999).label == "bad"


def test_label_notional_floors_at_one() -> None:
    # Size 0: notional 0 -> 1, so a 2x ppm tolerance gives a band of 2 and regret 1 is neutral.
    cancel = row(1, "cancel", "toxic", side="up", price=500_000, size=0, detail={"would_fill": 2})
    cf = one([cancel], "up", tolerance_ppm=2_000_000)
    assert (cf.regret, cf.label) == (1, "neutral")


# ------------------------------------------------------------------------------- what is judged


def test_fills_and_observes_get_no_counterfactual() -> None:
    rows = [
        row(1, "quote", "open", side="up", price=450_000, size=S, order_id="A"),
        fill(2, "A", S, 450_000),
        row(3, "observe", "flash_move", detail={"value": 1, "threshold": 1}),
        row(4, "cancel", "toxic", side="up", price=450_000, size=S, order_id="A"),
        row(5, "skip", "hard_stop"),
        row(6, "detect", "executable", size=S, margin=1),
        row(7, "teleport", "why"),
    ]
    cfs = counterfactuals(reversed(rows), "up")  # order of the input does not matter: seq does
    assert [c.seq for c in cfs] == [1, 4, 5, 6, 7]
    assert (cfs[-1].note, cfs[-1].alternative) == ("unknown_action", 0)


def test_bad_winner_and_mixed_markets_are_rejected() -> None:
    with pytest.raises(ValueError, match="winner"):
        counterfactuals([], "yes")
    mixed = [row(1, "skip", "hard_stop"), msgspec.structs.replace(row(2, "skip", "hard_stop"), market="0xn")]
    with pytest.raises(ValueError, match="one market"):
        counterfactuals(mixed, "up")


# ----------------------------------------------------------------------------------- anomalies


def kinds(found: list[Anomaly]) -> list[tuple[str, int, int, int]]:
    return [(a.kind, a.detail.get("seq", -1), a.value, a.severity) for a in found]


def test_extreme_margin_on_consistent_detects_and_quotes() -> None:
    rows = [
        row(1, "detect", "executable", margin=60_000),
        row(2, "detect", "executable", margin=50_000),  # at the limit: not extreme
        row(3, "quote", "open", margin=-110_000),  # x2.2 -> severity 2
        row(4, "quote", "open", margin=200_000),  # x4 -> severity 3
        row(5, "skip", "margin_too_thin", margin=900_000),  # not a detect or quote
    ]
    assert kinds(anomalies(rows)) == [("extreme_margin", 1, 60_000, 1), ("extreme_margin", 3, -110_000, 2),
                                      ("extreme_margin", 4, 200_000, 3)]


def test_inconsistent_detections_are_one_summary_per_window() -> None:
    rows = [
        row(2, "detect", "inconsistent", margin=80_000),
        row(3, "detect", "executable", margin=10_000),
        row(5, "detect", "inconsistent", margin=-120_000),
        row(9, "detect", "inconsistent", margin=30_000),
    ]
    found = anomalies(rows)
    assert len(found) == 1  # no flood, and no extreme_margin for the inconsistent ones
    a = found[0]
    assert (a.kind, a.ts_ns, a.market, a.value, a.threshold, a.severity) == (
        "inconsistent_margin", T0 + 2 * SEC, "0xm", 3, 0, 1)
    assert a.detail == {"count": 3, "first_ts_ns": T0 + 2 * SEC, "last_ts_ns": T0 + 9 * SEC,
                        "first_seq": 2, "last_seq": 9, "worst_margin": -120_000}


def test_inconsistent_summary_severity_grows_with_the_count() -> None:
    rows = [row(i, "detect", "inconsistent", margin=1) for i in range(10)]
    assert [a.severity for a in anomalies(rows)] == [2]


def test_observe_rows_pass_through() -> None:
    rows = [
        row(1, "observe", "flash_move", detail={"value": 80_000, "threshold": 30_000}),
        row(2, "observe", "untrusted_book", detail={"value": 3, "threshold": 1, "severity": 3, "why": "gap"}),
        # As the bot writes it: no value in the detail, and the row's threshold is a margin.
        row(3, "observe", "untrusted_book", threshold=20_000, detail={"state": "suspect", "why": "stale"}),
    ]
    flash, untrusted, plain = anomalies(rows)
    assert (flash.kind, flash.value, flash.threshold, flash.severity) == ("flash_move", 80_000, 30_000, 2)
    assert (untrusted.kind, untrusted.severity, untrusted.detail["why"]) == ("untrusted_book", 3, "gap")
    assert (plain.value, plain.threshold, plain.severity) == (0, 0, 1)
    assert plain.detail == {"seq": 3, "state": "suspect", "why": "stale"}


def test_latency_spike_on_second_legs_only() -> None:
    rows = [
        row(1, "second_leg", "taker", latency_ns=2_000_001),
        row(2, "second_leg", "taker", latency_ns=2_000_000),  # at the limit
        row(3, "second_leg", "maker", latency_ns=8_000_000),  # exactly x4 -> severity 3
        row(4, "second_leg", "maker", latency_ns=None),
        row(5, "chase", "step", latency_ns=9_000_000),
        row(6, "second_leg", "taker", latency_ns=4_000_000),  # exactly x2 -> severity 2
        row(7, "second_leg", "taker", latency_ns=7_999_999),
    ]
    assert kinds(anomalies(rows)) == [("latency_spike", 1, 2_000_001, 1), ("latency_spike", 3, 8_000_000, 3),
                                      ("latency_spike", 6, 4_000_000, 2), ("latency_spike", 7, 7_999_999, 2)]


def stuck(seq: int, at_s: int, **kw) -> Decision:
    return row(seq, "skip", "book_not_ready", ts_ns=T0 + at_s * SEC, **kw)


def test_stuck_untrusted_is_one_anomaly_per_long_run() -> None:
    rows = [
        stuck(1, 0), stuck(2, 4),
        row(3, "observe", "untrusted_book", ts_ns=T0 + 6 * SEC),  # does not break the run
        fill(4, "A", S, 450_000),  # nor does a fill
        stuck(5, 9),
        row(6, "quote", "open", ts_ns=T0 + 12 * SEC),  # run 1 ends here: 12 s
        stuck(7, 20), stuck(8, 25),
        row(9, "skip", "margin_too_thin", ts_ns=T0 + 30 * SEC),  # run 2: exactly 10 s, not more
        stuck(10, 40), stuck(11, 61),  # run 3: open at the end of the rows, no time left known: 21 s
    ]
    found = [a for a in anomalies(rows) if a.kind == "stuck_untrusted"]
    assert [(a.ts_ns, a.value, a.threshold, a.severity) for a in found] == [
        (T0, 12_000, 10_000, 1), (T0 + 40 * SEC, 21_000, 10_000, 2)]
    assert found[0].detail == {"seq": 1, "count": 3, "last_seq": 5, "end_ts_ns": T0 + 12 * SEC,
                               "ended_by": "quote:open"}
    assert found[1].detail["ended_by"] == "last_row"


def test_stuck_untrusted_one_deduplicated_row_lasts_until_the_book_is_acted_on() -> None:
    # The bot journals one skip per change of reason: one row stands for the whole outage.
    requoted = row(2, "quote", "open", ts_ns=T0 + 15 * SEC)
    assert [a.value for a in anomalies([stuck(1, 0), requoted])] == [15_000]
    # No row after it: the outage lasts to the window's end (30 s left at the row).
    (a,) = anomalies([stuck(1, 0, seconds_left_ms=30_000)])
    assert (a.kind, a.value, a.severity, a.detail["ended_by"]) == ("stuck_untrusted", 30_000, 2, "window_end")
    assert anomalies([stuck(1, 0), row(2, "quote", "open", ts_ns=T0 + 10 * SEC)]) == []


# -------------------------------------------------------------------------------------- review


def test_review_window_bundles_counterfactuals_anomalies_and_totals() -> None:
    rows = [
        row(1, "quote", "open", side="up", price=450_000, size=10 * S, order_id="A"),
        fill(2, "A", 10 * S, 450_000),
        row(3, "second_leg", "taker", side="down", price=500_000, size=10 * S, order_id="L",
            up_shares=10 * S, up_cost=4_500_000, latency_ns=3_000_000),
        fill(4, "L", 10 * S, 500_000, side="down", fee=10_000),
        row(5, "detect", "inconsistent", size=10 * S, margin=300_000),
        row(6, "skip", "book_not_ready"),
        row(7, "cancel", "toxic", side="up", price=450_000, size=10 * S),
        row(8, "observe", "flash_move", detail={"value": 80_000, "threshold": 30_000}),
    ]
    review = review_window(rows, "up")
    assert (review.market, review.slug, review.winner) == ("0xm", "btc-updown-15m-1", "up")
    assert [(c.seq, c.label) for c in review.counterfactuals] == [
        (1, "good"), (3, "bad"), (5, "neutral"), (6, "neutral"), (7, "neutral")]
    # Acted 5.50 + 0.49; regret -5.50 + 5.01, without the inconsistent detect's 3.00.
    assert review.totals == ReviewTotals(good=1, bad=1, neutral=3, not_executable=2, acted=5_990_000,
                                         regret=-490_000)
    assert [a.kind for a in review.anomalies] == ["latency_spike", "inconsistent_margin", "flash_move"]
    # Plain Structs: the review round-trips through JSON (the report writes it).
    assert msgspec.json.decode(msgspec.json.encode(review), type=WindowReview) == review


def test_review_window_passes_its_keywords_on() -> None:
    rows = [row(1, "skip", "margin_too_thin", up_ask=470_000, down_ask=500_000),
            row(2, "second_leg", "taker", latency_ns=3_000_000)]
    review = review_window(rows, "up", set_size=10 * S, latency_spike_ns=5_000_000)
    assert review.counterfactuals[0].alternative == 300_000
    assert review.anomalies == []
    assert review_window([], "down") == WindowReview("", "", "down", [], [], ReviewTotals(0, 0, 0, 0, 0, 0))
