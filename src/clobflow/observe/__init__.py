"""Observability: the decision journal (and, later, counterfactuals, metrics, health, alerts)."""
