"""Replay: recorded frames back through the same parsers and books."""
