"""Whether a book can be trusted, and why not.

States (DESIGN §3.6):
- ``TRUSTED``: built from a venue snapshot and every delta since agreed with the venue's top of book.
- ``SUSPECT``: something is off but may heal (one top-of-book mismatch, no update for a while,
  a crossed or locked book).
- ``UNTRUSTED``: the book must not be used; it waits for a fresh snapshot (no snapshot yet,
  reconnect, tick-size change, repeated mismatch).

Risk refuses new orders on anything but ``TRUSTED``.
"""

from __future__ import annotations

from enum import IntEnum

import msgspec


class Trust(IntEnum):
    TRUSTED = 0
    SUSPECT = 1
    UNTRUSTED = 2


class Reason:
    """Reason codes for trust transitions (stable strings: they are journaled and exported)."""

    NO_SNAPSHOT = "no_snapshot"
    SNAPSHOT = "snapshot"
    BBO_MISMATCH = "bbo_mismatch"
    BBO_MISMATCH_REPEATED = "bbo_mismatch_repeated"
    BBO_MATCH = "bbo_match"
    TICK_SIZE_CHANGE = "tick_size_change"
    STALE = "stale"
    RECONNECT = "reconnect"
    UNSUBSCRIBED = "unsubscribed"
    RESOLVED = "market_resolved"
    MIRROR = "mirror_of_complement"
    CROSSED = "crossed"  # best bid >= best ask: never trusted
    UNCROSSED = "uncrossed"  # a crossed book's update uncrossed it
    NEGATIVE_LEVEL = "negative_level"  # a signed delta would have made a level negative


class TrustPolicy(msgspec.Struct, frozen=True):
    """Thresholds for trust transitions.

    ``mismatches_to_untrusted``: consecutive top-of-book mismatches (judged per book version)
    that turn a suspect book untrusted and request a resync. ``stale_after_ns``: a subscribed
    book with no update for this long becomes suspect (0 disables). ``pending_grace_ns``: how
    long a version whose top does not match yet may wait for the rest of its messages.
    """

    mismatches_to_untrusted: int = 3
    stale_after_ns: int = 30_000_000_000
    pending_grace_ns: int = 1_000_000_000
