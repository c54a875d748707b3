"""The pair bot inside the real kernel (sim clock, sim execution, real risk, portfolio, journal and
decision log), fed synthetic top-of-book snapshots per token: quoting within the margin, equal-
share second legs (taker and maker, on partial fills), chasing to the ceiling, hard stop,
unwinds, breaker and toxic pulls, and the after-window review."""

from __future__ import annotations

from clobflow.book.book_set import BookSet
from clobflow.core.clock import SimClock
from clobflow.core.events import BookSnapshot, LevelChange, MarketResolved, PriceChange, Side
from clobflow.core.markets import BinaryMarket, OutcomeToken
from clobflow.engine.config import parse_config
from clobflow.engine.modes import build_kernel
from clobflow.observe.journal import Journal
from clobflow.strategies.complete_set.strategy import CompleteSetStrategy
from clobflow.venues.polymarket.integrity import PolymarketIntegrity

S = 1_000_000
NS = 10**9
T0 = 1_766_745_000 * NS
END = T0 + 900 * NS


def market() -> BinaryMarket:
    return BinaryMarket("0xm", "btc-updown-15m-1766745000", "q", OutcomeToken("UP", "Up"), OutcomeToken("DN", "Down"),
                        10_000, 5 * S, start_ns=T0, end_ns=END)


class World:
    def __init__(self, checker=None, **strategy) -> None:
        cfg = parse_config({
            "engine": {"mode": "backtest"},
            "sim": {"submit_latency_ms": 0, "ack_latency_ms": 0, "trade_inference": False},
            "risk": {"breaker_cooloff_s": 60},
            "strategies": [{"kind": "complete_set", "requote_min_interval_s": 0, **strategy}]})
        self.clock = SimClock(T0)
        self.books = BookSet(checker=checker)
        self.journal = Journal(keep=True)
        self.k = build_kernel(cfg, mode="backtest", run_id="backtest-cs", clock=self.clock, books=self.books,
                              journal=self.journal, recorder=None)
        self.m = market()
        self.k.add_market(self.m)
        self.k.start()
        self.s: CompleteSetStrategy = self.k.strategies[0]  # type: ignore[assignment]

    def tops(self, at_s: float, up: tuple, down: tuple) -> None:
        """Set both books: ``up``/``down`` = (bid, ask[, bid size, ask size]) in micro prices and whole shares."""
        at = T0 + int(at_s * NS)
        self.clock.set(at)
        self.k.process_due(at)
        for asset, (bid, ask, *sz) in (("UP", up), ("DN", down)):
            bs, as_ = (sz + [100, 100])[:2] if sz else (100, 100)
            ev = BookSnapshot("0xm", asset, ((bid, bs * S),) if bid else (), ((ask, as_ * S),) if ask else (),
                              f"h{at}", at, at)
            self.k.on_event(ev, self.books.on_event(ev))
        self.k.process_due(at)

    def tick(self, at_s: float) -> None:
        at = T0 + int(at_s * NS)
        self.clock.set(at)
        self.k.on_timer(at)
        self.k.process_due(at)

    def rows(self, action: str | None = None, reason: str | None = None):
        self.s.log.flush()
        return [r for r in self.s.log.rows if (action is None or r.action == action)
                and (reason is None or r.reason == reason)]

    def live(self, side: str):
        pm = self.s.pairs["0xm"]
        return sorted((w.purpose, w.price, w.remaining) for w in pm.orders.values() if w.side == side
                      and not w.cancelling)

    @property
    def inv(self):
        return self.s.pairs["0xm"].inv


def test_quotes_both_sides_within_the_early_margin_in_equal_shares():
    w = World()
    w.tops(10, (480_000, 490_000), (500_000, 510_000))  # bids sum 0.98: needs 0.025 early
    up, dn = w.live("up"), w.live("down")
    assert len(up) == 1 and len(dn) == 1
    assert up[0][1] + dn[0][1] <= 975_000
    assert up[0][2] == dn[0][2] == 10 * S
    q = w.rows("quote")
    assert {r.side for r in q} == {"up", "down"}
    assert all(r.threshold == 25_000 for r in q)
    assert q[-1].margin == 1_000_000 - up[0][1] - dn[0][1]


def test_the_margin_relaxes_with_time_left():
    for at_s, need in ((10, 25_000), (500, 15_000), (800, 5_000)):
        w = World()
        w.tops(at_s, (480_000, 490_000), (500_000, 510_000))
        up, dn = w.live("up"), w.live("down")
        assert 1_000_000 - up[0][1] - dn[0][1] >= need
        assert 1_000_000 - up[0][1] - dn[0][1] < need + 20_000  # not over-cut: the least cut that clears it


def test_a_fill_fires_an_equal_share_taker_second_leg_when_the_ask_clears():
    w = World()
    w.tops(10, (480_000, 490_000), (470_000, 490_000))
    up_bid = w.live("up")[0][1]
    assert up_bid == 480_000
    # the Up ask trades through our bid (10 shares shown); Down's ask sits at the ceiling
    # 1 − 0.025 − 0.48 = 0.495 -> 0.49 on the tick, so the second leg can take it at once
    w.tops(11, (440_000, up_bid - 10_000, 100, 10), (470_000, 490_000))
    assert w.inv.up == 10 * S
    leg = w.rows("second_leg")
    assert leg and leg[0].reason == "taker" and leg[0].side == "down" and leg[0].size == 10 * S
    assert w.s.leg_latencies_ns and w.s.leg_latencies_ns[0] > 0  # measured (kept out of a backtest's rows)
    assert w.inv.down == w.inv.up == 10 * S  # equal shares, not equal dollars
    assert w.inv.pair_cost() <= 1_000_000 - 25_000


def test_a_partial_fill_fires_a_second_leg_for_exactly_the_filled_shares():
    w = World(taker_second_leg=False)
    w.tops(10, (480_000, 490_000), (500_000, 510_000))
    up_bid = w.live("up")[0][1]
    w.tops(11, (440_000, up_bid - 10_000, 100, 6), (500_000, 510_000))  # only 6 shares through our bid
    assert w.inv.up == 6 * S
    legs = w.rows("second_leg", "maker")
    assert len(legs) == 1 and legs[0].size == 6 * S and legs[0].side == "down"
    assert ("leg", legs[0].price, 6 * S) in w.live("down")
    # the Down ask trades through the leg: the pair is complete, in equal shares
    w.tops(12, (440_000, 460_000), (legs[0].price - 20_000, legs[0].price - 10_000, 100, 50))
    assert w.inv.down == w.inv.up == 6 * S


def test_the_lagging_leg_is_chased_up_to_the_ceiling_and_no_further():
    w = World(taker_second_leg=False, chase_interval_s=1, chase_max_s=600)
    w.tops(10, (480_000, 490_000), (500_000, 560_000))
    up_bid = w.live("up")[0][1]
    w.tops(11, (440_000, up_bid - 10_000, 100, 10), (500_000, 560_000))
    ceiling = w.rows("second_leg")[0].detail["ceiling"]
    assert ceiling == (1_000_000 - 25_000 - up_bid) // 10_000 * 10_000
    prices = []
    for t in range(12, 40):
        w.tick(t)
        leg = [p for purpose, p, _ in w.live("down") if purpose == "leg"]
        prices.extend(leg)
    assert max(prices) == min(ceiling, 560_000 - 10_000)
    assert prices == sorted(prices)  # only ever up
    assert w.rows("chase", "at_ceiling")


def test_hard_stop_pulls_quotes_and_places_no_new_exposure():
    w = World()
    w.tops(10, (480_000, 490_000), (500_000, 510_000))
    assert w.live("up")
    w.tops(900 - 20, (480_000, 490_000), (500_000, 510_000))
    assert not w.live("up") and not w.live("down")
    assert w.rows("skip", "hard_stop")
    n = len(w.rows("quote"))
    w.tops(900 - 10, (470_000, 480_000), (510_000, 520_000))
    assert len(w.rows("quote")) == n


def _one_sided_fill(w: World, down: tuple) -> None:
    w.tops(10, (480_000, 490_000), (500_000, 510_000))
    up_bid = w.live("up")[0][1]
    w.tops(11, (440_000, up_bid - 10_000, 100, 10), down)


def test_unwind_sells_the_excess_when_that_loses_less():
    w = World(taker_second_leg=False)
    _one_sided_fill(w, (500_000, 600_000))  # Down is dear: no leg fill
    assert w.inv.up == 10 * S and w.inv.down == 0
    # near the close: selling Up at 0.45 loses less than buying Down at 0.70
    w.tops(900 - 25, (450_000, 460_000), (680_000, 700_000))
    u = w.rows("unwind")
    assert u and u[0].reason == "sell_excess" and u[0].side == "up"
    assert w.inv.up == 0
    assert u[0].detail["loss"] < u[0].detail["alternative_loss"]


def test_unwind_buys_the_missing_side_when_that_loses_less():
    w = World(taker_second_leg=False)
    _one_sided_fill(w, (500_000, 600_000))
    w.tops(900 - 25, (300_000, 310_000), (500_000, 520_000))  # Up collapsed, Down ask still 0.52
    u = w.rows("unwind")
    assert u and u[0].reason == "buy_missing" and u[0].side == "down"
    assert u[0].detail["loss"] < u[0].detail["alternative_loss"]
    assert w.inv.down == w.inv.up  # every unmatched share completed


def test_a_chase_that_runs_out_of_time_unwinds():
    w = World(taker_second_leg=False, chase_interval_s=1, chase_max_s=5)
    _one_sided_fill(w, (500_000, 700_000))
    for t in range(12, 20):
        w.tick(t)
    assert w.rows("chase", "gave_up")
    assert w.rows("unwind")


def test_breaker_open_pulls_quotes_and_they_return_after_the_cooldown():
    w = World()
    w.tops(10, (480_000, 490_000), (500_000, 510_000))
    assert w.live("up")
    br = w.k.risk["complete_set"].breaker
    for _ in range(3):
        br.record_failure(T0 + 10 * NS)  # three consecutive execution failures
    w.tops(12, (480_000, 490_000), (500_000, 510_000))
    assert w.rows("skip", "breaker_open") and not w.live("up")
    w.tops(12 + 61, (480_000, 490_000), (500_000, 510_000))
    assert w.live("up") and w.live("down")


def test_a_pending_venue_check_pulls_quotes_like_an_untrusted_book():
    """A top that disagrees with the venue's while its version waits (a level not arrived yet)
    is not tradeable: the bot pulls its quotes (``book_not_ready``) until the check passes."""
    w = World(checker=PolymarketIntegrity())
    w.tops(10, (480_000, 490_000), (500_000, 510_000))
    assert w.live("up") and w.live("down")
    at = T0 + 11 * NS
    w.clock.set(at)
    ev = PriceChange("0xm", (LevelChange("UP", Side.BUY, 470_000, 50 * S, 485_000, 490_000, "v1"),), at, at)
    w.k.on_event(ev, w.books.on_event(ev))
    w.k.process_due(at)
    assert w.books.get("UP").trusted and not w.books.get("UP").tradeable
    assert w.rows("skip", "book_not_ready") and not w.live("up") and not w.live("down")
    ev = PriceChange("0xm", (LevelChange("UP", Side.BUY, 485_000, 50 * S, 485_000, 490_000, "v1"),), at, at)
    w.k.on_event(ev, w.books.on_event(ev))
    w.k.process_due(at)
    assert w.books.get("UP").tradeable and w.live("up") and w.live("down")


def test_a_sweep_pulls_quotes():
    w = World()
    w.tops(5, (470_000, 490_000), (500_000, 510_000))
    levels = tuple((p, 50 * S) for p in (470_000, 460_000, 450_000, 440_000))
    ev = BookSnapshot("0xm", "UP", levels, ((490_000, 50 * S),), "a", T0 + 6 * NS, T0 + 6 * NS)
    w.clock.set(T0 + 6 * NS)
    w.k.on_event(ev, w.books.on_event(ev))
    w.k.process_due(T0 + 6 * NS)
    assert w.live("up")
    # three bid levels vanish at once: a sweep (severity 2 pulls the quotes)
    ev = BookSnapshot("0xm", "UP", ((440_000, 50 * S),), ((490_000, 50 * S),), "b", T0 + 7 * NS, T0 + 7 * NS)
    w.clock.set(T0 + 7 * NS)
    w.k.on_event(ev, w.books.on_event(ev))
    assert w.rows("skip", "toxic")
    assert not w.live("up")


def test_resolution_reviews_the_window_with_counterfactual_labels():
    w = World()
    w.tops(10, (480_000, 490_000), (500_000, 510_000))
    up_bid = w.live("up")[0][1]
    w.tops(11, (440_000, up_bid - 10_000, 100, 10), (500_000, 510_000))
    w.clock.set(END + NS)
    w.k.on_event(MarketResolved("0xm", "1", ("UP", "DN"), "UP", "Up", END + NS, END + NS), ())
    w.s.log.flush()
    rev = w.s.log.reviews
    assert len(rev) == 1 and rev[0].winner == "up"
    labels = {c.label for c in rev[0].counterfactuals}
    assert labels <= {"good", "bad", "neutral"} and rev[0].counterfactuals
    # the window's P&L is the portfolio's (the report's one truth): a complete set below 1 pays
    assert w.k.portfolio.market_pnl("0xm") > 0


def test_taker_hits_on_inconsistent_books_are_journaled_as_inconsistencies():
    w = World()
    w.tops(10, (480_000, 490_000), (470_000, 480_000))  # asks sum 0.97: not mirror-consistent
    d = w.rows("detect")
    assert d and d[0].reason == "inconsistent" and d[0].detail["reason"] == "mirror_mismatch"
    assert not w.rows("second_leg")


def _event_world(augmented: bool) -> World:
    w = World()
    for i in range(3):
        m = BinaryMarket(f"0xe{i}", f"who-wins-{i}", "q", OutcomeToken(f"Y{i}", "Yes"), OutcomeToken(f"N{i}", "No"),
                         10_000, 5 * S, neg_risk=True, event_slug="who-wins", start_ns=T0, end_ns=END,
                         neg_risk_augmented=augmented)
        w.k.add_market(m)
    at = T0 + 10 * NS
    w.clock.set(at)
    for i, ask in enumerate((300_000, 320_000, 350_000)):  # one YES of each: 0.97
        for asset, bids, asks in ((f"Y{i}", ((ask - 10_000, 50 * S),), ((ask, 50 * S),)),
                                  (f"N{i}", ((1_000_000 - ask, 50 * S),), ((1_010_000 - ask, 50 * S),))):
            ev = BookSnapshot(f"0xe{i}", asset, bids, asks, "h", at, at)
            w.k.on_event(ev, w.books.on_event(ev))
    return w


def test_a_neg_risk_event_below_one_is_an_executable_complete_set():
    w = _event_world(augmented=False)
    d = [r for r in w.rows("detect") if r.market == "who-wins"]
    assert d and d[-1].reason == "executable" and d[-1].margin == 30_000 and d[-1].detail["outcomes"] == 3


def test_an_augmented_event_is_never_executable():
    w = _event_world(augmented=True)
    d = [r for r in w.rows("detect") if r.market == "who-wins"]
    assert d and d[-1].reason == "inconsistent" and d[-1].detail["reason"] == "augmented_event"
