"""Pure parsing of Binance spot trade-stream frames into ``SpotPriceRow`` (protocol.md §6).

``SpotParser.parse(frame, ts_recv_ns)`` takes one WebSocket text frame (``str`` or ``bytes``) and
the local receive time (int ns) and returns the trade rows it holds (zero or one). It never raises
and never reads a clock: a frame it cannot use is counted in ``rejects`` by reason and skipped.
``decode`` returns the same rows plus what the stream protocol needs to know (trades seen,
including duplicates, and whether the frame was a ``serverShutdown`` notice).

Accepted shapes: the combined-stream wrapper ``{"stream","data"}`` (what ``/stream?streams=``
sends), the bare raw-stream payload (``/ws/<stream>``), the WebSocket-API ``{"event": {...}}``
wrapper (``serverShutdown`` only), and both the current ``trade`` payload and the legacy one with
``b``/``a`` order ids (removed 2024-06-18, ignored).

Other streams, by decision:
- ``@bookTicker`` is ignored (counted in ``ignored["bookTicker"]``): it is a quote, not a trade.
- ``@aggTrade`` is ignored by default (``ignored["aggTrade"]``). With ``agg_trades=True`` it is
  parsed as a trade with ``trade_id = "agg:<a>"``: aggregate ids are a different id space from
  trade ids, and subscribing to both would double-count volume, so it is an explicit choice.
- ``{"result": null, "id": n}`` (an answer to a SUBSCRIBE request) is ignored as ``response``.
- ``serverShutdown`` produces no row; it is counted in ``shutdowns`` and flagged by ``decode``.

Conversions: ``p``/``q`` decimal strings -> integer micro-units (``parse_micros``: a value with a
non-zero digit beyond 6 decimals, e.g. a price of ``0.00000123``, cannot be exact and is rejected
as ``bad_number``); ``T`` (trade time) -> ``ts_venue_ns``: epoch ms, or µs when the stream was
opened with ``timeUnit=MICROSECOND`` (recognised by magnitude); ``m`` -> ``buyer_is_maker``
(``true`` = the buyer was the maker, i.e. the taker **sold**); ``t`` -> ``trade_id`` as a string;
``s`` -> upper-case symbol.

Duplicates: with ``dedupe=True`` (default) a trade whose id is not above the last one seen for its
symbol is dropped and counted in ``duplicates``. Binance trade ids increase strictly per symbol, so
this only removes the overlap of two connections during a make-before-break rotation (see
``protocol``) — and it does so again, identically, when recorded raw frames are replayed.
"""

from __future__ import annotations

from collections import Counter
from typing import NamedTuple

import msgspec

from clobflow.core.numbers import MicrosMemo, NumberFormatError
from clobflow.recorder.tables import SpotPriceRow
from clobflow.venues.binance import schemas as w

VENUE = "binance"
# Prices repeat (a few hundred ticks), sizes mostly do not: a large memo fills with sizes seen
# once (~110 bytes each; 200k entries were the "memory growth" of issue 10). Small and cleared.
_CACHE_LIMIT = 8_192


class RejectReason:
    """Why a frame was skipped (stable strings: exported as metrics)."""

    EMPTY = "empty"
    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    UNKNOWN_EVENT = "unknown_event_type"
    SCHEMA = "schema"
    BAD_NUMBER = "bad_number"
    BAD_TIME = "bad_time"
    VENUE_ERROR = "venue_error"
    OUT_OF_RANGE = "out_of_range"  # price or quantity above ``VALUE_MAX``
    TOO_DEEP = "too_deep"  # JSON nested deeper than the decoder's recursion limit
    INTERNAL_ERROR = "internal_error"  # a parser bug: the last-resort catch-all (never expected)


class Decoded(NamedTuple):
    """What one frame held: ``rows`` (new trades), ``trades`` (trade payloads decoded, including
    duplicates: evidence that the connection is live), ``shutdown`` (a ``serverShutdown``)."""

    rows: list[SpotPriceRow]
    trades: int
    shutdown: bool


_NOTHING = Decoded([], 0, False)


VALUE_MAX = 10**12 * 1_000_000
"""Largest price or quantity accepted (1e12 units): a larger one is a corrupt value."""
TIME_MAX_NS = 4_102_444_800 * 1_000_000_000
"""2100-01-01: a later trade time is corrupt."""


def venue_time_ns(t: int) -> int:
    """Binance epoch time -> ns. Milliseconds by default; microseconds when the stream used
    ``timeUnit=MICROSECOND``; told apart by magnitude (ms stay below 1e14 until year 5138)."""
    if t < 100_000_000_000_000:
        return t * 1_000_000
    if t < 100_000_000_000_000_000:
        return t * 1_000
    return t


class _Reject(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail


class SpotParser:
    """Decodes spot trade-stream frames. One instance per feed; not thread-safe.

    Counters: ``frames``, ``rows`` (emitted), ``trades`` (decoded, incl. duplicates),
    ``duplicates``, ``shutdowns``, ``last_shutdown_ns`` (the notice's venue time ``E`` in ns, or
    the receive time when it has none), ``ignored`` and ``rejects`` (by reason), ``last_reject``.
    """

    def __init__(self, *, agg_trades: bool = False, dedupe: bool = True, venue: str = VENUE) -> None:
        self.agg_trades = agg_trades
        self.dedupe = dedupe
        self.venue = venue
        self._env = msgspec.json.Decoder(w.WEnvelope)
        self._payload = msgspec.json.Decoder(w.WPayload)
        self._head = msgspec.json.Decoder(w.WHead)
        self._micros = MicrosMemo(_CACHE_LIMIT)
        self._last_id: dict[str, int] = {}  # symbol (or "agg:"+symbol) -> last trade id emitted
        self.frames = 0
        self.rows = 0
        self.trades = 0
        self.duplicates = 0
        self.shutdowns = 0
        self.last_shutdown_ns = 0
        self.ignored: Counter[str] = Counter()
        self.rejects: Counter[str] = Counter()
        self.last_reject = ""

    # -- entry points ----------------------------------------------------------------------

    def parse(self, frame: bytes | str, ts_recv_ns: int) -> list[SpotPriceRow]:
        """Decode one frame into spot rows (possibly none). Never raises."""
        return self.decode(frame, ts_recv_ns).rows

    def decode(self, frame: bytes | str, ts_recv_ns: int) -> Decoded:
        """Decode one frame; returns ``Decoded(rows, trades, shutdown)``. Never raises."""
        self.frames += 1
        try:
            return self._decode(frame, ts_recv_ns)
        except _Reject as exc:
            self._reject(exc.reason, exc.detail)
        except NumberFormatError as exc:
            self._reject(RejectReason.BAD_NUMBER, str(exc))
        except RecursionError:
            self._reject(RejectReason.TOO_DEEP, "nesting beyond the decoder's recursion limit")
        except UnicodeDecodeError as exc:  # msgspec raises it for a string that is not UTF-8
            self._reject(RejectReason.INVALID_JSON, str(exc))
        except Exception as exc:  # noqa: BLE001 - a parser bug; never escapes into the feed loop
            self._reject(RejectReason.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
        return _NOTHING

    def stats(self) -> dict:
        return {"frames": self.frames, "rows": self.rows, "trades": self.trades,
                "duplicates": self.duplicates, "shutdowns": self.shutdowns,
                "ignored": dict(self.ignored), "rejects": dict(self.rejects),
                "last_reject": self.last_reject}

    # -- steps -----------------------------------------------------------------------------

    def _decode(self, frame: bytes | str, ts: int) -> Decoded:
        if not frame or not frame.strip():
            raise _Reject(RejectReason.EMPTY, "empty frame")
        try:
            env = self._env.decode(frame)
        except msgspec.ValidationError as exc:  # valid JSON, but not an object (list, string...)
            raise _Reject(RejectReason.NOT_AN_OBJECT, str(exc)) from None
        except msgspec.DecodeError as exc:
            raise _Reject(RejectReason.INVALID_JSON, str(exc)) from None
        if env.data is not msgspec.UNSET:
            payload: bytes | str | msgspec.Raw = env.data  # type: ignore[assignment]
            # Known co-streams are skipped by name, without decoding their payload.
            kind = (env.stream or "").rpartition("@")[2]
            if kind == "bookTicker" or (kind == "aggTrade" and not self.agg_trades):
                self.ignored[kind] += 1
                return _NOTHING
        elif env.event is not msgspec.UNSET:
            payload = env.event  # type: ignore[assignment]
        else:
            payload = frame
        try:
            p = self._payload.decode(payload)
        except msgspec.ValidationError as exc:
            return self._classify(payload, str(exc))
        except msgspec.DecodeError as exc:
            raise _Reject(RejectReason.INVALID_JSON, str(exc)) from None
        t = type(p)
        if t is w.WTrade:
            return self._trade(p.symbol, p.trade_id, str(p.trade_id), p.price, p.qty,  # type: ignore[union-attr]
                               p.trade_time, p.buyer_is_maker, ts, "")  # type: ignore[union-attr]
        if t is w.WAggTrade:
            if not self.agg_trades:
                self.ignored["aggTrade"] += 1
                return _NOTHING
            return self._trade(p.symbol, p.agg_id, f"agg:{p.agg_id}", p.price, p.qty,  # type: ignore[union-attr]
                               p.trade_time, p.buyer_is_maker, ts, "agg:")  # type: ignore[union-attr]
        # serverShutdown
        self.shutdowns += 1
        e = p.event_time  # type: ignore[union-attr]
        e_ns = venue_time_ns(e) if e > 0 else 0
        self.last_shutdown_ns = e_ns if 0 < e_ns < TIME_MAX_NS else ts
        return Decoded([], 0, True)

    def _trade(self, symbol: str, tid: int, trade_id: str, price_s: w.Num, qty_s: w.Num,
               t_ms: int, buyer_is_maker: bool, ts: int, id_space: str) -> Decoded:
        price = self._micros(price_s)
        size = self._micros(qty_s)
        if price <= 0 or size <= 0:
            raise _Reject(RejectReason.BAD_NUMBER, f"non-positive price or qty: {price_s!r} {qty_s!r}")
        if price > VALUE_MAX or size > VALUE_MAX:
            raise _Reject(RejectReason.OUT_OF_RANGE, f"price or qty above 1e12: {price_s!r} {qty_s!r}")
        t_ns = venue_time_ns(t_ms)
        if not 0 < t_ns < TIME_MAX_NS:
            raise _Reject(RejectReason.BAD_TIME, f"trade time {t_ms!r}")
        symbol = symbol.upper()
        self.trades += 1
        if self.dedupe:
            key = id_space + symbol if id_space else symbol
            last = self._last_id.get(key)
            if last is not None and tid <= last:
                self.duplicates += 1
                return Decoded([], 1, False)
            self._last_id[key] = tid
        self.rows += 1
        row = SpotPriceRow(ts, t_ns, self.venue, symbol, price, size, trade_id,
                           buyer_is_maker)
        return Decoded([row], 1, False)

    def _classify(self, payload: bytes | str | msgspec.Raw, detail: str) -> Decoded:
        """A payload that is not a well-formed trade / aggTrade / serverShutdown."""
        try:
            head = self._head.decode(payload)
        except msgspec.ValidationError as exc:
            raise _Reject(RejectReason.NOT_AN_OBJECT, str(exc)) from None
        except msgspec.DecodeError as exc:
            raise _Reject(RejectReason.INVALID_JSON, str(exc)) from None
        e = head.e
        if e is None:
            if head.u is not None and head.b is not None:
                self.ignored["bookTicker"] += 1  # spot bookTicker carries no "e"
                return _NOTHING
            if head.result is not msgspec.UNSET and head.id is not msgspec.UNSET:
                self.ignored["response"] += 1
                return _NOTHING
            if head.code is not msgspec.UNSET:
                raise _Reject(RejectReason.VENUE_ERROR, f"code={head.code!r} msg={head.msg!r}")
            raise _Reject(RejectReason.UNKNOWN_EVENT, "no event type")
        if e == "bookTicker":  # the futures form has "e"
            self.ignored["bookTicker"] += 1
            return _NOTHING
        if e in w.KNOWN_PAYLOAD_EVENTS:
            raise _Reject(RejectReason.SCHEMA, f"{e}: {detail}")
        raise _Reject(RejectReason.UNKNOWN_EVENT, e)

    # -- helpers ---------------------------------------------------------------------------

    def _reject(self, reason: str, detail: str) -> None:
        self.rejects[reason] += 1
        self.last_reject = f"{reason}: {detail[:200]}"
