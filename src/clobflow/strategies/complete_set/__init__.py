"""Complete-set (pair) trading on 15-minute crypto up/down markets: maker-first accumulation of
equal-share Up/Down pairs below 1, taker detection, second legs, chasing, inventory states and
unwinds, toxic-flow guard, a background decision log with after-window counterfactuals and
anomalies, and a per-window report beside a real wallet's pair costs. Entry point:
``strategy.CompleteSetStrategy`` configured by ``config.CompleteSetConfig`` (``kind: complete_set``).
"""
