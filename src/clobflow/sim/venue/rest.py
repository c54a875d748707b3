"""REST endpoints of the simulated venue (Gamma + CLOB public + simulator control).

``RestApi.handle(method, path, query, body) -> (status, json_obj)`` is plain: no sockets.

=========================== =========================================================================
``GET /markets``            Gamma market list. Filters (all optional, combined with AND):
                            ``slug``, ``id``, ``condition_ids``, ``clob_token_ids`` (each repeatable
                            and/or comma-separated), ``active``/``closed`` (``true``/``false``),
                            ``end_date_min``/``end_date_max`` (ISO-8601), ``tag_slug``, ``tag_id``,
                            ``limit``/``offset`` (integers >= 0). Unknown parameters are ignored,
                            as Gamma does. Order: market start time.
``GET /events``             Gamma events with their ``markets``; ``slug``/``id`` (repeatable),
                            ``active``, ``closed``, ``limit``, ``offset``.
``GET /book``               CLOB book of ``token_id`` (bids ascending, asks descending).
``GET /time``               the venue clock as integer unix seconds.
``GET /trades``             Data API legacy trades (camelCase, ``offset``/``limit``, offset cap -> 400),
``GET /v2/trades``          Data API keyset trades (snake_case, ``cursor``), and
``GET /prices-history``     CLOB price history: all three served by ``history.VenueHistory`` (see
                            there for which rows are real and which derived). ``RestApi.history``
                            is built from the dataset on first use; assign one to configure it.
``GET /_sim/state``         replay position, counters, connections, faults.
``POST /_sim/fault``        JSON body ``{"kind": ..., <params>}`` (see ``faults``).
=========================== =========================================================================

Errors: unknown path -> 404 ``{"error": ...}``; bad query or body -> 400 ``{"error": ...}``;
wrong method -> 405. Market status is live: a market is ``closed`` once its
``market_resolved`` frame was emitted, and stops ``acceptingOrders`` at its end time.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from clobflow.core.markets import BinaryMarket
from clobflow.sim.datasets.base import Dataset, parse_iso_ns
from clobflow.sim.datasets.gamma import gamma_event, gamma_market, tag
from clobflow.sim.venue.books import VenueBooks
from clobflow.sim.venue.faults import FaultError
from clobflow.sim.venue.history import VenueHistory


class BadRequest(ValueError):
    """A query or body the API cannot accept (HTTP 400)."""


class Venue(Protocol):
    """What the REST API needs from the server."""

    dataset: Dataset
    books: VenueBooks

    def now_ns(self) -> int: ...
    def state(self) -> dict: ...
    def inject(self, kind: str, **params: Any) -> dict: ...


def _bool(query: dict[str, list[str]], key: str) -> bool | None:
    vals = query.get(key)
    if not vals:
        return None
    v = vals[-1].strip().lower()
    if v in ("true", "1"):
        return True
    if v in ("false", "0"):
        return False
    raise BadRequest(f"{key} must be true or false, got {vals[-1]!r}")


def _int(query: dict[str, list[str]], key: str) -> int | None:
    vals = query.get(key)
    if not vals:
        return None
    try:
        v = int(vals[-1])
    except ValueError:
        raise BadRequest(f"{key} must be an integer, got {vals[-1]!r}") from None
    if v < 0:
        raise BadRequest(f"{key} must be >= 0, got {v}")
    return v


def _date(query: dict[str, list[str]], key: str) -> int | None:
    vals = query.get(key)
    if not vals:
        return None
    try:
        return parse_iso_ns(vals[-1])
    except ValueError:
        raise BadRequest(f"{key} must be an ISO-8601 date, got {vals[-1]!r}") from None


def _multi(query: dict[str, list[str]], key: str) -> set[str] | None:
    vals = query.get(key)
    if not vals:
        return None
    return {p.strip() for v in vals for p in v.split(",") if p.strip()}


def _page(items: list, query: dict[str, list[str]]) -> list:
    offset = _int(query, "offset") or 0
    limit = _int(query, "limit")
    return items[offset:] if limit is None else items[offset : offset + limit]


class RestApi:
    """Routes requests to handlers over the venue's dataset, books and clock."""

    def __init__(self, venue: Venue) -> None:
        self.venue = venue
        self._history: VenueHistory | None = None

    @property
    def history(self) -> VenueHistory:
        """The history endpoints' data (built from the dataset on first use)."""
        if self._history is None:
            self._history = VenueHistory.from_dataset(self.venue.dataset, clock_ns=self.venue.now_ns)
        return self._history

    @history.setter
    def history(self, value: VenueHistory) -> None:
        self._history = value

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> tuple[int, Any]:
        routes = {
            "/markets": ("GET", self.markets),
            "/events": ("GET", self.events),
            "/book": ("GET", self.book),
            "/time": ("GET", self.time),
            "/trades": ("GET", lambda q, b: self.history.handle("/trades", q)),
            "/v2/trades": ("GET", lambda q, b: self.history.handle("/v2/trades", q)),
            "/prices-history": ("GET", lambda q, b: self.history.handle("/prices-history", q)),
            "/_sim/state": ("GET", self.sim_state),
            "/_sim/fault": ("POST", self.sim_fault),
        }
        route = routes.get(path.rstrip("/") or "/")
        if route is None:
            return 404, {"error": f"not found: {path}"}
        if method != route[0]:
            return 405, {"error": f"{path} accepts {route[0]} only"}
        try:
            return route[1](query, body)
        except BadRequest as exc:
            return 400, {"error": str(exc)}

    # -- Gamma -----------------------------------------------------------------------------

    def _status(self, m: BinaryMarket) -> tuple[bool, dict]:
        """(closed, gamma_market kwargs) of ``m`` at the venue's current time."""
        books = self.venue.books
        winner = books.resolved.get(m.condition_id)
        closed = m.closed or winner is not None
        yes = books.get(m.yes.token_id)
        kw: dict = {"closed": closed, "winner": winner}
        if yes is not None:
            kw["tick_size"] = yes.tick
            kw["best_bid"] = yes.book.best_bid()
            kw["best_ask"] = yes.book.best_ask()
        now = self.venue.now_ns()
        if m.end_ns is not None and now >= m.end_ns:
            kw["accepting_orders"] = False
        return closed, kw

    def _select(self, query: dict[str, list[str]]) -> list[tuple[BinaryMarket, bool, dict]]:
        slugs = _multi(query, "slug")
        ids = _multi(query, "id")
        cids = _multi(query, "condition_ids")
        tokens = _multi(query, "clob_token_ids")
        active = _bool(query, "active")
        closed_f = _bool(query, "closed")
        end_min = _date(query, "end_date_min")
        end_max = _date(query, "end_date_max")
        tag_slug = (query.get("tag_slug") or [None])[-1]
        tag_id = (query.get("tag_id") or [None])[-1]
        out = []
        for m in self.venue.dataset.markets:
            if slugs is not None and m.slug not in slugs:
                continue
            if ids is not None and m.market_id not in ids:
                continue
            if cids is not None and m.condition_id not in cids:
                continue
            if tokens is not None and not tokens.intersection(m.token_ids):
                continue
            if active is not None and m.active != active:
                continue
            if end_min is not None and (m.end_ns is None or m.end_ns < end_min):
                continue
            if end_max is not None and (m.end_ns is None or m.end_ns > end_max):
                continue
            if tag_slug is not None and tag_slug.lower() not in (t.lower() for t in m.tags):
                continue
            if tag_id is not None and tag_id not in (tag(t)["id"] for t in m.tags):
                continue
            closed, kw = self._status(m)
            if closed_f is not None and closed != closed_f:
                continue
            out.append((m, closed, kw))
        return out

    def markets(self, query: dict[str, list[str]], body: bytes) -> tuple[int, Any]:
        rows = _page(self._select(query), query)
        return 200, [gamma_market(m, **kw) for m, _, kw in rows]

    def events(self, query: dict[str, list[str]], body: bytes) -> tuple[int, Any]:
        ev_query = {k: v for k, v in query.items() if k not in ("slug", "id", "limit", "offset")}
        slugs = _multi(query, "slug")
        ids = _multi(query, "id")
        events: dict[str, dict] = {}
        for m, closed, kw in self._select(ev_query):
            ev_slug = m.event_slug or m.slug
            if slugs is not None and ev_slug not in slugs:
                continue
            ev = events.get(ev_slug)
            if ev is None:
                ev = gamma_event(m, closed=closed, markets=[])
                if ids is not None and ev["id"] not in ids:
                    continue
                events[ev_slug] = ev
            ev["markets"].append(gamma_market(m, **kw))
        return 200, _page(list(events.values()), query)

    # -- CLOB ------------------------------------------------------------------------------

    def book(self, query: dict[str, list[str]], body: bytes) -> tuple[int, Any]:
        token = (query.get("token_id") or [""])[-1].strip()
        if not token:
            raise BadRequest("token_id is required")
        b = self.venue.books.rest_book(token, self.venue.now_ns())
        if b is None:
            return 404, {"error": "No orderbook exists for the requested token id"}
        return 200, b

    def time(self, query: dict[str, list[str]], body: bytes) -> tuple[int, Any]:
        return 200, self.venue.now_ns() // 1_000_000_000

    # -- simulator control -----------------------------------------------------------------

    def sim_state(self, query: dict[str, list[str]], body: bytes) -> tuple[int, Any]:
        return 200, self.venue.state()

    def sim_fault(self, query: dict[str, list[str]], body: bytes) -> tuple[int, Any]:
        try:
            spec = json.loads(body or b"null")
        except ValueError:
            raise BadRequest("body must be a JSON object") from None
        if not isinstance(spec, dict) or not isinstance(spec.get("kind"), str):
            raise BadRequest('body must be a JSON object with a "kind" string')
        kind = spec.pop("kind")
        try:
            return 200, self.venue.inject(kind, **spec)
        except FaultError as exc:
            raise BadRequest(str(exc)) from None
