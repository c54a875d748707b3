"""``ImportState``: atomic checkpoint, job keys, the lock, and cutting uncommitted tails."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from clobflow.venues.polymarket.history.state import ImportState, StateError, job_key


def test_job_key_ignores_list_order_and_none():
    a = job_key("trades", {"markets": ["0xb", "0xa", "0xa"], "user": None, "api": "v2"})
    b = job_key("trades", {"api": "v2", "markets": ["0xa", "0xb"]})
    assert a == b == 'trades:{"api":"v2","markets":["0xa","0xb"]}'
    assert job_key("trades", {"api": "v1", "markets": ["0xa"]}) != job_key("trades", {"api": "v2", "markets": ["0xa"]})


def test_save_and_reload(tmp_path):
    path = tmp_path / "st.json"
    with ImportState.open(path) as st:
        key, job = st.job("prices", {"tokens": ["2", "1"], "start": 5})
        job.cursor = {"token": 1, "next": 99}
        job.bump("rows", 3)
        st.append(tmp_path / "out.csv", b"t,price\n1,0.5\n")
        st.add_keys("prices", ["1|1"])
        st.save()
    raw = json.loads(path.read_text())
    assert raw["files"] == {"out.csv": 14, "st.keys/prices.keys": 4}
    assert not list(tmp_path.glob(".*.tmp"))  # the temp file was renamed away
    with ImportState.open(path) as st:
        key2, job2 = st.job("prices", {"start": 5, "tokens": ["1", "2"]})
        assert key2 == key and job2.cursor == {"token": 1, "next": 99} and job2.stats == {"rows": 3}
        assert st.keys("prices") == {"1|1"}


def test_uncommitted_tails_are_cut_on_open(tmp_path):
    path, out = tmp_path / "st.json", tmp_path / "rows.jsonl"
    with ImportState.open(path) as st:
        st.append(out, b"committed\n")
        st.add_keys("trades", ["k1"])
        st.save()
        st.append(out, b"never checkpointed\n")  # a crash before the next save
        st.add_keys("trades", ["k2"])
    with ImportState.open(path) as st:
        assert out.read_bytes() == b"committed\n"
        assert st.keys("trades") == {"k1"}


def test_a_shorter_output_is_an_error(tmp_path):
    path, out = tmp_path / "st.json", tmp_path / "rows.jsonl"
    with ImportState.open(path) as st:
        st.append(out, b"abc\n")
        st.save()
    out.write_bytes(b"a")
    with pytest.raises(StateError, match="changed outside the importer"):
        ImportState.open(path)


def test_not_a_state_file(tmp_path):
    path = tmp_path / "st.json"
    path.write_text("[1, 2]")
    with pytest.raises(StateError, match="not an import state"):
        ImportState.open(path)


def test_one_process_at_a_time(tmp_path):
    path = tmp_path / "st.json"
    code = (f"import time; from clobflow.venues.polymarket.history.state import ImportState; s = ImportState.open({str(path)!r}); "
            "print('locked', flush=True); time.sleep(30)")
    other = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "locked"
        with pytest.raises(StateError, match="in use by another import"):
            ImportState.open(path)
    finally:
        other.kill()
        other.wait()
    ImportState.open(path).close()  # the lock died with the process
