"""ToxicFlow: spikes, sweeps, print spikes, decay, and a replay of the real burst capture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clobflow.book.book_set import BookSet
from clobflow.book.l2 import L2Book
from clobflow.core.errors import ConfigError
from clobflow.core.events import BookSnapshot, PriceChange, Side
from clobflow.strategies.complete_set.toxic import ToxicConfig, ToxicFlag, ToxicFlow
from clobflow.venues.polymarket.integrity import PolymarketIntegrity, seed_from_complement
from clobflow.venues.polymarket.parsing import MarketParser

FIX = Path(__file__).parents[3] / "fixtures" / "polymarket" / "ws_market"
S = 1_000_000  # one share, micro-units
MS = 1_000_000  # one millisecond, ns
T0 = 1_000_000 * MS
BUY, SELL = Side.BUY, Side.SELL
AVG = 10 * S  # the warm-up order size
DEEP = 450_000  # a bid below the watched top 5 (0.50 .. 0.46)


def ladder(asset: str = "A") -> L2Book:
    """Bids 0.50, 0.49, ... 0.43 and asks 0.51 ... 0.58, 100 shares each."""
    b = L2Book(asset)
    b.load([(500_000 - i * 10_000, 100 * S) for i in range(8)],
           [(510_000 + i * 10_000, 100 * S) for i in range(8)])
    return b


def warm(tf: ToxicFlow, book: L2Book, t: int, n: int = 20, size: int = AVG) -> int:
    """``n`` orders of ``size`` added to (then cancelled from) the 0.47 bid, 100 ms apart;
    each add is one sample. Returns the time of the last observation."""
    tf.on_book(book.asset_id, book, t)
    for _ in range(n):
        t += 100 * MS
        book.set_level(BUY, 470_000, 100 * S + size)
        assert tf.on_book(book.asset_id, book, t) == 0
        t += 100 * MS
        book.set_level(BUY, 470_000, 100 * S)
        assert tf.on_book(book.asset_id, book, t) == 0
    return t


def test_steady_flow_never_flags():
    tf, book = ToxicFlow(), ladder()
    t = T0
    tf.on_book("A", book, t)
    for i in range(600):
        t += 100 * MS
        size = (5 + (i * 7) % 11) * S  # 5..15 shares
        side, price = (BUY, 480_000 - (i % 3) * 10_000) if i % 2 else (SELL, 520_000 + (i % 3) * 10_000)
        book.set_level(side, price, 100 * S + size)
        assert tf.on_book("A", book, t) == 0
        t += 50 * MS
        book.set_level(side, price, 100 * S)
        assert tf.on_book("A", book, t) == 0
        # a print at the touch takes one level: an ordinary fill
        assert tf.on_trade("A", 510_000, size, BUY, t) == 0
        assert tf.on_trade("A", 500_000, size, SELL, t) == 0
    assert tf.flags == {"spike": 0, "sweep": 0, "trade_spike": 0}
    assert tf.last_flag("A") is None
    assert 5 * S <= tf.average("A") <= 15 * S and tf.samples("A") == 200


def test_sudden_level_of_60x_average_is_a_spike():
    tf, book = ToxicFlow(), ladder()
    t = warm(tf, book, T0)
    assert tf.average("A") == AVG
    t += 100 * MS
    book.set_level(BUY, 495_000, 60 * AVG)  # a new level inside the watched top
    assert tf.on_book("A", book, t) == 1
    assert tf.last_flag("A") == ToxicFlag("spike", "A", BUY, 495_000, 60 * AVG, AVG, 0, 1, t)
    assert tf.flags["spike"] == 1
    assert tf.average("A") == (20 * AVG + 60 * AVG) // 21  # the spike still counts


def test_ask_level_growing_60x_is_a_sell_spike():
    tf, book = ToxicFlow(), ladder()
    t = warm(tf, book, T0) + 100 * MS
    book.set_level(SELL, 520_000, 100 * S + 60 * AVG)  # an existing level grows
    assert tf.on_book("A", book, t) == 1
    f = tf.last_flag("A")
    assert (f.kind, f.side, f.price, f.size) == ("spike", SELL, 520_000, 60 * AVG)


def test_growth_seen_over_more_than_the_window_is_not_a_spike():
    tf, book = ToxicFlow(), ladder()
    t = warm(tf, book, T0) + 600 * MS  # previous observation 600 ms ago: not sudden
    book.set_level(BUY, 495_000, 60 * AVG)
    assert tf.on_book("A", book, t) == 0
    assert tf.last_flag("A") is None and tf.samples("A") == 21  # still an order


def test_exactly_at_the_window_is_sudden():
    tf, book = ToxicFlow(), ladder()
    t = warm(tf, book, T0) + 500 * MS
    book.set_level(BUY, 495_000, 60 * AVG)
    assert tf.on_book("A", book, t) == 1


def test_unchanged_observations_refresh_the_window():
    tf, book = ToxicFlow(), ladder()
    t = warm(tf, book, T0)
    for _ in range(5):  # updates below the watched top keep the token observed
        t += 300 * MS
        book.set_level(BUY, 400_000, 1 * S)
        assert tf.on_book("A", book, t) == 0
    t += 300 * MS
    book.set_level(BUY, 495_000, 60 * AVG)
    assert tf.on_book("A", book, t) == 1


def test_spike_beyond_four_multiples_is_severe():
    tf, book = ToxicFlow(), ladder()
    t = warm(tf, book, T0) + 100 * MS
    book.set_level(BUY, 495_000, 201 * AVG)
    assert tf.on_book("A", book, t) == 3 and tf.last_flag("A").severity == 3


def test_min_samples_respected():
    tf, book = ToxicFlow(), ladder()
    t = warm(tf, book, T0, n=19)
    t += 100 * MS
    book.set_level(BUY, 495_000, 100 * AVG)  # 100x, but only 19 samples so far
    assert tf.on_book("A", book, t) == 0 and tf.samples("A") == 20
    t += 100 * MS
    avg = tf.average("A")  # (19 * 10 + 1000) / 20 shares
    book.set_level(BUY, 496_000, 51 * avg)
    assert tf.on_book("A", book, t) == 1
    assert tf.last_flag("A").average == avg


def test_level_scrolling_into_the_window_is_not_an_order():
    tf, book = ToxicFlow(), ladder()
    t = warm(tf, book, T0)
    book.set_level(BUY, DEEP, 10_000 * S)  # a huge level outside the watched top 5
    t += 100 * MS
    assert tf.on_book("A", book, t) == 0
    book.set_level(BUY, 500_000, 0)  # the best leaves: the deep level enters the window
    t += 100 * MS
    assert tf.on_book("A", book, t) == 0
    assert tf.samples("A") == 20 and tf.last_flag("A") is None


def _drop_bids(tf, book, n, t, asset="A"):
    for i in range(n):
        book.set_level(BUY, 500_000 - i * 10_000, 0)
    return tf.on_book(asset, book, t)


def test_sweep_through_three_levels():
    tf, book = ToxicFlow(), ladder()
    tf.on_book("A", book, T0)
    assert _drop_bids(tf, book, 3, T0 + MS) == 2
    assert tf.last_flag("A") == ToxicFlag("sweep", "A", SELL, 480_000, 300 * S, 0, 3, 2, T0 + MS)
    assert tf.samples("A") == 0  # the levels that scrolled in from below are not orders


def test_sweep_through_two_levels_is_not_flagged():
    tf, book = ToxicFlow(), ladder()
    tf.on_book("A", book, T0)
    assert _drop_bids(tf, book, 2, T0 + MS) == 0
    assert tf.flags["sweep"] == 0


def test_ask_sweep_is_a_buy():
    tf, book = ToxicFlow(), ladder()
    tf.on_book("A", book, T0)
    for i in range(4):
        book.set_level(SELL, 510_000 + i * 10_000, 0)
    assert tf.on_book("A", book, T0 + MS) == 2
    f = tf.last_flag("A")
    assert (f.side, f.price, f.size, f.levels) == (BUY, 540_000, 400 * S, 4)


def test_sweep_published_as_one_level_per_message_sharing_a_hash():
    """Polymarket sends one fill as several messages of one book version (same hash)."""
    for h, expected in (("v2", 1), ("", 0)):
        tf, book = ToxicFlow(), ladder()
        book.hash = "v1" if h else ""
        tf.on_book("A", book, T0)
        book.hash = h
        sev = []
        for i in range(3):
            book.set_level(BUY, 500_000 - i * 10_000, 0)
            sev.append(tf.on_book("A", book, T0 + MS))
        tf.on_book("A", book, T0 + 2 * MS)  # e.g. a snapshot of the same version: no repeat
        assert tf.flags["sweep"] == expected, h
        if expected:
            assert sev == [0, 0, 2] and tf.last_flag("A").levels == 3


def test_cleared_book_is_not_a_sweep_and_reload_is_not_orders():
    tf, book = ToxicFlow(), ladder()
    t = warm(tf, book, T0)
    book.clear()  # a tick-size change drops the book
    assert tf.on_book("A", book, t + MS) == 0
    fresh = ladder()
    book.load(fresh.levels(BUY), fresh.levels(SELL))
    assert tf.on_book("A", book, t + 2 * MS) == 0
    assert tf.flags["sweep"] == 0 and tf.samples("A") == 20


def test_reset_makes_the_next_book_a_baseline():
    tf, book = ToxicFlow(), ladder()
    t = warm(tf, book, T0)
    book.load([(300_000, 1_000 * S)], [(310_000, 1_000 * S)])  # a snapshot after a resync
    tf.reset("A")
    assert tf.on_book("A", book, t + MS) == 0
    assert tf.samples("A") == 20 and tf.last_flag("A") is None


def test_trade_print_spike():
    tf = ToxicFlow()
    for i in range(20):
        assert tf.on_trade("A", 500_000, AVG, BUY, T0 + i * MS) == 0
    assert tf.on_trade("A", 510_000, 60 * AVG, BUY, T0 + 30 * MS) == 2
    assert tf.last_flag("A") == ToxicFlag("trade_spike", "A", BUY, 510_000, 60 * AVG, AVG, 0, 2, T0 + 30 * MS)
    assert tf.on_trade("A", 510_000, 10_000 * AVG, SELL, T0 + 31 * MS) == 3


def test_trade_print_walking_three_levels_is_a_sweep_flagged_once():
    tf, book = ToxicFlow(), ladder()
    tf.on_book("A", book, T0)
    assert tf.on_trade("A", 480_000, 300 * S, SELL, T0 + MS) == 2
    assert tf.last_flag("A") == ToxicFlag("sweep", "A", SELL, 480_000, 300 * S, 0, 3, 2, T0 + MS)
    # the fill's book messages follow: the same sweep, not a second one
    assert _drop_bids(tf, book, 3, T0 + 2 * MS) == 2
    assert tf.flags["sweep"] == 1
    # ... and a print through two levels is an ordinary fill
    tf2 = ToxicFlow()
    tf2.on_book("A", ladder(), T0)
    assert tf2.on_trade("A", 520_000, 200 * S, BUY, T0 + MS) == 0


def test_severity_decays_after_hold():
    tf, book = ToxicFlow(), ladder()
    t = warm(tf, book, T0) + 100 * MS
    book.set_level(BUY, 495_000, 60 * AVG)
    assert tf.on_book("A", book, t) == 1
    hold = ToxicConfig().hold_ns
    assert tf.severity("A", t + hold - 1) == 1
    assert tf.severity("A", t + hold) == 0
    assert tf.severity("unknown", t) == 0


def test_lower_flag_outlives_a_higher_one():
    tf = ToxicFlow()
    for i in range(20):
        tf.on_trade("A", 500_000, AVG, BUY, T0 + i * MS)
    t = T0 + 100 * MS
    assert tf.on_trade("A", 500_000, 300 * AVG, BUY, t) == 3  # beyond 4 x 50: severe
    later = t + 4_000 * MS
    assert tf.on_trade("A", 500_000, 60 * tf.average("A"), BUY, later) == 3  # high, held under 3
    assert tf.last_flag("A").severity == 2
    hold = ToxicConfig().hold_ns
    assert tf.severity("A", t + hold - 1) == 3
    assert tf.severity("A", t + hold) == 2  # the severe one expired, the later one holds
    assert tf.severity("A", later + hold) == 0


def test_spike_and_sweep_on_one_token_is_severe():
    tf, book = ToxicFlow(), ladder()
    t = warm(tf, book, T0) + 100 * MS
    book.set_level(BUY, 495_000, 60 * AVG)
    assert tf.on_book("A", book, t) == 1
    t += 1_000 * MS
    for p in (500_000, 495_000, 490_000):
        book.set_level(BUY, p, 0)
    assert tf.on_book("A", book, t) == 3
    f = tf.last_flag("A")
    assert (f.kind, f.levels, f.severity) == ("sweep", 3, 3)
    assert tf.severity("A", t + ToxicConfig().hold_ns - 1) == 3


def test_market_severity_is_the_max_over_tokens():
    tf, book = ToxicFlow(), ladder("A")
    tf.on_book("A", book, T0)
    _drop_bids(tf, book, 3, T0 + MS)
    assert tf.market_severity(("A", "B"), T0 + MS) == 2
    assert tf.market_severity(("B",), T0 + MS) == 0
    assert tf.market_severity((), T0) == 0


def test_average_is_a_ring_of_the_last_window():
    tf = ToxicFlow(ToxicConfig(avg_window=4, min_samples=1))
    for i in range(1, 6):
        tf.on_trade("A", 500_000, i * S, BUY, T0)
    assert tf.samples("A") == 4 and tf.average("A") == (2 + 3 + 4 + 5) * S // 4
    tf.forget("A")
    assert tf.average("A") == 0


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"depth_levels": 0}, "depth_levels"),
        ({"spike_multiple": 0}, "spike_multiple"),
        ({"spike_multiple": 2.5}, "spike_multiple"),
        ({"spike_window_ms": 0}, "spike_window_ms"),
        ({"sweep_levels": 1}, "sweep_levels"),
        ({"sweep_levels": 6}, "sweep_levels"),  # more than depth_levels: unobservable
        ({"avg_window": 0}, "avg_window"),
        ({"min_samples": 0}, "min_samples"),
        ({"min_samples": 300}, "min_samples"),  # more than avg_window: never reached
        ({"hold_ms": True}, "hold_ms"),
    ],
)
def test_config_validation_names_the_key(kwargs, key):
    with pytest.raises(ConfigError) as e:
        ToxicConfig(**kwargs)
    assert e.value.key == key


def test_config_from_mapping():
    assert ToxicConfig.from_mapping({"hold_ms": 2000}).hold_ns == 2_000 * MS
    with pytest.raises(ConfigError) as e:
        ToxicConfig.from_mapping({"depth_levels": 2})  # sweep_levels 3 > 2
    assert e.value.key == "toxic.sweep_levels"
    with pytest.raises(ConfigError) as e:
        ToxicConfig.from_mapping({"shrink_severity": 1})  # the bot decides, not the detector
    assert e.value.key == "toxic.shrink_severity"


# -- the real capture ---------------------------------------------------------------------


def _replay(config: ToxicConfig) -> tuple[ToxicFlow, list[ToxicFlag], str, str]:
    """Replay the burst through MarketParser and BookSet (as tests/book does), observing every
    touched token at the message's venue time. Returns the detector, every flag in order,
    and the two token ids (the snapshot's token first)."""
    msgs = json.loads((FIX / "book_then_price_change_burst_2026-09.json").read_text())
    parser, bs, tf = MarketParser(), BookSet(checker=PolymarketIntegrity()), ToxicFlow(config)
    yes = msgs[0]["asset_id"]
    no = next(c["asset_id"] for c in msgs[1]["price_changes"] if c["asset_id"] != yes)
    flags: list[ToxicFlag] = []
    for i, m in enumerate(msgs):
        now = int(m["timestamp"]) * MS
        for ev in parser.parse(json.dumps(m), now):
            # the closing snapshot repeats the local book: observed as is, without a reset
            for asset in bs.on_event(ev):
                before = tf.last_flag(asset)
                tf.on_book(asset, bs.book(asset), now)
                if tf.last_flag(asset) is not before:
                    flags.append(tf.last_flag(asset))
            if i == 0:
                # the capture has a snapshot for one token only; the other is its mirror
                assert seed_from_complement(bs, no, yes, now)
                tf.on_book(no, bs.book(no), now)
            assert type(ev) in (BookSnapshot, PriceChange)
    assert sum(parser.rejects.values()) == 0 and bs.counters["bbo_mismatches"] == 0
    return tf, flags, yes, no


def test_real_burst_default_config_flags_nothing():
    """The burst's fill (a taker sold ~3000 YES through the 0.311 and 0.301 bids, leaving
    45.83 resting at 0.301; the NO mirror lost its 0.689 and 0.699 asks) takes two levels,
    published as three messages of one book version. Two levels is below sweep_levels=3, and
    no level change is near 50x the average (a few sparse thousands-of-shares adds, fewer than
    min_samples on the YES bids), so nothing is flagged."""
    tf, flags, yes, no = _replay(ToxicConfig())
    assert flags == [] and tf.flags == {"spike": 0, "sweep": 0, "trade_spike": 0}
    end = 1790658827000 * MS
    assert tf.market_severity((yes, no), end) == 0
    assert tf.samples(yes) > 0 and tf.samples(no) > 0


def test_real_burst_fill_is_a_two_level_sweep_once_per_token():
    """With sweep_levels=2 the fill is exactly one sweep per token, seen on the version's
    first message: it carries the top after the whole match, so the checker removes both
    consumed levels at once (the group's later removals change nothing); the closing snapshot
    of the same version does not repeat it. The NO entry comes first in that message."""
    tf, flags, yes, no = _replay(ToxicConfig(sweep_levels=2))
    end = 1790658827000 * MS
    assert [(f.kind, f.asset_id) for f in flags] == [("sweep", no), ("sweep", yes)]
    n, y = flags
    # YES: bids 0.311 x 2000 and 0.301 x 1000 vanished under a seller
    assert (y.side, y.price, y.size, y.levels, y.severity, y.ts_ns) == (SELL, 301_000, 3_000 * S, 2, 2, end)
    # NO mirror: asks 0.689 x 2000 and 0.699 x 1000 vanished under a buyer
    assert (n.side, n.price, n.size, n.levels, n.severity, n.ts_ns) == (BUY, 699_000, 3_000 * S, 2, 2, end)
    assert tf.flags == {"spike": 0, "sweep": 2, "trade_spike": 0}
    assert tf.market_severity((yes, no), end) == 2
