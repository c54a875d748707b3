"""``clobflow`` entry point. Each subcommand lives in its own module; this file only wires them.

Errors a user can fix (bad arguments, unreachable endpoints, bad config) are printed as one
clear line on stderr with exit code 2, never as a traceback (``cli/errors.py``); every float
option refuses ``nan``/``inf``.
"""

from __future__ import annotations

import typer

from clobflow.cli.errors import UserError, finite_floats, run_cli

__all__ = ["UserError", "app", "main"]

app = typer.Typer(
    name="clobflow",
    help="Streaming trading engine for prediction markets (Polymarket first).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    if app.registered_commands:  # idempotent: tests call main() many times in one process
        return
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
    for typer_app in (app, *(g.typer_instance for g in app.registered_groups)):
        for info in typer_app.registered_commands:
            if info.callback is not None and not getattr(info.callback, "__wrapped__", None):
                info.callback = finite_floats(info.callback)


def main() -> None:
    _register()
    run_cli(app)


if __name__ == "__main__":
    main()
