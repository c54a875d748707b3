"""Raw-frame files: the recorder's source of truth, written gzip-compressed, readable while open.

Layout (UTC day and hour of the receive time of a file's first frame)::

    root/raw/{venue}/{channel}/{YYYY-MM-DD}/{HH}/frames-{first_ts_ns}.jsonl.gz

Each file is one gzip stream of ``RawFrame`` JSON lines (``recorder.frames``) in receive order.
``RawFrameWriter`` starts a new file when the hour changes and after the batch that takes a file
over ``rotate_mb`` compressed megabytes. The name is the first frame's ``ts_recv_ns`` (19 digits
until 2286, so name order is time order), bumped by one in the rare case the name is taken.

Durability: ``write_batch`` ends every touched file with ``zlib.Z_SYNC_FLUSH`` and flushes it to
the OS (and ``fsync``s it with ``fsync=True``). A sync flush ends the deflate data on a byte
boundary, so everything written so far decompresses even though the gzip trailer is missing:
a process killed before ``close()`` loses nothing that a ``write_batch`` had returned for.
Without ``fsync`` that survives a process crash, not a power cut.

``iter_raw`` reads a recording back in receive order, tolerating the last, unterminated file of
a recording that was killed (or is still being written) and stopping at damage (counted).
"""

from __future__ import annotations

import heapq
import os
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from clobflow.recorder.frames import RawFrame

_NS_PER_HOUR = 3_600_000_000_000
_PREFIX = "frames-"
_SUFFIX = ".jsonl.gz"
_READ_CHUNK = 1 << 20
_GZIP_WBITS = 31  # zlib: gzip header and trailer

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(RawFrame)


def hour_dir(root: Path, venue: str, channel: str, ts_ns: int) -> Path:
    """``root/raw/{venue}/{channel}/{YYYY-MM-DD}/{HH}`` for the UTC hour holding ``ts_ns``."""
    t = datetime.fromtimestamp(ts_ns // 1_000_000_000, UTC)
    return root / "raw" / venue / channel / f"{t:%Y-%m-%d}" / f"{t:%H}"


class _OpenFile:
    __slots__ = ("key", "path", "fh", "z", "hour", "frames")

    def __init__(self, key: tuple[str, str], path: Path, hour: int, level: int) -> None:
        self.key = key
        self.path = path
        self.fh = open(path, "xb")  # noqa: SIM115 - kept open across batches; "x": never clobber
        self.z = zlib.compressobj(level, zlib.DEFLATED, _GZIP_WBITS)
        self.hour = hour
        self.frames = 0


class RawFrameWriter:
    """Appends frames to the hourly, size-rotated gzip files under ``root/raw``.

    Not thread-safe: one writer thread owns it. ``rotate_mb`` is in compressed MB (1e6 bytes);
    ``compresslevel`` 3 compresses real Polymarket frames about 12:1 at ~230 MB/s (level 6 gains
    20% size for 2.5x the time). Counters: ``frames``, ``bytes_in`` (JSON lines before
    compression), ``bytes_out``, ``files`` (opened).
    """

    def __init__(self, root: str | Path, *, rotate_mb: float = 64, compresslevel: int = 3,
                 fsync: bool = False) -> None:
        if rotate_mb <= 0:
            raise ValueError(f"rotate_mb must be > 0, got {rotate_mb}")
        self.root = Path(root)
        self.rotate_bytes = int(rotate_mb * 1_000_000)
        self.compresslevel = compresslevel
        self.fsync = fsync
        self._open: dict[tuple[str, str], _OpenFile] = {}
        self.frames = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.files = 0
        self.closed = False

    def write_batch(self, frames: Sequence[RawFrame]) -> int:
        """Append ``frames`` (in receive order) and sync-flush every file they went to.

        When it returns, every frame is in the OS page cache as decompressible data (on disk
        with ``fsync=True``). Returns how many were written. Raises ``OSError`` (disk full,
        permissions): the frames of a failed batch may be partly written, and the caller
        should keep them and retry (see ``Recorder``).
        """
        if self.closed:
            raise ValueError("write_batch on a closed RawFrameWriter")
        try:
            return self._write_batch(frames)
        except BaseException:
            # The compressor may have consumed data whose bytes never reached the file: close
            # every open file as it stands (readable up to the damage) and start afresh.
            self._abandon()
            raise

    def _write_batch(self, frames: Sequence[RawFrame]) -> int:
        n = len(frames)
        touched: list[_OpenFile] = []
        i = 0
        while i < n:
            f = frames[i]
            venue, channel, hour = f.venue, f.channel, f.ts_recv_ns // _NS_PER_HOUR
            j = i + 1
            # A run of frames for the same file: same stream and hour (a clock stepping back
            # stays in the current file, so files never interleave in time).
            while j < n:
                g = frames[j]
                if g.venue != venue or g.channel != channel or g.ts_recv_ns // _NS_PER_HOUR > hour:
                    break
                j += 1
            out = self._file(venue, channel, hour, f.ts_recv_ns)
            data = _encoder.encode_lines(frames[i:j])
            z = out.z.compress(data)
            out.fh.write(z)
            self.bytes_out += len(z)
            out.frames += j - i
            self.bytes_in += len(data)
            if out not in touched:
                touched.append(out)
            i = j
        for out in touched:
            if out.fh.closed:
                continue  # finished by an hour rotation inside this batch: already complete
            z = out.z.flush(zlib.Z_SYNC_FLUSH)
            out.fh.write(z)
            self.bytes_out += len(z)
            out.fh.flush()
            if self.fsync:
                os.fsync(out.fh.fileno())
            if out.fh.tell() >= self.rotate_bytes:
                self._finish(out.key)
        self.frames += n
        return n

    def _file(self, venue: str, channel: str, hour: int, ts_ns: int) -> _OpenFile:
        key = (venue, channel)
        out = self._open.get(key)
        if out is not None and hour <= out.hour:
            return out
        if out is not None:
            self._finish(key)
        d = hour_dir(self.root, venue, channel, ts_ns)
        d.mkdir(parents=True, exist_ok=True)
        name_ts = ts_ns
        while (d / f"{_PREFIX}{name_ts}{_SUFFIX}").exists():
            name_ts += 1  # keep names unique and in order; the frames carry the exact times
        out = self._open[key] = _OpenFile(key, d / f"{_PREFIX}{name_ts}{_SUFFIX}", hour, self.compresslevel)
        self.files += 1
        return out

    def _finish(self, key: tuple[str, str]) -> None:
        out = self._open.pop(key)
        try:
            z = out.z.flush(zlib.Z_FINISH)
            out.fh.write(z)
            self.bytes_out += len(z)
            out.fh.flush()
            if self.fsync:
                os.fsync(out.fh.fileno())
        finally:
            out.fh.close()

    def _abandon(self) -> None:
        for out in self._open.values():
            try:
                out.fh.close()
            except OSError:
                pass
        self._open.clear()

    def open_files(self) -> list[Path]:
        """The files currently being written (their gzip trailer is still missing)."""
        return [o.path for o in self._open.values()]

    def close(self) -> None:
        """Finish every open file (gzip trailer written). Idempotent."""
        if self.closed:
            return
        self.closed = True
        errors: list[BaseException] = []
        for key in list(self._open):
            try:
                self._finish(key)
            except OSError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]


# -- reading -------------------------------------------------------------------------------


@dataclass
class RawReadStats:
    """What ``iter_raw`` met. ``unterminated``: files without a gzip end (still being written,
    or the writer was killed): read to their last complete line, not an error. ``damaged``:
    files with corrupt data or a cut line: read up to the damage. ``bad_lines``: lines that are
    not ``RawFrame`` records (skipped)."""

    files: int = 0
    frames: int = 0
    unterminated: int = 0
    damaged: int = 0
    bad_lines: int = 0
    damaged_files: list[str] = field(default_factory=list)


def raw_files(root: str | Path, venue: str, channel: str, *, start_ns: int | None = None,
              end_ns: int | None = None) -> list[Path]:
    """The files of one stream in write order, skipping hours wholly outside ``[start, end)``."""
    base = Path(root) / "raw" / venue / channel
    if not base.is_dir():
        return []
    lo = None if start_ns is None else start_ns // _NS_PER_HOUR * _NS_PER_HOUR
    out: list[Path] = []
    for day in sorted(p for p in base.iterdir() if p.is_dir()):
        for hour in sorted(p for p in day.iterdir() if p.is_dir()):
            try:
                h_ns = int(datetime.strptime(f"{day.name} {hour.name}", "%Y-%m-%d %H")
                           .replace(tzinfo=UTC).timestamp()) * 1_000_000_000
            except ValueError:
                continue  # not ours
            if (lo is not None and h_ns < lo) or (end_ns is not None and h_ns >= end_ns):
                continue
            files = [p for p in hour.iterdir() if p.name.startswith(_PREFIX) and p.name.endswith(_SUFFIX)]
            out.extend(sorted(files, key=lambda p: (len(p.name), p.name)))
    return out


def _streams(root: Path) -> list[tuple[str, str]]:
    base = root / "raw"
    if not base.is_dir():
        return []
    return sorted((v.name, c.name) for v in base.iterdir() if v.is_dir() for c in v.iterdir() if c.is_dir())


def read_raw_file(path: Path, stats: RawReadStats | None = None) -> Iterator[RawFrame]:
    """Yield the frames of one raw file in order; see ``RawReadStats`` for what is tolerated."""
    st = stats if stats is not None else RawReadStats()
    st.files += 1
    d = zlib.decompressobj(_GZIP_WBITS)
    tail = b""
    damaged = False
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(_READ_CHUNK)
            if not chunk:
                break
            try:
                data = d.decompress(chunk)
                while d.eof and d.unused_data:  # a further gzip member (concatenated files)
                    rest = d.unused_data
                    d = zlib.decompressobj(_GZIP_WBITS)
                    data += d.decompress(rest)
            except zlib.error:
                damaged = True
                break
            if not data:
                continue
            buf = tail + data
            cut = buf.rfind(b"\n") + 1
            tail = buf[cut:]
            if cut:
                yield from _decode_lines(buf[:cut], st)
    if tail:
        damaged = True  # a cut line: the writer died inside a write
    if damaged:
        st.damaged += 1
        st.damaged_files.append(str(path))
    elif not d.eof:
        st.unterminated += 1


def _decode_lines(buf: bytes, st: RawReadStats) -> Iterator[RawFrame]:
    try:
        frames = _decoder.decode_lines(buf)
    except msgspec.MsgspecError:
        frames = []
        for line in buf.split(b"\n"):
            if line.strip():
                try:
                    frames.append(_decoder.decode(line))
                except msgspec.MsgspecError:
                    st.bad_lines += 1
    st.frames += len(frames)
    yield from frames


def iter_raw(root: str | Path, *, venue: str | None = None, channel: str | None = None,
             start_ns: int | None = None, end_ns: int | None = None,
             stats: RawReadStats | None = None) -> Iterator[RawFrame]:
    """Yield the recording's frames with ``start_ns <= ts_recv_ns < end_ns`` in receive order.

    Each (venue, channel) stream is read file by file in name order (its write order); several
    streams are merged by ``ts_recv_ns``. Pass ``stats`` to learn about unterminated and
    damaged files; reading never raises for them.
    """
    root = Path(root)
    streams = [(v, c) for v, c in _streams(root)
               if (venue is None or v == venue) and (channel is None or c == channel)]
    gens = [_stream(root, v, c, start_ns, end_ns, stats) for v, c in streams]
    if len(gens) == 1:
        yield from gens[0]
    elif gens:
        yield from heapq.merge(*gens, key=_ts)


def _ts(f: RawFrame) -> int:
    return f.ts_recv_ns


def _stream(root: Path, venue: str, channel: str, start_ns: int | None, end_ns: int | None,
            stats: RawReadStats | None) -> Iterator[RawFrame]:
    for path in raw_files(root, venue, channel, start_ns=start_ns, end_ns=end_ns):
        if end_ns is not None and _first_ts(path) >= end_ns:
            break
        for f in read_raw_file(path, stats):
            ts = f.ts_recv_ns
            if (start_ns is None or ts >= start_ns) and (end_ns is None or ts < end_ns):
                yield f


def _first_ts(path: Path) -> int:
    try:
        return int(path.name[len(_PREFIX):-len(_SUFFIX)])
    except ValueError:
        return 0
