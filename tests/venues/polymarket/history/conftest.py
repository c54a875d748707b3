"""Fixtures for the importer tests: the local venue over loopback, fake time, a SQL table sink."""

from __future__ import annotations

import json
import sqlite3
import threading

import httpx
import msgspec
import pytest

from clobflow.venues.polymarket.history import Endpoints, ImportClients
from clobflow.recorder.tables import TABLES
from clobflow.sim.datasets import Dataset, load_dataset
from clobflow.sim.venue import VenueServer
from clobflow.sim.venue.history import VenueHistory, fixture_trades, mid_series, repo_root, wallet_fills

FROZEN = 1e-6  # a venue clock speed at which nothing else happens during a test
WALLET = "0x6031b6eed1c97e853c6e0f03ad3ce3529351f96d"  # gabagool22, whose fills the dataset carries


class FakeTime:
    """Monotonic ns clock that only moves when someone sleeps: pacing costs no real time."""

    def __init__(self) -> None:
        self.ns = 0
        self.sleeps: list[float] = []

    def now(self) -> int:
        return self.ns

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.ns += int(round(seconds * 1e9))


class SqlSink:
    """A ``TableSink`` on an in-memory SQLite (a real SQL engine; lists stored as JSON text).

    The importer calls it from its own writer thread, hence ``check_same_thread=False``.
    """

    _TYPES = {"int": "INTEGER", "str": "TEXT", "bool": "INTEGER"}

    def __init__(self) -> None:
        self.con = sqlite3.connect(":memory:", check_same_thread=False)
        self.writes = 0
        self.threads: set[str] = set()

    def ensure_tables(self) -> None:
        for name, cls in TABLES.items():
            cols = []
            for field, ann in cls.__annotations__.items():
                base = str(ann).split("|")[0].strip()
                cols.append(f"{field} {'TEXT' if base.startswith('list') else self._TYPES.get(base, 'TEXT')}")
            self.con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({', '.join(cols)})")

    def write(self, table: str, rows: list[msgspec.Struct]) -> None:
        self.threads.add(threading.current_thread().name)
        marks = ", ".join("?" for _ in TABLES[table].__struct_fields__)
        data = [[json.dumps(v) if isinstance(v, list) else v for v in msgspec.to_builtins(r)] for r in rows]
        with self.con:
            self.con.executemany(f"INSERT INTO {table} VALUES ({marks})", data)
        self.writes += 1

    def count(self, table: str) -> int:
        return self.con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    def query(self, sql: str) -> list[tuple]:
        return self.con.execute(sql).fetchall()

    def close(self) -> None:
        self.con.close()

    def rows(self, table: str) -> list[msgspec.Struct]:
        cls = TABLES[table]
        return [msgspec.convert(list(r), cls) for r in self.query(f"SELECT * FROM {table}")]


@pytest.fixture(scope="session")
def ds4() -> Dataset:
    """The first four 15-minute BTC windows (all resolved; ~2,600 recorded wallet fills)."""
    return load_dataset("pm-btc15m-tob-1s", limit_markets=4)


@pytest.fixture(scope="session")
def history_rows(ds4) -> list[dict]:
    from clobflow.sim.datasets import data_dir

    fills = wallet_fills(ds4, data_dir() / "pm-btc15m-tob-1s" / "gabagool22_trades")
    return fixture_trades(repo_root() / "fixtures" / "polymarket" / "rest") + fills


@pytest.fixture(scope="session")
def mids(ds4) -> dict:
    return mid_series(ds4)


@pytest.fixture
async def venue(ds4, history_rows, mids):
    """The venue after the last frame (every window resolved), clock frozen, fresh history."""
    v = VenueServer(ds4, speed=FROZEN, start_at_ns=ds4.frames[-1].ts_recv_ns + 1)
    await v.start()
    v.rest.history = VenueHistory(history_rows, mids, clock_ns=v.now_ns)
    yield v
    await v.stop()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def api(venue, fake_time):
    """Importer clients on the venue, paced and backing off on fake time."""
    sent: list[int] = []

    async def stamp(request: httpx.Request) -> None:
        sent.append(fake_time.now())

    async with httpx.AsyncClient(event_hooks={"request": [stamp]}) as http:
        async with ImportClients(Endpoints.single(venue.http_url), client=http, clock_ns=fake_time.now,
                                 sleep=fake_time.sleep, backoff_s=0.05) as clients:
            clients.sent_at = sent  # type: ignore[attr-defined]
            yield clients


@pytest.fixture
def sink():
    s = SqlSink()
    yield s
    s.close()
