"""The raw-frame record: what the recorder writes and what replay, ``clobflow books`` and the
venue simulator read.

A raw-frame file is JSON Lines (optionally gzip-compressed, by the ``.gz`` suffix), one
``RawFrame`` object per line, in receive order::

    {"ts_recv_ns": 1766745254000000000, "venue": "polymarket", "channel": "market",
     "conn": 0, "frame": "{\\"event_type\\":\\"book\\", ...}"}

``frame`` is the WebSocket frame text exactly as received (never parsed on the way in, so a
parser fix can be replayed over old data). ``conn`` tells connections of one recording apart.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterable, Iterator
from pathlib import Path

import msgspec


class RawFrame(msgspec.Struct, frozen=True, gc=False):
    ts_recv_ns: int
    venue: str
    channel: str
    conn: int
    frame: str


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(RawFrame)


def _open(path: Path, mode: str) -> io.IOBase:
    if path.suffix == ".gz":
        return gzip.open(path, mode)  # type: ignore[return-value]
    return open(path, mode)  # noqa: SIM115


def write_frames(path: str | Path, frames: Iterable[RawFrame]) -> int:
    """Write ``frames`` to ``path`` (gzip if it ends in ``.gz``); returns how many."""
    path = Path(path)
    n = 0
    with _open(path, "wb") as f:
        for fr in frames:
            f.write(_encoder.encode(fr))
            f.write(b"\n")
            n += 1
    return n


def read_frames(path: str | Path) -> Iterator[RawFrame]:
    """Yield the ``RawFrame`` records of ``path`` in file order.

    Raises:
        msgspec.ValidationError / DecodeError: a line is not a RawFrame (with its line number
        in the message).
    """
    path = Path(path)
    with _open(path, "rb") as f:
        for lineno, line in enumerate(f, 1):  # type: ignore[arg-type]
            if not line.strip():
                continue
            try:
                yield _decoder.decode(line)
            except msgspec.MsgspecError as exc:
                raise type(exc)(f"{path}:{lineno}: {exc}") from None
