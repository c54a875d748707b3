"""Pacing: the importer's requests stay under the configured rate (fake clock; real sockets)."""

from __future__ import annotations

import httpx

from clobflow.venues.polymarket.history import DATA_API_PACES, Endpoints, ImportClients, TradeQuery

from .conftest import WALLET, FakeTime
from .helpers import trades_job

MS = 1_000_000


def max_in_window(times_ns: list[int], window_ns: int) -> int:
    """The most requests inside any sliding window of ``window_ns``."""
    best, j = 0, 0
    for i, t in enumerate(times_ns):
        while times_ns[j] <= t - window_ns:
            j += 1
        best = max(best, i - j + 1)
    return best


async def test_default_pace_burst_then_interval(api, tmp_path, fake_time):
    res = await trades_job(api, tmp_path, TradeQuery(user=WALLET), page_size=100)
    sent = api.sent_at
    pace = DATA_API_PACES["trades"]  # 100 / 10 s, burst 10: 100 ms apart after the burst
    interval = int(pace.per_s * 1e9) // pace.count
    assert len(sent) == res.pages == 27
    assert sent[: pace.burst] == [0] * pace.burst
    for i in range(pace.burst, len(sent)):
        assert sent[i] >= (i - pace.burst + 1) * interval
        assert sent[i] - sent[i - 1] >= interval
    assert max_in_window(sent, int(pace.per_s * 1e9)) <= pace.count + pace.burst
    assert fake_time.ns >= (len(sent) - pace.burst) * interval  # the waiting happened (on fake time)


async def test_max_rps_caps_every_lane(venue, tmp_path):
    clock = FakeTime()
    sent: list[int] = []

    async def stamp(request: httpx.Request) -> None:
        sent.append(clock.now())

    async with httpx.AsyncClient(event_hooks={"request": [stamp]}) as http:
        async with ImportClients(Endpoints.single(venue.http_url), client=http, max_rps=4,
                                 clock_ns=clock.now, sleep=clock.sleep) as c:
            res = await trades_job(c, tmp_path, TradeQuery(user=WALLET), page_size=100)
    assert len(sent) == res.pages == 27
    gaps = [b - a for a, b in zip(sent, sent[1:], strict=False)]
    assert min(gaps) >= 250 * MS
    assert max_in_window(sent, 10_000 * MS) <= 40


async def test_retry_backoff_is_paced_too(api, tmp_path, venue, fake_time):
    venue.rest.history.fail_next(3, status=429)
    await trades_job(api, tmp_path, TradeQuery(markets=("0xdd22472e552920b8438158ea7238bfadfa4f736aa4cee91a6b86c39ead110917",)))
    # ImportClients(backoff_s=0.05) in the fixture: 50, 100, 200 ms between the attempts
    assert [round(s, 3) for s in fake_time.sleeps if s >= 0.05] == [0.05, 0.1, 0.2]
    assert len(api.sent_at) == 4
