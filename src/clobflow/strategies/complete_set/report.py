"""The pair bot's per-window report, beside the real wallet's pair cost on the same windows.

Written at the end of a run into the run folder:

- ``windows.csv`` / ``windows.json``: one row per market window — quotes, fills per side, shares,
  pair cost, balance, fees, settlement P&L, locked vs exposed, second legs, chases, unwinds,
  detections by class, the review's labels and anomalies, and gabagool22's pair cost, shares
  and locked profit on the same window (when the wallet traded it);
- ``fill_compare.txt`` / ``fill_compare.json``: our simulated fills against the wallet's real
  fills (``wallet.compare_fills``: where and when a real buyer was filled at each price);
- ``complete_set.txt``: the summary printed by ``clobflow backtest``.

Money columns are dollars with 6 decimals (exact from micro-units); nothing depends on wall time
except ``leg_latency`` (measured wall time, kept out of the files that must be byte-identical:
it goes to ``latency.json``).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from clobflow.core.numbers import format_micros
from clobflow.strategies.complete_set import wallet as W
from clobflow.strategies.complete_set.wallet_report import render_text, summarize

if TYPE_CHECKING:
    from clobflow.strategies.complete_set.strategy import CompleteSetStrategy

COLUMNS = (
    "slug", "winner", "quotes", "requotes", "cancels", "fills_up", "fills_down", "up_shares", "down_shares",
    "pair_cost", "balance", "fees", "settlement_pnl", "locked", "exposed_shares", "exposed_cost",
    "second_legs_maker", "second_legs_taker", "chase_steps", "unwinds", "detect_inconsistent",
    "detect_executable", "good", "bad", "neutral", "anomalies", "wallet_pair_cost", "wallet_up_shares",
    "wallet_down_shares", "wallet_locked",
)


def _m(v: int | None) -> str:
    return "" if v is None else format_micros(v)


def window_rows(strategy: CompleteSetStrategy, wallet: dict[str, list[W.WalletFill]] | None) -> list[dict[str, Any]]:
    """One dict per window the bot followed, sorted by slug (deterministic)."""
    reviews = {r.market: r for r in (strategy.log.reviews if strategy.log is not None else [])}
    rows = []
    for pm in sorted(strategy.pairs.values(), key=lambda p: p.slug):
        inv, st = pm.inv, pm.stats
        rev = reviews.get(pm.cid)
        theirs = W.pair_cost(wallet[pm.slug]) if wallet and pm.slug in wallet else None
        row = {
            "slug": pm.slug, "winner": pm.resolved or "",
            "quotes": st.get("quotes", 0), "requotes": st.get("requotes", 0), "cancels": st.get("cancels", 0),
            "fills_up": inv.fills_up, "fills_down": inv.fills_down,
            "up_shares": _m(inv.up), "down_shares": _m(inv.down), "pair_cost": _m(inv.pair_cost()),
            "balance": _m(inv.up - inv.down), "fees": _m(inv.fees), "settlement_pnl": _m(pm.pnl),
            "locked": _m(inv.locked()), "exposed_shares": _m(inv.imbalance), "exposed_cost": _m(inv.unmatched_cost()),
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


def write_window_report(strategy: CompleteSetStrategy, out_dir: Path) -> list[Path]:
    """Write the report files (module docstring) and set ``strategy.report_text``."""
    try:
        wallet: dict[str, list[W.WalletFill]] | None = W.load_wallet_fills()
    except OSError:
        wallet = None
    rows = window_rows(strategy, wallet)
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
    text = summary_text(strategy, rows) + "\n" + cmp_text
    strategy.report_text = text
    paths.append(_write(out_dir / "complete_set.txt", text))
    lat = sorted(strategy.leg_latencies_ns)
    paths.append(_write(out_dir / "latency.json", msgspec.json.encode({
        "second_leg_latency_ns": {"count": len(lat), "p50": _pct(lat, 50), "p99": _pct(lat, 99),
                                  "max": lat[-1] if lat else None}}).decode() + "\n"))
    return paths


def summary_text(strategy: CompleteSetStrategy, rows: list[dict[str, Any]]) -> str:
    """A fixed-width table of the windows with fills, and totals."""
    pms = list(strategy.pairs.values())
    traded = [r for r in rows if r["fills_up"] or r["fills_down"]]
    head = (f"{'window':<26} {'win':>4} {'fills u/d':>9} {'shares u/d':>15} {'pair':>7} {'wallet':>7} "
            f"{'pnl':>9} {'locked':>8} {'exposed':>8}")
    lines = ["complete_set: per window (ours beside gabagool22's pair cost)", head, "-" * len(head)]
    for r in traded:
        lines.append(
            f"{r['slug']:<26} {r['winner'][:4]:>4} {r['fills_up']:>4}/{r['fills_down']:<4} "
            f"{_short(r['up_shares']):>7}/{_short(r['down_shares']):<7} {_short(r['pair_cost'], 4):>7} "
            f"{_short(r['wallet_pair_cost'], 4):>7} {_short(r['settlement_pnl'], 2):>9} "
            f"{_short(r['locked'], 2):>8} {_short(r['exposed_shares']):>8}")
    pnl = sum(p.pnl for p in pms if p.pnl is not None)
    locked = sum(p.inv.locked() for p in pms)
    fees = sum(p.inv.fees for p in pms)
    sets = sum(p.inv.matched for p in pms)
    lat = sorted(strategy.leg_latencies_ns)
    det = strategy.detector.counters
    lines += [
        "-" * len(head),
        f"windows followed {len(pms)}, with fills {len(traded)}; complete sets {format_micros(sets)}; "
        f"settlement P&L {format_micros(pnl)} USD; locked {format_micros(locked)}; fees {format_micros(fees)}",
        f"taker detection: {dict(sorted(det.items()))}",
        f"second-leg latency (fill event -> order, wall): n={len(lat)} p50={_pct(lat, 50)} ns p99={_pct(lat, 99)} ns",
        f"decision log: {strategy.log.seq if strategy.log else 0} rows, dropped {strategy.log.drops if strategy.log else 0}",
    ]
    return "\n".join(lines) + "\n"


def _short(v: str, dp: int = 0) -> str:
    if v == "":
        return "-"
    return f"{float(v):.{dp}f}"


def _pct(values: list[int], q: int) -> int | None:
    if not values:
        return None
    return values[min(len(values) - 1, (len(values) * q) // 100)]


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


