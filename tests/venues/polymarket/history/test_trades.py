"""The trades job against the local venue over loopback: both Data APIs, paging, the v1 offset
cap, time ranges, retries and the v2 -> v1 fallback."""

from __future__ import annotations

import json

import pytest

from clobflow.venues.polymarket.history import TradeQuery, trade_row
from clobflow.sim.venue.history import VenueHistory
from clobflow.venues.polymarket.http import HttpRetryable

from .conftest import WALLET
from .helpers import assert_no_duplicates, fills_of, read_trades, recorded_fills, trades_job, utc_s
from tests.conftest import FIXTURES

ELECTION = "0xdd22472e552920b8438158ea7238bfadfa4f736aa4cee91a6b86c39ead110917"  # v1 fixture rows
MADRID = "0xc8a2f17f42fa8493ebae503abec9d51efa7b57c3cc59a7b88933bffaa3618387"  # a v2 fixture row


def configure(venue, history_rows, mids, **kw) -> VenueHistory:
    venue.rest.history = VenueHistory(history_rows, mids, clock_ns=venue.now_ns, **kw)
    return venue.rest.history


@pytest.mark.parametrize("api_name", ["v1", "v2"])
async def test_real_fixture_rows(api, tmp_path, api_name):
    res = await trades_job(api, tmp_path, TradeQuery(markets=(ELECTION, MADRID), api=api_name))
    assert (res.status, res.rows, res.duplicates) == ("done", 5, 0)
    rest = FIXTURES / "polymarket" / "rest"
    fixture = json.loads((rest / "data_api_trades_v1_sanitized.json").read_text())
    fixture += json.loads((rest / "data_api_v2_trades_2026-09.json").read_text())
    expected = {trade_row(d) for d in fixture if (d.get("conditionId") or d.get("condition_id")) in (ELECTION, MADRID)}
    assert set(read_trades(tmp_path)) == expected


async def test_v1_and_v2_give_the_same_rows(api, tmp_path, ds4):
    q1, q2 = (TradeQuery(user=WALLET, api=a) for a in ("v1", "v2"))
    r1 = await trades_job(api, tmp_path / "v1", q1, page_size=250)
    r2 = await trades_job(api, tmp_path / "v2", q2, page_size=250)
    rows1, rows2 = read_trades(tmp_path / "v1"), read_trades(tmp_path / "v2")
    assert r1.rows == r2.rows == len(rows1) == sum(recorded_fills(ds4).values())
    assert sorted(rows1, key=lambda r: r.trade_id) == sorted(rows2, key=lambda r: r.trade_id)


async def test_many_pages_match_the_recording(api, tmp_path, ds4, venue):
    res = await trades_job(api, tmp_path, TradeQuery(markets=tuple(m.condition_id for m in ds4.markets)),
                           page_size=100)
    rows = read_trades(tmp_path)
    assert res.pages == 27 and venue.rest.history.requests["/v2/trades"] == 27
    assert fills_of(rows) == recorded_fills(ds4)
    assert_no_duplicates(rows)
    assert {r.wallet for r in rows} == {WALLET} and {r.side for r in rows} == {"BUY"}
    assert all(r.source == "data_api" and r.tx_hash.startswith("0x") for r in rows)


async def test_v1_offset_cap_400_walks_time_windows(api, tmp_path, ds4, venue, history_rows, mids):
    hist = configure(venue, history_rows, mids, offset_cap=300)
    res = await trades_job(api, tmp_path, TradeQuery(user=WALLET, api="v1"), page_size=100, v1_max_offset=10_000)
    rows = read_trades(tmp_path)
    assert res.status == "done" and fills_of(rows) == recorded_fills(ds4)
    assert_no_duplicates(rows)
    assert res.duplicates > 0  # each new window re-serves its boundary second
    assert any("refused offset 400" in n for n in res.notes)
    assert hist.requests["/trades"] > res.pages  # the refused requests were made and answered 400


async def test_v1_own_offset_limit_walks_time_windows(api, tmp_path, ds4, venue):
    res = await trades_job(api, tmp_path, TradeQuery(user=WALLET, api="v1"), page_size=100, v1_max_offset=250)
    assert res.status == "done" and res.notes == ()
    assert fills_of(read_trades(tmp_path)) == recorded_fills(ds4)
    assert venue.rest.history.requests["/trades"] == res.pages  # no request was refused


async def test_v1_venue_that_ignores_end_is_truncated_not_looped(api, tmp_path, venue, history_rows, mids):
    configure(venue, history_rows, mids, offset_cap=300, v1_time_filters=False)
    res = await trades_job(api, tmp_path, TradeQuery(user=WALLET, api="v1"), page_size=100, v1_max_offset=10_000)
    assert res.status == "truncated" and any("ignored end" in n for n in res.notes)
    rows = read_trades(tmp_path)
    assert len(rows) == 400  # what offsets 0..300 reach; nothing twice
    assert_no_duplicates(rows)


async def test_v1_more_rows_in_one_second_than_the_cap(api, tmp_path, ds4, venue, history_rows, mids):
    # 23 fills share 2025-12-26 11:07:07; a window holds 15 rows (offsets 0, 5, 10).
    configure(venue, history_rows, mids, offset_cap=10)
    lo, hi = utc_s("2025-12-26 11:06:00"), utc_s("2025-12-26 11:08:00")
    q = TradeQuery(user=WALLET, api="v1", start_s=lo, end_s=hi)
    res = await trades_job(api, tmp_path, q, page_size=5, v1_max_offset=10_000)
    assert res.status == "truncated" and any("more than 15 trades at t=" in n for n in res.notes)
    got = fills_of(read_trades(tmp_path))
    want = {k: n for k, n in recorded_fills(ds4).items() if lo <= k[2] <= hi}
    assert all(want.get(k, 0) >= n for k, n in got.items())  # a subset: nothing invented or doubled
    newer = {k: n for k, n in want.items() if k[2] > utc_s("2025-12-26 11:07:07")}
    assert all(got.get(k) == n for k, n in newer.items())  # everything after the crowded second


@pytest.mark.parametrize("api_name", ["v1", "v2"])
@pytest.mark.parametrize("shape", ["wallet", "markets"])
async def test_time_range(api, tmp_path, ds4, api_name, shape):
    lo, hi = utc_s("2025-12-26 10:50:00"), utc_s("2025-12-26 11:10:00")
    who = {"user": WALLET} if shape == "wallet" else {"markets": tuple(m.condition_id for m in ds4.markets)}
    res = await trades_job(api, tmp_path, TradeQuery(api=api_name, start_s=lo, end_s=hi, **who), page_size=100)
    want = {k: n for k, n in recorded_fills(ds4).items() if lo <= k[2] <= hi}
    assert res.status == "done" and fills_of(read_trades(tmp_path)) == want


async def test_auto_falls_back_to_v1_when_v2_is_missing(api, tmp_path, ds4, venue):
    venue.rest.history.fail_next(1, status=404)  # the probe of /v2/trades
    res = await trades_job(api, tmp_path, TradeQuery(user=WALLET, api="auto"), page_size=500)
    assert res.status == "done" and fills_of(read_trades(tmp_path)) == recorded_fills(ds4)
    assert venue.rest.history.requests["/trades"] == res.pages == 6


async def test_5xx_is_retried(api, tmp_path, venue):
    venue.rest.history.fail_next(2, status=503)
    res = await trades_job(api, tmp_path, TradeQuery(markets=(ELECTION,)))
    assert res.rows == 4 and api.data.http.retries == 2


async def test_outage_stops_with_progress_saved_then_resumes(api, tmp_path, ds4, venue):
    hist = venue.rest.history

    def outage(ev):
        if ev.pages == 3:
            hist.fail_next(4, status=502)  # every attempt of the next request (ImportClients: 4)

    with pytest.raises(HttpRetryable, match="HTTP 502"):
        await trades_job(api, tmp_path, TradeQuery(user=WALLET), page_size=200, progress=outage)
    assert len(read_trades(tmp_path)) == 600
    res = await trades_job(api, tmp_path, TradeQuery(user=WALLET), page_size=200)
    rows = read_trades(tmp_path)
    assert res.resumed and res.status == "done" and fills_of(rows) == recorded_fills(ds4)
    assert_no_duplicates(rows)


async def test_rows_go_to_a_table_sink(api, tmp_path, sink, ds4):
    res = await trades_job(api, tmp_path, TradeQuery(user=WALLET), page_size=500, sink=sink)
    assert sink.count("trades") == res.rows == sum(recorded_fills(ds4).values())
    assert fills_of(sink.rows("trades")) == recorded_fills(ds4)
    assert not (tmp_path / "trades.jsonl").exists()


async def test_finished_job_is_not_fetched_again(api, tmp_path, venue):
    q = TradeQuery(markets=(ELECTION,), api="v1")
    await trades_job(api, tmp_path, q)
    before = venue.rest.history.requests["/trades"]
    res = await trades_job(api, tmp_path, q)
    assert res.already_finished and venue.rest.history.requests["/trades"] == before


@pytest.mark.parametrize("q", [TradeQuery(), TradeQuery(user=WALLET, api="v3"), TradeQuery(user=WALLET, side="HOLD"),
                               TradeQuery(user=WALLET, start_s=10, end_s=5)])
async def test_bad_queries(api, tmp_path, q):
    with pytest.raises(ValueError):
        await trades_job(api, tmp_path, q)
