"""Go durations: values and Go's exact error text (quoted in validation messages)."""

from __future__ import annotations

import pytest

from kijabi.machinery import duration


@pytest.mark.parametrize(("text", "nanos"), [
    ("0", 0), ("1h2m3.5s", 3_723_500_000_000), ("-1.5s", -1_500_000_000), ("+2ms", 2_000_000),
    (".5s", 500_000_000), ("5.s", 5_000_000_000), ("1µs", 1_000), ("1\u03bcs", 1_000),
    ("9223372036854775807ns", (1 << 63) - 1),
], ids=lambda v: str(v))
def test_parse(text: str, nanos: int) -> None:
    assert duration.parse(text) == nanos


@pytest.mark.parametrize(("text", "message"), [
    ("", 'time: invalid duration ""'),
    ("abc", 'time: invalid duration "abc"'),
    (".s", 'time: invalid duration ".s"'),
    ("1", 'time: missing unit in duration "1"'),
    ("1h1", 'time: missing unit in duration "1h1"'),
    ("1d", 'time: unknown unit "d" in duration "1d"'),
    ("1x2s", 'time: unknown unit "x" in duration "1x2s"'),
    ("9223372036854775808ns", 'time: invalid duration "9223372036854775808ns"'),
], ids=lambda v: str(v))
def test_errors_carry_gos_text(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$".replace(".", r"\.")):
        duration.parse(text)


def test_seconds_takes_bare_numbers() -> None:
    assert duration.seconds("15") == 15.0 and duration.seconds("1m30s") == 90.0 and duration.seconds("2.5") == 2.5
    with pytest.raises(ValueError):
        duration.seconds("nan")
