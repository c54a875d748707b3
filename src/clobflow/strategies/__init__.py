"""Strategies: pure decision code that sees a small context and expresses intents."""
