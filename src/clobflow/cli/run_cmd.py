"""``clobflow run``: paper or shadow trading on live (or simulator) market data."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from clobflow.cli.errors import UserError, out_dir, positive
from clobflow.core.errors import ConfigError
from clobflow.engine.config import load_config
from clobflow.engine.live import run_live
from clobflow.engine.market_feed import FeedStartError
from clobflow.cli.format import console as cli_console
from clobflow.replay.report import report_run


def run(
    mode: Annotated[str, typer.Option(help="paper (simulated fills) or shadow (journal only).")] = "paper",
    config: Annotated[Path, typer.Option(help="YAML or TOML run configuration.")] = Path("config/imbalance.yaml"),
    out: Annotated[Path, typer.Option(help="Output folder for the journal, store and report.")] = Path("runs/live"),
    ws_url: Annotated[str | None, typer.Option(help="Market-channel WebSocket URL (overrides config).")] = None,
    gamma_url: Annotated[str | None, typer.Option(help="Gamma REST URL (overrides config).")] = None,
    clob_url: Annotated[str | None, typer.Option(help="CLOB REST URL (overrides config).")] = None,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
) -> None:
    """Trade in paper or shadow mode until Ctrl-C / SIGTERM (or --duration)."""
    if mode not in ("paper", "shadow"):
        raise UserError(f"--mode must be paper or shadow, got {mode!r} (live trading is not available yet)")
    positive("--duration", duration)
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    for option, url in (("--ws-url", ws_url), ("--gamma-url", gamma_url), ("--clob-url", clob_url)):
        if url is not None and "://" not in url:
            raise UserError(f"{option} {url!r} is not a URL (ws://, wss://, http:// or https://)")
    out_dir(out)
    console = cli_console()
    try:
        res = asyncio.run(run_live(cfg, mode, out, ws_url=ws_url, gamma_url=gamma_url, clob_url=clob_url,
                                   duration_s=duration, log=console.print))
    except FeedStartError as exc:
        raise UserError(str(exc)) from None
    k = res.kernel
    rep, paths, sections = report_run(k, run_id=res.run_id, mode=mode, frames=k.counters["events"],
                                      starting_cash_usd=cfg.engine.starting_cash_usd, out_dir=out)
    console.print(rep.text(), highlight=False)
    for text in sections:
        console.print(text, highlight=False)
