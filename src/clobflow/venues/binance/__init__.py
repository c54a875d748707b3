"""Binance spot adapter: trade-stream wire schemas, pure parsing, sans-I/O stream protocol and the
WebSocket pump (protocol.md §6). Used for the underlying's spot price, never for trading."""
