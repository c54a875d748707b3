"""Property: however a position is built and unwound, no micro-unit is created or lost."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from clobflow.core.events import Side
from clobflow.core.orders import Fill, Liquidity, notional
from clobflow.portfolio import Portfolio

trades = st.lists(
    st.tuples(st.booleans(), st.integers(1, 99).map(lambda c: c * 10_000),
              st.integers(1, 50_000_000), st.integers(0, 20_000)),
    min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(trades)
def test_cash_and_basis_are_conserved(seq):
    p = Portfolio(10**12)
    held = paid = got = fees = 0
    for i, (is_buy, price, size, fee) in enumerate(seq):
        if not is_buy:
            size = min(size, held)
            if size == 0:
                continue
        side = Side.BUY if is_buy else Side.SELL
        p.apply_fill(Fill(f"f{i}", "o", "s", "m", "t", side, price, size, fee, Liquidity.TAKER, i))
        held += size if is_buy else -size
        if is_buy:
            paid += notional(price, size)
        else:
            got += notional(price, size)
        fees += fee
        pos = p.position("t")
        cost = pos.cost if pos else 0
        assert cost >= 0
        assert p.equity() == p.cash + cost  # unmarked: carried at cost
        assert p.cash + cost - p.starting_cash == p.realized_pnl
    if held:
        p.apply_fill(Fill("last", "o", "s", "m", "t", Side.SELL, 500_000, held, 0, Liquidity.MAKER, 99))
        got += notional(500_000, held)
    assert p.position("t") is None
    assert p.realized_pnl == got - paid - fees
    assert p.cash == p.starting_cash + p.realized_pnl
    assert p.fees_paid == fees
