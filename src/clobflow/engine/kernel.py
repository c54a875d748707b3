"""The kernel: the single-threaded decision core of one run, the same in every mode.

Every input goes through one typed dispatch (``dispatch``: a table from event type to handler,
built once): market events, execution reports, wallet trades and the timer. Map of one event
(``on_event``; the caller has already applied a market event to the books):

    due execution reports (latency) -> order state machine -> ledger / portfolio / strategy / journal
    market data -> simulated matching of resting orders -> their reports, as above
    book change -> portfolio marks -> strategy.on_book -> ctx.submit -> risk -> execution
    wallet trade / timer / other strategy events -> the strategies' handlers

A new event type needs its class (``core.events``), a ``Strategy`` handler with a no-op default
and one line in ``strategies.base.STRATEGY_EVENTS``; the kernel forwards it without change. Only
events the kernel itself acts on (books, prints, resolutions, reports) have kernel handlers.

The kernel holds no trading policy: whether a strategy may enter a market twice, add to a
position or open another one is risk's (``RiskConfig``) or the strategy's decision. The kernel
records what each strategy holds (``engine.positions.PositionLedger``; store rows follow the
holdings) and routes. It turns the risk gate's flips into one ``halted`` / ``resumed`` journal
line each; strategies read the gate as ``ctx.can_trade()`` and stop signalling.

Around it: ``engine.context`` (the views strategies and risk get: ``StrategyCtx``,
``RiskView``), ``engine.settlement`` (a market resolves), ``engine.positions`` (holdings and
store rows).

There is no ``await`` and no write syscall between a strategy's decision and its order: order
rows are journaled after ``execution.submit``, a journal entry is a tuple appended, and the
journal file writes at the end of the event (fills and settlements are written through at once;
bulk entries are encoded on its writer thread).

Order ids are ``{run tag}-{strategy}-{n}``: unique across runs sharing one store (the tag comes
from the run id), numbered per run, and deterministic for a backtest (whose run id is a hash of
its inputs), so a backtest is byte-for-byte repeatable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from time import perf_counter_ns
from typing import Any

from clobflow.book.binary import BinaryBook
from clobflow.book.book_set import BookSet
from clobflow.core.clock import Clock
from clobflow.core.events import (
    BookSnapshot,
    Event,
    MarketResolved,
    PriceChange,
    Side,
    TickSizeChange,
    TimerFired,
    Trade,
)
from clobflow.core.markets import BinaryMarket
from clobflow.core.orders import (
    Accepted,
    CancelIntent,
    Cancelled,
    ExecutionReport,
    Expired,
    Filled,
    OrderIntent,
    OrderStatus,
    Rejected,
    Unknown,
)
from clobflow.engine.context import RiskView, StrategyCtx
from clobflow.engine.positions import PositionLedger
from clobflow.engine.recording import RunRecorder
from clobflow.engine.retire import retire_pending
from clobflow.engine.settlement import settle
from clobflow.execution.client import ExecutionClient
from clobflow.execution.orders import Order, OrderManager
from clobflow.observe.journal import Journal
from clobflow.portfolio.portfolio import Portfolio
from clobflow.risk.engine import RiskEngine
from clobflow.strategies.base import STRATEGY_EVENTS, Strategy

log = logging.getLogger(__name__)

MARKET_OUTCOMES = frozenset({"post_only_crosses", "fak_no_match"})
"""Rejections that are the market moving, not execution failing: a post-only bid refused because
the ask reached it, or a FAK that found the liquidity gone, are ordinary outcomes for a quoting
strategy, so they do not count towards the circuit breaker (venue errors, bad orders and
unknown outcomes do)."""

Handler = Callable[[Any, tuple[str, ...], int], None]
"""``handler(event, touched tokens, now_ns)``; the dispatch table maps each type to one."""

_REPORT_TYPES = (Accepted, Rejected, Filled, Cancelled, Expired, Unknown)


class Kernel:
    """Composes books, strategies, risk, execution, portfolio and journal for one run.

    ``risk`` maps strategy name -> its ``RiskEngine``. ``recorder`` (optional) persists orders,
    fills, decisions and positions off the decision path.
    """

    def __init__(
        self,
        *,
        run_id: str,
        mode: str,
        clock: Clock,
        books: BookSet,
        strategies: list[Strategy],
        risk: dict[str, RiskEngine],
        execution: ExecutionClient,
        portfolio: Portfolio,
        journal: Journal,
        recorder: RunRecorder | None = None,
        timer_interval_ns: int = 1_000_000_000,
    ) -> None:
        self.run_id = run_id
        self.mode = mode
        self.clock = clock
        self.books = books
        self.strategies = strategies
        self.risk = risk
        self.execution = execution
        self.portfolio = portfolio
        self.journal = journal
        self.recorder = recorder
        self.orders = OrderManager(on_transition=self._on_transition)
        self.positions = PositionLedger([s.name for s in strategies], self.orders, portfolio, journal, recorder)
        self.markets: dict[str, BinaryMarket] = {}
        self.views: dict[str, BinaryBook] = {}
        self.token_market: dict[str, str] = {}
        self.by_token: dict[str, BinaryMarket] = {}  # token -> its market (what execution looks up)
        self.resolved: dict[str, str] = {}  # condition id -> winning token
        self.retiring: set[str] = set()  # ended markets to forget once flat (engine.retire)
        self.markets_seen = 0  # markets followed over the run (``markets`` loses retired ones)
        self._ctx = {s.name: StrategyCtx(self, s) for s in strategies}
        self._by_name = {s.name: s for s in strategies}
        self._order_seq: dict[str, int] = {}
        self._run_tag = run_id.rsplit("-", 1)[-1][:8]
        self._timer_ns = timer_interval_ns
        self._next_timer_ns = 0
        self._t0 = 0  # wall time (perf counter) the current event was taken: ctx.latency_ns()
        self.started = False
        self.max_exposure = 0  # largest total cost basis held at once (sampled)
        self.bought: dict[str, set[str]] = {}  # condition id -> tokens bought (for reports)
        self.counters = {"events": 0, "book_updates": 0, "orders": 0, "fills": 0, "risk_rejects": 0,
                         "foreign_reports": 0, "halts": 0}
        self.halted: dict[str, str] = {}  # strategy -> why it may not trade now
        self._dispatch = self._build_dispatch()
        for name, r in risk.items():
            r.on_gate = self._gate_hook(name)

    def _build_dispatch(self) -> dict[type, Handler]:
        """The one table from event type to handler. Kernel handlers first; every other event
        type a strategy declares a handler for (``STRATEGY_EVENTS``) is forwarded as is, only to
        the strategies that override the no-op default."""
        table: dict[type, Handler] = {
            PriceChange: self._on_book_event, BookSnapshot: self._on_book_event, TickSizeChange: self._on_book_event,
            Trade: self._on_trade, MarketResolved: self._on_resolved, TimerFired: self._on_timer_event,
        }
        for t in _REPORT_TYPES:
            table[t] = self._on_report
        for ev_type, method in STRATEGY_EVENTS.items():
            if ev_type in table:
                continue
            routes = [(getattr(s, method), self._ctx[s.name]) for s in self.strategies
                      if getattr(type(s), method) is not getattr(Strategy, method)]
            table[ev_type] = _forward(routes)
        self._trade_routes = [(s.on_trade, self._ctx[s.name]) for s in self.strategies
                              if type(s).on_trade is not Strategy.on_trade]
        self._book_routes = [(s.on_book, self._ctx[s.name]) for s in self.strategies]
        self._timer_routes = [(s.on_timer, self._ctx[s.name]) for s in self.strategies
                              if type(s).on_timer is not Strategy.on_timer]
        return table

    # -- markets ---------------------------------------------------------------------------

    def add_market(self, m: BinaryMarket) -> None:
        cid = m.condition_id
        self.retiring.discard(cid)  # listed again: followed again
        if cid not in self.markets:
            self.markets_seen += 1
        self.markets[cid] = m
        for t in m.token_ids:
            self.token_market[t] = cid
            self.by_token[t] = m
        self.views[cid] = BinaryBook(m, self.books.book(m.yes.token_id), self.books.book(m.no.token_id))

    def adopt_position(self, strategy: str, market: str, asset_id: str, *, size: int, cost: int, fees: int,
                       row_id: int, opened_ns: int) -> None:
        """Take over a position an earlier run of this strategy left open (the store's row):
        the portfolio holds it, the ledger counts it as the strategy's (so risk sees the market
        as held), and it settles (closing the row) when the market resolves in this run."""
        self.portfolio.restore(asset_id, market, size, cost, fees, opened_ns)
        self.positions.adopt(strategy, market, size, row_id)
        self.journal.record(self.clock.now_ns(), strategy, "adopt", "open_from_earlier_run", passed=True,
                            market=market, asset_id=asset_id, inputs={"size": size, "cost": cost, "row": row_id})

    def unfollowed_holdings(self) -> dict[str, list[str]]:
        """Markets we hold shares in that the kernel does not follow (no ``BinaryMarket``):
        condition id -> the tokens held. After a restart these need looking up."""
        out: dict[str, list[str]] = {}
        for p in self.portfolio.positions():
            if p.size and p.market not in self.markets:
                out.setdefault(p.market, []).append(p.asset_id)
        return out

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        now = self.clock.now_ns()
        self._next_timer_ns = now + self._timer_ns
        for s in self.strategies:
            s.on_start(self._ctx[s.name])
        self.started = True

    def stop(self) -> None:
        now = self.clock.now_ns()
        self.process_due(now)
        for s in self.strategies:
            s.on_stop(self._ctx[s.name])
        self._sample(now)
        self.journal.end_of_event()

    # -- the decision path -----------------------------------------------------------------

    def on_event(self, ev: Event | ExecutionReport, touched: tuple[str, ...] = ()) -> None:
        """Handle one outside event: a market event whose book changes (``touched`` tokens) are
        already applied, a wallet trade, or an execution report a venue pushed."""
        now = self.clock.now_ns()
        self.counters["events"] += 1
        self.process_due(now)
        h = self._dispatch.get(type(ev))  # = self.dispatch, inlined: this is the hot path
        if h is not None:
            self._t0 = perf_counter_ns()
            h(ev, touched, now)
        if now >= self._next_timer_ns or now < self._next_timer_ns - 2 * self._timer_ns:
            # After the event: the venue matched our resting orders against this update before
            # anything we decide on the timer could reach it. (The second case: market time
            # was re-based, e.g. by the first venue timestamp.)
            self.on_timer(now)
        self.journal.end_of_event()

    def dispatch(self, ev: Event | ExecutionReport, touched: tuple[str, ...], now: int) -> None:
        """Route one event to its handler (types without one are ignored)."""
        h = self._dispatch.get(type(ev))
        if h is not None:
            self._t0 = perf_counter_ns()
            h(ev, touched, now)

    def _on_book_event(self, ev: PriceChange | BookSnapshot | TickSizeChange, touched: tuple[str, ...],
                       now: int) -> None:
        if not touched:
            return
        self.counters["book_updates"] += 1
        execution = self.execution
        get_book = self.books.get_book
        for asset in touched:
            execution.on_book(asset, get_book(asset), now)
        self.process_due(now)
        self._after_books(touched, now)

    def _on_trade(self, ev: Trade, touched: tuple[str, ...], now: int) -> None:
        self.execution.on_trade(ev, now)
        self.process_due(now)
        for handler, ctx in self._trade_routes:
            handler(ctx, ev)

    def _on_resolved(self, ev: MarketResolved, touched: tuple[str, ...], now: int) -> None:
        settle(self, ev, now)

    def _on_timer_event(self, ev: TimerFired, touched: tuple[str, ...], now: int) -> None:
        for handler, ctx in self._timer_routes:
            handler(ctx, ev.ts_ns)

    def _after_books(self, touched: tuple[str, ...], now: int) -> None:
        portfolio = self.portfolio
        token_market = self.token_market
        resolved = self.resolved
        seen: dict[str, str] = {}  # market -> its first touched token, in touch order
        for asset in touched:
            if portfolio.holds(asset):
                bid = self.books.get_book(asset).best_bid()
                if bid is not None:
                    portfolio.mark(asset, bid)
            cid = token_market.get(asset)
            if cid is not None and cid not in seen and cid not in resolved:
                seen[cid] = asset
        markets = self.markets
        for cid, first in seen.items():
            m = markets[cid]
            for handler, ctx in self._book_routes:
                handler(ctx, m, first)

    def process_due(self, now: int) -> None:
        """Apply every execution report due by ``now`` (simulated latency, venue answers)."""
        due = self.execution.next_due_ns()
        if due is None or due > now:
            return
        for report in self.execution.poll(now):
            self.dispatch(report, (), now)
        self.journal.end_of_event()

    def next_due_ns(self) -> int | None:
        return self.execution.next_due_ns()

    def timer_due(self, now: int) -> bool:
        return now >= self._next_timer_ns or now < self._next_timer_ns - 2 * self._timer_ns

    def on_timer(self, now: int) -> None:
        self._next_timer_ns = now + self._timer_ns
        self.books.check_stale(now)
        self._sample(now)
        if self.retiring:
            retire_pending(self)
        if self.halted:
            for name in list(self.halted):
                self.risk[name].can_trade(now)  # a breaker's cool-off ends here (-> resumed)
        if self._timer_routes:
            self.dispatch(TimerFired(now), (), now)
        self.journal.end_of_event()

    def _sample(self, now: int) -> None:
        portfolio = self.portfolio
        portfolio.sample(now)
        exposure = portfolio.total_exposure()
        if exposure > self.max_exposure:
            self.max_exposure = exposure
        equity = portfolio.curve[-1].equity  # = equity(): sample() leaves the current point last
        for risk in self.risk.values():
            risk.kill_switch.update(equity, now)  # a trip flips the gate: -> one ``halted`` line

    def _gate_hook(self, name: str) -> Callable[[bool], None]:
        def on_gate(can_trade: bool) -> None:
            now = self.clock.now_ns()
            risk = self.risk[name]
            if not can_trade:
                why = risk.halt_reason()
                self.halted[name] = why
                self.counters["halts"] += 1
                self.journal.record(now, name, "halted", why, passed=False, inputs={
                    "equity": self.portfolio.equity(), "trigger": risk.kill_switch.reason,
                    "breaker_failures": risk.breaker.failures, **risk.kill_switch.detail})
            elif self.halted.pop(name, None) is not None:
                self.journal.record(now, name, "resumed", "can_trade", passed=True)
        return on_gate

    # -- orders ----------------------------------------------------------------------------

    def submit(self, strategy: Strategy, intent_fields: dict[str, Any], inputs: dict[str, Any] | None) -> OrderIntent | None:
        now = self.clock.now_ns()
        name = strategy.name
        n = self._order_seq.get(name, 0) + 1
        self._order_seq[name] = n
        intent = OrderIntent(client_order_id=f"{self._run_tag}-{name}-{n}", strategy=name, created_ns=now, **intent_fields)
        risk = self.risk[name]
        decision = risk.check(intent, RiskView(self, name), now)
        if not decision.ok:
            self.counters["risk_rejects"] += 1
            self.journal.record(now, name, "risk_reject", decision.reason, passed=False, market=intent.market,
                                asset_id=intent.asset_id, inputs={**(inputs or {}), **decision.detail})
            return None
        order = self.orders.create(intent, now)
        if intent.side == Side.BUY:
            self.positions.entry_sent(name, intent.market)
            risk.record_entry(intent.market, now)
        self.counters["orders"] += 1
        self.execution.submit(order, now)
        # Journaled and recorded after the order left: nothing between the decision and it.
        self.journal.record(now, name, "order", intent.reason or "submit", passed=True, market=intent.market,
                            asset_id=intent.asset_id, inputs={
                                "client_order_id": intent.client_order_id, "side": intent.side.name,
                                "price": intent.price, "size": intent.size,
                                "order_type": intent.order_type.value, **self.book_trust(intent.asset_id)})
        if self.recorder is not None:
            self.recorder.order(order, now)
        self.orders.mark_submitted(intent.client_order_id, now)
        return intent

    def book_trust(self, asset_id: str) -> dict[str, str]:
        """The book's trust as journal inputs (``book_trust``: trusted / suspect / untrusted /
        none, ``book_trust_reason``), so "no order on an untrusted book" is checkable from the
        journal alone."""
        tb = self.books.get(asset_id)
        if tb is None:
            return {"book_trust": "none", "book_trust_reason": "no_book"}
        return {"book_trust": tb.state.name.lower(), "book_trust_reason": tb.reason}

    def cancel(self, strategy: Strategy, cancel: CancelIntent) -> None:
        order = self.orders.get(cancel.client_order_id)
        if order is None or order.intent.strategy != strategy.name or not order.status.live:
            return
        self.execution.cancel(cancel.client_order_id, self.clock.now_ns())

    def _on_report(self, report: ExecutionReport, touched: tuple[str, ...], now: int) -> None:
        order = self.orders.get(report.client_order_id)
        if order is None:
            # Not an order of this run (another process or a manual order on the same account,
            # or a venue echo): journal it and go on; our state is not wrong.
            self.counters["foreign_reports"] += 1
            fill = report.fill if isinstance(report, Filled) else None
            self.journal.record(report.ts_ns, "", "foreign_report", type(report).__name__.lower(), passed=False,
                                market=fill.market if fill is not None else "",
                                asset_id=fill.asset_id if fill is not None else "",
                                inputs={"client_order_id": report.client_order_id,
                                        "fill_id": fill.fill_id if fill is not None else None})
            return
        self.orders.apply(report)
        name = order.intent.strategy
        now = report.ts_ns
        risk = self.risk.get(name)
        if isinstance(report, Filled) and report.fill is not None:
            fill = report.fill
            self.portfolio.apply_fill(fill)
            if fill.side == Side.BUY:
                self.bought.setdefault(fill.market, set()).add(fill.asset_id)
            bid = self.books.book(fill.asset_id).best_bid()
            if bid is not None:
                self.portfolio.mark(fill.asset_id, bid)
            self.counters["fills"] += 1
            self.journal.record(now, name, "fill", fill.liquidity.value, passed=True, market=fill.market,
                                asset_id=fill.asset_id, inputs={
                                    "client_order_id": fill.client_order_id, "fill_id": fill.fill_id,
                                    "price": fill.price, "size": fill.size, "fee": fill.fee,
                                    # with these the journal rebuilds the store's fill row after a crash
                                    "side": fill.side.name, "fill_ts_ns": fill.ts_ns})
            if self.recorder is not None:
                self.recorder.fill(fill)
            self.positions.fill(name, self.markets.get(fill.market), fill.market, fill.asset_id, fill.side,
                                fill.size, now)
            if risk is not None:
                risk.breaker.record_success(now)
        elif isinstance(report, Unknown) or (isinstance(report, Rejected) and report.reason not in MARKET_OUTCOMES):
            if risk is not None:
                risk.breaker.record_failure(now)
        if order.status.terminal:
            self.positions.release(name, order.intent.market)
        s = self._by_name.get(name)
        if s is not None:
            s.on_order_event(self._ctx[name], order, report)
        if self.recorder is not None:
            self.recorder.order(order, now)

    def _on_transition(self, order: Order, from_status: OrderStatus, to_status: OrderStatus, reason: str, ts_ns: int) -> None:
        i = order.intent
        self.journal.record(ts_ns, i.strategy, "order_event", to_status.value, passed=to_status not in (
            OrderStatus.REJECTED, OrderStatus.UNKNOWN), market=i.market, asset_id=i.asset_id, inputs={
                "client_order_id": i.client_order_id, "from": from_status.value, "reason": reason,
                "filled": order.filled_size})
        if self.recorder is not None:
            self.recorder.transition(order, from_status, to_status, reason, ts_ns)

    # -- views for strategies and risk -----------------------------------------------------

    def ctx(self, strategy: str) -> StrategyCtx:
        """The context the kernel gives ``strategy`` (built once, in ``__init__``)."""
        return self._ctx[strategy]

    def latency_ns(self) -> int:
        """Wall-clock ns since the event being handled was taken (for latency outputs only)."""
        return perf_counter_ns() - self._t0

    def has_position(self, strategy: str, cid: str) -> bool:
        return self.positions.has_position(strategy, cid)

    def open_position_count(self, strategy: str) -> int:
        return self.positions.open_position_count(strategy)


def _forward(routes: list[tuple[Callable[[Any, Any], None], StrategyCtx]]) -> Handler:
    """A dispatch handler that hands the event to each strategy handler in ``routes``."""
    def handler(ev: Any, touched: tuple[str, ...], now: int) -> None:
        for h, ctx in routes:
            h(ctx, ev)
    return handler
