"""Recording: raw frames (the source of truth) and, later, derived tables."""
