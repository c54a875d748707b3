"""Pure parsing of Polymarket market-channel frames into clobflow events.

``MarketParser.parse(frame, ts_recv_ns)`` takes one WebSocket frame (``bytes`` or ``str``) and the
local receive time, and returns a list of events. It never raises and never reads a clock: a frame
it cannot use is counted in ``rejects`` by reason and skipped; inside an array, one bad event does
not lose the good ones.

Plain-text frames (``PONG``, ``NO NEW ASSETS``) produce no event; they are counted in ``text``.

Conversions (protocol.md §1.3): every number arrives as a decimal string and becomes integer
micro-units; ``timestamp`` is epoch milliseconds (seconds are recognised by magnitude). Book
levels come bids ascending / asks descending on the wire and leave here best first.

Ids: ``MarketParser(venue="polymarket")`` qualifies every market and asset id
(``POLYMARKET:<id>``, ``core.ids``) through a bounded memo, so the hot path builds no string per
event; the default (``venue=""``) keeps the wire's bare ids (the recorder's tables, the golden
files, the simulator's own tests). Derived trade ids hash the wire's bare asset id either way.

The parser memoises decimal-string conversions in a bounded per-instance table: the conversion is
a pure function, prices repeat constantly, and the lookup is several times cheaper than parsing.
"""

from __future__ import annotations

from collections import Counter

import msgspec

from clobflow.core.ids import Qualifier
from clobflow.core.events import (
    BestBidAsk,
    BookSnapshot,
    LevelChange,
    MarketResolved,
    NewMarket,
    PriceChange,
    Side,
    TickSizeChange,
    Trade,
)
from clobflow.core.numbers import ONE, MicrosMemo, NumberFormatError
from clobflow.venues.polymarket import schemas as w
from clobflow.venues.polymarket.frames import split_top_level_array
from clobflow.venues.polymarket.values import (
    FEE_BPS_MAX,
    SIZE_MAX,
    BadTimestamp,
    derive_trade_id,
    epoch_to_ns,
    level_price_ok,
    top_ok,
)

__all__ = ["MarketParser", "RejectReason", "derive_trade_id", "epoch_to_ns", "split_top_level_array"]

_SIDES = {"BUY": Side.BUY, "SELL": Side.SELL, "buy": Side.BUY, "sell": Side.SELL}
_EMPTY_BID = frozenset({"", "0"})
# An ask can never rest at 1.0 (prices lie in [tick, 1-tick]); "1" and "0" both mean "no ask".
_EMPTY_ASK = frozenset({"", "0", "1"})

# Prices repeat (a few hundred ticks), sizes mostly do not: a large memo fills with sizes seen
# once (~110 bytes each; 200k entries were the "memory growth" of issue 10). Small and cleared.
_CACHE_LIMIT = 8_192
_MISS = object()  # a memo miss where ``None`` is a valid value
_TS_MAX_MS = "4102444800000"  # 2100-01-01 in epoch ms (values.TS_MAX_NS), compared as text


class RejectReason:
    """Why a frame or event was skipped (stable strings: exported as metrics)."""

    EMPTY = "empty"
    INVALID_JSON = "invalid_json"
    UNKNOWN_EVENT = "unknown_event_type"
    SCHEMA = "schema"
    BAD_NUMBER = "bad_number"
    BAD_SIDE = "bad_side"
    NOT_AN_OBJECT = "not_an_object"
    OUT_OF_RANGE = "out_of_range"  # a number outside its field's range (values.py)
    BAD_TIME = "bad_time"  # a timestamp that is not finite or outside [1970, 2100)
    TOO_DEEP = "too_deep"  # JSON nested deeper than the decoder's recursion limit
    INTERNAL_ERROR = "internal_error"  # a parser bug: the last-resort catch-all (never expected)


class _Reject(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail


class MarketParser:
    """Decodes market-channel frames. One instance per feed; not thread-safe.

    Counters: ``frames``, ``events``, ``text`` (plain-text frames), ``rejects`` (by reason),
    ``last_reject`` (a short description of the latest one, for logs).
    """

    def __init__(self, venue: str = "") -> None:
        self.venue = venue
        self._q = Qualifier(venue)  # wire id -> engine id (identity when venue is "")
        self._decoder = msgspec.json.Decoder(w.WireFrame)
        # Per-type decoders: decoding straight into the right Struct skips the tagged-union
        # lookahead (the tag is usually the *last* key), a third of the decode cost.
        self._typed = {
            tag: msgspec.json.Decoder(cls)
            for cls in (w.WBook, w.WPriceChange, w.WLastTrade, w.WTickSizeChange, w.WBestBidAsk,
                        w.WNewMarket, w.WMarketResolved)
            for tag in (cls.__struct_config__.tag,)
        }
        self._typed_b = {tag.encode(): dec for tag, dec in self._typed.items()}  # for bytes frames
        self._raw_list_decoder = msgspec.json.Decoder(list[msgspec.Raw])
        self._raw_decoder = msgspec.json.Decoder(msgspec.Raw)
        self._one_decoder = msgspec.json.Decoder(w.WireEvent)
        self._any_decoder = msgspec.json.Decoder(w.WAny)
        self._micros = MicrosMemo(_CACHE_LIMIT)
        # Validated memos for ``price_changes`` entries (``_entry_numbers`` fills them): level
        # price, size, venue best bid and best ask (``None`` = absent or "no level").
        self._pm: dict[object, int] = {}
        self._sm: dict[object, int] = {}
        self._bm: dict[object, int | None] = {None: None}
        self._am: dict[object, int | None] = {None: None}
        self.frames = 0
        self.events = 0
        self.text = 0
        self.rejects: Counter[str] = Counter()
        self.last_reject = ""

    # -- numbers ---------------------------------------------------------------------------

    def _opt_bid(self, s: object) -> int | None:
        """A venue best bid: ``None`` for "no bid" (empty or 0); else strictly inside (0, 1)."""
        if s is None or (type(s) is str and s in _EMPTY_BID):
            return None
        v = self._micros(s)
        if v == 0:
            return None
        if not 0 < v < ONE:
            raise _Reject(RejectReason.OUT_OF_RANGE, f"best_bid {s!r}")
        return v

    def _opt_ask(self, s: object) -> int | None:
        """A venue best ask: ``None`` for "no ask" (empty, 0 or 1); else strictly inside (0, 1)."""
        if s is None or (type(s) is str and s in _EMPTY_ASK):
            return None
        v = self._micros(s)
        if v == 0 or v == ONE:
            return None
        if not 0 < v < ONE:
            raise _Reject(RejectReason.OUT_OF_RANGE, f"best_ask {s!r}")
        return v

    def _price(self, s: object, what: str) -> int:
        """A level or trade price, or a tick size: strictly inside (0, 1) (``values``)."""
        v = self._micros(s)
        if not level_price_ok(v):
            raise _Reject(RejectReason.OUT_OF_RANGE, f"{what} {s!r} outside (0, 1)")
        return v

    def _size(self, s: object, what: str) -> int:
        v = self._micros(s)
        if not 0 <= v < SIZE_MAX:
            raise _Reject(RejectReason.OUT_OF_RANGE, f"{what} {s!r} outside [0, 1e12)")
        return v

    _tick = _price  # a tick size has the same range as a price (values.tick_ok)

    def _old_tick(self, s: object) -> int:
        """``old_tick_size``: 0 when the venue does not say, else a tick size."""
        v = self._micros(s)
        return v if v == 0 else self._tick(s, "old_tick_size")

    def _last_price(self, s: object) -> int:
        """A snapshot's ``last_trade_price``: in [0, 1] (0 when the token never traded)."""
        v = self._micros(s)
        if not 0 <= v <= ONE:
            raise _Reject(RejectReason.OUT_OF_RANGE, f"last_trade_price {s!r}")
        return v

    def _fee_bps(self, s: object) -> int | None:
        """``fee_rate_bps``: whole basis points in [0, 10000] (a fraction is truncated, as the
        venue's own integer field would be)."""
        if s is None or s == "":
            return None
        v = self._micros(s)
        if not 0 <= v <= FEE_BPS_MAX * 1_000_000:
            raise _Reject(RejectReason.OUT_OF_RANGE, f"fee_rate_bps {s!r}")
        return v // 1_000_000

    # -- entry point -----------------------------------------------------------------------

    def parse(self, frame: bytes | str, ts_recv_ns: int) -> list:
        """Decode one frame into events (possibly none). Never raises.

        Every failure has its own reason; ``internal_error`` is the last resort for a parser
        bug (an exception nobody anticipated), counted so it shows up in metrics.
        """
        self.frames += 1
        try:
            if not frame:
                self._reject(RejectReason.EMPTY, "empty frame")
                return []
            first = frame[0]
            if first not in (123, 91, "{", "["):  # '{' or '[' as bytes or str
                stripped = frame.lstrip()
                if not stripped or stripped[0] not in (123, 91, "{", "["):
                    return self._text(frame)
                frame = stripped
            decoded = None
            if first == 123 or first == "{":
                # Find the tag without decoding: '"event_type":"' cannot occur unescaped inside a
                # JSON string, so the last occurrence is a key of this object or a nested one; a
                # wrong guess only costs a retry with the union decoder below.
                if type(frame) is bytes:
                    i = frame.rfind(b'"event_type":"')
                    if i >= 0:
                        dec = self._typed_b.get(frame[i + 14 : frame.find(b'"', i + 14)])
                    else:
                        dec = None
                else:
                    i = frame.rfind('"event_type":"')
                    dec = self._typed.get(frame[i + 14 : frame.find('"', i + 14)]) if i >= 0 else None
                if dec is not None:
                    try:
                        decoded = dec.decode(frame)
                    except (msgspec.DecodeError, UnicodeDecodeError):
                        decoded = None
            if decoded is None:
                try:
                    decoded = self._decoder.decode(frame)
                except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
                    return self._parse_slowly(frame, ts_recv_ns)
            out: list = []
            try:
                if type(decoded) is w.WPriceChange:  # the hot path: no dispatch
                    out.append(self._price_change(decoded, ts_recv_ns))
                elif type(decoded) is list:
                    for item in decoded:
                        self._convert(item, ts_recv_ns, out)
                else:
                    self._convert(decoded, ts_recv_ns, out)
            except (_Reject, ValueError):
                # Redo event by event so one bad event does not lose the rest of an array.
                return self._parse_slowly(frame, ts_recv_ns)
            self.events += len(out)
            return out
        except RecursionError:
            self._reject(RejectReason.TOO_DEEP, "nesting beyond the decoder's recursion limit")
        except Exception as exc:  # noqa: BLE001 - the contract is "never raises"
            self._reject(RejectReason.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
        return []

    def _text(self, frame: bytes | str) -> list:
        """A frame that is not JSON: plain text (``PONG``, ``NO NEW ASSETS``) is counted in
        ``text``; bytes that are not UTF-8 text are rejected as ``invalid_json``."""
        if type(frame) is bytes:
            try:
                frame.decode("utf-8")
            except UnicodeDecodeError as exc:
                self._reject(RejectReason.INVALID_JSON, f"not UTF-8: {exc}")
                return []
        self.text += 1
        return []

    def _parse_slowly(self, frame: bytes | str, ts_recv_ns: int) -> list:
        """Per-event decoding after the fast path failed: keep the good events, count the bad."""
        is_array = frame[0] in (91, "[")
        try:
            if is_array:
                items = self._raw_list_decoder.decode(frame)
            else:
                items = [self._raw_decoder.decode(frame)]
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            self._reject(RejectReason.INVALID_JSON, str(exc))
            return []
        except RecursionError:
            if not is_array:
                raise
            # One event nested too deep must not lose its neighbours: split without recursing.
            items = split_top_level_array(frame)
            if items is None:
                self._reject(RejectReason.INVALID_JSON, "unbalanced array")
                return []
        out: list = []
        for item in items:
            try:
                ev = self._one_decoder.decode(item)
            except msgspec.ValidationError as exc:
                self._reject(self._classify(item), str(exc))
                continue
            except (msgspec.DecodeError, UnicodeDecodeError) as exc:  # msgspec raises the latter
                self._reject(RejectReason.INVALID_JSON, str(exc))  # for a string that is not UTF-8
                continue
            except RecursionError:
                self._reject(RejectReason.TOO_DEEP, "event nested beyond the recursion limit")
                continue
            mark = len(out)
            try:
                self._convert(ev, ts_recv_ns, out)
            except _Reject as exc:
                del out[mark:]
                self._reject(exc.reason, f"{type(ev).__name__}: {exc.detail}")
            except BadTimestamp as exc:
                del out[mark:]
                self._reject(RejectReason.BAD_TIME, str(exc))
            except ValueError as exc:  # NumberFormatError and int() of a huge digit string
                del out[mark:]
                self._reject(RejectReason.BAD_NUMBER, str(exc))
        self.events += len(out)
        return out

    def _classify(self, item: msgspec.Raw) -> str:
        try:
            any_ = self._any_decoder.decode(item)
        except msgspec.ValidationError:
            return RejectReason.NOT_AN_OBJECT
        except (msgspec.DecodeError, UnicodeDecodeError):
            return RejectReason.INVALID_JSON
        except RecursionError:
            return RejectReason.TOO_DEEP
        if any_.event_type is None or any_.event_type not in w.KNOWN_EVENT_TYPES:
            return RejectReason.UNKNOWN_EVENT
        return RejectReason.SCHEMA

    def _reject(self, reason: str, detail: str) -> None:
        self.rejects[reason] += 1
        self.last_reject = f"{reason}: {detail[:200]}"

    # -- wire -> events --------------------------------------------------------------------

    def _convert(self, ev: object, ts: int, out: list) -> None:
        t = type(ev)
        if t is w.WPriceChange:
            out.append(self._price_change(ev, ts))  # type: ignore[arg-type]
        elif t is w.WBook:
            out.append(self._book(ev, ts))  # type: ignore[arg-type]
        elif t is w.WLastTrade:
            out.append(self._trade(ev, ts))  # type: ignore[arg-type]
        elif t is w.WTickSizeChange:
            out.append(
                TickSizeChange(
                    market=self._q(ev.market),  # type: ignore[attr-defined]
                    asset_id=self._q(ev.asset_id),  # type: ignore[attr-defined]
                    old_tick_size=self._old_tick(ev.old_tick_size),  # type: ignore[attr-defined]
                    new_tick_size=self._tick(ev.new_tick_size, "new_tick_size"),  # type: ignore[attr-defined]
                    ts_venue_ns=epoch_to_ns(ev.timestamp),  # type: ignore[attr-defined]
                    ts_recv_ns=ts,
                )
            )
        elif t is w.WBestBidAsk:
            out.append(
                BestBidAsk(
                    market=self._q(ev.market),  # type: ignore[attr-defined]
                    asset_id=self._q(ev.asset_id),  # type: ignore[attr-defined]
                    best_bid=self._opt_bid(ev.best_bid),  # type: ignore[attr-defined]
                    best_ask=self._opt_ask(ev.best_ask),  # type: ignore[attr-defined]
                    ts_venue_ns=epoch_to_ns(ev.timestamp),  # type: ignore[attr-defined]
                    ts_recv_ns=ts,
                )
            )
        elif t is w.WNewMarket:
            out.append(self._new_market(ev, ts))  # type: ignore[arg-type]
        elif t is w.WMarketResolved:
            out.append(
                MarketResolved(
                    market=self._q(ev.market),  # type: ignore[attr-defined]
                    market_id=ev.id,  # type: ignore[attr-defined]
                    asset_ids=self._q.many(ev.assets_ids or ()),  # type: ignore[attr-defined]
                    winning_asset_id=self._q(ev.winning_asset_id),  # type: ignore[attr-defined]
                    winning_outcome=ev.winning_outcome,  # type: ignore[attr-defined]
                    ts_venue_ns=epoch_to_ns(ev.timestamp),  # type: ignore[attr-defined]
                    ts_recv_ns=ts,
                )
            )

    def _price_change(self, ev: w.WPriceChange, ts: int) -> PriceChange:
        # The hot path: inline memo lookups (a method call per number would double the cost).
        qt = self._q.table
        q = self._q
        changes = []
        entries = ev.price_changes
        if entries is not None:
            pm, sm, bm, am = self._pm, self._sm, self._bm, self._am
            for c in entries:
                side = _SIDES.get(c.side)
                if side is None:
                    raise _Reject(RejectReason.BAD_SIDE)
                # Memos of *validated* values: a hit is a number already known to be in range.
                price = pm.get(c.price)
                size = sm.get(c.size)
                bb = bm.get(c.best_bid, _MISS)
                ba = am.get(c.best_ask, _MISS)
                if price is None or size is None or bb is _MISS or ba is _MISS:
                    price, size, bb, ba = self._entry_numbers(c, price, size, bb, ba)
                x = c.asset_id
                changes.append(LevelChange(qt.get(x) or q(x), side, price, size, bb, ba, c.hash))
        elif ev.asset_id is not None and ev.changes is not None:
            for c in ev.changes:
                side = _SIDES.get(c.side)
                if side is None:
                    raise _Reject(RejectReason.BAD_SIDE)
                price, size = self._price(c.price, "price"), self._size(c.size, "size")
                changes.append(LevelChange(q(ev.asset_id), side, price, size, None, None, ev.hash))
        elif ev.asset_id is not None and ev.price is not None and ev.size is not None:
            side = _SIDES.get(ev.side or "")
            if side is None:
                raise _Reject(RejectReason.BAD_SIDE)
            price, size = self._price(ev.price, "price"), self._size(ev.size, "size")
            changes.append(LevelChange(q(ev.asset_id), side, price, size, None, None, ev.hash))
        else:
            raise _Reject(RejectReason.SCHEMA)
        t = ev.timestamp
        if type(t) is str and len(t) == 13 and t.isdigit() and t.isascii() and t < _TS_MAX_MS:
            tv = int(t) * 1_000_000  # the usual case: epoch milliseconds, before 2100
        else:
            tv = epoch_to_ns(t)
        x = ev.market
        return PriceChange(qt.get(x) or q(x), tuple(changes), tv, ts)

    def _entry_numbers(
        self, c: w.WChange, price: int | None, size: int | None, bb: object, ba: object
    ) -> tuple[int, int, int | None, int | None]:
        """A ``price_changes`` entry's price, size and venue top after a memo miss: only the
        fields that missed (``None`` / ``_MISS``) are converted and range-checked, in the order
        and with the reject reasons of a full conversion (raises ``_Reject`` or ``ValueError``);
        the validated strings are remembered so the next entry with them is a dict lookup.
        (Converting all four on any miss cost the real recording ~15 %: its sizes rarely repeat.)
        """
        mp, ms, mb, ma = price is None, size is None, bb is _MISS, ba is _MISS
        micros = self._micros
        if mp:
            price = micros(c.price)
        if ms:
            size = micros(c.size)
        if mb:
            bb = self._opt_bid(c.best_bid)
        if ma:
            ba = self._opt_ask(c.best_ask)
        if not 0 < price < ONE or not 0 <= size < SIZE_MAX:  # type: ignore[operator]
            raise _Reject(RejectReason.OUT_OF_RANGE, f"price_changes entry {c!r}")
        if mp:
            _remember(self._pm, c.price, price)
        if ms:
            _remember(self._sm, c.size, size)
        if mb:
            _remember(self._bm, c.best_bid, bb)
        if ma:
            _remember(self._am, c.best_ask, ba)
        return price, size, bb, ba  # type: ignore[return-value]

    def _book(self, ev: w.WBook, ts: int) -> BookSnapshot:
        price, size = self._price, self._size
        bids = ev.bids if ev.bids is not None else (ev.buys or [])
        asks = ev.asks if ev.asks is not None else (ev.sells or [])
        # Wire order is bids ascending / asks descending, but never rely on it: sort.
        b = sorted(((price(lv.price, "bid"), size(lv.size, "bid size")) for lv in bids), reverse=True)
        a = sorted((price(lv.price, "ask"), size(lv.size, "ask size")) for lv in asks)
        return BookSnapshot(
            market=self._q(ev.market),
            asset_id=self._q(ev.asset_id),
            bids=tuple(b),
            asks=tuple(a),
            hash=ev.hash,
            ts_venue_ns=epoch_to_ns(ev.timestamp),
            ts_recv_ns=ts,
            tick_size=None if ev.tick_size in (None, "") else self._tick(ev.tick_size, "tick_size"),
            min_order_size=None
            if ev.min_order_size in (None, "")
            else size(ev.min_order_size, "min_order_size"),
            last_trade_price=None
            if ev.last_trade_price in (None, "")
            else self._last_price(ev.last_trade_price),
        )

    def _trade(self, ev: w.WLastTrade, ts: int) -> Trade:
        side = _SIDES.get(ev.side)
        if side is None:
            raise _Reject(RejectReason.BAD_SIDE)
        size = self._size(ev.size, "trade size")
        if size == 0:
            raise _Reject(RejectReason.OUT_OF_RANGE, "a trade of size 0")
        return Trade(
            market=self._q(ev.market),
            asset_id=self._q(ev.asset_id),
            price=self._price(ev.price, "trade price"),
            size=size,
            side=side,
            trade_id=derive_trade_id(
                ev.asset_id, ev.side, str(ev.price), str(ev.size), str(ev.timestamp), ev.transaction_hash
            ),
            ts_venue_ns=epoch_to_ns(ev.timestamp),
            ts_recv_ns=ts,
            fee_rate_bps=self._fee_bps(ev.fee_rate_bps),
            transaction_hash=ev.transaction_hash,
        )

    def _new_market(self, ev: w.WNewMarket, ts: int) -> NewMarket:
        ids = ev.assets_ids or ev.clob_token_ids or []
        return NewMarket(
            market=self._q(ev.market),
            market_id=ev.id,
            slug=ev.slug,
            question=ev.question,
            asset_ids=self._q.many(ids),
            outcomes=tuple(ev.outcomes or ()),
            ts_venue_ns=epoch_to_ns(ev.timestamp),
            ts_recv_ns=ts,
            tick_size=None
            if ev.order_price_min_tick_size in (None, "")
            else self._tick(ev.order_price_min_tick_size, "order_price_min_tick_size"),
            active=ev.active,
            tags=tuple(ev.tags or ()),
        )


def _remember(memo: dict, key: object, value: object) -> None:
    """Memoise a validated wire string (bounded: a flood of distinct sizes never grows it; the
    top memos keep their ``None`` -> ``None`` entry for an absent field)."""
    if type(key) is str:
        if len(memo) >= _CACHE_LIMIT:
            keep_none = None in memo
            memo.clear()
            if keep_none:
                memo[None] = None
        memo[key] = value
