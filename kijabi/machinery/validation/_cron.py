"""CronJob schedules and time zones, checked the way the API server's cron library reads them.

The API server parses `spec.schedule` with robfig/cron's standard parser (five fields, or a
descriptor such as `@daily` / `@every 1h`) and reports that parser's error text; time zones are
looked up in the IANA database. Both are reproduced here so the 422 messages match.
"""

from __future__ import annotations

import re
import zoneinfo
from functools import lru_cache

_INT_RE = re.compile(r"[+-]?[0-9]+")
_MONTHS = {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())}
_DAYS = {m: i for i, m in enumerate("sun mon tue wed thu fri sat".split())}
# (minimum, maximum, names) of minute, hour, day of month, month, day of week
_FIELDS: list[tuple[int, int, dict[str, int] | None]] = [
    (0, 59, None),
    (0, 23, None),
    (1, 31, None),
    (1, 12, _MONTHS),
    (0, 6, _DAYS),
]
_DESCRIPTORS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})
_UNITS = {"ns": 1, "us": 1, "µs": 1, "μs": 1, "ms": 1, "s": 1, "m": 1, "h": 1}
_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)([a-zµμ]*)")


class _CronError(Exception):
    pass


def _atoi(expr: str) -> int:
    if not _INT_RE.fullmatch(expr):
        raise _CronError(f'failed to parse int from {expr}: strconv.Atoi: parsing "{expr}": invalid syntax')
    value = int(expr)
    if not -(2**63) <= value < 2**63:
        raise _CronError(
            f'failed to parse int from {expr}: strconv.Atoi: parsing "{expr}": value out of range'
        )
    if value < 0:
        raise _CronError(f"negative number ({value}) not allowed: {expr}")
    return value


def _int_or_name(expr: str, names: dict[str, int] | None) -> int:
    if names is not None and expr.lower() in names:
        return names[expr.lower()]
    return _atoi(expr)


def _check_range(expr: str, lo: int, hi: int, names: dict[str, int] | None) -> None:
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    single = len(low_and_high) == 1
    if low_and_high[0] in ("*", "?"):
        start, end = lo, hi
    else:
        start = _int_or_name(low_and_high[0], names)
        if len(low_and_high) == 1:
            end = start
        elif len(low_and_high) == 2:
            end = _int_or_name(low_and_high[1], names)
        else:
            raise _CronError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _atoi(range_and_step[1])
        if single:
            end = hi
    else:
        raise _CronError(f"too many slashes: {expr}")
    if start < lo:
        raise _CronError(f"beginning of range ({start}) below minimum ({lo}): {expr}")
    if end > hi:
        raise _CronError(f"end of range ({end}) above maximum ({hi}): {expr}")
    if start > end:
        raise _CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise _CronError(f"step of range should be a positive number: {expr}")


def _duration_error(text: str) -> str:
    """Go's time.ParseDuration error for `text`, or '' if it parses."""
    quoted = '"' + text + '"'
    rest = text.lstrip("+-") if text[:1] in "+-" else text
    if rest == "0":
        return ""
    if not rest:
        return f"time: invalid duration {quoted}"
    pos = 0
    while pos < len(rest):
        m = _DURATION_PART.match(rest, pos)
        number, unit = (m.group(1), m.group(2)) if m else ("", "")
        if not number or number == ".":
            return f"time: invalid duration {quoted}"
        if not unit:
            return f"time: missing unit in duration {quoted}"
        if unit not in _UNITS:
            return f'time: unknown unit "{unit}" in duration {quoted}'
        pos = m.end() if m else len(rest)
    return ""


@lru_cache(maxsize=256)
def load_location_error(name: str) -> str:
    """Go's time.LoadLocation error text for `name` ('' when the zone exists)."""
    if name in ("", "UTC", "Local"):
        return ""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return f"unknown time zone {name}"
    return ""


@lru_cache(maxsize=512)
def parse_error(spec: str) -> str:
    """The cron library's error for a schedule, or '' when it parses."""
    try:
        _parse(spec)
    except _CronError as exc:
        return str(exc)
    return ""


def _parse(spec: str) -> None:
    if not spec:
        raise _CronError("empty spec string")
    if spec.startswith(("TZ=", "CRON_TZ=")):
        space = spec.find(" ")
        name = spec[spec.index("=") + 1 : space if space >= 0 else len(spec)]
        problem = load_location_error(name)
        if problem:
            raise _CronError(f"provided bad location {name}: {problem}")
        spec = spec[space:].strip() if space >= 0 else ""
    if spec.startswith("@"):
        if spec in _DESCRIPTORS:
            return
        if spec.startswith("@every "):
            problem = _duration_error(spec[len("@every ") :])
            if problem:
                raise _CronError(f"failed to parse duration {spec}: {problem}")
            return
        raise _CronError(f"unrecognized descriptor: {spec}")
    fields = spec.split()
    if len(fields) != 5:
        raise _CronError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    for text, (lo, hi, names) in zip(fields, _FIELDS, strict=True):
        for expr in (part for part in text.split(",") if part):
            _check_range(expr, lo, hi, names)
