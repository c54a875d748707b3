"""The taker complete-set detector on real L2Books: fast-path misses, every classification,
exact fee and VWAP arithmetic, multi-outcome sets, and the real burst capture."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from clobflow.book.book_set import BookSet, TrackedBook
from clobflow.book.trust import Trust
from clobflow.core.errors import ConfigError
from clobflow.core.markets import FeeSchedule
from clobflow.strategies.complete_set.detector import (
    BinaryDetector,
    DetectorConfig,
    Hit,
    MultiOutcomeDetector,
)
from clobflow.venues.polymarket.integrity import PolymarketIntegrity, seed_from_complement
from clobflow.venues.polymarket.parsing import MarketParser

S = 1_000_000  # one share / one dollar / a price of 1.0, in micro-units
T = 1_790_000_000 * 10**9
BURST = Path(__file__).parents[3] / "fixtures" / "polymarket" / "ws_market" / "book_then_price_change_burst_2026-09.json"
FEE_E1 = FeeSchedule(rate=70_000, exponent=1)
FEE_E2 = FeeSchedule(rate=250_000, exponent=2)


def tracked(asset, bids=(), asks=(), ts=T, state=Trust.TRUSTED) -> TrackedBook:
    tb = TrackedBook(asset)
    tb.book.load(bids, asks)
    tb.book.ts_recv_ns = ts
    tb.state = state
    return tb


def pair(yes_bid, yes_ask, no_bid, no_ask, size=100 * S, no_ts=T, no_state=Trust.TRUSTED):
    """YES and NO books with one level a side of ``size`` each (``None`` = empty side)."""

    def side(p):
        return () if p is None else ((p, size),)

    return (tracked("YES", side(yes_bid), side(yes_ask)),
            tracked("NO", side(no_bid), side(no_ask), ts=no_ts, state=no_state))


def mirrored(yes_bid, yes_ask, size=100 * S, asset="YES"):
    """A consistent Polymarket pair: NO bid = 1 − YES ask, NO ask = 1 − YES bid."""
    return (tracked(asset, ((yes_bid, size),), ((yes_ask, size),)),
            tracked(asset + "-NO", ((S - yes_ask, size),), ((S - yes_bid, size),)))


def binary(**cfg) -> BinaryDetector:
    return BinaryDetector(DetectorConfig(**{"target_size": 100 * S, **cfg}))


# The only way a binary pair is both uncrossed and below 1 is a mirror gap larger than the
# spreads: YES 0.50/0.52 and NO 0.40/0.45 sum to 0.97, with YES ask 0.08 under 1 − NO bid (0.60)
# and NO ask 0.05 under 1 − YES bid (0.50). A tolerance of 0.10 accepts both gaps.
WIDE = 100_000


def executable_pair(**kw):
    return pair(500_000, 520_000, 400_000, 450_000, **kw)


# -- binary: misses -----------------------------------------------------------------------------


def test_consistent_mirrored_books_give_no_hit_on_the_fast_path():
    det = binary()
    yes, no = mirrored(480_000, 500_000)  # asks 0.50 + 0.52 = 1.02
    assert det.check(yes, no, T, FEE_E1) is None
    assert det.counters == {"checks": 1, "candidates": 0, "below_margin": 0, "executable": 0, "inconsistent": 0}


def test_a_set_at_exactly_one_is_not_a_hit():
    # asks 0.48 + 0.52 = 1.00: no margin, even with min_margin 0 and a huge tolerance
    det = binary(mirror_tolerance=S)
    assert det.check(*pair(470_000, 480_000, 510_000, 520_000), T, None) is None
    assert det.counters["candidates"] == 0


@pytest.mark.parametrize("empty", ["yes", "no"])
def test_an_empty_ask_side_is_no_hit(empty):
    yes, no = pair(400_000, None if empty == "yes" else 300_000, 400_000, None if empty == "no" else 300_000)
    assert binary(mirror_tolerance=S).check(yes, no, T, None) is None


# -- binary: classifications --------------------------------------------------------------------


def test_crossed_but_mirrored_books_are_crossed_book():
    # the state of the real burst mid-fill: YES 0.311/0.301, NO 0.699/0.689 mirror exactly
    det = binary()
    hit = det.check(*pair(311_000, 301_000, 699_000, 689_000), T, None)
    assert hit is not None
    assert (hit.classification, hit.reason) == ("inconsistent", "crossed_book")
    assert hit.detail["yes_mirror_gap"] == 0 and hit.detail["no_mirror_gap"] == 0
    assert hit.gross == 990_000 and hit.net_margin == 10_000
    assert det.counters["inconsistent"] == 1 and det.by_reason["crossed_book"] == 1


def test_books_polled_apart_are_mirror_mismatch_with_the_numbers():
    hit = binary().check(*executable_pair(), T + 5, None)
    assert hit is not None
    assert (hit.classification, hit.reason) == ("inconsistent", "mirror_mismatch")
    d = hit.detail
    assert (d["yes_ask"], d["one_minus_no_bid"], d["yes_mirror_gap"]) == (520_000, 600_000, -80_000)
    assert (d["no_ask"], d["one_minus_yes_bid"], d["no_mirror_gap"]) == (450_000, 500_000, -50_000)
    assert d["failed"] == ["mirror_mismatch"] and d["skew_ns"] == 0
    assert hit.ts_ns == T + 5 and hit.asset_ids == ("YES", "NO")


def test_an_ask_without_its_mirror_bid_is_a_mismatch_at_any_tolerance():
    # NO has no bids, so no YES ask can come from the mirror; YES still shows one
    hit = binary(mirror_tolerance=S).check(*pair(500_000, 520_000, None, 450_000), T, None)
    assert hit is not None and hit.reason == "mirror_mismatch"
    assert hit.detail["one_minus_no_bid"] is None and hit.detail["yes_mirror_gap"] is None


@pytest.mark.parametrize(("tol", "expected"), [(WIDE, "ok"), (80_000, "ok"), (79_999, "mirror_mismatch")])
def test_mirror_tolerance_bounds_the_larger_gap(tol, expected):
    hit = binary(mirror_tolerance=tol).check(*executable_pair(), T, None)
    assert hit is not None and hit.reason == expected
    assert hit.classification == ("executable" if expected == "ok" else "inconsistent")


def test_executable_hit_numbers():
    hit = binary(mirror_tolerance=WIDE).check(*executable_pair(), T, None)
    assert hit is not None and hit.kind == "binary"
    assert [(leg.asset_id, leg.price, leg.size, leg.fee) for leg in hit.legs] == [
        ("YES", 520_000, 100 * S, 0), ("NO", 450_000, 100 * S, 0)]
    assert (hit.gross, hit.fees, hit.net_margin, hit.size) == (970_000, 0, 30_000, 100 * S)
    assert hit.detail["notional"] == 97 * S and hit.detail["profit"] == 3 * S


@pytest.mark.parametrize(("skew", "expected"), [(1_000_000_000, "ok"), (1_000_000_001, "stale_leg")])
def test_leg_skew_beyond_the_limit_is_stale_leg(skew, expected):
    det = binary(mirror_tolerance=WIDE, max_leg_skew_ns=1_000_000_000)
    hit = det.check(*executable_pair(no_ts=T - skew), T, None)
    assert hit is not None and hit.reason == expected and hit.detail["skew_ns"] == skew


@pytest.mark.parametrize("state", [Trust.SUSPECT, Trust.UNTRUSTED])
def test_a_book_not_trusted_is_untrusted(state):
    hit = binary(mirror_tolerance=WIDE).check(*executable_pair(no_state=state), T, None)
    assert hit is not None and (hit.classification, hit.reason) == ("inconsistent", "untrusted")
    assert hit.detail["no_trust"] == state.name.lower()


def test_a_trusted_book_with_a_pending_venue_check_is_untrusted():
    """A trusted book whose top disagrees with the venue's while the version waits to be judged
    is not tradeable: its "arb" is not executable."""
    yes, no = executable_pair()
    no.pending = ("v1", None, None, T)  # what Polymarket's checker keeps while it waits
    hit = binary(mirror_tolerance=WIDE).check(yes, no, T, None)
    assert hit is not None and (hit.classification, hit.reason) == ("inconsistent", "untrusted")
    assert hit.detail["no_trust"] == "trusted" and not no.tradeable


def test_reason_is_the_first_failure_and_detail_lists_all():
    det = binary(max_leg_skew_ns=0)
    hit = det.check(*pair(311_000, 301_000, 699_000, 689_000, no_ts=T - 1, no_state=Trust.SUSPECT), T, None)
    assert hit is not None and hit.reason == "untrusted"
    assert hit.detail["failed"] == ["untrusted", "crossed_book", "stale_leg"]


# -- fees, walks, depth -------------------------------------------------------------------------


def test_fees_exponent_1_rate_7_percent():
    # YES 100 @ 0.45: 100·0.07·0.45·0.55 = 1.7325; NO 100 @ 0.50: 100·0.07·0.25 = 1.75
    hit = binary(mirror_tolerance=WIDE).check(*pair(430_000, 450_000, 480_000, 500_000), T, FEE_E1)
    assert hit is not None
    assert [leg.fee for leg in hit.legs] == [1_732_500, 1_750_000]
    assert hit.fees == 3_482_500
    # 1 − 0.95 − 3.4825/100 sets = 0.015175
    assert hit.net_margin == 15_175


def test_fees_exponent_2_rate_25_percent_floors_each_fill_to_5_decimals():
    # YES: 100·0.25·(0.2475)² = 1.53140625 -> 1.53140; NO: 100·0.25·0.25² = 1.5625
    hit = binary(mirror_tolerance=WIDE).check(*pair(430_000, 450_000, 480_000, 500_000), T, FEE_E2)
    assert hit is not None
    assert [leg.fee for leg in hit.legs] == [1_531_400, 1_562_500]
    assert hit.fees == 3_093_900 and hit.net_margin == 50_000 - 30_939


def test_fees_can_eat_the_whole_margin():
    # 0.47 + 0.50 = 0.97 gross, but fees are 0.017437 + 0.0175 per set > 0.03
    det = binary(mirror_tolerance=WIDE)
    assert det.check(*pair(460_000, 470_000, 480_000, 500_000), T, FEE_E1) is None
    assert det.counters["candidates"] == 1 and det.counters["below_margin"] == 1
    assert det.check(*pair(460_000, 470_000, 480_000, 500_000), T, None) is not None


def test_multi_level_walk_vwap_limit_and_per_level_fees():
    yes = tracked("YES", ((500_000, 100 * S),), ((400_000, 30 * S), (410_000, 50 * S), (430_000, 100 * S)))
    no = tracked("NO", ((400_000, 100 * S),), ((500_000, 200 * S),))
    hit = binary(mirror_tolerance=WIDE).check(yes, no, T, FEE_E1)
    assert hit is not None
    leg = hit.legs[0]
    # 30 @ 0.40 + 50 @ 0.41 + 20 @ 0.43 = 41.1 for 100 shares
    assert (leg.price, leg.cost, leg.limit_price, leg.levels) == (411_000, 41_100_000, 430_000, 3)
    # per level: 0.504 + 0.84665 + 0.34314; the fee at the VWAP would be 1.69455
    assert leg.fee == 1_693_790
    assert hit.legs[1].levels == 1 and hit.gross == 911_000


def test_vwap_rounds_up_against_the_taker():
    yes = tracked("YES", ((390_000, S),), ((400_000, S), (410_000, 2 * S)))
    no = tracked("NO", ((400_000, S),), ((500_000, 3 * S),))
    hit = binary(target_size=3 * S, mirror_tolerance=S).check(yes, no, T, None)
    assert hit is not None
    assert hit.legs[0].price == 406_667  # 1.22 / 3 = 0.40666…
    assert hit.legs[0].cost == 1_220_000 and hit.gross == 906_667


def test_the_thinner_leg_caps_the_set_size():
    yes, no = pair(430_000, 450_000, 480_000, 500_000)
    no.book.load(((480_000, 100 * S),), ((500_000, 40 * S),))
    hit = binary(mirror_tolerance=WIDE).check(yes, no, T, FEE_E1)
    assert hit is not None and hit.size == 40 * S and hit.reason == "ok"
    assert [leg.size for leg in hit.legs] == [40 * S, 40 * S]
    # fees for 40 sets, not 100: 40·0.07·0.2475 + 40·0.07·0.25
    assert hit.fees == 693_000 + 700_000
    assert hit.net_margin == 50_000 - 34_825  # the same fee per set as for 100


def test_fewer_sets_than_min_size_is_insufficient_depth():
    yes, no = executable_pair()
    no.book.load(((400_000, 100 * S),), ((450_000, 2 * S),))
    hit = binary(mirror_tolerance=WIDE, min_size=5 * S).check(yes, no, T, None)
    assert hit is not None and hit.size == 2 * S
    assert (hit.classification, hit.reason) == ("inconsistent", "insufficient_depth")
    assert binary(mirror_tolerance=WIDE, min_size=2 * S).check(yes, no, T, None).reason == "ok"


# -- min_margin ---------------------------------------------------------------------------------


def test_min_margin_filters_on_the_fast_path():
    at = binary(mirror_tolerance=WIDE, min_margin=30_000)
    hit = at.check(*executable_pair(), T, None)
    assert hit is not None and hit.net_margin == 30_000
    above = binary(mirror_tolerance=WIDE, min_margin=30_001)
    assert above.check(*executable_pair(), T, None) is None
    assert above.counters["candidates"] == 0  # rejected before any walk


def test_min_margin_applies_after_fees():
    books = pair(430_000, 450_000, 480_000, 500_000)  # net after FEE_E2: 19_061
    assert binary(mirror_tolerance=WIDE, min_margin=19_061).check(*books, T, FEE_E2) is not None
    det = binary(mirror_tolerance=WIDE, min_margin=19_062)
    assert det.check(*books, T, FEE_E2) is None
    assert det.counters["candidates"] == 1 and det.counters["below_margin"] == 1


# -- multi-outcome ------------------------------------------------------------------------------


def three_outcomes(asks=(300_000, 330_000, 340_000)):
    """Each outcome a consistent mirrored pair, YES bid one cent under its ask."""
    return [mirrored(a - 10_000, a, asset=f"O{i}") for i, a in enumerate(asks)]


def multi(**cfg) -> MultiOutcomeDetector:
    return MultiOutcomeDetector(DetectorConfig(**{"target_size": 100 * S, **cfg}))


def test_three_outcomes_below_one_are_an_executable_set():
    det = multi()
    hit = det.check(three_outcomes(), T, None, augmented=False)
    assert hit is not None and hit.kind == "multi"
    assert (hit.classification, hit.reason) == ("executable", "ok")
    assert hit.asset_ids == ("O0", "O1", "O2")
    assert (hit.gross, hit.net_margin, hit.size) == (970_000, 30_000, 100 * S)
    assert [o["yes_mirror_gap"] for o in hit.detail["outcomes"]] == [0, 0, 0]
    assert det.counters["executable"] == 1


def test_multi_fees_sum_over_every_leg():
    hit = multi().check(three_outcomes((200_000, 300_000, 400_000)), T, FEE_E1, augmented=False)
    # 100·0.07·(0.2·0.8 + 0.3·0.7 + 0.4·0.6) = 1.12 + 1.47 + 1.68
    assert hit is not None and [leg.fee for leg in hit.legs] == [1_120_000, 1_470_000, 1_680_000]
    assert hit.fees == 4_270_000 and hit.net_margin == 100_000 - 42_700


def test_augmented_event_is_never_executable():
    hit = multi().check(three_outcomes(), T, None, augmented=True)
    assert hit is not None and (hit.classification, hit.reason) == ("inconsistent", "augmented_event")


def test_one_untrusted_outcome_makes_the_set_untrusted():
    outcomes = three_outcomes()
    outcomes[1][1].state = Trust.UNTRUSTED  # its NO book: the mirror check cannot be trusted
    hit = multi().check(outcomes, T, None, augmented=False)
    assert hit is not None and hit.reason == "untrusted"
    assert [o["untrusted"] for o in hit.detail["outcomes"]] == [False, True, False]


def test_multi_skew_is_judged_within_an_outcome_not_across_outcomes():
    outcomes = three_outcomes()
    for tb in outcomes[2]:  # a quiet market: both of its books 10 s older than the others
        tb.book.ts_recv_ns = T - 10 * 10**9
    assert multi().check(outcomes, T, None, augmented=False).reason == "ok"
    outcomes[2][1].book.ts_recv_ns = T  # now its YES and NO disagree in time
    assert multi().check(outcomes, T, None, augmented=False).reason == "stale_leg"


def test_multi_misses():
    det = multi()
    assert det.check(three_outcomes((300_000, 330_000, 370_000)), T, None, augmented=False) is None  # = 1
    outcomes = three_outcomes()
    outcomes[0][0].book.load(((290_000, S),), ())  # nobody sells outcome 0
    assert det.check(outcomes, T, None, augmented=False) is None
    assert det.counters["checks"] == 2 and det.counters["candidates"] == 0


def test_fewer_than_two_outcomes_is_not_a_set():
    with pytest.raises(ValueError):
        multi().check(three_outcomes()[:1], T, None, augmented=False)


# -- config and records -------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "value"), [
    ("target_size", 0), ("target_size", 1.5), ("min_margin", -1), ("min_margin", S),
    ("max_leg_skew_ns", -1), ("mirror_tolerance", S + 1), ("min_size", 200 * S), ("min_margin", True),
])
def test_bad_config_names_the_key(key, value):
    with pytest.raises(ConfigError) as err:
        DetectorConfig(**{"target_size": 100 * S, key: value})
    assert err.value.key == key


def test_hit_round_trips_through_json():
    hit = binary().check(*pair(430_000, 450_000, 480_000, 500_000), T, FEE_E2)
    assert hit is not None and hit.reason == "mirror_mismatch"
    assert msgspec.json.decode(msgspec.json.encode(hit), type=Hit) == hit


# -- the real burst capture ---------------------------------------------------------------------


def test_real_burst_gives_no_hit_and_no_phantom_crossing():
    """Replay the real capture (book, 49 price_changes, book). The books are consistent and
    mirrored throughout, so the detector finds nothing. Inside the fill (message 47) the venue
    reports the top after the whole match while the consumed levels' removals come two messages
    later; the checker removes them at once (``consumed_levels``), so the phantom crossing
    (asks 0.301 + 0.689 = 0.99, a "set" below 1) is never seen: YES ask 0.301 + NO ask 0.71."""
    msgs = json.loads(BURST.read_text())
    parser, books = MarketParser(), BookSet(checker=PolymarketIntegrity())
    yes_id = msgs[0]["asset_id"]
    for ev in parser.parse(json.dumps(msgs[0]), T):
        books.on_event(ev)
    no_id = next(c["asset_id"] for c in msgs[1]["price_changes"] if c["asset_id"] != yes_id)
    assert seed_from_complement(books, no_id, yes_id, T)  # the capture has one snapshot only
    small = BinaryDetector(DetectorConfig(target_size=10 * S))
    small_fee = BinaryDetector(DetectorConfig(target_size=10 * S))
    large = BinaryDetector(DetectorConfig(target_size=100 * S))
    hits = {}
    for i, m in enumerate(msgs[1:], start=1):
        for ev in parser.parse(json.dumps(m), T + i):
            books.on_event(ev)
            yes, no = books.get(yes_id), books.get(no_id)
            assert not yes.book.crossed() and not no.book.crossed(), i
            assert small_fee.check(yes, no, T + i, FEE_E2) is None
            assert large.check(yes, no, T + i, None) is None
            hit = small.check(yes, no, T + i, None)
            if hit is not None:
                hits[i] = hit
    assert small.counters["checks"] == 50
    assert hits == {}
    assert books.counters["consumed_levels"] == 4  # YES bids 0.311, 0.301; NO asks 0.689, 0.699
    assert small.counters["executable"] == large.counters["candidates"] == small_fee.counters["candidates"] == 0


def test_polled_15m_recording_has_sub_one_asks_and_none_is_executable():
    """The bundled 1 Hz recording polls the two books separately: asks summing below 1 appear
    (the first 3 windows have 83 such pair updates), and every one is a mirror mismatch. Only a
    tolerance wide enough to ignore the mirror would call them executable."""
    from clobflow.sim.datasets import load_dataset

    ds = load_dataset("pm-btc15m-tob-1s", limit_markets=3)
    parser, books = MarketParser(), BookSet()
    strict = BinaryDetector(DetectorConfig())
    blind = BinaryDetector(DetectorConfig(mirror_tolerance=S))
    for f in ds.frames:
        for ev in parser.parse(f.frame, f.ts_recv_ns):
            books.on_event(ev)
        for m in ds.markets:
            yes, no = books.get(m.yes.token_id), books.get(m.no.token_id)
            if yes is not None and no is not None:
                strict.check(yes, no, f.ts_recv_ns, m.fee_schedule)
                blind.check(yes, no, f.ts_recv_ns, m.fee_schedule)
    assert strict.counters["candidates"] == strict.counters["inconsistent"] == 83
    assert strict.counters["executable"] == 0
    assert {r for r, n in strict.by_reason.items() if n} == {"mirror_mismatch"}
    assert blind.counters["executable"] > 0
