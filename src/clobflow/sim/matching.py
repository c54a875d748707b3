"""The simulated venue's matching: our orders against recorded books that never contain them.

The recorded books are other people's orders; ours are simulated on the side. So the engine
decides when our order *would have* traded, without changing the books it reads.

Map:
- ``place(intent, book, now_ns)``: an order arrives. ``validate`` first (venue rules, book at
  arrival). Then the marketable part takes liquidity at once — a BUY takes asks at or below
  its limit, best first; a SELL takes bids at or above — one ``Fill`` per price level, at that
  level's price, with the taker fee. FOK fills all or is rejected; FAK fills what there is and
  cancels the rest (rejected if nothing matched); GTC/GTD rest the remainder.
- Consumed liquidity: what our own taker or maker fills took from a displayed level is
  remembered per ``(token, ladder side, price)`` together with the size displayed then, and is
  not offered again until the book shows that level with a different size (then the record is
  dropped: the venue's book has moved on). Two orders cannot both take the same displayed size.
- Resting orders (GTC/GTD) keep ``queue_ahead``, the size displayed at their price when they
  arrived, and fill only when the market trades through them:
  (a) the opposite best moves strictly through our price (best ask below our bid), or reaches
      our price once nothing is left ahead of us: we fill at our price, up to the size the
      opposite side shows at or through our price (less what we consumed already);
  (b) a ``Trade`` print at our price eats ``queue_ahead`` by its size and the excess fills us;
      a print strictly through our price fills us up to its size;
  (c) ``trade_inference`` (for data without trade prints, e.g. 1 Hz book polls): a decrease of
      the displayed size at our price counts as volume traded at our price when our level was
      the best of its side at the previous observation (sellers must hit the best bid first), or
      when the opposite best touches or crosses our price. Any other decrease is cancels, which
      only cap ``queue_ahead`` at the displayed size (cancels are assumed to come from behind
      us). Inference turns itself off for a token once a trade print for it is seen, so the
      same volume is not counted twice. Optimistic where makers cancel at the top of book;
      switch it off for a conservative run.
  Maker fills pay no fee (``Liquidity.MAKER``). Our orders at one price share volume in
  arrival order; across prices, the better price fills first.
- ``cancel``/``expire``: stop a resting order; ``on_book``/``on_trade``: market data.

Limits (documented, not modelled): the YES and NO books are treated as independent (the
venue's cross-token matching is not simulated, so liquidity mirrored on the other token can be
used twice); our takers never trade with our own resting orders; ids are deterministic:
venue order ids ``f"{id_prefix}-{n}"``, fill ids ``f"{client_order_id}:{id_prefix}-{n}"`` (one
counter ``n`` for both). The fill id carries the client order id, which carries the run's tag,
so a restarted run's fills never reuse an earlier run's ids (the store keys fills by id).

Every report is stamped with the venue time ``now_ns`` of the call; the execution client adds
the report latency. All state is integers; iteration order is insertion order (deterministic).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from clobflow.book.l2 import L2Book
from clobflow.core.events import Side, Trade
from clobflow.core.markets import BinaryMarket
from clobflow.core.orders import (
    Accepted,
    Cancelled,
    ExecutionReport,
    Expired,
    Fill,
    Filled,
    Liquidity,
    OrderIntent,
    OrderType,
    Rejected,
)
from clobflow.sim.exec_models import (FeeModel, crosses, level_may_have_traded, queue_after_cancels,
                                      queue_after_trade, strictly_through)
from clobflow.sim.validation import validate

FOK_MSG = "order couldn't be fully filled. FOK orders are fully filled or killed."
FAK_MSG = "no orders found to match with FAK order. FAK orders are partially filled or killed if no match is found."
FOK_NOT_FILLED = "fok_not_filled"
FAK_NO_MATCH = "fak_no_match"
FAK_REMAINDER = "fak_remainder"
CANCEL_REQUESTED = "requested"

_COUNTERS = (
    "orders", "rejected", "taker_fills", "maker_fills_through", "maker_fills_print", "maker_fills_inferred",
    "cancelled", "expired",
)

_BUY = Side.BUY
_SELL = Side.SELL

MarketSource = Mapping[str, BinaryMarket] | Callable[[], Mapping[str, BinaryMarket]]
"""Token id -> market, or a callable returning that mapping."""

Plan = list[tuple[int, int, int]]
"""``(price, quantity, displayed size)`` per opposite level to take, best first."""


class RestingOrder:
    """One of our orders resting at the simulated venue (micro-units).

    ``queue_ahead``: displayed size ahead of us at our price; ``last_level``: the displayed size
    at our price when last observed; ``seq``: arrival order (time priority among our orders).
    """

    __slots__ = ("intent", "market", "venue_order_id", "remaining", "queue_ahead", "last_level", "seq")

    def __init__(
        self, intent: OrderIntent, market: BinaryMarket, venue_order_id: str, remaining: int, level: int, seq: int
    ) -> None:
        self.intent = intent
        self.market = market
        self.venue_order_id = venue_order_id
        self.remaining = remaining
        self.queue_ahead = level
        self.last_level = level
        self.seq = seq

    def priority(self) -> tuple[int, int]:
        """Sort key: better price first (higher bid, lower ask), then earlier arrival."""
        p = self.intent.price
        return (-p if self.intent.side == _BUY else p, self.seq)

    def __repr__(self) -> str:
        i = self.intent
        return (
            f"RestingOrder({i.client_order_id}, {i.side.name} {i.price}, "
            f"rem={self.remaining}, ahead={self.queue_ahead})"
        )


class MatchingEngine:
    """Matches our orders against the current books (see the module docstring for the rules).

    ``markets`` maps token id -> ``BinaryMarket`` (rules and fee schedule of each token); it
    may also be a zero-argument callable returning that mapping, read when an order arrives,
    for a market set that changes during a run (discovery).
    ``counters`` counts what happened (for diagnostics and tests).
    """

    def __init__(
        self,
        markets: MarketSource,
        fees: FeeModel | None = None,
        *,
        id_prefix: str = "sim",
        trade_inference: bool = True,
    ) -> None:
        self._markets = markets
        self.fees = fees or FeeModel()
        self.id_prefix = id_prefix
        self.trade_inference = trade_inference
        self._n = 0
        self._resting: dict[str, dict[str, RestingOrder]] = {}  # token -> coid -> order
        self._by_coid: dict[str, RestingOrder] = {}
        # token -> (ladder side, price) -> [displayed size when consumed, consumed size]
        self._consumed: dict[str, dict[tuple[int, int], list[int]]] = {}
        self._top: dict[str, tuple[int | None, int | None]] = {}  # last observed (best bid, best ask)
        self._printed: set[str] = set()  # tokens with trade prints: inference off for them
        self.counters: dict[str, int] = dict.fromkeys(_COUNTERS, 0)

    # -- queries ---------------------------------------------------------------------------

    def market(self, asset_id: str) -> BinaryMarket | None:
        """The market of token ``asset_id`` (``None`` if unknown)."""
        src = self._markets
        return (src() if callable(src) else src).get(asset_id)

    def resting(self, client_order_id: str) -> RestingOrder | None:
        return self._by_coid.get(client_order_id)

    def resting_orders(self, asset_id: str | None = None) -> list[RestingOrder]:
        if asset_id is None:
            return list(self._by_coid.values())
        return list(self._resting.get(asset_id, {}).values())

    def consumed(self, asset_id: str, ladder: Side, price: int) -> int:
        """Size of the displayed level ``(ladder, price)`` our fills have used (0 if none)."""
        e = self._consumed.get(asset_id, {}).get((ladder, price))
        return e[1] if e else 0

    def forget(self, asset_id: str) -> None:
        """A token's market left the run: drop its book memory (kept while orders rest there)."""
        if not self._resting.get(asset_id):
            for table in (self._resting, self._consumed, self._top):
                table.pop(asset_id, None)  # type: ignore[attr-defined]
            self._printed.discard(asset_id)

    # -- requests arriving at the venue ----------------------------------------------------

    def place(self, intent: OrderIntent, book: L2Book | None, now_ns: int) -> list[ExecutionReport]:
        """An order arrives at ``now_ns`` and meets ``book`` (the token's current book, or
        ``None``). Returns its reports in order: ``Rejected``; or ``Accepted`` then taker
        ``Filled`` reports then ``Cancelled(fak_remainder)`` for a FAK remainder."""
        self.counters["orders"] += 1
        market = self.market(intent.asset_id)
        rejected = validate(intent, market, book, now_ns)
        if rejected is not None:
            self.counters["rejected"] += 1
            return [rejected]
        assert market is not None  # validate rejects an unknown token
        coid = intent.client_order_id
        plan: Plan = []
        if book is not None:
            plan = self._plan(intent.asset_id, book, intent.side, intent.price, intent.size)
        taken = sum(q for _, q, _ in plan)
        otype = intent.order_type
        if otype is OrderType.FOK and taken < intent.size:
            self.counters["rejected"] += 1
            return [Rejected(client_order_id=coid, ts_ns=now_ns, reason=FOK_NOT_FILLED, message=FOK_MSG)]
        if otype is OrderType.FAK and taken == 0:
            self.counters["rejected"] += 1
            return [Rejected(client_order_id=coid, ts_ns=now_ns, reason=FAK_NO_MATCH, message=FAK_MSG)]

        vid = self._next_id()
        out: list[ExecutionReport] = [Accepted(client_order_id=coid, ts_ns=now_ns, venue_order_id=vid)]
        ladder = _SELL if intent.side == _BUY else _BUY
        for price, qty, displayed in plan:
            self._consume(intent.asset_id, ladder, price, displayed, qty)
            out.append(self._fill(intent, market, price, qty, Liquidity.TAKER, now_ns))
            self.counters["taker_fills"] += 1
        left = intent.size - taken
        if left > 0:
            if otype is OrderType.FAK:
                out.append(Cancelled(client_order_id=coid, ts_ns=now_ns, reason=FAK_REMAINDER))
            else:
                level = book.level_size(intent.side, intent.price) if book is not None else 0
                o = RestingOrder(intent, market, vid, left, level, self._n)
                self._resting.setdefault(intent.asset_id, {})[coid] = o
                self._by_coid[coid] = o
        if book is not None:
            self._top[intent.asset_id] = (book.best_bid(), book.best_ask())
        return out

    def cancel(self, client_order_id: str, now_ns: int) -> list[ExecutionReport]:
        """A cancel arrives: ``[Cancelled("requested")]`` if the order still rests, else ``[]``
        (it already filled, expired or never rested; the venue's "not canceled" needs no
        report because the order is already final)."""
        if self._remove(client_order_id) is None:
            return []
        self.counters["cancelled"] += 1
        return [Cancelled(client_order_id=client_order_id, ts_ns=now_ns, reason=CANCEL_REQUESTED)]

    def expire(self, client_order_id: str, now_ns: int) -> list[ExecutionReport]:
        """A GTD order's expiry time came: ``[Expired]`` if it still rests, else ``[]``."""
        if self._remove(client_order_id) is None:
            return []
        self.counters["expired"] += 1
        return [Expired(client_order_id=client_order_id, ts_ns=now_ns)]

    # -- market data -----------------------------------------------------------------------

    def on_book(self, asset_id: str, book: L2Book, now_ns: int) -> list[ExecutionReport]:
        """``book`` (the token's book after an update) was observed at ``now_ns``: forget
        consumption records of levels that changed, then check resting orders (rules a, c).
        An empty book (dropped for a tick change or a resync) says nothing about trading: it
        is ignored, and the next real book is compared with the last one seen before it."""
        if book.empty:
            return []
        led = self._consumed.get(asset_id)
        if led:
            for key in [k for k, e in led.items() if book.level_size(k[0], k[1]) != e[0]]:
                del led[key]
        orders = self._resting.get(asset_id)
        if not orders:
            self._top.pop(asset_id, None)  # read only while orders rest; ``place`` records it
            return []
        prev = self._top.get(asset_id)
        self._top[asset_id] = (book.best_bid(), book.best_ask())
        infer = self.trade_inference and asset_id not in self._printed
        out: list[ExecutionReport] = []
        used: dict[tuple[int, int], int] = {}  # (side, price) -> inferred volume given to our orders
        for o in sorted(orders.values(), key=RestingOrder.priority):
            side, price = o.intent.side, o.intent.price
            level = book.level_size(side, price)
            drop = o.last_level - level
            o.last_level = level
            opposite = book.best_ask() if side == _BUY else book.best_bid()
            if drop > 0:
                prev_best = None if prev is None else (prev[0] if side == _BUY else prev[1])
                if infer and level_may_have_traded(side, price, prev_best, opposite):
                    o.queue_ahead, excess = queue_after_trade(o.queue_ahead, drop)
                    key = (side, price)
                    got = used.get(key, 0)
                    qty = min(o.remaining, excess - got)
                    if qty > 0:
                        used[key] = got + qty
                        out.append(self._maker_fill(o, qty, now_ns, "maker_fills_inferred"))
                        if o.remaining == 0:
                            continue
            # Never more ahead of us than is displayed (cancels ahead of us, or inferred trades).
            o.queue_ahead = queue_after_cancels(o.queue_ahead, level)
            if strictly_through(side, price, opposite) or (opposite == price and o.queue_ahead == 0):
                # The opposite side reached our price with nothing ahead of us, or went through
                # it: those orders would have traded with ours, at our price. ``queue_ahead`` is
                # left alone: the displayed size at our price, when it disappears, is then not
                # mistaken for volume beyond our place (the book corrects the queue itself).
                plan = self._plan(asset_id, book, side, price, o.remaining)
                qty = sum(q for _, q, _ in plan)
                if qty > 0:
                    ladder = _SELL if side == _BUY else _BUY
                    for p, q, displayed in plan:
                        self._consume(asset_id, ladder, p, displayed, q)
                    out.append(self._maker_fill(o, qty, now_ns, "maker_fills_through"))
        return out

    def on_trade(self, trade: Trade, now_ns: int) -> list[ExecutionReport]:
        """A public trade print (``trade.side`` is the taker's): rule (b). A SELL taker hits
        bids, so it can fill our BUYs; a BUY taker lifts asks, so it can fill our SELLs."""
        asset_id = trade.asset_id
        self._printed.add(asset_id)
        orders = self._resting.get(asset_id)
        if not orders:
            return []
        maker_side = _BUY if trade.side == _SELL else _SELL
        out: list[ExecutionReport] = []
        at_used = 0  # print volume given to our orders at the print's price
        through_left = trade.size  # print volume available to our orders better than its price
        for o in sorted(orders.values(), key=RestingOrder.priority):
            if o.intent.side != maker_side:
                continue
            price = o.intent.price
            if price == trade.price:
                o.queue_ahead, excess = queue_after_trade(o.queue_ahead, trade.size)
                qty = min(o.remaining, excess - at_used)
                if qty > 0:
                    at_used += qty
                    out.append(self._maker_fill(o, qty, now_ns, "maker_fills_print"))
            elif strictly_through(maker_side, price, trade.price):
                # The taker traded at a worse price than ours: everything at our price, us
                # included, was taken before it.
                o.queue_ahead = 0
                qty = min(o.remaining, through_left)
                if qty > 0:
                    through_left -= qty
                    out.append(self._maker_fill(o, qty, now_ns, "maker_fills_print"))
        return out

    # -- internals -------------------------------------------------------------------------

    def _next_id(self) -> str:
        self._n += 1
        return f"{self.id_prefix}-{self._n}"

    def _plan(self, asset_id: str, book: L2Book, side: Side, limit: int, size: int) -> Plan:
        """Opposite levels an order on ``side`` limited at ``limit`` can take, best first, up
        to ``size``, net of what our fills already consumed."""
        ladder = _SELL if side == _BUY else _BUY
        led = self._consumed.get(asset_id)
        plan: Plan = []
        left = size
        for price, displayed in book.levels(ladder):
            if left == 0 or not crosses(side, limit, price):
                break
            avail = displayed
            if led:
                e = led.get((ladder, price))
                if e is not None and e[0] == displayed:
                    avail -= e[1]
            if avail > 0:
                q = avail if avail < left else left
                plan.append((price, q, displayed))
                left -= q
        return plan

    def _consume(self, asset_id: str, ladder: Side, price: int, displayed: int, qty: int) -> None:
        led = self._consumed.setdefault(asset_id, {})
        e = led.get((ladder, price))
        if e is None or e[0] != displayed:
            led[(ladder, price)] = [displayed, qty]
        else:
            e[1] += qty

    def _fill(
        self, intent: OrderIntent, market: BinaryMarket, price: int, size: int, liq: Liquidity, now_ns: int
    ) -> Filled:
        fill = Fill(
            # the order id makes fill ids unique across runs and processes (n restarts at 1)
            fill_id=f"{intent.client_order_id}:{self._next_id()}",
            client_order_id=intent.client_order_id,
            strategy=intent.strategy,
            market=intent.market,
            asset_id=intent.asset_id,
            side=intent.side,
            price=price,
            size=size,
            fee=self.fees.fee(market, liq, price, size),
            liquidity=liq,
            ts_ns=now_ns,
        )
        return Filled(client_order_id=intent.client_order_id, ts_ns=now_ns, fill=fill)

    def _maker_fill(self, o: RestingOrder, qty: int, now_ns: int, counter: str) -> Filled:
        o.remaining -= qty
        if o.remaining == 0:
            self._remove(o.intent.client_order_id)
        self.counters[counter] += 1
        return self._fill(o.intent, o.market, o.intent.price, qty, Liquidity.MAKER, now_ns)

    def _remove(self, client_order_id: str) -> RestingOrder | None:
        o = self._by_coid.pop(client_order_id, None)
        if o is not None:
            per_token = self._resting[o.intent.asset_id]
            del per_token[client_order_id]
            if not per_token:
                del self._resting[o.intent.asset_id]
        return o

