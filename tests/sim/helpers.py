"""Loopback test helpers for the simulator tests (real sockets, no mocks)."""

from __future__ import annotations

import asyncio
import json

from clobflow.book.book_set import BookSet
from clobflow.sim.datasets import Dataset
from clobflow.venues.polymarket.parsing import MarketParser

FROZEN = 1e-6
"""A venue clock speed at which no further frame comes due during a test."""


def replayed_books(ds: Dataset, upto: int) -> BookSet:
    """Books after frames ``[0, upto]`` through the real parser (the independent expectation)."""
    parser, books = MarketParser(), BookSet()
    for fr in ds.frames[: upto + 1]:
        for ev in parser.parse(fr.frame, fr.ts_recv_ns):
            books.on_event(ev)
    return books


async def recv(ws, timeout: float = 3.0) -> str:
    """The next frame as text (fails the test on timeout)."""
    msg = await asyncio.wait_for(ws.recv(), timeout)
    return msg if isinstance(msg, str) else msg.decode()


async def recv_until_quiet(ws, quiet: float = 0.3, limit: int = 1_000_000) -> list[str]:
    """Frames until none arrives for ``quiet`` seconds."""
    out: list[str] = []
    while len(out) < limit:
        try:
            out.append(await recv(ws, quiet))
        except TimeoutError:
            break
    return out


def subscribe_msg(assets, custom: bool = False) -> str:
    return json.dumps({"type": "market", "assets_ids": list(assets), "custom_feature_enabled": custom})


def frozen_start(ds: Dataset, index: int) -> int:
    """A ``start_at_ns`` just after frame ``index``: with a tiny speed nothing else is sent."""
    return ds.frames[index].ts_recv_ns + 1
