"""``clobflow sweep``: one backtest per point of a parameter grid, in parallel worker processes.

Example::

    clobflow sweep --config config/imbalance.yaml --data pm-btc15m-tob-1s \\
        --grid "min_imbalance=0.3:0.7:0.1,max_spread=0.01,0.02" --out runs/sweep --workers 2

writes ``runs/sweep/runs/<n>/`` per point (journal, SQLite, report), ``sweep.csv``,
``sweep.json`` and ``sweep.png``, and prints the table by net P&L. Grid syntax and keys:
``clobflow.replay.sweep``; running on Ray or Dask: ``clobflow.replay.executors``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from clobflow.cli.errors import UserError, out_dir
from clobflow.cli.format import console as cli_console
from clobflow.core import display as D
from clobflow.core.numbers import micros_from_number
from clobflow.core.errors import ConfigError
from clobflow.engine.config import load_config
from clobflow.replay.executors import EXECUTORS, ExecutorUnavailable, make_executor
from clobflow.replay.selection import DatasetSpec, parse_time_ns, select_frames, warm_worker
from clobflow.replay.sweep import (
    GridError, SweepResult, local_workers, parse_grid, plan_sweep, run_sweep, split_time,
)
from clobflow.sim.datasets import Dataset, load_dataset
from clobflow.sim.datasets.base import iso_utc

DEFAULT_CONFIG = Path("config/imbalance.yaml")


def sweep(
    grid: Annotated[list[str], typer.Option(
        help='Grid, e.g. "min_imbalance=0.3:0.7:0.1,max_spread=0.01,0.02" (repeatable; keys: a strategy key, '
             "strategies[i].key or section.key such as sim.submit_latency_ms).")],
    config: Annotated[Path, typer.Option(help="YAML or TOML base configuration.")] = DEFAULT_CONFIG,
    data: Annotated[str, typer.Option(help="Bundled dataset name or raw-frame file; each worker loads it.")] = "pm-btc15m-tob-1s",
    out: Annotated[Path, typer.Option(help="Output folder: runs/<n>/, sweep.csv, sweep.json, sweep.png.")] = Path("runs/sweep"),
    workers: Annotated[int | None, typer.Option(min=1, help="Local worker processes (default: every usable CPU).")] = None,
    executor: Annotated[str, typer.Option(help="Where runs execute: local, ray or dask.")] = "local",
    executor_address: Annotated[str | None, typer.Option(
        help="Cluster address for ray (ray://head:10001) or dask (tcp://scheduler:8786).")] = None,
    start: Annotated[str | None, typer.Option(help="Only frames received from this time (ISO or YYYY-MM-DD, UTC).")] = None,
    end: Annotated[str | None, typer.Option(help="Only frames received before this time (a bare date: through that day).")] = None,
    market: Annotated[list[str] | None, typer.Option(help="Only this market: condition id, slug or slug prefix (repeatable).")] = None,
    limit_markets: Annotated[int | None, typer.Option(min=1, help="Only the first N markets of a bundled dataset.")] = None,
    split: Annotated[float | None, typer.Option(
        help="Train/test split by time: the first FRACTION of the data is in-sample (e.g. 0.7), moved to the next "
             "window start; each point also runs on the rest, shown beside it. The best is chosen on train only.")] = None,
    train_until: Annotated[str | None, typer.Option(
        help="Train/test split at this time (ISO or YYYY-MM-DD, UTC): in-sample before, out-of-sample from it.")] = None,
) -> None:
    """Sweep strategy or engine parameters over a grid: one deterministic backtest per point."""
    console = cli_console()
    if split is not None and train_until is not None:
        raise UserError("give --split or --train-until, not both")
    if executor not in EXECUTORS:
        raise UserError(f"--executor {executor!r}: one of {', '.join(EXECUTORS)}")
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    try:
        axes = parse_grid(grid)
    except GridError as exc:
        raise UserError(f"--grid: {exc}") from None
    spec = _spec(data, start, end, market, limit_markets)
    out_dir(out)
    ds = _check_data(console, spec) if executor == "local" or split is not None else None
    split_ns = _split_ns(ds, split, train_until)
    try:
        tasks = plan_sweep(cfg, axes, spec, out, split_ns)  # every point validated before any work
        ex = make_executor(executor, workers=local_workers(workers, len(tasks)), address=executor_address,
                           initializer=warm_worker, initargs=(tasks[0].dataset,))
    except GridError as exc:
        raise UserError(f"--grid: {exc}") from None
    except ExecutorUnavailable as exc:
        raise UserError(f"--executor {executor}: {exc}") from None
    n = len(tasks)
    w = local_workers(workers, n)
    where = (f"{w} worker process{'es' * (w != 1)}" if executor == "local"
             else f"{executor} at {executor_address or 'auto'}")
    shape = " x ".join(f"{a.key}[{len(a.values)}]" for a in axes)
    halves = f", train before {iso_utc(split_ns)} and test after" if split_ns is not None else ""
    console.print(f"{n} run{'s' * (n != 1)} ({shape}{halves}) on {where}", highlight=False)
    finished = 0

    def on_row(row: dict[str, Any]) -> None:
        nonlocal finished
        finished += 1
        phase = f" {row['phase']}" if row["phase"] else ""
        if row["error"]:
            status = f"error {row['error']}"
        else:
            halt = f"  halted {row['halted']}" if row["halted"] else ""
            status = (f"net {D.money(micros_from_number(row['pnl_net']))}  trades {D.count(row['trades'])}"
                      f"  risk rejects {D.count(row['risk_rejects'])}{halt}")
        console.print(f"  {finished}/{n} (run {row['run']}{phase}): {status}", highlight=False)

    try:
        result = run_sweep(cfg, axes, spec, out, executor=ex, on_row=on_row, split_ns=split_ns)
    except ExecutorUnavailable as exc:  # a cluster that cannot be reached
        raise UserError(f"--executor {executor}: {exc}") from None
    finally:
        ex.close()
    t = table(result)
    # piped: room for every column (a terminal keeps its own width)
    (console if console.is_terminal else Console(width=max(console.width, 16 * len(t.columns)))).print(t)
    best = result.best()
    if split_ns is not None and best is not None:
        test = "-" if best["test_pnl_net"] is None else D.money(micros_from_number(best["test_pnl_net"]))
        console.print(f"best on train: run {best['run']} "
                      f"({', '.join(f'{k}={_fmt(best[k])}' for k in result.keys)}): train net "
                      f"{D.money(micros_from_number(best['pnl_net']))}, test net {test}", highlight=False)
    failed = [r for r in result.rows if r["error"]]
    if failed:
        console.print(f"{len(failed)} runs failed; first: run {failed[0]['run']}: {failed[0]['error']}", highlight=False)
    console.print(f"runs in {out / 'runs'}; {', '.join(p.name for p in result.paths)} in {out}", highlight=False)
    if len(failed) == len(result.rows):
        raise UserError(f"every run failed: {failed[0]['error']}")


def _split_ns(ds: Dataset | None, split: float | None, train_until: str | None) -> int | None:
    if train_until is not None:
        return _time("--train-until", train_until)
    if split is None:
        return None
    assert ds is not None
    try:
        return split_time(ds, split)
    except ValueError as exc:
        raise UserError(f"--split: {exc}") from None


def _check_data(console: Console, spec: DatasetSpec) -> Dataset:
    """Load the data here once as well, so a bad ``--data``/``--market`` is one line before any
    worker starts (workers still load it themselves)."""
    try:
        ds = load_dataset(spec.source, limit_markets=spec.limit_markets)
    except (KeyError, FileNotFoundError, ValueError) as exc:
        raise UserError(f"--data {spec.source!r}: {exc}") from None
    try:
        ds = select_frames(ds, start_ns=spec.start_ns, end_ns=spec.end_ns, markets=spec.markets)
    except ValueError as exc:  # start < end was checked: a selector that matches nothing
        raise UserError(f"--market: {exc}") from None
    if not ds.frames:
        raise UserError("the selection holds no frames (check --start/--end/--market)")
    console.print(f"sweep: {ds.summary()}", highlight=False)
    return ds


def _spec(data: str, start: str | None, end: str | None, market: list[str] | None,
          limit_markets: int | None) -> DatasetSpec:
    s = _time("--start", start)
    e = _time("--end", end)
    if s is not None and e is not None and s >= e:
        raise UserError(f"--start {start} is not before --end {end}")
    source = data
    p = Path(data).expanduser()
    if p.exists():
        source = str(p.resolve())  # workers (possibly elsewhere) need a path independent of cwd
    return DatasetSpec(source, limit_markets, s, e, tuple(market) if market else None)


def table(result: SweepResult) -> Table:
    """The rows as a Rich table, best net P&L first (in-sample in a split sweep, with the
    out-of-sample net, trades, Sharpe and halts beside it)."""
    split = result.split_ns is not None
    t = Table(title="sweep by net P&L" + (" in-sample (train); out-of-sample (test) beside it" if split else ""),
              title_justify="left")
    t.add_column("run", justify="right")
    for k in result.keys:
        t.add_column(k, justify="right", min_width=len(k))  # parameter names are never elided
    cols = [("trades", "trades"), ("win_rate", "win rate"), ("pnl_net", "net"), ("pnl_gross", "gross"),
            ("fees", "fees"), ("max_drawdown", "max dd"), ("sharpe", "Sharpe"), ("signals", "signals"),
            ("orders", "orders"), ("risk_rejects", "risk rejects"), ("top_reject", "top reject"), ("halted", "halted")]
    for _, head in cols:
        t.add_column(("train " if split else "") + head, justify="right")
    test_cols = [("pnl_net", "net"), ("trades", "trades"), ("sharpe", "Sharpe"), ("risk_rejects", "risk rejects"),
                 ("halted", "halted")] if split else []
    for _, head in test_cols:
        t.add_column("test " + head, justify="right")
    for r in result.ranked():
        cells = [str(r["run"]), *(_fmt(r[k]) for k in result.keys)]
        cells += ["-"] * len(cols) if r["error"] else [_cell(m, r[m]) for m, _ in cols]
        if split:
            bad = r.get("test_error") or r.get("test_pnl_net") is None
            cells += ["-"] * len(test_cols) if bad else [_cell(m, r[f"test_{m}"]) for m, _ in test_cols]
        t.add_row(*cells)
    return t


def _cell(metric: str, v: Any) -> str:
    """One metric cell, formatted the one way (``core.display``)."""
    if v is None or v == "":
        return "-"
    if metric == "win_rate":
        return D.pct(v)
    if metric in ("pnl_net", "pnl_gross", "fees", "max_drawdown"):
        return D.money(micros_from_number(v))
    if metric == "sharpe":
        return D.ratio(v)
    if isinstance(v, int):
        return D.count(v)
    return str(v)


def _fmt(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return str(v).lower() if v is not None else "null"
    return str(v)


def _time(option: str, text: str | None) -> int | None:
    try:
        return parse_time_ns(text, end=option == "--end") if text else None
    except ValueError as exc:
        raise UserError(f"{option}: {exc}") from None
