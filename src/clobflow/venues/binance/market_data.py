"""Binance spot trades behind the engine's market-data port (``core.ports.MarketDataClient``).

``BinanceMarketData`` wraps the combined-stream pump (``ws.BinanceTradeStream``): each frame's
trades become ``core.events.Trade`` events (``market`` and ``asset_id`` are the venue-qualified
upper-case symbol, ``BINANCE:ETHUSDT`` (``core.ids``); subscribe/unsubscribe take symbols
qualified or bare, any case), ``side`` the taker's: ``SELL`` when the buyer was the maker) and go to ``on_events``
synchronously, like every venue. Binance names a combined stream's symbols in its URL, so a
change of the subscribed set reconnects with the new set (make-before-break is the pump's job
for rotations, not for set changes: a few trades may be missed across a set change).
There are no books here, hence no snapshots: ``resnapshot`` does nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from clobflow.core import ids
from clobflow.core.clock import Clock, LiveClock
from clobflow.core.events import FeedStatus, Side, Trade
from clobflow.core.ports import OnEvents, OnRaw
from clobflow.recorder.tables import SpotPriceRow
from clobflow.venues.binance.protocol import SpotStreamConfig, normalise_symbols
from clobflow.venues.binance.ws import BINANCE_WS_URL, BinanceTradeStream

VENUE = "binance"
_qualify = ids.Qualifier(VENUE, limit=1_000)


@dataclass(frozen=True)
class BinanceFeedConfig:
    """Where to connect and which symbols to start with (lower or upper case)."""

    venue: ClassVar[str] = VENUE

    url: str = BINANCE_WS_URL
    symbols: tuple[str, ...] = ()
    stream: SpotStreamConfig = field(default_factory=SpotStreamConfig)
    connect_options: dict = field(default_factory=dict)


def trade_of(row: SpotPriceRow) -> Trade:
    """The normalised event of one spot trade row (ids venue-qualified)."""
    side = Side.SELL if row.buyer_is_maker else Side.BUY
    sym = _qualify(row.symbol)
    return Trade(sym, sym, row.price, row.size, side, row.trade_id, row.ts_venue_ns, row.ts_ns)


class BinanceMarketData:
    """Spot trades of the subscribed symbols, as ``Trade`` events (see the module docstring)."""

    def __init__(self, config: BinanceFeedConfig, on_events: OnEvents, on_raw: OnRaw | None = None,
                 clock: Clock | None = None) -> None:
        self.config = config
        self._on_events = on_events
        self._on_raw = on_raw
        self._clock = clock or LiveClock()
        self.symbols: tuple[str, ...] = normalise_symbols(config.symbols) if config.symbols else ()
        self.stream: BinanceTradeStream | None = None
        self._started = False
        self.restarts = 0

    async def start(self) -> None:
        self._started = True
        await self._restart()

    async def stop(self) -> None:
        self._started = False
        if self.stream is not None:
            await self.stream.stop()

    async def subscribe(self, instrument_ids: Iterable[str]) -> int:
        new = [s for s in normalise_symbols(map(ids.raw, instrument_ids)) if s not in self.symbols]
        if new:
            self.symbols += tuple(new)
            await self._restart()
        return len(new)

    async def unsubscribe(self, instrument_ids: Iterable[str]) -> int:
        gone = set(normalise_symbols(map(ids.raw, instrument_ids))) & set(self.symbols)
        if gone:
            self.symbols = tuple(s for s in self.symbols if s not in gone)
            await self._restart()
            named = tuple(sorted(_qualify(s.upper()) for s in gone))
            self._on_events([FeedStatus(named, "unsubscribed", "", self._clock.now_ns())], 0)
        return len(gone)

    async def resnapshot(self, instrument_ids: Iterable[str]) -> int:
        return 0  # trades only: there is no book to fetch again

    def stats(self) -> dict:
        s = self.stream.stats() if self.stream is not None else {}
        return {**s, "symbols": list(self.symbols), "restarts": self.restarts}

    async def _restart(self) -> None:
        """(Re)connect with the current symbol set (none: stay closed)."""
        if self.stream is not None:
            await self.stream.stop()
            self.stream = None
            self.restarts += 1
        if not self._started or not self.symbols:
            return
        self.stream = BinanceTradeStream(self.config.url, self.symbols, on_rows=self._rows, on_raw=self._on_raw,
                                         clock=self._clock, config=self.config.stream,
                                         connect_options=self.config.connect_options)
        await self.stream.start()

    def _rows(self, rows: list[SpotPriceRow]) -> None:
        live = self.stream.protocol.live_conn if self.stream is not None else None
        self._on_events([trade_of(r) for r in rows], live or 0)
