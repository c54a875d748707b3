"""Regression tests for issue 10 findings 1-3 (parser side): inputs that used to escape
``MarketParser.parse`` or were accepted although out of range. One test per finding; each frame is
built from a real capture with one field changed, so everything else about it is valid."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clobflow.core.events import BookSnapshot, PriceChange, Trade
from clobflow.venues.polymarket.parsing import MarketParser, RejectReason, split_top_level_array
from clobflow.venues.polymarket.values import BadTimestamp, epoch_to_ns

FIX = Path(__file__).resolve().parents[3] / "fixtures" / "polymarket" / "ws_market"
TS = 1_700_000_000_123_456_789


def _capture(name: str) -> dict:
    data = json.loads((FIX / name).read_text())
    return data[0] if isinstance(data, list) else data


def _parse(msg: object) -> tuple[list, MarketParser]:
    p = MarketParser()
    frame = msg if isinstance(msg, (bytes, str)) else json.dumps(msg)
    return p.parse(frame, TS), p


def _only_reject(p: MarketParser) -> str:
    assert sum(p.rejects.values()) == 1, dict(p.rejects)
    return next(iter(p.rejects))


# -- finding 1: nothing escapes -------------------------------------------------------------


@pytest.mark.parametrize("frame", [b"[" * 5000, b"[" * 5000 + b"]" * 5000, b'{"a":' * 5000,
                                   "[" * 100_000])
def test_deep_nesting_is_counted_not_raised(frame):
    events, p = _parse(frame)
    # a balanced deep array splits into one element, an array: not an event object
    assert events == [] and _only_reject(p) in (RejectReason.TOO_DEEP, RejectReason.INVALID_JSON,
                                                RejectReason.NOT_AN_OBJECT)


def test_a_too_deep_event_does_not_lose_its_neighbours():
    good = _capture("book_2026-08.json")
    deep = "[" * 5000 + "]" * 5000
    frame = f'[{json.dumps(good)}, {{"event_type":"book","asset_id":"x","bids":{deep}}}, {json.dumps(good)}]'
    events, p = _parse(frame)
    assert [type(e) for e in events] == [BookSnapshot, BookSnapshot]
    assert dict(p.rejects) == {RejectReason.TOO_DEEP: 1}


@pytest.mark.parametrize("ts", ["1.5e400", "1e400", "nan", "NaN", "inf", "-inf", "1e20", "-5",
                                "-1700000000000", "9" * 5000, "٣٣٣٣٣٣٣٣٣٣٣٣٣", "4102444800001",
                                "1.7e12x", True])
def test_a_bad_timestamp_is_bad_time(ts):
    msg = _capture("book_2026-08.json") | {"timestamp": ts}
    events, p = _parse(msg)
    assert events == [] and _only_reject(p) in (RejectReason.BAD_TIME, RejectReason.SCHEMA)


def test_a_bad_price_change_timestamp_is_bad_time():
    msg = _capture("price_change_batched_2024-10.json") | {"timestamp": "1.5e400"}
    events, p = _parse(msg)
    assert events == [] and _only_reject(p) == RejectReason.BAD_TIME


@pytest.mark.parametrize("fee", ["1e400", "nan", "inf", "-1", "10001", "9" * 5000])
def test_a_bad_fee_rate_is_rejected(fee):
    msg = _capture("last_trade_price_2024-08.json") | {"fee_rate_bps": fee}
    events, p = _parse(msg)
    assert events == [] and _only_reject(p) in (RejectReason.BAD_NUMBER, RejectReason.OUT_OF_RANGE)


def test_a_valid_fee_rate_is_whole_bps():
    (ev,), _ = _parse(_capture("last_trade_price_2024-08.json") | {"fee_rate_bps": "30"})
    assert isinstance(ev, Trade) and ev.fee_rate_bps == 30


@pytest.mark.parametrize("frame", [b"\xff\xfe\xfd", b"\x80abc", b"{\xff}", b'[{"event_type":"\xff"}]',
                                   b'{"event_type":"book","asset_id":"\xff"}'])
def test_non_utf8_is_invalid_json(frame):
    events, p = _parse(frame)
    assert events == [] and _only_reject(p) == RejectReason.INVALID_JSON


def test_huge_digit_strings_are_bad_numbers():
    msg = _capture("book_2026-08.json")
    msg["bids"] = [{"price": "0.5", "size": "9" * 5000}]
    events, p = _parse(msg)
    assert events == [] and _only_reject(p) == RejectReason.BAD_NUMBER


def test_other_scripts_digits_are_not_numbers():
    msg = _capture("book_2026-08.json")
    msg["bids"] = [{"price": "0.5", "size": "١٠"}]
    events, p = _parse(msg)
    assert events == [] and _only_reject(p) == RejectReason.BAD_NUMBER


# -- finding 2: out-of-range values are rejected ---------------------------------------------


@pytest.mark.parametrize("price", ["1.5", "1", "0", "-0.5", "5", 2, "1000000000000000000000"])
def test_a_book_level_price_outside_0_1_is_out_of_range(price):
    msg = _capture("book_2026-08.json")
    msg["asks"] = msg["asks"] + [{"price": price, "size": "10"}]
    events, p = _parse(msg)
    assert events == [] and _only_reject(p) == RejectReason.OUT_OF_RANGE


@pytest.mark.parametrize("size", ["-10", "-0.000001", 10**30, "1000000000000"])
def test_a_negative_or_absurd_size_is_out_of_range(size):
    msg = _capture("book_2026-08.json")
    msg["bids"] = msg["bids"] + [{"price": "0.05", "size": size}]
    events, p = _parse(msg)
    assert events == [] and _only_reject(p) == RejectReason.OUT_OF_RANGE


def test_a_negative_price_change_size_no_longer_deletes_a_level():
    msg = _capture("price_change_batched_2024-10.json")
    msg["price_changes"][0]["size"] = "-10"
    events, p = _parse(msg)
    assert events == [] and _only_reject(p) == RejectReason.OUT_OF_RANGE


@pytest.mark.parametrize("field,value", [("best_bid", "1.2"), ("best_ask", "-0.1"),
                                         ("best_bid", "1"), ("best_ask", "7"), ("price", "1.01")])
def test_price_change_tops_and_prices_in_range(field, value):
    msg = _capture("price_change_batched_2024-10.json")
    msg["price_changes"][0][field] = value
    events, p = _parse(msg)
    assert events == [] and _only_reject(p) == RejectReason.OUT_OF_RANGE


@pytest.mark.parametrize("value", ["1.2", "-0.1", "3"])
def test_best_bid_ask_out_of_range(value):
    for field in ("best_bid", "best_ask"):
        events, p = _parse(_capture("best_bid_ask_2025-12.json") | {field: value})
        assert events == [] and _only_reject(p) == RejectReason.OUT_OF_RANGE


def test_legacy_price_change_with_price_5_is_rejected():  # finding 3, parser side
    msg = _capture("price_change_legacy_single_2024-08.json") | {"price": "5"}
    events, p = _parse(msg)
    assert events == [] and _only_reject(p) == RejectReason.OUT_OF_RANGE
    (ev,), p = _parse(_capture("price_change_legacy_single_2024-08.json"))
    assert isinstance(ev, PriceChange) and sum(p.rejects.values()) == 0


@pytest.mark.parametrize("tick", ["0", "1", "-0.01", "1.5"])
def test_tick_sizes_outside_0_1_are_out_of_range(tick):
    for name, field in (("tick_size_change_2025-02.json", "new_tick_size"),
                        ("book_2026-08.json", "tick_size"),
                        ("new_market_2025-12.json", "order_price_min_tick_size")):
        events, p = _parse(_capture(name) | {field: tick})
        assert events == [] and _only_reject(p) == RejectReason.OUT_OF_RANGE, (name, tick)


def test_a_negative_fee_rate_is_out_of_range():
    events, p = _parse(_capture("last_trade_price_2024-08.json") | {"fee_rate_bps": "-5"})
    assert events == [] and _only_reject(p) == RejectReason.OUT_OF_RANGE


@pytest.mark.parametrize("field,value", [("price", "1.5"), ("price", "0"), ("size", "-1"), ("size", "0")])
def test_trade_price_and_size_in_range(field, value):
    events, p = _parse(_capture("last_trade_price_2024-08.json") | {field: value})
    assert events == [] and _only_reject(p) == RejectReason.OUT_OF_RANGE


def test_one_bad_event_in_an_array_keeps_the_others():
    burst = json.loads((FIX / "book_then_price_change_burst_2026-09.json").read_text())
    burst[3]["price_changes"][0]["price"] = "5"
    burst[5]["timestamp"] = "1.5e400"
    events, p = _parse(burst)
    assert len(events) == len(burst) - 2
    assert dict(p.rejects) == {RejectReason.OUT_OF_RANGE: 1, RejectReason.BAD_TIME: 1}


# -- helpers ----------------------------------------------------------------------------------


def test_epoch_to_ns_is_exact_and_bounded():
    assert epoch_to_ns("1700000000123") == 1_700_000_000_123_000_000
    assert epoch_to_ns("1700000000.5") == 1_700_000_000_500_000_000
    assert epoch_to_ns(1700000000) == 1_700_000_000_000_000_000
    assert epoch_to_ns("") == 0 and epoch_to_ns(None) == 0
    for bad in ("1.5e400", "-1", "nan", 1e300, 10**30, [1]):
        with pytest.raises(BadTimestamp):
            epoch_to_ns(bad)


def test_split_top_level_array_handles_strings_and_scalars():
    assert split_top_level_array('[1, "a]\\"", [2,[3]], {"x":"}"}, 4 ]') == [
        "1", '"a]\\""', "[2,[3]]", '{"x":"}"}', "4"]
    assert split_top_level_array(b"[]") == [] and split_top_level_array("[[1]") is None
