"""Converter for ``data/pm-btc15m-tob-1s``: Polymarket BTC 15-minute Up/Down, 1 Hz top of book.

Source: ``market_data_*.csv.gz`` (one row per ~1 s REST poll of both tokens: best bid/ask and the
summed size of the best 5 levels per side) and ``windows_implied_outcomes.csv`` (the winner
implied by each window's last quotes). See data/pm-btc15m-tob-1s/SOURCE.md.

Assumptions (also in data/CONVERSIONS.md):

- **Ids.** The source has no ids, so they are derived, stable across runs:
  slug ``btc-updown-15m-<unix window start>`` (the real pattern), condition id
  ``"0x" + sha256(slug)``, token id ``int(sha256("clobflow-sim|<slug>|<outcome>"), 16) % 10**77``
  as a decimal string, Gamma market id ``stable_id("market|<slug>")``. Outcomes are
  ``["Up", "Down"]``; Up is the YES token.
- **One level per side.** Only the best price and the top-5 liquidity are known, so each side
  is ONE level at the best price whose size is that side's top-5 liquidity. Top-5 depth and
  imbalance are exact; a VWAP walk is optimistic (all size sits at the best price). Price
  ``0.0`` (or size 0) means an empty side.
- **No mirror forcing.** Each token's own recorded quotes are used. The source polled the two
  books separately, so Up and Down tops need not mirror (asks can sum below 1) exactly as in
  the source.
- **Order and time.** The collector's threads wrote rows slightly out of order (about 110 of
  58,585 rows), and timestamps are whole seconds. Rows are grouped by window (``TargetTime``),
  stably sorted by ``Timestamp``; rows sharing a second are spread evenly over it
  (``k * 1e9 // n`` ns), so receive times strictly follow source order.
- **Frames.** At a window's first row: ``new_market`` then a ``book`` per token; then one
  ``price_change`` per row that changed anything; at the window end (``Expiration``) a
  ``market_resolved`` with the implied winner when the CSV names one (65 of 66 windows; the
  last window of 2026-01-01 stops before expiry and gets none). The new_market frame is sent at
  the first recorded row (the real venue announces markets about a day earlier).
- **Trading rules.** Tick 0.01 and min size 5 in every ``book``/Gamma object. Near 0 and 1 the
  venue narrows the tick, and some quotes are on the 0.001 grid (e.g. 0.999); the recording
  has no ``tick_size_change`` so none is emitted. Fees: 15-minute crypto markets had no taker
  fee before 2026-01-06 (protocol.md §0/§4.3), so all these windows have
  ``feesEnabled: false`` / ``feeSchedule: null`` (a window starting later would get the
  2026-01-06 schedule ``rate 0.25, exponent 2``).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
from datetime import datetime
from collections.abc import Iterator
from pathlib import Path

from clobflow.core.fee_table import dated_schedule
from clobflow.core.markets import BinaryMarket, OutcomeToken
from clobflow.core.numbers import NumberFormatError, micros_from_number, parse_micros
from clobflow.sim.datasets.base import Dataset, Resolution
from clobflow.sim.datasets.framing import FrameBuilder
from clobflow.sim.datasets.gamma import stable_id, updown_question

NAME = "pm-btc15m-tob-1s"
WINDOW_S = 900
TAGS = ("crypto", "bitcoin", "up-or-down", "15M")

_EPOCH = datetime(1970, 1, 1)
_NS = 1_000_000_000


def token_id(slug: str, outcome: str) -> str:
    """The derived token id of ``outcome`` in the window ``slug`` (77-digit decimal string)."""
    digest = hashlib.sha256(f"clobflow-sim|{slug}|{outcome}".encode()).hexdigest()
    return str(int(digest, 16) % 10**77)


def condition_id(slug: str) -> str:
    """The derived condition id of the window ``slug``."""
    return "0x" + hashlib.sha256(slug.encode()).hexdigest()


def window_market(start_s: int) -> BinaryMarket:
    """The ``BinaryMarket`` of the 15-minute window starting at unix second ``start_s``."""
    slug = f"btc-updown-15m-{start_s}"
    return BinaryMarket(
        condition_id=condition_id(slug),
        slug=slug,
        question=updown_question("Bitcoin", start_s, WINDOW_S),
        yes=OutcomeToken(token_id(slug, "Up"), "Up"),
        no=OutcomeToken(token_id(slug, "Down"), "Down"),
        tick_size=10_000,
        min_order_size=5_000_000,
        neg_risk=False,
        fee_schedule=dated_schedule(slug, start_s * _NS),  # the era in force at the window's start
        start_ns=start_s * _NS,
        end_ns=(start_s + WINDOW_S) * _NS,
        market_id=stable_id("market|" + slug),
        event_slug=slug,
        tags=TAGS,
    )


def _seconds(text: str) -> int:
    """``"2025-12-26 10:34:14"`` (UTC) -> unix seconds."""
    return int((datetime.fromisoformat(text) - _EPOCH).total_seconds())


def read_outcomes(path: Path) -> dict[str, str]:
    """``windows_implied_outcomes.csv`` -> ``{slug: "Up" | "Down" | ""}``."""
    with open(path, newline="") as f:
        return {r["slug"]: r["implied_winner"].strip() for r in csv.DictReader(f)}


_COLUMNS = (
    "Timestamp", "TargetTime",
    "UpBid", "UpBidLiquidity", "UpAsk", "UpAskLiquidity",
    "DownBid", "DownBidLiquidity", "DownAsk", "DownAskLiquidity",
)


def read_windows(directory: Path) -> dict[str, list[list[str]]]:
    """All rows of all ``market_data_*.csv.gz`` files grouped by ``TargetTime``, each group
    stably sorted by ``Timestamp``; columns reordered to ``_COLUMNS``."""
    windows: dict[str, list[list[str]]] = {}
    for path in sorted(directory.glob("market_data_*.csv.gz")):
        with gzip.open(path, "rt", newline="") as f:
            reader = csv.reader(f)
            header = next(reader)
            idx = [header.index(c) for c in _COLUMNS]
            for row in reader:
                if not row:
                    continue
                windows.setdefault(row[idx[1]], []).append([row[i] for i in idx])
    for rows in windows.values():
        rows.sort(key=lambda r: r[0])
    return dict(sorted(windows.items()))


def timed_rows(rows: list[list[str]], ns_per_s: int = _NS) -> Iterator[tuple[int, list[str]]]:
    """``(ts_ns, row)`` for a window's rows (``Timestamp`` first, sorted): the collector logged
    whole seconds, so rows sharing a second are spread evenly over it, in their order."""
    i = 0
    while i < len(rows):
        j = i + 1
        while j < len(rows) and rows[j][0] == rows[i][0]:
            j += 1
        base = _seconds(rows[i][0]) * ns_per_s
        for k in range(i, j):
            yield base + (k - i) * ns_per_s // (j - i), rows[k]
        i = j


class _Numbers:
    """Decimal strings -> micro-units, memoised (prices repeat constantly)."""

    def __init__(self) -> None:
        self._memo: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        v = self._memo.get(text)
        if v is None:
            try:
                v = parse_micros(text)
            except NumberFormatError:
                v = micros_from_number(float(text))  # e.g. "1e-05" from a float writer
            self._memo[text] = v
        return v


def _side(price: int, size: int) -> dict[int, int]:
    return {price: size} if price > 0 and size > 0 else {}


def convert(directory: str | Path, *, limit_markets: int | None = None) -> Dataset:
    """Convert the recording in ``directory`` (the ``pm-btc15m-tob-1s`` folder) to a Dataset.

    ``limit_markets`` keeps only the first N windows (for quick tests).

    Raises:
        FileNotFoundError: ``directory`` has no ``market_data_*.csv.gz`` files.
    """
    directory = Path(directory)
    windows = read_windows(directory)
    if not windows:
        raise FileNotFoundError(f"no market_data_*.csv.gz in {directory}")
    outcomes_path = directory / "windows_implied_outcomes.csv"
    outcomes = read_outcomes(outcomes_path) if outcomes_path.exists() else {}
    num = _Numbers()
    builder = FrameBuilder()
    markets: list[BinaryMarket] = []
    resolutions: dict[str, Resolution] = {}
    for n_window, (target, rows) in enumerate(windows.items()):
        if limit_markets is not None and n_window >= limit_markets:
            break
        m = window_market(_seconds(target))
        markets.append(m)
        up, down = m.yes.token_id, m.no.token_id
        first = True
        ts = 0
        for ts, r in timed_rows(rows):
            if first:
                builder.new_market(m, ts)
                first = False
            books = {
                up: (_side(num(r[2]), num(r[3])), _side(num(r[4]), num(r[5]))),
                down: (_side(num(r[6]), num(r[7])), _side(num(r[8]), num(r[9]))),
            }
            builder.snapshot(m, ts, books)
        winner = outcomes.get(m.slug, "")
        if winner in ("Up", "Down"):
            win_id = up if winner == "Up" else down
            # never before the window's last row (receive times must not go backwards)
            end = max(m.end_ns or 0, ts)
            builder.resolved(m, win_id, end)
            resolutions[m.condition_id] = Resolution(m.condition_id, win_id, winner, end)
    return Dataset(
        name=NAME,
        markets=markets,
        frames=builder.frames,
        resolutions=resolutions,
        description="Polymarket BTC 15-minute Up/Down, 1 Hz top of book + top-5 liquidity "
        "(one level per side), 2025-12-26 and 2026-01-01",
    )
