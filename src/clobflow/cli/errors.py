"""CLI error type: something the user can fix, printed as one line (exit code 2)."""


class UserError(Exception):
    """An error the user can fix (bad argument, unreachable endpoint, bad config)."""
