"""The market log: which markets a recording followed, with the metadata a backtest needs.

``root/markets/{venue}.jsonl`` is append-only, one ``MarketLogEntry`` per line::

    {"discovered_ns": 1766745254000000000, "market": {"condition_id": "0x…", "slug": …,
     "tick_size": 10000, "fee_schedule": …, "start_ns": …, "end_ns": …, …}}

A line is written when a market is first seen and again whenever its metadata changes (tick,
accepting orders, fees, …); ``discovered_ns`` is when that version was learned (local receive
clock, ns). The raw frames alone cannot say when a window closes or what it charges, so a
backtest over a recording reads this file (``read_markets``). Reading tolerates a cut last line
(a writer killed mid-append).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import msgspec

from clobflow.core.markets import BinaryMarket
from clobflow.recorder.normalize import market_window_row
from clobflow.recorder.tables import MarketWindowRow


class MarketLogEntry(msgspec.Struct, frozen=True):
    discovered_ns: int
    market: BinaryMarket


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(MarketLogEntry)


def market_log_path(root: str | Path, venue: str) -> Path:
    return Path(root) / "markets" / f"{venue}.jsonl"


class MarketLog:
    """Appends market versions to ``root/markets/{venue}.jsonl``; writes only what is new.

    On open it reads the existing file, so a restarted recorder does not log known markets
    again. Not thread-safe (the recorder's writer thread owns it). Each ``append`` is flushed
    to the OS before it returns.
    """

    def __init__(self, root: str | Path, venue: str = "polymarket") -> None:
        self.path = market_log_path(root, venue)
        self.venue = venue
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.known: dict[str, BinaryMarket] = {e.market.condition_id: e.market for e in iter_market_log(self.path)}
        self._fh = open(self.path, "ab")  # noqa: SIM115 - held for the recorder's lifetime
        self.written = 0

    def append(self, markets: Iterable[BinaryMarket], discovered_ns: int) -> list[BinaryMarket]:
        """Log each market that is new or differs from its last logged version; returns those.
        Markets are logged with the venue's own ids (``BinaryMarket.bare``), like the raw
        frames beside them: recorded data stays what the venue sent, whatever the engine calls
        it (a backtest qualifies them on load)."""
        new = [b for b in (m.bare() for m in markets) if self.known.get(b.condition_id) != b]
        if not new:
            return []
        self._fh.write(_encoder.encode_lines([MarketLogEntry(discovered_ns, m) for m in new]))
        self._fh.flush()
        for m in new:
            self.known[m.condition_id] = m
        self.written += len(new)
        return new

    def close(self) -> None:
        self._fh.close()


def iter_market_log(path: str | Path) -> Iterator[MarketLogEntry]:
    """Entries of one market-log file in file order; unreadable lines are skipped."""
    path = Path(path)
    if not path.exists():
        return
    with open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                try:
                    yield _decoder.decode(line)
                except msgspec.MsgspecError:
                    continue  # a cut last line: the writer was killed mid-append


def read_markets(root: str | Path, venue: str = "polymarket") -> dict[str, BinaryMarket]:
    """Condition id -> the latest logged version of each market of the recording."""
    return {e.market.condition_id: e.market for e in iter_market_log(market_log_path(root, venue))}


def market_window_rows(root: str | Path, venue: str = "polymarket") -> list[MarketWindowRow]:
    """``market_windows`` rows for every logged market version (see ``normalize.market_window_row``)."""
    return [market_window_row(e.market, e.discovered_ns, venue)
            for e in iter_market_log(market_log_path(root, venue))]
