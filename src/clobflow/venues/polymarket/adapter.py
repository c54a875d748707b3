"""The Polymarket adapter: the one object the engine's registry knows this package by.

Faces: market data (the market channel, ``feed.market_data``), integrity (``PolymarketIntegrity``:
hash-versioned best bid/ask, mirror), instruments (``PolymarketInstruments``: Gamma discovery on
the venue clock, lookup with winners), and the ``market`` channel parser for recorded frames.
Execution: the simulated and shadow clients serve every venue until the signed venue client lands.
"""

from __future__ import annotations

from clobflow.book.trust import TrustPolicy
from clobflow.core.ports import VenueAdapter
from clobflow.venues.polymarket.feed import PolymarketInstruments, feed_config, market_data
from clobflow.venues.polymarket.integrity import PolymarketIntegrity
from clobflow.venues.polymarket.parsing import MarketParser


def _checker(policy: TrustPolicy) -> PolymarketIntegrity:
    return PolymarketIntegrity()


ADAPTER = VenueAdapter(
    venue="polymarket",
    market_data=market_data,
    feed_config=feed_config,
    instruments=PolymarketInstruments,
    checker=_checker,
    parsers={"market": MarketParser},
)
