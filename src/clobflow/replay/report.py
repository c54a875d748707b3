"""The run report: a text summary plus files (JSON summary, per-market CSV, equity curve PNG),
with the strategies' own sections added to it.

**One P&L truth.** Every P&L number of a run comes from the portfolio: a market's P&L is
``Portfolio.market_pnl`` (payout + what sells/unwinds realized − cost basis − fees, plus the
marked value of shares still held); the run's net P&L is their sum (= realized + unrealized).
The journal's ``settle`` rows, ``markets.csv`` and every strategy section (the pair bot's
``windows.csv`` and ``complete_set.txt``) print these same numbers, so they agree to the cent.

Definitions (money in collateral micro-units internally):
- trades: markets the run traded; closed (settled or sold out) or open at the end;
- win rate: closed trades with P&L > 0 over all closed trades;
- signals: the strategies' entry decisions: ``signal`` journal rows (the imbalance strategy);
  a strategy that quotes journals no signals, so then every order it asked for counts (sent
  or refused by risk: ``order_requests``);
- net P&L: realized + unrealized (open positions marked at the best bid, their liquidation
  value); gross P&L: net P&L + fees paid;
- max drawdown: the largest fall of equity from a previous peak over every equity sample (exact
  however long the run; ``portfolio.curve``);
- max exposure: the largest cost basis held at once, on the sampled curve;
- Sharpe, per-trade statistics, exposure time: ``replay.stats``;
- halts: per strategy, the kill switch (reason and market time of the trip) and the number of
  circuit-breaker trips.

``equity.csv`` and ``equity.png`` show the curve's kept points: every sample up to 20,000, then
the equity at the end of each time bucket (``EquityCurve``), so a week-long paper run's curve
stays bounded.

Outputs: ``report.txt`` (people: ``core.display`` formatting, thousands separators, cents) and
``report.json`` (exact values: ``*_usd`` are exact decimal strings in USD, counts are ints,
``win_rate``/``exposure_time``/``sharpe``/``profit_factor`` are floats or ``null`` when undefined —
``profit_factor`` without trades or without a losing trade —, times are epoch ns). It is strict
JSON (no ``Infinity``/``NaN``).
Both are byte-identical on a rerun of the same backtest; nothing in them reads the wall clock.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from clobflow.core import display as D
from clobflow.core.markets import BinaryMarket
from clobflow.core.numbers import format_micros, micros_from_number
from clobflow.portfolio.portfolio import Portfolio
from clobflow.replay.stats import exposure_share, hourly_sharpe, trade_pnls, trade_stats


@dataclass
class MarketRow:
    """One traded market in ``markets.csv`` (money: exact decimal strings in USD)."""

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
    order_requests: int
    orders: int
    fills: int
    risk_rejects: int
    trades: int
    closed: int
    settled: int
    wins: int
    losses: int
    win_rate: float | None
    pnl_gross_usd: str
    pnl_net_usd: str
    fees_usd: str
    avg_win_usd: str | None
    avg_loss_usd: str | None
    best_trade_usd: str | None
    worst_trade_usd: str | None
    expectancy_usd: str | None
    profit_factor: float | None
    sharpe: float | None
    exposure_time: float | None
    max_drawdown_usd: str
    max_exposure_usd: str
    start_equity_usd: str
    end_equity_usd: str
    skip_reasons: dict[str, int]
    reject_reasons: dict[str, int]
    halts: dict[str, dict[str, Any]] = field(default_factory=dict)
    units: str = ("*_usd: exact decimal strings, USD; win_rate, exposure_time: fractions; sharpe: hourly "
                  "returns annualised by sqrt(8760); tripped_ns: epoch ns of market time")

    def text(self) -> str:
        m = _money
        lines = [
            f"run {self.run_id} ({self.mode}): {D.count(self.frames)} frames, {D.count(self.markets_seen)} markets",
            f"decisions {D.count(self.decisions)}  signals {D.count(self.signals)}  orders {D.count(self.orders)}  "
            f"fills {D.count(self.fills)}  risk rejects {D.count(self.risk_rejects)}",
            f"P&L net {m(self.pnl_net_usd)}  gross {m(self.pnl_gross_usd)}  fees {m(self.fees_usd)}",
            f"trades {D.count(self.trades)} ({D.count(self.closed)} closed, {D.count(self.trades - self.closed)} open)"
            f"  wins {D.count(self.wins)}  losses {D.count(self.losses)}  win rate {D.pct(self.win_rate)}",
            f"per trade: avg win {m(self.avg_win_usd)}  avg loss {m(self.avg_loss_usd)}  best {m(self.best_trade_usd)}"
            f"  worst {m(self.worst_trade_usd)}  profit factor {D.ratio(self.profit_factor)}"
            f"  expectancy {m(self.expectancy_usd)}",
            f"equity {m(self.start_equity_usd)} -> {m(self.end_equity_usd)}  max drawdown {m(self.max_drawdown_usd)}"
            f"  max exposure {m(self.max_exposure_usd)}",
            f"Sharpe (hourly, annualised) {D.ratio(self.sharpe)}  exposure time {D.pct(self.exposure_time)}",
        ]
        for name, h in sorted(self.halts.items()):
            ks = h.get("kill_switch")
            lines.append(f"halts {name}: kill switch {('tripped (' + ks + ')') if ks else 'not tripped'}"
                         f", breaker trips {D.count(h.get('breaker_trips', 0))}")
        if self.skip_reasons:
            lines.append("skips: " + _reasons(self.skip_reasons))
        if self.reject_reasons:
            lines.append("risk rejects: " + _reasons(self.reject_reasons))
        return "\n".join(lines)


def _reasons(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {D.count(v)}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _money(text: str | None) -> str:
    """An exact ``*_usd`` string printed the one way (``core.display.money``)."""
    return D.money(None if text is None else micros_from_number(text))


def usd(v: int) -> str:
    """Exact decimal string of a micro-unit amount (the JSON/CSV form)."""
    return format_micros(v)


def _usd_opt(v: int | None) -> str | None:
    return None if v is None else usd(v)


def build_report(*, run_id: str, mode: str, frames: int, portfolio: Portfolio, starting_cash: int,
                 markets: dict[str, BinaryMarket], journal_counts: dict[tuple[str, str], int],
                 counters: dict[str, int], max_exposure: int,
                 bought: dict[str, set[str]] | None = None, end_ns: int | None = None,
                 halts: dict[str, dict[str, Any]] | None = None,
                 markets_seen: int | None = None) -> tuple[Report, list[MarketRow]]:
    """The report and per-market rows of a finished run, every P&L from ``portfolio``.
    ``end_ns``: the run's last market time (default: the last equity sample). ``markets_seen``:
    markets followed over the run (default ``len(markets)``; a live run forgets ended ones)."""
    rows: list[MarketRow] = []
    closed, _still = trade_pnls(portfolio)
    settled = 0
    for s in portfolio.summaries():
        if s.bought == 0:
            continue
        m = markets.get(s.market)
        tokens = (bought or {}).get(s.market, set())
        bought_outcome = ",".join(sorted(m.outcome_of(t) for t in tokens)) if m is not None else ""
        pnl = portfolio.market_pnl(s.market) or 0
        if s.settled:
            settled += 1
            result = f"won ({s.winning_outcome})" if pnl > 0 else f"lost ({s.winning_outcome})"
        else:
            result = "sold" if s.market in closed else "open"
        rows.append(MarketRow(
            market=s.market, slug=m.slug if m else "", outcome_bought=bought_outcome,
            shares=format_micros(s.bought), cost_usd=usd(s.entry_cost), fees_usd=usd(s.fees), result=result,
            pnl_usd=usd(pnl),
        ))
    curve = portfolio.curve
    mdd = curve.max_drawdown  # over every sample, not only the points kept
    end = end_ns if end_ns is not None else (curve.last.ts_ns if curve.last is not None else 0)
    net = portfolio.realized_pnl + portfolio.unrealized_pnl
    skips = {r: n for (a, r), n in journal_counts.items() if a == "skip"}
    rejects = {r: n for (a, r), n in journal_counts.items() if a == "risk_reject"}
    ts = trade_stats(portfolio)
    requests = counters.get("orders", 0) + counters.get("risk_rejects", 0)
    journaled_signals = sum(n for (a, _), n in journal_counts.items() if a == "signal")
    rep = Report(
        run_id=run_id, mode=mode, frames=frames,
        markets_seen=len(markets) if markets_seen is None else markets_seen,
        decisions=sum(journal_counts.values()),
        signals=journaled_signals or requests, order_requests=requests,
        orders=counters.get("orders", 0), fills=counters.get("fills", 0), risk_rejects=counters.get("risk_rejects", 0),
        trades=len(rows), closed=ts.trades, settled=settled, wins=ts.wins, losses=ts.losses, win_rate=ts.win_rate,
        pnl_gross_usd=usd(net + portfolio.fees_paid), pnl_net_usd=usd(net), fees_usd=usd(portfolio.fees_paid),
        avg_win_usd=_usd_opt(ts.avg_win), avg_loss_usd=_usd_opt(ts.avg_loss), best_trade_usd=_usd_opt(ts.best),
        worst_trade_usd=_usd_opt(ts.worst), expectancy_usd=_usd_opt(ts.expectancy),
        profit_factor=None if ts.profit_factor is None or math.isinf(ts.profit_factor) else round(ts.profit_factor, 6),
        sharpe=hourly_sharpe(portfolio, end), exposure_time=exposure_share(portfolio, end),
        max_drawdown_usd=usd(mdd), max_exposure_usd=usd(max_exposure),
        start_equity_usd=usd(starting_cash), end_equity_usd=usd(portfolio.equity()),
        skip_reasons=skips, reject_reasons=rejects, halts=halts or {},
    )
    return rep, rows


def write_report(out_dir: str | Path, report: Report, rows: list[MarketRow], portfolio: Portfolio) -> list[Path]:
    """Write ``report.txt``, ``report.json``, ``markets.csv``, ``equity.csv`` and ``equity.png``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "report.txt", out / "report.json", out / "markets.csv", out / "equity.csv", out / "equity.png"]
    paths[0].write_text(report.text() + "\n")
    paths[1].write_text(json.dumps(asdict(report), indent=1, sort_keys=True, allow_nan=False) + "\n")
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


@runtime_checkable
class ReportSection(Protocol):
    """A strategy that adds its own section to the run report. ``report_section`` writes its
    files (in the folder the strategy was attached to) from the run's ``portfolio`` (the P&L
    truth) and returns the text to print after the report, or ``None``."""

    def report_section(self, portfolio: Portfolio) -> tuple[str | None, list[Path]]: ...


def halts_of(kernel: Any) -> dict[str, dict[str, Any]]:
    """Per strategy: ``kill_switch`` (the trip reason or ``None``), ``tripped_ns``,
    ``breaker_trips``."""
    out = {}
    for name, risk in sorted(kernel.risk.items()):
        ks = risk.kill_switch
        out[name] = {"kill_switch": ks.reason if ks.tripped else None, "tripped_ns": ks.tripped_ns,
                     "breaker_trips": risk.breaker.trips}
    return out


def report_run(kernel: Any, *, run_id: str, mode: str, frames: int, starting_cash_usd: float,
               out_dir: str | Path) -> tuple[Report, list[Path], list[str]]:
    """Build and write the report of a finished run from its kernel (portfolio, journal counts,
    counters, markets, risk), then each strategy's ``ReportSection``. Returns the report, every
    file written, and the sections' texts (to print after the report)."""
    k = kernel
    rep, rows = build_report(
        run_id=run_id, mode=mode, frames=frames, portfolio=k.portfolio,
        starting_cash=micros_from_number(starting_cash_usd), markets=k.markets,
        journal_counts=k.journal.counts, counters=k.counters,
        max_exposure=k.max_exposure, bought=k.bought, end_ns=k.clock.now_ns(), halts=halts_of(k),
        markets_seen=max(k.markets_seen, len(k.markets)),
    )
    paths = write_report(out_dir, rep, rows, k.portfolio)
    texts: list[str] = []
    for s in k.strategies:
        if isinstance(s, ReportSection):
            text, more = s.report_section(k.portfolio)
            paths += more
            if text:
                texts.append(text)
    return rep, paths, texts
