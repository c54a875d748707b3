"""``FrameBuilder``: turns successive full book snapshots into market-channel frames.

The bundled recordings are REST snapshots (one full book per token per poll), not WebSocket
deltas. The builder derives what the venue would have sent:

- the first snapshot of a token -> one ``book`` frame for it;
- every later snapshot of a market -> ONE batched ``price_change`` frame holding every level
  of both tokens whose size changed (``size`` = new absolute size, ``"0"`` = deleted), or no
  frame at all when nothing changed. Each entry's ``best_bid``/``best_ask`` is its token's top
  **after the whole frame**, and its ``hash`` is ``book_hash`` of that resulting book (one hash
  per token per frame).
- ``new_market`` / ``market_resolved`` frames on request.

Entry order is deterministic: token by token (YES first), bids before asks, prices ascending.
All state is integer micro-units.
"""

from __future__ import annotations

from clobflow.core.markets import BinaryMarket
from clobflow.core.numbers import format_micros
from clobflow.recorder.frames import RawFrame
from clobflow.sim.datasets import wire
from clobflow.sim.datasets.gamma import description_of, fee_schedule_json, stable_id

Side = dict[int, int]
"""One side of a book: ``price -> size`` (micro-units, sizes > 0)."""


def _best_first(levels: Side, bids: bool) -> list[tuple[int, int]]:
    return sorted(levels.items(), reverse=bids)


class FrameBuilder:
    """Accumulates ``RawFrame``s (venue ``polymarket``, channel ``market``, conn 0).

    Callers must feed non-decreasing times; ``frames`` is the result.
    """

    def __init__(self) -> None:
        self.frames: list[RawFrame] = []
        self._books: dict[str, tuple[Side, Side]] = {}
        self._fmt: dict[int, str] = {}  # format_micros memo: the hot spot of a conversion

    def _s(self, v: int) -> str:
        s = self._fmt.get(v)
        if s is None:
            if len(self._fmt) > 500_000:
                self._fmt.clear()
            s = self._fmt[v] = format_micros(v)
        return s

    def _emit(self, ts_ns: int, obj: object) -> None:
        self.frames.append(RawFrame(ts_ns, "polymarket", "market", 0, wire.encode(obj)))

    # -- lifecycle -------------------------------------------------------------------------

    def new_market(self, m: BinaryMarket, ts_ns: int) -> None:
        """Emit ``new_market`` for ``m``."""
        self._emit(
            ts_ns,
            wire.new_market_event(
                market_id=m.market_id,
                question=m.question,
                condition_id=m.condition_id,
                slug=m.slug,
                description=description_of(m),
                asset_ids=m.token_ids,
                outcomes=(m.yes.outcome, m.no.outcome),
                event_id=_event_id(m),
                event_slug=m.event_slug or m.slug,
                event_title=m.question,
                tags=m.tags,
                tick_size=m.tick_size,
                ts_ns=ts_ns,
                fees_enabled=m.fee_schedule is not None,
                fee_schedule=fee_schedule_json(m.fee_schedule),
            ),
        )

    def resolved(self, m: BinaryMarket, winning_asset_id: str, ts_ns: int) -> None:
        """Emit ``market_resolved`` for ``m`` with ``winning_asset_id`` as the winner."""
        self._emit(
            ts_ns,
            wire.market_resolved_event(
                market_id=m.market_id,
                condition_id=m.condition_id,
                asset_ids=m.token_ids,
                winning_asset_id=winning_asset_id,
                winning_outcome=m.outcome_of(winning_asset_id),
                tags=m.tags,
                ts_ns=ts_ns,
            ),
        )

    # -- books -----------------------------------------------------------------------------

    def snapshot(self, m: BinaryMarket, ts_ns: int, books: dict[str, tuple[Side, Side]]) -> None:
        """Feed the full books of ``m``'s tokens at ``ts_ns``: ``{token_id: (bids, asks)}``.

        Emits ``book`` frames for tokens seen for the first time, then one ``price_change``
        frame with the changed levels of the others (none if nothing changed). The dicts are
        kept by reference: callers must pass fresh dicts each time.
        """
        entries: list[dict] = []
        for asset_id in m.token_ids:
            new = books.get(asset_id)
            if new is None:
                continue
            nb, na = new
            old = self._books.get(asset_id)
            self._books[asset_id] = new
            bids = _best_first(nb, True)
            asks = _best_first(na, False)
            h = wire.book_hash(asset_id, bids, asks)
            if old is None:
                self._emit(
                    ts_ns,
                    wire.book_event(
                        m.condition_id, asset_id, bids, asks, ts_ns, h,
                        tick_size=m.tick_size, min_order_size=m.min_order_size, neg_risk=m.neg_risk,
                    ),
                )
                continue
            fmt = self._s
            bb = fmt(bids[0][0]) if bids else "0"
            ba = fmt(asks[0][0]) if asks else "0"
            for side, o, n in (("BUY", old[0], nb), ("SELL", old[1], na)):
                if o == n:
                    continue
                for p in sorted(o.keys() | n.keys()):
                    s = n.get(p, 0)
                    if o.get(p, 0) != s:
                        entries.append(wire.change_entry(asset_id, side, fmt(p), fmt(s), h, bb, ba))
        if entries:
            self._emit(ts_ns, wire.price_change_event(m.condition_id, entries, ts_ns))


def _event_id(m: BinaryMarket) -> str:
    return stable_id("event|" + (m.event_slug or m.slug), 6)
