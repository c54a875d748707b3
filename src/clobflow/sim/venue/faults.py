"""Fault injection for the simulated venue: what can go wrong on a real feed, on demand.

Kinds and parameters (``Faults.validate`` checks them; ``VenueServer.inject`` applies them):

==================== ============================================ ==============================
kind                 params                                        effect
==================== ============================================ ==============================
``disconnect``       ``conn`` (int, optional)                      abort every WS connection (or
                                                                   that one) without a close frame
``stall``            ``seconds`` (number > 0, required)            sockets stay open and PING still
                                                                   gets PONG, but replay events are
                                                                   not delivered (lost, not delayed)
``malformed``        ``count`` (int >= 1, default 3)               send bad frames to every
                                                                   connection, cycling: invalid
                                                                   JSON, unknown event_type,
                                                                   price_change with a bad price
``duplicate``        ``count`` (int >= 1, default 1)               deliver each of the next
                                                                   ``count`` event frames twice
``reorder``          ``count`` (int >= 1, default 1)               swap the next ``count`` pairs of
                                                                   event frames
``tick_size_change`` ``asset_id`` (optional: all known tokens),    emit ``tick_size_change`` and
                     ``new_tick_size`` (str, default "0.001")      switch the venue's tick
==================== ============================================ ==============================

"Event frames" are replay frames that reach at least one connection. ``Faults`` is plain state
(no I/O): the server asks it what to do with each delivery batch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from clobflow.core.numbers import NumberFormatError, parse_micros
from clobflow.sim.datasets import wire

KINDS = ("disconnect", "stall", "malformed", "duplicate", "reorder", "tick_size_change")

Delivery = list[tuple[object, str]]
"""``[(connection, frame_text), ...]`` for one venue frame."""


class FaultError(ValueError):
    """A fault request is invalid (unknown kind, bad parameter)."""


def _count(params: dict, default: int) -> int:
    v = params.get("count", default)
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise FaultError(f"count must be an integer >= 1, got {v!r}")
    return v


def validate(kind: str, params: dict) -> dict:
    """Check ``kind`` and ``params``; return the normalised params.

    Raises:
        FaultError: unknown kind, unknown parameter or bad value.
    """
    allowed = {
        "disconnect": {"conn"},
        "stall": {"seconds"},
        "malformed": {"count"},
        "duplicate": {"count"},
        "reorder": {"count"},
        "tick_size_change": {"asset_id", "new_tick_size"},
    }
    if kind not in allowed:
        raise FaultError(f"unknown fault kind {kind!r}; expected one of {', '.join(KINDS)}")
    extra = set(params) - allowed[kind]
    if extra:
        raise FaultError(f"unknown parameter(s) for {kind}: {', '.join(sorted(extra))}")
    out = dict(params)
    if kind == "disconnect" and out.get("conn") is not None:
        if isinstance(out["conn"], bool) or not isinstance(out["conn"], int):
            raise FaultError(f"conn must be an integer connection id, got {out['conn']!r}")
    elif kind == "stall":
        s = out.get("seconds")
        if isinstance(s, bool) or not isinstance(s, int | float) or s <= 0:
            raise FaultError(f"stall needs seconds > 0, got {s!r}")
        out["seconds"] = float(s)
    elif kind in ("malformed", "duplicate", "reorder"):
        out["count"] = _count(out, 3 if kind == "malformed" else 1)
    elif kind == "tick_size_change":
        new = str(out.get("new_tick_size", "0.001"))
        try:
            tick = parse_micros(new)
        except NumberFormatError:
            raise FaultError(f"new_tick_size is not a decimal: {new!r}") from None
        if not 0 < tick < 1_000_000:
            raise FaultError(f"new_tick_size must lie in (0, 1), got {new!r}")
        out["new_tick_size"] = tick
    return out


def malformed_frame(i: int, asset_id: str, market: str, ts_ns: int) -> str:
    """The ``i``-th bad frame of the cycle: invalid JSON, unknown event type, bad price."""
    k = i % 3
    if k == 0:
        return '{"event_type":"price_change","market":"' + market + '","price_changes":[{'
    if k == 1:
        return wire.encode(
            {"market": market, "asset_id": asset_id, "timestamp": wire.ms(ts_ns), "event_type": "sim_unknown"}
        )
    entry = {"asset_id": asset_id, "price": "abc", "size": "10", "side": "BUY", "hash": "",
             "best_bid": "0", "best_ask": "0"}
    return wire.encode(wire.price_change_event(market, [entry], ts_ns))


class Faults:
    """Active faults and their counters.

    ``applied`` counts injected faults by kind; ``lost_frames`` counts event frames dropped by a
    stall, ``duplicated``/``reordered`` the frames actually affected.
    """

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now  # monotonic seconds (the event loop's clock)
        self.applied: Counter[str] = Counter()
        self.stall_until = 0.0
        self.duplicate_left = 0
        self.reorder_left = 0
        self._held: Delivery | None = None
        self.lost_frames = 0
        self.duplicated = 0
        self.reordered = 0

    def stalled(self) -> bool:
        return self._now() < self.stall_until

    def start_stall(self, seconds: float) -> None:
        self.stall_until = max(self.stall_until, self._now() + seconds)

    def active(self) -> dict:
        """What is in force now (for ``/_sim/state``)."""
        out: dict = {}
        left = self.stall_until - self._now()
        if left > 0:
            out["stall_seconds_left"] = round(left, 3)
        if self.duplicate_left:
            out["duplicate_left"] = self.duplicate_left
        if self.reorder_left:
            out["reorder_left"] = self.reorder_left
        if self._held is not None:
            out["reorder_holding"] = True
        return out

    def transform(self, delivery: Delivery) -> Delivery:
        """What to actually send for one event frame's ``delivery`` (possibly nothing, possibly
        an earlier held frame too). An empty delivery passes through untouched."""
        if not delivery:
            return delivery
        if self.stalled():
            self.lost_frames += 1
            return []
        if self.duplicate_left > 0:
            self.duplicate_left -= 1
            self.duplicated += 1
            delivery = [d for pair in zip(delivery, delivery, strict=True) for d in pair]
        if self.reorder_left > 0:
            if self._held is None:
                self._held = delivery
                return []
            held, self._held = self._held, None
            self.reorder_left -= 1
            self.reordered += 1
            return delivery + held
        return delivery

    def flush(self) -> Delivery:
        """A frame still held for reordering (the data ended first); clears it."""
        held, self._held = self._held, None
        return held or []
