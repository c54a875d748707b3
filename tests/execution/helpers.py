"""Shared builders for the execution and matching tests: real markets, real books, intents.

Markets come from the real Gamma capture ``gamma_market_btc_updown_5m_twap_2026-08.json``
(crypto fee schedule 0.07, tick 0.01, min size 5), re-keyed onto the tokens of whichever real
book a test uses. Books are built from real market-channel captures through the production
parser and ``BookSet``.
"""

from __future__ import annotations

import json
from pathlib import Path

import msgspec

from clobflow.book.book_set import BookSet
from clobflow.core.events import Side
from clobflow.core.markets import BinaryMarket, OutcomeToken
from clobflow.core.orders import OrderIntent, OrderType
from clobflow.venues.polymarket.gamma import parse_gamma_market
from clobflow.venues.polymarket.parsing import MarketParser

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "polymarket"
S = 1_000_000  # one share / one dollar / price 1.0 in micro-units
MS = 1_000_000  # ns per ms

BUY, SELL = Side.BUY, Side.SELL
GTC, GTD, FOK, FAK = OrderType.GTC, OrderType.GTD, OrderType.FOK, OrderType.FAK


def real_market(yes: str = "yes-token", no: str = "no-token", **changes: object) -> BinaryMarket:
    """The real BTC 5-minute up/down market (fees 0.07, tick 0.01, min 5 shares) on our tokens."""
    d = json.loads((FIX / "rest" / "gamma_market_btc_updown_5m_twap_2026-08.json").read_text())
    m = parse_gamma_market(d[0] if isinstance(d, list) else d)
    return msgspec.structs.replace(m, yes=OutcomeToken(yes, "Up"), no=OutcomeToken(no, "Down"), **changes)


def parse_into(books: BookSet, parser: MarketParser, frame: object, ts_ns: int) -> list:
    """Parse one captured frame (a JSON value) and apply it; returns the events."""
    events = parser.parse(json.dumps(frame), ts_ns)
    for ev in events:
        books.on_event(ev)
    return events


def book_2026_08() -> tuple[BookSet, str]:
    """The real Aug-2026 ``book`` snapshot: best bid 0.07 x 182528.55, best ask 0.08 x
    228198.28, then 0.09 x 153220.41, 0.10 x 93315.63 (tick 0.01)."""
    frame = json.loads((FIX / "ws_market" / "book_2026-08.json").read_text())
    books = BookSet()
    parse_into(books, MarketParser(), frame, 1)
    return books, frame["asset_id"]


def burst() -> list[dict]:
    """The real 2026-09 capture: one ``book`` for token A, 49 ``price_change`` (both tokens),
    a fill at 1790658827000, and the post-trade ``book`` of A."""
    return json.loads((FIX / "ws_market" / "book_then_price_change_burst_2026-09.json").read_text())


def intent(
    coid: str,
    asset: str,
    side: Side,
    price: int,
    size: int,
    otype: OrderType = GTC,
    *,
    created_ns: int = 0,
    market: str = "0xmarket",
    **kw: object,
) -> OrderIntent:
    return OrderIntent(
        client_order_id=coid,
        strategy="test",
        market=market,
        asset_id=asset,
        side=side,
        price=price,
        size=size,
        order_type=otype,
        created_ns=created_ns,
        **kw,
    )
