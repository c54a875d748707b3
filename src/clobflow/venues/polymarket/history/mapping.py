"""Pure mapping of venue history objects to our rows (no I/O, no clock reads).

- ``trade_row(d)``: one Data API trade, legacy camelCase (``/trades``: ``proxyWallet``,
  ``asset``, ``conditionId``, ``transactionHash``) or v2 snake_case (``/v2/trades``:
  ``proxy_wallet``, ``token_id``, ``condition_id``, ``transaction_hash``) -> the same ``TradeRow``
  (protocol.md §3.3, §7 item 9). ``size``/``price`` are JSON floats -> micro-units, rounded
  half-even (``micros_from_number``); ``timestamp`` is epoch seconds (§7 item 11).
- ``data_api_trade_id``: the Data API has no trade id, so one is derived from the fields that
  identify a fill (wallet, token, side, price, size, second, transaction); v1 and v2 rows of the
  same fill get the same id. It is the dedupe key of the trades job.
- ``gamma_winner(d)`` / ``market_window_row(d, discovered_ns)``: one Gamma market (JSON-string
  arrays, §3.4, §7 item 8) -> ``MarketWindowRow`` with the winning token once resolved.
- ``price_point(d)``: one ``/prices-history`` point ``{"t": s, "p": float}`` -> ``(t, micros)``.

Every function raises ``ValueError`` naming the field when the object cannot be used.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from clobflow.core.numbers import ONE, NumberFormatError, format_micros, micros_from_number
from clobflow.recorder.tables import MarketWindowRow, TradeRow
from clobflow.venues.polymarket.gamma import iso_to_ns

VENUE = "polymarket"
NS = 1_000_000_000
_UPDOWN = re.compile(r"^([a-z0-9]+)-updown-\d+m-\d+$")


def _first(d: Mapping[str, Any], *keys: str) -> Any:
    for k in keys:
        v = d.get(k)
        if v is not None and v != "":
            return v
    return None


def _text(d: Mapping[str, Any], what: str, *keys: str, required: bool = True) -> str:
    v = _first(d, *keys)
    if v is None:
        if required:
            raise ValueError(f"{what}: field {keys[0]!r} is missing")
        return ""
    if isinstance(v, (dict, list, bool)):
        raise ValueError(f"{what}: field {keys[0]!r} is not a string: {v!r:.80}")
    return str(v)


def _micros(d: Mapping[str, Any], what: str, key: str) -> int:
    v = d.get(key)
    if v is None or isinstance(v, bool):
        raise ValueError(f"{what}: field {key!r} is missing or not a number: {v!r}")
    try:
        return micros_from_number(v)
    except NumberFormatError:
        raise ValueError(f"{what}: field {key!r} is not a number: {v!r}") from None


def epoch_s(value: Any) -> int:
    """Epoch seconds from an int/float/str; milliseconds are recognised by magnitude."""
    v = int(float(value)) if isinstance(value, (str, float)) else int(value)
    return v // 1000 if v >= 100_000_000_000 else v


# -- Data API trades -------------------------------------------------------------------------


def data_api_trade_id(wallet: str, asset: str, side: str, price: int, size: int, ts_s: int, tx: str) -> str:
    """A stable id for a Data API fill (the API sends none): ``da-`` + 32 hex digits."""
    text = f"{wallet.lower()}|{asset}|{side}|{format_micros(price)}|{format_micros(size)}|{ts_s}|{tx.lower()}"
    return "da-" + hashlib.sha256(text.encode()).hexdigest()[:32]


def trade_row(d: Mapping[str, Any]) -> TradeRow:
    """One Data API trade (either casing) -> ``TradeRow(source="data_api")``.

    ``ts_ns`` and ``ts_venue_ns`` are both the trade time (history has no receive time);
    ``wallet`` is the proxy wallet (the funder, not the EOA: §3.3); ``side`` is that wallet's side.
    An explicit ``id``/``trade_id`` is kept when the venue sends one, else ``data_api_trade_id``.

    Raises:
        ValueError: a required field (wallet, token, condition, side, price, size, timestamp) is
            missing or out of range.
    """
    if not isinstance(d, Mapping):
        raise ValueError(f"data api trade: not an object: {d!r:.80}")
    what = "data api trade"
    wallet = _text(d, what, "proxyWallet", "proxy_wallet").lower()
    asset = _text(d, what, "asset", "token_id", "asset_id")
    market = _text(d, what, "conditionId", "condition_id")
    side = _text(d, what, "side").upper()
    if side not in ("BUY", "SELL"):
        raise ValueError(f"{what}: field 'side' is not BUY/SELL: {side!r}")
    price = _micros(d, what, "price")
    size = _micros(d, what, "size")
    if not 0 <= price <= ONE:
        raise ValueError(f"{what}: field 'price' is out of range: {d.get('price')!r}")
    if size <= 0:
        raise ValueError(f"{what}: field 'size' is not positive: {d.get('size')!r}")
    raw_ts = _first(d, "timestamp")
    try:
        ts_s = epoch_s(raw_ts)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: field 'timestamp' is not epoch seconds: {raw_ts!r}") from None
    if ts_s <= 0:
        raise ValueError(f"{what}: field 'timestamp' is not epoch seconds: {raw_ts!r}")
    tx = _text(d, what, "transactionHash", "transaction_hash", required=False)
    trade_id = _text(d, what, "id", "trade_id", required=False) or data_api_trade_id(
        wallet, asset, side, price, size, ts_s, tx
    )
    return TradeRow(
        ts_ns=ts_s * NS, ts_venue_ns=ts_s * NS, venue=VENUE, market=market, asset_id=asset,
        price=price, size=size, side=side, trade_id=trade_id, source="data_api", wallet=wallet,
        outcome=_text(d, what, "outcome", required=False), tx_hash=tx,
    )


# -- Gamma markets ---------------------------------------------------------------------------


def json_list(d: Mapping[str, Any], field: str, what: str = "gamma market") -> list[Any]:
    """A Gamma array field, JSON-encoded as a string on the wire (or already a list)."""
    raw = d.get(field)
    if isinstance(raw, str) and raw:
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise ValueError(f"{what}: field {field!r} is not valid JSON: {raw[:80]!r}") from None
    if not isinstance(raw, list):
        raise ValueError(f"{what}: field {field!r} is missing or not a list: {raw!r:.80}")
    return raw


def gamma_winner(d: Mapping[str, Any]) -> str:
    """The winning token id of a resolved Gamma market, else ``""``.

    Resolved means ``closed`` or ``umaResolutionStatus == "resolved"``, AND ``outcomePrices``
    is exactly one ``1`` with ``0`` elsewhere (``["1","0"]``; §3.4). A closed market whose
    prices are anything else (unresolved yet, a 50/50 split) has no single winner: ``""``.
    """
    resolved = d.get("closed") is True or str(d.get("umaResolutionStatus") or "").lower() == "resolved"
    if not resolved:
        return ""
    try:
        tokens = json_list(d, "clobTokenIds")
        prices = [micros_from_number(p) for p in json_list(d, "outcomePrices")]
    except (ValueError, NumberFormatError):
        return ""
    ones = [i for i, p in enumerate(prices) if p == ONE]
    if len(tokens) != len(prices) or len(ones) != 1:
        return ""
    if any(p != 0 for i, p in enumerate(prices) if i != ones[0]):
        return ""
    return str(tokens[ones[0]])


def _time(d: Mapping[str, Any], *keys: str) -> int:
    v = _first(d, *keys)
    if v is None:
        return 0
    try:
        return iso_to_ns(str(v))
    except ValueError:
        raise ValueError(f"gamma market: field {keys[0]!r} is not an ISO date-time: {v!r}") from None


def market_key(d: Mapping[str, Any]) -> str:
    """Dedupe key of a Gamma market: ``<conditionId>|<winner>``, so a market imported while open
    is written again (once) when a later import finds it resolved."""
    return f"{_first(d, 'conditionId', 'id') or '?'}|{gamma_winner(d)}"


def market_window_row(d: Mapping[str, Any], discovered_ns: int) -> MarketWindowRow:
    """One Gamma market -> ``MarketWindowRow`` (token 0 = YES/Up, token 1 = NO/Down).

    ``window_start_ns`` is ``eventStartTime`` (up/down windows) else ``startDate``;
    ``window_end_ns`` is ``endDate``; both 0 when absent. ``asset`` is the up/down slug's asset
    (``btc-updown-15m-...`` -> ``btc``), else ``""``. ``tick_size`` in micro-units (0 if absent).

    Raises:
        ValueError: no ``conditionId``, or not exactly two tokens/outcomes.
    """
    what = f"gamma market {_first(d, 'slug', 'id') or '?'}"
    cid = _text(d, what, "conditionId")
    tokens = json_list(d, "clobTokenIds", what)
    outcomes = json_list(d, "outcomes", what)
    if len(tokens) != 2 or len(outcomes) != 2:
        raise ValueError(f"{what}: {len(tokens)} tokens / {len(outcomes)} outcomes, not a binary market")
    slug = _text(d, what, "slug", required=False)
    events = d.get("events")
    first_event = events[0] if isinstance(events, list) and events and isinstance(events[0], dict) else {}
    m = _UPDOWN.match(slug)
    tick = d.get("orderPriceMinTickSize")
    return MarketWindowRow(
        discovered_ns=discovered_ns, venue=VENUE, event_id=str(first_event.get("id") or ""),
        market=cid, slug=slug,
        asset=m.group(1) if m else "", yes_token=str(tokens[0]), no_token=str(tokens[1]),
        window_start_ns=_time(d, "eventStartTime", "startDate"), window_end_ns=_time(d, "endDate"),
        tick_size=_micros(d, what, "orderPriceMinTickSize") if tick not in (None, "") else 0,
        question=_text(d, what, "question", required=False), winner=gamma_winner(d),
    )


# -- CLOB price history ----------------------------------------------------------------------


def price_point(d: Any) -> tuple[int, int]:
    """A ``/prices-history`` point ``{"t": <epoch s>, "p": <float>}`` -> ``(t, price micros)``.

    Raises:
        ValueError: not an object with an integer ``t`` and a price in [0, 1].
    """
    if not isinstance(d, Mapping) or "t" not in d or "p" not in d:
        raise ValueError(f"prices-history point: expected {{t, p}}, got {d!r:.80}")
    try:
        t = epoch_s(d["t"])
    except (TypeError, ValueError):
        raise ValueError(f"prices-history point: 't' is not epoch seconds: {d['t']!r}") from None
    p = _micros(d, "prices-history point", "p")
    if not 0 <= p <= ONE:
        raise ValueError(f"prices-history point: 'p' is out of range: {d['p']!r}")
    return t, p
