"""``Dataset``: recorded market data as the venue would have sent it, plus market metadata.

A dataset is what the venue simulator replays and what a backtest reads:

- ``frames``: ``RawFrame`` records (venue ``"polymarket"``, channel ``"market"``, conn 0) in
  non-decreasing ``ts_recv_ns`` order; ``frame`` is the exact JSON text of one market-channel
  WebSocket frame (protocol.md §1).
- ``markets``: one ``BinaryMarket`` per market that appears in the frames, in start order.
- ``resolutions``: the markets whose outcome is known, by condition id (the same facts the
  ``market_resolved`` frames carry).

Datasets are built in memory by the converters in this package (nothing is cached on disk).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import msgspec

from clobflow.core.markets import BinaryMarket
from clobflow.recorder.frames import RawFrame


class Resolution(msgspec.Struct, frozen=True):
    """A market's known outcome: ``winning_asset_id`` pays 1; ``ts_ns`` is when it was published
    in the dataset (the ``market_resolved`` frame's receive time)."""

    condition_id: str
    winning_asset_id: str
    winning_outcome: str
    ts_ns: int


@dataclass
class Dataset:
    """Frames and market metadata of one recording (see the module docstring for the contract)."""

    name: str
    markets: list[BinaryMarket]
    frames: list[RawFrame]
    resolutions: dict[str, Resolution] = field(default_factory=dict)
    description: str = ""
    _by_token: dict[str, BinaryMarket] | None = field(default=None, init=False, repr=False, compare=False)

    # -- lookups -----------------------------------------------------------------------------

    def market(self, condition_id: str) -> BinaryMarket | None:
        """The market with this condition id, or ``None``."""
        for m in self.markets:
            if m.condition_id == condition_id:
                return m
        return None

    def market_of_token(self, token_id: str) -> BinaryMarket | None:
        """The market that ``token_id`` belongs to, or ``None``."""
        if self._by_token is None:
            self._by_token = {t: m for m in self.markets for t in m.token_ids}
        return self._by_token.get(token_id)

    @property
    def token_ids(self) -> list[str]:
        """Every outcome token of every market (YES then NO, market by market)."""
        return [t for m in self.markets for t in m.token_ids]

    # -- summary -----------------------------------------------------------------------------

    @property
    def start_ns(self) -> int | None:
        """Receive time of the first frame (``None`` for an empty dataset)."""
        return self.frames[0].ts_recv_ns if self.frames else None

    @property
    def end_ns(self) -> int | None:
        """Receive time of the last frame (``None`` for an empty dataset)."""
        return self.frames[-1].ts_recv_ns if self.frames else None

    def summary(self) -> str:
        """One line: markets, frames and time range, e.g. for the CLI."""
        if not self.frames:
            return f"{self.name}: {len(self.markets)} markets, 0 frames"
        return (
            f"{self.name}: {len(self.markets)} markets, {len(self.frames):,} frames, "
            f"{iso_utc(self.start_ns)} -> {iso_utc(self.end_ns)}"  # type: ignore[arg-type]
        )


def iso_utc(ts_ns: int) -> str:
    """Epoch nanoseconds as ISO-8601 UTC with a ``Z`` (whole seconds when exact, else µs)."""
    sec, rem = divmod(ts_ns, 1_000_000_000)
    dt = datetime.fromtimestamp(sec, UTC)
    if rem == 0:
        return dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{rem // 1000:06d}Z"


def parse_iso_ns(text: str) -> int:
    """ISO-8601 (``Z`` or offset; a naive time is taken as UTC) to epoch nanoseconds.

    Raises:
        ValueError: not an ISO-8601 date or date-time.
    """
    dt = datetime.fromisoformat(text.strip().replace(" ", "T") if "T" not in text else text.strip())
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    # Integer arithmetic: float timestamps lose microseconds.
    delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000
