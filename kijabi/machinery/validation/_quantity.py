"""A small exact model of resource.Quantity, enough for validation: compare, sign, canonical text.

Validation needs three things from a quantity: its exact value (requests <= limits, "must be an
integer", hugepage divisibility), its sign, and the canonical spelling that upstream messages print
(`must be less than or equal to cpu limit of 500m`). Values are kept as `Fraction`s, so nothing is
rounded except what upstream rounds: quantities are precise to the nano unit, rounded up.

This module is private to the validation package. If `kijabi.machinery.quantity` grows the same
capabilities, this one can become a thin adapter over it.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from functools import lru_cache

QUANTITY_PATTERN = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
QUANTITY_ERROR = f"quantities must match the regular expression '{QUANTITY_PATTERN}'"

_SYNTAX = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?(.*)", re.DOTALL)
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_BY_EXP = {v: k for k, v in _DECIMAL.items()}
_EXPONENT = re.compile(r"[eE]([-+]?[0-9]+)")
_NANO = Fraction(1, 10**9)
_NANOS_PER_UNIT = 10**9

DECIMAL_SI = "DecimalSI"
BINARY_SI = "BinarySI"
DECIMAL_EXPONENT = "DecimalExponent"


class Quantity:
    """An exact quantity (an integer count of nano units) and the suffix family it was written in."""

    __slots__ = ("format", "nanos")

    def __init__(self, nanos: int, fmt: str) -> None:
        self.nanos = nanos
        self.format = fmt

    @property
    def value(self) -> Fraction:
        return Fraction(self.nanos, _NANOS_PER_UNIT)

    def sign(self) -> int:
        return (self.nanos > 0) - (self.nanos < 0)

    def milli_value(self) -> int:
        """The value in thousandths, rounded up (upstream `MilliValue`)."""
        return -(-self.nanos // 1_000_000)

    def int_value(self) -> int:
        """The value rounded up to an integer (upstream `Value`)."""
        return -(-self.nanos // _NANOS_PER_UNIT)

    def __str__(self) -> str:
        return canonical(self.value, self.format)

    def __repr__(self) -> str:
        return f"Quantity({self})"


@lru_cache(maxsize=2048)
def _parse_text(text: str) -> Quantity:
    m = _SYNTAX.fullmatch(text)
    if not m or not text or re.fullmatch(QUANTITY_PATTERN, text) is None:
        raise ValueError(QUANTITY_ERROR)
    sign, whole, frac, suffix = m.group(1), m.group(2), m.group(3), m.group(4)
    if not whole and not frac:
        raise ValueError(QUANTITY_ERROR)
    digits = Fraction(int(whole or "0")) + (Fraction(int(frac), 10 ** len(frac)) if frac else Fraction(0))
    if suffix in _BINARY:
        value, fmt = digits * (1 << _BINARY[suffix]), BINARY_SI
    elif suffix in _DECIMAL:
        value, fmt = digits * Fraction(10) ** _DECIMAL[suffix], DECIMAL_SI
    else:
        e = _EXPONENT.fullmatch(suffix)
        if e is None:
            raise ValueError(QUANTITY_ERROR)
        value, fmt = digits * Fraction(10) ** int(e.group(1)), DECIMAL_EXPONENT
    if sign == "-":
        value = -value
    # Quantities keep nano precision; anything finer is rounded up.
    return Quantity(math.ceil(value / _NANO), fmt)


def parse(raw: object) -> Quantity:
    """A Quantity from its JSON form (string or number); ValueError with upstream's message if invalid."""
    if isinstance(raw, bool):
        raise ValueError(QUANTITY_ERROR)
    if isinstance(raw, int):
        return _parse_text(str(raw))
    if isinstance(raw, float):
        return _parse_text(repr(raw) if raw == raw and raw not in (math.inf, -math.inf) else "x")
    if isinstance(raw, str):
        return _parse_text(raw.strip())
    raise ValueError(QUANTITY_ERROR)


def _largest_decimal_exponent(value: Fraction) -> tuple[int, int]:
    """(mantissa, exponent): exponent a multiple of 3 in [-9, 18], mantissa an integer, exponent maximal."""
    for exp in range(18, -10, -3):
        scaled = value / Fraction(10) ** exp
        if scaled.denominator == 1:
            return int(scaled), exp
    # Nano precision guarantees the loop ends at -9.
    return int(value / _NANO), -9


def canonical(value: Fraction, fmt: str) -> str:
    """Upstream `Quantity.String()`: the largest exact suffix within the value's suffix family."""
    if value == 0:
        return "0"
    if fmt == BINARY_SI:
        if -1024 < value < 1024 or value.denominator != 1:
            fmt = DECIMAL_SI
        else:
            n = int(value)
            shift = 0
            while shift < 60 and n % 1024 == 0:
                n //= 1024
                shift += 10
            suffix = {0: ""} | {v: k for k, v in _BINARY.items()}
            return f"{n}{suffix[shift]}"
    mantissa, exp = _largest_decimal_exponent(value)
    if fmt == DECIMAL_EXPONENT:
        return f"{mantissa}e{exp}" if exp else str(mantissa)
    return f"{mantissa}{_DECIMAL_BY_EXP[exp]}"
