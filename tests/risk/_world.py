"""A small, real world for risk tests: a real ``BookSet`` fed venue-shaped events, a real
``BinaryMarket`` (crypto fee schedule, rate 0.07), and a plain ``RiskView`` whose numbers the
tests set directly.

Default state passes every check for ``buy()``: YES book 0.80 / 0.81 (spread 0.01), a BUY of
10 shares at the ask (notional 8.10 USD, fee rate 133 bps), market closing in an hour.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from clobflow.book.book_set import BookSet, TrackedBook
from clobflow.core.events import BookSnapshot, FeedStatus, Side
from clobflow.core.markets import BinaryMarket, FeeSchedule, OutcomeToken
from clobflow.core.orders import OrderIntent, OrderType

S = 1_000_000_000
NOW = 1_790_000_000 * S
CID = "0xcond"
YES = "tok-yes"
NO = "tok-no"
BID = 800_000
ASK = 810_000
SIZE = 10_000_000  # 10 shares
NOTIONAL = ASK * SIZE // 1_000_000  # 8_100_000


def make_market(**kw) -> BinaryMarket:
    args = dict(
        condition_id=CID, slug="btc-updown-15m-1", question="Up or down?",
        yes=OutcomeToken(YES, "Up"), no=OutcomeToken(NO, "Down"),
        tick_size=10_000, min_order_size=5_000_000, fee_schedule=FeeSchedule(rate=70_000),
        end_ns=NOW + 3600 * S,
    )
    args.update(kw)
    return BinaryMarket(**args)


def snapshot(asset: str, bids, asks, ts: int = NOW - S) -> BookSnapshot:
    return BookSnapshot(CID, asset, tuple(bids), tuple(asks), "h", ts, ts)


@dataclass
class World:
    """Implements ``RiskView``."""

    books: BookSet = field(default_factory=BookSet)
    markets: dict = field(default_factory=dict)
    open_count: int = 0
    held: set = field(default_factory=set)
    exposures: dict = field(default_factory=dict)
    total: int = 0
    entries: dict = field(default_factory=dict)
    orders: dict = field(default_factory=dict)
    flight: dict = field(default_factory=dict)
    entry_counts: dict = field(default_factory=dict)

    # RiskView
    def book(self, asset_id: str) -> TrackedBook | None:
        return self.books.get(asset_id)

    def market(self, condition_id: str) -> BinaryMarket | None:
        return self.markets.get(condition_id)

    def open_position_count(self) -> int:
        return self.open_count

    def has_position(self, market: str) -> bool:
        return market in self.held

    def entry_count(self, market: str) -> int:
        return self.entry_counts.get(market, 1 if market in self.held else 0)

    def market_exposure(self, market: str) -> int:
        return self.exposures.get(market, 0)

    def total_exposure(self) -> int:
        return self.total

    def last_entry_ns(self, market: str) -> int | None:
        return self.entries.get(market)

    def last_order_ns(self, asset_id: str) -> int | None:
        return self.orders.get(asset_id)

    def in_flight(self, market: str) -> int:
        return self.flight.get(market, 0)

    # helpers
    def set_book(self, bids, asks, asset: str = YES) -> None:
        self.books.on_event(snapshot(asset, bids, asks))

    def suspect(self, asset: str = YES) -> None:
        self.books.on_event(FeedStatus((asset,), "stalled", "test", NOW))

    def untrust(self, asset: str = YES) -> None:
        self.books.on_event(FeedStatus((asset,), "reconnecting", "test", NOW))


def world(**market_kw) -> World:
    w = World()
    w.markets[CID] = make_market(**market_kw)
    w.set_book([(BID, 100_000_000)], [(ASK, 100_000_000)])
    return w


def intent(side: Side = Side.BUY, price: int | None = None, size: int = SIZE, *, asset: str = YES,
           market: str = CID, signal_ns: int | None = None, post_only: bool = False) -> OrderIntent:
    if price is None:
        price = ASK if side == Side.BUY else BID
    return OrderIntent(
        client_order_id="s-1", strategy="s", market=market, asset_id=asset, side=side, price=price,
        size=size, order_type=OrderType.FAK, created_ns=NOW, signal_ns=NOW if signal_ns is None else signal_ns,
        post_only=post_only)


def buy(**kw) -> OrderIntent:
    return intent(Side.BUY, **kw)


def sell(**kw) -> OrderIntent:
    return intent(Side.SELL, **kw)
