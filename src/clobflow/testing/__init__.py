"""Reliability tooling shared by the test suite and the benches (no venue imports)."""
