"""CLI error type and the entry-point wrapper that turns it into one line."""

from __future__ import annotations

import sys
from collections.abc import Callable


class UserError(Exception):
    """An error the user can fix (bad argument, unreachable endpoint, bad config)."""


def run_cli(app: Callable[[], object]) -> None:
    """Run a Typer app: a ``UserError`` prints ``clobflow: <message>`` on stderr and exits 2
    (never a traceback); Ctrl-C exits 130."""
    try:
        app()
    except UserError as exc:
        print(f"clobflow: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
