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

from clobflow.cli.errors import UserError
from clobflow.core.errors import ConfigError
from clobflow.engine.config import load_config
from clobflow.replay.executors import EXECUTORS, ExecutorUnavailable, make_executor
from clobflow.replay.selection import DatasetSpec, parse_time_ns, select_frames, warm_worker
from clobflow.replay.sweep import (
    METRICS, GridError, SweepResult, local_workers, parse_grid, plan_sweep, run_sweep,
)
from clobflow.sim.datasets import load_dataset

DEFAULT_CONFIG = Path("config/imbalance.yaml")


def sweep(
    grid: Annotated[list[str], typer.Option(
        help='Grid, e.g. "min_imbalance=0.3:0.7:0.1,max_spread=0.01,0.02" (repeatable; keys: a strategy key, '
             "strategies[i].key or section.key such as sim.submit_latency_ms).")],
    config: Annotated[Path, typer.Option(help="YAML or TOML base configuration.")] = DEFAULT_CONFIG,
    data: Annotated[str, typer.Option(help="Bundled dataset name or raw-frame file; each worker loads it.")] = "pm-btc15m-tob-1s",
    out: Annotated[Path, typer.Option(help="Output folder: runs/<n>/, sweep.csv, sweep.json, sweep.png.")] = Path("runs/sweep"),
    workers: Annotated[int | None, typer.Option(min=1, help="Local worker processes (default: CPU count).")] = None,
    executor: Annotated[str, typer.Option(help="Where runs execute: local, ray or dask.")] = "local",
    executor_address: Annotated[str | None, typer.Option(
        help="Cluster address for ray (ray://head:10001) or dask (tcp://scheduler:8786).")] = None,
    start: Annotated[str | None, typer.Option(help="Only frames received from this time (ISO or YYYY-MM-DD, UTC).")] = None,
    end: Annotated[str | None, typer.Option(help="Only frames received before this time (a bare date: through that day).")] = None,
    market: Annotated[list[str] | None, typer.Option(help="Only this market: condition id, slug or slug prefix (repeatable).")] = None,
    limit_markets: Annotated[int | None, typer.Option(min=1, help="Only the first N markets of a bundled dataset.")] = None,
) -> None:
    """Sweep strategy or engine parameters over a grid: one deterministic backtest per point."""
    console = Console()
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
    try:
        tasks = plan_sweep(cfg, axes, spec, out)  # every point validated before any work
        ex = make_executor(executor, workers=local_workers(workers, len(tasks)), address=executor_address,
                           initializer=warm_worker, initargs=(spec,))
    except GridError as exc:
        raise UserError(f"--grid: {exc}") from None
    except ExecutorUnavailable as exc:
        raise UserError(f"--executor {executor}: {exc}") from None
    if executor == "local":
        _check_data(console, spec)
    n = len(tasks)
    where = (f"{local_workers(workers, n)} worker processes" if executor == "local"
             else f"{executor} at {executor_address or 'auto'}")
    shape = " x ".join(f"{a.key}[{len(a.values)}]" for a in axes)
    console.print(f"{n} run{'s' * (n != 1)} ({shape}) on {where}", highlight=False)

    def on_row(row: dict[str, Any]) -> None:
        status = f"error {row['error']}" if row["error"] else f"net {row['pnl_net']:.2f}  trades {row['trades']}"
        console.print(f"  run {row['run']}/{n - 1}: {status}", highlight=False)

    try:
        result = run_sweep(cfg, axes, spec, out, executor=ex, on_row=on_row)
    except ExecutorUnavailable as exc:  # a cluster that cannot be reached
        raise UserError(f"--executor {executor}: {exc}") from None
    finally:
        ex.close()
    t = table(result)
    # piped output: Rich would squeeze the table into 80 columns and elide the numbers
    (console if console.is_terminal else Console(width=max(console.width, 14 * len(t.columns)))).print(t)
    failed = [r for r in result.rows if r["error"]]
    if failed:
        console.print(f"{len(failed)} runs failed; first: run {failed[0]['run']}: {failed[0]['error']}", highlight=False)
    console.print(f"runs in {out / 'runs'}; {', '.join(p.name for p in result.paths)} in {out}", highlight=False)
    if len(failed) == len(result.rows):
        raise UserError(f"every run failed: {failed[0]['error']}")


def _check_data(console: Console, spec: DatasetSpec) -> None:
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
    """The rows as a Rich table, best net P&L first."""
    t = Table(title="sweep by net P&L", title_justify="left")
    t.add_column("run", justify="right")
    for k in result.keys:
        t.add_column(k, justify="right")
    heads = {"trades": "trades", "win_rate": "win rate", "pnl_net": "net", "pnl_gross": "gross",
             "fees": "fees", "max_drawdown": "max dd", "signals": "signals", "orders": "orders"}
    for m in METRICS:
        t.add_column(heads[m], justify="right")
    for r in result.ranked():
        cells = [str(r["run"]), *(_fmt(r[k]) for k in result.keys)]
        if r["error"]:
            cells += ["-"] * len(METRICS)
        else:
            wr = "-" if r["win_rate"] is None else f"{r['win_rate']:.1%}"
            cells += [str(r["trades"]), wr, *(f"{r[m]:.2f}" for m in ("pnl_net", "pnl_gross", "fees", "max_drawdown")),
                      str(r["signals"]), str(r["orders"])]
        t.add_row(*cells)
    return t


def _fmt(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return str(v).lower() if v is not None else "null"
    return str(v)


def _time(option: str, text: str | None) -> int | None:
    try:
        return parse_time_ns(text, end=option == "--end") if text else None
    except ValueError as exc:
        raise UserError(f"{option}: {exc}") from None
