"""JSON forms of Time, MicroTime, Duration, Quantity and float64, as Go writes and reads them."""

from __future__ import annotations

import pytest

from kijabi.machinery.protobuf import _values

DURATIONS = [
    (0, "0s"),
    (1, "1ns"),
    (999, "999ns"),
    (1_000, "1\u00b5s"),
    (1_500, "1.5\u00b5s"),
    (1_000_000, "1ms"),
    (1_100_000, "1.1ms"),
    (999_999_999, "999.999999ms"),
    (1_000_000_000, "1s"),
    (1_500_000_000, "1.5s"),
    (60_000_000_000, "1m0s"),
    (90_000_000_000, "1m30s"),
    (3_600_000_000_000, "1h0m0s"),
    (3_661_000_000_001, "1h1m1.000000001s"),
    (-1_500_000_000, "-1.5s"),
    (-(1 << 63), "-2562047h47m16.854775808s"),
    ((1 << 63) - 1, "2562047h47m16.854775807s"),
]


@pytest.mark.parametrize(("ns", "text"), DURATIONS, ids=[t for _, t in DURATIONS])
def test_format_duration(ns: int, text: str) -> None:
    """Go's time.Duration.String()."""
    assert _values.format_duration(ns) == text


@pytest.mark.parametrize(("ns", "text"), DURATIONS, ids=[t for _, t in DURATIONS])
def test_parse_duration_round_trip(ns: int, text: str) -> None:
    """time.ParseDuration reads back what String() wrote."""
    assert _values.parse_duration(text) == ns


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("0", 0),
        ("+5s", 5_000_000_000),
        ("1h30m", 5_400_000_000_000),
        ("2us", 2_000),
        ("2\u03bcs", 2_000),
        (".5s", 500_000_000),
    ],
)
def test_parse_duration_forms(text: str, ns: int) -> None:
    """Other spellings Go accepts."""
    assert _values.parse_duration(text) == ns


@pytest.mark.parametrize("text", ["", "5", "1x", "s", "-", "1.2.3s", "9999999999h"])
def test_parse_duration_invalid(text: str) -> None:
    """Spellings Go refuses."""
    with pytest.raises(_values.ValueFormatError):
        _values.parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "1970-01-01T00:00:00Z"),
        (1704164645, "2024-01-02T03:04:05Z"),
        (-1, "1969-12-31T23:59:59Z"),
        (253402300799, "9999-12-31T23:59:59Z"),
        (-62135596799, "0001-01-01T00:00:01Z"),
        (-62135596800, None),  # Go's zero time
    ],
)
def test_format_time(seconds: int, text: str | None) -> None:
    """metav1.Time: RFC 3339 in UTC, whole seconds; the zero time is null."""
    assert _values.format_time(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "nanos", "text"),
    [
        (1704164645, 123_456_789, "2024-01-02T03:04:05.123456Z"),
        (1704164645, 0, "2024-01-02T03:04:05.000000Z"),
        (1704164645, 999, "2024-01-02T03:04:05.000000Z"),
        (1704164645, 1_500_000_000, "2024-01-02T03:04:06.500000Z"),  # Go normalises
        (1704164645, -1_500, "2024-01-02T03:04:04.999999Z"),  # truncation toward zero, then normalised
        (-62135596800, 0, None),
    ],
)
def test_format_micro_time(seconds: int, nanos: int, text: str | None) -> None:
    """metav1.MicroTime: six fractional digits, nanoseconds truncated."""
    assert _values.format_micro_time(seconds, nanos) == text


@pytest.mark.parametrize(
    ("text", "seconds", "nanos"),
    [
        ("2024-01-02T03:04:05Z", 1704164645, 0),
        ("2024-01-02T03:04:05.5Z", 1704164645, 500_000_000),
        ("2024-01-02T04:04:05+01:00", 1704164645, 0),
        ("2024-01-02T02:34:05-00:30", 1704164645, 0),
        ("1969-12-31T23:59:59.25Z", -1, 250_000_000),
        ("0001-01-01T00:00:00Z", -62135596800, 0),
    ],
)
def test_parse_time(text: str, seconds: int, nanos: int) -> None:
    """RFC 3339 text -> seconds since the epoch (floor) and nanoseconds."""
    assert _values.parse_time(text) == (seconds, nanos)


@pytest.mark.parametrize("text", ["2024-01-02", "2024-01-02T03:04:05", "2024-13-02T03:04:05Z", "yesterday"])
def test_parse_time_invalid(text: str) -> None:
    """Not RFC 3339: refused."""
    with pytest.raises(_values.ValueFormatError):
        _values.parse_time(text)


@pytest.mark.parametrize(
    "text",
    [
        "0",
        "1",
        "-1",
        "+1",
        "100m",
        "1.5",
        ".5",
        "1.",
        "1Ki",
        "5Gi",
        "1E",
        "1e3",
        "1E-3",
        "2n",
        "3u",
        "7k",
        "1P",
    ],
)
def test_quantity_accepted(text: str) -> None:
    """Forms upstream's ParseQuantity accepts are passed through unchanged."""
    assert _values.check_quantity(text) == text


@pytest.mark.parametrize("text", ["", "abc", "1ki", "1KB", "1 Gi", "1e", "1.2.3", "--1", "1Gi1"])
def test_quantity_refused(text: str) -> None:
    """Forms upstream refuses."""
    with pytest.raises(_values.ValueFormatError):
        _values.check_quantity(text)


@pytest.mark.parametrize(
    ("value", "expected"), [(5.0, 5), (-0.0, 0), (2.5, 2.5), (1e21, 1e21), (1e20, 10**20), (1e-7, 1e-7)]
)
def test_json_float(value: float, expected: float) -> None:
    """Go writes integral float64 values without a fraction; they read back as ints."""
    result = _values.json_float(value)
    assert result == expected and type(result) is type(expected)
