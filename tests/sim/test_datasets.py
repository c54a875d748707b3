"""The converters: every frame parses, replayed books match the venue's tops and the source rows,
ids and resolutions are right, Gamma dicts have the real shape."""

from __future__ import annotations

import csv
import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from clobflow.book.book_set import BookSet
from clobflow.book.trust import Trust
from clobflow.core.events import BookSnapshot, MarketResolved, NewMarket, PriceChange
from clobflow.core.numbers import micros_from_number, parse_micros
from clobflow.sim.datasets import btc15m, convert, gamma_market, load_dataset, market_from_gamma
from clobflow.venues.polymarket.integrity import PolymarketIntegrity
from clobflow.venues.polymarket.parsing import MarketParser

DATA = Path(__file__).resolve().parents[2] / "data"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


_PARSED: dict[tuple, tuple] = {}


def parse_all(ds):
    """(parser, [(frame, events)]) for a dataset, parsed once per test session."""
    key = (ds.name, len(ds.frames))
    if key not in _PARSED:
        parser = MarketParser()
        _PARSED[key] = (parser, [(fr, parser.parse(fr.frame, fr.ts_recv_ns)) for fr in ds.frames])
    return _PARSED[key]


@pytest.mark.parametrize("name", ["ds1h", "ds15"])
def test_every_frame_parses_without_rejects(name, request):
    ds = request.getfixturevalue(name)
    parser, parsed = parse_all(ds)
    assert parser.rejects == Counter()
    assert parser.text == 0
    assert all(len(evs) == 1 for _, evs in parsed)
    times = [fr.ts_recv_ns for fr in ds.frames]
    assert times == sorted(times)
    assert {(fr.venue, fr.channel, fr.conn) for fr in ds.frames} == {("polymarket", "market", 0)}


@pytest.mark.parametrize("name", ["ds1h", "ds15"])
def test_replayed_books_match_every_entry_top(name, request):
    ds = request.getfixturevalue(name)
    _, parsed = parse_all(ds)
    books = BookSet(checker=PolymarketIntegrity())
    for _, evs in parsed:
        for ev in evs:
            books.on_event(ev)
            if type(ev) is PriceChange:
                for ch in ev.changes:
                    b = books.book(ch.asset_id)
                    assert (b.best_bid(), b.best_ask()) == (ch.best_bid, ch.best_ask)
                # one hash per token per frame
                hashes = {(c.asset_id, c.hash) for c in ev.changes}
                assert len(hashes) == len({c.asset_id for c in ev.changes})
    assert books.counters["bbo_mismatches"] == 0
    assert books.counters["dropped_deltas"] == 0
    for m in ds.markets:
        for t in m.token_ids:
            st = books.trust(t).state
            assert st == (Trust.UNTRUSTED if m.condition_id in ds.resolutions else Trust.TRUSTED)


def _source_states_15m():
    """Per slug: the source's distinct consecutive top-of-book states, rows in the documented
    order (grouped by window, stably sorted by Timestamp)."""
    windows: dict[str, list[dict]] = {}
    for path in sorted((DATA / "pm-btc15m-tob-1s").glob("market_data_*.csv.gz")):
        with gzip.open(path, "rt", newline="") as f:
            for r in csv.DictReader(f):
                windows.setdefault(r["TargetTime"], []).append(r)
    out = {}
    for target, rows in windows.items():
        rows.sort(key=lambda r: r["Timestamp"])
        states: list[tuple] = []
        for r in rows:
            st = []
            for k in ("UpBid", "UpAsk", "DownBid", "DownAsk"):
                p, s = parse_micros(r[k]), parse_micros(r[k + "Liquidity"])
                st.append((p, s) if p > 0 and s > 0 else None)
            st = tuple(st)
            if not states or states[-1] != st:
                states.append(st)
        start = btc15m._seconds(target)
        out[f"btc-updown-15m-{start}"] = states
    return out


def _top(book, side):
    lv = book.levels(side, 1)
    return lv[0] if lv else None


def test_15m_books_follow_the_source_rows(ds15):
    expected = _source_states_15m()
    _, parsed = parse_all(ds15)
    books = BookSet()
    by_cid = {m.condition_id: m for m in ds15.markets}
    got: dict[str, list[tuple]] = {m.slug: [] for m in ds15.markets}
    for _, evs in parsed:
        for ev in evs:
            books.on_event(ev)
            if type(ev) not in (BookSnapshot, PriceChange):
                continue
            m = by_cid[ev.market]
            if m.yes.token_id not in books or m.no.token_id not in books:
                continue
            up, down = books.book(m.yes.token_id), books.book(m.no.token_id)
            assert len(up.levels(0)) <= 1 and len(up.levels(1)) <= 1  # one level per side
            st = (_top(up, 0), _top(up, 1), _top(down, 0), _top(down, 1))
            if not got[m.slug] or got[m.slug][-1] != st:
                got[m.slug].append(st)
    assert set(got) == set(expected)
    for slug in expected:
        assert got[slug] == expected[slug], slug


def test_15m_windows_ids_and_fees(ds15):
    assert len(ds15.markets) == 66
    with open(DATA / "pm-btc15m-tob-1s" / "windows_implied_outcomes.csv", newline="") as f:
        slugs = [r["slug"] for r in csv.DictReader(f)]
    assert [m.slug for m in ds15.markets] == slugs
    m = ds15.markets[0]
    assert m.slug == "btc-updown-15m-1766745000"
    assert m.question == "Bitcoin Up or Down - December 26, 5:30AM-5:45AM ET"
    import hashlib

    assert m.condition_id == "0x" + hashlib.sha256(m.slug.encode()).hexdigest()
    digest = hashlib.sha256(f"clobflow-sim|{m.slug}|Up".encode()).hexdigest()
    assert m.yes.token_id == str(int(digest, 16) % 10**77)
    assert (m.yes.outcome, m.no.outcome) == ("Up", "Down")
    assert m.end_ns - m.start_ns == 900 * 10**9
    assert all(x.fee_schedule is None for x in ds15.markets)
    assert len(set(ds15.token_ids)) == 132


def test_15m_resolutions_match_the_implied_outcomes(ds15):
    with open(DATA / "pm-btc15m-tob-1s" / "windows_implied_outcomes.csv", newline="") as f:
        implied = {r["slug"]: r["implied_winner"] for r in csv.DictReader(f)}
    _, parsed = parse_all(ds15)
    resolved = {ev.market: ev for _, evs in parsed for ev in evs if type(ev) is MarketResolved}
    announced = [ev for _, evs in parsed for ev in evs if type(ev) is NewMarket]
    assert len(announced) == 66
    for m in ds15.markets:
        winner = implied[m.slug]
        if not winner:
            assert m.condition_id not in resolved and m.condition_id not in ds15.resolutions
            continue
        ev = resolved[m.condition_id]
        want = m.yes.token_id if winner == "Up" else m.no.token_id
        assert (ev.winning_asset_id, ev.winning_outcome) == (want, winner)
        assert ev.ts_venue_ns == m.end_ns
        assert ds15.resolutions[m.condition_id].winning_asset_id == want
    assert len(resolved) == 65


def test_1h_real_ids_and_full_depth_match_the_source(ds1h):
    yes = "85728930122075407351300968015002969263500960540235946113969658686970643313365"
    cid = "0x6189d1f4462eba33e4f4490f69bef40d8ae6583eff969c24b2f544b5a7a18ea3"
    assert [m.condition_id for m in ds1h.markets][1] == cid
    assert ds1h.markets[1].yes.token_id == yes
    assert ds1h.markets[0].tick_size == 1_000 and ds1h.markets[1].tick_size == 10_000
    assert ds1h.resolutions == {}
    with gzip.open(DATA / "pm-btc1h-l2-1s" / "BTC1h_2026-02-24.jsonl.gz", "rt") as f:
        rows = [json.loads(line) for line in f]
    _, parsed = parse_all(ds1h)
    books = BookSet()
    i = 0
    for r in rows:
        ts = r["ts_ms"] * 1_000_000
        while i < len(parsed) and parsed[i][0].ts_recv_ns <= ts:
            for ev in parsed[i][1]:
                books.on_event(ev)
            i += 1
        for side in ("yes", "no"):
            b = books.book(r[side]["token_id"])
            want_bids = [(micros_from_number(x["p"]), micros_from_number(x["s"])) for x in r[side]["bids"]]
            want_asks = [(micros_from_number(x["p"]), micros_from_number(x["s"])) for x in r[side]["asks"]]
            assert b.snapshot() == (want_bids, want_asks)
            bb = r[side]["best_bid"]
            assert b.best_bid() == (None if bb is None else micros_from_number(bb))
    assert i == len(parsed)


def test_book_frames_have_the_wire_shape(ds1h):
    frame = json.loads(ds1h.frames[1].frame)
    assert frame["event_type"] == "book"
    assert list(frame)[:6] == ["market", "asset_id", "timestamp", "hash", "bids", "asks"]
    bids = [float(x["price"]) for x in frame["bids"]]
    asks = [float(x["price"]) for x in frame["asks"]]
    assert bids == sorted(bids) and asks == sorted(asks, reverse=True)
    assert frame["tick_size"] == "0.001" and frame["min_order_size"] == "5" and frame["neg_risk"] is False
    assert all(isinstance(x["size"], str) for x in frame["bids"] + frame["asks"])
    pc = json.loads(ds1h.frames[6].frame)
    assert list(pc) == ["market", "price_changes", "timestamp", "event_type"]
    entry_keys = {"asset_id", "price", "size", "side", "hash", "best_bid", "best_ask"}
    assert set(pc["price_changes"][0]) == entry_keys


def test_gamma_market_has_the_real_shape(ds15, ds1h):
    real = json.loads((FIXTURES / "polymarket/rest/gamma_market_btc_updown_5m_2026-03.json").read_text())
    m = ds15.markets[0]
    g = json.loads(json.dumps(gamma_market(m)))
    for key in ("outcomes", "outcomePrices", "clobTokenIds"):
        assert isinstance(g[key], str) and isinstance(real[key], str)
    assert json.loads(g["clobTokenIds"]) == [m.yes.token_id, m.no.token_id]
    assert json.loads(g["outcomes"]) == ["Up", "Down"]
    assert g["orderMinSize"] == 5 and g["orderPriceMinTickSize"] == 0.01
    assert g["endDate"] == "2025-12-26T10:45:00Z" and g["eventStartTime"] == "2025-12-26T10:30:00Z"
    assert g["feesEnabled"] is False and g["feeSchedule"] is None
    assert {t["slug"] for t in g["tags"]} == {"crypto", "bitcoin", "up-or-down", "15M"}
    assert all(set(t) == {"id", "label", "slug"} for t in g["tags"])
    assert g["events"][0]["slug"] == m.slug and g["events"][0]["series"][0]["slug"] == "btc-up-or-down-15m"
    shared = set(g) & set(real)
    assert all(type(g[k]) is type(real[k]) for k in shared if g[k] is not None and real[k] is not None)
    for market in (m, ds1h.markets[1]):
        assert market_from_gamma(gamma_market(market)) == market


def test_gamma_market_parses_with_the_venue_parser(ds15):
    from clobflow.venues.polymarket.gamma import parse_gamma_market

    m = ds15.markets[3]
    parsed = parse_gamma_market(json.loads(json.dumps(gamma_market(m))))
    assert parsed.token_ids == m.token_ids
    assert (parsed.condition_id, parsed.slug, parsed.tick_size) == (m.condition_id, m.slug, m.tick_size)
    assert parsed.end_ns == m.end_ns and parsed.fee_schedule is None


def test_convert_round_trips_through_the_recorder_format(tmp_path, ds1h):
    frames_path, markets_path = convert("pm-btc1h-l2-1s", tmp_path)
    assert frames_path.name == "frames.jsonl.gz" and markets_path.exists()
    again = load_dataset(tmp_path)
    assert again.frames == ds1h.frames
    assert again.markets == ds1h.markets
    alone = load_dataset(frames_path.rename(tmp_path / "only.jsonl.gz"))  # no markets.json beside
    assert [m.token_ids for m in alone.markets] == [m.token_ids for m in ds1h.markets]


def test_registry_resolution(monkeypatch, tmp_path):
    with pytest.raises(KeyError, match="pm-btc15m-tob-1s"):
        load_dataset("no-such-dataset")
    monkeypatch.setenv("CLOBFLOW_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError):
        load_dataset("pm-btc1h-l2-1s")
    (tmp_path / "pm-btc1h-l2-1s").symlink_to(DATA / "pm-btc1h-l2-1s")
    assert len(load_dataset("pm-btc1h-l2-1s", limit_markets=1).markets) == 1
