"""``clobflow import markets|prices|trades``: resumable history import (``clobflow.venues.polymarket.history``).

Every command writes under ``--out DIR`` and checkpoints in ``--state FILE`` (default
``DIR/import-state.json``). Re-running the same command resumes where it stopped; a finished job
returns at once; no row is written twice. Progress is a Rich bar on stderr (``--quiet`` hides
it); the outcome is one summary line on stdout. Exit codes: 0 done, 1 done but incomplete (items
the venue does not know, or rows the venue would not serve: see the warnings), 2 a one-line
error (``UserError``; the progress made so far is kept).

``--url`` points all three hosts (Gamma, CLOB, Data API) at one base URL, e.g. the local venue
simulator (``clobflow venue``); by default the real Polymarket hosts are used.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from clobflow.cli.errors import UserError, out_dir, run_cli

if TYPE_CHECKING:
    from clobflow.venues.polymarket.history import ImportClients, ImportState, JobResult, ProgressEvent
    from clobflow.recorder.sink import TableSink

app_import = typer.Typer(
    name="import",
    help="Import Polymarket history (Gamma markets, CLOB prices, Data API trades), resumably.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

Out = Annotated[Path, typer.Option("--out", help="Output directory.")]
StateOpt = Annotated[
    Path | None, typer.Option("--state", help="Checkpoint file (default OUT/import-state.json).")
]
Url = Annotated[str | None, typer.Option("--url", help="One base URL for all hosts (e.g. the simulator).")]
MaxRps = Annotated[
    float | None, typer.Option("--max-rps", help="Cap every endpoint at this many requests/s.")
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
Retries = Annotated[int, typer.Option("--retries", help="Attempts per request (network errors, 429, 5xx).")]
Db = Annotated[Path | None, typer.Option(
    "--db", help="Write rows into this DuckDB table store (a .duckdb file or a directory) instead of "
                 "OUT/<table>.jsonl.")]
Start = Annotated[
    str | None, typer.Option("--start", help="Range start: ISO date/time (UTC) or epoch seconds.")
]
End = Annotated[
    str | None, typer.Option("--end", help="Range end (inclusive): ISO date/time or epoch seconds.")
]


def parse_when(text: str | None, flag: str) -> int | None:
    """``--start``/``--end`` value -> epoch seconds (digits are epoch seconds, else ISO-8601 UTC)."""
    if text is None:
        return None
    t = text.strip()
    if t.isdigit():
        return int(t)
    from clobflow.venues.polymarket.gamma import iso_to_ns

    try:
        return iso_to_ns(t) // 1_000_000_000
    except ValueError:
        raise UserError(f"{flag} must be an ISO date/time or epoch seconds, got {text!r}") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


class _Bar:
    """Progress callback drawing one Rich bar per job on stderr (a terminal only)."""

    def __init__(self, quiet: bool) -> None:
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                                   TimeElapsedColumn)

        console = Console(stderr=True)
        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rows]:,} rows"), TimeElapsedColumn(),
            console=console, disable=quiet or not console.is_terminal,  # no bar in logs and pipes
        )
        self.task: Any = None

    def __call__(self, ev: ProgressEvent) -> None:
        desc = f"{ev.kind} {ev.unit}"[:60]
        if self.task is None:
            self.task = self.progress.add_task(desc, total=ev.units_total, rows=ev.rows)
        self.progress.update(self.task, description=desc, total=ev.units_total, completed=ev.units_done,
                             rows=ev.rows)


@dataclass(frozen=True)
class Common:
    """The options every command shares."""

    out: Path
    state: Path | None
    url: str | None
    max_rps: float | None
    retries: int
    quiet: bool
    db: Path | None = None


Job = Callable[["ImportState", "ImportClients", "_Bar", "TableSink | None"], Awaitable["JobResult"]]


def _open_sink(db: Path | None) -> TableSink | None:
    if db is None:
        return None
    from clobflow.recorder.embedded import DuckDBSink

    try:
        return DuckDBSink(db)
    except Exception as exc:  # locked by another process, not a DuckDB file, ...
        raise UserError(f"cannot open --db {db}: {_one_line(exc)}") from None


def _run(c: Common, job: Job) -> None:
    """Open the state, the sink and the clients, run ``job``, print the summary, map errors to
    one line."""
    from clobflow.venues.polymarket.history import Endpoints, ImportClients, ImportState, StateError
    from clobflow.venues.polymarket.http import HttpRejected, HttpRetryable

    if c.max_rps is not None and c.max_rps <= 0:
        raise UserError(f"--max-rps must be > 0, got {c.max_rps}")
    if c.retries < 1:
        raise UserError(f"--retries must be >= 1, got {c.retries}")
    out = out_dir(c.out)
    state_file = c.state or out / "import-state.json"

    async def go(state: ImportState, bar: _Bar, sink: TableSink | None) -> JobResult:
        endpoints = Endpoints.single(c.url) if c.url else Endpoints()
        async with ImportClients(endpoints, max_rps=c.max_rps, max_attempts=c.retries) as api:
            return await job(state, api, bar, sink)

    try:
        with ImportState.open(state_file) as state:
            sink = _open_sink(c.db)
            try:
                bar = _Bar(c.quiet)
                with bar.progress:
                    result = asyncio.run(go(state, bar, sink))
            finally:
                if sink is not None:
                    sink.close()
    except (HttpRetryable, HttpRejected) as exc:
        raise UserError(f"{_one_line(exc)} (progress saved in {state_file}: re-run to resume)") from None
    except (StateError, ValueError, OSError) as exc:
        raise UserError(_one_line(exc)) from None
    except Exception as exc:
        if type(exc).__module__.partition(".")[0] == "duckdb":  # the --db store failed a write
            raise UserError(f"--db {c.db}: {_one_line(exc)} (progress saved in {state_file})") from None
        raise
    again = ", already complete" if result.already_finished else (", resumed" if result.resumed else "")
    print(f"{result.kind}: {result.status}{again}: {result.rows:,} rows written, "
          f"{result.duplicates:,} duplicates skipped, {result.pages:,} pages -> {out}")
    for note in result.notes:
        print(f"warning: {note}", file=sys.stderr)
    if result.missing:
        shown = ", ".join(result.missing[:5]) + (" ..." if len(result.missing) > 5 else "")
        print(f"warning: {len(result.missing)} not found at the venue: {shown}", file=sys.stderr)
    if result.missing or result.status != "done":
        raise typer.Exit(1)


@app_import.command("markets")
def markets(
    out: Out,
    state: StateOpt = None,
    url: Url = None,
    slug: Annotated[list[str] | None, typer.Option("--slug", help="Market slug (repeatable).")] = None,
    closed: Annotated[
        bool | None, typer.Option("--closed/--open", help="Only closed / only open markets.")
    ] = None,
    tag: Annotated[str | None, typer.Option("--tag", help="Gamma tag slug, e.g. crypto.")] = None,
    start: Start = None,
    end: End = None,
    max_markets: Annotated[int, typer.Option("--max-markets", help="Stop after this many markets.")] = 10_000,
    page_size: Annotated[int, typer.Option("--page-size", help="Markets per request (<= 100).")] = 100,
    db: Db = None,
    max_rps: MaxRps = None,
    retries: Retries = 4,
    quiet: Quiet = False,
) -> None:
    """Gamma markets -> OUT/market_windows.jsonl or --db; raw in OUT/gamma_markets.jsonl (--start/--end:
    end date)."""
    from clobflow.venues.polymarket.history import MarketQuery, import_markets
    from clobflow.venues.polymarket.gamma import ns_to_iso

    lo, hi = parse_when(start, "--start"), parse_when(end, "--end")
    if max_markets < 1 or page_size < 1:
        raise UserError("--max-markets and --page-size must be >= 1")
    q = MarketQuery(
        slugs=tuple(slug or ()), closed=closed, tag=tag, max_markets=max_markets,
        end_min=None if lo is None else ns_to_iso(lo * 1_000_000_000),
        end_max=None if hi is None else ns_to_iso(hi * 1_000_000_000),
    )
    _run(Common(out, state, url, max_rps, retries, quiet, db),
         lambda st, api, bar, sink: import_markets(st, api.gamma, q, out_dir=out, sink=sink, progress=bar,
                                                   page_size=page_size))


def tokens_from_markets(path: Path) -> list[str]:
    """Both token ids of every market in a ``gamma_markets.jsonl`` written by ``import markets``."""
    from clobflow.venues.polymarket.history.mapping import json_list

    if not path.exists():
        raise UserError(f"no --token given and no {path} (run `clobflow import markets` first)")
    tokens: list[str] = []
    for line in path.read_text().splitlines():
        try:
            tokens += [str(t) for t in json_list(json.loads(line), "clobTokenIds")]
        except ValueError:
            continue
    return list(dict.fromkeys(tokens))


@app_import.command("prices")
def prices(
    out: Out,
    state: StateOpt = None,
    url: Url = None,
    token: Annotated[list[str] | None, typer.Option("--token", help="Token id (repeatable; default: every "
                                                    "token in OUT/gamma_markets.jsonl).")] = None,
    start: Start = None,
    end: End = None,
    fidelity: Annotated[int, typer.Option("--fidelity", help="Minutes between points.")] = 1,
    window_days: Annotated[float, typer.Option("--window-days", help="Days per request (the venue caps the "
                                                "range; halved automatically when refused).")] = 14.0,
    max_rps: MaxRps = None,
    retries: Retries = 4,
    quiet: Quiet = False,
) -> None:
    """CLOB price history -> OUT/prices/<token>.csv (t, price). --start without --end ends now, so
    a later run is a new job that adds only the new points."""
    import time

    from clobflow.venues.polymarket.history import PriceQuery, import_prices

    lo, hi = parse_when(start, "--start"), parse_when(end, "--end")
    if hi is not None and lo is None:
        raise UserError("--end needs --start")
    if lo is not None and hi is None:
        hi = int(time.time())
    if fidelity < 1 or window_days <= 0:
        raise UserError("--fidelity must be >= 1 and --window-days > 0")
    tokens = tuple(token or tokens_from_markets(out / "gamma_markets.jsonl"))
    if not tokens:
        raise UserError("no tokens to import")
    window = max(120, int(window_days * 86_400))
    q = PriceQuery(tokens=tokens, start_s=lo, end_s=hi, fidelity_min=fidelity)
    _run(Common(out, state, url, max_rps, retries, quiet), lambda st, api, bar, sink: import_prices(
        st, api.clob, q, out_dir=out, progress=bar, window_s=window, min_window_s=min(3600, window)))


@app_import.command("trades")
def trades(
    out: Out,
    state: StateOpt = None,
    url: Url = None,
    market: Annotated[list[str] | None, typer.Option("--market", help="Condition id (repeatable).")] = None,
    user: Annotated[
        str | None, typer.Option("--user", help="Proxy wallet (the funder, not the EOA).")
    ] = None,
    start: Start = None,
    end: End = None,
    side: Annotated[str | None, typer.Option("--side", help="BUY or SELL.")] = None,
    api: Annotated[str, typer.Option("--api", help="v2 (cursor), v1 (legacy offset) or auto.")] = "v2",
    taker_only: Annotated[bool, typer.Option(
        "--taker-only/--all-fills", help="Each fill once on its taker side, or maker rows too.")] = True,
    page_size: Annotated[
        int, typer.Option("--page-size", help="Rows per request (v1 <= 500, v2 <= 1000).")
    ] = 500,
    v1_max_offset: Annotated[int, typer.Option("--v1-max-offset", help="Largest v1 offset before walking "
                                                "time windows.")] = 3000,
    db: Db = None,
    max_rps: MaxRps = None,
    retries: Retries = 4,
    quiet: Quiet = False,
) -> None:
    """Data API trades -> OUT/trades.jsonl or the --db table store (TradeRow fields, prices and
    sizes in micro-units)."""
    from clobflow.venues.polymarket.history import TradeQuery, import_trades

    if api not in ("v2", "v1", "auto"):
        raise UserError(f"--api must be v2, v1 or auto, got {api!r}")
    if side is not None and side.upper() not in ("BUY", "SELL"):
        raise UserError(f"--side must be BUY or SELL, got {side!r}")
    if page_size < 1 or v1_max_offset < 0:
        raise UserError("--page-size must be >= 1 and --v1-max-offset >= 0")
    if not market and not user:
        raise UserError("give --market (condition id, repeatable) and/or --user (proxy wallet)")
    q = TradeQuery(
        markets=tuple(market or ()), user=user, start_s=parse_when(start, "--start"),
        end_s=parse_when(end, "--end"), side=side.upper() if side else None, taker_only=taker_only, api=api,
    )
    _run(Common(out, state, url, max_rps, retries, quiet, db), lambda st, c, bar, sink: import_trades(
        st, c.data, q, out_dir=out, sink=sink, progress=bar, page_size=page_size,
        v1_max_offset=v1_max_offset))


@app_import.command("bundled")
def bundled(
    db: Annotated[Path, typer.Option("--db", help="Folder of the table store (tables.duckdb is created there).")] = Path("runs/bundled"),
    dataset: Annotated[list[str] | None, typer.Option("--dataset", help="Only these bundled datasets (default: all).")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing tables.duckdb in --db.")] = False,
) -> None:
    """Load the bundled real data (trades with wallets, market outcomes, books, spot prices)
    into the table store, so strategies that learn from history (whale copying) can warm up."""
    from clobflow.recorder.converters import CONVERTERS, convert_to_sink
    from clobflow.recorder.embedded import DuckDBSink

    names = list(dict.fromkeys(dataset or CONVERTERS))
    unknown = [n for n in names if n not in CONVERTERS]
    if unknown:
        raise UserError(f"unknown bundled dataset {unknown[0]!r}: one of {', '.join(CONVERTERS)}")
    if db.exists() and not db.is_dir():
        raise UserError(f"--db {db} exists and is not a folder")
    path = db / "tables.duckdb"
    if path.exists():
        if not overwrite:
            raise UserError(f"{path} exists: loading again would duplicate rows (use --overwrite to start it fresh)")
        path.unlink()
    out_dir(db, "--db")
    sink = DuckDBSink(db)
    try:
        for name in names:
            counts = convert_to_sink(name, sink)
            print(f"{name}: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))
    except (KeyError, FileNotFoundError) as exc:
        raise UserError(str(exc)) from None
    finally:
        sink.close()
    print(f"tables in {path}")


def main() -> None:
    """Run ``app_import`` on its own (``python -m clobflow.cli.import_cmd``), with the same error
    handling as ``clobflow``'s entry point."""
    run_cli(app_import)


if __name__ == "__main__":
    main()
