"""Gamma API (market metadata): pure parsing of market objects, and an async client.

Map:
- ``parse_gamma_market(d, event=None) -> BinaryMarket``: one Gamma market object, strict, with
  a ``GammaFieldError`` (a ``ValueError``) naming the field that is missing or malformed, and a
  ``NotBinaryMarket`` (also a ``ValueError``) for markets that do not have exactly 2 outcomes.
- ``parse_gamma_markets`` / ``parse_gamma_event``: many at once; bad ones are skipped with a
  reason instead of failing the batch.
- ``GammaClient``: ``markets`` (offset pagination), ``markets_by_slugs`` / ``markets_by_token_ids``
  (repeated query keys, chunked), ``market_by_slug``, ``events``.

Venue quirks (protocol.md §3.4, §7 item 8): ``clobTokenIds``, ``outcomes`` and ``outcomePrices``
are JSON-encoded *strings*; tick and minimum size are JSON *numbers* (floats); index 0 of the
token list pairs with outcome 0 (``Up``/``Yes``). Fees come from ``feeSchedule`` per market
(§4.3, §7 item 13): ``takerBaseFee: 1000`` is a legacy cap, never the rate.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

import httpx

from clobflow.core.markets import BinaryMarket, FeeSchedule, OutcomeToken
from clobflow.core.numbers import ONE, NumberFormatError, micros_from_number
from clobflow.venues.polymarket.http import (
    HttpRejected,
    Pace,
    RateLimiters,
    RestClientBase,
    Sleep,
    encode_params,
)

log = logging.getLogger(__name__)

GAMMA_BASE_URL = "https://gamma-api.polymarket.com"

# Half of the published limits (protocol.md §4.4): /markets 300 / 10 s, /events 500 / 10 s,
# Gamma general 4,000 / 10 s.
GAMMA_PACES: Mapping[str, Pace] = {
    "markets": Pace(150, 10.0, 15),
    "events": Pace(250, 10.0, 25),
    "general": Pace(1000, 10.0, 20),
}

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_FRACTION = re.compile(r"(\.\d{6})\d+")


class GammaFieldError(ValueError):
    """A required Gamma field is missing or malformed. ``field`` names it."""

    def __init__(self, ident: str, field: str, problem: str) -> None:
        super().__init__(f"gamma market {ident}: field {field!r} {problem}")
        self.field = field
        self.ident = ident


class NotBinaryMarket(ValueError):
    """The market does not have exactly two outcomes; skip it (not an error in the data)."""


# -- parsing ---------------------------------------------------------------------------------


def iso_to_ns(text: str) -> int:
    """ISO-8601 (``...Z``, ``+00``, or a bare date meaning UTC midnight) -> epoch ns, exactly.

    Raises:
        ValueError: not an ISO date-time.
    """
    dt = datetime.fromisoformat(_FRACTION.sub(r"\1", text.strip()))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def ns_to_iso(ns: int) -> str:
    """Epoch ns -> ``YYYY-MM-DDTHH:MM:SSZ`` (whole seconds, floored) for Gamma's date filters."""
    dt = datetime.fromtimestamp(ns // 1_000_000_000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _ident(d: Mapping[str, Any]) -> str:
    return str(d.get("slug") or d.get("id") or d.get("conditionId") or "?")


def _json_list(d: Mapping[str, Any], field: str, ident: str) -> list[Any]:
    raw = d.get(field)
    if raw is None or raw == "":
        raise GammaFieldError(ident, field, "is missing")
    if isinstance(raw, str):
        # The venue double-encodes these arrays (protocol.md §7 item 8).
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            problem = f"is not valid JSON ({exc.msg}): {raw[:80]!r}"
            raise GammaFieldError(ident, field, problem) from None
    if not isinstance(raw, list):
        raise GammaFieldError(ident, field, f"is not a list: {raw!r:.80}")
    return raw


def _required_str(d: Mapping[str, Any], field: str, ident: str) -> str:
    v = d.get(field)
    if not isinstance(v, (str, int)) or isinstance(v, bool) or v == "":
        problem = "is missing" if v in (None, "") else f"is not a string: {v!r}"
        raise GammaFieldError(ident, field, problem)
    return str(v)


def _micros(d: Mapping[str, Any], key: str, ident: str, *, positive: bool, field: str = "") -> int:
    field = field or key
    v = d.get(key)
    if v is None or v == "":
        raise GammaFieldError(ident, field, "is missing")
    if isinstance(v, bool):
        raise GammaFieldError(ident, field, f"is not a number: {v!r}")
    try:
        m = micros_from_number(v)
    except NumberFormatError:
        raise GammaFieldError(ident, field, f"is not a number: {v!r}") from None
    if m < 0 or (positive and m == 0):
        raise GammaFieldError(ident, field, f"is out of range: {v!r}")
    return m


def _flag(d: Mapping[str, Any], key: str, ident: str, default: bool, field: str = "") -> bool:
    field = field or key
    v = d.get(key)
    if v is None:
        return default
    if not isinstance(v, bool):
        raise GammaFieldError(ident, field, f"is not a boolean: {v!r}")
    return v


def _time_ns(d: Mapping[str, Any], field: str, ident: str) -> int | None:
    v = d.get(field)
    if v is None or v == "":
        return None
    try:
        return iso_to_ns(str(v))
    except ValueError:
        raise GammaFieldError(ident, field, f"is not an ISO date-time: {v!r}") from None


def _fee_schedule(d: Mapping[str, Any], ident: str) -> FeeSchedule | None:
    # `feesEnabled: false` means no fee whatever the schedule says. A schedule without the flag
    # (the reduced TWAP capture) is taken at its word. `feesEnabled: true` without a schedule
    # (early-2026 captures) gives None: the rate is unknown here, NOT zero; read `/clob-markets`.
    if d.get("feesEnabled") is False:
        return None
    fs = d.get("feeSchedule")
    if fs is None:
        return None
    if not isinstance(fs, dict):
        raise GammaFieldError(ident, "feeSchedule", f"is not an object: {fs!r:.80}")
    rate = _micros(fs, "rate", ident, positive=False, field="feeSchedule.rate")
    exponent = fs.get("exponent", 1)
    if (isinstance(exponent, bool) or not isinstance(exponent, (int, float))
            or exponent != int(exponent)):
        raise GammaFieldError(ident, "feeSchedule.exponent", f"is not an integer: {exponent!r}")
    rebate = fs.get("rebateRate")
    return FeeSchedule(
        rate=rate,
        exponent=int(exponent),
        taker_only=_flag(fs, "takerOnly", ident, True, field="feeSchedule.takerOnly"),
        rebate_rate=0 if rebate is None else _micros(fs, "rebateRate", ident, positive=False,
                                                     field="feeSchedule.rebateRate"),
    )


def _tag_slugs(tags: Any) -> list[str]:
    out: list[str] = []
    if isinstance(tags, str):  # defensively: a JSON-encoded list, like the other arrays
        try:
            tags = json.loads(tags)
        except json.JSONDecodeError:
            return out
    if not isinstance(tags, list):
        return out
    for t in tags:
        slug = t.get("slug") if isinstance(t, dict) else t
        if isinstance(slug, str) and slug:
            out.append(slug)
    return out


def parse_gamma_market(
    d: Mapping[str, Any], event: Mapping[str, Any] | None = None
) -> BinaryMarket:
    """One Gamma market object -> ``BinaryMarket``.

    ``event`` is the enclosing event when the market came from ``/events`` (whose markets carry
    no ``events`` back-reference); otherwise ``d["events"][0]`` is used for the event slug/tags.

    Units: ``tick_size`` and ``min_order_size`` in micro-units (0.01 -> 10_000; 5 -> 5_000_000),
    fee rates in micro-units (0.07 -> 70_000), times in epoch ns. ``start_ns`` is the window
    start ``eventStartTime`` when present (up/down markets), else ``startDate``.

    Raises:
        NotBinaryMarket: not exactly two outcomes.
        GammaFieldError: a required field (``conditionId``, ``slug``, ``clobTokenIds``,
            ``outcomes``, ``orderPriceMinTickSize``, ``orderMinSize``) is missing, or any used
            field is malformed; the message and ``.field`` name it.
    """
    if not isinstance(d, Mapping):
        raise GammaFieldError("?", "<market>", f"is not an object: {type(d).__name__}")
    ident = _ident(d)
    outcomes = _json_list(d, "outcomes", ident)
    if len(outcomes) != 2:
        raise NotBinaryMarket(f"gamma market {ident}: {len(outcomes)} outcomes, not 2")
    token_ids = _json_list(d, "clobTokenIds", ident)
    if len(token_ids) != 2:
        raise GammaFieldError(ident, "clobTokenIds", f"has {len(token_ids)} ids for 2 outcomes")
    for field, items in (("outcomes", outcomes), ("clobTokenIds", token_ids)):
        if not all(isinstance(x, (str, int)) and not isinstance(x, bool) and str(x) for x in items):
            raise GammaFieldError(ident, field, f"has a non-string item: {items!r:.120}")
    yes_id, no_id = str(token_ids[0]), str(token_ids[1])
    if yes_id == no_id:
        raise GammaFieldError(ident, "clobTokenIds", "has the same id twice")

    tick = _micros(d, "orderPriceMinTickSize", ident, positive=True)
    if tick >= ONE:
        problem = f"is out of range: {d['orderPriceMinTickSize']!r}"
        raise GammaFieldError(ident, "orderPriceMinTickSize", problem)

    events = d.get("events")
    ev = event
    if ev is None and isinstance(events, list) and events and isinstance(events[0], Mapping):
        ev = events[0]
    tags = _tag_slugs(d.get("tags"))
    if ev is not None:
        tags += [t for t in _tag_slugs(ev.get("tags")) if t not in tags]
    start_ns = _time_ns(d, "eventStartTime", ident)
    if start_ns is None:
        start_ns = _time_ns(d, "startDate", ident)
    question = d.get("question")

    return BinaryMarket(
        condition_id=_required_str(d, "conditionId", ident),
        slug=_required_str(d, "slug", ident),
        question=question if isinstance(question, str) else "",
        yes=OutcomeToken(yes_id, str(outcomes[0])),
        no=OutcomeToken(no_id, str(outcomes[1])),
        tick_size=tick,
        min_order_size=_micros(d, "orderMinSize", ident, positive=False),
        neg_risk=_flag(d, "negRisk", ident, False),
        fee_schedule=_fee_schedule(d, ident),
        start_ns=start_ns,
        end_ns=_time_ns(d, "endDate", ident),
        market_id=str(d.get("id") or ""),
        event_slug=str(ev.get("slug") or "") if ev is not None else "",
        active=_flag(d, "active", ident, True),
        closed=_flag(d, "closed", ident, False),
        accepting_orders=_flag(d, "acceptingOrders", ident, True),
        enable_order_book=_flag(d, "enableOrderBook", ident, True),
        tags=tuple(tags),
        neg_risk_augmented=_flag(d, "negRiskAugmented", ident, False)
        or bool(ev is not None and ev.get("negRiskAugmented")),
    )


Skipped = list[tuple[str, str]]
"""``(market slug or id, reason)`` for markets left out of a batch."""


def parse_gamma_markets(
    items: Iterable[Mapping[str, Any]], event: Mapping[str, Any] | None = None
) -> tuple[list[BinaryMarket], Skipped]:
    """Parse many; a market that fails is skipped with its reason (never raises ValueError)."""
    out: list[BinaryMarket] = []
    skipped: Skipped = []
    for d in items:
        try:
            out.append(parse_gamma_market(d, event))
        except ValueError as exc:
            skipped.append((_ident(d) if isinstance(d, Mapping) else "?", str(exc)))
    return out, skipped


def parse_gamma_event(e: Mapping[str, Any]) -> tuple[list[BinaryMarket], Skipped]:
    """The markets of one ``/events`` item, with the event's slug and tags attached."""
    markets = e.get("markets")
    return parse_gamma_markets(markets if isinstance(markets, list) else [], e)


# -- client ----------------------------------------------------------------------------------


class GammaClient(RestClientBase):
    """Async Gamma reads. Use as ``async with`` or call ``aclose()``.

    Query parameters sent (all documented for ``/markets`` in Gamma's OpenAPI spec, except
    ``active`` and ``tag_slug`` which are widely used legacy filters; see the discovery module):
    ``slug`` (repeated), ``clob_token_ids`` (repeated), ``limit``, ``offset``, plus whatever the
    caller passes to ``markets(**params)``/``events(**params)``.

    Raises (every method): ``HttpRetryable`` (a ``Retryable``) after ``max_attempts`` on
    network errors, timeouts, 429 and 5xx; ``HttpRejected`` (a ``VenueRejected``) on other
    4xx or a body that is not a JSON list.
    """

    def __init__(
        self,
        base_url: str,
        *,
        client: httpx.AsyncClient | None = None,
        timeout_s: float = 10.0,
        rate_limiter: RateLimiters | None = None,
        max_attempts: int = 3,
        backoff_s: float = 0.25,
        page_size: int = 100,
        slug_chunk: int = 50,
        sleep: Sleep = asyncio.sleep,
        clock_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        if page_size < 1 or slug_chunk < 1:
            raise ValueError("page_size and slug_chunk must be >= 1")
        self.page_size = page_size
        self.slug_chunk = slug_chunk
        limiters = rate_limiter or RateLimiters(GAMMA_PACES, clock_ns=clock_ns, sleep=sleep)
        super().__init__(
            base_url,
            name="gamma",
            limiters=limiters,
            client=client,
            timeout_s=timeout_s,
            max_attempts=max_attempts,
            backoff_s=backoff_s,
            sleep=sleep,
        )

    async def _list(
        self, path: str, params: Mapping[str, Any], family: str
    ) -> list[dict[str, Any]]:
        body = await self.http.get_json(path, encode_params(params), family=family)
        if not isinstance(body, list):
            got = type(body).__name__
            raise HttpRejected(f"gamma GET {path}: expected a JSON list, got {got}", status=200)
        return [x for x in body if isinstance(x, dict)]

    async def _paged(
        self, path: str, family: str, params: dict[str, Any], max_count: int
    ) -> list[dict[str, Any]]:
        # Offset pagination. A page shorter than asked for is the last one, so `page_size` must
        # stay at or under the server's cap (Gamma caps `limit`; 100 is safe). `max_count` also
        # bounds a server that ignores `offset` and repeats its first page.
        out: list[dict[str, Any]] = []
        offset = int(params.pop("offset", 0) or 0)
        params.pop("limit", None)
        while len(out) < max_count:
            want = min(self.page_size, max_count - len(out))
            page = await self._list(path, {**params, "limit": want, "offset": offset}, family)
            out.extend(page[:want])
            if len(page) < want:
                break
            offset += len(page)
        return out

    async def markets(self, *, max_count: int = 1000, **params: Any) -> list[dict[str, Any]]:
        """``GET /markets`` with ``params`` (bools -> true/false, lists -> repeated keys),
        following ``offset`` pages until a short page or ``max_count`` markets. Raw objects.

        Paging is managed here: a given ``offset`` is the start, a given ``limit`` is ignored
        (``page_size`` is sent; bound the total with ``max_count``)."""
        return await self._paged("/markets", "markets", dict(params), max_count)

    async def events(self, *, max_count: int = 1000, **params: Any) -> list[dict[str, Any]]:
        """``GET /events`` paginated like ``markets``. Raw objects (see ``parse_gamma_event``)."""
        return await self._paged("/events", "events", dict(params), max_count)

    async def _by_keys(
        self, key: str, values: Iterable[str], skipped: Skipped | None, params: Mapping[str, Any]
    ) -> list[BinaryMarket]:
        uniq = list(dict.fromkeys(v for v in values if v))
        found: dict[str, BinaryMarket] = {}
        for i in range(0, len(uniq), self.slug_chunk):
            chunk = uniq[i : i + self.slug_chunk]
            # Gamma's default page is small: ask for at least as many rows as keys (a token-id
            # query returns one market per id pair, never more than len(chunk)).
            query = {**params, key: chunk, "limit": len(chunk)}
            rows = await self._list("/markets", query, "markets")
            markets, bad = parse_gamma_markets(rows)
            for m in markets:
                found.setdefault(m.condition_id, m)
            if bad:
                log.warning("gamma: skipped %d market(s): %s", len(bad), bad[:3])
                if skipped is not None:
                    skipped.extend(bad)
        return list(found.values())

    async def markets_by_slugs(
        self, slugs: Iterable[str], *, skipped: Skipped | None = None, **params: Any
    ) -> list[BinaryMarket]:
        """Markets by slug: one ``GET /markets?slug=a&slug=b...`` per ``slug_chunk`` slugs.

        Unknown slugs are simply absent from the result. Markets that cannot be parsed are left
        out and appended to ``skipped`` (when given) with the reason. Note: Gamma is reported to
        apply ``closed=false`` by default to list queries, so a closed market may not come back.
        """
        return await self._by_keys("slug", slugs, skipped, params)

    async def markets_by_token_ids(
        self, token_ids: Iterable[str], *, skipped: Skipped | None = None, **params: Any
    ) -> list[BinaryMarket]:
        """Markets holding any of ``token_ids`` (``clob_token_ids`` repeated), chunked."""
        return await self._by_keys("clob_token_ids", token_ids, skipped, params)

    async def market_by_slug(self, slug: str) -> BinaryMarket | None:
        """One market by slug; ``None`` when Gamma does not know it.

        Raises:
            NotBinaryMarket / GammaFieldError: the market exists but cannot be used.
        """
        rows = await self._list("/markets", {"slug": slug, "limit": 1}, "markets")
        for row in rows:
            if row.get("slug") == slug:
                return parse_gamma_market(row)
        return None
