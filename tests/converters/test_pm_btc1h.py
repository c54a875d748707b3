"""pm-btc1h-l2-1s: full-depth REST books -> snapshots with real ids; markets as the sim builds them."""

from __future__ import annotations

import gzip
import json

from clobflow.sim.datasets import btc1h
from clobflow.sim.datasets.gamma import stable_id

from .conftest import DATA

NAME = "pm-btc1h-l2-1s"
YES = "85728930122075407351300968015002969263500960540235946113969658686970643313365"
NO = "12648253318427612033922927498730773524411473866214480730386491403117428217277"
CID = "0x6189d1f4462eba33e4f4490f69bef40d8ae6583eff969c24b2f544b5a7a18ea3"


def test_snapshots_exact_and_ladders_complete(converted):
    rows = converted(NAME)["orderbook_snapshots"]
    with gzip.open(DATA / NAME / btc1h.FILE, "rt") as f:
        lines = [json.loads(x) for x in f]
    assert len(rows) == 2 * len(lines) == 992
    yes, no = rows[2], rows[3]  # line 2: the new market's first poll
    src = lines[1]
    assert (yes.ts_ns, yes.market, yes.asset_id, no.asset_id) == (src["ts_ms"] * 1_000_000, CID, YES, NO)
    assert (yes.bid_prices[0], yes.bid_sizes[0]) == (510_000, 134_490_000)  # {"p":0.51,"s":134.49}
    assert yes.ask_prices[0] == 540_000 and yes.ask_sizes[0] == 35_000_000
    assert len(yes.bid_prices) == sum(1 for lv in src["yes"]["bids"] if lv["s"] > 0)
    assert len(no.ask_prices) == sum(1 for lv in src["no"]["asks"] if lv["s"] > 0)
    old = rows[0]  # line 1: the expiring market, no bids
    assert old.market.startswith("0x2bb8e8") and old.bid_prices == [] and old.ask_prices[0] == 1_000


def test_windows_match_the_simulator(converted):
    windows = converted(NAME)["market_windows"]
    markets = btc1h.convert(DATA / NAME).markets
    assert len(windows) == len(markets) == 2
    for w, m in zip(windows, markets, strict=True):
        assert (w.market, w.slug, w.question, w.tick_size) == (m.condition_id, m.slug, m.question, m.tick_size)
        assert (w.yes_token, w.no_token) == m.token_ids
        assert (w.window_start_ns, w.window_end_ns) == (m.start_ns, m.end_ns)
        assert w.event_id == stable_id("event|" + m.slug, 6) and w.winner == ""
    assert windows[1].discovered_ns == 1_771_891_201_156_000_000
