"""Ages: `duration.HumanDuration` boundaries and `translateTimestampSince`."""

from __future__ import annotations

import pytest

from kijabi.machinery.printers import human_duration, translate_timestamp_since

from ._support import NOW, ago, micro_ago

MIN, HOUR, DAY, YEAR = 60, 3600, 86400, 365 * 86400


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        pytest.param(-3, "<invalid>", id="future-3s-invalid"),
        pytest.param(-2, "<invalid>", id="future-2s-invalid"),
        pytest.param(-1.9, "0s", id="future-1.9s-truncates-to-minus-1"),
        pytest.param(-1, "0s", id="future-1s-skew"),
        pytest.param(-0.5, "0s", id="future-half-second"),
        pytest.param(0, "0s", id="zero"),
        pytest.param(0.999, "0s", id="sub-second-truncated"),
        pytest.param(59, "59s", id="59s"),
        pytest.param(119, "119s", id="119s-still-seconds"),
        pytest.param(120, "2m", id="2m-exact"),
        pytest.param(5 * MIN + 3, "5m3s", id="5m3s"),
        pytest.param(9 * MIN + 59, "9m59s", id="9m59s"),
        pytest.param(10 * MIN + 30, "10m", id="10m-drops-seconds"),
        pytest.param(179 * MIN + 59, "179m", id="179m"),
        pytest.param(3 * HOUR, "3h", id="3h-exact"),
        pytest.param(3 * HOUR + 5 * MIN, "3h5m", id="3h5m"),
        pytest.param(7 * HOUR + 59 * MIN, "7h59m", id="7h59m"),
        pytest.param(8 * HOUR + 30 * MIN, "8h", id="8h-drops-minutes"),
        pytest.param(47 * HOUR, "47h", id="47h"),
        pytest.param(48 * HOUR, "2d", id="2d-exact"),
        pytest.param(2 * DAY + 3 * HOUR, "2d3h", id="2d3h"),
        pytest.param(7 * DAY + 23 * HOUR, "7d23h", id="7d23h"),
        pytest.param(8 * DAY + 5 * HOUR, "8d", id="8d-drops-hours"),
        pytest.param(400 * DAY, "400d", id="400d"),
        pytest.param(2 * YEAR - DAY, "729d", id="729d"),
        pytest.param(2 * YEAR, "2y", id="2y-exact"),
        pytest.param(3 * YEAR + 12 * DAY, "3y12d", id="3y12d"),
        pytest.param(8 * YEAR - DAY, "7y364d", id="7y364d"),
        pytest.param(8 * YEAR + 40 * DAY, "8y", id="8y-drops-days"),
        pytest.param(300 * YEAR, "292y", id="saturates-like-go-duration"),
    ],
)
def test_human_duration(seconds: float, expected: str) -> None:
    """Every branch of upstream's HumanDuration, at and around its boundaries."""
    assert human_duration(seconds) == expected


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        pytest.param(None, "<unknown>", id="unset"),
        pytest.param("", "<unknown>", id="empty-string"),
        pytest.param("0001-01-01T00:00:00Z", "<unknown>", id="go-zero-time"),
        pytest.param("garbage", "<unknown>", id="unparsable"),
        pytest.param(ago(minutes=5, seconds=3), "5m3s", id="rfc3339"),
        pytest.param(micro_ago(42.5), "42s", id="micro-time"),
        pytest.param("2024-05-01T12:00:00+02:00", "0s", id="offset-zone"),
        pytest.param(ago(-10), "<invalid>", id="future"),
    ],
)
def test_translate_timestamp_since(timestamp: str | None, expected: str) -> None:
    """Ages of stored timestamps; unset or zero timestamps print `<unknown>`."""
    assert translate_timestamp_since(timestamp, NOW) == expected


def test_timestamp_without_zone_is_utc() -> None:
    """A timestamp without a zone (not produced by servers) is read as UTC, not local time."""
    assert translate_timestamp_since("2024-05-01T09:00:00", NOW) == "60m"
