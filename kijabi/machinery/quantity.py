"""Kubernetes `resource.Quantity`: exact fixed-point amounts such as `500m`, `1Gi` or `1e3`.

The specification is apimachinery `pkg/api/resource` (quantity.go, amount.go, suffix.go). A quantity
is an exact decimal `mantissa * 10**exponent` (never a float) plus the suffix family it was written
in (`DecimalSI`, `BinarySI` or `DecimalExponent`), which its canonical text keeps.

Canonical text (`str(q)`, upstream `Quantity.String()`):

- zero is `0`; computed text carries a sign only when the value is negative;
- DecimalSI and DecimalExponent use the largest exponent that is a multiple of 3 and loses nothing,
  written as a suffix (`1000m` -> `1`, `0.0001` -> `100u`, `1000` -> `1k`) or as `e<n>` for
  DecimalExponent (`1.7E18` -> `1700e15`; `1e3` stays `1e3`, it does not become `1k`);
- BinarySI uses the largest power of 1024 (`1.5Gi` -> `1536Mi`), but values in (-1024, 1024) and
  values that are not whole numbers are written in DecimalSI (`0.5Ki` -> `512`);
- a string that upstream's parser recognises as already canonical is kept exactly as written, which
  is why `+1`, `01` and `1.500` come back unchanged (upstream caches the parsed string).

Parsing rounds anything finer than the nano unit up (away from zero), caps BinarySI values at
2^63-1, and fails with `ValueError` carrying upstream's error text. Two upstream quirks are kept
on purpose, since clients see them: DecimalSI values past the `E` suffix lose their suffix
(`1000E` prints as `1`), and exponents wrap at 32 bits like upstream's `int32`.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction
from typing import Any

DECIMAL_SI = "DecimalSI"
BINARY_SI = "BinarySI"
DECIMAL_EXPONENT = "DecimalExponent"

SPLIT_PATTERN = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
ERR_FORMAT_WRONG = f"quantities must match the regular expression '{SPLIT_PATTERN}'"
ERR_NUMERIC = "unable to parse numeric part of quantity"
ERR_SUFFIX = "unable to parse quantity's suffix"

# Base-10 scales (upstream resource.Scale).
NANO = -9
MICRO = -6
MILLI = -3
KILO = 3
MEGA = 6
GIGA = 9
TERA = 12
PETA = 15
EXA = 18

_MAX_INT64 = (1 << 63) - 1
MAX_MILLI_VALUE = _MAX_INT64 // 1000
"""The largest value whose `milli_value()` still fits an int64 (upstream `MaxMilliValue`)."""

# Exponents larger than this are refused by the operations that would have to expand them into
# integers (comparisons of very different magnitudes, scaled values): upstream overflows there too.
_EXPAND_LIMIT = 4096

_DIGITS = frozenset("0123456789")
_SUFFIX_LETTERS = frozenset("eEinumkKMGTP")
_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_BY_EXPONENT = {e: s for s, e in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_POWER = {1: "Ki", 2: "Mi", 3: "Gi", 4: "Ti", 5: "Pi", 6: "Ei"}


class Quantity:
    """An exact amount and the suffix family it prints in. Immutable; compare with ==, <, ...

    Equality and ordering look at the value only (`1k == 1000 == 1e3`), like upstream `Cmp`.
    """

    __slots__ = ("_exponent", "_mantissa", "_text", "format")

    def __init__(
        self, mantissa: int, exponent: int = 0, format: str = DECIMAL_SI, *, text: str | None = None
    ) -> None:
        self._mantissa = mantissa
        self._exponent = exponent
        self.format = format
        self._text = text

    # -- construction ------------------------------------------------------------------------------

    @classmethod
    def from_int(cls, value: int, format: str = DECIMAL_SI) -> Quantity:
        """`value` units (upstream `NewQuantity`)."""
        return cls(value, 0, format)

    @classmethod
    def from_milli(cls, value: int, format: str = DECIMAL_SI) -> Quantity:
        """`value` thousandths (upstream `NewMilliQuantity`)."""
        return cls(value, MILLI, format)

    @classmethod
    def from_scaled(cls, value: int, scale: int) -> Quantity:
        """`value * 10**scale` in DecimalSI (upstream `NewScaledQuantity`)."""
        return cls(value, scale, DECIMAL_SI)

    # -- value ---------------------------------------------------------------------------------------

    def sign(self) -> int:
        return (self._mantissa > 0) - (self._mantissa < 0)

    def is_zero(self) -> bool:
        return self._mantissa == 0

    def as_fraction(self) -> Fraction:
        """The exact value (refuses absurd exponents with OverflowError)."""
        e = self._exponent
        _check_expandable(e)
        return Fraction(self._mantissa * _pow10(e)) if e >= 0 else Fraction(self._mantissa, _pow10(-e))

    def approximate_float(self) -> float:
        """The value as a float, which may lose precision (upstream `AsApproximateFloat64`)."""
        try:
            return float(self._mantissa) * math.pow(10, self._exponent)
        except OverflowError:
            return math.copysign(math.inf, self._mantissa)

    def scaled_value(self, scale: int) -> int:
        """The value in units of `10**scale`, rounded up away from zero (upstream `ScaledValue`).

        Unlike upstream the result is a Python int and does not wrap past int64.
        """
        shift = self._exponent - scale
        _check_expandable(shift)
        if shift >= 0:
            return self._mantissa * _pow10(shift)
        q, r = divmod(abs(self._mantissa), _pow10(-shift))
        if r:
            q += 1
        return q if self._mantissa >= 0 else -q

    def value(self) -> int:
        """The value rounded up to a whole number (upstream `Value`)."""
        return self.scaled_value(0)

    def milli_value(self) -> int:
        """The value in thousandths, rounded up (upstream `MilliValue`)."""
        return self.scaled_value(MILLI)

    def round_up(self, scale: int) -> Quantity:
        """This value rounded up (away from zero) to a multiple of `10**scale` (upstream `RoundUp`).

        Returns `self` when nothing is lost, so a string kept verbatim stays verbatim; compare the
        result with `self` to learn whether the rounding was exact.
        """
        if self._exponent >= scale or self._mantissa == 0:
            return self
        rounded = _round_away(self._mantissa, scale - self._exponent)
        if rounded * _pow10(scale - self._exponent) == self._mantissa:
            return self
        return Quantity(rounded, scale, self.format)

    def cmp(self, other: Quantity) -> int:
        """-1, 0 or 1 as this value is below, equal to or above `other` (upstream `Cmp`)."""
        return _cmp(self._mantissa, self._exponent, other._mantissa, other._exponent)

    # -- arithmetic (formats follow upstream: the left operand's, or the right's when left is 0) --

    def __neg__(self) -> Quantity:
        return Quantity(-self._mantissa, self._exponent, self.format)

    def __add__(self, other: Quantity) -> Quantity:
        m, e = _add(self._mantissa, self._exponent, other._mantissa, other._exponent)
        return Quantity(m, e, other.format if self._mantissa == 0 else self.format)

    def __sub__(self, other: Quantity) -> Quantity:
        m, e = _add(self._mantissa, self._exponent, -other._mantissa, other._exponent)
        return Quantity(m, e, other.format if self._mantissa == 0 else self.format)

    # -- comparison --------------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self.cmp(other) == 0

    def __lt__(self, other: Quantity) -> bool:
        return self.cmp(other) < 0

    def __le__(self, other: Quantity) -> bool:
        return self.cmp(other) <= 0

    def __gt__(self, other: Quantity) -> bool:
        return self.cmp(other) > 0

    def __ge__(self, other: Quantity) -> bool:
        return self.cmp(other) >= 0

    def __hash__(self) -> int:
        m, e = _strip_tens(self._mantissa, self._exponent)
        return hash((m, e if m else 0))

    # -- text ----------------------------------------------------------------------------------------

    def __str__(self) -> str:
        text = self._text
        if text is None:
            text = self._text = _canonical(self._mantissa, self._exponent, self.format)
        return text

    def __repr__(self) -> str:
        return f"Quantity({str(self)!r}, {self.format})"


def parse_quantity(text: str) -> Quantity:
    """Parse `text` exactly like upstream `resource.ParseQuantity` (no surrounding whitespace).

    Raises ValueError with upstream's message: the regular-expression message for malformed text,
    `unable to parse quantity's suffix` for an unknown suffix.
    """
    if not isinstance(text, str) or not text:
        raise ValueError(ERR_FORMAT_WRONG)
    if text == "0":
        return Quantity(0, 0, DECIMAL_SI, text="0")
    positive, value, num, denom, suffix = _scan(text)
    interpreted = _interpret(suffix)
    if interpreted is None:
        raise ValueError(ERR_SUFFIX)
    base, exponent, fmt = interpreted

    # The fast path: the whole number fits an int64 at a scale no finer than nano.
    mantissa = 1
    if fmt == BINARY_SI:
        scale = 0
        if exponent >= 0 and not denom:
            mantissa = 1 << exponent
            precision = 15 - len(num) - (exponent * 3 // 10) - 1
        else:
            precision = -1
    else:
        scale = exponent
        precision = 18 - (len(num) + len(denom))
    if precision >= 0:
        scale -= len(denom)
        if scale >= NANO:
            shifted = num + denom
            digits = int(shifted)
            result = digits * mantissa
            if result <= _MAX_INT64:
                if not positive:
                    result = -result
                keep: str | None = None
                if fmt == BINARY_SI:
                    if exponent % 10 == 0 and digits & 7:
                        keep = text
                elif scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0":
                    keep = text
                return Quantity(result, scale, fmt, text=keep)

    # The general path: exact big decimal arithmetic.
    if not any(c in _DIGITS for c in value):
        raise ValueError(ERR_NUMERIC)
    m = int(num + denom)
    e = -len(denom)
    if base == 10:
        e += exponent
    else:
        m <<= exponent
    if m and e < NANO:
        m = _round_away(m, NANO - e)
        e = NANO
    if fmt == BINARY_SI:
        if _cmp(m, e, _MAX_INT64, 0) > 0:
            m, e = _MAX_INT64, 0
        if _cmp(m, e, 1, 0) < 0 and m > 0:
            fmt = DECIMAL_SI
    return Quantity(m if positive else -m, e, fmt)


def from_json(raw: object) -> Quantity:
    """A Quantity from its JSON form: a string (surrounding whitespace ignored) or a number."""
    if isinstance(raw, str):
        return parse_quantity(raw.strip())
    if isinstance(raw, bool):
        raise ValueError(ERR_FORMAT_WRONG)
    if isinstance(raw, int):
        return parse_quantity(str(raw))
    if isinstance(raw, float) and math.isfinite(raw):
        return parse_quantity(repr(raw))
    raise ValueError(ERR_FORMAT_WRONG)


def canonical(raw: object) -> str:
    """The canonical text of a quantity given in JSON form (ValueError if it is not one)."""
    return str(from_json(raw))


def resource_list_value(raw: Any) -> Any:
    """The value a ResourceList entry holds after upstream decoding and defaulting.

    That is the canonical text of the quantity rounded up to milli units (`0.0001` -> `1m`,
    upstream `SetDefaults_ResourceList`). Values that are not quantities are returned unchanged:
    rejecting them is the decoder's job, not defaulting's.
    """
    if isinstance(raw, str):
        return resource_text(raw)
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        try:
            return str(from_json(raw).round_up(MILLI))
        except ValueError:
            return raw
    return raw


@functools.lru_cache(maxsize=4096)
def resource_text(raw: str) -> str:
    """`resource_list_value` for a string: the rounded canonical text, or `raw` if it is no quantity."""
    try:
        return str(parse_quantity(raw.strip()).round_up(MILLI))
    except ValueError:
        return raw


# -- parsing helpers ---------------------------------------------------------------------------------


def _scan(s: str) -> tuple[bool, str, str, str, str]:
    """Split `s` into (positive, numeric text, integer digits, fraction digits, suffix).

    Mirrors upstream's hand-written scanner, including what it accepts that the documented regular
    expression would not (a lone sign or `.` is zero).
    """
    positive = True
    pos = 0
    end = len(s)
    if s[0] == "-":
        positive = False
        pos = 1
    elif s[0] == "+":
        pos = 1
    while True:  # leading zeros
        if pos >= end:
            return positive, "0", "0", "", ""
        if s[pos] != "0":
            break
        pos += 1
    start = pos
    while True:  # integer digits
        if pos >= end:
            return positive, s, s[start:], "", ""
        if s[pos] not in _DIGITS:
            break
        pos += 1
    num = s[start:pos] or "0"
    denom = ""
    if s[pos] == ".":
        pos += 1
        start = pos
        while True:
            if pos >= end:
                return positive, s, num, s[start:], ""
            if s[pos] not in _DIGITS:
                break
            pos += 1
        denom = s[start:pos]
    value = s[:pos]
    suffix_start = pos
    while True:  # suffix letters
        if pos >= end:
            return positive, value, num, denom, s[suffix_start:]
        if s[pos] not in _SUFFIX_LETTERS:
            break
        pos += 1
    if s[pos] in "+-":
        pos += 1
    while True:  # exponent digits
        if pos >= end:
            return positive, value, num, denom, s[suffix_start:]
        if s[pos] not in _DIGITS:
            raise ValueError(ERR_FORMAT_WRONG)
        pos += 1


def _interpret(suffix: str) -> tuple[int, int, str] | None:
    """(base, exponent, format) of a suffix, or None if it is not one."""
    e = _DECIMAL_SUFFIXES.get(suffix)
    if e is not None:
        return 10, e, DECIMAL_SI
    e = _BINARY_SUFFIXES.get(suffix)
    if e is not None:
        return 2, e, BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE":
        digits = suffix[1:]
        body = digits[1:] if digits[0] in "+-" else digits
        if not body or any(c not in _DIGITS for c in body):
            return None
        parsed = int(digits)
        if not -(1 << 63) <= parsed <= _MAX_INT64:
            return None
        # upstream keeps the exponent in an int32
        parsed = (parsed + (1 << 31)) % (1 << 32) - (1 << 31)
        return 10, parsed, DECIMAL_EXPONENT
    return None


# -- arithmetic helpers -------------------------------------------------------------------------------


def _pow10(n: int) -> int:
    """10**n for n >= 0, typed as an int."""
    return int(10**n)


def _check_expandable(exponent: int) -> None:
    if abs(exponent) > _EXPAND_LIMIT:
        raise OverflowError("quantity exponent out of range")


def _round_away(m: int, places: int) -> int:
    """m / 10**places rounded away from zero."""
    if places <= 0:
        return m * _pow10(-places)
    a = abs(m)
    if places > len(str(a)):
        q = 1 if a else 0
    else:
        q, r = divmod(a, _pow10(places))
        if r:
            q += 1
    return q if m >= 0 else -q


def _magnitude(m: int, e: int) -> int:
    """The position of the leading digit: 10**(magnitude-1) <= |value| < 10**magnitude."""
    return len(str(abs(m))) + e


def _cmp(m1: int, e1: int, m2: int, e2: int) -> int:
    s1 = (m1 > 0) - (m1 < 0)
    s2 = (m2 > 0) - (m2 < 0)
    if s1 != s2:
        return -1 if s1 < s2 else 1
    if s1 == 0:
        return 0
    if e1 != e2:
        g1 = _magnitude(m1, e1)
        g2 = _magnitude(m2, e2)
        if g1 != g2:
            return s1 if g1 > g2 else -s1
        # Same magnitude: the exponents differ by less than the mantissas' lengths.
        if e1 > e2:
            m1 *= _pow10(e1 - e2)
        else:
            m2 *= _pow10(e2 - e1)
    return (m1 > m2) - (m1 < m2)


def _add(m1: int, e1: int, m2: int, e2: int) -> tuple[int, int]:
    if m2 == 0:
        return m1, e1
    if m1 == 0:
        return m2, e2
    if e1 == e2:
        return m1 + m2, e1
    _check_expandable(e1 - e2)
    if e1 > e2:
        return m1 * _pow10(e1 - e2) + m2, e2
    return m1 + m2 * _pow10(e2 - e1), e1


def _strip_tens(m: int, e: int) -> tuple[int, int]:
    if m == 0:
        return 0, 0
    while m % 10 == 0:
        m //= 10
        e += 1
    return m, e


# -- canonical text --------------------------------------------------------------------------------


def _canonical(m: int, e: int, fmt: str) -> str:
    if m == 0:
        return "0"
    if fmt == BINARY_SI:
        text = _binary_text(m, e)
        if text is not None:
            return text
        fmt = DECIMAL_SI
    m, e = _strip_tens(m, e)
    down = e % 3
    if down:
        m *= _pow10(down)
        e -= down
    if fmt == DECIMAL_EXPONENT:
        return f"{m}e{e}" if e else str(m)
    # Upstream writes no suffix at all past `E` (or below `n`): kept as it is.
    return f"{m}{_DECIMAL_BY_EXPONENT.get(e, '')}"


def _binary_text(m: int, e: int) -> str | None:
    """The BinarySI text of a whole value of at least 1024 in magnitude, else None (use DecimalSI)."""
    if e < 0:
        n, r = divmod(abs(m), _pow10(-e))
        if r:
            return None
    else:
        if e > _EXPAND_LIMIT:
            return None
        n = abs(m) * _pow10(e)
    if n < 1024:
        return None
    power = 0
    while n % 1024 == 0 and n >= 1024:
        n //= 1024
        power += 1
    sign = "-" if m < 0 else ""
    return f"{sign}{n}{_BINARY_BY_POWER.get(power, '')}"
