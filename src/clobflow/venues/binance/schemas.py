"""Wire Structs for the Binance spot market-data streams (protocol.md §6).

They mirror the JSON as sent: prices and quantities are decimal strings, ids and times integers
(epoch ms unless the stream was opened with ``timeUnit=MICROSECOND``). Single-letter wire keys get
readable attribute names through ``msgspec.field(name=...)``; unknown keys are ignored (msgspec's
default), so new venue fields never break decoding.

Shapes:
- combined stream (``/stream?streams=...``): ``{"stream": "btcusdt@trade", "data": {...}}``;
  ``data`` is kept as ``msgspec.Raw`` and decoded in a second step by its event type.
- raw stream (``/ws/btcusdt@trade``): the payload itself.
- ``trade``: ``e s t p q T m`` (+ ``E``, ``M``). The legacy payload also had ``b``/``a`` (buyer /
  seller order ids), removed 2024-06-18; they are accepted and ignored.
- ``aggTrade``: ``a`` is the *aggregate trade id* here (not a seller order id), ``f``/``l`` the
  first/last trade ids it aggregates.
- ``serverShutdown``: ``{"e":"serverShutdown","E":...}``; the WebSocket API wraps it as
  ``{"event": {...}}`` and some servers send it on a combined stream as ``data`` — all accepted.
- ``bookTicker`` (spot): ``u s b B a A`` with **no** ``e`` (futures adds ``e``/``E``/``T``).
"""

from __future__ import annotations

from typing import Any, Union

import msgspec

Num = Union[str, int, float]  # Binance promises strings; tolerate a bare JSON number


class WEnvelope(msgspec.Struct, gc=False):
    """First-pass view of any frame: the combined-stream wrapper, the WebSocket-API ``event``
    wrapper, or (all fields None) a raw-stream payload."""

    stream: str | None = None
    # (msgspec cannot put Raw in a union with None; UNSET means "key absent")
    data: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    event: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


class WTrade(msgspec.Struct, tag_field="e", tag="trade", gc=False):
    symbol: str = msgspec.field(name="s")
    trade_id: int = msgspec.field(name="t")
    price: Num = msgspec.field(name="p")
    qty: Num = msgspec.field(name="q")
    trade_time: int = msgspec.field(name="T")
    buyer_is_maker: bool = msgspec.field(name="m")
    event_time: int = msgspec.field(name="E", default=0)
    best_match: bool | None = msgspec.field(name="M", default=None)  # documented as "ignore"
    # legacy (removed 2024-06-18): buyer / seller order ids
    buyer_order_id: int | None = msgspec.field(name="b", default=None)
    seller_order_id: int | None = msgspec.field(name="a", default=None)


class WAggTrade(msgspec.Struct, tag_field="e", tag="aggTrade", gc=False):
    symbol: str = msgspec.field(name="s")
    agg_id: int = msgspec.field(name="a")
    price: Num = msgspec.field(name="p")
    qty: Num = msgspec.field(name="q")
    trade_time: int = msgspec.field(name="T")
    buyer_is_maker: bool = msgspec.field(name="m")
    event_time: int = msgspec.field(name="E", default=0)
    first_trade_id: int = msgspec.field(name="f", default=0)
    last_trade_id: int = msgspec.field(name="l", default=0)


class WServerShutdown(msgspec.Struct, tag_field="e", tag="serverShutdown", gc=False):
    event_time: int = msgspec.field(name="E", default=0)


WPayload = Union[WTrade, WAggTrade, WServerShutdown]


class WHead(msgspec.Struct, gc=False):
    """Just enough to classify a payload that failed typed decoding."""

    e: str | None = None
    u: int | None = None  # bookTicker's update id (spot bookTicker has no "e")
    b: Num | None = None
    # {"result": null, "id": 1}: the answer to a SUBSCRIBE request; {"code": 2, "msg": "..."}: an error
    result: Any = msgspec.UNSET
    id: Any = msgspec.UNSET
    code: Any = msgspec.UNSET
    msg: str | None = None


KNOWN_PAYLOAD_EVENTS = frozenset({"trade", "aggTrade", "serverShutdown", "bookTicker"})
