"""Raw-frame files on a real disk: layout, hourly and size rotation, reading while open, after a
kill and past damage, and the time-range reader."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from clobflow.recorder.frames import RawFrame
from clobflow.recorder.raw_writer import RawFrameWriter, RawReadStats, iter_raw, raw_files

H = 3_600_000_000_000
T0 = 1_766_745_000_000_000_000  # 2025-12-26T10:30:00Z


def frames(n: int, start: int = T0, step: int = 1_000_000, conn: int = 0, venue: str = "polymarket",
           channel: str = "market") -> list[RawFrame]:
    return [RawFrame(start + i * step, venue, channel, conn, f'{{"event_type":"x","i":{i},"s":"\\"q\\""}}')
            for i in range(n)]


def test_layout_and_hourly_rotation(tmp_path):
    w = RawFrameWriter(tmp_path)
    eleven = T0 + H // 2  # 11:00:00Z
    # the second run straddles 11:00: its first frame (10:59:59.999999999) stays in hour 10
    batch = frames(3, start=T0) + frames(2, start=eleven - 1, step=1) + frames(2, start=eleven + H)
    w.write_batch(batch)
    w.close()
    files = raw_files(tmp_path, "polymarket", "market")
    rel = [str(p.relative_to(tmp_path)) for p in files]
    assert rel == [
        f"raw/polymarket/market/2025-12-26/10/frames-{T0}.jsonl.gz",
        f"raw/polymarket/market/2025-12-26/11/frames-{eleven}.jsonl.gz",
        f"raw/polymarket/market/2025-12-26/12/frames-{eleven + H}.jsonl.gz",
    ]
    # every file is a complete gzip stream of RawFrame lines, frame text byte-exact
    lines = gzip.decompress(files[0].read_bytes()).decode().splitlines()
    assert len(lines) == 4
    assert json.loads(lines[0]) == {"ts_recv_ns": T0, "venue": "polymarket", "channel": "market",
                                    "conn": 0, "frame": batch[0].frame}
    assert list(iter_raw(tmp_path)) == batch
    assert w.files == 3 and w.frames == 7


def test_size_rotation_keeps_order(tmp_path):
    w = RawFrameWriter(tmp_path, rotate_mb=0.002)  # 2 kB compressed
    all_frames = frames(3000, step=1000)
    for i in range(0, 3000, 100):
        w.write_batch(all_frames[i:i + 100])
    w.close()
    files = raw_files(tmp_path, "polymarket", "market")
    assert len(files) > 3
    assert len({p.parent for p in files}) == 1  # same hour
    assert all(p.stat().st_size < 2000 + 1500 for p in files)  # rotated after the batch that crossed
    st = RawReadStats()
    assert list(iter_raw(tmp_path, stats=st)) == all_frames
    assert (st.files, st.frames, st.unterminated, st.damaged) == (len(files), 3000, 0, 0)


def test_open_file_is_readable_before_close(tmp_path):
    w = RawFrameWriter(tmp_path)
    first = frames(500)
    w.write_batch(first)
    st = RawReadStats()
    assert list(iter_raw(tmp_path, stats=st)) == first
    assert st.unterminated == 1 and st.damaged == 0
    more = frames(10, start=T0 + 10**9)
    w.write_batch(more)
    assert list(iter_raw(tmp_path)) == first + more
    w.close()
    st = RawReadStats()
    assert list(iter_raw(tmp_path, stats=st)) == first + more and st.unterminated == 0


def test_readable_after_the_writer_is_killed(tmp_path):
    """A real SIGKILL after two batches: both batches read back, the file stays unterminated."""
    code = f"""
import os, signal, sys
sys.path.insert(0, {str(Path(__file__).parent.parent.parent)!r})
from tests.recorder.test_raw_writer import frames
from clobflow.recorder.raw_writer import RawFrameWriter
w = RawFrameWriter({str(tmp_path)!r})
w.write_batch(frames(1000))
w.write_batch(frames(1000, start={T0 + 10**10}))
os.kill(os.getpid(), signal.SIGKILL)
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30)
    assert res.returncode == -9, res.stderr
    st = RawReadStats()
    got = list(iter_raw(tmp_path, stats=st))
    assert got == frames(1000) + frames(1000, start=T0 + 10**10)
    assert st.unterminated == 1 and st.damaged == 0


def test_truncated_file_reads_up_to_the_damage(tmp_path):
    w = RawFrameWriter(tmp_path)
    for i in range(5):
        w.write_batch(frames(200, start=T0 + i * 10**9))
    w.close()
    (path,) = raw_files(tmp_path, "polymarket", "market")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 3 // 4])  # cut mid-stream
    st = RawReadStats()
    got = list(iter_raw(tmp_path, stats=st))
    expected = [f for i in range(5) for f in frames(200, start=T0 + i * 10**9)]
    assert 0 < len(got) < 1000 and got == expected[: len(got)]
    assert st.damaged + st.unterminated == 1
    # garbage in the middle: the reader stops there, counts it, does not raise
    path.write_bytes(data[:200] + b"\x00garbage" * 50 + data[600:])
    st = RawReadStats()
    got = list(iter_raw(tmp_path, stats=st))
    assert got == expected[: len(got)] and st.damaged == 1 and st.damaged_files == [str(path)]


def test_time_range_filter_and_hour_pruning(tmp_path):
    w = RawFrameWriter(tmp_path)
    every_10min = frames(24, step=600 * 10**9)  # four hours
    w.write_batch(every_10min)
    w.close()
    start, end = T0 + H, T0 + 2 * H + 1
    st = RawReadStats()
    got = list(iter_raw(tmp_path, start_ns=start, end_ns=end, stats=st))
    assert got == [f for f in every_10min if start <= f.ts_recv_ns < end]
    assert [f.ts_recv_ns for f in got][0] == T0 + H and len(got) == 7
    assert st.files == 2  # hours 11 and 12 only (T0 is 10:30)
    assert list(iter_raw(tmp_path, start_ns=T0 + 10 * H)) == []
    assert list(iter_raw(tmp_path, end_ns=T0)) == []


def test_streams_are_merged_by_receive_time_and_filterable(tmp_path):
    w = RawFrameWriter(tmp_path)
    a = frames(50, step=2000)
    b = frames(50, start=T0 + 1000, step=2000, venue="binance", channel="trades")
    merged = sorted(a + b, key=lambda f: f.ts_recv_ns)
    w.write_batch(merged)
    w.close()
    assert list(iter_raw(tmp_path)) == merged
    assert list(iter_raw(tmp_path, venue="binance")) == b
    assert list(iter_raw(tmp_path, channel="market")) == a
    assert (tmp_path / "raw" / "binance" / "trades").is_dir()


def test_writer_refuses_after_close(tmp_path):
    w = RawFrameWriter(tmp_path)
    w.close()
    w.close()
    with pytest.raises(ValueError):
        w.write_batch(frames(1))
    with pytest.raises(ValueError):
        RawFrameWriter(tmp_path, rotate_mb=0)
