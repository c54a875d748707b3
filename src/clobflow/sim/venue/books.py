"""The simulated venue's own book state: one ``L2Book`` per token, updated by every event the
venue emits, so that snapshots on (re)subscribe and REST ``/book`` are current.

``VenueBooks.apply(event)`` takes a decoded wire event (a ``dict``) and never raises: an entry
it cannot read is skipped and counted in ``skipped`` (the simulator replays recordings as they
are; a bad recorded entry must not stop the venue).

Per token it keeps the market (condition id), the current tick (changed by
``tick_size_change``), the last hash the venue published, the min order size, neg-risk flag and
last trade price; per market the resolution once ``market_resolved`` was emitted.
"""

from __future__ import annotations

from clobflow.book.l2 import L2Book
from clobflow.core.events import Side
from clobflow.core.numbers import NumberFormatError, format_micros, parse_micros
from clobflow.sim.datasets import wire

_SIDES = {"BUY": Side.BUY, "SELL": Side.SELL, "buy": Side.BUY, "sell": Side.SELL}


def _micros(value: object) -> int:
    if isinstance(value, str):
        return parse_micros(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value * 1_000_000
    raise NumberFormatError(f"not a number: {value!r}")


class TokenState:
    """One token's book and trading facts (micro-units)."""

    __slots__ = ("book", "market", "tick", "hash", "min_order_size", "neg_risk", "last_trade_price")

    def __init__(self, asset_id: str, market: str, tick: int) -> None:
        self.book = L2Book(asset_id, tick)
        self.market = market
        self.tick = tick
        self.hash = ""
        self.min_order_size = 5_000_000
        self.neg_risk = False
        self.last_trade_price: int | None = None


class VenueBooks:
    """Token id -> ``TokenState``; plus resolved markets (condition id -> winning token id)."""

    def __init__(self, default_tick: int = 10_000) -> None:
        self.default_tick = default_tick
        self.tokens: dict[str, TokenState] = {}
        self.resolved: dict[str, str] = {}
        self.skipped = 0

    def clear(self) -> None:
        """Forget everything (the replay restarted from the beginning)."""
        self.tokens.clear()
        self.resolved.clear()

    def get(self, asset_id: str) -> TokenState | None:
        return self.tokens.get(asset_id)

    def _token(self, asset_id: str, market: str) -> TokenState:
        st = self.tokens.get(asset_id)
        if st is None:
            st = self.tokens[asset_id] = TokenState(asset_id, market, self.default_tick)
        elif market and not st.market:
            st.market = market
        return st

    # -- updates ---------------------------------------------------------------------------

    def apply(self, ev: dict) -> None:
        """Apply one decoded wire event (unknown event types are ignored)."""
        try:
            et = ev.get("event_type")
            if et == "price_change":
                self._price_change(ev)
            elif et == "book":
                self._book(ev)
            elif et == "tick_size_change":
                st = self._token(ev["asset_id"], ev.get("market", ""))
                st.tick = st.book.tick_size = _micros(ev["new_tick_size"])
            elif et == "last_trade_price":
                st = self._token(ev["asset_id"], ev.get("market", ""))
                st.last_trade_price = _micros(ev["price"])
            elif et == "market_resolved":
                self.resolved[ev.get("market", "")] = ev.get("winning_asset_id", "")
        except (KeyError, TypeError, ValueError, AttributeError):
            self.skipped += 1

    def _book(self, ev: dict) -> None:
        st = self._token(ev["asset_id"], ev.get("market", ""))
        bids = ev.get("bids") if ev.get("bids") is not None else ev.get("buys") or []
        asks = ev.get("asks") if ev.get("asks") is not None else ev.get("sells") or []
        st.book.load(
            [(_micros(lv["price"]), _micros(lv["size"])) for lv in bids],
            [(_micros(lv["price"]), _micros(lv["size"])) for lv in asks],
        )
        st.hash = ev.get("hash", "")
        if ev.get("tick_size") not in (None, ""):
            st.tick = st.book.tick_size = _micros(ev["tick_size"])
        if ev.get("min_order_size") not in (None, ""):
            st.min_order_size = _micros(ev["min_order_size"])
        if isinstance(ev.get("neg_risk"), bool):
            st.neg_risk = ev["neg_risk"]
        if ev.get("last_trade_price") not in (None, ""):
            st.last_trade_price = _micros(ev["last_trade_price"])

    def _price_change(self, ev: dict) -> None:
        market = ev.get("market", "")
        entries = ev.get("price_changes")
        if entries is None and ev.get("asset_id"):  # legacy single-asset form (before Sep 2025)
            entries = [ev] if ev.get("price") is not None else [
                dict(c, asset_id=ev["asset_id"], hash=ev.get("hash", "")) for c in ev.get("changes") or []
            ]
        for c in entries or ():
            try:
                side = _SIDES[c["side"]]
                st = self._token(c["asset_id"], market)
                st.book.set_level(side, _micros(c["price"]), _micros(c["size"]))
                if c.get("hash"):
                    st.hash = c["hash"]
            except (KeyError, TypeError, ValueError):
                self.skipped += 1

    def set_tick(self, asset_id: str, new_tick: int) -> int:
        """Change a known token's tick; returns the old one. Raises ``KeyError`` if unknown."""
        st = self.tokens[asset_id]
        old = st.tick
        st.tick = st.book.tick_size = new_tick
        return old

    # -- views -----------------------------------------------------------------------------

    def book_event(self, asset_id: str, ts_ns: int) -> dict | None:
        """The token's current book as a wire ``book`` event, or ``None`` if unknown."""
        st = self.tokens.get(asset_id)
        if st is None:
            return None
        bids, asks = st.book.snapshot()
        return wire.book_event(
            st.market, asset_id, bids, asks, ts_ns, st.hash or wire.book_hash(asset_id, bids, asks),
            tick_size=st.tick, min_order_size=st.min_order_size, neg_risk=st.neg_risk,
            last_trade_price=st.last_trade_price,
        )

    def rest_book(self, asset_id: str, ts_ns: int) -> dict | None:
        """The token's book as CLOB ``GET /book`` returns it (protocol.md §3.1), or ``None``."""
        st = self.tokens.get(asset_id)
        if st is None:
            return None
        bids, asks = st.book.snapshot()
        return {
            "market": st.market,
            "asset_id": asset_id,
            "timestamp": wire.ms(ts_ns),
            "hash": st.hash or wire.book_hash(asset_id, bids, asks),
            "bids": wire.wire_levels(bids),
            "asks": wire.wire_levels(asks),
            "min_order_size": format_micros(st.min_order_size),
            "tick_size": format_micros(st.tick),
            "neg_risk": st.neg_risk,
            "last_trade_price": format_micros(st.last_trade_price)
            if st.last_trade_price is not None
            else "",
        }
