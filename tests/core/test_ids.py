"""The id contract: qualify, split and raw are inverses; qualify is idempotent; bare ids pass."""

from __future__ import annotations

from clobflow.core import ids
from clobflow.core.markets import BinaryMarket, OutcomeToken


def test_qualify_split_raw():
    q = ids.qualify("polymarket", "0xabc")
    assert q == "POLYMARKET:0xabc" and ids.is_qualified(q)
    assert ids.split(q) == ("polymarket", "0xabc") and ids.raw(q) == "0xabc"
    assert ids.qualify("polymarket", q) is q  # idempotent
    assert ids.qualify("polymarket", "BINANCE:ETHUSDT") == "BINANCE:ETHUSDT"  # keeps its venue
    assert ids.qualify("polymarket", "") == ""
    assert ids.split("123") == ("", "123") and ids.raw("123") == "123"
    assert ids.raw("KALSHI:KXBTC-25:X") == "KXBTC-25:X"  # only the first separator counts
    assert not ids.is_qualified("a b:c") and not ids.is_qualified(":x") and not ids.is_qualified("0xab")


def test_qualifier_memo():
    q = ids.Qualifier("binance", limit=3)
    assert q("ETHUSDT") == "BINANCE:ETHUSDT" and q("ETHUSDT") is q("ETHUSDT")
    assert ids.Qualifier()("x") == "x"
    for s in "abcdef":
        q(s)
    assert len(q.table) <= 3


def test_market_qualified_and_bare_are_inverses():
    m = BinaryMarket("0xc", "slug", "q?", OutcomeToken("1", "Up"), OutcomeToken("2", "Down"), 10_000, 5_000_000,
                     market_id="77")
    q = m.qualified("polymarket")
    assert (q.condition_id, q.token_ids, q.venue, q.market_id) == ("POLYMARKET:0xc", ("POLYMARKET:1", "POLYMARKET:2"),
                                                                   "polymarket", "77")
    assert q.other("POLYMARKET:1") == "POLYMARKET:2" and q.outcome_of("POLYMARKET:2") == "Down"
    assert q.qualified("polymarket") is q
    assert q.bare() == m and m.bare() is m
