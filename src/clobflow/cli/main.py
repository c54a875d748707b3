"""``clobflow`` entry point. Each subcommand lives in its own module; this file only wires them.

Errors a user can fix (bad arguments, unreachable endpoints, bad config) are printed as one
clear line on stderr with exit code 2, never as a traceback.
"""

from __future__ import annotations

import typer

from clobflow.cli.errors import UserError, run_cli

__all__ = ["UserError", "app", "main"]

app = typer.Typer(
    name="clobflow",
    help="Streaming trading engine for prediction markets (Polymarket first).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    from clobflow.cli import (
        backtest_cmd,
        books_cmd,
        demo_cmd,
        import_cmd,
        record_cmd,
        run_cmd,
        sweep_cmd,
        venue_cmd,
        watch_cmd,
    )

    app.command("watch")(watch_cmd.watch)
    app.command("books")(books_cmd.books)
    app.command("venue")(venue_cmd.venue)
    app.command("demo")(demo_cmd.demo)
    app.command("backtest")(backtest_cmd.backtest)
    app.command("run")(run_cmd.run)
    app.command("sweep")(sweep_cmd.sweep)
    app.command("record")(record_cmd.record)
    app.add_typer(import_cmd.app_import, name="import")


def main() -> None:
    _register()
    run_cli(app)


if __name__ == "__main__":
    main()
