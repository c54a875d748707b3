"""Read recorded market-channel frames from any of the formats clobflow accepts.

``iter_frames(path)`` yields ``(ts_recv_ns, frame_text)`` in file order from:
- the recorder's raw-frame JSON Lines (``recorder.frames.RawFrame``; ``.jsonl`` or ``.jsonl.gz``);
- JSON Lines of venue messages (one object or array per line);
- a JSON file holding one message or an array of messages (e.g. a captured burst).

For files without receive times, the message's own ``timestamp`` (ms) stands in, else 0.
Raises ``ValueError`` with the path and line for a file it cannot read.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")  # noqa: SIM115


def _venue_ts_ns(msg: object) -> int:
    if isinstance(msg, dict):
        t = msg.get("timestamp")
        if isinstance(t, str) and t.isascii() and t.isdigit() and len(t) <= 19:
            v = int(t)
            return v * 1_000_000 if v >= 100_000_000_000 else v * 1_000_000_000
    return 0


def iter_frames(path: str | Path) -> Iterator[tuple[int, str]]:
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: no such file")
    if not path.is_file():
        raise ValueError(f"{path}: not a file")
    name = path.name.removesuffix(".gz")
    if name.endswith(".json"):
        try:
            with _open_text(path) as f:
                data = json.load(f)
        except (ValueError, OSError, EOFError, zlib.error) as exc:  # incl. JSON and UTF-8 errors
            raise ValueError(f"{path}: not a JSON file ({exc})") from None
        except RecursionError:
            raise ValueError(f"{path}: not a JSON file (nested too deep)") from None
        items = data if isinstance(data, list) else [data]
        for msg in items:
            yield _venue_ts_ns(msg), json.dumps(msg, separators=(",", ":"))
        return
    with _open_text(path) as f:
        try:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    obj = json.loads(line)
                except (ValueError, RecursionError):
                    # A line that is not JSON (or nested too deep for ``json``) is still a
                    # frame: a recorded "PONG", or garbage the parser counts by reason.
                    yield 0, line
                    continue
                if isinstance(obj, dict) and "frame" in obj and "ts_recv_ns" in obj:
                    ts, frame = obj["ts_recv_ns"], obj["frame"]
                    if type(ts) is int and type(frame) is str:
                        yield ts, frame
                        continue
                    # A damaged recorder row: hand the whole line on, the parser rejects it.
                    yield 0, line
                else:
                    ts = _venue_ts_ns(obj[0] if isinstance(obj, list) and obj else obj)
                    yield ts, line
        except (OSError, UnicodeDecodeError, EOFError, zlib.error) as exc:
            raise ValueError(f"{path}: cannot read ({exc})") from None
