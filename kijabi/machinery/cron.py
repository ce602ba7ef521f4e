"""Cron schedules as Kubernetes reads them: robfig/cron's standard parser, for the API server's
validation (its error text is quoted in 422 messages), the CronJob controller and scheduled snapshots.

Five fields (minute hour day-of-month month day-of-week) with `*`, `?`, lists, ranges, steps and
JAN-DEC / SUN-SAT names; an optional `TZ=<zone>` / `CRON_TZ=<zone>` prefix; descriptors @yearly
@annually @monthly @weekly @daily @midnight @hourly and `@every <Go duration>`. Day of month and day of
week combine with OR unless either is `*` (then AND). `Schedule.next(t)` is the first activation
strictly after `t`, computed on the wall clock of `t`'s time zone.

    parse(spec) -> Schedule            ScheduleError with the library's message
    parse_error(spec) -> str           that message, or ""
    zone(name) -> tzinfo               a CronJob's spec.timeZone (UTC when unset); ScheduleError
    load_location_error(name) -> str   Go's time.LoadLocation error text, or ""
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass
from functools import lru_cache

from kijabi.machinery import duration

_INT = re.compile(r"[+-]?[0-9]+")
_MONTHS = {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())}
_DAYS = {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())}
# (minimum, maximum, names) of minute, hour, day of month, month, day of week
_FIELDS: list[tuple[int, int, dict[str, int] | None]] = [
    (0, 59, None), (0, 23, None), (1, 31, None), (1, 12, _MONTHS), (0, 6, _DAYS),
]
_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}
_HORIZON_YEARS = 5


class ScheduleError(ValueError):
    pass


@dataclass(frozen=True)
class Schedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    doms: frozenset[int]
    months: frozenset[int]
    dows: frozenset[int]
    dom_star: bool
    dow_star: bool
    every: float = 0.0  # @every: seconds between activations
    location: str = ""  # the TZ= prefix, if any

    def _day_matches(self, day: dt.datetime) -> bool:
        dom_ok = day.day in self.doms
        dow_ok = (day.isoweekday() % 7) in self.dows
        if self.dom_star or self.dow_star:
            return dom_ok and dow_ok
        return dom_ok or dow_ok

    def next(self, after: dt.datetime) -> dt.datetime | None:
        """The first activation strictly after `after` (an aware datetime), in `after`'s zone; None when
        the schedule never fires (such as 30 February)."""
        if self.every:
            return after.replace(microsecond=0) + dt.timedelta(seconds=self.every)
        tz = after.tzinfo
        t = after.replace(tzinfo=None, second=0, microsecond=0) + dt.timedelta(minutes=1)
        limit = t.year + _HORIZON_YEARS
        while t.year <= limit:
            if t.month not in self.months:
                t = (t.replace(day=1, hour=0, minute=0) + dt.timedelta(days=32)).replace(day=1)
                continue
            if not self._day_matches(t):
                t = t.replace(hour=0, minute=0) + dt.timedelta(days=1)
                continue
            if t.hour not in self.hours:
                t = t.replace(minute=0) + dt.timedelta(hours=1)
                continue
            if t.minute not in self.minutes:
                t = t + dt.timedelta(minutes=1)
                continue
            return t.replace(tzinfo=tz)
        return None


def _atoi(expr: str) -> int:
    if not _INT.fullmatch(expr):
        raise ScheduleError(f'failed to parse int from {expr}: strconv.Atoi: parsing "{expr}": invalid syntax')
    value = int(expr)
    if not -(2**63) <= value < 2**63:
        raise ScheduleError(f'failed to parse int from {expr}: strconv.Atoi: parsing "{expr}": value out of range')
    if value < 0:
        raise ScheduleError(f"negative number ({value}) not allowed: {expr}")
    return value


def _int_or_name(expr: str, names: dict[str, int] | None) -> int:
    if names is not None and expr.lower() in names:
        return names[expr.lower()]
    return _atoi(expr)


def _range(expr: str, lo: int, hi: int, names: dict[str, int] | None) -> tuple[range, bool]:
    """The values of one comma-separated part of a field, and whether it is a bare `*` / `?`."""
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    single = len(low_and_high) == 1
    star = False
    if low_and_high[0] in ("*", "?"):
        start, end, star = lo, hi, True
    else:
        start = _int_or_name(low_and_high[0], names)
        if len(low_and_high) == 1:
            end = start
        elif len(low_and_high) == 2:
            end = _int_or_name(low_and_high[1], names)
        else:
            raise ScheduleError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _atoi(range_and_step[1])
        star = star and step == 1
        if single:
            end = hi
    else:
        raise ScheduleError(f"too many slashes: {expr}")
    if start < lo:
        raise ScheduleError(f"beginning of range ({start}) below minimum ({lo}): {expr}")
    if end > hi:
        raise ScheduleError(f"end of range ({end}) above maximum ({hi}): {expr}")
    if start > end:
        raise ScheduleError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise ScheduleError(f"step of range should be a positive number: {expr}")
    return range(start, end + 1, step), star


def _field(text: str, lo: int, hi: int, names: dict[str, int] | None) -> tuple[frozenset[int], bool]:
    values: set[int] = set()
    star = False
    for expr in (part for part in text.split(",") if part):
        found, is_star = _range(expr, lo, hi, names)
        values.update(found)
        star = star or is_star
    return frozenset(values), star


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


def zone(name: str | None) -> dt.tzinfo:
    """The time zone of a CronJob (`spec.timeZone`; UTC when unset, as the controller-manager runs)."""
    if name in (None, "", "UTC", "Local"):  # the controller-manager's zone is UTC
        return dt.UTC
    problem = load_location_error(name)
    if problem:
        raise ScheduleError(problem)
    return zoneinfo.ZoneInfo(name)


@lru_cache(maxsize=512)
def parse(spec: str) -> Schedule:
    if not spec:
        raise ScheduleError("empty spec string")
    location = ""
    if spec.startswith(("TZ=", "CRON_TZ=")):
        space = spec.find(" ")
        location = spec[spec.index("=") + 1 : space if space >= 0 else len(spec)]
        problem = load_location_error(location)
        if problem:
            raise ScheduleError(f"provided bad location {location}: {problem}")
        spec = spec[space:].strip() if space >= 0 else ""
    if spec.startswith("@every "):
        try:
            nanos = duration.parse(spec[len("@every "):])
        except ValueError as exc:
            raise ScheduleError(f"failed to parse duration {spec}: {exc}") from None
        none: frozenset[int] = frozenset()
        every = max(float(nanos // 1_000_000_000), 1.0)  # whole seconds, at least one
        return Schedule(none, none, none, none, none, True, True, every=every, location=location)
    if spec.startswith("@"):
        if spec not in _DESCRIPTORS:
            raise ScheduleError(f"unrecognized descriptor: {spec}")
        spec = _DESCRIPTORS[spec]
    fields = spec.split()
    if len(fields) != 5:
        raise ScheduleError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    parsed = [_field(text, lo, hi, names) for text, (lo, hi, names) in zip(fields, _FIELDS, strict=True)]
    return Schedule(parsed[0][0], parsed[1][0], parsed[2][0], parsed[3][0], parsed[4][0],
                    dom_star=parsed[2][1], dow_star=parsed[4][1], location=location)


def parse_error(spec: str) -> str:
    """The cron library's error for a schedule, or '' when it parses."""
    try:
        parse(spec)
    except ScheduleError as exc:
        return str(exc)
    return ""
