"""Helpers for the importer tests: run a job in its own state, read what it wrote."""

from __future__ import annotations

import csv
import gzip
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from clobflow.core.numbers import micros_from_number
from clobflow.venues.polymarket.history import ImportState, import_markets, import_prices, import_trades
from clobflow.recorder.tables import MarketWindowRow, TradeRow
from clobflow.sim.datasets import Dataset, data_dir

NS = 1_000_000_000


def state_path(out: Path) -> Path:
    return out / "import-state.json"


async def trades_job(api, out: Path, q, **kw):
    with ImportState.open(state_path(out)) as st:
        return await import_trades(st, api.data, q, out_dir=out, **kw)


async def prices_job(api, out: Path, q, **kw):
    with ImportState.open(state_path(out)) as st:
        return await import_prices(st, api.clob, q, out_dir=out, **kw)


async def markets_job(api, out: Path, q, **kw):
    with ImportState.open(state_path(out)) as st:
        return await import_markets(st, api.gamma, q, out_dir=out, **kw)


def read_trades(out: Path) -> list[TradeRow]:
    path = out / "trades.jsonl"
    return [TradeRow(**json.loads(line)) for line in path.read_text().splitlines()] if path.exists() else []


def read_windows(out: Path) -> list[MarketWindowRow]:
    path = out / "market_windows.jsonl"
    return [MarketWindowRow(**json.loads(line)) for line in path.read_text().splitlines()] if path.exists() else []


def read_prices(out: Path) -> dict[str, list[tuple[int, str]]]:
    res = {}
    for p in sorted((out / "prices").glob("*.csv")):
        lines = p.read_text().splitlines()
        assert lines[0] == "t,price", p
        res[p.stem] = [(int(t), v) for t, v in (ln.split(",") for ln in lines[1:])]
    return res


def assert_no_duplicates(rows) -> None:
    dup = [k for k, n in Counter(rows).items() if n > 1]
    assert not dup, f"{len(dup)} rows written twice, e.g. {dup[0]}"


def utc_s(text: str) -> int:
    """``"2025-12-26 10:30:19"`` (UTC) -> epoch seconds."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


_FILLS: dict[int, Counter] = {}


def recorded_fills(ds: Dataset) -> Counter:
    """The wallet's fills on ``ds``'s windows read straight from the recording, as
    ``(condition id, token id, ts_s, size micros, price micros)`` (an independent expectation).
    Cached per dataset object (the files hold ~137k rows)."""
    if id(ds) in _FILLS:
        return Counter(_FILLS[id(ds)])
    by_start = {m.start_ns // NS: m for m in ds.markets}
    # the file of day D also holds the windows of the first hours of D+1
    days = {datetime.fromtimestamp(s - d, UTC).strftime("%Y%m%d") for s in by_start for d in (0, 86_400)}
    out: Counter = Counter()
    for path in sorted((data_dir() / "pm-btc15m-tob-1s" / "gabagool22_trades").glob("user_data_*.csv.gz")):
        if path.name[10:18] not in days:
            continue
        with gzip.open(path, "rt", newline="") as f:
            for r in csv.DictReader(f):
                m = by_start.get(utc_s(r["TargetTime"]))
                if m is not None:
                    token = m.yes.token_id if r["trade_side"] == m.yes.outcome else m.no.token_id
                    # recorded as float text with noise ("0.3200000190459075"), like the venue's
                    # JSON floats: round to the micro-unit
                    out[(m.condition_id, token, utc_s(r["timestamp"]), micros_from_number(float(r["quantity"])),
                         micros_from_number(float(r["price"])))] += 1
    _FILLS[id(ds)] = out
    return Counter(out)


def fills_of(rows: list[TradeRow]) -> Counter:
    return Counter((r.market, r.asset_id, r.ts_ns // NS, r.size, r.price) for r in rows)
