"""Gamma-shaped market metadata (protocol.md §3.4), written and read by the simulator.

``gamma_market(market, ...)`` renders a ``BinaryMarket`` as the dict ``GET /markets`` returns,
shaped like ``fixtures/polymarket/rest/gamma_market_btc_updown_5m_*.json``:

- ``outcomes``, ``outcomePrices`` and ``clobTokenIds`` are **JSON-encoded strings** (index 0 is
  the YES/Up token), as the real Gamma sends them;
- ``orderPriceMinTickSize`` and ``orderMinSize`` are JSON numbers; dates are ISO-8601 ``Z``;
- ``feeSchedule`` is ``{exponent, rate, takerOnly, rebateRate}`` (numbers) or ``null``;
- ``tags`` is ``[{id, label, slug}]`` (the real API puts tags on the event; the simulator puts
  them on both), ``events`` holds the market's one event.

``market_from_gamma`` is the inverse, used to read a recording's ``markets.json``.
``updown_*`` helpers name crypto up/down windows the way Polymarket does.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

from clobflow.core.markets import BinaryMarket, FeeSchedule, OutcomeToken
from clobflow.core.numbers import format_micros, micros_from_number
from clobflow.sim.datasets.base import iso_utc, parse_iso_ns

# Tag ids seen on live Gamma objects (public captures of up/down events); the others get a
# stable derived id (see ``tag``).
_KNOWN_TAGS = {
    "crypto": ("21", "Crypto"),
    "bitcoin": ("235", "Bitcoin"),
    "up-or-down": ("102127", "Up or Down"),
    "5M": ("102892", "5M"),
    "15M": (None, "15M"),
    "1H": (None, "1H"),
}

_UPDOWN_DESCRIPTION = (
    'This market will resolve to "Up" if the {asset} price at the end of the time range '
    "specified in the title is greater than or equal to the price at the beginning of that "
    'range. Otherwise, it will resolve to "Down".'
)


def stable_id(text: str, digits: int = 7) -> str:
    """A deterministic decimal id of ``digits`` digits derived from ``text`` (for ids the
    recordings do not carry, such as Gamma market and event ids)."""
    n = int(hashlib.sha256(f"clobflow-sim-id|{text}".encode()).hexdigest(), 16)
    lo = 10 ** (digits - 1)
    return str(lo + n % (9 * lo))


def tag(slug: str) -> dict:
    """A Gamma tag object ``{id, label, slug}``."""
    known = _KNOWN_TAGS.get(slug)
    tag_id = known[0] if known and known[0] else stable_id("tag|" + slug, 6)
    label = known[1] if known else slug.replace("-", " ").title()
    return {"id": tag_id, "label": label, "slug": slug}


def _num(micros: int) -> int | float:
    """Micro-units as a Gamma JSON number (an int when whole)."""
    whole, frac = divmod(micros, 1_000_000)
    return whole if frac == 0 else float(format_micros(micros))


def fee_schedule_json(fs: FeeSchedule | None) -> dict | None:
    """``FeeSchedule`` as Gamma's ``feeSchedule`` object (or ``None``)."""
    if fs is None:
        return None
    return {
        "exponent": fs.exponent,
        "rate": _num(fs.rate),
        "takerOnly": fs.taker_only,
        "rebateRate": _num(fs.rebate_rate),
    }


def _series(slug: str) -> list[dict]:
    # {asset}-updown-{N}m-{unix_start} belongs to series {asset}-up-or-down-{N}m (protocol §3.4).
    parts = slug.split("-")
    if len(parts) == 4 and parts[1] == "updown" and parts[2].endswith("m"):
        s = f"{parts[0]}-up-or-down-{parts[2]}"
        title = f"{parts[0].upper()} Up or Down {parts[2]}"
        return [{"id": stable_id("series|" + s, 5), "ticker": s, "slug": s, "title": title,
                 "seriesType": "single", "recurrence": parts[2], "active": True, "closed": False}]
    return []


def description_of(market: BinaryMarket) -> str:
    if "up-or-down" in market.tags:
        asset = "Bitcoin" if "bitcoin" in market.tags else "asset"
        return _UPDOWN_DESCRIPTION.format(asset=asset)
    return market.question


def resolution_source_of(market: BinaryMarket) -> str:
    # 15-minute up/down markets of this era resolved on the Chainlink BTC/USD stream (§3.4);
    # for others the recordings do not say.
    if "15M" in market.tags and "bitcoin" in market.tags:
        return "https://data.chain.link/streams/btc-usd"
    return ""


def gamma_event(market: BinaryMarket, *, closed: bool = False, markets: list[dict] | None = None) -> dict:
    """The market's Gamma event (up/down events hold one market). With ``markets`` the event
    carries them (``GET /events`` shape); without, it is the copy nested in a market."""
    slug = market.event_slug or market.slug
    ev = {
        "id": stable_id("event|" + slug, 6),
        "ticker": slug,
        "slug": slug,
        "title": market.question,
        "description": description_of(market),
        "resolutionSource": resolution_source_of(market),
        "startDate": iso_utc(market.start_ns) if market.start_ns is not None else None,
        "endDate": iso_utc(market.end_ns) if market.end_ns is not None else None,
        "active": market.active,
        "closed": closed,
        "archived": False,
        "enableOrderBook": market.enable_order_book,
        "negRisk": market.neg_risk,
        "series": _series(slug),
        "tags": [tag(t) for t in market.tags],
    }
    if markets is not None:
        ev["markets"] = markets
    return ev


def gamma_market(
    market: BinaryMarket,
    *,
    closed: bool | None = None,
    winner: str | None = None,
    accepting_orders: bool | None = None,
    tick_size: int | None = None,
    best_bid: int | None = None,
    best_ask: int | None = None,
) -> dict:
    """``market`` as a Gamma ``/markets`` item.

    Args:
        closed: overrides ``market.closed`` (the simulator closes a market once resolved).
        winner: the winning token id; sets ``outcomePrices`` to ``["1", "0"]``/``["0", "1"]``.
        accepting_orders: overrides ``market.accepting_orders``.
        tick_size: the current tick in micro-units (after a ``tick_size_change``).
        best_bid, best_ask: the YES token's top of book in micro-units; they set ``bestBid``,
            ``bestAsk``, ``spread`` and a mid-based ``outcomePrices``.
    """
    is_closed = market.closed if closed is None else closed
    if winner is not None:
        prices = ["1", "0"] if winner == market.yes.token_id else ["0", "1"]
    elif best_bid is not None and best_ask is not None:
        mid = (best_bid + best_ask) // 2
        prices = [format_micros(mid), format_micros(1_000_000 - mid)]
    else:
        prices = ["0.5", "0.5"]
    fees = market.fee_schedule
    d: dict = {
        "id": market.market_id,
        "question": market.question,
        "conditionId": market.condition_id,
        "slug": market.slug,
        "description": description_of(market),
        "resolutionSource": resolution_source_of(market),
        "startDate": iso_utc(market.start_ns) if market.start_ns is not None else None,
        "endDate": iso_utc(market.end_ns) if market.end_ns is not None else None,
        "eventStartTime": iso_utc(market.start_ns) if market.start_ns is not None else None,
        "outcomes": json.dumps([market.yes.outcome, market.no.outcome]),
        "outcomePrices": json.dumps(prices),
        "clobTokenIds": json.dumps([market.yes.token_id, market.no.token_id]),
        "active": market.active,
        "closed": is_closed,
        "archived": False,
        "acceptingOrders": (market.accepting_orders if accepting_orders is None else accepting_orders)
        and not is_closed,
        "enableOrderBook": market.enable_order_book,
        "orderPriceMinTickSize": _num(market.tick_size if tick_size is None else tick_size),
        "orderMinSize": _num(market.min_order_size),
        "negRisk": market.neg_risk,
        "feesEnabled": fees is not None,
        "feeSchedule": fee_schedule_json(fees),
        "umaResolutionStatuses": "[]",
        "tags": [tag(t) for t in market.tags],
    }
    if fees is not None and "crypto" in market.tags:
        d["feeType"] = "crypto_fees"
    if best_bid is not None:
        d["bestBid"] = _num(best_bid)
    if best_ask is not None:
        d["bestAsk"] = _num(best_ask)
    if best_bid is not None and best_ask is not None:
        d["spread"] = _num(best_ask - best_bid)
    d["events"] = [gamma_event(market, closed=is_closed)]
    return d


def market_from_gamma(d: dict) -> BinaryMarket:
    """Read a Gamma market dict (JSON-string or native list fields) back into a ``BinaryMarket``.

    Raises:
        ValueError / KeyError: a required field is missing or malformed, or the market does not
            have exactly two outcome tokens.
    """

    def _list(v: object) -> list:
        return json.loads(v) if isinstance(v, str) else list(v)  # type: ignore[arg-type]

    tokens = _list(d["clobTokenIds"])
    outcomes = _list(d.get("outcomes") or '["Yes", "No"]')
    if len(tokens) != 2 or len(outcomes) != 2:
        raise ValueError(f"not a binary market: {d.get('slug')!r}")
    fs = d.get("feeSchedule")
    fee = None
    if fs:
        fee = FeeSchedule(
            rate=micros_from_number(fs["rate"]),
            exponent=int(fs.get("exponent", 1)),
            taker_only=bool(fs.get("takerOnly", True)),
            rebate_rate=micros_from_number(fs.get("rebateRate", 0)),
        )
    start = d.get("eventStartTime") or d.get("startDate")
    end = d.get("endDate")
    events = d.get("events") or []
    tags = d.get("tags") or (events[0].get("tags") if events else None) or []
    return BinaryMarket(
        condition_id=d["conditionId"],
        slug=d.get("slug", ""),
        question=d.get("question", ""),
        yes=OutcomeToken(str(tokens[0]), str(outcomes[0])),
        no=OutcomeToken(str(tokens[1]), str(outcomes[1])),
        tick_size=micros_from_number(d.get("orderPriceMinTickSize", 0.01)),
        min_order_size=micros_from_number(d.get("orderMinSize", 5)),
        neg_risk=bool(d.get("negRisk", False)),
        fee_schedule=fee,
        start_ns=parse_iso_ns(start) if start else None,
        end_ns=parse_iso_ns(end) if end else None,
        market_id=str(d.get("id", "")),
        event_slug=events[0].get("slug", "") if events else "",
        active=bool(d.get("active", True)),
        closed=bool(d.get("closed", False)),
        accepting_orders=bool(d.get("acceptingOrders", True)),
        enable_order_book=bool(d.get("enableOrderBook", True)),
        tags=tuple(t["slug"] if isinstance(t, dict) else str(t) for t in tags),
    )


# -- up/down naming ------------------------------------------------------------------------------


def _us_eastern(dt_utc: datetime) -> tuple[datetime, str]:
    """UTC -> US Eastern wall time (no tz database needed: the US DST rule since 2007)."""
    y = dt_utc.year
    march1 = datetime(y, 3, 1, tzinfo=UTC)
    second_sunday = march1 + timedelta(days=(6 - march1.weekday()) % 7 + 7)
    nov1 = datetime(y, 11, 1, tzinfo=UTC)
    first_sunday = nov1 + timedelta(days=(6 - nov1.weekday()) % 7)
    dst = second_sunday + timedelta(hours=7) <= dt_utc < first_sunday + timedelta(hours=6)
    return dt_utc + timedelta(hours=-4 if dst else -5), ("EDT" if dst else "EST")


def _clock(dt: datetime, minutes: bool = True) -> str:
    h = dt.hour % 12 or 12
    ampm = "AM" if dt.hour < 12 else "PM"
    return f"{h}:{dt.minute:02d}{ampm}" if minutes else f"{h}{ampm}"


def updown_question(asset_name: str, start_s: int, duration_s: int) -> str:
    """``"Bitcoin Up or Down - December 26, 5:30AM-5:45AM ET"`` (hourly: ``"..., 7PM ET"``)."""
    start, _ = _us_eastern(datetime.fromtimestamp(start_s, UTC))
    end, _ = _us_eastern(datetime.fromtimestamp(start_s + duration_s, UTC))
    day = f"{start:%B} {start.day}"
    if duration_s == 3600 and start.minute == 0:
        return f"{asset_name} Up or Down - {day}, {_clock(start, minutes=False)} ET"
    return f"{asset_name} Up or Down - {day}, {_clock(start)}-{_clock(end)} ET"


def updown_hourly_slug(asset_name: str, start_s: int) -> str:
    """``"bitcoin-up-or-down-february-23-7pm-et"``: the hourly markets' slug pattern."""
    start, _ = _us_eastern(datetime.fromtimestamp(start_s, UTC))
    return f"{asset_name.lower()}-up-or-down-{start:%B}-{start.day}-{_clock(start, False)}-et".lower()
