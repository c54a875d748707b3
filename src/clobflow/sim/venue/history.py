"""History endpoints of the simulated venue: Data API trades (legacy ``/trades`` and keyset
``/v2/trades``) and CLOB ``/prices-history``, so the importer can be tested over loopback.

``VenueHistory.handle(path, query) -> (status, json)`` is plain (no sockets); ``rest.RestApi``
routes the three paths here.

Where the rows come from (``VenueHistory.from_dataset``) -- which is real and which is derived:

=============================================== ==============================================
source                                          what it gives
=============================================== ==============================================
``fixtures/polymarket/rest/``                   REAL rows, served VERBATIM in their own API
``data_api_trades_v1_sanitized.json``           (4 camelCase rows, 2024 election market) and
``data_api_v2_trades_2026-09.json``             (2 snake_case rows, 2026-09); each is also served
                                                key-renamed in the other API (asset <->
                                                token_id, camelCase <-> snake_case; values kept).
``data/pm-btc15m-tob-1s/gabagool22_trades/``    One wallet's REAL fills (time, outcome, size,
                                                price) on the dataset's 15-minute windows, some
                                                hundreds per window: the many-pages case.
                                                DERIVED: token/condition ids (the dataset's own),
                                                ``transactionHash`` (sha256 of file and line), the
                                                profile fields. Only for windows in the dataset.
``/prices-history`` points                      DERIVED from the dataset's quotes: the mid of the
                                                token's top of book as of each sample time (the
                                                venue's own sampling rule is not public).
=============================================== ==============================================

Endpoint behaviour (protocol.md §3.1, §3.3; limits configurable per instance):

- ``GET /trades`` (legacy): newest first; ``user``, ``market`` (condition ids, comma list),
  ``side``, ``start``/``end`` (epoch s, inclusive; ignored when ``v1_time_filters`` is False,
  as some reports say the real one does), ``limit`` 0..``v1_max_limit``, ``offset``
  0..``offset_cap``. An offset past the cap is a **400**, like the real API (reported at ~3,500).
- ``GET /v2/trades``: ``{"data", "pagination": {limit, offset, has_more, next_cursor}}``; keyset
  ``cursor`` (opaque; carries the page size, which then wins over ``limit``); ``condition`` /
  ``condition_id`` / ``conditionId``; ``start``/``end`` honoured with ``user`` only (as
  documented); sending ``offset`` is a 400; malformed ids are a 400 naming the value.
- ``takerOnly``/``taker_only``, ``filterType``/``filterAmount`` and ``eventId`` are accepted and
  ignored (every simulated row is one taker fill).
- ``GET /prices-history``: ``market`` (token id), ``startTs``/``endTs`` (inclusive) or
  ``interval`` (1m/1h/6h/1d/1w/max, relative to the venue clock), ``fidelity`` minutes (default
  1). A range longer than ``prices_max_range_s`` is a 400 (the real limit is reported near 15
  days; our message is invented). An unknown token is a 404 (not verified against the venue).
- ``fail_next(count, status)``: the next ``count`` history requests answer ``status`` (default
  503) with ``{"error": ...}``: transient outages for retry tests. ``requests`` counts calls.

The history is static: every row, regardless of the replay clock.
"""

from __future__ import annotations

import base64
import bisect
import csv
import gzip
import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clobflow.core.numbers import format_micros, parse_micros
from clobflow.sim.datasets.base import Dataset

NS = 1_000_000_000
GABAGOOL_WALLET = "0x6031b6eed1c97e853c6e0f03ad3ce3529351f96d"
FIXTURE_FILES = ("data_api_trades_v1_sanitized.json", "data_api_v2_trades_2026-09.json")
_INTERVALS = {"1m": 60, "1h": 3600, "6h": 6 * 3600, "1d": 86_400, "1w": 7 * 86_400}
_HEX40 = re.compile(r"^0x[0-9a-fA-F]{40}$")
_HEX64 = re.compile(r"^0x[0-9a-fA-F]{64}$")
_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")

Reply = tuple[int, Any]


class _Bad(ValueError):
    """A query the endpoint refuses (HTTP 400)."""


def repo_root() -> Path:
    import clobflow

    return Path(clobflow.__file__).resolve().parents[2]


# -- trade records ---------------------------------------------------------------------------


def to_snake(row: dict) -> dict:
    """A legacy camelCase Data API row with v2's snake_case keys (``asset`` -> ``token_id``)."""
    return {("token_id" if k == "asset" else _SNAKE.sub("_", k).lower()): v for k, v in row.items()}


def to_camel(row: dict) -> dict:
    """The inverse of ``to_snake`` for the Data API's keys."""
    out = {}
    for k, v in row.items():
        if k == "token_id":
            out["asset"] = v
        else:
            head, *rest = k.split("_")
            out[head + "".join(p.title() for p in rest)] = v
    return out


class HistTrade:
    """One Data API trade: the camelCase row plus the fields the filters read."""

    __slots__ = ("camel", "condition", "seq", "side", "ts", "wallet", "wire")

    def __init__(self, seq: int, camel: dict, wire: str = "v1") -> None:
        self.seq = seq
        self.camel = camel
        self.wire = wire  # the API the row was captured from ("v1" / "v2"), for the docs only
        self.ts = int(camel["timestamp"])
        self.wallet = str(camel.get("proxyWallet", "")).lower()
        self.condition = str(camel.get("conditionId", "")).lower()
        self.side = str(camel.get("side", ""))

    @property
    def order(self) -> tuple[int, int]:
        """Sort key, newest first (ties: the later record first)."""
        return (-self.ts, -self.seq)


def fixture_trades(rest_dir: Path) -> list[dict]:
    """The real Data API fixture rows as camelCase dicts (v2 rows renamed)."""
    out: list[dict] = []
    for name in FIXTURE_FILES:
        path = rest_dir / name
        if not path.exists():
            continue
        rows = json.loads(path.read_text())
        out.extend(r if "proxyWallet" in r else to_camel(r) for r in rows)
    return out


def _utc_s(text: str) -> int:
    """``"2025-12-26 10:30:19"`` (UTC) -> epoch seconds (sliced by hand: strptime is slow)."""
    t = text.strip()
    dt = datetime(int(t[0:4]), int(t[5:7]), int(t[8:10]), int(t[11:13]), int(t[14:16]), int(t[17:19]),
                  tzinfo=UTC)
    return int(dt.timestamp())


def wallet_fills(ds: Dataset, fills_dir: Path) -> list[dict]:
    """gabagool22's recorded fills on ``ds``'s 15-minute windows as camelCase Data API rows
    (oldest first). Ids and hashes are derived (see the module docstring)."""
    by_slug = {m.slug: m for m in ds.markets}
    starts = [m.start_ns // NS for m in ds.markets if m.slug.startswith("btc-updown-15m-") and m.start_ns]
    if not starts or not fills_dir.is_dir():
        return []
    # A file named for day D holds windows from D and the first hours of D+1.
    days = {datetime.fromtimestamp(s - d, UTC).strftime("%Y%m%d") for s in starts for d in (0, 86_400)}
    out: list[dict] = []
    slug_of: dict[str, str] = {}  # TargetTime text -> slug (one parse per window, not per row)
    for path in sorted(fills_dir.glob("user_data_*.csv.gz")):
        if path.name[10:18] not in days:
            continue
        with gzip.open(path, "rt", newline="") as f:
            for line_no, r in enumerate(csv.DictReader(f), start=2):
                target = r["TargetTime"]
                slug = slug_of.get(target)
                if slug is None:
                    slug = slug_of[target] = f"btc-updown-15m-{_utc_s(target)}"
                m = by_slug.get(slug)
                if m is None:
                    continue
                yes = r["trade_side"] == m.yes.outcome
                tx = hashlib.sha256(f"clobflow-sim-tx|{path.name}|{line_no}".encode()).hexdigest()
                out.append({
                    "proxyWallet": GABAGOOL_WALLET, "side": "BUY",
                    "asset": m.yes.token_id if yes else m.no.token_id, "conditionId": m.condition_id,
                    "size": float(r["quantity"]), "price": float(r["price"]),
                    "timestamp": _utc_s(r["timestamp"]), "title": m.question, "slug": m.slug,
                    "icon": "", "eventSlug": m.event_slug or m.slug, "outcome": r["trade_side"],
                    "outcomeIndex": 0 if yes else 1, "name": "gabagool22", "pseudonym": "",
                    "bio": "", "profileImage": "", "profileImageOptimized": "",
                    "transactionHash": "0x" + tx,
                })
    out.sort(key=lambda d: d["timestamp"])
    return out


# -- price series ----------------------------------------------------------------------------


def mid_series(ds: Dataset) -> dict[str, tuple[list[int], list[int]]]:
    """Per token: (times in epoch s, mid in micro-units) at every change of its top of book."""
    out: dict[str, tuple[list[int], list[int]]] = {}

    def add(asset: str, t: int, bid: int, ask: int) -> None:
        if bid <= 0 or ask <= 0:
            return
        ts, mids = out.setdefault(asset, ([], []))
        mid = (bid + ask) // 2
        if ts and ts[-1] == t:
            mids[-1] = mid
        elif not mids or mids[-1] != mid:
            ts.append(t)
            mids.append(mid)

    for fr in ds.frames:
        try:
            obj = json.loads(fr.frame)
        except ValueError:
            continue
        t = fr.ts_recv_ns // NS
        for ev in obj if isinstance(obj, list) else [obj]:
            kind = ev.get("event_type") if isinstance(ev, dict) else None
            if kind == "book":
                bids = [parse_micros(x["price"]) for x in ev.get("bids", [])]
                asks = [parse_micros(x["price"]) for x in ev.get("asks", [])]
                add(ev["asset_id"], t, max(bids, default=0), min(asks, default=0))
            elif kind == "price_change":
                for c in ev.get("price_changes", []):
                    add(c["asset_id"], t, parse_micros(c["best_bid"]), parse_micros(c["best_ask"]))
    return out


# -- the endpoints ---------------------------------------------------------------------------


def _one(query: dict[str, list[str]], *keys: str) -> str | None:
    for k in keys:
        vals = query.get(k)
        if vals:
            return vals[-1].strip()
    return None


def _int(query: dict[str, list[str]], key: str, lo: int, hi: int | None, default: int | None) -> int | None:
    v = _one(query, key)
    if v is None or v == "":
        return default
    try:
        n = int(v)
    except ValueError:
        raise _Bad(f"{key} must be an integer, got {v!r}") from None
    if n < lo or (hi is not None and n > hi):
        raise _Bad(f"{key} must be in [{lo}, {hi if hi is not None else 'inf'}], got {n}")
    return n


def _ids(query: dict[str, list[str]], pattern: re.Pattern, *keys: str) -> set[str] | None:
    raw = [v for k in keys for v in query.get(k, [])]
    if not raw:
        return None
    ids = {p.strip().lower() for v in raw for p in v.split(",") if p.strip()}
    for i in ids:
        if not pattern.match(i):
            raise _Bad(f"malformed id {i!r}")
    return ids


class VenueHistory:
    """Data API trades and CLOB price history over a fixed set of rows (see module docstring).

    Args:
        trades: camelCase Data API rows (any order; served newest first).
        prices: per token, ``(times_s, mids)`` as ``mid_series`` returns.
        clock_ns: the venue clock (for ``interval`` on ``/prices-history``).
        offset_cap: largest ``offset`` the legacy ``/trades`` accepts.
        v1_max_limit / v2_max_limit: largest page sizes accepted.
        v1_time_filters: whether legacy ``/trades`` honours ``start``/``end``.
        prices_max_range_s: longest ``startTs``..``endTs`` span accepted.
    """

    def __init__(
        self,
        trades: Iterable[dict] = (),
        prices: dict[str, tuple[list[int], list[int]]] | Callable[[], dict] | None = None,
        *,
        clock_ns: Callable[[], int] = lambda: 0,
        offset_cap: int = 3000,
        v1_max_limit: int = 500,
        v2_max_limit: int = 1000,
        v1_time_filters: bool = True,
        prices_max_range_s: int = 15 * 86_400,
    ) -> None:
        self.trades = sorted((HistTrade(i, d) for i, d in enumerate(trades)), key=lambda t: t.order)
        self._prices = prices if prices is not None else {}
        self.clock_ns = clock_ns
        self.offset_cap = offset_cap
        self.v1_max_limit = v1_max_limit
        self.v2_max_limit = v2_max_limit
        self.v1_time_filters = v1_time_filters
        self.prices_max_range_s = prices_max_range_s
        self.requests: Counter[str] = Counter()
        self._failures: list[int] = []

    @classmethod
    def from_dataset(
        cls, ds: Dataset, *, fixtures: bool = True, fills: bool = True, root: Path | None = None, **kw: Any
    ) -> VenueHistory:
        """Fixture rows + the dataset's recorded wallet fills + the dataset's mid prices.

        The fills are read from ``$CLOBFLOW_DATA_DIR``/``<repo>/data`` at call time; price
        series are computed on the first ``/prices-history`` request.
        """
        from clobflow.sim.datasets import data_dir

        root = root or repo_root()
        rows: list[dict] = []
        if fixtures:
            rows += fixture_trades(root / "fixtures" / "polymarket" / "rest")
        if fills:
            rows += wallet_fills(ds, data_dir() / "pm-btc15m-tob-1s" / "gabagool22_trades")
        return cls(rows, lambda: mid_series(ds), **kw)

    @property
    def prices(self) -> dict[str, tuple[list[int], list[int]]]:
        if callable(self._prices):
            self._prices = self._prices()
        return self._prices

    def fail_next(self, count: int = 1, status: int = 503) -> None:
        """Answer the next ``count`` requests with ``status`` (a transient outage)."""
        self._failures.extend([status] * count)

    def handle(self, path: str, query: dict[str, list[str]]) -> Reply:
        self.requests[path] += 1
        if self._failures:
            return self._failures.pop(0), {"error": "simulated outage"}
        handler = {"/trades": self.trades_v1, "/v2/trades": self.trades_v2,
                   "/prices-history": self.prices_history}[path]
        try:
            return handler(query)
        except _Bad as exc:
            return 400, {"error": str(exc)}

    # -- trades ------------------------------------------------------------------------------

    def _select(self, query: dict[str, list[str]], *, v2: bool, time_filters: bool) -> list[HistTrade]:
        users = _ids(query, _HEX40, "user")
        conds = _ids(query, _HEX64, *(("condition", "condition_id", "conditionId") if v2 else ("market",)))
        side = _one(query, "side")
        if side not in (None, "", "BUY", "SELL"):
            raise _Bad(f"side must be BUY or SELL, got {side!r}")
        start = _int(query, "start", 0, None, None) if time_filters else None
        end = _int(query, "end", 0, None, None) if time_filters else None
        if v2 and users is None:
            start = end = None  # honoured on the user shape only (as documented)
        return [
            t for t in self.trades
            if (users is None or t.wallet in users)
            and (conds is None or t.condition in conds)
            and (not side or t.side == side)
            and (not start or t.ts >= start)
            and (not end or t.ts <= end)
        ]

    def trades_v1(self, query: dict[str, list[str]]) -> Reply:
        limit = _int(query, "limit", 0, self.v1_max_limit, 100)
        offset = _int(query, "offset", 0, None, 0)
        if offset > self.offset_cap:  # type: ignore[operator]
            raise _Bad(f"offset {offset} exceeds the maximum of {self.offset_cap}")
        rows = self._select(query, v2=False, time_filters=self.v1_time_filters)
        return 200, [t.camel for t in rows[offset : offset + limit]]  # type: ignore[operator]

    def trades_v2(self, query: dict[str, list[str]]) -> Reply:
        if "offset" in query:
            raise _Bad("offset is not a parameter of /v2/trades: follow pagination.next_cursor")
        limit = _int(query, "limit", 1, self.v2_max_limit, 100)
        rows = self._select(query, v2=True, time_filters=True)
        cursor = _one(query, "cursor")
        if cursor:
            try:
                c = json.loads(base64.urlsafe_b64decode(cursor.encode()))
                anchor, limit = (-int(c["t"]), -int(c["s"])), int(c["l"])
            except (ValueError, KeyError, TypeError):
                raise _Bad(f"invalid cursor {cursor[:40]!r}") from None
            rows = rows[bisect.bisect_right([t.order for t in rows], anchor) :]
        page = rows[:limit]
        more = len(rows) > len(page)
        nxt = None
        if more and page:
            raw = json.dumps({"t": page[-1].ts, "s": page[-1].seq, "l": limit}).encode()
            nxt = base64.urlsafe_b64encode(raw).decode()
        return 200, {
            "data": [to_snake(t.camel) for t in page],
            "pagination": {"limit": limit, "offset": 0, "has_more": more, "next_cursor": nxt},
        }

    # -- prices ------------------------------------------------------------------------------

    def prices_history(self, query: dict[str, list[str]]) -> Reply:
        token = _one(query, "market")
        if not token:
            raise _Bad("market (a token id) is required")
        fidelity = _int(query, "fidelity", 1, None, 1)
        interval = _one(query, "interval")
        start = _int(query, "startTs", 0, None, None)
        end = _int(query, "endTs", 0, None, None)
        if interval and (start is not None or end is not None):
            raise _Bad("'interval' and 'startTs'/'endTs' are mutually exclusive")
        series = self.prices.get(token)
        if series is None:
            return 404, {"error": "market not found"}
        times, mids = series
        if interval:
            now = self.clock_ns() // NS
            if interval == "max":
                start, end = 0, now
            elif interval in _INTERVALS:
                start, end = now - _INTERVALS[interval], now
            else:
                raise _Bad(f"interval must be one of {', '.join([*_INTERVALS, 'max'])}")
        elif start is None or end is None:
            raise _Bad("startTs and endTs (or interval) are required")
        elif end - start > self.prices_max_range_s:
            raise _Bad("invalid filters: 'startTs' and 'endTs' interval is too long")
        step = fidelity * 60  # type: ignore[operator]
        out = []
        if times:
            first = max(start, times[0])
            s = -(-first // step) * step  # the first sample time at or after `first`
            while s <= min(end, times[-1]):
                i = bisect.bisect_right(times, s) - 1
                out.append({"t": s, "p": float(format_micros(mids[i]))})
                s += step
        return 200, {"history": out}
