"""Venue adapters. Nothing outside ``venues/`` imports from here except ``engine/`` and ``cli/``."""
