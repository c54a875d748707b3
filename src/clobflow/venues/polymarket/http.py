"""REST plumbing shared by the Polymarket HTTP clients (``clob_rest``, ``gamma``).

Map:
- ``Pace`` / ``RateLimiter`` / ``RateLimiters``: async pacing per endpoint family (GCRA, the
  token bucket expressed as a "theoretical arrival time"), with an injectable clock and sleep.
- ``RestTransport``: GET with bounded retry + exponential backoff and error mapping:
  timeouts, connection errors, 429 and 5xx -> ``HttpRetryable`` (a ``Retryable``) once the
  attempts are spent; any other non-2xx -> ``HttpRejected`` (a ``VenueRejected``) at once.
  A 2xx body that is not JSON is ``HttpRejected`` too (``get_json``).
- ``encode_params``: query parameters as pairs (bools as ``true``/``false``, lists repeated).
- ``RestClientBase``: what a client built on one ``RestTransport`` shares: ``self.http``,
  ``async with`` and ``aclose()``.

Rate limits (protocol.md §4.4) are Cloudflare sliding windows that *delay* rather than reject,
so each client paces itself at half the published figure (``CLOB_PACES``, ``GAMMA_PACES``) and
never relies on the venue's throttle.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self

import httpx
import msgspec

from clobflow.core.errors import Retryable, VenueRejected

Sleep = Callable[[float], Awaitable[Any]]
Params = Sequence[tuple[str, str]]

_BODY_EXCERPT = 200


# -- rate limiting ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pace:
    """At most ``count`` requests per ``per_s`` seconds on average, ``burst`` at once.

    Worst case inside any ``per_s`` window is ``count + burst``: keep that under the venue's limit.
    """

    count: int
    per_s: float
    burst: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or self.per_s <= 0 or self.burst < 1:
            raise ValueError(f"invalid pace {self!r}")


class RateLimiter:
    """One pacing lane (GCRA). ``acquire()`` reserves the next slot, then sleeps until it.

    Reserving before sleeping makes waiters FIFO without a lock (asyncio is single-threaded and
    nothing awaits between reading and writing the state). A cancelled waiter forfeits its slot,
    which only ever makes us slower, never faster than the pace.
    """

    __slots__ = ("_burst_ns", "_clock_ns", "_interval_ns", "_sleep", "_tat_ns", "pace")

    def __init__(
        self,
        pace: Pace,
        *,
        clock_ns: Callable[[], int] = time.monotonic_ns,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.pace = pace
        self._interval_ns = int(round(pace.per_s * 1e9)) // pace.count
        self._burst_ns = self._interval_ns * (pace.burst - 1)
        self._clock_ns = clock_ns
        self._sleep = sleep
        self._tat_ns: int | None = None  # theoretical arrival time of the next request

    async def acquire(self) -> float:
        """Wait for a slot. Returns the seconds waited (0.0 when a slot was free)."""
        now = self._clock_ns()
        tat = now if self._tat_ns is None or self._tat_ns < now else self._tat_ns
        allowed_at = tat - self._burst_ns
        self._tat_ns = tat + self._interval_ns
        if allowed_at <= now:
            return 0.0
        wait_s = (allowed_at - now) / 1e9
        await self._sleep(wait_s)
        return wait_s


class RateLimiters:
    """One ``RateLimiter`` per endpoint family, sharing a clock and a sleep function.

    A family without its own pace uses the ``"general"`` one (which must then exist).
    """

    def __init__(
        self,
        paces: Mapping[str, Pace],
        *,
        clock_ns: Callable[[], int] = time.monotonic_ns,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._lanes = {k: RateLimiter(p, clock_ns=clock_ns, sleep=sleep) for k, p in paces.items()}

    def lane(self, family: str) -> RateLimiter:
        lane = self._lanes.get(family) or self._lanes.get("general")
        if lane is None:
            raise KeyError(f"no rate limit for endpoint family {family!r}")
        return lane

    async def acquire(self, family: str) -> float:
        return await self.lane(family).acquire()


# -- errors and transport --------------------------------------------------------------------


class HttpRetryable(Retryable):
    """A transient HTTP failure (network, timeout, 429, 5xx). ``status`` is None for network."""

    def __init__(self, message: str, *, status: int | None = None, url: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.url = url


class HttpRejected(VenueRejected):
    """The venue answered with a non-retryable status, or with a body we cannot use."""

    def __init__(self, message: str, *, status: int, body: str = "", url: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body
        self.url = url


def encode_params(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Query parameters as ``(key, value)`` pairs: bools as ``true``/``false``, lists and
    tuples as repeated keys (Gamma's ``slug=a&slug=b``), ``None`` dropped."""
    out: list[tuple[str, str]] = []
    for key, value in params.items():
        values = value if isinstance(value, (list, tuple)) else (value,)
        for v in values:
            if v is None:
                continue
            out.append((key, ("true" if v else "false") if isinstance(v, bool) else str(v)))
    return out


class RestTransport:
    """GET JSON from one base URL with pacing, bounded retries and error mapping.

    ``max_attempts`` counts the first try. Backoff doubles from ``backoff_s`` up to
    ``max_backoff_s``; a numeric ``Retry-After`` on a 429/503 is honoured up to that cap.
    An injected ``client`` is borrowed (never closed here); otherwise one is created and
    ``aclose()`` closes it.
    """

    def __init__(
        self,
        base_url: str,
        *,
        name: str,
        limiters: RateLimiters,
        client: httpx.AsyncClient | None = None,
        timeout_s: float = 10.0,
        max_attempts: int = 3,
        backoff_s: float = 0.25,
        max_backoff_s: float = 5.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self.base_url = base_url.rstrip("/")
        self.name = name
        self.limiters = limiters
        self._timeout = httpx.Timeout(timeout_s)
        self._own_client = client is None
        self._client = client if client is not None else httpx.AsyncClient(timeout=self._timeout)
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._sleep = sleep
        self.requests = 0  # attempts sent, for tests and metrics
        self.retries = 0

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()

    async def get(self, path: str, params: Params = (), *, family: str) -> httpx.Response:
        """GET ``path``; returns the 2xx response.

        Raises:
            HttpRetryable: still failing transiently after ``max_attempts``.
            HttpRejected: a 3xx/4xx other than 429 (no retry: the same request would fail again).
        """
        url = self.base_url + path
        last: HttpRetryable | None = None
        for attempt in range(1, self._max_attempts + 1):
            await self.limiters.acquire(family)
            self.requests += 1
            retry_after: float | None = None
            try:
                resp = await self._client.get(url, params=list(params), timeout=self._timeout)
            except httpx.TimeoutException as exc:
                what = f"timeout ({type(exc).__name__})"
                last = HttpRetryable(f"{self.name} GET {path}: {what}", url=url)
            except httpx.TransportError as exc:
                last = HttpRetryable(f"{self.name} GET {path}: network error ({exc!r})", url=url)
            else:
                status = resp.status_code
                if 200 <= status < 300:
                    return resp
                body = resp.text[:_BODY_EXCERPT]
                if status == 429 or status >= 500:
                    last = HttpRetryable(
                        f"{self.name} GET {path}: HTTP {status}: {body}", status=status, url=url
                    )
                    retry_after = _retry_after_s(resp.headers.get("retry-after"))
                else:
                    raise HttpRejected(
                        f"{self.name} GET {path}: HTTP {status}: {body}",
                        status=status,
                        body=body,
                        url=url,
                    )
            if attempt < self._max_attempts:
                self.retries += 1
                delay = min(self._backoff_s * 2 ** (attempt - 1), self._max_backoff_s)
                if retry_after is not None:
                    delay = min(max(delay, retry_after), self._max_backoff_s)
                await self._sleep(delay)
        assert last is not None
        raise last

    async def get_json(self, path: str, params: Params = (), *, family: str) -> Any:
        """GET and decode a JSON body. Raises as ``get``; an undecodable 2xx body is
        ``HttpRejected`` (a proxy error page is not something a retry fixes reliably)."""
        resp = await self.get(path, params, family=family)
        try:
            return msgspec.json.decode(resp.content)
        except msgspec.DecodeError:
            body = resp.text[:_BODY_EXCERPT]
            raise HttpRejected(
                f"{self.name} GET {path}: invalid JSON body: {body!r}",
                status=resp.status_code,
                body=body,
                url=self.base_url + path,
            ) from None


def _retry_after_s(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP-date: ignore it and use our own backoff


# -- client base -----------------------------------------------------------------------------


class RestClientBase:
    """A client over one ``RestTransport`` (``self.http``). Use as ``async with`` or call
    ``aclose()``, which closes the transport (and the httpx client when it owns it)."""

    def __init__(
        self,
        base_url: str,
        *,
        name: str,
        limiters: RateLimiters,
        client: httpx.AsyncClient | None,
        timeout_s: float,
        max_attempts: int,
        backoff_s: float,
        sleep: Sleep,
    ) -> None:
        self.http = RestTransport(
            base_url,
            name=name,
            limiters=limiters,
            client=client,
            timeout_s=timeout_s,
            max_attempts=max_attempts,
            backoff_s=backoff_s,
            sleep=sleep,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()
