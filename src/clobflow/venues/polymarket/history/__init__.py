"""Historical importer: Gamma markets, CLOB price history and Data API trades, resumable.

Map:

- ``state``: ``ImportState``, the checkpoint file (JSON, atomic, locked) with per-job cursors,
  committed output lengths and the dedupe keys already imported; ``job_key``.
- ``runner``: ``JobRun``, the exactly-once page commit shared by the jobs; ``ProgressEvent``,
  ``JobResult``.
- ``mapping``: pure venue-object -> row functions (``trade_row`` for both Data API casings,
  ``market_window_row``, ``gamma_winner``, ``price_point``).
- ``clients``: ``DataApiClient``, ``PriceHistoryClient`` and ``ImportClients`` (with Gamma), on
  the shared ``RestTransport`` / ``RateLimiters`` at half the published limits.
- ``markets`` / ``prices`` / ``trades``: the three jobs (``import_markets``, ``import_prices``,
  ``import_trades``), each documenting its cursor and the venue quirks it works around.

Usage::

    with ImportState.open(out / "import-state.json") as state:
        async with ImportClients() as api:
            await import_trades(state, api.data, TradeQuery(markets=(cid,)), out_dir=out, sink=sink)

Running the same call again continues where an interrupted run stopped, and returns at once
when the job is finished; no row is written twice.
"""

from clobflow.venues.polymarket.history.clients import (
    DATA_API_BASE_URL,
    DATA_API_PACES,
    PRICES_PACES,
    DataApiClient,
    Endpoints,
    ImportClients,
    PriceHistoryClient,
)
from clobflow.venues.polymarket.history.mapping import gamma_winner, market_window_row, price_point, trade_row
from clobflow.venues.polymarket.history.markets import MarketQuery, import_markets
from clobflow.venues.polymarket.history.prices import PriceQuery, import_prices, prices_path
from clobflow.venues.polymarket.history.runner import JobResult, ProgressEvent
from clobflow.venues.polymarket.history.state import ImportState, StateError, job_key
from clobflow.venues.polymarket.history.trades import TradeQuery, import_trades

__all__ = [
    "DATA_API_BASE_URL",
    "DATA_API_PACES",
    "PRICES_PACES",
    "DataApiClient",
    "Endpoints",
    "ImportClients",
    "ImportState",
    "JobResult",
    "MarketQuery",
    "PriceHistoryClient",
    "PriceQuery",
    "ProgressEvent",
    "StateError",
    "TradeQuery",
    "gamma_winner",
    "import_markets",
    "import_prices",
    "import_trades",
    "job_key",
    "market_window_row",
    "price_point",
    "prices_path",
    "trade_row",
]
