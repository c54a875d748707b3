"""CLI error type and the entry-point wrapper that turns it into one line."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable

from clobflow.core.redact import Redactor, redact_text, secret_values


class UserError(Exception):
    """An error the user can fix (bad argument, unreachable endpoint, bad config)."""


def run_cli(app: Callable[[], object]) -> None:
    """Run a Typer app: a ``UserError`` prints ``clobflow: <message>`` on stderr and exits 2
    (never a traceback); Ctrl-C exits 130. Log records are redacted (``core.redact``)."""
    install_log_redaction()
    try:
        app()
    except UserError as exc:
        print(f"clobflow: {redact_text(str(exc))}", file=sys.stderr)  # no credential in a message
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


class RedactingFilter(logging.Filter):
    """A handler filter: the record's message, rendered, with credentials masked."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        clean = self._redactor.text(msg)
        if clean != msg:
            record.msg, record.args = clean, None
        return True


def install_log_redaction() -> None:
    """Mask credentials (URL passwords, secret-looking query values, secret env values) in every
    log line that reaches the root handlers or Python's last-resort stderr handler."""
    f = RedactingFilter(Redactor(secret_values(os.environ)))
    for h in [*logging.getLogger().handlers, logging.lastResort]:
        if h is not None and not any(isinstance(x, RedactingFilter) for x in h.filters):
            h.addFilter(f)
