"""The decision journal file: ordered, deterministic, and fills reach the OS at once."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import msgspec
import pytest

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


def test_no_journal_write_between_a_decision_and_its_order(tmp_path):
    """Inside the kernel: from the moment an event reaches the dispatch until the order is handed
    to execution, the journal file does not grow (the signal, the order row and the transition
    are written after); the fill that follows is on disk at once, without a close."""
    from tests.strategies.test_imbalance import MIN, T0, World, market

    path = tmp_path / "journal.jsonl"
    w = World()
    jf = JsonlJournalFile(path)
    w.journal.add_sink(jf)
    m = market()
    w.add(m)
    k = w.k
    at_dispatch: list[int] = []
    at_submit: list[int] = []
    submit = k.execution.submit

    def spy(handler):
        def spy_handler(ev, touched, now):
            at_dispatch.append(path.stat().st_size)
            handler(ev, touched, now)
        return spy_handler

    def spy_submit(order, now):
        at_submit.append((len(at_dispatch), path.stat().st_size))
        submit(order, now)

    k._dispatch = {t: spy(h) for t, h in k._dispatch.items()}  # every handler of the one dispatch
    k.execution.submit = spy_submit
    w.books_for(m, 480_000, 500_000, 300, 50, T0 + MIN)  # bid-heavy: signal -> order -> fill
    assert len(at_submit) == 1
    n, size = at_submit[0]
    assert size == at_dispatch[n - 1]  # nothing written since the event that decided
    on_disk = [e.action for e in read_journal(path)]  # no close: what a crash would leave
    assert "signal" in on_disk and on_disk.index("signal") < on_disk.index("order") < on_disk.index("fill")
    jf.close()


def test_a_kernel_fill_survives_kill_9(tmp_path):
    path = tmp_path / "journal.jsonl"
    code = (
        "import os\n"
        "from clobflow.observe.journal import JsonlJournalFile\n"
        "from tests.strategies.test_imbalance import MIN, T0, World, market\n"
        f"w = World(); w.journal.add_sink(JsonlJournalFile({str(path)!r}))\n"
        "m = market(); w.add(m)\n"
        "w.books_for(m, 480_000, 500_000, 300, 50, T0 + MIN)\n"
        "assert w.k.counters['fills'] == 1\n"
        "for i in range(50): w.journal.record(T0, 'imbalance', 'skip', 'x', passed=False)\n"
        "os._exit(9)  # no close, no flush, no atexit\n"
    )
    res = subprocess.run([sys.executable, "-c", code], env=os.environ.copy(), cwd=os.getcwd())
    assert res.returncode == 9
    got = read_journal(path)
    fills = [e for e in got if e.action == "fill"]
    assert len(fills) == 1 and fills[0].inputs["price"] == 500_000
    assert [e.action for e in got].count("order") == 1 and got[-1].action != "skip"


def test_an_old_journal_with_bare_ids_is_read_as_polymarket(tmp_path):
    path = tmp_path / "old.jsonl"
    path.write_bytes(  # two lines as an engine before venue-qualified ids wrote them, and a new one
        b'{"seq":1,"ts_ns":5,"strategy":"imbalance","action":"fill","reason":"taker","passed":true,'
        b'"market":"0xabc","asset_id":"123","inputs":{"size":1}}\n'
        b'{"seq":2,"ts_ns":6,"strategy":"imbalance","action":"skip","reason":"x","passed":false,'
        b'"market":"0xabc","asset_id":"","inputs":null}\n'
        b'{"seq":3,"ts_ns":7,"strategy":"imbalance","action":"fill","reason":"taker","passed":true,'
        b'"market":"POLYMARKET:0xdef","asset_id":"POLYMARKET:456","inputs":null}\n')
    got = read_journal(path)
    assert [(e.market, e.asset_id) for e in got] == [
        ("POLYMARKET:0xabc", "POLYMARKET:123"), ("POLYMARKET:0xabc", ""), ("POLYMARKET:0xdef", "POLYMARKET:456")]
    assert got[0].inputs == {"size": 1}


def _entries(n: int) -> list[tuple]:
    """A mix of actions as a run journals them: skips, signals, orders (prompt), fills (durable)."""
    out = []
    for i in range(n):
        if i % 97 == 5:
            out.append((i, "imbalance", "fill", "taker", True, "m", "t", {"price": 480_000, "size": i, "fee": 0}))
        elif i % 31 == 3:
            out.append((i, "imbalance", "order", "buy_yes", True, "m", "t", {"client_order_id": f"o-{i}"}))
        elif i % 17 == 0:
            out.append((i, "imbalance", "signal", "buy_no", True, "m", "t", {"imbalance": 0.61, "mid": None}))
        else:
            out.append((i, "imbalance", "skip", "imbalance_below_min", False, f"m{i % 5}", "",
                        {"imbalance": -0.123456789, "yes_bid": 480_000, "note": "é\n\"x\""}))
    return out


@pytest.mark.parametrize("threaded", [True, False])
def test_the_writer_thread_writes_what_entry_by_entry_encoding_wrote(tmp_path, threaded):
    """The file is byte for byte the per-entry JSON encoding of the entries, in order, with
    batches handed to the writer thread (or encoded in place) at event ends, at the size limit,
    and written through by prompt entries and fills."""
    path = tmp_path / "j.jsonl"
    f = JsonlJournalFile(path, batch=8, threaded=threaded)
    j = Journal([f], keep=True)
    for i, (ts, s, a, r, p, m, asset, inputs) in enumerate(_entries(3000)):
        j.record(ts, s, a, r, passed=p, market=m, asset_id=asset, inputs=inputs)
        if i % 3 == 0:
            j.end_of_event()
    f.close()
    assert j.entries is not None and len(j.entries) == 3000
    enc = msgspec.json.Encoder()
    assert path.read_bytes() == b"".join(enc.encode(e) + b"\n" for e in j.entries)
    assert [e.seq for e in read_journal(path)] == list(range(1, 3001))


def test_a_fill_writes_the_batches_still_queued_for_the_thread_first(tmp_path):
    path = tmp_path / "j.jsonl"
    f = JsonlJournalFile(path, batch=4)
    j = Journal([f])
    for i in range(400):  # 100 batches handed to the writer thread, some maybe not written yet
        j.record(i, "s", "skip", "x", passed=False, inputs={"i": i})
        j.end_of_event()
    j.record(400, "s", "fill", "taker", passed=True, inputs={"price": 1})
    got = read_journal(path)  # no close: what the OS has now
    assert [e.seq for e in got] == list(range(1, 402)) and got[-1].action == "fill"
    f.close()


def test_a_prompt_entry_is_handed_over_at_the_end_of_its_event(tmp_path):
    path = tmp_path / "j.jsonl"
    f = JsonlJournalFile(path, batch=1_000_000)
    j = Journal([f])
    j.record(1, "s", "skip", "x", passed=False)
    j.end_of_event()
    j.record(2, "s", "order", "buy_yes", passed=True)
    assert path.read_bytes() == b""  # nothing written between a decision and the event's end
    j.end_of_event()
    deadline = time.monotonic() + 10
    while len(path.read_bytes().splitlines()) < 2 and time.monotonic() < deadline:
        time.sleep(0.005)  # the writer thread writes it, soon
    assert [e.action for e in read_journal(path)] == ["skip", "order"]
    f.close()


@pytest.mark.parametrize("threaded", [True, False])
def test_an_unencodable_input_is_raised_on_the_callers_thread_and_nothing_is_lost(tmp_path, threaded):
    path = tmp_path / "j.jsonl"
    f = JsonlJournalFile(path, batch=4, threaded=threaded)
    j = Journal([f])
    for i in range(8):
        j.record(i, "s", "skip", "x", passed=False)
        j.end_of_event()
    j.record(8, "s", "skip", "bad", passed=False, inputs={"obj": object()})  # not JSON
    for i in range(9, 12):
        j.record(i, "s", "skip", "x", passed=False)
    with pytest.raises(TypeError):
        j.end_of_event()  # threaded: the thread failed on it and the writing came back here
        j.record(12, "s", "fill", "taker", passed=True)  # written through: meets it for sure
    with pytest.raises(TypeError):
        f.close()
    assert [e.seq for e in read_journal(path)] == list(range(1, 9))  # before it: written, once
