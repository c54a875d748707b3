"""clobflow: a streaming trading engine for prediction markets (Polymarket first, Kalshi second)."""

__version__ = "0.1.0"
