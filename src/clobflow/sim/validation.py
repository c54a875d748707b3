"""The venue's order checks, as a pure function: ``validate(intent, market, book, now_ns)``.

The simulated venue runs it when an order *arrives* (so the book and time are those at
arrival); risk may run it before sending. It returns ``None`` for a valid order, else a
``Rejected`` report whose ``reason`` is a stable snake_case code (below) and whose ``message``
is the venue's ``errorMsg`` text where that text is known.

Checks, in order (protocol.md §4.2; messages from docs.polymarket.com "Error Codes" unless
marked *ours*):

=========================  ====================================================================
reason                     message
=========================  ====================================================================
``market_not_found``       ``market not found``
``market_closed``          ``market closed: not accepting orders`` (*ours*; ``closed`` flag)
``market_not_ready``       ``the market is not yet ready to process new orders``
                           (not ``active``, not ``accepting_orders`` or no order book)
``invalid_size``           ``Invalid order payload`` (size <= 0)
``post_only_not_allowed``  ``invalid post-only order: only GTC and GTD orders can be post-only``
                           (*ours*; the venue allows postOnly only with GTC/GTD)
``invalid_expiration``     ``invalid expiration`` (GTD without a future expiry, or an expiry on
                           a non-GTD order, which the venue refuses too)
``price_out_of_range``     ``price (0.995), min: 0.01 - max: 0.99`` (the SDK's own check)
``price_off_tick``         ``order <id> is invalid. Price (0.515) breaks minimum tick size rule:
                           0.01``
``size_below_min``         ``order <id> is invalid. Size (4) lower than the minimum: 5``
                           (resting types GTC/GTD only)
``post_only_crosses``      ``invalid post-only order: order crosses book``
``notional_below_min``     ``invalid amount for a marketable BUY order ($0.65), min size: $1``
                           (FOK/FAK always; GTC/GTD when they cross the book on arrival)
=========================  ====================================================================

Not checked here: balances and allowances (portfolio/risk), the window end (``end_ns``: many
markets trade past their ``endDate``), decimal precision of amounts (the venue client rounds
to the tick's precision table).
"""

from __future__ import annotations

from clobflow.book.l2 import L2Book
from clobflow.core.events import Side
from clobflow.core.markets import BinaryMarket
from clobflow.core.numbers import ONE, format_micros
from clobflow.core.orders import OrderIntent, OrderType, Rejected, notional
from clobflow.sim.exec_models import crosses

MIN_MARKETABLE_NOTIONAL = ONE
"""$1 in collateral micro-units: the least a marketable order may trade (protocol.md §4.2)."""

MARKET_NOT_FOUND = "market_not_found"
MARKET_CLOSED = "market_closed"
MARKET_NOT_READY = "market_not_ready"
INVALID_SIZE = "invalid_size"
POST_ONLY_NOT_ALLOWED = "post_only_not_allowed"
INVALID_EXPIRATION = "invalid_expiration"
PRICE_OUT_OF_RANGE = "price_out_of_range"
PRICE_OFF_TICK = "price_off_tick"
SIZE_BELOW_MIN = "size_below_min"
NOTIONAL_BELOW_MIN = "notional_below_min"
POST_ONLY_CROSSES = "post_only_crosses"

POST_ONLY_CROSSES_MSG = "invalid post-only order: order crosses book"
MARKET_NOT_READY_MSG = "the market is not yet ready to process new orders"


def _reject(intent: OrderIntent, now_ns: int, reason: str, message: str) -> Rejected:
    return Rejected(client_order_id=intent.client_order_id, ts_ns=now_ns, reason=reason, message=message)


def effective_tick(market: BinaryMarket, book: L2Book | None) -> int:
    """The tick in force: the book's current tick (it follows ``tick_size_change``) if known,
    else the market's tick from when it was loaded."""
    if book is not None and book.tick_size:
        return book.tick_size
    return market.tick_size


def validate(
    intent: OrderIntent,
    market: BinaryMarket | None,
    book: L2Book | None,
    now_ns: int,
) -> Rejected | None:
    """Check ``intent`` as the venue would at ``now_ns`` against ``book`` (the token's book at
    that moment, ``None`` if none is known: the crossing checks then pass).

    Units: prices/sizes in micro-units, ``now_ns`` and ``intent.expire_at_ns`` in epoch ns.
    Returns ``None`` when valid, else ``Rejected`` stamped ``now_ns``. Never raises.
    """
    if market is None or intent.asset_id not in market.token_ids:
        return _reject(intent, now_ns, MARKET_NOT_FOUND, "market not found")
    if market.closed:
        return _reject(intent, now_ns, MARKET_CLOSED, "market closed: not accepting orders")
    if not (market.active and market.accepting_orders and market.enable_order_book):
        return _reject(intent, now_ns, MARKET_NOT_READY, MARKET_NOT_READY_MSG)

    otype, price, size, coid = intent.order_type, intent.price, intent.size, intent.client_order_id
    if size <= 0:
        return _reject(intent, now_ns, INVALID_SIZE, "Invalid order payload")
    if intent.post_only and not otype.rests:
        msg = "invalid post-only order: only GTC and GTD orders can be post-only"
        return _reject(intent, now_ns, POST_ONLY_NOT_ALLOWED, msg)
    if otype is OrderType.GTD:
        if intent.expire_at_ns is None or intent.expire_at_ns <= now_ns:
            return _reject(intent, now_ns, INVALID_EXPIRATION, "invalid expiration")
    elif intent.expire_at_ns is not None:
        return _reject(intent, now_ns, INVALID_EXPIRATION, "invalid expiration")

    tick = effective_tick(market, book)
    if not tick <= price <= ONE - tick:
        msg = f"price ({format_micros(price)}), min: {format_micros(tick)} - max: {format_micros(ONE - tick)}"
        return _reject(intent, now_ns, PRICE_OUT_OF_RANGE, msg)
    if price % tick:
        msg = (
            f"order {coid} is invalid. Price ({format_micros(price)}) breaks minimum tick size rule: "
            f"{format_micros(tick)}"
        )
        return _reject(intent, now_ns, PRICE_OFF_TICK, msg)

    if otype.rests and size < market.min_order_size:
        msg = (
            f"order {coid} is invalid. Size ({format_micros(size)}) lower than the minimum: "
            f"{format_micros(market.min_order_size)}"
        )
        return _reject(intent, now_ns, SIZE_BELOW_MIN, msg)

    opposite = None
    if book is not None:
        opposite = book.best_ask() if intent.side == Side.BUY else book.best_bid()
    marketable = crosses(intent.side, price, opposite)
    if intent.post_only and marketable:
        # Checked before the $1 rule: a post-only order never trades, it is refused for crossing.
        return _reject(intent, now_ns, POST_ONLY_CROSSES, POST_ONLY_CROSSES_MSG)
    if (not otype.rests or marketable) and notional(price, size) < MIN_MARKETABLE_NOTIONAL:
        side = "BUY" if intent.side == Side.BUY else "SELL"
        amount = format_micros(notional(price, size))
        msg = f"invalid amount for a marketable {side} order (${amount}), min size: $1"
        return _reject(intent, now_ns, NOTIONAL_BELOW_MIN, msg)
    return None
