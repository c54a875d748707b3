"""Pure arithmetic of the pair bot: inventory states, pair cost, margins by time, quote prices,
chase steps and the unwind choice, in exact micro-units."""

from __future__ import annotations

from clobflow.book.l2 import L2Book
from clobflow.strategies.complete_set.config import CompleteSetConfig, Limits
from clobflow.strategies.complete_set.inventory import Inventory, State, required_margin
from clobflow.strategies.complete_set.pricing import chase_price, choose_unwind, quote_prices, side_bid

S = 1_000_000
NS = 10**9
LIM = Limits(CompleteSetConfig())


def inv(up: int, down: int, up_px: int = 450_000, down_px: int = 500_000) -> Inventory:
    i = Inventory()
    if up:
        i.buy("up", up_px, up * S, 0)
    if down:
        i.buy("down", down_px, down * S, 0)
    return i


def test_states_from_imbalance_and_time_left():
    mid = 300 * NS
    assert inv(20, 16).state(mid, LIM) is State.BALANCED        # 4 <= 5 shares
    assert inv(30, 10).state(mid, LIM) is State.SKEWED          # 20 <= 30
    assert inv(45, 10).state(mid, LIM) is State.EXPOSED         # 35 > 30
    assert inv(30, 10).state(20 * NS, LIM) is State.CRISIS      # unmatched with < 30 s left
    assert inv(20, 16).state(20 * NS, LIM) is State.BALANCED    # within the balanced band: no crisis
    # an unmatched cost above $25: 70 × 0.45 = 31.5
    assert inv(80, 10).state(mid, LIM) is State.CRISIS


def test_pair_cost_imbalance_and_sells_are_exact():
    i = inv(10, 10, 480_000, 490_000)
    assert i.pair_cost() == 970_000
    j = inv(12, 10, 480_000, 490_000)
    assert j.imbalance == 2 * S and j.ahead == "up" and j.unmatched_cost() == 960_000
    j.sell("up", 400_000, 2 * S, 0)
    assert j.up == 10 * S and j.realized == 2 * (400_000 - 480_000)


def test_required_margin_by_time_left():
    assert required_margin(601 * NS, LIM) == 25_000
    assert required_margin(600 * NS, LIM) == 15_000
    assert required_margin(180 * NS, LIM) == 15_000
    assert required_margin(179 * NS, LIM) == 5_000


def test_quote_prices_cut_the_excess_and_lean_to_the_side_behind():
    # bids 0.48 + 0.50 = 0.98; 2.5 % needs <= 0.975: 0.5 cent -> one tick, off the dearer side
    assert quote_prices((480_000, 490_000), (500_000, 510_000), tick=10_000, margin=25_000,
                        offset_ticks=0, lean=None, lean_ticks=1) == (480_000, 490_000)
    # leaning to Up: Up bids a tick higher (0.49) and the whole excess comes off Down
    assert quote_prices((480_000, 500_000), (500_000, 510_000), tick=10_000, margin=25_000,
                        offset_ticks=0, lean="up", lean_ticks=1) == (490_000, 480_000)
    # post-only never crosses: with a one-tick spread the lean stays under the ask
    assert side_bid(480_000, 490_000, 10_000, 0, 1) == 480_000


def test_chase_steps_up_to_the_ceiling_and_below_the_ask():
    assert chase_price(400_000, 410_000, 450_000, 430_000, 10_000, 1) == 410_000   # at least the bid
    assert chase_price(420_000, 410_000, 450_000, 430_000, 10_000, 1) == 430_000
    assert chase_price(430_000, 410_000, 450_000, 430_000, 10_000, 1) is None      # at the ceiling
    assert chase_price(430_000, 410_000, 440_000, 500_000, 10_000, 2) is None      # ask − tick caps it


def book(bids, asks) -> L2Book:
    b = L2Book("t", 10_000)
    b.load([(p, s * S) for p, s in bids], [(p, s * S) for p, s in asks])
    return b


def test_unwind_picks_the_path_that_loses_less():
    # 10 unmatched Up bought at 0.45. Selling at 0.40 loses 0.50; buying Down at 0.58 loses
    # 10 × (0.45 + 0.58 − 1) = 0.30 -> buy the missing side
    up, down = book([(400_000, 50)], [(420_000, 50)]), book([(560_000, 50)], [(580_000, 50)])
    u = choose_unwind(10 * S, 450_000, up, down, None)
    assert (u.path, u.loss, u.alternative_loss, u.limit) == ("buy_missing", 300_000, 500_000, 580_000)
    # Down ran away to 0.70 (loses 1.50); selling Up at 0.40 loses 0.50 -> sell the excess
    down = book([(680_000, 50)], [(700_000, 50)])
    u = choose_unwind(10 * S, 450_000, up, down, None)
    assert (u.path, u.loss, u.alternative_loss) == ("sell_excess", 500_000, 1_500_000)
    # a walk over two levels sets the FAK limit at the worst level
    down = book([], [(580_000, 4), (600_000, 50)])
    u = choose_unwind(10 * S, 450_000, book([], []), down, None)
    assert u.path == "buy_missing" and u.limit == 600_000 and u.alternative_loss is None
    # nothing on either book: hold
    assert choose_unwind(10 * S, 450_000, book([], []), book([], []), None) is None


def test_a_bad_pair_bot_config_is_refused_with_its_key():
    import pytest

    from clobflow.core.errors import ConfigError
    from clobflow.engine.config import parse_config

    for section, key in (({"margin_late": 0.03}, "strategies[0].margin_mid"),
                         ({"quote_size": True}, "strategies[0].quote_size"),
                         ({"kind": "pairs"}, "strategies[0].kind"),
                         ({"margin_erly": 0.02}, "strategies[0].margin_erly")):
        with pytest.raises(ConfigError) as e:
            parse_config({"strategies": [{"kind": "complete_set", **section}]})
        assert e.value.key == key, (section, e.value.key)
