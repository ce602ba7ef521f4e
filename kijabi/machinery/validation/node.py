"""The node.k8s.io group: RuntimeClass (upstream kubernetes `pkg/apis/node/validation`)."""

from __future__ import annotations

from kijabi.machinery import errors as E

from . import core_resources, core_scheduling, meta
from ._util import Ctx, Errs, Obj, Validator, d, immutable, s


def _runtime_class(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
    if old is not None:
        errs = meta.validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
        immutable(s(obj.get("handler")), s(old.get("handler")), "handler", errs)
        return errs
    errs = meta.validate_object_meta(obj.get("metadata"), False, meta.name_is_dns_subdomain)
    handler = s(obj.get("handler"))
    errs.extend(E.invalid_value("handler", handler, m) for m in meta.name_is_dns_label(handler, False))
    overhead = obj.get("overhead")
    if overhead is not None:
        errs.extend(
            core_resources.validate_resource_requirements(
                {"limits": d(overhead).get("podFixed")}, set(), "overhead"
            )
        )
    scheduling = obj.get("scheduling")
    if scheduling is not None:
        scheduling = d(scheduling)
        if scheduling.get("nodeSelector") is not None:
            errs.extend(meta.validate_labels(scheduling["nodeSelector"], "scheduling.nodeSelector"))
        errs.extend(
            core_scheduling.validate_tolerations(scheduling.get("tolerations"), "scheduling.tolerations")
        )
    return errs


VALIDATORS: dict[str, Validator] = {"RuntimeClass": _runtime_class}
