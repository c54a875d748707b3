"""Pure mapping on the real REST fixtures: Data API trades (both casings) and Gamma markets."""

from __future__ import annotations

import json

import pytest

from clobflow.venues.polymarket.history.mapping import (
    data_api_trade_id,
    gamma_winner,
    market_key,
    market_window_row,
    price_point,
    trade_row,
)
from clobflow.recorder.tables import TradeRow
from tests.conftest import FIXTURES

REST = FIXTURES / "polymarket" / "rest"
NS = 1_000_000_000

# camelCase (legacy /trades) -> snake_case (/v2/trades) key names, written out by hand from
# protocol.md §3.3 (independent of the simulator's renaming).
CAMEL_TO_SNAKE = {
    "proxyWallet": "proxy_wallet", "asset": "token_id", "conditionId": "condition_id",
    "eventSlug": "event_slug", "outcomeIndex": "outcome_index", "profileImage": "profile_image",
    "profileImageOptimized": "profile_image_optimized", "transactionHash": "transaction_hash",
}
SNAKE_TO_CAMEL = {v: k for k, v in CAMEL_TO_SNAKE.items()}


def load(name: str):
    return json.loads((REST / name).read_text())


def test_v1_camelcase_rows_map_to_trade_rows():
    rows = load("data_api_trades_v1_sanitized.json")
    got = [trade_row(d) for d in rows]
    first = got[0]
    assert first == TradeRow(
        ts_ns=1729000180 * NS, ts_venue_ns=1729000180 * NS, venue="polymarket",
        market="0xdd22472e552920b8438158ea7238bfadfa4f736aa4cee91a6b86c39ead110917",
        asset_id="21742633143463906290569050155826241533067272736897614950488156847949938836455",
        price=998_000, size=5_400_000, side="SELL", trade_id=first.trade_id, source="data_api",
        wallet="0xe0904e088f7c17f72c97f1f87c9fa13dafbdc8ea", outcome="Yes",
        tx_hash="0xabc123def456789012345678901234567890123456789012345678901234abcd",
    )
    assert [(r.price, r.size) for r in got] == [(998_000, 5_400_000), (520_000, 94_370_000),
                                                (510_000, 10_500_000), (490_000, 20_000_000)]
    assert len({r.trade_id for r in got}) == 4 and all(r.trade_id.startswith("da-") for r in got)


def test_v2_snake_case_rows_map_to_trade_rows():
    a, b = (trade_row(d) for d in load("data_api_v2_trades_2026-09.json"))
    assert (a.side, a.price, a.size, a.ts_ns, a.outcome) == ("BUY", 620_000, 78_550_000, 1788887014 * NS, "Yes")
    assert a.wallet == "0x84cfffc3f16dcc353094de30d4a45226eccd2f63"
    assert a.market == "0xc8a2f17f42fa8493ebae503abec9d51efa7b57c3cc59a7b88933bffaa3618387"
    assert a.asset_id.startswith("1006217049163963841842")
    assert a.tx_hash == "0x8b2fd0c7480cd78bd9f57e8b935cf10c6635d2c479c66ea26d358e1425f44a95"
    assert (b.side, b.price, b.size) == ("SELL", 840_000, 70_000)  # 0.07 shares, an exact micro count


@pytest.mark.parametrize("name", ["data_api_trades_v1_sanitized.json", "data_api_v2_trades_2026-09.json"])
def test_both_casings_give_the_same_row(name):
    for d in load(name):
        other = ({CAMEL_TO_SNAKE.get(k, k): v for k, v in d.items()} if "proxyWallet" in d
                 else {SNAKE_TO_CAMEL.get(k, k): v for k, v in d.items()})
        assert trade_row(other) == trade_row(d)


def test_activity_float_prices_round_to_micro_units():
    # /v2/activity carries the same trade fields; its prices have float noise (0.9300000035).
    rows = [trade_row(d) for d in load("data_api_v2_activity_2026-09.json")]
    assert [(r.price, r.size) for r in rows] == [(930_000, 14_285_715), (86_450, 155_030_000)]


def test_trade_id_is_stable_and_separates_wallets():
    base = ("0xAB", "1", "BUY", 500_000, 5_000_000, 1_700_000_000, "0xTX")
    assert data_api_trade_id(*base) == data_api_trade_id("0xab", *base[1:6], "0xtx")
    assert data_api_trade_id(*base) != data_api_trade_id("0xcd", *base[1:])


@pytest.mark.parametrize(("patch", "field"), [
    ({"side": "HOLD"}, "side"), ({"price": 1.5}, "price"), ({"size": 0}, "size"),
    ({"timestamp": "soon"}, "timestamp"), ({"conditionId": None}, "conditionId"), ({"asset": ""}, "asset"),
])
def test_malformed_trade_names_the_field(patch, field):
    d = {**load("data_api_trades_v1_sanitized.json")[0], **patch}
    with pytest.raises(ValueError, match=field):
        trade_row(d)


def test_gamma_sports_market_closed_with_a_winner():
    d = load("gamma_market_sports_feeschedule_2026-04.json")
    row = market_window_row(d, discovered_ns=7)
    tokens = json.loads(d["clobTokenIds"])
    assert row.winner == tokens[0]  # outcomePrices ["1", "0"], umaResolutionStatus "resolved"
    assert (row.market, row.slug, row.asset, row.tick_size) == (d["conditionId"], "cs2-faze-ill-2026-04-05", "", 1_000)
    assert (row.yes_token, row.no_token, row.discovered_ns, row.venue) == (tokens[0], tokens[1], 7, "polymarket")
    assert row.window_start_ns == 1775401800 * NS  # eventStartTime 2026-04-05T15:10:00Z
    assert row.window_end_ns == 1775423400 * NS
    assert market_key(d) == f"{d['conditionId']}|{tokens[0]}"


@pytest.mark.parametrize("name", ["gamma_market_btc_updown_5m_2026-03.json", "gamma_market_btc_updown_5m_twap_2026-08.json"])
def test_gamma_updown_window_open(name):
    d = load(name)
    row = market_window_row(d, 0)
    assert row.asset == "btc" and row.winner == "" and row.tick_size == 10_000
    start = int(d["slug"].rsplit("-", 1)[1])
    assert row.window_start_ns == start * NS and row.window_end_ns == (start + 300) * NS
    assert row.question == d["question"]


def test_gamma_event_markets():
    ev = load("gamma_events_2026.json")[0]
    rows = [market_window_row(m, 0) for m in ev["markets"]]
    assert len(rows) == 2 and all(r.market.startswith("0x") and r.winner == "" for r in rows)


@pytest.mark.parametrize(("fields", "winner"), [
    ({"closed": True, "outcomePrices": '["0", "1"]'}, "B"),
    ({"closed": True, "outcomePrices": '["1", "0"]'}, "A"),
    ({"closed": True, "outcomePrices": '["0.5", "0.5"]'}, ""),  # a split, no single winner
    ({"closed": True, "outcomePrices": '["0.9995", "0.0005"]'}, ""),  # closed, not resolved yet
    ({"closed": False, "outcomePrices": '["1", "0"]'}, ""),
    ({"closed": False, "umaResolutionStatus": "resolved", "outcomePrices": '["0", "1"]'}, "B"),
    ({"closed": True, "outcomePrices": "not json"}, ""),
])
def test_gamma_winner(fields, winner):
    assert gamma_winner({"clobTokenIds": '["A", "B"]', **fields}) == winner


def test_not_binary_market_is_refused():
    d = {**load("gamma_market_sports_feeschedule_2026-04.json"), "outcomes": '["a", "b", "c"]'}
    with pytest.raises(ValueError, match="not a binary market"):
        market_window_row(d, 0)


def test_price_point():
    assert price_point({"t": 1766745300, "p": 0.505}) == (1766745300, 505_000)
    assert price_point({"t": 1766745300000, "p": 1}) == (1766745300, 1_000_000)
    for bad in ({"t": 1}, {"t": "x", "p": 0.5}, {"t": 1, "p": 1.5}, [1, 2]):
        with pytest.raises(ValueError):
            price_point(bad)
