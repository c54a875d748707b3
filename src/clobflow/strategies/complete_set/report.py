"""The pair bot's section of the run report: per window, beside the real wallet's pair cost.

Written by ``CompleteSetStrategy.report_section(portfolio)`` when the run report is built
(``replay.report.report_run``), into the strategy's run folder:

- ``windows.csv`` / ``windows.json``: one row per market window: quotes, fills per side, shares,
  pair cost, balance, fees, **pnl**, locked vs exposed, second legs, chases, unwinds, detections
  by class, the review's labels and anomalies, and gabagool22's pair cost, shares and locked
  profit on the same window (when the wallet traded it);
- ``fill_compare.txt`` / ``fill_compare.json``: our simulated fills against the wallet's real
  fills (``wallet.compare_fills``);
- ``complete_set.txt``: the summary printed by ``clobflow backtest``;
- ``latency.txt``: the measured second-leg delays (wall time). It is the run's one output that
  differs on a rerun; every other file is byte-identical.

Numbers, defined once:

- **pnl** of a window is the portfolio's (``Portfolio.market_pnl``): payout + what unwinds
  realized − cost basis − fees, the open window marked at the best bid. The windows' sum is the
  report's net P&L to the cent, and the journal's ``settle`` row of a window carries the same
  number.
- **locked** (``wallet.pair_cost(...).locked_profit``) is the profit the window's matched buys
  lock in at the pair cost paid: ``min(Up bought, Down bought) × (1 − Up VWAP − Down VWAP)``
  with exact averages, fees excluded. The same function of the same buy fills gives ours in
  ``windows.csv``, ``complete_set.txt`` and ``fill_compare``, and the wallet's (whose buys are
  all we know of it). It says how good the pair cost was, not what the window made: unwinds
  and unmatched shares are in ``pnl``.
- **pair cost**: Up VWAP + Down VWAP of the window's buys (same function).

``windows.csv``/``.json`` and the ``.json`` files are machine-readable: money and shares are
exact decimal strings (dollars / shares, from micro-units). The ``.txt`` files are for people:
``core.display`` formatting (separators, cents, 4-decimal prices).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from clobflow.core import display as D
from clobflow.core.numbers import format_micros, micros_from_number
from clobflow.portfolio.portfolio import Portfolio
from clobflow.strategies.complete_set import wallet as W
from clobflow.strategies.complete_set.wallet_report import render_text, summarize

if TYPE_CHECKING:
    from clobflow.strategies.complete_set.market_state import PairMarket
    from clobflow.strategies.complete_set.strategy import CompleteSetStrategy

COLUMNS = (
    "slug", "market", "winner", "quotes", "requotes", "cancels", "fills_up", "fills_down", "up_shares", "down_shares",
    "pair_cost", "balance", "fees", "pnl", "locked", "exposed_shares", "exposed_cost",
    "second_legs_maker", "second_legs_taker", "chase_steps", "unwinds", "detect_inconsistent",
    "detect_executable", "good", "bad", "neutral", "anomalies", "wallet_pair_cost", "wallet_up_shares",
    "wallet_down_shares", "wallet_locked",
)


def _m(v: int | None) -> str:
    return "" if v is None else format_micros(v)


def our_buys(pm: PairMarket) -> W.WindowPairCost:
    """Pair cost and locked profit of our buy fills in one window (the one definition)."""
    return W.pair_cost([W.SimFill(ts, side, price, size) for ts, side, price, size, _liq, buy in pm.fills if buy])


def window_rows(strategy: CompleteSetStrategy, wallet: dict[str, list[W.WalletFill]] | None,
                portfolio: Portfolio) -> list[dict[str, Any]]:
    """One dict per window the bot followed, sorted by slug (deterministic)."""
    reviews = {r.market: r for r in (strategy.log.reviews if strategy.log is not None else [])}
    rows = []
    for pm in sorted(strategy.pairs.values(), key=lambda p: p.slug):
        inv, st = pm.inv, pm.stats
        rev = reviews.get(pm.cid)
        theirs = W.pair_cost(wallet[pm.slug]) if wallet and pm.slug in wallet else None
        ours = our_buys(pm)
        pnl = portfolio.market_pnl(pm.cid)
        row = {
            "slug": pm.slug, "market": pm.cid, "winner": pm.resolved or "",
            "quotes": st.get("quotes", 0), "requotes": st.get("requotes", 0), "cancels": st.get("cancels", 0),
            "fills_up": inv.fills_up, "fills_down": inv.fills_down,
            "up_shares": _m(inv.up), "down_shares": _m(inv.down), "pair_cost": _m(ours.pair_cost),
            "balance": _m(inv.up - inv.down), "fees": _m(inv.fees), "pnl": _m(0 if pnl is None else pnl),
            "locked": _m(ours.locked_profit), "exposed_shares": _m(inv.imbalance),
            "exposed_cost": _m(inv.unmatched_cost()),
            "second_legs_maker": st.get("second_legs_maker", 0), "second_legs_taker": st.get("second_legs_taker", 0),
            "chase_steps": st.get("chase_steps", 0),
            "unwinds": st.get("unwind_sell_excess", 0) + st.get("unwind_buy_missing", 0),
            "detect_inconsistent": st.get("detect_inconsistent", 0), "detect_executable": st.get("detect_executable", 0),
            "good": rev.totals.good if rev else 0, "bad": rev.totals.bad if rev else 0,
            "neutral": rev.totals.neutral if rev else 0, "anomalies": len(rev.anomalies) if rev else 0,
            "wallet_pair_cost": _m(theirs.pair_cost) if theirs else "",
            "wallet_up_shares": _m(theirs.up.shares) if theirs else "",
            "wallet_down_shares": _m(theirs.down.shares) if theirs else "",
            "wallet_locked": _m(theirs.locked_profit) if theirs else "",
        }
        rows.append(row)
    return rows


def write_window_report(strategy: CompleteSetStrategy, out_dir: Path, portfolio: Portfolio) -> tuple[str, list[Path]]:
    """Write the section's files (module docstring); return the summary text and the paths."""
    try:
        wallet: dict[str, list[W.WalletFill]] | None = W.load_wallet_fills()
    except OSError:
        wallet = None
    rows = window_rows(strategy, wallet, portfolio)
    paths = []
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    paths.append(_write(out_dir / "windows.csv", buf.getvalue()))
    paths.append(_write(out_dir / "windows.json", msgspec.json.format(msgspec.json.encode(rows)).decode() + "\n"))
    comparisons = []
    if wallet:
        for pm in sorted(strategy.pairs.values(), key=lambda p: p.slug):
            if pm.slug in wallet and pm.market.start_ns is not None:
                mine = [W.SimFill(ts, side, price, size) for ts, side, price, size, _liq, buy in pm.fills if buy]
                comparisons.append(W.compare_fills(mine, wallet[pm.slug], window_start_ns=pm.market.start_ns))
    cmp_text = render_text(comparisons) if comparisons else "no wallet fills on these windows\n"
    paths.append(_write(out_dir / "fill_compare.txt", cmp_text))
    paths.append(_write(out_dir / "fill_compare.json", msgspec.json.format(msgspec.json.encode(
        {"summary": summarize(comparisons), "windows": comparisons})).decode() + "\n"))
    text = summary_text(strategy, rows, portfolio) + "\n" + cmp_text
    paths.append(_write(out_dir / "complete_set.txt", text))
    paths.append(_write(out_dir / "latency.txt", latency_text(strategy.leg_latencies_ns)))
    return text, paths


def latency_text(latencies_ns: list[int]) -> str:
    """The run's one wall-clock output: second-leg delay (fill event -> order) percentiles."""
    lat = sorted(latencies_ns)
    us = [None if v is None else v // 1_000 for v in (_pct(lat, 50), _pct(lat, 99), lat[-1] if lat else None)]
    return (f"second-leg latency (fill event -> order, wall clock; differs on every run): n={D.count(len(lat))} "
            f"p50={D.count(us[0])} us p99={D.count(us[1])} us max={D.count(us[2])} us\n")


def summary_text(strategy: CompleteSetStrategy, rows: list[dict[str, Any]], portfolio: Portfolio) -> str:
    """A fixed-width table of the windows with fills, and totals (all from exact integers)."""
    pms = list(strategy.pairs.values())
    by_slug = {pm.slug: pm for pm in pms}
    traded = [r for r in rows if r["fills_up"] or r["fills_down"]]
    head = (f"{'window':<26} {'winner':>6} {'fills u/d':>9} {'shares u/d':>17} {'pair':>7} {'wallet':>7} "
            f"{'pnl':>9} {'locked':>8} {'exposed':>8}")
    lines = ["complete_set: per window (ours beside gabagool22's pair cost)", head, "-" * len(head)]
    total_pnl = total_locked = 0
    for r in traded:
        pm = by_slug[r["slug"]]
        ours = our_buys(pm)
        pnl = portfolio.market_pnl(pm.cid) or 0
        total_pnl += pnl
        total_locked += ours.locked_profit
        theirs = r["wallet_pair_cost"]
        lines.append(
            f"{r['slug']:<26} {r['winner'] or 'open':>6} {r['fills_up']:>4}/{r['fills_down']:<4} "
            f"{D.shares(pm.inv.up, 0):>8}/{D.shares(pm.inv.down, 0):<8} {D.price(ours.pair_cost):>7} "
            f"{D.price(micros_from_number(theirs) if theirs else None):>7} {D.signed_money(pnl):>9} "
            f"{D.money(ours.locked_profit):>8} {D.shares(pm.inv.imbalance, 0):>8}")
    fees = sum(p.inv.fees for p in pms)
    sets = sum(p.inv.matched for p in pms)
    det = strategy.detector.counters
    lines += [
        "-" * len(head),
        f"windows followed {D.count(len(pms))}, with fills {D.count(len(traded))}; complete sets held "
        f"{D.shares(sets)}; P&L {D.signed_money(total_pnl)} USD (the run's net P&L, from the portfolio); "
        f"locked {D.money(total_locked)}; fees {D.money(fees)}",
        "taker detection: " + ", ".join(f"{k} {D.count(v)}" for k, v in sorted(det.items())),
        f"decision log: {D.count(strategy.log.seq if strategy.log else 0)} rows, "
        f"dropped {D.count(strategy.log.drops if strategy.log else 0)}",
    ]
    return "\n".join(lines) + "\n"


def _pct(values: list[int], q: int) -> int | None:
    if not values:
        return None
    return values[min(len(values) - 1, (len(values) * q) // 100)]


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
