"""CLI error type and the entry-point wrapper that turns every error into one line.

Contract of ``clobflow``: a bad input never prints a traceback. It prints one line on stderr,
``clobflow: <what was wrong, naming the option or config key>``, and exits non-zero:

- 2: a mistake the user can fix (``UserError``, a usage error such as an unknown option or a
  value of the wrong type, a non-finite number given to a numeric option);
- 130: interrupted (Ctrl-C);
- 70: a bug (an exception nobody anticipated). Still one line, so a user sees what happened;
  ``CLOBFLOW_DEBUG=1`` re-raises it with its traceback for a bug report. Tests require 2 for
  every bad input, so an unanticipated path fails them instead of hiding behind this net.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from typer import Abort
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

from clobflow.core.errors import ConfigError
from clobflow.core.redact import Redactor, redact_text, secret_values
from clobflow.store.errors import StoreUnavailable

EXIT_USER = 2
EXIT_BUG = 70  # sysexits.h EX_SOFTWARE
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """An error the user can fix (bad argument, unreachable endpoint, bad config)."""


def one_line(text: str) -> str:
    """Whitespace (newlines included) collapsed and credentials masked (``core.redact``): a
    message is always a single line and never shows a password."""
    return redact_text(" ".join(str(text).split()))


def out_dir(path: Path, option: str = "--out") -> Path:
    """Create the output folder ``path`` (and its parents) now, so a file in the way or a place
    that cannot be written is refused before any work, naming ``option``."""
    if path.exists() and not path.is_dir():
        raise UserError(f"{option} {path} exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{option} {path}: cannot create the folder ({exc.strerror or exc})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UserError(f"{option} {path}: the folder is not writable")
    return path


DISCOVERY_OPTIONS = {
    "updown_intervals": "--interval", "updown_windows_ahead": "--windows-ahead", "limit": "--limit",
    "max_hours_to_close": "--max-hours-to-close", "min_minutes_to_close": "--min-minutes-to-close",
    "max_assets_per_conn": "--max-assets-per-conn", "updown_assets": "--updown", "slugs": "--slug",
    "token_ids": "--token", "tags": "--tag",
}
"""Discovery and stream config keys -> the ``watch``/``record`` options that set them."""


def as_option_error(exc: ConfigError, options: dict[str, str]) -> UserError:
    """A ``ConfigError`` from validating command-line values, reworded to name the option the
    user typed (``updown_windows_ahead`` -> ``--windows-ahead``) when ``options`` maps its key."""
    opt = options.get(exc.key.rpartition(".")[2])
    return UserError(f"{opt}: {exc.message}" if opt else str(exc))


def positive(option: str, value: float | None, *, zero_ok: bool = False) -> None:
    """Refuse a negative (or, unless ``zero_ok``, zero) value for ``option``; ``None`` passes."""
    if value is not None and (value < 0 or (value == 0 and not zero_ok)):
        raise UserError(f"{option} must be {'>= 0' if zero_ok else '> 0'}, got {value}")


def _usage_message(exc: ClickException) -> str:
    msg = one_line(exc.format_message())
    ctx = getattr(exc, "ctx", None) if isinstance(exc, UsageError) else None
    cmd = ctx.command_path.partition(" ")[2] if ctx is not None else ""
    return f"{cmd}: {msg}" if cmd else msg


def run_cli(app: Callable[..., object]) -> None:
    """Run a Typer app under the one-line error contract (see the module docstring). Log records
    are redacted (``core.redact``)."""
    install_log_redaction()
    try:
        rc = app(standalone_mode=False, prog_name="clobflow")
    except (UserError, ConfigError) as exc:
        _fail(EXIT_USER, one_line(str(exc)))
    except StoreUnavailable as exc:  # an unreachable database: the user's store_url or server
        _fail(EXIT_USER, f"store unavailable (check store_url / --store-url): {one_line(str(exc))}")
    except NoArgsIsHelpError as exc:  # `clobflow` or `clobflow import` alone: the help text
        exc.show()
        sys.exit(EXIT_USER)
    except ClickException as exc:  # usage errors: unknown option, bad type, missing argument
        _fail(EXIT_USER, _usage_message(exc))
    except (KeyboardInterrupt, Abort):
        sys.exit(EXIT_INTERRUPTED)
    except BrokenPipeError:  # `clobflow books f | head`: the reader left, nothing to report
        sys.exit(0)
    except Exception as exc:  # noqa: BLE001 - the last-resort net, see EXIT_BUG
        if os.environ.get("CLOBFLOW_DEBUG"):
            raise
        _fail(EXIT_BUG, f"internal error: {type(exc).__name__}: {one_line(str(exc))[:300]} "
                        "(CLOBFLOW_DEBUG=1 shows the traceback)")
    sys.exit(rc if type(rc) is int else 0)


def _fail(code: int, message: str) -> None:
    print(f"clobflow: {message}", file=sys.stderr)
    sys.exit(code)


def finite_floats(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a command so that a ``float`` option given ``nan`` or ``inf`` is refused with a
    ``UserError`` naming the option (Typer accepts both as floats). Ranges stay with each command;
    this is the rule every numeric option shares."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        for name, value in kwargs.items():
            if type(value) is float and not math.isfinite(value):
                raise UserError(f"--{name.replace('_', '-')} must be a finite number, got {value}")
        return fn(*args, **kwargs)

    return wrapper


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
