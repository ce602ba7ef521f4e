"""The coordination.k8s.io group: Lease (upstream kubernetes `pkg/apis/coordination/validation`)."""

from __future__ import annotations

from kijabi.machinery import errors as E

from . import meta
from ._util import Ctx, Errs, Obj, Validator, d, num, s


def _lease(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
    if old is None:
        errs = meta.validate_object_meta(obj.get("metadata"), True, meta.name_is_dns_subdomain)
    else:
        errs = meta.validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
    spec = d(obj.get("spec"))
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and num(duration) <= 0:
        errs.append(E.invalid_value("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    transitions = spec.get("leaseTransitions")
    if transitions is not None and num(transitions) < 0:
        errs.append(
            E.invalid_value("spec.leaseTransitions", transitions, "must be greater than or equal to 0")
        )
    strategy = spec.get("strategy")
    if strategy is not None:
        text = s(strategy)
        if "/" not in text:
            if text != "OldestEmulationVersion":
                errs.append(E.not_supported("spec.strategy.strategy", text, ["OldestEmulationVersion"]))
        else:
            errs.extend(
                E.invalid_value("spec.strategy.strategy", text, m) for m in meta.is_qualified_name(text)
            )
    if s(spec.get("preferredHolder")) and not s(strategy):
        errs.append(
            E.forbidden_field("spec.preferredHolder", "may only be specified if `strategy` is defined")
        )
    return errs


VALIDATORS: dict[str, Validator] = {"Lease": _lease}
