from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clobflow.core.numbers import (
    NumberFormatError,
    format_micros,
    micros_from_number,
    parse_micros,
)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("0.513", 513_000),
        ("220045", 220_045_000_000),
        ("3149725.72", 3_149_725_720_000),
        ("0.0001", 100),
        ("0", 0),
        (".5", 500_000),
        ("-0.25", -250_000),
        ("1.000000", 1_000_000),
        ("0.50000000", 500_000),  # trailing zeros past 6 dp are exact
    ],
)
def test_parse_micros_exact(text, expected):
    assert parse_micros(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "0.1234567", "1e-3", "0.5.1", "--1", "0.x"])
def test_parse_micros_rejects(text):
    with pytest.raises(NumberFormatError):
        parse_micros(text)


def test_micros_from_json_floats_round_to_the_meant_decimal():
    # Gamma sends real floats: 0.07 is not exact in binary but means 70_000 micros.
    assert micros_from_number(0.07) == 70_000
    assert micros_from_number(0.001) == 1_000
    assert micros_from_number(5) == 5_000_000
    assert micros_from_number("0.01") == 10_000


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_format_parse_roundtrip(v):
    assert parse_micros(format_micros(v)) == v


@given(st.decimals(min_value=0, max_value=10**9, places=6, allow_nan=False, allow_infinity=False))
def test_parse_matches_decimal(d):
    assert parse_micros(f"{d:f}") == int(d * 1_000_000)


def test_format_places():
    assert format_micros(513_000) == "0.513"
    assert format_micros(513_000, 2) == "0.51"
    assert format_micros(5_000_000) == "5"
    assert Decimal(format_micros(1)) == Decimal("0.000001")


def test_micros_memo_is_exact_bounded_and_typed():
    from clobflow.core.numbers import MicrosMemo

    m = MicrosMemo(limit=2)
    assert m("0.513") == 513_000 and m("0.513") == 513_000 and m(5) == 5_000_000 and m(0.25) == 250_000
    m("1.5")
    m("2.5")  # the third distinct string clears the full table instead of growing it
    assert len(m.table) <= 2
    with pytest.raises(NumberFormatError):
        m("abc")
    with pytest.raises(NumberFormatError):
        m(None)
