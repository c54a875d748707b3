"""The parser with a venue: every market and asset id of every real capture comes out as
``POLYMARKET:<the wire's id>``, everything else exactly as the bare parser gives it."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from clobflow.core import ids
from clobflow.core.events import MarketResolved, NewMarket, PriceChange
from clobflow.venues.polymarket.parsing import MarketParser

FIX = Path(__file__).parents[3] / "fixtures" / "polymarket" / "ws_market"
CAPTURES = sorted(FIX.glob("*.json"))
TS = 1_700_000_000_123_456_789


def _bare(ev: object) -> object:
    """``ev`` with its ids stripped (what the bare parser gives)."""
    r = ids.raw
    if isinstance(ev, PriceChange):
        return msgspec.structs.replace(ev, market=r(ev.market), changes=tuple(
            msgspec.structs.replace(c, asset_id=r(c.asset_id)) for c in ev.changes))
    if isinstance(ev, NewMarket):
        return msgspec.structs.replace(ev, market=r(ev.market), asset_ids=tuple(map(r, ev.asset_ids)))
    if isinstance(ev, MarketResolved):
        return msgspec.structs.replace(ev, market=r(ev.market), asset_ids=tuple(map(r, ev.asset_ids)),
                                       winning_asset_id=r(ev.winning_asset_id))
    return msgspec.structs.replace(ev, market=r(ev.market), asset_id=r(ev.asset_id))


def _all_ids(ev: object) -> list[str]:
    out = [ev.market] if ev.market else []  # type: ignore[attr-defined]
    if isinstance(ev, PriceChange):
        out += [c.asset_id for c in ev.changes]
    elif isinstance(ev, (NewMarket, MarketResolved)):
        out += list(ev.asset_ids)
    else:
        out.append(ev.asset_id)  # type: ignore[attr-defined]
    return out


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_every_id_is_qualified_and_nothing_else_changes(path: Path):
    frame = path.read_bytes()
    bare = MarketParser().parse(frame, TS)
    qualified = MarketParser("polymarket").parse(frame, TS)
    assert len(qualified) == len(bare)
    for q, b in zip(qualified, bare, strict=True):
        every = _all_ids(q)
        assert every and all(i.startswith("POLYMARKET:") for i in every), every
        assert _bare(q) == b
        if hasattr(q, "trade_id"):
            assert q.trade_id == b.trade_id  # derived from the wire's bare id either way


def test_the_memo_hands_out_one_string_per_id_and_stays_bounded():
    p = MarketParser("polymarket")
    frame = (FIX / "book_then_price_change_burst_2026-09.json").read_bytes()
    a, b = p.parse(frame, TS), p.parse(frame, TS)
    pa, pb = (next(e for e in evs if isinstance(e, PriceChange)) for evs in (a, b))
    assert pa.changes[0].asset_id is pb.changes[0].asset_id
    p._q.limit = 2
    for i in range(10):
        p._q(str(i))
    assert len(p._q.table) <= 2
