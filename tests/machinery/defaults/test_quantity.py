"""resource.Quantity: parsing, canonical text, rounding and comparison, as upstream's quantity_test.go."""

from __future__ import annotations

from fractions import Fraction

import pytest

from kijabi.machinery.quantity import (
    BINARY_SI,
    DECIMAL_EXPONENT,
    DECIMAL_SI,
    ERR_FORMAT_WRONG,
    ERR_SUFFIX,
    MILLI,
    Quantity,
    canonical,
    from_json,
    parse_quantity,
    resource_list_value,
)

F = Fraction
MAX_INT64 = 2**63 - 1

# (input, exact value, format) -- upstream TestQuantityParse.
PARSE = [
    ("0", F(0), DECIMAL_SI),
    ("0n", F(0), DECIMAL_SI),
    ("0u", F(0), DECIMAL_SI),
    ("0m", F(0), DECIMAL_SI),
    ("0Ki", F(0), BINARY_SI),
    ("0k", F(0), DECIMAL_SI),
    ("0Mi", F(0), BINARY_SI),
    ("0M", F(0), DECIMAL_SI),
    ("0Gi", F(0), BINARY_SI),
    ("0G", F(0), DECIMAL_SI),
    ("0Ti", F(0), BINARY_SI),
    ("0T", F(0), DECIMAL_SI),
    ("1", F(1), DECIMAL_SI),
    ("1Ki", F(1024), BINARY_SI),
    ("8Ki", F(8 * 1024), BINARY_SI),
    ("7Mi", F(7 * 2**20), BINARY_SI),
    ("6Gi", F(6 * 2**30), BINARY_SI),
    ("5Ti", F(5 * 2**40), BINARY_SI),
    ("4Pi", F(4 * 2**50), BINARY_SI),
    ("3Ei", F(3 * 2**60), BINARY_SI),
    ("10Ti", F(10 * 2**40), BINARY_SI),
    ("100Ti", F(100 * 2**40), BINARY_SI),
    ("5n", F(5, 10**9), DECIMAL_SI),
    ("4u", F(4, 10**6), DECIMAL_SI),
    ("3m", F(3, 1000), DECIMAL_SI),
    ("9", F(9), DECIMAL_SI),
    ("8k", F(8000), DECIMAL_SI),
    ("50k", F(50000), DECIMAL_SI),
    ("7M", F(7 * 10**6), DECIMAL_SI),
    ("6G", F(6 * 10**9), DECIMAL_SI),
    ("5T", F(5 * 10**12), DECIMAL_SI),
    ("40T", F(4 * 10**13), DECIMAL_SI),
    ("300T", F(3 * 10**14), DECIMAL_SI),
    ("2P", F(2 * 10**15), DECIMAL_SI),
    ("1E", F(10**18), DECIMAL_SI),
    ("1E-3", F(1, 1000), DECIMAL_EXPONENT),
    ("1e3", F(1000), DECIMAL_EXPONENT),
    ("1E6", F(10**6), DECIMAL_EXPONENT),
    ("1e9", F(10**9), DECIMAL_EXPONENT),
    ("1E12", F(10**12), DECIMAL_EXPONENT),
    ("1e15", F(10**15), DECIMAL_EXPONENT),
    ("1E18", F(10**18), DECIMAL_EXPONENT),
    ("1e14", F(10**14), DECIMAL_EXPONENT),
    ("1e13", F(10**13), DECIMAL_EXPONENT),
    ("100.035k", F(100035), DECIMAL_SI),
    ("0.001", F(1, 1000), DECIMAL_SI),
    ("0.0005k", F(1, 2), DECIMAL_SI),
    ("0.005", F(5, 1000), DECIMAL_SI),
    ("0.05", F(5, 100), DECIMAL_SI),
    ("0.5", F(1, 2), DECIMAL_SI),
    ("0.00050k", F(1, 2), DECIMAL_SI),
    ("0.00500", F(5, 1000), DECIMAL_SI),
    ("0.05000", F(5, 100), DECIMAL_SI),
    ("0.50000", F(1, 2), DECIMAL_SI),
    ("0.5e0", F(1, 2), DECIMAL_EXPONENT),
    ("0.5e-1", F(5, 100), DECIMAL_EXPONENT),
    ("0.5e-2", F(5, 1000), DECIMAL_EXPONENT),
    ("10.035M", F(10035000), DECIMAL_SI),
    ("1.2e3", F(1200), DECIMAL_EXPONENT),
    ("1.3E+6", F(1300000), DECIMAL_EXPONENT),
    ("1.40e9", F(14 * 10**8), DECIMAL_EXPONENT),
    ("1.53E12", F(153 * 10**10), DECIMAL_EXPONENT),
    ("1.6e15", F(16 * 10**14), DECIMAL_EXPONENT),
    ("1.7E18", F(17 * 10**17), DECIMAL_EXPONENT),
    ("9.01", F(901, 100), DECIMAL_SI),
    ("8.1k", F(8100), DECIMAL_SI),
    ("7.123456M", F(7123456), DECIMAL_SI),
    ("6.987654321G", F(6987654321), DECIMAL_SI),
    ("5.444T", F(5444 * 10**9), DECIMAL_SI),
    ("40.1T", F(401 * 10**11), DECIMAL_SI),
    ("300.2T", F(3002 * 10**11), DECIMAL_SI),
    ("2.5P", F(25 * 10**14), DECIMAL_SI),
    ("1.01E", F(101 * 10**16), DECIMAL_SI),
    # rounded up to nano, or capped
    ("3.001n", F(4, 10**9), DECIMAL_SI),
    ("1.1E-9", F(2, 10**9), DECIMAL_EXPONENT),
    ("0.0000000001", F(1, 10**9), DECIMAL_SI),
    ("0.0000000005", F(1, 10**9), DECIMAL_SI),
    ("0.00000000050", F(1, 10**9), DECIMAL_SI),
    ("0.5e-9", F(1, 10**9), DECIMAL_EXPONENT),
    ("0.9n", F(1, 10**9), DECIMAL_SI),
    ("0.00000012345", F(124, 10**9), DECIMAL_SI),
    ("0.00000012354", F(124, 10**9), DECIMAL_SI),
    ("9Ei", F(MAX_INT64), BINARY_SI),
    ("9223372036854775807Ki", F(MAX_INT64), BINARY_SI),
    ("12E", F(12 * 10**18), DECIMAL_SI),
    # fractional binary
    ("100.035Ki", F(10243584, 100), BINARY_SI),
    ("0.5Mi", F(2**19), BINARY_SI),
    ("0.05Gi", F(536870912, 10), BINARY_SI),
    ("0.025Ti", F(274877906944, 10), BINARY_SI),
    # odd but accepted
    ("0.000000000001Ki", F(2, 10**9), DECIMAL_SI),
    (".001", F(1, 1000), DECIMAL_SI),
    (".0001k", F(1, 10), DECIMAL_SI),
    ("1.", F(1), DECIMAL_SI),
    ("1.G", F(10**9), DECIMAL_SI),
]


@pytest.mark.parametrize(("text", "value", "fmt"), PARSE, ids=[p[0] for p in PARSE])
def test_parse_value_and_format(text: str, value: Fraction, fmt: str) -> None:
    """Every form parses to its exact value and remembers its suffix family; signs apply too."""
    q = parse_quantity(text)
    assert q.as_fraction() == value
    assert q.format == fmt
    negative = parse_quantity("-" + text)
    assert negative.as_fraction() == -value
    assert negative.format == fmt
    explicit = parse_quantity("+" + text)
    assert explicit.as_fraction() == value
    assert explicit.format == fmt


INVALID = [
    ("", ERR_FORMAT_WRONG),
    ("1.1.M", ERR_FORMAT_WRONG),
    ("1+1.0M", ERR_FORMAT_WRONG),
    ("0.1mi", ERR_SUFFIX),
    ("0.1am", ERR_FORMAT_WRONG),
    ("aoeu", ERR_FORMAT_WRONG),
    (".5i", ERR_SUFFIX),
    ("1i", ERR_SUFFIX),
    ("-3.01i", ERR_SUFFIX),
    ("-3.01e-", ERR_SUFFIX),
    (" 1", ERR_FORMAT_WRONG),
    ("1 ", ERR_FORMAT_WRONG),
    ("Non-Numeric", ERR_FORMAT_WRONG),
    ("1e", ERR_SUFFIX),
    ("1Gi5", ERR_SUFFIX),
    ("1.5.5", ERR_FORMAT_WRONG),
    ("१", ERR_FORMAT_WRONG),
]


@pytest.mark.parametrize(("text", "message"), INVALID, ids=[repr(t) for t, _ in INVALID])
def test_invalid_text_raises_upstream_message(text: str, message: str) -> None:
    """Malformed quantities fail with upstream's exact error text."""
    with pytest.raises(ValueError) as info:
        parse_quantity(text)
    assert str(info.value) == message


def test_format_error_names_upstream_regular_expression() -> None:
    """The format error quotes upstream's regular expression verbatim."""
    assert ERR_FORMAT_WRONG == (
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )


# (mantissa, exponent, format, canonical text, another spelling of it) -- upstream TestQuantityString.
STRING = [
    (2**30, 0, BINARY_SI, "1Gi", "1024Mi"),
    (300 * 2**20, 0, BINARY_SI, "300Mi", "307200Ki"),
    (6 * 1024, 0, BINARY_SI, "6Ki", ""),
    (1001 * 2**30, 0, BINARY_SI, "1001Gi", "1025024Mi"),
    (2**40, 0, BINARY_SI, "1Ti", "1024Gi"),
    (5, 0, BINARY_SI, "5", "5000m"),
    (500, -3, BINARY_SI, "500m", "0.5"),
    (1, 9, DECIMAL_SI, "1G", "1000M"),
    (1000, 6, DECIMAL_SI, "1G", "0.001T"),
    (1000000, 3, DECIMAL_SI, "1G", ""),
    (1000000000, 0, DECIMAL_SI, "1G", ""),
    (1, -3, DECIMAL_SI, "1m", "1000u"),
    (80, -3, DECIMAL_SI, "80m", ""),
    (1080, -3, DECIMAL_SI, "1080m", "1.08"),
    (108, -2, DECIMAL_SI, "1080m", "1080000000n"),
    (10800, -4, DECIMAL_SI, "1080m", ""),
    (300, 6, DECIMAL_SI, "300M", ""),
    (1, 12, DECIMAL_SI, "1T", ""),
    (1234567, 6, DECIMAL_SI, "1234567M", ""),
    (1234567, -3, BINARY_SI, "1234567m", ""),
    (3, 3, DECIMAL_SI, "3k", ""),
    (1025, 0, BINARY_SI, "1025", ""),
    (0, 0, DECIMAL_SI, "0", ""),
    (0, 0, BINARY_SI, "0", ""),
    (1, 9, DECIMAL_EXPONENT, "1e9", ".001e12"),
    (1, -3, DECIMAL_EXPONENT, "1e-3", "0.001e0"),
    (1, -9, DECIMAL_EXPONENT, "1e-9", "1000e-12"),
    (80, -3, DECIMAL_EXPONENT, "80e-3", ""),
    (300, 6, DECIMAL_EXPONENT, "300e6", ""),
    (1, 12, DECIMAL_EXPONENT, "1e12", ""),
    (1, 3, DECIMAL_EXPONENT, "1e3", ""),
    (3, 3, DECIMAL_EXPONENT, "3e3", ""),
    (0, 0, DECIMAL_EXPONENT, "0", "00"),
    (1, -9, DECIMAL_SI, "1n", ""),
    (80, -9, DECIMAL_SI, "80n", ""),
    (1080, -9, DECIMAL_SI, "1080n", ""),
    (108, -8, DECIMAL_SI, "1080n", ""),
    (10800, -10, DECIMAL_SI, "1080n", ""),
    (1, -6, DECIMAL_SI, "1u", ""),
    (80, -6, DECIMAL_SI, "80u", ""),
    (1080, -6, DECIMAL_SI, "1080u", ""),
]


@pytest.mark.parametrize(
    ("mantissa", "exponent", "fmt", "text", "alternate"), STRING, ids=[s[3] for s in STRING]
)
def test_canonical_text(mantissa: int, exponent: int, fmt: str, text: str, alternate: str) -> None:
    """Values print in canonical form; the canonical text and other spellings parse back to it."""
    q = Quantity(mantissa, exponent, fmt)
    assert str(q) == text
    assert str(parse_quantity(text)) == text
    if alternate:
        assert str(parse_quantity(alternate)) == text
    if mantissa:
        assert str(-q) == "-" + text


# input -> canonical text (upstream TestQuantityParseEmit, the reference's examples, and the texts
# upstream keeps exactly as written because its parser takes them for canonical).
EMIT = [
    ("1Ki", "1Ki"),
    ("1Mi", "1Mi"),
    ("1Gi", "1Gi"),
    ("1024Mi", "1Gi"),
    ("1000M", "1G"),
    (".001Ki", "1024m"),
    (".000001Ki", "1024u"),
    (".000000001Ki", "1024n"),
    (".000000000001Ki", "2n"),
    ("0.0001", "100u"),
    ("1000m", "1"),
    ("1.5Gi", "1536Mi"),
    ("1e3", "1e3"),
    ("0.5", "500m"),
    ("1000", "1k"),
    ("1.5", "1500m"),
    ("1.7E18", "1700e15"),
    ("512Ki", "512Ki"),
    ("0.5Ki", "512"),
    ("1536Ki", "1536Ki"),
    ("2048Ki", "2Mi"),
    ("9Ei", "9223372036854775807"),
    ("+1", "+1"),
    ("01", "01"),
    ("1.500", "1.500"),
    ("+1Ki", "+1Ki"),
    ("-0", "0"),
    ("0.0", "0"),
    ("1000E", "1"),
]


@pytest.mark.parametrize(("text", "expected"), EMIT, ids=[e[0] for e in EMIT])
def test_parse_then_print(text: str, expected: str) -> None:
    """Parsing then printing gives upstream's text, including its verbatim-kept spellings and quirks."""
    assert str(parse_quantity(text)) == expected


@pytest.mark.parametrize(("text", "expected"), EMIT[:9], ids=[e[0] for e in EMIT[:9]])
def test_parse_then_print_negative(text: str, expected: str) -> None:
    """The negative of every emitted value prints with a leading minus."""
    assert str(parse_quantity("-" + text)) == "-" + expected


# (input, scale, rounded value, exact) -- upstream TestQuantityRoundUp.
ROUND_UP = [
    ("9.01", -3, F(901, 100), True),
    ("9.01", -2, F(901, 100), True),
    ("9.01", -1, F(91, 10), False),
    ("9.01", 0, F(10), False),
    ("9.01", 1, F(10), False),
    ("9.01", 2, F(100), False),
    ("-9.01", -3, F(-901, 100), True),
    ("-9.01", -2, F(-901, 100), True),
    ("-9.01", -1, F(-91, 10), False),
    ("-9.01", 0, F(-10), False),
    ("-9.01", 1, F(-10), False),
    ("-9.01", 2, F(-100), False),
]


@pytest.mark.parametrize(
    ("text", "scale", "value", "exact"), ROUND_UP, ids=[f"{r[0]}@{r[1]}" for r in ROUND_UP]
)
def test_round_up(text: str, scale: int, value: Fraction, exact: bool) -> None:
    """round_up rounds away from zero and returns the same object when nothing was lost."""
    q = parse_quantity(text)
    rounded = q.round_up(scale)
    assert rounded.as_fraction() == value
    assert (rounded is q) == exact


RESOURCE_VALUES = [
    ("0.0001", "1m"),
    ("100u", "1m"),
    ("5u", "1m"),
    ("1.000001", "1001m"),
    ("1.5Gi", "1536Mi"),
    ("500m", "500m"),
    ("0.5", "500m"),
    ("1000m", "1"),
    ("1e3", "1e3"),
    ("1e-9", "1e-3"),
    ("+1", "+1"),
    (" 2 ", "2"),
    (2, "2"),
    (0.5, "500m"),
    ("not a quantity", "not a quantity"),
    (True, True),
    (None, None),
]


@pytest.mark.parametrize(("raw", "expected"), RESOURCE_VALUES, ids=[repr(r[0]) for r in RESOURCE_VALUES])
def test_resource_list_value(raw: object, expected: object) -> None:
    """ResourceList values are rounded up to milli units and written canonically; junk is left alone."""
    assert resource_list_value(raw) == expected
    assert resource_list_value(resource_list_value(raw)) == expected


CMP = [
    ("0", "0", 0),
    ("100m", "50m", 1),
    ("50m", "100m", -1),
    ("10000T", "100Gi", 1),
    ("1k", "1000", 0),
    ("1e3", "1k", 0),
    ("1Ki", "1024", 0),
    ("-1", "1", -1),
    ("-2", "-1", -1),
    ("1e30", "1e29", 1),
    ("-1e30", "1", -1),
    ("1n", "0", 1),
    ("999999999999999999999", "1e21", -1),
]


@pytest.mark.parametrize(("a", "b", "expected"), CMP, ids=[f"{a}?{b}" for a, b, _ in CMP])
def test_compare(a: str, b: str, expected: int) -> None:
    """Comparison is by exact value, whatever the spelling; it is antisymmetric."""
    x, y = parse_quantity(a), parse_quantity(b)
    assert x.cmp(y) == expected
    assert y.cmp(x) == -expected
    assert (x == y) == (expected == 0)
    assert (x < y) == (expected < 0)
    assert (x >= y) == (expected >= 0)
    if expected == 0:
        assert hash(x) == hash(y)


VALUES = [
    ("1", 1, 1000),
    ("100m", 1, 100),
    ("1.5", 2, 1500),
    ("1n", 1, 1),
    ("1Ki", 1024, 1024000),
    ("-1.5", -2, -1500),
    ("0", 0, 0),
]


@pytest.mark.parametrize(("text", "value", "milli"), VALUES, ids=[v[0] for v in VALUES])
def test_value_and_milli_value(text: str, value: int, milli: int) -> None:
    """value() and milli_value() round up, away from zero."""
    q = parse_quantity(text)
    assert q.value() == value
    assert q.milli_value() == milli


def test_add_and_sub_keep_left_format_unless_left_is_zero() -> None:
    """Sums take the left operand's format, or the right one's when the left is zero (upstream Add)."""
    zero = parse_quantity("0")
    gib = parse_quantity("1Gi")
    assert str(zero + gib) == "1Gi"
    assert str(gib + zero) == "1Gi"
    assert str(parse_quantity("100m") + zero) == "100m"
    assert str(zero - parse_quantity("100m")) == "-100m"
    assert str(parse_quantity("1Gi") - parse_quantity("512Mi")) == "512Mi"
    assert str(parse_quantity("1") + parse_quantity("500m")) == "1500m"


def test_constructors() -> None:
    """from_int / from_milli / from_scaled build upstream's NewQuantity family."""
    assert str(Quantity.from_int(5, BINARY_SI)) == "5"
    assert str(Quantity.from_int(2048, BINARY_SI)) == "2Ki"
    assert str(Quantity.from_milli(1500)) == "1500m"
    assert str(Quantity.from_scaled(3, 6)) == "3M"


JSON = [
    ("1", "1"),
    (" 1", "1"),
    ("1 ", "1"),
    (1, "1"),
    (10, "10"),
    (-1, "-1"),
    (0.5, "500m"),
]


@pytest.mark.parametrize(("raw", "text"), JSON, ids=[repr(j[0]) for j in JSON])
def test_json_forms(raw: object, text: str) -> None:
    """JSON strings (whitespace trimmed) and numbers are quantities (upstream TestJSONWhitespace)."""
    assert canonical(raw) == text
    assert str(from_json(raw)) == text


@pytest.mark.parametrize("raw", [True, None, [], {}, float("nan"), "x"], ids=repr)
def test_json_non_quantities_raise(raw: object) -> None:
    """Booleans, null, containers, NaN and junk are not quantities."""
    with pytest.raises(ValueError):
        from_json(raw)


def test_huge_exponents_do_not_expand() -> None:
    """Absurd exponents parse, print and compare without building giant integers."""
    q = parse_quantity("1e2000000000")
    assert str(q) == "100e1999999998"
    assert str(Quantity(10, 1999999998, DECIMAL_EXPONENT)) == "10e1999999998"
    assert q > parse_quantity("1e1999999999")
    assert str(parse_quantity("1e-2000000000")) == "1e-9"
    assert str(q.round_up(MILLI)) == "100e1999999998"
    with pytest.raises(OverflowError):
        q.value()
