"""``clobflow books FILE``: replay recorded frames offline through the live parser and books and
print the top of book per token after each message."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import msgspec
import typer

from clobflow.cli.errors import UserError
from clobflow.book.book_set import BookSet
from clobflow.book.trust import Reason
from clobflow.cli.format import px, qty
from clobflow.core import ids
from clobflow.core.events import PriceChange
from clobflow.core.numbers import format_micros
from clobflow.replay.source import iter_frames
from clobflow.venues.polymarket.integrity import PolymarketIntegrity, seed_from_complement
from clobflow.venues.polymarket.parsing import MarketParser


class TopRow(msgspec.Struct):
    """One ``--json`` output line. Prices and sizes are decimal strings (exact), ts in ns."""

    ts: int
    asset_id: str
    best_bid: str | None
    best_ask: str | None
    bid_size: str
    ask_size: str
    trust: str
    reason: str


def _seed_mirrors(books: BookSet, ev: PriceChange) -> None:
    """A capture may hold a snapshot for only one token of a market; its complement's book is
    that book's mirror (one matching engine). Seed it before applying the deltas."""
    assets = {c.asset_id for c in ev.changes}
    if len(assets) != 2:
        return
    a, b = sorted(assets)
    for x, y in ((a, b), (b, a)):
        tx = books.get(x)
        if (tx is None or tx.reason == Reason.NO_SNAPSHOT) and books.get(y) is not None:
            seed_from_complement(books, x, y, ev.ts_recv_ns)


def books(
    file: Annotated[Path, typer.Argument(help="Recorded frames: recorder JSONL(.gz), JSONL of messages, or a JSON array.")],
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per token update.")] = False,
    mirror: Annotated[bool, typer.Option(help="Seed a token with no snapshot from its complement's mirror.")] = True,
) -> None:
    """Replay a file of recorded frames through the parser and books; print the top of book."""
    parser = MarketParser()
    bs = BookSet(checker=PolymarketIntegrity())
    enc = msgspec.json.Encoder()
    out = sys.stdout
    n = 0
    try:
        for ts, frame in iter_frames(file):
            n += 1
            for ev in parser.parse(frame, ts):
                if mirror and type(ev) is PriceChange:
                    _seed_mirrors(bs, ev)
                for asset in bs.on_event(ev):
                    tb = bs.get(asset)
                    if tb is None:
                        continue
                    b = tb.book
                    if json_out:
                        row = TopRow(
                            ts, asset,
                            None if b.best_bid() is None else format_micros(b.best_bid()),
                            None if b.best_ask() is None else format_micros(b.best_ask()),
                            format_micros(b.best_bid_size()), format_micros(b.best_ask_size()),
                            tb.state.name.lower(), tb.reason,
                        )
                        out.write(enc.encode(row).decode())
                        out.write("\n")
                    else:
                        out.write(
                            f"{ts:>19d} {ids.raw(asset)[:12]:12s} bid {px(b.best_bid()):>7s} x {qty(b.best_bid_size()):>12s}"
                            f"  ask {px(b.best_ask()):>7s} x {qty(b.best_ask_size()):>12s}  {tb!r}\n"
                        )
    except ValueError as exc:
        raise UserError(str(exc)) from None
    except BrokenPipeError:
        return
    rejects = sum(parser.rejects.values())
    print(
        f"# {n} frames, {parser.events} events, {rejects} rejected"
        + (f" {dict(parser.rejects)}" if rejects else "")
        + f", {bs.counters['bbo_mismatches']} top-of-book mismatches"
        + f", {bs.counters['consumed_levels']} consumed levels removed",
        file=sys.stderr,
    )
