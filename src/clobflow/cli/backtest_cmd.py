"""``clobflow backtest``: run the configured strategies over recorded data and report.

``--start``/``--end``/``--market`` replay part of the data (``replay.selection.select_frames``):
a receive-time range (ISO date-time or ``YYYY-MM-DD``, UTC; a bare ``--end`` date includes that
day) and markets by condition id, slug or slug prefix (repeatable).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from sqlalchemy.exc import ArgumentError

from clobflow.cli.errors import UserError, out_dir
from clobflow.cli.format import console as cli_console
from clobflow.core.errors import ConfigError
from clobflow.engine.backtest import run_backtest
from clobflow.engine.config import STRATEGY_KINDS, load_config
from clobflow.replay.report import report_run
from clobflow.replay.selection import parse_time_ns, select_frames
from clobflow.sim.datasets import Dataset, load_dataset
from clobflow.store.engine import normalize_url


def backtest(
    config: Annotated[Path | None, typer.Option(help="YAML or TOML run configuration (default: "
                                                     "config/<strategy>.yaml).")] = None,
    strategy: Annotated[str, typer.Option(help="Strategy whose default config to use when --config is not "
                                               "given: imbalance or complete_set.")] = "imbalance",
    data: Annotated[str, typer.Option(help="Bundled dataset (pm-btc15m-tob-1s, pm-btc1h-l2-1s) or a raw-frame file.")] = "pm-btc15m-tob-1s",
    out: Annotated[Path, typer.Option(help="Output folder for the journal, store and report.")] = Path("runs/backtest"),
    store_url: Annotated[str | None, typer.Option(help="SQL store URL (default: SQLite in --out).")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    start: Annotated[str | None, typer.Option(help="Only frames received from this time (ISO or YYYY-MM-DD, UTC).")] = None,
    end: Annotated[str | None, typer.Option(help="Only frames received before this time (a bare date: through that day).")] = None,
    market: Annotated[list[str] | None, typer.Option(help="Only this market: condition id, slug or slug prefix (repeatable).")] = None,
) -> None:
    """Backtest on recorded frames with a simulated clock; deterministic, with a report."""
    console = cli_console()
    if config is None:
        if strategy not in STRATEGY_KINDS:
            raise UserError(f"--strategy {strategy!r}: one of {', '.join(STRATEGY_KINDS)}")
        config = Path(f"config/{strategy}.yaml")
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    if store_url is not None:
        try:
            normalize_url(store_url)
        except (ValueError, ArgumentError) as exc:
            raise UserError(f"--store-url: {exc}") from None
    out_dir(out)
    try:
        ds = load_dataset(data)
    except (KeyError, FileNotFoundError, ValueError) as exc:
        raise UserError(f"--data {data!r}: {exc}") from None
    if start or end or market:
        ds = _select(ds, start, end, market)
    console.print(f"backtest: {ds.summary()}", highlight=False)
    bar = Progress(TextColumn("replay"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,} frames"),
                   TimeRemainingColumn(), console=console, disable=not progress)
    with bar:
        task = bar.add_task("replay", total=len(ds.frames))
        res = run_backtest(cfg, ds, out, store_url=store_url,
                           progress=lambda i, n: bar.update(task, completed=i))
    k = res.kernel
    rep, paths, sections = report_run(k, run_id=res.run_id, mode="backtest", frames=res.frames,
                                      starting_cash_usd=cfg.engine.starting_cash_usd, out_dir=out)
    console.print(rep.text(), highlight=False)
    for text in sections:
        console.print(text, highlight=False)
    console.print(f"journal {res.journal_path}; report {', '.join(p.name for p in paths)} in {out}", highlight=False)


def _select(ds: Dataset, start: str | None, end: str | None, market: list[str] | None) -> Dataset:
    """``--start``/``--end``/``--market`` applied to ``ds`` (see ``replay.selection``)."""
    s = _time("--start", start)
    e = _time("--end", end)
    if s is not None and e is not None and s >= e:
        raise UserError(f"--start {start} is not before --end {end}")
    try:
        sel = select_frames(ds, start_ns=s, end_ns=e, markets=market or None)
    except ValueError as exc:  # the only one left: a selector that matches no market
        raise UserError(f"--market: {exc}") from None
    if not sel.frames:
        raise UserError(f"the selection holds no frames ({ds.summary()})")
    return sel


def _time(option: str, text: str | None) -> int | None:
    try:
        return parse_time_ns(text, end=option == "--end") if text else None
    except ValueError as exc:
        raise UserError(f"{option}: {exc}") from None
