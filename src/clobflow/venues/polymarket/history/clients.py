"""The importer's venue clients, on the shared REST plumbing (``venues.polymarket.http``).

- ``DataApiClient``: Data API ``GET /trades`` (legacy, offset) and ``GET /v2/trades`` (keyset).
- ``PriceHistoryClient``: CLOB ``GET /prices-history``.
- ``ImportClients``: builds those two plus a ``GammaClient`` with conservative paces, one
  ``RateLimiters`` per host sharing an injectable clock and sleep, and bounded retries
  (``RestTransport``: network errors, timeouts, 429 and 5xx are retried with backoff).

Paces are half of the published limits (protocol.md §4.4) and a pace's worst window
(``count + burst``) stays under the limit: Data API ``/trades`` 200 / 10 s -> 100 + 10 burst;
CLOB ``/prices-history`` 1,000 / 10 s -> 500 + 25; Gamma ``/markets`` uses ``GAMMA_PACES``
(150 + 15 of 300). ``max_rps`` lowers every lane further (be gentle on a shared IP).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Self

import httpx

from clobflow.venues.polymarket.history.mapping import price_point
from clobflow.venues.polymarket.clob_rest import CLOB_BASE_URL
from clobflow.venues.polymarket.gamma import GAMMA_BASE_URL, GAMMA_PACES, GammaClient
from clobflow.venues.polymarket.http import (
    HttpRejected,
    Pace,
    RateLimiters,
    RestClientBase,
    Sleep,
    encode_params,
)

DATA_API_BASE_URL = "https://data-api.polymarket.com"

DATA_API_PACES: Mapping[str, Pace] = {
    "trades": Pace(100, 10.0, 10),  # Data API /trades: 200 / 10 s (v1 and v2 share the lane)
    "general": Pace(500, 10.0, 20),  # Data API general: 1,000 / 10 s
}
PRICES_PACES: Mapping[str, Pace] = {
    "prices_history": Pace(500, 10.0, 25),  # CLOB /prices-history: 1,000 / 10 s
    "general": Pace(1000, 10.0, 20),
}


def capped_paces(paces: Mapping[str, Pace], max_rps: float | None) -> dict[str, Pace]:
    """``paces`` with every lane limited to ``max_rps`` requests per second (burst 1)."""
    if max_rps is None:
        return dict(paces)
    if max_rps <= 0:
        raise ValueError(f"max_rps must be > 0, got {max_rps}")
    out = {}
    for k, p in paces.items():
        rate = p.count / p.per_s
        out[k] = p if rate <= max_rps else Pace(1, 1.0 / max_rps, 1)
    return out


@dataclass(frozen=True, slots=True)
class V2Page:
    """One ``/v2/trades`` page: raw rows, and where the next page starts (None: the end)."""

    rows: list[dict[str, Any]]
    next_cursor: str | None
    has_more: bool


class DataApiClient(RestClientBase):
    """Data API reads (``https://data-api.polymarket.com``). Errors as ``RestTransport``:
    ``HttpRetryable`` after the retries, ``HttpRejected`` for 4xx or an unusable body."""

    async def trades_v1(self, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """``GET /trades`` (camelCase list, newest first; ``offset``/``limit`` paging)."""
        body = await self.http.get_json("/trades", encode_params(params), family="trades")
        if not isinstance(body, list):
            got = type(body).__name__
            raise HttpRejected(f"data-api GET /trades: expected a JSON list, got {got}", status=200)
        return [r for r in body if isinstance(r, dict)]

    async def trades_v2(self, params: Mapping[str, Any]) -> V2Page:
        """``GET /v2/trades`` (``{data, pagination{has_more, next_cursor}}``, keyset cursor)."""
        body = await self.http.get_json("/v2/trades", encode_params(params), family="trades")
        data = body.get("data") if isinstance(body, dict) else None
        pag = body.get("pagination") if isinstance(body, dict) else None
        if not isinstance(data, list) or not isinstance(pag, dict):
            raise HttpRejected("data-api GET /v2/trades: expected {data, pagination}", status=200,
                               body=str(body)[:200])
        nxt = pag.get("next_cursor")
        more = bool(pag.get("has_more")) and isinstance(nxt, str) and bool(nxt)
        return V2Page([r for r in data if isinstance(r, dict)], nxt if more else None, more)


class PriceHistoryClient(RestClientBase):
    """CLOB ``/prices-history`` reads (``https://clob.polymarket.com``)."""

    async def prices_history(
        self,
        token_id: str,
        *,
        start_s: int | None = None,
        end_s: int | None = None,
        interval: str | None = None,
        fidelity_min: int | None = None,
    ) -> list[tuple[int, int]]:
        """Points ``(t epoch s, price micros)`` of ``token_id`` in ``[start_s, end_s]`` or over
        ``interval`` (``1m``...``max``), at ``fidelity_min``-minute resolution, oldest first.

        Raises:
            HttpRetryable / HttpRejected: as the transport; ``HttpRejected`` (status 200) for a
                body that is not ``{"history": [{t, p}, ...]}``.
        """
        params = {"market": token_id, "startTs": start_s, "endTs": end_s, "interval": interval,
                  "fidelity": fidelity_min}
        body = await self.http.get_json("/prices-history", encode_params(params), family="prices_history")
        hist = body.get("history") if isinstance(body, dict) else None
        if not isinstance(hist, list):
            raise HttpRejected("clob GET /prices-history: expected {history: [...]}", status=200,
                               body=str(body)[:200])
        try:
            return sorted(price_point(p) for p in hist)
        except ValueError as exc:
            raise HttpRejected(f"clob GET /prices-history: {exc}", status=200) from None


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Base URLs of the three hosts (the real ones by default)."""

    gamma: str = GAMMA_BASE_URL
    clob: str = CLOB_BASE_URL
    data: str = DATA_API_BASE_URL

    @classmethod
    def single(cls, url: str) -> Endpoints:
        """All three on one URL (the local venue simulator serves them from one port)."""
        return cls(url, url, url)


class ImportClients:
    """Gamma, CLOB price-history and Data API clients for one import session.

    ``client`` (an ``httpx.AsyncClient``) is borrowed when given; ``clock_ns``/``sleep`` drive
    pacing and retry backoff (inject fakes in tests). ``async with`` closes what it created.
    """

    def __init__(
        self,
        endpoints: Endpoints = Endpoints(),
        *,
        client: httpx.AsyncClient | None = None,
        max_rps: float | None = None,
        max_attempts: int = 4,
        backoff_s: float = 0.5,
        timeout_s: float = 20.0,
        clock_ns: Callable[[], int] = time.monotonic_ns,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        def limiters(paces: Mapping[str, Pace]) -> RateLimiters:
            return RateLimiters(capped_paces(paces, max_rps), clock_ns=clock_ns, sleep=sleep)

        common = dict(client=client, timeout_s=timeout_s, max_attempts=max_attempts, backoff_s=backoff_s,
                      sleep=sleep)
        self.gamma = GammaClient(endpoints.gamma, rate_limiter=limiters(GAMMA_PACES),
                                 **common)  # type: ignore[arg-type]
        self.data = DataApiClient(endpoints.data, name="data-api", limiters=limiters(DATA_API_PACES),
                                  **common)  # type: ignore[arg-type]
        self.clob = PriceHistoryClient(endpoints.clob, name="clob", limiters=limiters(PRICES_PACES),
                                       **common)  # type: ignore[arg-type]

    async def aclose(self) -> None:
        for c in (self.gamma, self.data, self.clob):
            await c.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
