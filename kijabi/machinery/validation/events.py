"""The events.k8s.io group: Event (upstream kubernetes `pkg/apis/core/validation/events.go`).

Unlike core/v1 writes, events.k8s.io/v1 writes get the full rules: ObjectMeta, a required
eventTime, a Normal/Warning type, and the deprecated core fields left unset. Error paths use the
internal field names (`involvedObject`, `message`, `firstTimestamp`, ...), as upstream's do.
"""

from __future__ import annotations

from kijabi.machinery import errors as E

from . import meta
from ._util import Ctx, Errs, Obj, Validator, d, immutable, num, s, sem_equal
from .core import legacy_event_rules

_NAMES = {"involvedObject": "regarding", "message": "note", "reportingController": "reportingController"}

# internal name -> events.k8s.io/v1 JSON name, for the fields an update may not change
_IMMUTABLE = [
    ("involvedObject", "regarding"),
    ("reason", "reason"),
    ("message", "note"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
    ("type", "type"),
    ("eventTime", "eventTime"),
    ("action", "action"),
    ("related", "related"),
    ("reportingController", "reportingController"),
    ("reportingInstance", "reportingInstance"),
]


def _series(event: Obj) -> Errs:
    series = event.get("series")
    if series is None:
        return []
    errs: Errs = []
    if num(d(series).get("count")) < 2:
        errs.append(E.invalid_value("series.count", "", "should be at least 2"))
    if not d(series).get("lastObservedTime"):
        errs.append(E.required("series.lastObservedTime"))
    return errs


def _event(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
    errs = legacy_event_rules(obj, reporting_field="reportingController", names=_NAMES)
    if old is not None:
        errs.extend(meta.validate_object_meta_update(obj.get("metadata"), old.get("metadata")))
        if not sem_equal(obj.get("series"), old.get("series")):
            errs.extend(_series(obj))
        for internal, external in _IMMUTABLE:
            immutable(obj.get(external), old.get(external), internal, errs)
        return errs
    errs.extend(meta.validate_object_meta(obj.get("metadata"), True, meta.name_is_dns_subdomain))
    errs.extend(_series(obj))
    if not obj.get("eventTime"):
        errs.append(E.required("eventTime"))
    kind = s(obj.get("type"))
    if kind not in ("Normal", "Warning"):
        errs.append(E.invalid_value("type", "", f"has invalid value: {kind}"))
    for internal, external in (
        ("firstTimestamp", "deprecatedFirstTimestamp"),
        ("lastTimestamp", "deprecatedLastTimestamp"),
    ):
        if obj.get(external):
            errs.append(E.invalid_value(internal, "", "needs to be unset"))
    if num(obj.get("deprecatedCount")) != 0:
        errs.append(E.invalid_value("count", "", "needs to be unset"))
    source = d(obj.get("deprecatedSource"))
    if s(source.get("component")) or s(source.get("host")):
        errs.append(E.invalid_value("source", "", "needs to be unset"))
    return errs


VALIDATORS: dict[str, Validator] = {"Event": _event}
