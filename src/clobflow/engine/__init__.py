"""Composition: the one place that wires venues, books, strategies and stores for a mode."""
