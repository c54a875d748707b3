"""Polymarket CLOB adapter: wire schemas, pure parsing, sans-I/O protocol, WebSocket pump,
REST clients and market discovery."""
