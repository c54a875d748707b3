"""Polymarket CLOB public REST client; the REST plumbing it stands on lives in ``http``.

Map:
- ``CLOB_PACES``: our pacing per CLOB endpoint family, half of the published limits.
- ``parse_book_response``: pure ``GET /book`` body -> ``BookSnapshot`` (levels best first).
- ``ClobRestClient``: ``book(token_id)`` and ``server_time_s()``; errors are ``HttpRetryable``
  / ``HttpRejected`` as mapped by ``http.RestTransport``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import httpx
import msgspec

from clobflow.core import ids
from clobflow.core.clock import Clock, LiveClock
from clobflow.core.events import BookSnapshot, Levels
from clobflow.core.numbers import NumberFormatError, micros_from_number
from clobflow.venues.polymarket.http import (
    _BODY_EXCERPT,
    HttpRejected,
    Pace,
    RateLimiters,
    RestClientBase,
    Sleep,
)
from clobflow.venues.polymarket.values import SIZE_MAX, epoch_to_ns, level_price_ok

CLOB_BASE_URL = "https://clob.polymarket.com"

# Half of the published limits (protocol.md §4.4), bursts of ~1/10 of the rate.
CLOB_PACES: Mapping[str, Pace] = {
    "book": Pace(750, 10.0, 75),  # CLOB /book: 1,500 / 10 s
    "general": Pace(1000, 10.0, 20),  # CLOB general 9,000 / 10 s; /time and friends
}


# -- /book -----------------------------------------------------------------------------------


def _levels(raw: object, field: str, best_first_desc: bool) -> Levels:
    if not isinstance(raw, list):
        raise ValueError(f"/book field {field!r} is not a list")
    out = []
    for lvl in raw:
        if not isinstance(lvl, dict) or "price" not in lvl or "size" not in lvl:
            raise ValueError(f"/book field {field!r} has a level without price/size: {lvl!r}")
        price, size = micros_from_number(lvl["price"]), micros_from_number(lvl["size"])
        if not level_price_ok(price) or not 0 <= size < SIZE_MAX:  # the same ranges as the WS parser
            raise ValueError(f"/book field {field!r} has a level out of range: {lvl!r}"[:300])
        out.append((price, size))
    # The wire lists bids ascending and asks descending, best LAST (protocol.md §3.1, §7 item 3).
    # Sorting (not just reversing) also survives a venue that changes its mind about the order.
    out.sort(key=lambda pl: pl[0], reverse=best_first_desc)
    return tuple(out)


def _opt_micros(d: Mapping[str, Any], field: str) -> int | None:
    v = d.get(field)
    if v is None or v == "":
        return None
    return micros_from_number(v)


def parse_book_response(d: Any, ts_recv_ns: int) -> BookSnapshot:
    """A CLOB ``GET /book`` body -> ``BookSnapshot`` with levels best first.

    ``timestamp`` is epoch ms as a string (seconds recognised by magnitude); ``tick_size``,
    ``min_order_size`` and ``last_trade_price`` are optional (absent in 2024 captures).

    Raises:
        ValueError: a required field is missing or a number is malformed (the message names it).
    """
    if not isinstance(d, dict):
        raise ValueError(f"/book body is not an object: {type(d).__name__}")
    for field in ("market", "asset_id", "bids", "asks"):
        if field not in d:
            raise ValueError(f"/book body lacks {field!r}")
    try:
        return BookSnapshot(
            market=str(d["market"]),
            asset_id=str(d["asset_id"]),
            bids=_levels(d["bids"], "bids", True),
            asks=_levels(d["asks"], "asks", False),
            hash=str(d.get("hash") or ""),
            ts_venue_ns=epoch_to_ns(d.get("timestamp")),
            ts_recv_ns=ts_recv_ns,
            tick_size=_opt_micros(d, "tick_size"),
            min_order_size=_opt_micros(d, "min_order_size"),
            last_trade_price=_opt_micros(d, "last_trade_price"),
        )
    except NumberFormatError as exc:
        raise ValueError(f"/book body has a malformed number: {exc}") from None


# -- client ----------------------------------------------------------------------------------


class ClobRestClient(RestClientBase):
    """Public (unauthenticated) CLOB REST reads. Use as ``async with`` or call ``aclose()``.

    ``clock`` stamps ``ts_recv_ns`` on books when the caller passes none (default: wall clock).
    ``rate_limiter`` defaults to ``CLOB_PACES``; inject one with a fake clock/sleep in tests.
    """

    def __init__(
        self,
        base_url: str,
        *,
        client: httpx.AsyncClient | None = None,
        timeout_s: float = 10.0,
        rate_limiter: RateLimiters | None = None,
        clock: Clock | None = None,
        max_attempts: int = 3,
        backoff_s: float = 0.25,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._clock: Clock = clock if clock is not None else LiveClock()
        super().__init__(
            base_url,
            name="clob",
            limiters=rate_limiter or RateLimiters(CLOB_PACES, sleep=sleep),
            client=client,
            timeout_s=timeout_s,
            max_attempts=max_attempts,
            backoff_s=backoff_s,
            sleep=sleep,
        )

    async def book(self, token_id: str, *, ts_recv_ns: int | None = None) -> BookSnapshot:
        """``GET /book?token_id=`` as a snapshot, levels best first.

        Raises:
            HttpRetryable: network/timeout/429/5xx after the retries.
            HttpRejected: 4xx (e.g. 404 "No orderbook exists"), an unusable body, or a book for
                another token than the one asked for.
        """
        wire_id = ids.raw(token_id)  # the engine's POLYMARKET:<token> or the bare token
        d = await self.http.get_json("/book", [("token_id", wire_id)], family="book")
        ts = ts_recv_ns if ts_recv_ns is not None else self._clock.now_ns()
        try:
            snap = parse_book_response(d, ts)
        except ValueError as exc:
            body = str(d)[:_BODY_EXCERPT]
            raise HttpRejected(f"clob GET /book: {exc}", status=200, body=body) from None
        if snap.asset_id != wire_id:
            raise HttpRejected(
                f"clob GET /book: asked for {wire_id}, got {snap.asset_id}", status=200
            )
        if wire_id != token_id:  # answer in the form asked
            venue = ids.split(token_id)[0]
            snap = msgspec.structs.replace(snap, market=ids.qualify(venue, snap.market), asset_id=token_id)
        return snap

    async def server_time_s(self) -> int:
        """``GET /time``: the venue's clock as integer unix seconds.

        The real venue answers with a bare integer body (``1765432100``); a JSON number, a
        ``{"time": ...}`` object, or milliseconds (recognised by magnitude) are accepted too.

        Raises:
            HttpRetryable / HttpRejected: as ``book``; ``HttpRejected`` for a non-integer body.
        """
        resp = await self.http.get("/time", (), family="general")
        text = resp.text.strip()
        try:
            value: Any = msgspec.json.decode(text.encode())
            if isinstance(value, dict):
                value = value.get("time", value.get("timestamp"))
            if isinstance(value, str):
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(text)
            seconds = int(value)
        except (msgspec.DecodeError, ValueError, TypeError):
            raise HttpRejected(
                f"clob GET /time: not an integer: {text[:_BODY_EXCERPT]!r}",
                status=resp.status_code,
                body=text[:_BODY_EXCERPT],
            ) from None
        return seconds // 1000 if seconds >= 100_000_000_000 else seconds
