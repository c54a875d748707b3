"""Exact fixed-point numbers.

Every price and size inside clobflow is a Python ``int`` in **micro-units** (1e-6): the same scale
as the venue's on-chain amounts (pUSD and outcome shares both have 6 decimals). ``0.513`` is
``513_000``; ``3149725.72`` shares is ``3_149_725_720_000``. Floats never enter state; conversion
from and to the venue's decimal strings happens only at the edge, through this module.

A price in micro-units lies in ``[0, 1_000_000]`` for a binary outcome token; ``ONE`` is the
payout of a winning share.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

SCALE_DIGITS = 6
SCALE = 1_000_000
ONE = SCALE
"""One unit (one dollar, one share, or a price of 1.0) in micro-units."""

_PAD = "000000"


class NumberFormatError(ValueError):
    """A venue number could not be represented exactly in micro-units."""


_POW10 = (1_000_000, 100_000, 10_000, 1_000, 100, 10, 1)
_MAX_DIGITS = 30
"""Integer digits accepted (1e30 units is far past any price, size or amount): a longer run
is corrupt, and ``int()`` of thousands of digits would cost time or raise ValueError."""


def parse_micros(text: str) -> int:
    """Convert a decimal string such as ``"0.513"`` or ``"220045"`` to micro-units, exactly.

    Raises:
        NumberFormatError: the text is not a plain decimal, or it has more than 6 fractional
            digits (which would lose precision).
    """
    if text.isascii():  # str.isdigit() and int() also accept other scripts' digits ("١")
        i = text.find(".")
        if i < 0:
            if text.isdigit() and len(text) <= _MAX_DIGITS:
                return int(text) * SCALE
        else:
            head = text[:i]
            frac = text[i + 1 :]
            n = len(frac)
            # Fast path: unsigned digits on both sides (``int`` alone would also accept "1_0", " 1").
            if (n <= SCALE_DIGITS and frac.isdigit() and (head.isdigit() or not head) and (head or frac)
                    and len(head) <= _MAX_DIGITS):
                return int(head + frac) * _POW10[n]
    return _parse_micros_general(text)


def _parse_micros_general(text: str) -> int:
    """Signs, trailing zeros past 6 decimals, and the error cases."""
    if not text.isascii():
        raise NumberFormatError(f"not a decimal number: {text[:40]!r}")
    sign = 1
    body = text
    if body[:1] in ("-", "+"):
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    head, dot, frac = body.partition(".")
    if len(frac) > SCALE_DIGITS:
        # Trailing zeros beyond 6 dp are harmless ("0.5000000"); anything else is not exact.
        frac = frac.rstrip("0")
        if len(frac) > SCALE_DIGITS:
            raise NumberFormatError(f"more than {SCALE_DIGITS} decimals: {text[:40]!r}")
    if not (head.isdigit() or (dot and not head)) or (frac and not frac.isdigit()) or not (head or frac):
        raise NumberFormatError(f"not a decimal number: {text[:40]!r}")
    if len(head) > _MAX_DIGITS:
        raise NumberFormatError(f"more than {_MAX_DIGITS} integer digits: {text[:40]!r}...")
    return sign * int((head or "0") + frac + _PAD[len(frac):])


def micros_from_number(value: float | int | str | Decimal) -> int:
    """Convert a JSON number (Gamma and the Data API send real floats) to micro-units.

    Rounds half-even to the nearest micro-unit: a float such as ``0.07`` is the nearest binary
    approximation of the decimal the venue meant, so rounding recovers it exactly.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value * SCALE
    if isinstance(value, str):
        return parse_micros(value)
    try:
        d = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        return int((d * SCALE).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
    except (InvalidOperation, ValueError, TypeError):
        raise NumberFormatError(f"not a number: {value!r}") from None


def format_micros(value: int, places: int | None = None) -> str:
    """Render micro-units as a plain decimal string (``513_000`` -> ``"0.513"``).

    With ``places`` the result has exactly that many fractional digits (truncating is never
    needed for values that came from the venue; rounding is half-even if it is).
    """
    if places is not None:
        d = (Decimal(value) / SCALE).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
        return f"{d:.{places}f}"
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), SCALE)
    if frac == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:06d}".rstrip("0")


def to_decimal(value: int) -> Decimal:
    """Micro-units as an exact ``Decimal`` (for reports and edges that want one)."""
    return Decimal(value) / SCALE


def complement(price: int) -> int:
    """The price of the other outcome implied by ``price``: ``1 - price``."""
    return ONE - price


class MicrosMemo:
    """``parse_micros`` with a bounded memo, for parsers: venue prices and sizes repeat
    constantly and a dict lookup is several times cheaper than parsing. Pure (the same string
    always gives the same value). ``table`` is exposed so a hot loop can look up inline.

    Calling it accepts a decimal string, an ``int`` (whole units) or a ``float`` (its ``repr``);
    raises ``NumberFormatError`` otherwise or for a string ``parse_micros`` refuses.
    """

    __slots__ = ("table", "limit")

    def __init__(self, limit: int = 200_000) -> None:
        self.table: dict[str, int] = {}
        self.limit = limit

    def __call__(self, s: object) -> int:
        if type(s) is str:
            v = self.table.get(s)
            if v is None:
                v = parse_micros(s)
                if len(self.table) >= self.limit:
                    self.table.clear()  # bounded: a flood of distinct sizes never grows it
                self.table[s] = v
            return v
        if type(s) is int:
            return s * SCALE
        if type(s) is float:
            return parse_micros(repr(s))
        raise NumberFormatError(f"not a number: {s!r}")
