"""Selecting part of a recording by receive time and market; a backtest on a selection."""

from __future__ import annotations

import json

import pytest

from clobflow.engine.backtest import run_backtest
from clobflow.engine.config import parse_config
from clobflow.recorder.frames import RawFrame
from clobflow.replay.selection import DatasetSpec, dataset_for, frame_ids, match_markets, parse_time_ns, select_frames
from clobflow.sim.datasets import Dataset, load_dataset

DAY2 = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z: the recording's second day


def ids_by_decoding(text: str) -> set[str]:
    """The ids a frame names, the slow way (independent of the selection's text scan)."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        return set()
    out: set[str] = set()
    for ev in obj if isinstance(obj, list) else [obj]:
        out |= {ev[k] for k in ("market", "asset_id", "condition_id") if k in ev}
        out |= {c["asset_id"] for c in ev.get("price_changes", [])}
    return out


def test_the_text_scan_finds_the_same_ids_as_decoding(ds15):
    for fr in ds15.frames[:3000]:
        assert frame_ids(fr.frame) == ids_by_decoding(fr.frame)


def test_time_range_keeps_frames_in_range_and_their_markets(ds15):
    sel = select_frames(ds15, start_ns=DAY2)
    expected = [f for f in ds15.frames if f.ts_recv_ns >= DAY2]
    assert sel.frames == expected and len(expected) > 20_000
    day2 = [m for m in ds15.markets if m.start_ns >= DAY2]
    assert [m.condition_id for m in sel.markets] == [m.condition_id for m in day2] and len(day2) == 34
    assert set(sel.resolutions) <= {m.condition_id for m in day2} and len(sel.resolutions) == 33
    # the end bound is exclusive; both bounds together
    first_day = select_frames(ds15, end_ns=DAY2)
    assert len(first_day.frames) + len(sel.frames) == len(ds15.frames)
    assert len(first_day.markets) == 32
    mid = select_frames(ds15, start_ns=ds15.frames[100].ts_recv_ns, end_ns=ds15.frames[200].ts_recv_ns)
    assert mid.frames == [f for f in ds15.frames if ds15.frames[100].ts_recv_ns <= f.ts_recv_ns < ds15.frames[200].ts_recv_ns]
    assert sel.name != ds15.name and "2026-01-01T00:00:00Z.." in sel.name


def test_market_filter_by_slug_prefix_and_condition_id(ds15):
    a, b = ds15.markets[3], ds15.markets[40]
    sel = select_frames(ds15, markets=[a.slug, b.condition_id])
    assert [m.condition_id for m in sel.markets] == [a.condition_id, b.condition_id]
    wanted = {a.condition_id, b.condition_id, *a.token_ids, *b.token_ids}
    expected = [f for f in ds15.frames if ids_by_decoding(f.frame) & wanted]
    assert sel.frames == expected  # same frames, same relative order
    # every book frame in the selection is of a selected token (books of others are dropped)
    for f in sel.frames:
        for ev in (lambda o: o if isinstance(o, list) else [o])(json.loads(f.frame)):
            if ev.get("event_type") == "book":
                assert ev["asset_id"] in wanted
    assert set(sel.resolutions) == {a.condition_id, b.condition_id}
    # a slug prefix: every window of 2026-01-01 starting 17:00-17:59 UTC (unix 17672868..)
    pre = select_frames(ds15, markets=["btc-updown-15m-17672"])
    assert {m.slug for m in pre.markets} == {m.slug for m in ds15.markets if m.slug.startswith("btc-updown-15m-17672")}
    assert len(select_frames(ds15, markets=["btc-updown-15m"]).markets) == 66
    # market and time together
    both = select_frames(ds15, start_ns=DAY2, markets=[a.slug, b.slug])
    assert [m.condition_id for m in both.markets] == [b.condition_id]


def test_selection_is_pure_and_errors_are_clear(ds15):
    n = len(ds15.frames)
    select_frames(ds15, start_ns=DAY2, markets=["btc-updown-15m"])
    assert len(ds15.frames) == n and len(ds15.markets) == 66
    with pytest.raises(ValueError, match="'btc-nope' matches no market"):
        select_frames(ds15, markets=["btc-updown-15m", "btc-nope"])
    with pytest.raises(ValueError, match="empty time range"):
        select_frames(ds15, start_ns=DAY2, end_ns=DAY2)


def test_mixed_array_frames_are_kept_whole_and_text_frames_only_without_a_filter():
    ds = load_dataset("pm-btc15m-tob-1s", limit_markets=2)
    m0, m1 = ds.markets
    book = lambda m, t: {"event_type": "book", "market": m.condition_id, "asset_id": t, "bids": [], "asks": []}  # noqa: E731
    mixed = RawFrame(1, "polymarket", "market", 0, json.dumps([book(m0, m0.yes.token_id), book(m1, m1.no.token_id)]))
    other = RawFrame(2, "polymarket", "market", 0, json.dumps([book(m1, m1.yes.token_id)]))
    pong = RawFrame(3, "polymarket", "market", 0, "PONG")
    toy = Dataset("toy", [m0, m1], [mixed, other, pong])
    assert select_frames(toy, markets=[m0.slug]).frames == [mixed]
    assert select_frames(toy).frames == [mixed, other, pong]


def test_parse_time_ns():
    assert parse_time_ns("2026-01-01") == DAY2
    assert parse_time_ns("2025-12-31", end=True) == DAY2  # a bare end date includes that day
    assert parse_time_ns("2026-01-01T00:00:00Z") == DAY2 == parse_time_ns("2026-01-01T01:00:00+01:00")
    assert parse_time_ns("2026-01-01T00:00:01", end=True) == DAY2 + 10**9  # a time is exact
    assert parse_time_ns("2026-01-01T00:00:00.5Z") == DAY2 + 5 * 10**8
    for bad in ("yesterday", "2026-13-01", "2026-01-01T25:00"):
        with pytest.raises(ValueError, match="is not a date"):
            parse_time_ns(bad)


def test_backtest_on_a_selection_trades_only_the_selected_markets(ds15, tmp_path):
    chosen = [m.slug for m in ds15.markets[40:44]]
    sel = select_frames(ds15, markets=chosen)
    cfg = parse_config({"engine": {"mode": "backtest"}})
    res = run_backtest(cfg, sel, tmp_path)
    k = res.kernel
    cids = {m.qualified("polymarket").condition_id for m in sel.markets}  # the engine's ids
    assert set(k.markets) == cids and len(cids) == 4
    # a selector may name a market by the qualified id journals and reports print
    assert match_markets(ds15.markets, sorted(cids)) == sel.markets
    assert k.bought and set(k.bought) <= cids
    assert res.frames == len(sel.frames)


def test_dataset_spec_loads_the_same_selection_and_caches_it(ds15):
    spec = DatasetSpec("pm-btc15m-tob-1s", start_ns=DAY2, markets=("btc-updown-15m-17672",))
    a = dataset_for(spec)
    assert dataset_for(spec) is a  # cached per process
    assert a.frames == select_frames(ds15, start_ns=DAY2, markets=["btc-updown-15m-17672"]).frames
