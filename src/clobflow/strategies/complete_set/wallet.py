"""gabagool22's real complete-set fills as a yardstick for the pair bot.

Map:

- ``load_wallet_fills(directory=None, days=None) -> WalletFills``: the wallet's fills from
  ``data/pm-btc15m-tob-1s/gabagool22_trades/user_data_*.csv.gz``, ``{slug: [WalletFill]}`` in
  time order; bad rows are skipped and counted (``.rows``, ``.skipped``), never raised.
- ``pair_cost(fills) -> WindowPairCost``: shares, cost, VWAP per side, pair cost, matched sets
  and the profit they lock, for any fills of one window (the wallet's or ours).
- ``compare_fills(ours, theirs, *, window_start_ns, tolerance_s=5) -> FillComparison``: our
  simulated maker fills of one window against the wallet's real ones; ``wallet_report``
  pools windows (``summarize``) and prints them (``render_text``).

Units: prices in micro-units (0.5 -> 500_000), sizes in micro-shares (10 shares ->
10_000_000), money in micro-dollars (a winning micro-share pays one micro-dollar), times in
epoch ns, fractions in micro-units (1_000_000 = all). No floats anywhere.

What the 1 Hz recordings can and cannot say about maker fills:

- The books are REST polls about once a second: best bid/ask plus the summed size of the best
  five levels. There is no queue position, no individual order, no trade print and no cancel,
  so whether a resting bid of ours would have been hit is a simulator model, not an observation.
- The wallet's fills say where and when a real order of gabagool22 WAS filled: side, price, size
  and the second. A fill at price p shows that a seller met a buyer at p then. It does not say
  whether a bid at p placed earlier (ahead in the queue) or later would have filled too, nor
  how much volume traded at p in total (other wallets are not recorded).
- "Corroborated" is therefore necessary evidence, not proof: the wallet bought the same side at
  a price at or below ours within ``tolerance_s`` seconds, so a bid at our price would have been
  at least as attractive to that seller -- if it sat at the front of its price level. An
  uncorroborated fill is not necessarily wrong (the wallet was simply not filled then).
- Maker or taker cannot be told apart: the Data API's activity has no liquidity flag, and
  gabagool22 does take liquidity at times (some rows are averages over several price levels,
  e.g. 399 shares at ``0.5035761904761905``, which only a taker order produces). A taker fill at
  p shows a resting SELL at p, which a maker bid at p would not have met, yet it counts as
  corroboration here. Comparing with the recorded book is only a hint: the book moves within a
  second, and the wallet's stamps (block times) seem to trail the polls by a few seconds.
- The file's timestamps are whole seconds, identical fills were merged by the collector (sizes
  summed) and yet 26,315 rows still repeat another exactly (all kept, as in the recorder's
  converter: the file gives no way to tell a repeat from a second fill), so a fill count is a
  count of rows, not of venue matches. One fill is stamped 1 s after its window's end.
- Prices are the Data API's ``usdcSize / size`` (e.g. ``0.3200000190459075``) and merged
  quantities carry float artefacts (``214.1269599999999``); both are rounded half-even to the
  micro-unit (``recorder.converters.common.Micros``). That recovers the grid price except for
  the multi-level averages and a few tiny fills (949 rows stay off the 0.01 grid, e.g.
  0.590001); the cost error is at most half a micro-dollar per share.
"""

from __future__ import annotations

import csv
import gzip
import zlib
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import msgspec

from clobflow.core.numbers import ONE, NumberFormatError
from clobflow.recorder.converters.common import Micros
from clobflow.recorder.converters.pm_btc15m import NAME, TRADES_DIR
from clobflow.sim.datasets import data_dir
from clobflow.sim.datasets.base import parse_iso_ns
from clobflow.sim.datasets.btc15m import WINDOW_S, window_market
from clobflow.strategies.complete_set.records import DOWN, UP

S = 1_000_000_000
MINUTE_NS = 60 * S
MINUTES = WINDOW_S // 60
"""Per-minute buckets of a window (15)."""
SIDES = (UP, DOWN)


# -- fills -------------------------------------------------------------------------------------


class Fill(msgspec.Struct, frozen=True):
    """One buy: ``size`` micro-shares of ``side`` (``"up"`` = YES, ``"down"`` = NO) at ``price``
    (micro-units) at ``ts_ns`` (epoch ns)."""

    ts_ns: int
    side: str
    price: int
    size: int


class WalletFill(Fill, frozen=True):
    """A real fill of gabagool22 (whole-second ``ts_ns``; maker or taker is not known)."""


class SimFill(Fill, frozen=True):
    """One of our simulated maker fills, as the bot reports it for one window."""


class WalletFills(dict[str, list[WalletFill]]):
    """``{slug: fills}``, each list in time order (stable: file, then row order on ties).

    ``rows``: data rows read. ``skipped``: reason -> rows skipped (``columns``, ``side``,
    ``number``, ``price``, ``size``, ``time``, ``header`` = every row of a file missing a needed
    column) plus ``unreadable`` = files that ended in a read error (their earlier rows are kept).
    """

    def __init__(self) -> None:
        super().__init__()
        self.rows = 0
        self.skipped: Counter[str] = Counter()


_COLUMNS = ("timestamp", "trade_side", "quantity", "price", "TargetTime")
_SIDE_OF = {"up": UP, "down": DOWN}


class _BadRow(Exception):
    """A row that cannot be a fill; ``args[0]`` is the reason counted in ``skipped``."""


def default_directory() -> Path:
    """``<data_dir()>/pm-btc15m-tob-1s/gabagool22_trades`` (``$CLOBFLOW_DATA_DIR`` honoured)."""
    return data_dir() / NAME / TRADES_DIR


def load_wallet_fills(
    directory: str | Path | None = None, days: Iterable[str] | None = None
) -> WalletFills:
    """Read gabagool22's ``user_data_<YYYYMMDD>.csv.gz`` files into per-window fill lists.

    ``directory`` defaults to ``default_directory()`` (read at call time). ``days`` keeps only
    the files of those days (``"20251226"`` or ``"2025-12-26"``); a day's file also holds the
    windows that run past midnight. Slugs are the simulator's (``btc15m.window_market``), so
    ``condition_id(slug)``/``token_id(slug, outcome)`` join the fills to the sim's markets.
    Never raises on content: bad rows and unreadable files are counted in ``.skipped``.

    Raises:
        FileNotFoundError: ``directory`` does not exist.
    """
    directory = default_directory() if directory is None else Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"no wallet fill directory {directory}")
    if isinstance(days, str):
        days = [days]  # one day, not its characters
    wanted = None if days is None else {d.replace("-", "") for d in days}
    out = WalletFills()
    num = Micros()
    # Stamps and window starts repeat thousands of times; parse each distinct text once.
    ts_ns = lru_cache(maxsize=None)(parse_iso_ns)
    slug_of = lru_cache(maxsize=None)(lambda t: window_market(parse_iso_ns(t) // S).slug)
    for path in sorted(directory.glob("user_data_*.csv.gz")):
        if wanted is not None and path.name.split(".")[0].removeprefix("user_data_") not in wanted:
            continue
        try:
            with gzip.open(path, "rt", newline="") as f:
                reader = csv.reader(f)
                header = [h.strip() for h in next(reader, [])]
                idx = [header.index(c) if c in header else -1 for c in _COLUMNS]
                for r in reader:
                    if not r:
                        continue
                    out.rows += 1
                    try:
                        if -1 in idx:
                            raise _BadRow("header")
                        slug, fill = _parse_row(r, idx, num, ts_ns, slug_of)
                    except _BadRow as bad:
                        out.skipped[bad.args[0]] += 1
                        continue
                    out.setdefault(slug, []).append(fill)
        except (OSError, EOFError, zlib.error, csv.Error, UnicodeDecodeError):
            out.skipped["unreadable"] += 1
    for fills in out.values():
        fills.sort(key=lambda f: f.ts_ns)
    return out


def _parse_row(
    r: list[str], idx: list[int], num: Micros, ts_ns: Callable[[str], int], slug_of: Callable[[str], str]
) -> tuple[str, WalletFill]:
    """One CSV row -> ``(slug, fill)``; raises ``_BadRow(reason)``."""
    try:
        ts_text, side_text, qty_text, px_text, target_text = (r[i] for i in idx)
    except IndexError:
        raise _BadRow("columns") from None
    side = _SIDE_OF.get(side_text.strip().lower())
    if side is None:
        raise _BadRow("side")
    try:
        price, size = num(px_text.strip()), num(qty_text.strip())
    except NumberFormatError:
        raise _BadRow("number") from None
    if not 0 < price <= ONE:
        raise _BadRow("price")
    if size <= 0:
        raise _BadRow("size")
    try:
        return slug_of(target_text), WalletFill(ts_ns(ts_text), side, price, size)
    except ValueError:
        raise _BadRow("time") from None


# -- pair cost ---------------------------------------------------------------------------------


class SideTotals(msgspec.Struct, frozen=True):
    """One side's buys: ``fills`` (count), ``shares`` (micro-shares), ``cost_e12`` (Σ price·size,
    exact, in 1e-12 dollars: what pooling windows needs), ``cost`` (micro-dollars,
    ``cost_e12 // 1e6``: the exact total floored once), ``vwap`` (micro price,
    ``cost_e12 // shares``, floored; ``None`` without fills)."""

    fills: int = 0
    shares: int = 0
    cost_e12: int = 0
    cost: int = 0
    vwap: int | None = None


def side_totals(fills: int, shares: int, cost_e12: int) -> SideTotals:
    """``SideTotals`` with ``cost`` and ``vwap`` derived from the exact ``cost_e12``."""
    return SideTotals(fills, shares, cost_e12, cost_e12 // ONE, cost_e12 // shares if shares else None)


class WindowPairCost(msgspec.Struct, frozen=True):
    """The complete-set position built by some fills of one window.

    - ``pair_cost = up.vwap + down.vwap`` (micro price; ``None`` if a side has no fills).
    - ``matched = min(up.shares, down.shares)``: complete sets, each paying exactly 1.
    - ``unmatched = |up.shares - down.shares|`` on ``unmatched_side`` (``""`` when equal).
    - ``locked_profit`` (micro-dollars) = what the matched sets pay minus what they cost at each
      side's exact average price, floored once::

          N_u = up.cost_e12 (Σ price·size, 1e-12 dollars), N_d = down.cost_e12
          U, D = up.shares, down.shares (micro-shares)
          locked = floor(M · (1e6·U·D − N_u·D − N_d·U) / (1e6·U·D)),  M = matched

      i.e. ``M × (1 − pair cost)`` with the exact averages ``N_u/U`` and ``N_d/D`` (not the
      floored VWAPs); 0 when nothing is matched, negative when the sets cost more than 1.
    - ``first_ts_ns``/``last_ts_ns``: the earliest/latest fill (``None`` without fills).
    """

    up: SideTotals
    down: SideTotals
    pair_cost: int | None
    matched: int
    unmatched: int
    unmatched_side: str
    locked_profit: int
    first_ts_ns: int | None
    last_ts_ns: int | None

    def side(self, name: str) -> SideTotals:
        """``up`` or ``down`` by name."""
        return self.up if name == UP else self.down


def pair_cost(fills: Iterable[Fill]) -> WindowPairCost:
    """The pair cost of one window's buys (any ``Fill``: the wallet's or ours).

    Raises:
        ValueError: a fill's side is not ``"up"``/``"down"``.
    """
    count = {UP: 0, DOWN: 0}
    shares = {UP: 0, DOWN: 0}
    cost_e12 = {UP: 0, DOWN: 0}  # Σ price·size, exact
    first: int | None = None
    last: int | None = None
    for f in fills:
        if f.side not in count:
            raise ValueError(f"fill side must be 'up' or 'down', not {f.side!r}")
        count[f.side] += 1
        shares[f.side] += f.size
        cost_e12[f.side] += f.price * f.size
        first = f.ts_ns if first is None or f.ts_ns < first else first
        last = f.ts_ns if last is None or f.ts_ns > last else last
    u, d = shares[UP], shares[DOWN]
    up, down = (side_totals(count[s], shares[s], cost_e12[s]) for s in SIDES)
    matched = min(u, d)
    locked = 0
    if matched:
        locked = matched * (ONE * u * d - cost_e12[UP] * d - cost_e12[DOWN] * u) // (ONE * u * d)
    return WindowPairCost(
        up=up,
        down=down,
        pair_cost=None if up.vwap is None or down.vwap is None else up.vwap + down.vwap,
        matched=matched,
        unmatched=abs(u - d),
        unmatched_side=UP if u > d else DOWN if d > u else "",
        locked_profit=locked,
        first_ts_ns=first,
        last_ts_ns=last,
    )


# -- fill realism ------------------------------------------------------------------------------


class SideComparison(msgspec.Struct, frozen=True):
    """Our fills on one side against the wallet's (see the module docstring for what it means).

    - ``corroborated_*``: our fills for which the wallet bought the same side at a price <= ours
      within ±``tolerance_s`` (inclusive); ``uncorroborated_*`` the rest. ``corroborated_frac``
      = corroborated shares / our shares in micro-units (``None`` without our fills).
    - ``ours_per_minute``/``theirs_per_minute``: fill counts per minute of the window (15
      buckets; a fill stamped before the start or after the end counts in the first/last).
    - ``price_diffs``: per our fill, our price − the nearest-in-time real price, where the real
      price is the VWAP (floored) of the wallet's fills at the nearest stamp(s) (all of them when
      several share it, both when one before and one after are equally near); empty when the
      wallet has no fill on this side. ``median_price_diff``: their median (mean of the middle
      two, floored, for an even count).
    """

    side: str
    corroborated_fills: int
    corroborated_shares: int
    uncorroborated_fills: int
    uncorroborated_shares: int
    corroborated_frac: int | None
    ours_per_minute: tuple[int, ...]
    theirs_per_minute: tuple[int, ...]
    price_diffs: tuple[int, ...]
    median_price_diff: int | None


class FillComparison(msgspec.Struct, frozen=True):
    """One window: our and the wallet's pair cost (fills, shares, VWAP per side) and realism."""

    window_start_ns: int
    tolerance_s: int
    ours: WindowPairCost
    theirs: WindowPairCost
    up: SideComparison
    down: SideComparison

    def side(self, name: str) -> SideComparison:
        """``up`` or ``down`` by name."""
        return self.up if name == UP else self.down


def compare_fills(
    ours: Sequence[Fill], theirs: Sequence[Fill], *, window_start_ns: int, tolerance_s: int = 5
) -> FillComparison:
    """Compare our simulated fills of one window (``window_start_ns``) with the wallet's.

    Raises:
        ValueError: a fill's side is not ``"up"``/``"down"``, or ``tolerance_s`` < 0.
    """
    if tolerance_s < 0:
        raise ValueError(f"tolerance_s must be >= 0, not {tolerance_s}")
    sides = {
        s: _compare_side(
            s,
            [f for f in ours if f.side == s],
            sorted((f for f in theirs if f.side == s), key=lambda f: f.ts_ns),
            window_start_ns,
            tolerance_s * S,
        )
        for s in SIDES
    }
    return FillComparison(
        window_start_ns, tolerance_s, pair_cost(ours), pair_cost(theirs), sides[UP], sides[DOWN]
    )


def _compare_side(
    side: str, ours: list[Fill], theirs: list[Fill], start_ns: int, tol_ns: int
) -> SideComparison:
    times = [f.ts_ns for f in theirs]
    corr_n = corr_sh = 0
    diffs: list[int] = []
    for f in ours:
        near = theirs[bisect_left(times, f.ts_ns - tol_ns) : bisect_right(times, f.ts_ns + tol_ns)]
        if any(t.price <= f.price for t in near):
            corr_n += 1
            corr_sh += f.size
        if theirs:
            diffs.append(f.price - _nearest_price(theirs, times, f.ts_ns))
    our_shares = sum(f.size for f in ours)
    diffs.sort()
    return SideComparison(
        side=side,
        corroborated_fills=corr_n,
        corroborated_shares=corr_sh,
        uncorroborated_fills=len(ours) - corr_n,
        uncorroborated_shares=our_shares - corr_sh,
        corroborated_frac=corr_sh * ONE // our_shares if our_shares else None,
        ours_per_minute=_per_minute(ours, start_ns),
        theirs_per_minute=_per_minute(theirs, start_ns),
        price_diffs=tuple(diffs),
        median_price_diff=median(diffs),
    )


def _nearest_price(theirs: list[Fill], times: list[int], ts: int) -> int:
    """VWAP (floored) of the non-empty ``theirs`` fills nearest in time to ``ts``."""
    i = bisect_left(times, ts)
    gap = min(abs(times[j] - ts) for j in (i - 1, i) if 0 <= j < len(times))
    # one stamp, or two (before and after) when equally near; a stamp may hold many fills
    group = [f for t in {ts - gap, ts + gap} for f in theirs[bisect_left(times, t) : bisect_right(times, t)]]
    return sum(f.price * f.size for f in group) // sum(f.size for f in group)


def _per_minute(fills: Iterable[Fill], start_ns: int) -> tuple[int, ...]:
    counts = [0] * MINUTES
    for f in fills:
        counts[min(max((f.ts_ns - start_ns) // MINUTE_NS, 0), MINUTES - 1)] += 1
    return tuple(counts)


def median(sorted_values: Sequence[int]) -> int | None:
    """Median of sorted integers (floored mean of the middle two); ``None`` when empty."""
    n = len(sorted_values)
    if not n:
        return None
    return (sorted_values[(n - 1) // 2] + sorted_values[n // 2]) // 2
