"""``clobflow backtest``: run the configured strategies over recorded data and report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from clobflow.cli.errors import UserError
from clobflow.core.errors import ConfigError
from clobflow.core.numbers import micros_from_number
from clobflow.engine.backtest import run_backtest
from clobflow.engine.config import load_config
from clobflow.replay.report import build_report, write_report
from clobflow.sim.datasets import load_dataset

DEFAULT_CONFIG = Path("config/imbalance.yaml")


def backtest(
    config: Annotated[Path, typer.Option(help="YAML or TOML run configuration.")] = DEFAULT_CONFIG,
    data: Annotated[str, typer.Option(help="Bundled dataset (pm-btc15m-tob-1s, pm-btc1h-l2-1s) or a raw-frame file.")] = "pm-btc15m-tob-1s",
    out: Annotated[Path, typer.Option(help="Output folder for the journal, store and report.")] = Path("runs/backtest"),
    store_url: Annotated[str | None, typer.Option(help="SQL store URL (default: SQLite in --out).")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Backtest on recorded frames with a simulated clock; deterministic, with a report."""
    console = Console()
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    try:
        ds = load_dataset(data)
    except (KeyError, FileNotFoundError, ValueError) as exc:
        raise UserError(f"--data {data!r}: {exc}") from None
    console.print(f"backtest: {ds.summary()}", highlight=False)
    bar = Progress(TextColumn("replay"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,} frames"),
                   TimeRemainingColumn(), console=console, disable=not progress)
    with bar:
        task = bar.add_task("replay", total=len(ds.frames))
        res = run_backtest(cfg, ds, out, store_url=store_url,
                           progress=lambda i, n: bar.update(task, completed=i))
    k = res.kernel
    rep, rows = build_report(
        run_id=res.run_id, mode="backtest", frames=res.frames, portfolio=k.portfolio,
        starting_cash=micros_from_number(cfg.engine.starting_cash_usd), markets=k.markets,
        journal_counts=k.journal.counts, counters=k.counters, max_exposure=k.max_exposure, bought=k.bought,
    )
    paths = write_report(out, rep, rows, k.portfolio)
    console.print(rep.text(), highlight=False)
    console.print(f"journal {res.journal_path}; report {', '.join(p.name for p in paths)} in {out}", highlight=False)
