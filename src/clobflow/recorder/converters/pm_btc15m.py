"""Converter for ``data/pm-btc15m-tob-1s``: Polymarket BTC 15-minute Up/Down top of book at 1 Hz,
the implied winners, and the fills of wallet gabagool22.

Source (see SOURCE.md there): ``market_data_*.csv.gz`` (one REST poll of both tokens per row),
``windows_implied_outcomes.csv`` (winner implied by each window's last quotes) and
``gabagool22_trades/user_data_*.csv.gz`` (Data API activity of one wallet).

Output:

- ``orderbook_snapshots``: two ``BookSnapshotRow`` per book row (Up token, then Down token),
  ``source="converted"``, no filter: 2 x 58,585 = 117,170 rows.
- ``trades``: one ``TradeRow`` per gabagool22 row, no filter (137,383 rows).
- ``market_windows``: one ``MarketWindowRow`` per window that appears in the outcomes file or
  in the trades (union, start order): 66 book windows + the trade-only windows = 205.

Assumptions:

- **Ids line up with the simulator.** Every window is ``clobflow.sim.datasets.btc15m
  .window_market(start)``: slug ``btc-updown-15m-<unix window start>``, condition id
  ``"0x" + sha256(slug)``, token ids ``int(sha256("clobflow-sim|<slug>|<Up|Down>"), 16) %
  10**77`` (Up = YES), tick 0.01, question from the live pattern; ``event_id`` = the sim's Gamma
  event id ``stable_id("event|<slug>", 6)``. None of these are the real venue ids.
- **Book rows** mirror the sim's frames exactly: each side is ONE level at the best price whose
  size is the recorded top-5 liquidity (so top-5 depth is exact, the level price is only the
  best); price 0 or size 0 = empty side; rows grouped by ``TargetTime``, stably sorted by
  ``Timestamp``, and rows sharing a whole second get ``second + k * 1e9 // n`` ns -- the same
  ``ts_recv_ns`` the sim gives the frames. ``ts_venue_ns`` = 0 (REST polls kept no venue time).
- **Trades.** All gabagool22 rows are buys (``side="BUY"``) of the named outcome
  (``trade_side`` = Up/Down) by wallet ``0x6031b6eed1c97e853c6e0f03ad3ce3529351f96d``.
  ``ts_ns`` = ``ts_venue_ns`` = the whole-second activity time. The collector merged identical
  fills (sizes summed) yet 26,315 rows still repeat another row exactly; all are kept (they are
  separate fills as far as the file tells). ``trade_id`` = ``"<file stem>#<data row number>"``
  (e.g. ``user_data_20251226#1``). ``tx_hash`` empty (not recorded). One fill
  (2025-12-26 11:45:01) is stamped 1 s after its window's end; kept.
- **Windows.** ``winner`` = the implied winner's token from ``windows_implied_outcomes.csv``
  (65 windows); the incomplete last window of 2026-01-01 and the trade-only windows have none.
  The implied winner comes from final quotes (0.99/0.01), not from the official resolution.
  ``discovered_ns`` = window start (not recorded).
- **Raw frames: yes**, from the simulator (``clobflow.sim.datasets.load_dataset(NAME)``),
  which already renders the book CSVs as market-channel frames. The wallet's fills have no
  frame form (they never appear on the public market channel with a wallet).
"""

from __future__ import annotations

import csv
import functools
import gzip
from datetime import datetime
from pathlib import Path

from clobflow.core.markets import BinaryMarket
from clobflow.recorder.converters.common import S, SNAPSHOTS, TRADES, WINDOWS, Micros, Rows
from clobflow.recorder.tables import BookSnapshotRow, MarketWindowRow, TradeRow
from clobflow.sim.datasets.btc15m import read_outcomes, read_windows, timed_rows, window_market
from clobflow.sim.datasets.gamma import stable_id

NAME = "pm-btc15m-tob-1s"
WALLET = "0x6031b6eed1c97e853c6e0f03ad3ce3529351f96d"
WALLET_NAME = "gabagool22"
TRADES_DIR = "gabagool22_trades"
_EPOCH = datetime(1970, 1, 1)

_TRADE_COLUMNS = ("timestamp", "trade_side", "quantity", "price", "TargetTime")
def seconds(text: str) -> int:
    """``"2025-12-26 10:34:14"`` (naive UTC) -> unix seconds."""
    return int((datetime.fromisoformat(text) - _EPOCH).total_seconds())


def window_row(m: BinaryMarket, winner: str = "") -> MarketWindowRow:
    """The ``MarketWindowRow`` of a sim window market; ``winner`` is ``"Up"``, ``"Down"`` or ``""``."""
    win = m.yes.token_id if winner == "Up" else m.no.token_id if winner == "Down" else ""
    return MarketWindowRow(
        discovered_ns=m.start_ns or 0,
        venue="polymarket",
        event_id=stable_id("event|" + m.slug, 6),
        market=m.condition_id,
        slug=m.slug,
        asset="btc",
        yes_token=m.yes.token_id,
        no_token=m.no.token_id,
        window_start_ns=m.start_ns or 0,
        window_end_ns=m.end_ns or 0,
        tick_size=m.tick_size,
        question=m.question,
        winner=win,
    )


def _side(price: int, size: int) -> tuple[list[int], list[int]]:
    return ([price], [size]) if price > 0 and size > 0 else ([], [])


def book_rows(directory: Path) -> Rows:
    """``orderbook_snapshots`` rows of every book CSV (window by window, time order)."""
    num = Micros()
    # the simulator's reader and timing, so these rows line up with its frames
    for target, rows in read_windows(directory).items():
        m = window_market(seconds(target))
        up, down = m.yes.token_id, m.no.token_id
        for ts, r in timed_rows(rows, S):
            for token, c in ((up, 2), (down, 6)):
                bp, bs = _side(num(r[c]), num(r[c + 1]))
                ap, as_ = _side(num(r[c + 2]), num(r[c + 3]))
                yield SNAPSHOTS, BookSnapshotRow(
                    ts_ns=ts, ts_venue_ns=0, venue="polymarket", market=m.condition_id,
                    asset_id=token, bid_prices=bp, bid_sizes=bs, ask_prices=ap,
                    ask_sizes=as_, source="converted",
                )


def trade_files(directory: Path) -> list[Path]:
    """The gabagool22 fill files, in name (= date) order."""
    return sorted((directory / TRADES_DIR).glob("user_data_*.csv.gz"))


def trade_rows(directory: Path, markets: dict[str, BinaryMarket] | None = None) -> Rows:
    """``trades`` rows of every gabagool22 file (file order, then row order). ``markets``
    (``TargetTime`` text -> window market) is filled with every window the fills name.

    Raises:
        ValueError: a ``trade_side`` is not Up/Down.
    """
    num = Micros()
    sec = functools.lru_cache(maxsize=None)(seconds)  # per call: stamps repeat a lot
    markets = {} if markets is None else markets
    for path in trade_files(directory):
        stem = path.name.split(".")[0]
        with gzip.open(path, "rt", newline="") as f:
            reader = csv.reader(f)
            header = next(reader)
            i_ts, i_side, i_qty, i_px, i_target = (header.index(c) for c in _TRADE_COLUMNS)
            for n, r in enumerate(reader, 1):
                if not r:
                    continue
                outcome = r[i_side].strip().capitalize()
                if outcome not in ("Up", "Down"):
                    raise ValueError(f"{path.name} row {n}: trade_side {r[i_side]!r}")
                m = markets.get(r[i_target])
                if m is None:
                    m = markets[r[i_target]] = window_market(sec(r[i_target]))
                ts = sec(r[i_ts]) * S
                yield TRADES, TradeRow(
                    ts_ns=ts, ts_venue_ns=ts, venue="polymarket", market=m.condition_id,
                    asset_id=m.yes.token_id if outcome == "Up" else m.no.token_id,
                    price=num(r[i_px]), size=num(r[i_qty]), side="BUY",
                    trade_id=f"{stem}#{n}", source="converted", wallet=WALLET, outcome=outcome,
                )


def iter_rows(directory: Path) -> Rows:
    """Yield ``orderbook_snapshots``, then ``trades``, then ``market_windows`` (start order).

    Raises:
        FileNotFoundError: no ``market_data_*.csv.gz`` in ``directory``.
    """
    directory = Path(directory)
    if not any(directory.glob("market_data_*.csv.gz")):
        raise FileNotFoundError(f"no market_data_*.csv.gz in {directory}")
    outcomes_path = directory / "windows_implied_outcomes.csv"
    outcomes = read_outcomes(outcomes_path) if outcomes_path.exists() else {}
    yield from book_rows(directory)
    traded: dict[str, BinaryMarket] = {}
    yield from trade_rows(directory, traded)
    starts = {int(slug.rsplit("-", 1)[1]) for slug in outcomes}
    starts.update((m.start_ns or 0) // S for m in traded.values())
    for start in sorted(starts):
        m = window_market(start)
        yield WINDOWS, window_row(m, outcomes.get(m.slug, ""))
