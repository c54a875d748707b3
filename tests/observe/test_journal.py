"""The decision journal file: ordered, deterministic, and fills reach the OS at once."""

from __future__ import annotations

import os
import subprocess
import sys

from clobflow.observe.journal import Journal, JsonlJournalFile, read_journal


def test_entries_round_trip_in_order(tmp_path):
    f = JsonlJournalFile(tmp_path / "j.jsonl")
    j = Journal([f])
    j.record(1, "s", "skip", "imbalance_below_min", passed=False, market="m", inputs={"imbalance": 0.25})
    j.record(2, "s", "signal", "buy_yes", passed=True, market="m", asset_id="t", inputs={"price": 500_000})
    f.close()
    got = read_journal(tmp_path / "j.jsonl")
    assert [(e.seq, e.action, e.reason) for e in got] == [(1, "skip", "imbalance_below_min"), (2, "signal", "buy_yes")]
    assert got[1].inputs == {"price": 500_000}
    assert j.counts == {("skip", "imbalance_below_min"): 1, ("signal", "buy_yes"): 1}


def test_a_fill_is_on_disk_even_if_the_process_dies_without_closing(tmp_path):
    path = tmp_path / "j.jsonl"
    code = (
        "import os\n"
        "from clobflow.observe.journal import Journal, JsonlJournalFile\n"
        f"f = JsonlJournalFile({str(path)!r}); j = Journal([f])\n"
        "for i in range(1000): j.record(i, 's', 'skip', 'x', passed=False)\n"
        "j.record(1000, 's', 'fill', 'taker', passed=True, inputs={'price': 480000, 'size': 20000000})\n"
        "j.record(1001, 's', 'skip', 'x', passed=False)\n"
        "os._exit(9)  # no close, no flush, no atexit\n"
    )
    res = subprocess.run([sys.executable, "-c", code], env=os.environ.copy())
    assert res.returncode == 9
    got = read_journal(path)
    assert got[-1].action == "fill" and got[-1].inputs["price"] == 480000
    assert len(got) == 1001  # everything before the fill too, in order; the trailing skip was buffered
