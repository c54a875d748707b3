"""Errors that say what the caller should do (DESIGN §3.7).

- ``Retryable``: transient (network, timeout, rate limit); try again, with backoff.
- ``VenueRejected``: the venue said no; give up on this request and report it.
- ``InvariantBroken``: our own state is wrong; halt the affected component.
- ``ConfigError``: bad configuration, refused at start with the key that is wrong.
"""

from __future__ import annotations


class ClobflowError(Exception):
    """Base class of clobflow's own errors."""


class Retryable(ClobflowError):
    """A transient failure: the same call may succeed later."""


class VenueRejected(ClobflowError):
    """The venue refused the request; retrying the same request will not help."""


class InvariantBroken(ClobflowError):
    """Our own invariant is broken: stop the component rather than act on bad state."""


class ConfigError(ClobflowError):
    """A configuration value is missing, unknown or invalid. ``key`` names it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"config error at {key!r}: {message}")
        self.key = key
        self.message = message
