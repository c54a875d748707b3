"""``clobflow venue``: runs, prints its URLs, and turns bad arguments into one-line errors."""

from __future__ import annotations

import socket

import pytest
import typer
from typer.testing import CliRunner

from clobflow.cli import venue_cmd
from clobflow.cli.main import UserError


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("venue")(venue_cmd.venue)
    app.command("other")(lambda: None)  # two commands, so "venue" stays a subcommand
    return app


def test_venue_runs_for_a_duration_and_prints_one_line():
    result = CliRunner().invoke(
        _app(), ["venue", "--dataset", "pm-btc1h-l2-1s", "--port", "0", "--duration", "0.3"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert "ws://127.0.0.1:" in lines[0] and "/ws/market" in lines[0] and "http://127.0.0.1:" in lines[0]
    assert "pm-btc1h-l2-1s: 2 markets, 484 frames" in lines[0]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--dataset", "no-such-thing"], "unknown dataset"),
        (["--speed", "-1"], "--speed"),
        (["--duration", "0"], "--duration"),
    ],
)
def test_bad_arguments_are_user_errors(args, message):
    result = CliRunner().invoke(_app(), ["venue", *args])
    assert isinstance(result.exception, UserError) and message in str(result.exception)


def test_port_in_use_is_a_user_error():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(
            _app(), ["venue", "--dataset", "pm-btc1h-l2-1s", "--port", str(port), "--duration", "1"]
        )
    assert isinstance(result.exception, UserError) and "cannot listen" in str(result.exception)
