"""Settlement: what the kernel does when one of its markets resolves.

``settle(kernel, ev, now)`` runs once per market (a repeated or unknown resolution is ignored):
it cancels the market's open orders, settles the portfolio (winning shares pay 1), tells every
strategy (``on_resolved``), and for each strategy that held the market or had an entry working
there journals one ``settle`` line (the market's whole P&L, the number every report shows) and
closes its store position row ``settled`` with the final size and cost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clobflow.core.events import MarketResolved

if TYPE_CHECKING:
    from clobflow.engine.kernel import Kernel


def settle(k: Kernel, ev: MarketResolved, now: int) -> None:
    """Resolve ``ev.market`` for ``k`` (see the module docstring)."""
    cid = ev.market
    m = k.markets.get(cid)
    if m is None or cid in k.resolved:
        return
    k.resolved[cid] = ev.winning_asset_id
    for o in k.orders.open_orders(market=cid):
        k.execution.cancel(o.intent.client_order_id, now)
    result = k.portfolio.settle(m, ev.winning_asset_id, now)
    holders = k.positions.holders(cid)
    for s in k.strategies:
        s.on_resolved(k.ctx(s.name), m, ev.winning_asset_id)
    if result is None:
        for name in holders:
            k.positions.settled(name, cid)
        return
    for name in holders:
        row = k.positions.settled(name, cid)
        # pnl: the market's whole P&L (portfolio.market_pnl: payout + what unwinds realized
        # - cost basis - fees), the number every report shows for it
        pnl = result.market_pnl
        k.journal.record(now, name, "settle", "won" if pnl > 0 else "lost", passed=pnl > 0,
                         market=cid, asset_id=ev.winning_asset_id, inputs={
                             "pnl": pnl, "payout": result.payout, "cost": result.cost,
                             "settlement_pnl": result.pnl})
        if row is not None and k.recorder is not None:
            k.recorder.close_position(row, now, pnl, result.fees, "settled",
                                      size=result.shares_won + result.shares_lost, cost=result.cost)
