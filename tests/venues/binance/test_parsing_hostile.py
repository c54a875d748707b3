"""Regression tests for issue 10 findings 1-2 on the Binance parser: nothing escapes, out-of-range
values are rejected by reason. Frames are the real 2021-12 capture with one field changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clobflow.venues.binance.parsing import RejectReason, SpotParser

FIX = Path(__file__).resolve().parents[3] / "fixtures" / "binance"
TS = 1_700_000_000_123_456_789


def _trade() -> dict:
    return json.loads((FIX / "ws_spot_trade_combined_2021-12.json").read_text())


def _parse(frame) -> tuple[list, SpotParser]:
    p = SpotParser()
    return p.parse(frame if isinstance(frame, (bytes, str)) else json.dumps(frame), TS), p


def _only_reject(p: SpotParser) -> str:
    assert sum(p.rejects.values()) == 1, dict(p.rejects)
    return next(iter(p.rejects))


def test_the_capture_still_parses():
    rows, p = _parse(_trade())
    assert len(rows) == 1 and not p.rejects


@pytest.mark.parametrize("frame", [b"[" * 5000, b'{"data":' * 5000, "{" * 100_000,
                                   b'{"stream":"x@trade","data":' + b"[" * 5000 + b"]" * 5000 + b"}"])
def test_deep_nesting_is_counted(frame):
    rows, p = _parse(frame)
    assert rows == [] and _only_reject(p) in (RejectReason.TOO_DEEP, RejectReason.INVALID_JSON,
                                              RejectReason.NOT_AN_OBJECT)


@pytest.mark.parametrize("frame", [b"\xff\xfe", b'{"stream":"\xff"}', b'{"data":{"e":"trade","s":"\xff"}}'])
def test_non_utf8_is_invalid_json(frame):
    rows, p = _parse(frame)
    assert rows == [] and _only_reject(p) == RejectReason.INVALID_JSON


@pytest.mark.parametrize("field,value,reason", [
    ("p", "1.5e400", RejectReason.BAD_NUMBER), ("p", "nan", RejectReason.BAD_NUMBER),
    ("q", "inf", RejectReason.BAD_NUMBER), ("p", "-1", RejectReason.BAD_NUMBER),
    ("q", "9" * 5000, RejectReason.BAD_NUMBER), ("p", "10000000000000", RejectReason.OUT_OF_RANGE),
    ("T", -5, RejectReason.BAD_TIME), ("T", 4_102_444_800_001, RejectReason.BAD_TIME),
    ("T", 10**30, RejectReason.BAD_TIME), ("T", 1.5e300, RejectReason.SCHEMA),
    ("t", "x", RejectReason.SCHEMA), ("m", "yes", RejectReason.SCHEMA),
])
def test_bad_values_are_rejected_by_reason(field, value, reason):
    msg = _trade()
    msg["data"][field] = value
    rows, p = _parse(msg)
    assert rows == [] and _only_reject(p) == reason


def test_an_absurd_shutdown_time_falls_back_to_receive_time():
    p = SpotParser()
    d = p.decode(json.dumps({"e": "serverShutdown", "E": 10**18 * 9}), TS)
    assert d.shutdown and p.last_shutdown_ns == TS and not p.rejects
