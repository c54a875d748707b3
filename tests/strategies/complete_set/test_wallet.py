"""gabagool22's fills as the complete-set yardstick: loading the real bundled files, exact pair
costs (checked against an independent Decimal computation from the CSV), bad rows, and the
fill-realism comparison on synthetic inputs with known answers."""

from __future__ import annotations

import csv
import gzip
import statistics
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, localcontext
from pathlib import Path

import pytest

from clobflow.core.numbers import ONE
from clobflow.sim.datasets import data_dir
from clobflow.sim.datasets.btc15m import condition_id, token_id
from clobflow.strategies.complete_set.wallet_report import render_text, summarize
from clobflow.strategies.complete_set.wallet import (
    MINUTES,
    SimFill,
    WalletFill,
    compare_fills,
    default_directory,
    load_wallet_fills,
    pair_cost,
)

S = 10**9
BOOK_DAYS = ("20251226", "20260101")
HEADER = "timestamp,trade_side,quantity,price,TargetTime,ExpirationTime"


@pytest.fixture(scope="module")
def book_days():
    return load_wallet_fills(days=BOOK_DAYS)


@pytest.fixture(scope="module")
def book_slugs() -> list[str]:
    with open(data_dir() / "pm-btc15m-tob-1s" / "windows_implied_outcomes.csv", newline="") as f:
        return [r["slug"] for r in csv.DictReader(f)]


def _gz(path: Path, lines: list[str]) -> Path:
    with gzip.open(path, "wt", newline="") as f:
        f.write("\n".join(lines) + "\n")
    return path


# -- loading the real files ---------------------------------------------------------------------


def test_every_book_window_has_wallet_fills_on_both_sides(book_days, book_slugs):
    assert len(book_slugs) == 66
    assert book_days.rows == 24_155 + 26_344  # SOURCE.md row counts of the two files
    assert not book_days.skipped
    # every fill of those two days lies in one of the 66 book windows, and vice versa
    assert sorted(book_days) == sorted(book_slugs)
    assert sum(len(v) for v in book_days.values()) == book_days.rows
    for slug in book_slugs:
        sides = {f.side for f in book_days[slug]}
        assert sides == {"up", "down"}, slug


def test_fills_are_time_ordered_and_inside_their_window(book_days):
    for slug, fills in book_days.items():
        start = int(slug.rsplit("-", 1)[1]) * S
        times = [f.ts_ns for f in fills]
        assert times == sorted(times)
        # one real fill (2025-12-26 11:45:01) is stamped 1 s after its window's end
        assert start <= times[0] and times[-1] <= start + 901 * S, slug
        assert all(0 < f.price <= ONE and f.size > 0 for f in fills)


def test_all_files_and_day_filter():
    everything = load_wallet_fills()
    assert everything.rows == 137_383 and not everything.skipped
    assert len(everything) == 205  # 32 + 54 + 85 + 34 windows (SOURCE.md)
    one_day = load_wallet_fills(days="2025-12-29")  # a single day as a plain string
    assert len(one_day) == 54 and one_day.rows == 32_046
    assert set(one_day) <= set(everything)


def test_slugs_join_the_simulator_ids(book_days, book_slugs):
    slug = book_slugs[0]
    assert slug == "btc-updown-15m-1766745000"  # 2025-12-26 10:30 UTC
    assert condition_id(slug).startswith("0x") and token_id(slug, "Up") != token_id(slug, "Down")


def test_default_directory_follows_clobflow_data_dir(tmp_path, monkeypatch):
    trades = tmp_path / "pm-btc15m-tob-1s" / "gabagool22_trades"
    trades.mkdir(parents=True)
    _gz(trades / "user_data_20250101.csv.gz",
        [HEADER, "2025-01-01 00:00:05,Up,10.0,0.5,2025-01-01 00:00:00,2025-01-01 00:15:00"])
    monkeypatch.setenv("CLOBFLOW_DATA_DIR", str(tmp_path))
    assert default_directory() == trades
    fills = load_wallet_fills()
    assert fills == {"btc-updown-15m-1735689600": [WalletFill(1_735_689_605 * S, "up", 500_000, 10 * ONE)]}


# -- exact pair cost on a real window -----------------------------------------------------------


def _expected_from_csv(target: str) -> dict[str, object]:
    """The window's numbers straight from the CSV, with Decimal: each price and quantity is
    rounded half-even to 6 decimals (the loader's stated rule), then everything is exact."""
    q6 = Decimal("0.000001")
    up, down = [], []
    path = data_dir() / "pm-btc15m-tob-1s" / "gabagool22_trades" / "user_data_20251226.csv.gz"
    with gzip.open(path, "rt", newline="") as f:
        for r in csv.DictReader(f):
            if r["TargetTime"] == target:
                row = (r["timestamp"], Decimal(r["quantity"]).quantize(q6, ROUND_HALF_EVEN),
                       Decimal(r["price"]).quantize(q6, ROUND_HALF_EVEN))
                (up if r["trade_side"] == "Up" else down).append(row)
    with localcontext() as ctx:
        ctx.prec = 80
        sh_u, sh_d = sum(q for _, q, _ in up), sum(q for _, q, _ in down)
        cost_u, cost_d = sum(q * p for _, q, p in up), sum(q * p for _, q, p in down)
        million = Decimal(10**6)

        def floor_micro(x: Decimal) -> int:
            return int((x * million).to_integral_value(ROUND_FLOOR))

        matched = min(sh_u, sh_d)
        stamps = sorted(t for t, _, _ in up + down)
        return {
            "n": (len(up), len(down)),
            "shares": (int(sh_u * million), int(sh_d * million)),
            "cost": (floor_micro(cost_u), floor_micro(cost_d)),
            "vwap": (floor_micro(cost_u / sh_u), floor_micro(cost_d / sh_d)),
            "matched": int(matched * million),
            "locked": floor_micro(matched * (1 - cost_u / sh_u - cost_d / sh_d)),
            "first": stamps[0],
            "last": stamps[-1],
        }


def _ns(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * S


def test_pair_cost_of_a_real_window_is_exact(book_days):
    # 2025-12-26 10:30 window: many prices are float artefacts such as 0.3200000190459075
    want = _expected_from_csv("2025-12-26 10:30:00")
    pc = pair_cost(book_days["btc-updown-15m-1766745000"])
    assert (pc.up.fills, pc.down.fills) == want["n"] == (108, 81)
    assert (pc.up.shares, pc.down.shares) == want["shares"]
    assert (pc.up.cost, pc.down.cost) == want["cost"]
    assert (pc.up.vwap, pc.down.vwap) == want["vwap"]
    assert pc.pair_cost == want["vwap"][0] + want["vwap"][1] == 992_991
    assert pc.matched == want["matched"] == pc.up.shares  # more Down than Up shares
    assert pc.unmatched == pc.down.shares - pc.up.shares and pc.unmatched_side == "down"
    assert pc.locked_profit == want["locked"]
    assert 13 * ONE < pc.locked_profit < 14 * ONE  # ~1,906 sets at ~0.993: about $13.4
    assert (pc.first_ts_ns, pc.last_ts_ns) == (_ns(want["first"]), _ns(want["last"]))


def test_wallet_pair_cost_is_below_one_in_every_book_window(book_days, book_slugs):
    costs = [pair_cost(book_days[s]).pair_cost for s in book_slugs]
    # What the data says: all 66 between 0.9737 and 0.9968, median 0.98716.
    assert all(970_000 <= c < ONE for c in costs)
    assert 980_000 <= statistics.median(costs) <= 990_000


def test_wallet_pair_cost_over_all_205_windows():
    costs = sorted(pc.pair_cost for pc in map(pair_cost, load_wallet_fills().values()))
    # 195 of 205 windows below 1 (range 0.958..1.017), median 0.98674
    assert sum(c < ONE for c in costs) >= 0.9 * len(costs)
    assert 980_000 <= statistics.median(costs) <= 990_000
    assert all(950_000 <= c <= 1_020_000 for c in costs)


# -- bad rows -----------------------------------------------------------------------------------


def test_bad_rows_are_counted_and_skipped(tmp_path):
    good = "2025-12-26 10:30:19,Down,84.0,0.67,2025-12-26 10:30:00,2025-12-26 10:45:00"
    _gz(tmp_path / "user_data_20251226.csv.gz", [
        HEADER,
        good,
        "2025-12-26 10:30:20,Sideways,5.0,0.5,2025-12-26 10:30:00,2025-12-26 10:45:00",  # side
        "2025-12-26 10:30:21,Up,abc,0.5,2025-12-26 10:30:00,2025-12-26 10:45:00",  # number
        "2025-12-26 10:30:22,Up,5.0,nan,2025-12-26 10:30:00,2025-12-26 10:45:00",  # number
        "2025-12-26 10:30:23,Up,-5.0,0.5,2025-12-26 10:30:00,2025-12-26 10:45:00",  # size
        "2025-12-26 10:30:24,Up,5.0,1.5,2025-12-26 10:30:00,2025-12-26 10:45:00",  # price
        "2025-12-26 10:30:25,Up,5.0,0,2025-12-26 10:30:00,2025-12-26 10:45:00",  # price
        "yesterday,Up,5.0,0.5,2025-12-26 10:30:00,2025-12-26 10:45:00",  # time
        "2025-12-26 10:30:26,Up,5.0,0.5,soon,2025-12-26 10:45:00",  # time
        "2025-12-26 10:30:27,Up,5.0",  # columns
        "",  # blank line: not a row
        # float artefacts round half-even to the micro-unit; " up " is accepted
        "2025-12-26 10:30:18, up ,214.1269599999999,0.3200000190459075,2025-12-26 10:30:00,x",
    ])
    _gz(tmp_path / "user_data_20251227.csv.gz", ["timestamp,side,quantity,price,TargetTime", "a,b,c,d,e"])
    (tmp_path / "user_data_20251228.csv.gz").write_text(HEADER + "\n")  # not gzip at all
    (tmp_path / "notes.txt").write_text("not a fill file")
    fills = load_wallet_fills(tmp_path)
    assert fills.rows == 12  # 11 + 1: the blank line is not a row
    assert dict(fills.skipped) == {
        "side": 1, "number": 2, "size": 1, "price": 2, "time": 2, "columns": 1, "header": 1, "unreadable": 1,
    }
    start = 1_766_745_000
    assert fills == {"btc-updown-15m-1766745000": [  # sorted by time: the 10:30:18 row first
        WalletFill((start + 18) * S, "up", 320_000, 214_126_960),
        WalletFill((start + 19) * S, "down", 670_000, 84 * ONE),
    ]}
    assert load_wallet_fills(tmp_path, days=["20251227"]) == {}


def test_truncated_file_keeps_the_rows_before_the_break(tmp_path):
    rows = [f"2025-12-26 10:{i // 60:02d}:{i % 60:02d},Up,{i + 1}.5,0.5,2025-12-26 10:00:00,x" for i in range(900)]
    data = gzip.compress(("\n".join([HEADER, *rows]) + "\n").encode())
    (tmp_path / "user_data_20251226.csv.gz").write_bytes(data[: len(data) // 2])
    fills = load_wallet_fills(tmp_path)
    assert fills.skipped["unreadable"] == 1
    kept = fills["btc-updown-15m-1766743200"]
    assert 0 < len(kept) < 900
    # the rows before the break are intact (a row cut mid-way is skipped or, at worst, loses
    # only the unused ExpirationTime)
    assert [f.size for f in kept] == [(i + 1) * ONE + ONE // 2 for i in range(len(kept))]


def test_corrupt_deflate_stream_is_unreadable_not_a_crash(tmp_path):
    rows = [f"2025-12-26 10:{i // 60:02d}:{i % 60:02d},Up,{i + 1}.5,0.5,2025-12-26 10:00:00,x" for i in range(900)]
    data = bytearray(gzip.compress(("\n".join([HEADER, *rows]) + "\n").encode()))
    for k in range(200, 260):  # flip bytes inside the deflate stream: zlib.error, not OSError
        data[k] ^= 0xFF
    (tmp_path / "user_data_20251226.csv.gz").write_bytes(bytes(data))
    fills = load_wallet_fills(tmp_path)
    assert fills.skipped["unreadable"] == 1


def test_missing_directory_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_wallet_fills(tmp_path / "nope")


# -- pair cost on synthetic fills ---------------------------------------------------------------


def test_pair_cost_known_answer():
    fills = [
        SimFill(3 * S, "up", 480_000, 10 * ONE),
        SimFill(1 * S, "down", 490_000, 15 * ONE),
        SimFill(2 * S, "up", 500_000, 10 * ONE),
    ]
    pc = pair_cost(fills)
    assert (pc.up.fills, pc.up.shares, pc.up.cost, pc.up.vwap) == (2, 20 * ONE, 9_800_000, 490_000)
    assert (pc.down.fills, pc.down.shares, pc.down.cost, pc.down.vwap) == (1, 15 * ONE, 7_350_000, 490_000)
    assert pc.pair_cost == 980_000
    assert (pc.matched, pc.unmatched, pc.unmatched_side) == (15 * ONE, 5 * ONE, "up")
    assert pc.locked_profit == 300_000  # 15 sets x (1 - 0.98) = $0.30
    assert (pc.first_ts_ns, pc.last_ts_ns) == (S, 3 * S)


def test_locked_profit_uses_exact_costs_not_floored_vwaps():
    # 3 Up shares for exactly $1 (average 1/3), 3 Down at 0.6: the sets lock exactly $0.20,
    # whereas the floored VWAPs (0.333333 + 0.6) would say 3 x 0.066667 = $0.200001.
    fills = [SimFill(0, "up", p, ONE) for p in (333_333, 333_334, 333_333)] + [SimFill(0, "down", 600_000, 3 * ONE)]
    pc = pair_cost(fills)
    assert pc.up.vwap == 333_333 and pc.pair_cost == 933_333
    assert pc.locked_profit == 200_000
    # a pair above 1 locks a loss, floored towards minus infinity
    loss = pair_cost([SimFill(0, "up", 700_000, 3 * ONE), SimFill(0, "down", 400_000, 3 * ONE)])
    assert loss.locked_profit == -300_000


def test_pair_cost_of_one_side_or_nothing():
    empty = pair_cost([])
    assert empty.pair_cost is None and empty.up.vwap is None and empty.locked_profit == 0
    assert empty.unmatched_side == "" and empty.first_ts_ns is None
    one = pair_cost([SimFill(5, "down", 400_000, 7 * ONE)])
    assert one.pair_cost is None and one.matched == 0 and one.locked_profit == 0
    assert (one.unmatched, one.unmatched_side) == (7 * ONE, "down")
    with pytest.raises(ValueError):
        pair_cost([SimFill(0, "yes", 400_000, ONE)])


# -- compare_fills on synthetic fills -----------------------------------------------------------

T0 = 1_766_745_000 * S


def _w(sec: float, side: str, price: int, size: int = 10 * ONE) -> WalletFill:
    return WalletFill(T0 + int(sec * S), side, price, size)


def _s(sec: float, side: str, price: int, size: int = 5 * ONE) -> SimFill:
    return SimFill(T0 + int(sec * S), side, price, size)


THEIRS = [
    _w(10, "up", 480_000, 10 * ONE),
    _w(100, "up", 500_000, 30 * ONE),
    _w(100, "up", 520_000, 10 * ONE),
    _w(300, "down", 470_000),
]


def test_corroboration_and_tolerance_edges():
    ours = [
        _s(14, "up", 480_000),  # 4 s after a real fill at the same price: corroborated
        _s(15, "up", 480_000),  # exactly 5 s: the edge is inclusive
        _s(15.000000001, "up", 480_000),  # 1 ns past the edge: not
        _s(5, "up", 480_000),  # 5 s before: corroborated
        _s(100, "up", 490_000, 2 * ONE),  # same second, real prices 0.50/0.52 are above ours: not
        _s(302, "down", 460_000),  # real down fill at 0.47 > ours: not
        _s(303, "down", 470_000, 10 * ONE),  # real down fill at 0.47 <= ours: corroborated
    ]
    c = compare_fills(ours, THEIRS, window_start_ns=T0)
    assert c.tolerance_s == 5
    assert (c.up.corroborated_fills, c.up.corroborated_shares) == (3, 15 * ONE)
    assert (c.up.uncorroborated_fills, c.up.uncorroborated_shares) == (2, 7 * ONE)
    assert c.up.corroborated_frac == 15 * ONE * ONE // (22 * ONE)  # 0.681818
    assert (c.down.corroborated_fills, c.down.uncorroborated_fills) == (1, 1)
    assert c.down.corroborated_frac == 10 * ONE * ONE // (15 * ONE)
    # our and their totals per side come from pair_cost
    assert (c.ours.up.fills, c.ours.up.shares, c.theirs.up.fills, c.theirs.up.shares) == (5, 22 * ONE, 3, 50 * ONE)
    assert c.theirs.up.vwap == (480_000 * 10 + 500_000 * 30 + 520_000 * 10) // 50
    assert c.ours.pair_cost == c.ours.up.vwap + c.ours.down.vwap


def test_tolerance_zero_and_wider():
    ours = [_s(10, "up", 480_000), _s(11, "up", 480_000)]
    assert compare_fills(ours, THEIRS, window_start_ns=T0, tolerance_s=0).up.corroborated_fills == 1
    assert compare_fills(ours, THEIRS, window_start_ns=T0, tolerance_s=1).up.corroborated_fills == 2
    with pytest.raises(ValueError):
        compare_fills(ours, THEIRS, window_start_ns=T0, tolerance_s=-1)


def test_price_diffs_use_the_nearest_real_fills():
    ours = [
        _s(12, "up", 490_000),  # nearest: 10 s, 0.48 -> +0.01
        _s(100, "up", 490_000),  # two real fills at 100 s: VWAP (0.50x30 + 0.52x10)/40 = 0.505 -> -0.015
        _s(55, "up", 500_000),  # 45 s from both 10 s and 100 s: VWAP of all three = 0.5 -> 0
        _s(900, "up", 520_000),  # after the last real fill: 100 s group -> +0.015
    ]
    c = compare_fills(ours, THEIRS, window_start_ns=T0)
    assert c.up.price_diffs == (-15_000, 0, 10_000, 15_000)  # sorted
    assert c.up.median_price_diff == 5_000  # mean of the middle two (0, 0.01)
    odd = compare_fills(ours[:3], THEIRS, window_start_ns=T0)
    assert odd.up.median_price_diff == 0
    # no real fill on a side: no diffs, no median, nothing corroborated
    lone = compare_fills([_s(1, "down", 1)], [_w(1, "up", 1)], window_start_ns=T0)
    assert lone.down.price_diffs == () and lone.down.median_price_diff is None
    assert lone.down.corroborated_fills == 0 and lone.down.corroborated_frac == 0
    assert lone.up.corroborated_frac is None  # we have no up fills at all


def test_per_minute_buckets():
    ours = [_s(0, "up", 1), _s(59.999, "up", 1), _s(60, "up", 1), _s(899, "up", 1),
            _s(900, "up", 1), _s(-1, "up", 1)]
    c = compare_fills(ours, THEIRS, window_start_ns=T0)
    assert len(c.up.ours_per_minute) == MINUTES == 15
    # minute 0: 0 s, 59.999 s and the one stamped before the start; the last minute: 899 s and
    # the one stamped at the window end
    assert c.up.ours_per_minute == (3, 1) + (0,) * 12 + (2,)
    assert c.up.theirs_per_minute == (1, 2) + (0,) * 13
    assert c.down.theirs_per_minute == (0,) * 5 + (1,) + (0,) * 9
    assert c.down.ours_per_minute == (0,) * 15


def test_summarize_pools_windows():
    a = compare_fills([_s(12, "up", 490_000), _s(303, "down", 470_000)], THEIRS, window_start_ns=T0)
    b = compare_fills([_s(100, "up", 530_000, 10 * ONE)], THEIRS, window_start_ns=T0)
    total = summarize([a, b])
    assert total["windows"] == 2
    up = total["up"]
    assert (up["ours_fills"], up["ours_shares"], up["theirs_fills"]) == (2, 15 * ONE, 6)
    assert up["ours_vwap"] == (490_000 * 5 + 530_000 * 10) // 15
    assert (up["corroborated_fills"], up["uncorroborated_fills"]) == (2, 0)
    assert up["corroborated_frac"] == ONE
    assert up["ours_per_minute"] == [1, 1] + [0] * 13
    assert up["median_price_diff"] == (10_000 + 25_000) // 2  # diffs 0.01 and 0.53 - 0.505
    assert total["ours_pair_cost"] == up["ours_vwap"] + 470_000  # b has no down fill; a has
    assert total["theirs_pair_cost"] == 500_000 + 470_000  # the same real fills twice: 0.50 + 0.47
    assert total["ours_locked_profit"] == a.ours.locked_profit + b.ours.locked_profit
    # a single window summarises to its own numbers
    one = summarize([a])
    assert one["up"]["ours_vwap"] == a.ours.up.vwap and one["ours_pair_cost"] == a.ours.pair_cost
    empty = summarize([])
    assert empty["windows"] == 0 and empty["up"]["ours_vwap"] is None and empty["ours_pair_cost"] is None


def test_render_text_is_a_fixed_width_table():
    a = compare_fills([_s(12, "up", 490_000), _s(303, "down", 470_000)], THEIRS, window_start_ns=T0)
    text = render_text([a, a])
    lines = text.splitlines()
    table = lines[: 2 + 4 + 1 + 2]  # header, rule, 2 windows x 2 sides, rule, 2 totals
    assert len({len(line) for line in table}) == 1
    assert lines[2].startswith("2025-12-26 10:30 up ")
    assert "0.4900" in lines[2] and "100.0" in lines[2] and "+0.0100" in lines[2]
    assert lines[7].startswith("all 2 windows    up ")
    assert "pair cost: ours 0.9600, real 0.9700" in text
    assert "e-" not in text and "e+" not in text  # no float formatting anywhere
    assert render_text([]).count("\n") > 3


def test_real_window_against_itself(book_days):
    # the wallet's own fills as "ours": every fill is corroborated (by itself), and the buckets
    # and totals agree
    slug = "btc-updown-15m-1767285900"  # 2026-01-01 16:45 UTC
    theirs = book_days[slug]
    ours = [SimFill(f.ts_ns, f.side, f.price, f.size) for f in theirs]
    c = compare_fills(ours, theirs, window_start_ns=1_767_285_900 * S)
    assert c.ours == c.theirs == pair_cost(theirs)
    for side in ("up", "down"):
        sc = c.side(side)
        assert sc.corroborated_fills == len([f for f in theirs if f.side == side])
        assert sc.uncorroborated_fills == 0 and sc.corroborated_frac == ONE
        assert sc.ours_per_minute == sc.theirs_per_minute and sum(sc.theirs_per_minute) == sc.corroborated_fills
    assert "2026-01-01 16:45 up" in render_text([c])
