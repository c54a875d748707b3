"""Core types shared by every layer: exact numbers, markets, events, clocks and errors.

Nothing here does I/O, reads the environment or imports a venue.
"""
