"""The prices job against the simulator's ``/prices-history`` over loopback."""

from __future__ import annotations

import pytest

from clobflow.book.book_set import BookSet
from clobflow.core.numbers import format_micros
from clobflow.venues.polymarket.history import PriceQuery
from clobflow.sim.venue.history import VenueHistory
from clobflow.venues.polymarket.http import HttpRejected
from clobflow.venues.polymarket.parsing import MarketParser

from .helpers import prices_job, read_prices

NS = 1_000_000_000


def full_range(ds) -> tuple[int, int]:
    return ds.frames[0].ts_recv_ns // NS, ds.frames[-1].ts_recv_ns // NS


def independent_mids(ds) -> dict[str, list[tuple[int, int]]]:
    """Per token ``(second, mid)`` after every frame, through the engine's own parser and books:
    the mid of the latest top of book with both sides present."""
    parser, books = MarketParser(), BookSet()
    out: dict[str, list[tuple[int, int]]] = {t: [] for t in ds.token_ids}
    for fr in ds.frames:
        for ev in parser.parse(fr.frame, fr.ts_recv_ns):
            books.on_event(ev)
        for t in ds.token_ids:
            b = books.get_book(t)
            if b is not None and b.best_bid() is not None and b.best_ask() is not None:
                out[t].append((fr.ts_recv_ns // NS, (b.best_bid() + b.best_ask()) // 2))
    return out


async def test_windows_stitch_to_the_whole_range(api, tmp_path, ds4):
    lo, hi = full_range(ds4)
    tokens = tuple(ds4.token_ids)
    chunked = await prices_job(api, tmp_path / "chunked", PriceQuery(tokens, lo, hi), window_s=300, min_window_s=60)
    whole = await prices_job(api, tmp_path / "whole", PriceQuery(tokens, lo, hi), window_s=hi - lo, min_window_s=60)
    assert chunked.status == whole.status == "done"
    assert chunked.pages > 8 * len(tokens) // 4 and whole.pages == len(tokens)
    a, b = read_prices(tmp_path / "chunked"), read_prices(tmp_path / "whole")
    assert a == b and sorted(a) == sorted(tokens) and sum(map(len, a.values())) == chunked.rows == whole.rows
    for points in a.values():
        ts = [t for t, _ in points]
        assert ts == sorted(set(ts)) and all(t % 60 == 0 for t in ts)  # 1-minute fidelity, no repeats


async def test_prices_match_the_books(api, tmp_path, ds4):
    lo, hi = full_range(ds4)
    await prices_job(api, tmp_path, PriceQuery(tuple(ds4.token_ids), lo, hi), window_s=600, min_window_s=60)
    mids = independent_mids(ds4)
    checked = 0
    for token, points in read_prices(tmp_path).items():
        for t, price in points:
            before = [m for s, m in mids[token] if s <= t]
            assert before and price == format_micros(before[-1]), (token, t)
            checked += 1
    assert checked > 90  # 8 tokens x 15-minute windows at 1-minute fidelity


async def test_fidelity_and_interval_max(api, tmp_path, ds4):
    token = ds4.markets[1].yes.token_id
    lo, hi = full_range(ds4)
    res = await prices_job(api, tmp_path / "max", PriceQuery((token,), fidelity_min=5))
    ranged = await prices_job(api, tmp_path / "rng", PriceQuery((token,), lo, hi, fidelity_min=5))
    a = read_prices(tmp_path / "max")[token]
    assert res.pages == 1 and a == read_prices(tmp_path / "rng")[token] and ranged.rows == len(a)
    assert all(t % 300 == 0 for t, _ in a)


async def test_a_refused_long_window_is_halved(api, tmp_path, ds4, venue, history_rows, mids):
    venue.rest.history = VenueHistory(history_rows, mids, clock_ns=venue.now_ns, prices_max_range_s=700)
    lo, hi = full_range(ds4)
    token = ds4.markets[0].no.token_id
    res = await prices_job(api, tmp_path, PriceQuery((token,), lo, hi), window_s=3000, min_window_s=300)
    assert res.status == "done"
    assert venue.rest.history.requests["/prices-history"] == res.pages + 3  # 3000 -> 1500 -> 750 -> 375
    await prices_job(api, tmp_path / "ref", PriceQuery((token,), lo, hi), window_s=hi - lo, min_window_s=60)
    assert read_prices(tmp_path) == read_prices(tmp_path / "ref")


async def test_too_long_even_at_the_smallest_window(api, tmp_path, ds4, venue, history_rows, mids):
    venue.rest.history = VenueHistory(history_rows, mids, clock_ns=venue.now_ns, prices_max_range_s=100)
    lo, hi = full_range(ds4)
    with pytest.raises(HttpRejected, match="too long"):
        await prices_job(api, tmp_path, PriceQuery((ds4.token_ids[0],), lo, hi), window_s=400, min_window_s=200)


async def test_unknown_token_is_missing_and_the_rest_is_imported(api, tmp_path, ds4):
    lo, hi = full_range(ds4)
    res = await prices_job(api, tmp_path, PriceQuery(("42", ds4.token_ids[0]), lo, hi))
    assert res.status == "done" and res.missing == ("42",)
    assert list(read_prices(tmp_path)) == [ds4.token_ids[0]]


async def test_5xx_is_retried(api, tmp_path, ds4, venue):
    venue.rest.history.fail_next(3, status=500)
    res = await prices_job(api, tmp_path, PriceQuery((ds4.token_ids[0],)))
    assert res.status == "done" and res.rows > 0 and api.clob.http.retries == 3


@pytest.mark.parametrize("q", [PriceQuery(()), PriceQuery(("1",), 5, None), PriceQuery(("1",), 9, 5)])
async def test_bad_queries(api, tmp_path, q):
    with pytest.raises(ValueError):
        await prices_job(api, tmp_path, q)
