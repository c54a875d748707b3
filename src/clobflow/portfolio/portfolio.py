"""``Portfolio``: fills in, positions, cash and P&L out; settlement at resolution.

Map:
- ``apply_fill(fill)``: BUY adds shares and cost (notional + fee), cash -= notional + fee.
  SELL releases cost basis, realizes ``proceeds - fee - basis``, cash += proceeds - fee.
  Selling more than held raises ``InvariantBroken`` (outcome tokens are not shorted here).
  A fill whose ``fill_id`` was applied before is ignored (reports can be redelivered), within
  a window of the last ``fill_id_window`` fill ids (bounded memory).
- ``settle(market, winning_token_id, now_ns)``: winning shares pay 1 each, losing shares 0;
  the market's positions close and their P&L is realized.
- ``mark(token_id, price)`` / ``mark_book(book)``: prices for unrealized P&L and equity.
- ``equity()``, ``unrealized_pnl``, ``exposure(market)``, ``total_exposure()``,
  ``open_position_count()``: the numbers risk and the kill switch read.
- ``sample(now_ns)``: the equity curve (``portfolio.curve.EquityCurve``: bounded memory, exact
  drawdown and hourly statistics), without repeated identical points.

Rounding (all exact integers, deterministic):
- notional is ``price * size // 1e6`` (``core.orders.notional``; exact on venue grids).
- A sell of ``q`` out of ``Q`` shares releases ``floor(cost * q / Q)`` of the cost basis; the
  remainder stays with the shares still held, and a sell of the last shares releases all that is
  left. So the basis is never lost or created: closing a position in any number of pieces
  releases exactly what was paid (each piece's realized P&L may be up to 1 micro-unit higher
  than the pro-rata fraction, and the last piece correspondingly lower).
- ``Position.avg_cost`` is floored and for display only.

Marks: the caller marks at the best bid — what the shares would fetch now (liquidation value),
the conservative choice for a kill switch — or at the mid (``mark_book(book, basis="mid")``).
A position without a mark is valued at its cost basis (no unrealized P&L until marked).
"""

from __future__ import annotations

from clobflow.book.l2 import L2Book
from clobflow.core.errors import InvariantBroken
from clobflow.core.events import Side
from clobflow.core.markets import BinaryMarket
from clobflow.core.numbers import ONE, SCALE
from clobflow.core.orders import Fill
from clobflow.core.recent import RecentIds
from clobflow.portfolio.curve import EquityCurve
from clobflow.portfolio.positions import EquityPoint, MarketSummary, Position, SettlementResult


def _cid(market: BinaryMarket | str) -> str:
    return market if isinstance(market, str) else market.condition_id


class Portfolio:
    """Cash, positions and P&L of one account (or one strategy's book of trades).

    ``starting_cash``, ``cash``, ``fees_paid``, ``realized_pnl``: collateral micro-units.
    ``curve``: the sampled equity curve (``EquityCurve``: ``EquityPoint``s, oldest first, at
    most ``curve_points`` kept).
    """

    __slots__ = ("starting_cash", "cash", "fees_paid", "realized_pnl", "curve",
                 "_positions", "_by_market", "_total_cost", "_marks", "_markets", "_token_market", "_resolved",
                 "_fill_ids", "exposed_ns", "_open_since")

    def __init__(self, starting_cash: int = 0, *, fill_id_window: int = 100_000, curve_points: int = 20_000) -> None:
        self.starting_cash = starting_cash
        self.cash = starting_cash
        self.fees_paid = 0
        self.realized_pnl = 0
        self.curve = EquityCurve(curve_points)
        self._positions: dict[str, Position] = {}  # open positions only (size > 0)
        # the same, by market (<= 2 tokens each), and their total cost: risk reads exposure on
        # every entry, so it must not scan every open position
        self._by_market: dict[str, dict[str, Position]] = {}
        self._total_cost = 0
        self._marks: dict[str, int] = {}
        self._markets: dict[str, MarketSummary] = {}
        self._token_market: dict[str, str] = {}  # every token ever filled -> its market
        self._resolved: dict[str, str] = {}  # condition id -> winning token id
        # a window of the most recent fill ids: duplicates arrive soon after the original, and
        # remembering every id of a long run would grow without bound (``core.recent``)
        self._fill_ids = RecentIds(fill_id_window)
        # time with at least one position open (the report's exposure time): closed spells
        # summed here, the current spell from ``_open_since``
        self.exposed_ns = 0
        self._open_since: int | None = None

    # -- fills -----------------------------------------------------------------------------

    def apply_fill(self, fill: Fill) -> bool:
        """Apply one fill; returns False when its ``fill_id`` was already applied (ignored).

        Raises ``InvariantBroken`` for a size <= 0, a price outside [0, 1], a negative fee, a
        SELL of more shares than held, a token seen before under another market, or a fill on
        a market already settled.
        """
        fid = fill.fill_id
        if fid and fid in self._fill_ids:
            return False
        size, price, fee = fill.size, fill.price, fill.fee
        if size <= 0 or not 0 <= price <= ONE or fee < 0:
            raise InvariantBroken(f"fill {fid!r}: size {size}, price {price}, fee {fee} out of range")
        cid, asset = fill.market, fill.asset_id
        known = self._token_market.get(asset)
        if known is not None and known != cid:
            raise InvariantBroken(f"fill {fid!r}: token {asset} belongs to market {known}, not {cid}")
        if cid in self._resolved:
            raise InvariantBroken(f"fill {fid!r} on market {cid}, already settled")
        if fill.side == Side.BUY:
            self._buy(fill, size, fee)
        else:
            self._sell(fill, size, fee)
        self._token_market[asset] = cid
        if fid:
            self._fill_ids.add(fid)
        return True

    def restore(self, asset_id: str, market: str, size: int, cost: int, fees: int, opened_ns: int) -> None:
        """Take over a position held before this run (e.g. from the store after a restart):
        ``size`` shares of ``asset_id`` bought for ``cost`` in total (fees included). Cash falls
        by ``cost``, as if it had been bought in this run; the exact cost basis carries over.

        Raises ``InvariantBroken`` for a non-positive size or a token already held.
        """
        if size <= 0 or cost < 0:
            raise InvariantBroken(f"restore {asset_id}: size {size}, cost {cost}")
        if asset_id in self._positions:
            raise InvariantBroken(f"restore {asset_id}: a position is already open")
        if not self._positions:
            self._open_since = opened_ns
        pos = self._positions[asset_id] = Position(asset_id, market, size=size, cost=cost, fees=fees,
                                                   opened_ns=opened_ns, last_fill_ns=opened_ns)
        self._by_market.setdefault(market, {})[asset_id] = pos
        self._total_cost += cost
        self._token_market[asset_id] = market
        self.cash -= cost
        s = self._summary(market)
        s.bought += size
        s.entry_cost += cost - fees
        s.fees += fees

    def _buy(self, fill: Fill, size: int, fee: int) -> None:
        asset = fill.asset_id
        pos = self._positions.get(asset)
        if pos is None:
            if not self._positions:
                self._open_since = fill.ts_ns
            pos = self._positions[asset] = Position(asset, fill.market, opened_ns=fill.ts_ns)
            self._by_market.setdefault(fill.market, {})[asset] = pos
        notional = fill.notional
        outlay = notional + fee
        pos.size += size
        pos.cost += outlay
        self._total_cost += outlay
        pos.fees += fee
        pos.last_fill_ns = fill.ts_ns
        self.cash -= outlay
        self.fees_paid += fee
        s = self._summary(fill.market)
        s.bought += size
        s.entry_cost += notional
        s.fees += fee
        s.fills += 1

    def _sell(self, fill: Fill, size: int, fee: int) -> None:
        asset = fill.asset_id
        pos = self._positions.get(asset)
        held = pos.size if pos is not None else 0
        if size > held:
            raise InvariantBroken(f"fill {fill.fill_id!r}: sells {size} of {asset}, only {held} held")
        assert pos is not None
        # Release the basis of the shares sold, floored; the last shares take what is left.
        released = pos.cost if size == held else pos.cost * size // held
        proceeds = fill.notional
        pnl = proceeds - fee - released
        pos.size -= size
        pos.cost -= released
        self._total_cost -= released
        pos.fees += fee
        pos.realized += pnl
        pos.last_fill_ns = fill.ts_ns
        self.cash += proceeds - fee
        self.fees_paid += fee
        self.realized_pnl += pnl
        s = self._summary(fill.market)
        s.sold += size
        s.exit_proceeds += proceeds
        s.fees += fee
        s.realized += pnl
        s.fills += 1
        if pos.size == 0:
            self._close(pos)
            self._flat_check(fill.ts_ns)

    def _close(self, pos: Position) -> None:
        """Drop a flat position from the open tables."""
        del self._positions[pos.asset_id]
        held = self._by_market[pos.market]
        del held[pos.asset_id]
        if not held:
            del self._by_market[pos.market]

    def _flat_check(self, now_ns: int) -> None:
        if not self._positions and self._open_since is not None:
            self.exposed_ns += max(0, now_ns - self._open_since)
            self._open_since = None

    def exposure_time_ns(self, now_ns: int) -> int:
        """Time (ns) with at least one position open, up to ``now_ns`` (the open spell counts
        until then)."""
        spell = 0 if self._open_since is None else max(0, now_ns - self._open_since)
        return self.exposed_ns + spell

    def _summary(self, cid: str) -> MarketSummary:
        s = self._markets.get(cid)
        if s is None:
            s = self._markets[cid] = MarketSummary(cid)
        return s

    # -- settlement ------------------------------------------------------------------------

    def settle(self, market: BinaryMarket, winning_token_id: str, now_ns: int) -> SettlementResult | None:
        """Resolve ``market``: each winning share pays 1 (``cash += shares``, micro-units of
        both), losing shares pay 0; the market's positions close and ``payout - cost`` is
        realized. Later fills on the market raise ``InvariantBroken``.

        Returns the market's ``SettlementResult``, or ``None`` when the portfolio never traded
        the market or it was already settled with the same winner. Raises ``ValueError`` when
        ``winning_token_id`` is not one of the market's tokens, ``InvariantBroken`` when the
        market was settled before with another winner or holds a token foreign to it.
        """
        cid = market.condition_id
        if winning_token_id not in market.token_ids:
            raise ValueError(f"{winning_token_id} is not a token of market {cid}")
        prev = self._resolved.get(cid)
        if prev is not None:
            if prev != winning_token_id:
                raise InvariantBroken(f"market {cid} settled twice: {prev} then {winning_token_id}")
            return None
        self._resolved[cid] = winning_token_id
        for t in market.token_ids:
            self._marks.pop(t, None)
        s = self._markets.get(cid)
        if s is None:
            return None
        payout = cost = won = lost = 0
        for pos in list(self._by_market.get(cid, {}).values()):
            if pos.asset_id not in market.token_ids:
                raise InvariantBroken(f"position in {pos.asset_id} is recorded under market {cid}")
            # A winning share pays ONE per share: size (micro-shares) * ONE // SCALE == size.
            paid = pos.size * ONE // SCALE if pos.asset_id == winning_token_id else 0
            if paid:
                won += pos.size
            else:
                lost += pos.size
            pnl = paid - pos.cost
            pos.realized += pnl
            payout += paid
            cost += pos.cost
            self._total_cost -= pos.cost
            pos.size = 0
            pos.cost = 0
            pos.last_fill_ns = now_ns
            self._close(pos)
        self._flat_check(now_ns)
        pnl = payout - cost
        self.cash += payout
        self.realized_pnl += pnl
        s.realized += pnl
        s.payout += payout
        s.settled_ns = now_ns
        s.winning_token_id = winning_token_id
        s.winning_outcome = market.outcome_of(winning_token_id)
        return SettlementResult(
            market=cid, winning_token_id=winning_token_id, winning_outcome=s.winning_outcome,
            ts_ns=now_ns, payout=payout, cost=cost, pnl=pnl, shares_won=won, shares_lost=lost,
            fees=s.fees, market_pnl=s.realized)

    def resolved(self, market: BinaryMarket | str) -> str | None:
        """The winning token of a settled market (``None`` if not settled)."""
        return self._resolved.get(_cid(market))

    # -- marks and valuation ---------------------------------------------------------------

    def mark(self, token_id: str, price: int) -> None:
        """Set the mark price of a token (micro-units in [0, 1]); raises ``ValueError`` outside.
        Marks of tokens not held are kept for when a position opens."""
        if not 0 <= price <= ONE:
            raise ValueError(f"mark price {price} outside [0, {ONE}]")
        self._marks[token_id] = price

    def mark_book(self, book: L2Book, basis: str = "bid") -> bool:
        """Mark ``book``'s token at its best bid (``basis="bid"``, liquidation value) or mid
        (``"mid"``). Returns False, keeping the previous mark, when the book has no such price.
        Raises ``ValueError`` for another basis."""
        if basis == "bid":
            price = book.best_bid()
        elif basis == "mid":
            price = book.mid()
        else:
            raise ValueError(f"unknown mark basis {basis!r} (bid or mid)")
        if price is None:
            return False
        self.mark(book.asset_id, price)
        return True

    def forget_mark(self, token_id: str) -> None:
        """Drop a token's mark (its market left the run). Refused silently while the token is
        held: an open position keeps its mark."""
        if token_id not in self._positions:
            self._marks.pop(token_id, None)

    def mark_price(self, token_id: str) -> int | None:
        return self._marks.get(token_id)

    def market_value(self) -> int:
        """Marked value of all open positions (micro-units)."""
        marks = self._marks
        return sum(p.value(marks.get(p.asset_id)) for p in self._positions.values())

    def equity(self) -> int:
        """``cash + marked value of open positions`` (micro-units)."""
        return self.cash + self.market_value()

    @property
    def unrealized_pnl(self) -> int:
        """``marked value - cost basis`` over open positions (unmarked positions count 0)."""
        marks = self._marks
        return sum(p.value(marks.get(p.asset_id)) - p.cost for p in self._positions.values())

    def market_pnl(self, market: BinaryMarket | str) -> int | None:
        """The market's P&L over the run: everything realized on it (sells, i.e. unwinds, and
        settlement; buy and sell fees included) plus, while positions are open, their marked
        value minus their cost basis. ``None`` when the market was never traded. This is the
        run's one P&L truth per market: the report, the journal's settle rows and every
        strategy section read it."""
        cid = _cid(market)
        s = self._markets.get(cid)
        if s is None:
            return None
        marks = self._marks
        return s.realized + sum(p.value(marks.get(p.asset_id)) - p.cost
                                for p in self._by_market.get(cid, {}).values())

    @property
    def total_pnl(self) -> int:
        """``equity - starting_cash`` = realized + unrealized."""
        return self.equity() - self.starting_cash

    # -- exposure and positions (also what a RiskView reads) -------------------------------

    def exposure(self, market: BinaryMarket | str) -> int:
        """Cost basis (fees included) of the open positions of ``market`` (micro-units)."""
        held = self._by_market.get(_cid(market))
        return sum(p.cost for p in held.values()) if held else 0

    market_exposure = exposure

    def total_exposure(self) -> int:
        """Cost basis (fees included) of all open positions (micro-units); O(1)."""
        return self._total_cost

    def open_position_count(self) -> int:
        """Markets with an open position: YES and NO of one market (a complete set) count once,
        matching ``has_position(market)`` and the risk limit's notion of a position."""
        return len(self._by_market)

    def has_position(self, market: BinaryMarket | str) -> bool:
        return _cid(market) in self._by_market

    def market_size(self, market: BinaryMarket | str) -> int:
        """Shares held over the market's tokens (micro-units)."""
        held = self._by_market.get(_cid(market))
        return sum(p.size for p in held.values()) if held else 0

    def holds(self, token_id: str) -> bool:
        return token_id in self._positions

    def position(self, token_id: str) -> Position | None:
        """The open position of a token (the live object; ``None`` when flat)."""
        return self._positions.get(token_id)

    def positions(self) -> list[Position]:
        """Open positions, in the order they were opened."""
        return list(self._positions.values())

    def summary(self, market: BinaryMarket | str) -> MarketSummary | None:
        """A copy of the market's running summary (``None`` if never traded)."""
        s = self._markets.get(_cid(market))
        return None if s is None else s.__copy__()

    def summaries(self) -> list[MarketSummary]:
        """Copies of every traded market's summary, in first-trade order."""
        return [s.__copy__() for s in self._markets.values()]

    # -- equity curve ----------------------------------------------------------------------

    def sample(self, now_ns: int) -> EquityPoint | None:
        """Append ``(now_ns, equity, realized, unrealized)`` to ``curve`` and return it, unless
        the three values equal the last point's (then nothing is appended; returns ``None``)."""
        marks = self._marks
        value = unreal = 0
        for p in self._positions.values():
            v = p.value(marks.get(p.asset_id))
            value += v
            unreal += v - p.cost
        equity = self.cash + value
        realized = self.realized_pnl
        curve = self.curve
        last = curve.last
        if last is not None:
            if last.equity == equity and last.realized == realized and last.unrealized == unreal:
                return None
        point = EquityPoint(now_ns, equity, realized, unreal)
        curve.append(point)
        return point
