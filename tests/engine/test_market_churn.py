"""Bounded memory over market churn: a long paper run sees a new market every few minutes
(discovery every few seconds), so nothing the kernel reaches may grow with the number of markets
it has seen, only with the markets it follows.

Real parts: the kernel with simulated paper execution, a real ``BookSet``, risk, portfolio and
journal and a SQLite run recorder; markets arrive, trade (a strategy buys in each), resolve, and leave exactly as the live
feed makes them: ``add_market`` on discovery, book snapshots, a resolution, an ``unsubscribed``
feed status and ``engine.retire`` when discovery drops them. Every container reachable from the
kernel is measured (a generic walk, so a new unbounded table fails here without being named).
"""

from __future__ import annotations

from collections import deque

from clobflow.book.book_set import BookSet
from clobflow.core.clock import SimClock
from clobflow.core.events import BookSnapshot, FeedStatus, MarketResolved, Side
from clobflow.core.markets import BinaryMarket
from clobflow.core.orders import OrderType
from clobflow.core.recent import RecentIds
from clobflow.engine.config import parse_config
from clobflow.engine.kernel import Kernel
from clobflow.engine.modes import make_execution
from clobflow.engine.recording import RunRecorder
from clobflow.engine.retire import retire
from clobflow.observe.journal import Journal
from clobflow.portfolio.portfolio import Portfolio
from clobflow.risk.config import RiskConfig
from clobflow.risk.engine import RiskEngine
from clobflow.strategies.base import Strategy, StrategyContext
from clobflow.strategies.imbalance import ImbalanceConfig, ImbalanceStrategy
from tests.strategies.test_imbalance import MIN, T0, S, market

CFG = parse_config({"engine": {"mode": "paper"}, "sim": {"submit_latency_ms": 0, "ack_latency_ms": 0},
                    "strategies": [{"name": "imbalance"}]})


class BuyOnce(Strategy):
    """Buys 5 Up shares in every market it sees (per-market memory, forgotten on request)."""

    name = "buyer"

    def __init__(self) -> None:
        self.bought: set[str] = set()

    def on_book(self, ctx: StrategyContext, market: BinaryMarket, asset_id: str) -> None:
        if market.condition_id in self.bought:
            return
        self.bought.add(market.condition_id)
        ctx.submit(market=market.condition_id, asset_id=market.yes.token_id, side=Side.BUY, price=520_000,
                   size=5 * S, order_type=OrderType.FAK, reason="churn_buy", signal_ns=ctx.now_ns)

    def forget_market(self, market: str) -> None:
        self.bought.discard(market)


def _paper_kernel(recorder: RunRecorder | None = None) -> tuple[Kernel, SimClock, BookSet]:
    clock = SimClock(T0)
    books = BookSet()
    holder: list[Kernel] = []
    strategies: list[Strategy] = [BuyOnce(), ImbalanceStrategy(ImbalanceConfig(name="imbalance"))]
    k = Kernel(run_id="paper-churn0001", mode="paper", clock=clock, books=books, strategies=strategies,
               risk={s.name: RiskEngine(RiskConfig(cooldown_s=0)) for s in strategies},
               execution=make_execution("paper", CFG, lambda: holder[0].by_token, books),
               portfolio=Portfolio(10_000 * S, fill_id_window=50, curve_points=64), journal=Journal(),
               recorder=recorder, timer_interval_ns=10**9)
    # the windows that are bounded by design are made small, so that only unbounded growth shows
    k.orders._keep_terminal = 50
    k.orders._fill_ids = RecentIds(50)
    holder.append(k)
    k.start()
    return k, clock, books


def _live_one_market(k: Kernel, clock: SimClock, books: BookSet, i: int) -> None:
    """Market ``i``'s life as the live feed delivers it: listed, books, traded, resolved, dropped."""
    t = T0 + i * 15 * MIN
    m = market(i, end_ns=t + 15 * MIN)
    k.add_market(m)
    for step in range(3):
        clock.set(t + step * 10**9)
        for asset, bids, asks in ((m.yes.token_id, ((500_000, 500 * S),), ((520_000, 40 * S),)),
                                  (m.no.token_id, ((480_000, 40 * S),), ((500_000, 500 * S),))):
            ev = BookSnapshot(m.condition_id, asset, bids, asks, "h", clock.now_ns(), clock.now_ns())
            k.on_event(ev, books.on_event(ev))
        k.on_timer(clock.now_ns())
    clock.set(t + 15 * MIN)
    k.on_event(MarketResolved(m.condition_id, m.market_id, m.token_ids, m.yes.token_id, "Up",
                              clock.now_ns(), clock.now_ns()), ())
    gone = FeedStatus(m.token_ids, "unsubscribed", "unsubscribe", clock.now_ns())
    k.on_event(gone, books.on_event(gone))
    retire(k, m.condition_id)
    k.on_timer(clock.now_ns() + 1)


def container_sizes(root: object) -> dict[str, int]:
    """Path -> size of every dict, list, set, deque and tuple reachable from ``root`` through
    attributes of clobflow objects and the containers holding them (entries of one container
    share one path, e.g. ``k.views[]``; the largest counts). Breadth first: an object shared by
    several owners is named by its shortest path."""
    out: dict[str, int] = {}
    seen: set[int] = set()
    stack: deque[tuple[object, str]] = deque([(root, "k")])
    while stack:
        obj, path = stack.popleft()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, (dict, list, set, frozenset, deque, tuple)):
            out[path] = max(out.get(path, 0), len(obj))
            items = list(obj.values()) + list(obj.keys()) if isinstance(obj, dict) else list(obj)
            stack.extend((v, path + "[]") for v in items if not isinstance(v, (str, int, bytes, float)))
        elif type(obj).__module__.startswith(("clobflow", "tests")):
            names = set(getattr(obj, "__dict__", {}))
            for klass in type(obj).__mro__:
                names.update(getattr(klass, "__slots__", ()))
            for n in sorted(names):
                v = getattr(obj, n, None)
                if v is not None and not callable(v) or isinstance(v, (dict, list, set, deque)):
                    stack.append((v, f"{path}.{n}"))
    return out


def test_nothing_the_kernel_holds_grows_with_the_markets_it_has_seen(tmp_path):
    rec = RunRecorder.open(f"sqlite:///{tmp_path / 'store.sqlite'}", run_id="paper-churn0001", mode="paper",
                           strategy_names=["buyer", "imbalance"], config=CFG)
    k, clock, books = _paper_kernel(rec)
    try:
        for i in range(60):
            _live_one_market(k, clock, books, i)
        before = container_sizes(k)
        for i in range(60, 260):
            _live_one_market(k, clock, books, i)
        after = container_sizes(k)
    finally:
        rec.close(k, clock.now_ns())
    assert k.counters["fills"] >= 200 and k.portfolio.realized_pnl != 0  # every market traded and settled
    grown = {p: (before.get(p, 0), n) for p, n in after.items() if n - before.get(p, 0) >= 50}
    allowed = {
        # the report's content, one entry per traded market (documented in engine.retire)
        "k.portfolio._markets", "k.portfolio._token_market", "k.portfolio._resolved", "k.bought",
        "k.portfolio.curve._closes",  # one int per hour of the run (the hourly Sharpe ratio)
        "k.books.transitions",  # the last 5,000-10,000 trust changes (book_set.py)
    }
    assert set(grown) <= allowed, grown
    assert not k.markets and not k.views and not k.token_market and not k.by_token and not k.retiring
    assert len(books) == 0 and k.markets_seen == 260


def test_a_market_still_held_is_retired_once_it_settles():
    k, clock, books = _paper_kernel()
    m = market(1)
    k.add_market(m)
    for asset, bids, asks in ((m.yes.token_id, ((500_000, 500 * S),), ((520_000, 40 * S),)),
                              (m.no.token_id, ((480_000, 40 * S),), ((500_000, 500 * S),))):
        ev = BookSnapshot(m.condition_id, asset, bids, asks, "h", T0, T0)
        k.on_event(ev, books.on_event(ev))
    assert k.portfolio.has_position(m.condition_id)
    assert retire(k, m.condition_id) is False  # held: waits to settle
    assert m.condition_id in k.markets and m.condition_id in k.retiring
    k.on_timer(T0 + 10**9)
    assert m.condition_id in k.markets  # still held
    clock.set(T0 + 15 * MIN)
    k.on_event(MarketResolved(m.condition_id, m.market_id, m.token_ids, m.no.token_id, "Down",
                              clock.now_ns(), clock.now_ns()), ())
    k.on_timer(clock.now_ns())
    assert m.condition_id not in k.markets and not k.retiring and not k.token_market
    assert k.portfolio.market_pnl(m.condition_id) < 0  # the report still has its P&L
