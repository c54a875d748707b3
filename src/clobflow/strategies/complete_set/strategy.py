"""Complete-set (pair) accumulation, maker first, on 15-minute crypto up/down markets.

One Up share plus one Down share pays exactly 1. The bot rests post-only bids on both tokens
with ``bid_up + bid_down <= 1 − required margin`` and lets the window's swings fill each side at
different moments; legs are counted in equal **shares**. Per book update of a followed market:

1. taker detection (``detector``: a cheap fast path; hits are journaled as executable or as a
   data inconsistency — on Polymarket's mirrored books effectively always the latter);
2. toxic-flow update (``toxic``) and stream observations (flash moves, untrusted books);
3. the decision (``_decide``), in this order of precedence:
   book not trusted -> pull quotes | hard stop (< ``hard_stop_s``): pull, only unwind |
   crisis -> unwind (the cheaper of selling the excess or buying the missing side) |
   breaker/kill switch -> pull | toxic >= pull -> pull | otherwise: the lagging leg (placed,
   resized, chased) and the quotes (lean toward the side behind, shrink or pause the side
   ahead, sized down as the inventory skews, capped per side).

A fill on one side fires the pre-computed second leg at once (``_second_leg``): a FAK at the
other token's ask when ``ask + fee <= 1 − margin − avg cost of the filled side``, else a post-
only bid for exactly the unmatched shares, which the chase then steps toward the book every
``chase_interval_s`` up to that ceiling for at most ``chase_max_s``. The wall time from the fill
event to that order is measured by the kernel (``ctx.latency_ns``; kept in ``leg_latencies_ns``).

Halts and limits: while ``ctx.can_trade()`` is False (kill switch, breaker) the bot pulls its
quotes and sends no new entries (unwinds stay allowed). A BUY that the risk layer's exposure
limits would refuse (``ctx.entry_room``) is not sent (``no_room``), so risk rejects stay rare.

Every decision goes to the ``DecisionLog`` (captured as a tuple, written in the background)
with both tops, inventory, margin, threshold, time left, toxic severity and state
(``journaling.DecisionRecording``, which also watches the stream and runs event detection).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from clobflow.book.book_set import TrackedBook
from clobflow.core.events import Side, Trade
from clobflow.core.markets import BinaryMarket
from clobflow.core.numbers import ONE, SCALE
from clobflow.core.orders import ExecutionReport, Filled, OrderType, Rejected, notional
from clobflow.strategies.base import OrderView, RunInfo, Strategy, StrategyContext
from clobflow.strategies.complete_set import pricing as P
from clobflow.strategies.complete_set.config import CompleteSetConfig, Limits
from clobflow.strategies.complete_set.decision_log import DecisionLog
from clobflow.strategies.complete_set.detector import BinaryDetector, MultiOutcomeDetector
from clobflow.strategies.complete_set.inventory import State, required_margin
from clobflow.strategies.complete_set.journaling import DecisionRecording
from clobflow.strategies.complete_set.market_state import LEG, QUOTE, TAKER, UNWIND, Chase, PairMarket, Working
from clobflow.strategies.complete_set.records import DOWN, UP, other
from clobflow.strategies.complete_set.toxic import ToxicFlow

if TYPE_CHECKING:
    from clobflow.portfolio.portfolio import Portfolio

class CompleteSetStrategy(DecisionRecording, Strategy):
    """The pair bot (see the module docstring). Deterministic: same events, same decisions."""

    def __init__(self, config: CompleteSetConfig) -> None:
        self.config = config
        self.name = config.name
        self.lim = Limits(config)
        self.detector = BinaryDetector(config.detector_config())
        self.multi_detector = MultiOutcomeDetector(config.detector_config())
        self._events: dict[str, list[BinaryMarket]] = {}  # neg-risk event slug -> its markets
        self.toxic = ToxicFlow(config.toxic)
        self.pairs: dict[str, PairMarket] = {}
        self.log: DecisionLog | None = None
        self.out_dir: Path | None = None
        self.reproducible = True
        self.leg_latencies_ns: list[int] = []
        self._order_market: dict[str, str] = {}

    # -- lifecycle ---------------------------------------------------------------------------

    def attach_run(self, run: RunInfo) -> None:
        self.out_dir = run.out_dir
        self.reproducible = run.reproducible

    def on_start(self, ctx: StrategyContext) -> None:
        if self.log is None:
            self.log = DecisionLog(self.out_dir, capacity=self.config.decision_log_capacity,
                                   lossless=self.reproducible,
                                   tolerance_ppm=self.lim.review_tolerance_ppm, set_size=self.lim.quote_size)

    def on_stop(self, ctx: StrategyContext) -> None:
        if self.log is not None:
            self.log.close()

    def report_section(self, portfolio: Portfolio) -> tuple[str | None, list[Path]]:
        """The run report's pair-bot section (``report.write_window_report``), P&L from the
        run's portfolio; nothing without a run folder."""
        if self.out_dir is None:
            return None, []
        from clobflow.strategies.complete_set.report import write_window_report

        return write_window_report(self, self.out_dir, portfolio)

    def on_resolved(self, ctx: StrategyContext, market: BinaryMarket, winning_asset_id: str) -> None:
        pm = self.pairs.get(market.condition_id)
        if pm is None or pm.resolved is not None:
            return
        winner = pm.side_of(winning_asset_id)
        pm.resolved = winner
        if self.log is not None:
            self.log.window_resolved(pm.cid, pm.slug, winner)

    # -- market data -------------------------------------------------------------------------

    def on_book(self, ctx: StrategyContext, market: BinaryMarket, asset_id: str) -> None:
        if market.neg_risk and market.event_slug:
            self._detect_event(ctx, market)
        pm = self.pairs.get(market.condition_id)
        if pm is None:
            if self.config.slug_contains not in market.slug:
                return
            pm = self.pairs[market.condition_id] = PairMarket(market, ctx.now_ns)
        if pm.resolved is not None:
            return
        ty = ctx.book(pm.token[UP])
        tn = ctx.book(pm.token[DOWN])
        if ty is None or tn is None:
            return
        now = ctx.now_ns
        hit = self.detector.check(ty, tn, now, pm.schedule)
        if hit is not None:
            self._on_hit(ctx, pm, hit)
        sev = self.toxic.on_book(pm.token[UP], ty.book, now)
        sev = max(sev, self.toxic.on_book(pm.token[DOWN], tn.book, now))
        self._observe(ctx, pm, ty, tn, now)
        self._decide(ctx, pm, ty, tn, sev, now)

    def on_trade(self, ctx: StrategyContext, trade: Trade) -> None:
        self.toxic.on_trade(trade.asset_id, trade.price, trade.size, trade.side, ctx.now_ns)

    def on_timer(self, ctx: StrategyContext, now_ns: int) -> None:
        # the chase and the clock-driven states (hard stop, crisis) must advance without updates
        for pm in self.pairs.values():
            if pm.resolved is not None:
                continue
            ty, tn = ctx.book(pm.token[UP]), ctx.book(pm.token[DOWN])
            if ty is not None and tn is not None:
                sev = self.toxic.market_severity((pm.token[UP], pm.token[DOWN]), now_ns)
                self._decide(ctx, pm, ty, tn, sev, now_ns)

    # -- the decision --------------------------------------------------------------------------

    def _decide(self, ctx: StrategyContext, pm: PairMarket, ty: TrackedBook, tn: TrackedBook, sev: int,
                now: int) -> None:
        end = pm.market.end_ns
        if end is None or end <= now:
            return
        left = end - now
        lim = self.lim
        if not ty.tradeable or not tn.tradeable:  # not trusted, or a venue check still pending
            self._pull(ctx, pm, (QUOTE, LEG), "book_not_ready")
            return self._skip(ctx, pm, "book_not_ready", sev, left)
        state = pm.inv.state(left, lim)
        ch = pm.chase.get(other(pm.inv.ahead)) if pm.inv.ahead is not None else None
        if ch is not None and ch.gave_up and state is not State.BALANCED:
            state = State.CRISIS  # the lagging leg ran away: do not carry a naked leg to the close
        if left < lim.hard_stop_ns or state is State.CRISIS:
            self._pull(ctx, pm, (QUOTE, LEG), "hard_stop" if left < lim.hard_stop_ns else "crisis")
            if state is State.CRISIS:
                return self._unwind(ctx, pm, ty, tn, left, sev)
            return self._skip(ctx, pm, "hard_stop", sev, left)
        if not ctx.can_trade():
            self._pull(ctx, pm, (QUOTE, LEG), "breaker_open")
            return self._skip(ctx, pm, "breaker_open", sev, left)
        if sev >= self.config.toxic_pull_at:
            self._pull(ctx, pm, (QUOTE,), "toxic")
            return self._skip(ctx, pm, "toxic", sev, left)
        margin = required_margin(left, lim)
        self._leg(ctx, pm, ty, tn, margin, left, sev, now)
        self._quotes(ctx, pm, ty, tn, margin, state, left, sev, now)

    def _quotes(self, ctx: StrategyContext, pm: PairMarket, ty: TrackedBook, tn: TrackedBook, margin: int,
                state: State, left: int, sev: int, now: int) -> None:
        inv, lim, tick = pm.inv, self.lim, pm.tick
        yb, nb = ty.book, tn.book
        ahead = inv.ahead if inv.imbalance > lim.balanced else None
        behind = other(ahead) if ahead else None
        bu, bd = P.quote_prices((yb.best_bid(), yb.best_ask()), (nb.best_bid(), nb.best_ask()), tick=tick,
                                margin=margin, offset_ticks=self.config.quote_offset_ticks, lean=behind,
                                lean_ticks=self.config.lean_ticks)
        if bu is None and bd is None:
            return self._skip(ctx, pm, "no_quote_possible", sev, left)
        base = lim.quote_size
        if sev >= self.config.toxic_shrink_at > 0:
            base = max(pm.min_size, (base // 2) // SCALE * SCALE)
        target = {UP: [bu, base], DOWN: [bd, base]}
        if ahead is not None:
            avg = inv.avg_cost(ahead) or 0
            ceiling = P.leg_ceiling(avg, margin, tick)
            t = target[behind]  # type: ignore[index]
            if t[0] is not None and t[0] > ceiling:
                t[0] = ceiling if ceiling >= tick else None
            if pm.live(behind, LEG) or pm.chase.get(behind):  # type: ignore[arg-type]
                t[0] = None  # the leg is the behind side's bid
            shrink = base * max(0, lim.skew - inv.imbalance) // lim.skew // SCALE * SCALE
            target[ahead][1] = shrink
            if state is State.EXPOSED or shrink < pm.min_size:
                target[ahead][0] = None
        pu, pd = target[UP][0], target[DOWN][0]
        pair_margin = ONE - pu - pd if pu is not None and pd is not None else None
        for side in (UP, DOWN):
            price, size = target[side]
            if price is not None and inv.shares(side) + size > lim.max_side:
                price = None
            self._reconcile(ctx, pm, side, price, size, pair_margin, left, sev, now,
                            "side_ahead" if side == ahead else "no_room")

    def _reconcile(self, ctx: StrategyContext, pm: PairMarket, side: str, price: int | None, size: int,
                   margin: int | None, left: int, sev: int, now: int, why_none: str) -> None:
        quotes = pm.live(side, QUOTE)
        if price is None or size < pm.min_size:
            for w in quotes:
                self._cancel(ctx, pm, w, why_none)
            return
        if quotes:
            w = quotes[0]
            if w.cancelling:
                return
            if abs(w.price - price) < self.config.requote_threshold_ticks * pm.tick and w.remaining >= pm.min_size:
                return
            if now - pm.last_requote_ns[side] < self.lim.requote_ns:
                return
            pm.last_requote_ns[side] = now
            pm.count("requotes")
            self._cancel(ctx, pm, w, "requote", log=False)
            self._log(ctx, pm, "requote", "reprice", side=side, price=price, size=size, margin=margin, left=left,
                      sev=sev, order_id=w.order_id, detail={"from": w.price})
            return
        if pm.cancelling(side):
            return  # a cancel on this side is in flight: place after it lands (no double fill)
        self._submit(ctx, pm, side, QUOTE, price, size, OrderType.GTC, "quote", margin, left, sev)

    def _leg(self, ctx: StrategyContext, pm: PairMarket, ty: TrackedBook, tn: TrackedBook, margin: int,
             left: int, sev: int, now: int) -> None:
        """Keep a bid for exactly the unmatched shares on the side behind, chased up to the
        ceiling; switch to a taker when the ask clears the margin after fees."""
        inv = pm.inv
        ahead = inv.ahead
        if ahead is None:
            pm.chase.clear()
            return
        behind = other(ahead)
        pm.chase.pop(ahead, None)
        need = inv.imbalance - pm.covered(behind)
        if need < pm.min_size and not pm.live(behind, LEG):
            return
        book = (tn if behind == DOWN else ty).book
        bid, ask = book.best_bid(), book.best_ask()
        avg = inv.avg_cost(ahead) or 0
        ceiling = P.leg_ceiling(avg, margin, pm.tick)
        if self._try_taker(ctx, pm, behind, need, avg, ask, margin, left, sev, "chase"):
            return
        ch = pm.chase.get(behind)
        if ch is None:
            start = P.side_bid(bid, ask, pm.tick, 0, self.config.lean_ticks)
            if start is None or ceiling < pm.tick:
                return self._skip(ctx, pm, "leg_no_room", sev, left)
            ch = pm.chase[behind] = Chase(behind, now, min(start, ceiling))
        elif not ch.gave_up and now - ch.last_step_ns >= self.lim.chase_interval_ns:
            if now - ch.start_ns > self.lim.chase_max_ns:
                ch.gave_up = True
                self._log(ctx, pm, "chase", "gave_up", side=behind, price=ch.target, margin=margin, left=left,
                          sev=sev, detail={"steps": ch.steps})
            else:
                nxt = P.chase_price(ch.target, bid, ask, ceiling, pm.tick, self.config.chase_step_ticks)
                ch.last_step_ns = now
                if nxt is not None:
                    ch.steps += 1
                    pm.count("chase_steps")
                    self._log(ctx, pm, "chase", "step", side=behind, price=nxt, size=inv.imbalance,
                              margin=ONE - (inv.avg_cost(ahead) or 0) - nxt,
                              left=left, sev=sev, detail={"from": ch.target, "ceiling": ceiling, "step": ch.steps})
                    ch.target = nxt
                elif not ch.at_ceiling:
                    ch.at_ceiling = True
                    self._log(ctx, pm, "chase", "at_ceiling", side=behind, price=ch.target, margin=margin,
                              left=left, sev=sev, detail={"ceiling": ceiling})
        legs = [w for w in pm.live(behind, LEG) if not w.cancelling]
        want = inv.imbalance - sum(w.remaining for w in pm.live(behind, TAKER))
        if legs and all(w.price == ch.target for w in legs) and sum(w.remaining for w in legs) == want:
            return
        for w in legs:
            self._cancel(ctx, pm, w, "leg_reprice", log=False)
        if pm.cancelling(behind) or want < pm.min_size:
            return
        self._submit(ctx, pm, behind, LEG, ch.target, want, OrderType.GTC, "chase",
                     ONE - (inv.avg_cost(ahead) or 0) - ch.target, left, sev, reason="place")

    def _try_taker(self, ctx: StrategyContext, pm: PairMarket, side: str, size: int, avg: int,
                   ask: int | None, margin: int, left: int, sev: int, action: str,
                   timed: bool = False) -> bool:
        """A FAK for ``size`` shares of ``side`` when its ask clears the ceiling (``1 − margin −
        avg``, ``avg`` the other side's average cost) after fees."""
        if not self.config.taker_second_leg or ask is None or size <= 0:
            return False
        ceiling = P.leg_ceiling(avg, margin, pm.tick)
        limit = P.taker_limit(ceiling, pm.schedule, pm.tick)
        if limit is None or ask > limit or notional(ask, size) < ONE:
            return False
        for w in pm.live(side, LEG):
            self._cancel(ctx, pm, w, "taker_leg", log=False)
        oid = self._submit(ctx, pm, side, TAKER, limit, size, OrderType.FAK, action, margin, left, sev,
                           reason="taker", log=False)
        if oid is not None:
            latency = ctx.latency_ns() if timed else None
            if latency is not None:
                self.leg_latencies_ns.append(latency)
            pair = ONE - avg - ask - P.fee_per_share(ask, pm.schedule)  # at the touch, after the fee
            self._log(ctx, pm, action, "taker", side=side, price=limit, size=size, margin=pair, left=left,
                      sev=sev, order_id=oid, latency=latency, detail={"ask": ask, "ceiling": ceiling})
        return oid is not None

    # -- fills and the second leg ---------------------------------------------------------------

    def on_order_event(self, ctx: StrategyContext, order: OrderView, report: ExecutionReport) -> None:
        oid = order.intent.client_order_id
        cid = self._order_market.get(oid)
        pm = self.pairs.get(cid) if cid is not None else None
        if pm is None:
            return
        w = pm.orders.get(oid)
        if type(report) is Filled and w is not None:
            f = report.fill  # type: ignore[attr-defined]
            w.filled += f.size
            if f.side == Side.BUY:
                pm.inv.buy(w.side, f.price, f.size, f.fee)
            else:
                pm.inv.sell(w.side, f.price, f.size, f.fee)
            pm.fills.append((f.ts_ns, w.side, f.price, f.size, f.liquidity.value, f.side == Side.BUY))
            pm.count(f"fills_{w.side}")
            self._log(ctx, pm, "fill", f.liquidity.value, side=w.side, price=f.price, size=f.size, order_id=oid,
                      detail={"fee": f.fee, "purpose": w.purpose})
            if f.side == Side.BUY and w.purpose in (QUOTE, LEG):
                self._second_leg(ctx, pm, w.side, f.size)
        elif type(report) is Rejected and w is not None:
            self._log(ctx, pm, "skip", f"rejected_{report.reason}", side=w.side, price=w.price, size=w.size,  # type: ignore[attr-defined]
                      order_id=oid)
        if order.status.terminal:  # type: ignore[attr-defined]
            pm.orders.pop(oid, None)
            self._order_market.pop(oid, None)

    def _second_leg(self, ctx: StrategyContext, pm: PairMarket, filled_side: str, size: int) -> None:
        """A fill of ``size`` on ``filled_side``: buy the same number of shares of the other side
        now (taker if it clears the margin, else a maker bid at the chase start)."""
        now = ctx.now_ns
        end = pm.market.end_ns
        if end is None or end <= now:
            return
        left = end - now
        inv = pm.inv
        behind = other(filled_side)
        unmatched = inv.shares(filled_side) - inv.shares(behind) - pm.covered(behind)
        qty = min(size, unmatched)
        if qty <= 0:
            return  # this fill completed sets
        margin = required_margin(left, self.lim)
        avg = inv.avg_cost(filled_side) or 0
        ceiling = P.leg_ceiling(avg, margin, pm.tick)
        tb = ctx.book(pm.token[behind])
        book = tb.book if tb is not None else None
        ask = book.best_ask() if book is not None else None
        sev = self.toxic.market_severity((pm.token[UP], pm.token[DOWN]), now)
        if self._try_taker(ctx, pm, behind, qty, avg, ask, margin, left, sev, "second_leg", timed=True):
            pm.count("second_legs_taker")
            return
        if left < self.lim.hard_stop_ns or book is None:
            return
        start = P.side_bid(book.best_bid(), ask, pm.tick, 0, self.config.lean_ticks)
        if start is None or ceiling < pm.tick or qty < pm.min_size:
            return self._skip(ctx, pm, "leg_no_room" if qty >= pm.min_size else "leg_below_min_size", sev, left)
        price = min(start, ceiling)
        for w in pm.live(behind, QUOTE):
            self._cancel(ctx, pm, w, "replaced_by_leg", log=False)
        ch = pm.chase.get(behind)
        if ch is None:
            pm.chase[behind] = Chase(behind, now, price)
        else:
            price = max(price, ch.target)
        oid = self._submit(ctx, pm, behind, LEG, price, qty, OrderType.GTC, "second_leg", margin, left, sev,
                           reason="maker", log=False)
        if oid is not None:
            latency = ctx.latency_ns()
            self.leg_latencies_ns.append(latency)
            pm.count("second_legs_maker")
            self._log(ctx, pm, "second_leg", "maker", side=behind, price=price, size=qty,
                      margin=ONE - avg - price, left=left,
                      sev=sev, order_id=oid, latency=latency, detail={"ceiling": ceiling})

    # -- unwinding -----------------------------------------------------------------------------

    def _unwind(self, ctx: StrategyContext, pm: PairMarket, ty: TrackedBook, tn: TrackedBook, left: int,
                sev: int) -> None:
        inv = pm.inv
        ahead = inv.ahead
        if ahead is None or any(w.purpose == UNWIND for w in pm.orders.values()) or pm.cancelling(UP) \
                or pm.cancelling(DOWN):
            return
        books = {UP: ty.book, DOWN: tn.book}
        size = inv.imbalance - pm.covered(other(ahead))
        if size <= 0:
            return
        u = P.choose_unwind(size, inv.avg_cost(ahead) or 0, books[ahead], books[other(ahead)], pm.schedule)
        if u is None:
            return self._skip(ctx, pm, "unwind_impossible", sev, left)
        side = ahead if u.path == "sell_excess" else other(ahead)
        oid = self._submit(ctx, pm, side, UNWIND, u.limit, size, OrderType.FAK, "unwind", None, left, sev,
                           reason=u.path, order_side=Side.SELL if u.path == "sell_excess" else Side.BUY, log=False)
        if oid is not None:
            pm.count(f"unwind_{u.path}")
            self._log(ctx, pm, "unwind", u.path, side=side, price=u.limit, size=size, left=left, sev=sev,
                      order_id=oid, detail={"loss": u.loss, "alternative_loss": u.alternative_loss})

    # -- order plumbing ------------------------------------------------------------------------

    def _submit(self, ctx: StrategyContext, pm: PairMarket, side: str, purpose: str, price: int, size: int,
                otype: OrderType, action: str, margin: int | None, left: int, sev: int, *, reason: str = "open",
                order_side: Side = Side.BUY, log: bool = True) -> str | None:
        now = ctx.now_ns
        price = min(max(price, pm.tick), ONE - pm.tick)  # the venue's price range [tick, 1 − tick]
        if order_side == Side.BUY and notional(price, size) > ctx.entry_room(pm.cid):
            # Risk would refuse it (market or total exposure): do not send it. (Not shrunk to fit:
            # a smaller quote or leg would break the equal-shares pairing the bot sizes for.)
            self._skip(ctx, pm, "no_room", sev, left)
            return None
        intent = ctx.submit(market=pm.cid, asset_id=pm.token[side], side=order_side, price=price, size=size,
                            order_type=otype, reason=f"{action}_{reason}", signal_ns=now,
                            post_only=otype is OrderType.GTC)
        if intent is None:
            self._skip(ctx, pm, "risk_refused", sev, left, force=True)
            return None
        oid = intent.client_order_id
        pm.orders[oid] = Working(oid, side, purpose, price, size, now)
        self._order_market[oid] = pm.cid
        pm.last_skip = ""
        if purpose == QUOTE:
            pm.count("quotes")
        if log:
            self._log(ctx, pm, action, reason, side=side, price=price, size=size, margin=margin, left=left, sev=sev,
                      order_id=oid)
        return oid

    def _cancel(self, ctx: StrategyContext, pm: PairMarket, w: Working, reason: str, log: bool = True) -> None:
        if w.cancelling:
            return
        w.cancelling = True
        ctx.cancel(w.order_id, reason)
        pm.count("cancels")
        if log:
            self._log(ctx, pm, "cancel", reason, side=w.side, price=w.price, size=w.remaining, order_id=w.order_id)

    def _pull(self, ctx: StrategyContext, pm: PairMarket, purposes: tuple[str, ...], reason: str) -> None:
        for w in list(pm.orders.values()):
            if w.purpose in purposes:
                self._cancel(ctx, pm, w, reason)
