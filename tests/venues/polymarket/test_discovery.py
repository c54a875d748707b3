"""Discovery: filter validation, up/down slug arithmetic, pure ``select``, and ``refresh``/``run``
against a real loopback Gamma (127.0.0.1, stdlib ThreadingHTTPServer) serving markets derived
from the real up/down capture. The loopback Gamma honours only ``slug``/``clob_token_ids``/
``closed``/``limit``/``offset`` and ignores the date and tag filters on purpose: the client must
not trust server-side filtering."""

from __future__ import annotations

import copy
import json
import zlib
from pathlib import Path
from typing import Any

import msgspec
import pytest

from clobflow.core.clock import LiveClock, SimClock
from clobflow.core.errors import ConfigError, Retryable
from clobflow.core.markets import BinaryMarket
from clobflow.venues.polymarket.clob_rest import ClobRestClient
from clobflow.venues.polymarket.discovery import (
    Discovery,
    DiscoveryDiff,
    DiscoveryFilter,
    select,
    updown_slugs,
    venue_clock_offset_ns,
)
from clobflow.venues.polymarket.gamma import GammaClient, iso_to_ns, ns_to_iso, parse_gamma_market
from tests.venues.polymarket.loopback_http import LoopbackHTTP

REST = Path(__file__).resolve().parents[3] / "fixtures" / "polymarket" / "rest"
TEMPLATE = json.loads((REST / "gamma_market_btc_updown_5m_2026-03.json").read_text())
S = 1_000_000_000
W0 = 1_765_000_800  # 2025-12-06T06:00:00Z, aligned to 900 s


def updown(asset: str, start: int, interval: str = "15m", **over: Any) -> dict[str, Any]:
    """A Gamma up/down market built from the real capture, for another asset/window."""
    period = {"5m": 300, "15m": 900}[interval]
    d = copy.deepcopy(TEMPLATE)
    slug = f"{asset}-updown-{interval}-{start}"
    n = zlib.crc32(slug.encode())
    d.update(id=str(n), slug=slug, conditionId=f"0x{n:064x}",
             clobTokenIds=json.dumps([f"{n}1", f"{n}2"]),
             eventStartTime=ns_to_iso(start * S), endDate=ns_to_iso((start + period) * S))
    d["events"][0]["slug"] = slug
    d.update(over)
    return d


# -- loopback Gamma --------------------------------------------------------------------------


class GammaServer:
    """A loopback Gamma: ``/markets`` answers from ``rows`` (or fails with ``fail_status``), and
    ``/time`` pops the next of ``times`` (so a ``ClobRestClient`` can ask it the time too)."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.fail_status: int | None = None
        self.times: list[str] = []
        self.http = LoopbackHTTP({"/markets": self.answer, "/time": self.time})

    def answer(self, q: dict[str, list[str]]) -> tuple[int, Any]:
        if self.fail_status is not None:
            return self.fail_status, {"error": "down"}
        rows = self.rows
        if "slug" in q:
            rows = [r for r in rows if r["slug"] in q["slug"]]
        if "clob_token_ids" in q:
            want = set(q["clob_token_ids"])
            rows = [r for r in rows if set(json.loads(r["clobTokenIds"])) & want]
        if q.get("closed") == ["false"]:
            rows = [r for r in rows if not r["closed"]]
        off, lim = int(q.get("offset", ["0"])[0]), int(q.get("limit", ["20"])[0])
        return 200, rows[off : off + lim]

    def time(self, q: dict[str, list[str]]) -> tuple[int, str]:
        return 200, self.times.pop(0)

    @property
    def queries(self) -> list[dict[str, list[str]]]:
        return self.http.queries("/markets")

    @property
    def url(self) -> str:
        return self.http.url

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def gamma_srv():
    s = GammaServer([])
    yield s
    s.close()


async def _no_sleep(_s: float) -> None:
    return None


def gamma(srv: GammaServer) -> GammaClient:
    return GammaClient(srv.url, sleep=_no_sleep, max_attempts=2)


# -- filter validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "key"),
    [
        ({"slugs": "btc"}, "slugs"),
        ({"tags": ("",)}, "tags"),
        ({"updown_assets": ("BTC",)}, "updown_assets"),
        ({"updown_assets": ("btc",), "updown_intervals": ("1h",)}, "updown_intervals"),
        ({"updown_assets": ("btc",), "updown_intervals": ()}, "updown_intervals"),
        ({"updown_windows_ahead": -1}, "updown_windows_ahead"),
        ({"updown_windows_ahead": True}, "updown_windows_ahead"),
        ({"max_hours_to_close": 0}, "max_hours_to_close"),
        ({"max_hours_to_close": float("inf")}, "max_hours_to_close"),
        ({"min_minutes_to_close": -5}, "min_minutes_to_close"),
        ({"max_hours_to_close": 1, "min_minutes_to_close": 60}, "min_minutes_to_close"),
        ({"active_only": "yes"}, "active_only"),
        ({"limit": 0}, "limit"),
    ],
)
def test_filter_validation(kw: dict[str, Any], key: str):
    with pytest.raises(ConfigError) as ei:
        DiscoveryFilter(**kw)
    assert ei.value.key == key


def test_filter_from_mapping():
    flt = DiscoveryFilter.from_mapping({"updown_assets": ["btc", "eth", "btc"], "limit": 5})
    assert flt.updown_assets == ("btc", "eth") and flt.limit == 5 and not flt.broad_query
    with pytest.raises(ConfigError) as ei:
        DiscoveryFilter.from_mapping({"max_hours": 3})
    assert ei.value.key == "discovery.max_hours"
    with pytest.raises(ConfigError) as ei:
        DiscoveryFilter.from_mapping({"limit": -1})
    assert ei.value.key == "discovery.limit"
    assert DiscoveryFilter().broad_query
    assert DiscoveryFilter(slugs=("a",), tags=("crypto",)).broad_query


# -- up/down slugs ---------------------------------------------------------------------------


def test_updown_slugs_boundaries_and_ahead():
    assert updown_slugs(["btc"], ["15m"], W0, 0) == [f"btc-updown-15m-{W0}"]
    assert updown_slugs(["btc"], ["15m"], W0 + 899.9, 1) == [
        f"btc-updown-15m-{W0}", f"btc-updown-15m-{W0 + 900}"]
    assert updown_slugs(["btc"], ["15m"], W0 - 1, 0) == [f"btc-updown-15m-{W0 - 900}"]
    assert updown_slugs(["btc"], ["15m"], W0 + 900, 2) == [
        f"btc-updown-15m-{W0 + 900 * k}" for k in (1, 2, 3)]
    assert updown_slugs(["btc", "eth"], ["5m", "15m"], W0 + 301, 1) == [
        f"btc-updown-5m-{W0 + 300}", f"btc-updown-5m-{W0 + 600}",
        f"btc-updown-15m-{W0}", f"btc-updown-15m-{W0 + 900}",
        f"eth-updown-5m-{W0 + 300}", f"eth-updown-5m-{W0 + 600}",
        f"eth-updown-15m-{W0}", f"eth-updown-15m-{W0 + 900}",
    ]
    with pytest.raises(ValueError):
        updown_slugs(["btc"], ["1h"], W0, 0)


def test_updown_slug_matches_real_capture():
    m = parse_gamma_market(TEMPLATE)
    start_s = m.start_ns // S
    for now in (start_s, start_s + 150, start_s + 299):
        assert updown_slugs(["btc"], ["5m"], now, 0) == [m.slug]
    assert m.end_ns - m.start_ns == 300 * S


# -- select ----------------------------------------------------------------------------------


def mk(**over: Any) -> BinaryMarket:
    return msgspec.structs.replace(parse_gamma_market(updown("btc", W0)), **over)


NOW = (W0 + 100) * S


@pytest.mark.parametrize(
    ("flt", "bad", "good"),
    [
        (DiscoveryFilter(), {"active": False}, {}),
        (DiscoveryFilter(), {"closed": True}, {}),
        (DiscoveryFilter(), {"enable_order_book": False}, {}),
        (DiscoveryFilter(require_accepting_orders=True), {"accepting_orders": False}, {}),
        (DiscoveryFilter(), {"end_ns": NOW}, {"end_ns": NOW + 1}),  # window over / not yet
        (DiscoveryFilter(min_minutes_to_close=15), {}, {"end_ns": NOW + 900 * S}),  # 800 s vs 900 s
        (DiscoveryFilter(max_hours_to_close=0.2),
         {"end_ns": NOW + 721 * S}, {"end_ns": NOW + 720 * S}),
        (DiscoveryFilter(max_hours_to_close=1), {"end_ns": None}, {}),
        (DiscoveryFilter(tags=("politics",)),
         {"tags": ("crypto",)}, {"tags": ("crypto", "politics")}),
    ],
)
def test_select_each_filter_excludes(flt: DiscoveryFilter, bad: dict, good: dict):
    ok = mk(**good)
    assert select([ok], flt, NOW) == [ok]
    assert select([mk(**bad)], flt, NOW) == []


def test_select_baseline_and_relaxed_flags():
    m = mk(active=False, closed=True, enable_order_book=False, end_ns=None)
    relaxed = DiscoveryFilter(active_only=False, exclude_closed=False, require_order_book=False)
    assert select([m], relaxed, NOW) == [m]
    assert select([mk()], DiscoveryFilter(min_minutes_to_close=13), NOW) == [mk()]  # 800 s >= 780 s
    assert select([mk(end_ns=NOW + 720 * S)], DiscoveryFilter(max_hours_to_close=0.2), NOW) != []


def test_select_tags_named_exempt_order_limit_dedup():
    a = mk(condition_id="a", slug="x-a", end_ns=NOW + 50 * S, tags=("crypto",))
    b = mk(condition_id="b", slug="x-b", end_ns=NOW + 10 * S, tags=("crypto", "bitcoin"))
    c = mk(condition_id="c", slug="x-c", end_ns=NOW + 5 * S, tags=("politics",))
    named = mk(condition_id="n", slug="chosen", end_ns=NOW + 900 * S, tags=())
    flt = DiscoveryFilter(tags=("crypto",), slugs=("chosen",))
    assert select([a, b, c, named, a], flt, NOW) == [named, b, a]
    flt2 = DiscoveryFilter(tags=("crypto",), slugs=("chosen",), limit=2)
    assert select([a, b, c, named], flt2, NOW) == [named, b]
    updown_named = mk(tags=())
    flt3 = DiscoveryFilter(tags=("politics",), updown_assets=("btc",))
    assert select([updown_named], flt3, NOW) == [updown_named]


# -- refresh over loopback HTTP --------------------------------------------------------------


def series(assets: tuple[str, ...], n: int) -> list[dict[str, Any]]:
    return [updown(a, W0 + k * 900) for a in assets for k in range(-1, n)]


async def test_refresh_rolls_windows(gamma_srv: GammaServer):
    gamma_srv.rows = series(("btc", "eth"), 4)
    clock = SimClock((W0 + 100) * S)
    flt = DiscoveryFilter(
        updown_assets=("btc", "eth"), updown_intervals=("15m",), updown_windows_ahead=1)
    async with gamma(gamma_srv) as g:
        disc = Discovery(g, flt, clock)
        d1 = await disc.refresh()
        assert d1.error is None and d1.removed == []
        assert sorted(m.slug for m in d1.added) == sorted(
            f"{a}-updown-15m-{W0 + k}" for a in ("btc", "eth") for k in (0, 900))
        assert sorted(gamma_srv.queries[0]["slug"]) == sorted(m.slug for m in d1.added)
        assert gamma_srv.queries[0]["limit"] == ["4"]

        clock.set((W0 + 900) * S)  # the first window has ended, exactly on the boundary
        d2 = await disc.refresh()
        assert {m.slug for m in d2.removed} == {f"btc-updown-15m-{W0}", f"eth-updown-15m-{W0}"}
        assert {m.slug for m in d2.added} == {
            f"btc-updown-15m-{W0 + 1800}", f"eth-updown-15m-{W0 + 1800}"}
        assert set(d2.current) == set(disc.current) and len(d2.current) == 4

        d3 = await disc.refresh()  # nothing moved
        assert not d3.has_changes and d3.current == d2.current


async def test_refresh_removes_closed_and_reports_changes(gamma_srv: GammaServer):
    rows = series(("btc",), 2)
    gamma_srv.rows = rows
    clock = SimClock((W0 + 10) * S)
    async with gamma(gamma_srv) as g:
        disc = Discovery(g, DiscoveryFilter(updown_assets=("btc",)), clock)
        assert len((await disc.refresh()).added) == 2
        rows[1]["closed"] = True  # the current window closed early (server now omits it)
        rows[2]["acceptingOrders"] = False
        d = await disc.refresh()
    assert [m.slug for m in d.removed] == [f"btc-updown-15m-{W0}"]
    assert [m.slug for m in d.changed] == [f"btc-updown-15m-{W0 + 900}"]
    assert not d.changed[0].accepting_orders


async def test_refresh_errors_keep_previous_set(gamma_srv: GammaServer):
    gamma_srv.rows = series(("btc",), 3)
    clock = SimClock((W0 + 10) * S)
    async with gamma(gamma_srv) as g:
        disc = Discovery(g, DiscoveryFilter(updown_assets=("btc",)), clock)
        first = await disc.refresh()
        gamma_srv.fail_status = 502
        d = await disc.refresh()
        assert isinstance(d.error, Retryable) and not d.has_changes and d.current == first.current
        assert disc.consecutive_errors == 1 and disc.errors == 1
        gamma_srv.fail_status = 400
        d = await disc.refresh()
        assert d.error is not None and "HTTP 400" in str(d.error) and d.current == first.current
        clock.set((W0 + 900) * S)  # still failing, but the clock alone retires the ended window
        d = await disc.refresh()
        assert [m.slug for m in d.removed] == [f"btc-updown-15m-{W0}"] and d.added == []
        assert disc.consecutive_errors == 3
        gamma_srv.fail_status = None
        d = await disc.refresh()
    assert d.error is None and [m.slug for m in d.added] == [f"btc-updown-15m-{W0 + 1800}"]
    assert disc.consecutive_errors == 0


async def test_refresh_broad_query_filters_client_side(gamma_srv: GammaServer):
    near = updown("btc", W0)  # closes in 890 s
    far = updown("eth", W0 + 6 * 3600)  # the server ignores end_date_max and returns it anyway
    ended = updown("sol", W0 - 900)
    tagged_other = updown("xrp", W0, tags=[{"slug": "politics"}])
    junk = {**updown("doge", W0), "clobTokenIds": "[oops"}
    gamma_srv.rows = [near, far, ended, tagged_other, junk]
    clock = SimClock((W0 + 10) * S)
    flt = DiscoveryFilter(tags=("crypto",), max_hours_to_close=1, min_minutes_to_close=1, limit=50)
    async with gamma(gamma_srv) as g:
        d = await Discovery(g, flt, clock).refresh()
    assert [m.slug for m in d.added] == [near["slug"]]
    assert d.added[0].tags == ("crypto",)  # credited with the tag it was found by
    assert [s for s, _ in d.skipped] == [junk["slug"]]
    (q,) = gamma_srv.queries
    assert q["active"] == ["true"] and q["closed"] == ["false"] and q["tag_slug"] == ["crypto"]
    assert q["end_date_min"] == [ns_to_iso((W0 + 70) * S)]
    assert iso_to_ns(q["end_date_max"][0]) == (W0 + 10 + 3601) * S
    assert q["limit"] == ["50"] and q["offset"] == ["0"]


async def test_refresh_by_token_ids_and_slugs(gamma_srv: GammaServer):
    a, b = updown("btc", W0), updown("eth", W0)
    gamma_srv.rows = [a, b]
    tok = json.loads(b["clobTokenIds"])[1]
    async with gamma(gamma_srv) as g:
        flt = DiscoveryFilter(slugs=(a["slug"],), token_ids=("POLYMARKET:" + tok,))  # as the engine prints it
        assert flt.token_ids == (tok,)
        d = await Discovery(g, flt, SimClock(W0 * S)).refresh()
    assert sorted(m.slug for m in d.added) == sorted([a["slug"], b["slug"]])
    assert [list(q) for q in gamma_srv.queries] == [["slug", "limit"], ["clob_token_ids", "limit"]]


async def test_run_loop_backoff_and_callbacks(gamma_srv: GammaServer):
    gamma_srv.rows = series(("btc",), 3)
    clock = SimClock((W0 + 10) * S)
    sleeps: list[float] = []
    seen: list[DiscoveryDiff] = []
    sync_seen: list[DiscoveryDiff] = []

    async def sleep(s: float) -> None:
        sleeps.append(s)
        if len(sleeps) == 1:
            gamma_srv.fail_status = 503
        if len(sleeps) == 3:
            gamma_srv.fail_status = None
        clock.advance(int(s * S))

    async def on_diff(d: DiscoveryDiff) -> None:
        seen.append(d)

    async with gamma(gamma_srv) as g:
        disc = Discovery(g, DiscoveryFilter(updown_assets=("btc",)), clock)
        await disc.run(30, on_diff, error_backoff_s=2, max_backoff_s=3, iterations=5, sleep=sleep)
        await disc.run(30, sync_seen.append, iterations=1, sleep=sleep)
    # ok, fail, fail, ok (no change), ok (no change): callbacks on first, and on each failure.
    assert sleeps[:4] == [30, 2, 3, 30]
    assert [d.error is not None for d in seen] == [False, True, True]
    assert len(seen[0].added) == 2 and len(sync_seen) == 1


async def test_venue_clock_offset(gamma_srv: GammaServer):
    dec_2025 = 1_765_000_000
    gamma_srv.times += [str(dec_2025), str(dec_2025)]
    clock = SimClock(1_790_000_000 * S)
    async with ClobRestClient(gamma_srv.url, sleep=_no_sleep) as clob:
        off = await venue_clock_offset_ns(clob, clock)
        assert off == (dec_2025 - 1_790_000_000) * S + S // 2
        live = LiveClock()
        off = await venue_clock_offset_ns(clob, live)
        assert abs(LiveClock(off).now_ns() - dec_2025 * S) < 2 * S
