"""The run report: a text summary plus files (JSON summary, per-market CSV, equity curve PNG).

Definitions (all money in collateral micro-units internally, dollars in the output):
- trades: markets in which the strategy bought something (one position per market);
- win rate: settled positions with P&L > 0 over all settled positions;
- net P&L: realized + unrealized (open positions marked at the best bid, their liquidation
  value); gross P&L: net P&L + fees paid;
- max drawdown: the largest fall of equity from a previous peak on the sampled equity curve;
- max exposure: the largest cost basis held at once, on the sampled curve.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from clobflow.core.markets import BinaryMarket
from clobflow.core.numbers import format_micros, micros_from_number
from clobflow.portfolio.portfolio import Portfolio


@dataclass
class MarketRow:
    market: str
    slug: str
    outcome_bought: str
    shares: str
    cost_usd: str
    fees_usd: str
    result: str
    pnl_usd: str


@dataclass
class Report:
    run_id: str
    mode: str
    frames: int
    markets_seen: int
    decisions: int
    signals: int
    orders: int
    fills: int
    risk_rejects: int
    trades: int
    settled: int
    wins: int
    win_rate: float | None
    pnl_gross_usd: str
    pnl_net_usd: str
    fees_usd: str
    max_drawdown_usd: str
    max_exposure_usd: str
    start_equity_usd: str
    end_equity_usd: str
    skip_reasons: dict[str, int]
    reject_reasons: dict[str, int]

    def text(self) -> str:
        wr = "-" if self.win_rate is None else f"{self.win_rate:.1%}"
        lines = [
            f"run {self.run_id} ({self.mode}): {self.frames:,} frames, {self.markets_seen} markets",
            f"decisions {self.decisions:,}  signals {self.signals}  orders {self.orders}  fills {self.fills}  "
            f"risk rejects {self.risk_rejects}",
            f"trades {self.trades}  settled {self.settled}  wins {self.wins}  win rate {wr}",
            f"P&L gross {self.pnl_gross_usd}  fees {self.fees_usd}  net {self.pnl_net_usd}",
            f"equity {self.start_equity_usd} -> {self.end_equity_usd}  max drawdown {self.max_drawdown_usd}  "
            f"max exposure {self.max_exposure_usd}",
        ]
        if self.skip_reasons:
            lines.append("skips: " + ", ".join(f"{k} {v:,}" for k, v in sorted(self.skip_reasons.items(), key=lambda kv: -kv[1])))
        if self.reject_reasons:
            lines.append("risk rejects: " + ", ".join(f"{k} {v:,}" for k, v in sorted(self.reject_reasons.items(), key=lambda kv: -kv[1])))
        return "\n".join(lines)


def usd(v: int) -> str:
    return format_micros(v, 2)


def build_report(*, run_id: str, mode: str, frames: int, portfolio: Portfolio, starting_cash: int,
                 markets: dict[str, BinaryMarket], journal_counts: dict[tuple[str, str], int],
                 counters: dict[str, int], max_exposure: int,
                 bought: dict[str, set[str]] | None = None) -> tuple[Report, list[MarketRow]]:
    rows: list[MarketRow] = []
    settled = wins = 0
    for s in portfolio.summaries():
        if s.bought == 0:
            continue
        m = markets.get(s.market)
        tokens = (bought or {}).get(s.market, set())
        bought_outcome = ",".join(sorted(m.outcome_of(t) for t in tokens)) if m is not None else ""
        if s.settled:
            settled += 1
            wins += s.realized > 0
            result = f"won ({s.winning_outcome})" if s.realized > 0 else f"lost ({s.winning_outcome})"
        else:
            result = "open"
        rows.append(MarketRow(
            market=s.market, slug=m.slug if m else "", outcome_bought=bought_outcome,
            shares=format_micros(s.bought, 2), cost_usd=usd(s.entry_cost), fees_usd=usd(s.fees), result=result,
            pnl_usd=usd(s.realized if s.settled else s.realized + _unrealized(portfolio, s.market)),
        ))
    curve = portfolio.curve
    peak, mdd = None, 0
    for p in curve:
        peak = p.equity if peak is None or p.equity > peak else peak
        mdd = max(mdd, peak - p.equity)
    net = portfolio.realized_pnl + portfolio.unrealized_pnl
    skips = {r: n for (a, r), n in journal_counts.items() if a == "skip"}
    rejects = {r: n for (a, r), n in journal_counts.items() if a == "risk_reject"}
    rep = Report(
        run_id=run_id, mode=mode, frames=frames, markets_seen=len(markets),
        decisions=sum(journal_counts.values()),
        signals=sum(n for (a, _), n in journal_counts.items() if a == "signal"),
        orders=counters.get("orders", 0), fills=counters.get("fills", 0), risk_rejects=counters.get("risk_rejects", 0),
        trades=len(rows), settled=settled, wins=wins, win_rate=(wins / settled) if settled else None,
        pnl_gross_usd=usd(net + portfolio.fees_paid), pnl_net_usd=usd(net), fees_usd=usd(portfolio.fees_paid),
        max_drawdown_usd=usd(mdd), max_exposure_usd=usd(max_exposure),
        start_equity_usd=usd(starting_cash), end_equity_usd=usd(portfolio.equity()),
        skip_reasons=skips, reject_reasons=rejects,
    )
    return rep, rows


def _unrealized(portfolio: Portfolio, market: str) -> int:
    total = 0
    for p in portfolio.positions():
        if p.market == market and p.size:
            total += p.value(portfolio.mark_price(p.asset_id)) - p.cost
    return total


def write_report(out_dir: str | Path, report: Report, rows: list[MarketRow], portfolio: Portfolio) -> list[Path]:
    """Write ``report.txt``, ``report.json``, ``markets.csv``, ``equity.csv`` and ``equity.png``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "report.txt", out / "report.json", out / "markets.csv", out / "equity.csv", out / "equity.png"]
    paths[0].write_text(report.text() + "\n")
    paths[1].write_text(json.dumps(asdict(report), indent=1, sort_keys=True) + "\n")
    with open(paths[2], "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(list(MarketRow.__dataclass_fields__))
        for r in rows:
            w.writerow(list(asdict(r).values()))
    with open(paths[3], "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["ts_ns", "equity_usd", "realized_usd", "unrealized_usd"])
        for p in portfolio.curve:
            w.writerow([p.ts_ns, usd(p.equity), usd(p.realized), usd(p.unrealized)])
    plot_equity(portfolio, paths[4], title=f"{report.run_id} equity")
    return paths


def plot_equity(portfolio: Portfolio, path: Path, title: str, gap_s: float = 600.0) -> None:
    """Equity against *active* time: stretches without samples longer than ``gap_s`` (a
    recording's missing days) are collapsed and marked with a dotted line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs: list[float] = []
    gaps: list[float] = []
    t = 0.0
    prev = None
    for p in portfolio.curve:
        if prev is not None:
            dt = (p.ts_ns - prev) / 3.6e12  # hours
            if dt * 3600 > gap_s:
                gaps.append(t)
                dt = 0.0
            t += dt
        xs.append(t)
        prev = p.ts_ns
    ys = [p.equity / 1e6 for p in portfolio.curve]  # display only
    fig, ax = plt.subplots(figsize=(10, 4), dpi=100)
    if xs:
        ax.step(xs, ys, where="post", lw=1.2)
    for g in gaps:
        ax.axvline(g, color="grey", ls=":", lw=1)
    ax.set_title(title)
    ax.set_xlabel("active hours (dotted: gap in the data)")
    ax.set_ylabel("equity (USD)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


def report_run(kernel: object, *, run_id: str, mode: str, frames: int, starting_cash_usd: float,
               out_dir: str | Path) -> tuple[Report, list[Path]]:
    """Build and write the report of a finished run from its kernel (portfolio, journal counts,
    counters, markets). Returns the report and the files written."""
    k = kernel
    rep, rows = build_report(
        run_id=run_id, mode=mode, frames=frames, portfolio=k.portfolio,  # type: ignore[attr-defined]
        starting_cash=micros_from_number(starting_cash_usd), markets=k.markets,  # type: ignore[attr-defined]
        journal_counts=k.journal.counts, counters=k.counters,  # type: ignore[attr-defined]
        max_exposure=k.max_exposure, bought=k.bought,  # type: ignore[attr-defined]
    )
    return rep, write_report(out_dir, rep, rows, k.portfolio)  # type: ignore[attr-defined]
