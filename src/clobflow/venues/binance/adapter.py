"""The Binance adapter: spot trades of the underlying behind the market-data port.

Only the market-data face: no books (so no integrity checker beyond the venue-neutral rules), no
discovery (symbols are named), no execution. It shows what a venue package needs to be wired
by the engine: this module's ``ADAPTER`` plus one line in ``engine/registry.py``.
"""

from __future__ import annotations

from clobflow.core.ports import VenueAdapter
from clobflow.venues.binance.market_data import BinanceFeedConfig, BinanceMarketData

ADAPTER = VenueAdapter(venue="binance", market_data=BinanceMarketData, feed_config=BinanceFeedConfig)
