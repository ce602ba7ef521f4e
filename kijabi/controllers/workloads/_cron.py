"""Cron schedules as the CronJob controller reads them (robfig/cron's standard parser semantics):
five fields (minute hour day-of-month month day-of-week) with `*`, `?`, lists, ranges, steps and
JAN-DEC / SUN-SAT names; descriptors @yearly @annually @monthly @weekly @daily @midnight @hourly and
`@every <duration>`. Day of month and day of week combine with OR unless either is `*` (then AND).
`next(t)` is the first activation strictly after `t`, computed on the wall clock of the schedule's
time zone.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass

_MONTHS = {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())}
_DAYS = {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())}
_BOUNDS = [(0, 59, None), (0, 23, None), (1, 31, None), (1, 12, _MONTHS), (0, 6, _DAYS)]
_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_HORIZON_YEARS = 5


class ScheduleError(ValueError):
    pass


def _value(text: str, names: dict[str, int] | None) -> int:
    if names is not None and text.lower() in names:
        return names[text.lower()]
    if not text.isdigit():
        raise ScheduleError(f"failed to parse int from {text}")
    return int(text)


def _field(expr: str, lo: int, hi: int, names: dict[str, int] | None) -> tuple[frozenset[int], bool]:
    values: set[int] = set()
    star = False
    for part in expr.split(","):
        rng, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step_text and not step_text.isdigit():
            raise ScheduleError(f"failed to parse int from {step_text}")
        if rng in ("*", "?"):
            start, end = lo, hi
            star = not step_text
        elif "-" in rng:
            a, b = rng.split("-", 1)
            start, end = _value(a, names), _value(b, names)
        else:
            start = _value(rng, names)
            end = hi if step_text else start
        if start < lo or end > hi or start > end or step <= 0:
            raise ScheduleError(f"invalid range {part!r}")
        values.update(range(start, end + 1, step))
    return frozenset(values), star


@dataclass(frozen=True)
class Schedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    doms: frozenset[int]
    months: frozenset[int]
    dows: frozenset[int]
    dom_star: bool
    dow_star: bool
    every: float = 0.0

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
            base = after.replace(microsecond=0)
            return base + dt.timedelta(seconds=self.every)
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


def parse(spec: str) -> Schedule:
    spec = spec.strip()
    if spec.startswith("@every "):
        text = spec[len("@every "):].strip()
        total = 0.0
        pos = 0
        for m in _DURATION.finditer(text):
            if m.start() != pos:
                raise ScheduleError(f"failed to parse duration {spec}")
            total += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
            pos = m.end()
        if pos != len(text) or not text:
            raise ScheduleError(f"failed to parse duration {spec}")
        every = max(float(int(total)), 1.0)
        all_: frozenset[int] = frozenset()
        return Schedule(all_, all_, all_, all_, all_, True, True, every=every)
    if spec.startswith("@"):
        if spec not in _DESCRIPTORS:
            raise ScheduleError(f"unrecognized descriptor: {spec}")
        spec = _DESCRIPTORS[spec]
    fields = spec.split()
    if len(fields) != 5:
        raise ScheduleError(f"expected exactly 5 fields, found {len(fields)}: {spec}")
    parsed = [_field(f, lo, hi, names) for f, (lo, hi, names) in zip(fields, _BOUNDS, strict=True)]
    return Schedule(parsed[0][0], parsed[1][0], parsed[2][0], parsed[3][0], parsed[4][0],
                    dom_star=parsed[2][1], dow_star=parsed[4][1])


def zone(name: str | None) -> dt.tzinfo:
    """The time zone of a CronJob (`spec.timeZone`; UTC when unset, as the controller-manager runs)."""
    if not name:
        return dt.UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError(f"unknown time zone {name}") from exc
