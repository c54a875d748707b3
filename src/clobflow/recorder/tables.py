"""The normalised tables the recorder derives from raw frames (and converters and the importer
fill from other sources). One row Struct per table; its field order is the column order.

Units, as everywhere: prices and sizes are integer micro-units (Int64); times are integer ns since
the epoch (``ts_ns`` = local receive time, ``ts_venue_ns`` = the venue's own timestamp, 0 when the
source has none). Text ids are kept as the venue sends them. These tables are *derived*: the raw
frames stay the source of truth and the tables can be rebuilt from them.

| table | one row per | ordered (ClickHouse) by |
|---|---|---|
| ``orderbook_snapshots`` | full book of one token at a moment (venue ``book``, or periodic) | venue, market, asset_id, ts_ns |
| ``orderbook_deltas`` | one level change (``size`` = new absolute size, 0 = removed) | venue, market, asset_id, ts_ns |
| ``trades`` | one trade print (public stream, Data API history, a wallet's fills) | venue, market, ts_ns |
| ``spot_prices`` | one spot trade of the underlying (Binance) | venue, symbol, ts_ns |
| ``market_windows`` | one market (window) as discovered | venue, asset, window_start_ns |
"""

from __future__ import annotations

import msgspec


class BookSnapshotRow(msgspec.Struct, frozen=True, array_like=True):
    ts_ns: int
    ts_venue_ns: int
    venue: str
    market: str
    asset_id: str
    bid_prices: list[int]  # best first
    bid_sizes: list[int]
    ask_prices: list[int]  # best first
    ask_sizes: list[int]
    source: str  # "venue" (a book message) | "periodic" (the recorder's own snapshot) | "converted"
    hash: str = ""


class BookDeltaRow(msgspec.Struct, frozen=True, array_like=True):
    ts_ns: int
    ts_venue_ns: int
    venue: str
    market: str
    asset_id: str
    side: str  # "bid" | "ask"
    price: int
    size: int  # new absolute size; 0 = level removed
    best_bid: int | None = None  # the venue's top of book after the change, when it sent one
    best_ask: int | None = None
    hash: str = ""


class TradeRow(msgspec.Struct, frozen=True, array_like=True):
    ts_ns: int
    ts_venue_ns: int
    venue: str
    market: str
    asset_id: str
    price: int
    size: int
    side: str  # taker side "BUY" | "SELL" (a wallet's fill: that wallet's side)
    trade_id: str
    source: str  # "ws" | "data_api" | "converted"
    wallet: str = ""  # proxy wallet, when known
    outcome: str = ""
    tx_hash: str = ""
    fee_rate_bps: int | None = None


class SpotPriceRow(msgspec.Struct, frozen=True, array_like=True):
    ts_ns: int
    ts_venue_ns: int  # trade time at the exchange
    venue: str  # "binance"
    symbol: str  # upper case, e.g. "BTCUSDT"
    price: int
    size: int
    trade_id: str
    buyer_is_maker: bool | None = None


class MarketWindowRow(msgspec.Struct, frozen=True, array_like=True):
    discovered_ns: int
    venue: str
    event_id: str
    market: str  # condition id (Polymarket) / ticker (Kalshi)
    slug: str
    asset: str  # "btc", "eth", ... ("" when not an up/down window)
    yes_token: str
    no_token: str
    window_start_ns: int
    window_end_ns: int
    tick_size: int
    question: str = ""
    winner: str = ""  # winning token id once resolved, "" before


TABLES: dict[str, type[msgspec.Struct]] = {
    "orderbook_snapshots": BookSnapshotRow,
    "orderbook_deltas": BookDeltaRow,
    "trades": TradeRow,
    "spot_prices": SpotPriceRow,
    "market_windows": MarketWindowRow,
}
"""Table name -> row type. Sinks create every table from these definitions."""


def columns(table: str) -> tuple[str, ...]:
    return TABLES[table].__struct_fields__
