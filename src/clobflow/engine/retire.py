"""Retiring a market: the run stops following a market that ended, so a long paper or live run
(a new 5- or 15-minute window every few minutes, discovery every few seconds) keeps per-market
state for the markets it follows, not for every market it ever saw.

``retire(kernel, cid)`` is called when discovery drops a market (its window closed). A market
the run still holds shares in, or has an order working on, cannot be forgotten yet (it must
settle, the order must end): it waits in ``kernel.retiring`` and ``retire_pending`` (on the
kernel's timer) retries it once flat. Forgetting drops the market from the kernel's tables
(``markets``, ``views``, ``token_market``, ``by_token``, ``resolved``), the portfolio's marks,
the order manager's last-order times, the execution client's per-token memory (simulated
matching), each risk engine's cooldown clock and each strategy's per-market state
(``Strategy.forget_market``). ``kernel.markets_seen`` still counts it for the report.

Kept on purpose (the report's content, one entry per *traded* market, not per market seen):
the portfolio's market summaries and ``kernel.bought``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clobflow.engine.kernel import Kernel


def retire(k: Kernel, cid: str) -> bool:
    """Forget market ``cid`` now if nothing of the run is held or working there (returns True),
    else queue it in ``k.retiring`` for ``retire_pending`` (returns False)."""
    if k.portfolio.has_position(cid) or k.orders.open_orders(market=cid) or k.positions.holders(cid):
        k.retiring.add(cid)
        return False
    k.retiring.discard(cid)
    m = k.markets.pop(cid, None)
    k.views.pop(cid, None)
    k.resolved.pop(cid, None)
    tokens = m.token_ids if m is not None else [t for t, c in k.token_market.items() if c == cid]
    forget_token = getattr(k.execution, "forget_token", None)  # only simulated matching keeps any
    for t in tokens:
        k.token_market.pop(t, None)
        k.by_token.pop(t, None)
        k.portfolio.forget_mark(t)
        k.orders.forget_asset(t)
        if forget_token is not None:
            forget_token(t)
    for risk in k.risk.values():
        risk.forget_market(cid)
    for s in k.strategies:
        s.forget_market(cid)
    return True


def retire_pending(k: Kernel) -> None:
    """Retry the markets waiting to be forgotten (timer duty; cheap when none wait)."""
    for cid in list(k.retiring):
        retire(k, cid)
