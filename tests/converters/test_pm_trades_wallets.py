"""pm-crypto15m-trades-wallets: Data API trades with wallets -> trades, windows -> market_windows."""

from __future__ import annotations

import csv
import gzip

from clobflow.recorder.converters.common import pm_condition_id, pm_token_id
from clobflow.recorder.converters.pm_trades_wallets import outcome_label
from clobflow.sim.datasets import btc15m

from .conftest import DATA

NAME = "pm-crypto15m-trades-wallets"
DIR = DATA / NAME
S = 1_000_000_000


def test_row_counts_match_the_source_files(converted):
    with gzip.open(next(DIR.glob("polymarket_trades_*.csv.gz")), "rt") as f:
        n_trades = sum(1 for _ in csv.DictReader(f))
    with open(next(DIR.glob("market_windows_*.csv"))) as f:
        n_windows = sum(1 for _ in csv.DictReader(f))
    c = converted(NAME)
    assert (len(c["trades"]), len(c["market_windows"])) == (n_trades, n_windows) == (10_738, 22)


def test_first_trade_exact(converted):
    t = converted(NAME)["trades"][0]
    slug = "btc-updown-15m-1767454200"
    assert t.ts_ns == t.ts_venue_ns == 1_767_455_141 * S
    assert t.venue == "polymarket"
    assert t.market == "0xdf573f3e89b872a3fb2987757f8217f9a6e8b3c45feaa896009d971be11a3a52"
    assert t.asset_id == pm_token_id(slug, "Down") == btc15m.token_id(slug, "Down")
    assert (t.price, t.size, t.side, t.outcome) == (990_000, 7_380_000, "SELL", "Down")
    assert t.wallet == "0xf241c99167aa0b2bea1649dc6035a40fe89c69a5"
    assert t.tx_hash == t.trade_id == "0xf6236b018fbf8ebc1edca75c15e5b380aaef6aa0d5003fb741f00a3eda9ee352"
    assert t.source == "converted" and t.fee_rate_bps is None


def test_averaged_prices_round_half_even_to_micro_units(converted):
    by_tx = {t.tx_hash: t for t in converted(NAME)["trades"]}
    with gzip.open(next(DIR.glob("polymarket_trades_*.csv.gz")), "rt") as f:
        rows = [r for r in csv.DictReader(f) if r["price"] == "0.9880507481997962"]
    assert rows
    t = by_tx[rows[0]["tx_hash"]]
    assert t.price == 988_051  # 0.9880507481997962 -> 0.988051
    assert t.size == 94_600_400  # 94.6004 exactly


def test_windows_carry_winner_and_line_up_with_trades(converted):
    c = converted(NAME)
    windows = {w.market: w for w in c["market_windows"]}
    w = windows["0xdf573f3e89b872a3fb2987757f8217f9a6e8b3c45feaa896009d971be11a3a52"]
    assert w.slug == "btc-updown-15m-1767454200" and w.asset == "btc"
    assert (w.window_start_ns, w.window_end_ns) == (1_767_454_200 * S, 1_767_455_100 * S)
    assert w.winner == w.no_token == btc15m.token_id(w.slug, "Down")  # outcome DOWN
    assert w.question == "Bitcoin Up or Down - January 3, 10:30AM-10:45AM ET"
    assert sum(1 for w in windows.values() if w.winner == w.yes_token) == 10
    assert sum(1 for w in windows.values() if w.winner == w.no_token) == 12
    # the condition ids are real (not the sim's derivation); token ids are derived
    assert all(m != pm_condition_id(x.slug) for m, x in windows.items())
    for t in c["trades"]:
        win = windows[t.market]
        assert t.asset_id == (win.yes_token if t.outcome == "Up" else win.no_token)
    assert len({t.wallet for t in c["trades"]}) == 1_460


def test_outcome_label():
    assert outcome_label(" up") == "Up" and outcome_label("DOWN") == "Down"
    try:
        outcome_label("Yes")
    except ValueError:
        pass
    else:
        raise AssertionError("Yes is not an up/down outcome")
