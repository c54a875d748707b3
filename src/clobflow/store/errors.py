"""Store errors, shaped by what the caller should do (DESIGN §3.7).

- ``StoreUnavailable`` (also ``Retryable``): the database is busy, locked or unreachable; the same
  call may succeed later.
- ``StoreConflict``: the database refused the data (unique key, foreign key, check); retrying the
  same call will not help. ``DuplicatePosition`` and ``PositionNotOpen`` are the two conflicts the
  position calls raise on purpose; ``FillConflict``: a fill id already stored with other content.
- ``StoreBackpressure`` (also ``Retryable``): the background writer's queue stayed full for
  ``put_timeout_s``; the record was **not** accepted.
- ``StoreWriteError``: ``StoreWriter.flush``/``close`` could not confirm that every submitted record
  was committed (timeout, or rows the database refused; they are kept in memory).
"""

from __future__ import annotations

from clobflow.core.errors import ClobflowError, Retryable


class StoreError(ClobflowError):
    """Base class of the store's errors."""


class StoreUnavailable(StoreError, Retryable):
    """The database is locked, busy or unreachable (a transient ``OperationalError``)."""


class StoreConflict(StoreError):
    """The database refused the write (constraint violation); retrying will not help."""


class DuplicatePosition(StoreConflict):
    """An open position already exists for this (strategy, market, mode)."""

    def __init__(self, strategy: str, market: str, mode: str) -> None:
        super().__init__(f"an open position already exists for strategy={strategy!r} market={market!r} mode={mode!r}")
        self.strategy = strategy
        self.market = market
        self.mode = mode


class PositionNotOpen(StoreConflict):
    """The position does not exist or is already closed."""

    def __init__(self, position_id: int) -> None:
        super().__init__(f"position {position_id} does not exist or is not open")
        self.position_id = position_id


class FillConflict(StoreConflict):
    """A fill id is already stored with different content (or twice in one batch with
    different content). Never a silent drop: the second fill would be lost."""

    def __init__(self, fill_id: str, differences: str) -> None:
        super().__init__(f"fill {fill_id!r} is already stored with different content ({differences})")
        self.fill_id = fill_id


class UnknownRun(StoreError):
    """No run with this ``run_id``."""


class StoreBackpressure(StoreError, Retryable):
    """The writer's queue is full: the record was not accepted (never dropped silently)."""


class StoreWriteError(StoreError):
    """Submitted records are not (yet) committed: a flush timed out or the database refused rows."""
