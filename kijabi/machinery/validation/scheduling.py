"""The scheduling.k8s.io group: PriorityClass (upstream kubernetes `pkg/apis/scheduling/validation`)."""

from __future__ import annotations

from kijabi.machinery import errors as E

from . import meta
from ._util import Ctx, Errs, Obj, Validator, d, immutable, num, s

HIGHEST_USER_DEFINABLE_PRIORITY = 1_000_000_000
SYSTEM_PRIORITY_CLASSES = {"system-node-critical": 2_000_001_000, "system-cluster-critical": 2_000_000_000}


def _system_class_error(name: str, value: int, global_default: bool) -> str:
    if name not in SYSTEM_PRIORITY_CLASSES:
        return f"{name} is not a known system priority class"
    if SYSTEM_PRIORITY_CLASSES[name] != value:
        return f"value of {name} PriorityClass must be {SYSTEM_PRIORITY_CLASSES[name]}"
    if global_default:
        return f"globalDefault of {name} PriorityClass must be false"
    return ""


def _priority_class(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
    name, value = s(d(obj.get("metadata")).get("name")), num(obj.get("value"))
    if old is not None:
        errs = meta.validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
        if value != num(old.get("value")):
            errs.append(E.forbidden_field("value", "may not be changed in an update."))
        immutable(obj.get("preemptionPolicy"), old.get("preemptionPolicy"), "preemptionPolicy", errs)
        return errs
    errs = meta.validate_object_meta(obj.get("metadata"), False, meta.name_is_dns_subdomain)
    if name.startswith("system-"):
        problem = _system_class_error(name, value, obj.get("globalDefault") is True)
        if problem:
            errs.append(
                E.forbidden_field(
                    "metadata.name",
                    f"priority class names with 'system-' prefix are reserved for system use only. error: {problem}",
                )
            )
    elif value > HIGHEST_USER_DEFINABLE_PRIORITY:
        errs.append(
            E.forbidden_field(
                "value",
                f"maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE_PRIORITY}",
            )
        )
    policy = obj.get("preemptionPolicy")
    if policy is not None:
        if not policy:
            errs.append(E.required("preemptionPolicy"))
        elif policy not in ("PreemptLowerPriority", "Never"):
            errs.append(E.not_supported("preemptionPolicy", policy, ["PreemptLowerPriority", "Never"]))
    return errs


VALIDATORS: dict[str, Validator] = {"PriorityClass": _priority_class}
