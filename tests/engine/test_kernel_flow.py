"""The kernel's open event flow and its position record, with real parts: sim clock, simulated
execution, real risk, portfolio, journal and (where it matters) a real SQLite store.

- every kind of input reaches strategies through the one dispatch (wallet trades included);
- a report for an order this run did not place is journaled and skipped;
- position policy is risk config: scale in twice and out once, store rows follow holdings;
  ``max_adds`` limits additions; ``one_position_per_market`` keeps one entry.
"""

from __future__ import annotations

from clobflow.book.book_set import BookSet
from clobflow.core.clock import SimClock
from clobflow.core.events import BookSnapshot, MarketResolved, Side, TimerFired, WalletTrade
from clobflow.core.markets import BinaryMarket
from clobflow.core.orders import Accepted, Fill, Filled, Liquidity, OrderType
from clobflow.engine.config import parse_config
from clobflow.engine.kernel import Kernel
from clobflow.engine.modes import make_execution
from clobflow.engine.recording import RunRecorder
from clobflow.observe.journal import Journal
from clobflow.portfolio.portfolio import Portfolio
from clobflow.risk.config import RiskConfig
from clobflow.risk.engine import RiskEngine
from clobflow.strategies.base import Strategy, StrategyContext
from tests.strategies.test_imbalance import MIN, T0, S, market

CFG = parse_config({"engine": {"mode": "backtest"}, "sim": {"submit_latency_ms": 0, "ack_latency_ms": 0},
                    "strategies": [{"name": "imbalance"}]})


class Scripted(Strategy):
    """Does nothing on its own; records what reaches it. Tests act through ``self.ctx``."""

    def __init__(self, name: str = "copy") -> None:
        self.name = name
        self.seen: list[tuple[str, object]] = []
        self.ctx: StrategyContext | None = None

    def on_start(self, ctx: StrategyContext) -> None:
        self.ctx = ctx

    def on_wallet_trade(self, ctx: StrategyContext, trade: WalletTrade) -> None:
        self.seen.append(("wallet", trade))

    def on_timer(self, ctx: StrategyContext, now_ns: int) -> None:
        self.seen.append(("timer", now_ns))

    def on_order_event(self, ctx, order, report) -> None:  # noqa: ANN001
        self.seen.append(("report", type(report).__name__))


class Quiet(Strategy):
    name = "quiet"


def kernel(strategies: list[Strategy], risk: RiskConfig, recorder: RunRecorder | None = None):
    clock = SimClock(T0)
    books = BookSet()
    journal = Journal(keep=True)
    holder: list[Kernel] = []
    execution = make_execution("backtest", CFG, lambda: {t: m for m in holder[0].markets.values()
                                                         for t in m.token_ids}, books)
    k = Kernel(run_id="backtest-flowtest", mode="backtest", clock=clock, books=books, strategies=strategies,
               risk={s.name: RiskEngine(risk) for s in strategies}, execution=execution,
               portfolio=Portfolio(1_000 * S), journal=journal, recorder=recorder)
    holder.append(k)
    return k, clock, books, journal


def books(k: Kernel, clock: SimClock, bs: BookSet, m: BinaryMarket, bid: int, ask: int, at: int) -> None:
    clock.set(at)
    for asset, bids, asks in ((m.yes.token_id, ((bid, 500 * S),), ((ask, 500 * S),)),
                              (m.no.token_id, ((S - ask, 500 * S),), ((S - bid, 500 * S),))):
        ev = BookSnapshot(m.condition_id, asset, bids, asks, "h", at, at)
        k.on_event(ev, bs.on_event(ev))


def wallet_trade(m: BinaryMarket, at: int) -> WalletTrade:
    return WalletTrade(m.condition_id, m.yes.token_id, "Up", "0xwhale", Side.BUY, 500_000, 100 * S, 50 * S,
                       "0xabc", 7, at, at)


def test_wallet_trades_and_timers_reach_only_the_strategies_that_handle_them():
    s, q = Scripted(), Quiet()
    k, clock, bs, journal = kernel([s, q], RiskConfig())
    m = market()
    k.add_market(m)
    k.start()
    clock.set(T0 + 1)
    k.on_event(wallet_trade(m, T0 + 1))
    assert s.seen == [("wallet", wallet_trade(m, T0 + 1))]
    k.dispatch(TimerFired(T0 + 5), (), T0 + 5)
    assert s.seen[-1] == ("timer", T0 + 5)
    # Quiet kept the no-op defaults: it is not in the routes at all
    assert all(h.__self__ is s for h, _ in k._trade_routes) and not k._trade_routes


def test_a_report_for_an_order_this_run_did_not_place_is_journaled_and_skipped():
    s = Scripted()
    k, clock, bs, journal = kernel([s], RiskConfig())
    m = market()
    k.add_market(m)
    k.start()
    clock.set(T0 + 1)
    fill = Fill("f-1", "someone-else-7", "other", m.condition_id, m.yes.token_id, Side.BUY, 500_000, 10 * S, 0,
                Liquidity.TAKER, T0 + 1)
    k.on_event(Filled("someone-else-7", T0 + 1, fill))  # no InvariantBroken
    k.on_event(Accepted("someone-else-8", T0 + 1, "v-8"))
    foreign = [e for e in journal.entries if e.action == "foreign_report"]
    assert [(e.reason, e.inputs["client_order_id"]) for e in foreign] == [
        ("filled", "someone-else-7"), ("accepted", "someone-else-8")]
    assert foreign[0].market == m.condition_id and foreign[0].inputs["fill_id"] == "f-1"
    assert k.counters["foreign_reports"] == 2 and k.counters["fills"] == 0
    assert k.portfolio.position(m.yes.token_id) is None and not s.seen


def _buy(s: Scripted, m: BinaryMarket, shares: int, price: int = 500_000):
    assert s.ctx is not None
    return s.ctx.submit(market=m.condition_id, asset_id=m.yes.token_id, side=Side.BUY, price=price,
                        size=shares * S, order_type=OrderType.FAK, reason="copy_buy", signal_ns=s.ctx.now_ns)


def _sell(s: Scripted, m: BinaryMarket, shares: int, price: int = 480_000):
    assert s.ctx is not None
    return s.ctx.submit(market=m.condition_id, asset_id=m.yes.token_id, side=Side.SELL, price=price,
                        size=shares * S, order_type=OrderType.FAK, reason="copy_sell", signal_ns=s.ctx.now_ns)


def _open_rows(rec: RunRecorder, name: str) -> list:
    rec.writer.flush()
    return list(rec.store.open_positions(name, "backtest"))


def test_copy_trading_scales_in_twice_and_out_once_and_the_store_row_follows(tmp_path):
    s = Scripted()
    rec = RunRecorder.open(f"sqlite:///{tmp_path / 's.sqlite'}", run_id="backtest-flowtest", mode="backtest",
                           strategy_names=["copy"], config={})
    risk = RiskConfig(one_position_per_market=False, cooldown_s=0, recent_order_window_s=0,
                      max_live_orders_per_market=1)
    k, clock, bs, journal = kernel([s], risk, rec)
    m = market()
    k.add_market(m)
    k.start()
    t = T0 + MIN
    sizes = []
    for shares in (10, 6, 4):  # enter, add, add
        books(k, clock, bs, m, 480_000, 500_000, t)
        assert _buy(s, m, shares) is not None
        k.process_due(t)
        sizes.append([r["size"] for r in _open_rows(rec, "copy")])
        t += MIN
    assert sizes == [[10 * S], [16 * S], [20 * S]]  # one row, following the holding
    assert k.positions.entry_count("copy", m.condition_id) == 3 and k.positions.held("copy", m.condition_id) == 20 * S
    books(k, clock, bs, m, 480_000, 500_000, t)
    assert _sell(s, m, 8) is not None  # scale out
    k.process_due(t)
    rows = _open_rows(rec, "copy")
    assert [r["size"] for r in rows] == [12 * S] and s.ctx.held(m.condition_id) == 12 * S
    t += MIN
    books(k, clock, bs, m, 480_000, 500_000, t)
    assert _sell(s, m, 12) is not None  # out
    k.process_due(t)
    assert _open_rows(rec, "copy") == [] and not k.has_position("copy", m.condition_id)
    assert [(r["status"], r["close_reason"]) for r in rec.store.positions("backtest-flowtest")] == [
        ("closed", "exited")]
    # a fresh entry after the exit opens a new row
    t += MIN
    books(k, clock, bs, m, 480_000, 500_000, t)
    assert _buy(s, m, 5) is not None
    k.process_due(t)
    assert [r["size"] for r in _open_rows(rec, "copy")] == [5 * S]
    assert [r["status"] for r in rec.store.positions("backtest-flowtest")] == ["closed", "open"]
    rec.close(k, t)


def test_max_adds_and_one_position_per_market_are_risk_config():
    s = Scripted()
    k, clock, bs, journal = kernel([s], RiskConfig(one_position_per_market=False, max_adds=1, cooldown_s=0,
                                                   recent_order_window_s=0))
    m = market()
    k.add_market(m)
    k.start()
    t = T0 + MIN
    for _ in range(2):
        books(k, clock, bs, m, 480_000, 500_000, t)
        assert _buy(s, m, 5) is not None
        k.process_due(t)
        t += MIN
    books(k, clock, bs, m, 480_000, 500_000, t)
    assert _buy(s, m, 5) is None and journal.entries[-1].reason == "max_adds"
    assert journal.entries[-1].inputs == {"adds": 1, "max": 1}
    assert _sell(s, m, 10) is not None  # exits are never limited
    k.process_due(t)
    t += MIN
    books(k, clock, bs, m, 480_000, 500_000, t)
    assert _buy(s, m, 5) is not None  # flat again: a new position may start

    one = Scripted("one")
    k, clock, bs, journal = kernel([one], RiskConfig(cooldown_s=0, recent_order_window_s=0))
    k.add_market(m)
    k.start()
    books(k, clock, bs, m, 480_000, 500_000, T0 + MIN)
    assert _buy(one, m, 5) is not None
    k.process_due(T0 + MIN)
    books(k, clock, bs, m, 480_000, 500_000, T0 + 2 * MIN)
    assert _buy(one, m, 5) is None and journal.entries[-1].reason == "position_exists"
    clock.set(T0 + 15 * MIN)
    k.on_event(MarketResolved(m.condition_id, "1", m.token_ids, m.yes.token_id, "Up", T0 + 15 * MIN,
                              T0 + 15 * MIN))
    assert not k.has_position("one", m.condition_id) and journal.entries[-1].action == "settle"


def test_a_breaker_halt_is_one_line_and_its_end_one_more():
    s = Scripted()
    k, clock, bs, journal = kernel([s], RiskConfig(breaker_max_failures=1, breaker_cooloff_s=60, cooldown_s=0,
                                                   recent_order_window_s=0, one_position_per_market=False))
    m = market()
    k.add_market(m)
    k.start()
    t = T0 + MIN
    books(k, clock, bs, m, 480_000, 500_000, t)
    assert _buy(s, m, 1) is not None  # 1 share: below the market's minimum, the venue rejects it
    k.process_due(t)
    assert s.ctx is not None and not s.ctx.can_trade()
    halted = [e for e in journal.entries if e.action == "halted"]
    assert [(e.reason, e.inputs["breaker_failures"]) for e in halted] == [("breaker_open", 1)]
    for i in range(1, 30):  # the cool-off runs; the timer notices its end exactly once
        books(k, clock, bs, m, 480_000, 500_000, t + i * 3 * 10**9)
    assert [e.action for e in journal.entries if e.action in ("halted", "resumed")] == ["halted", "resumed"]
    assert s.ctx.can_trade() and k.halted == {}
