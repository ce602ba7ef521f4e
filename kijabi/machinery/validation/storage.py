"""The storage.k8s.io group: StorageClass (upstream kubernetes `pkg/apis/storage/validation`)."""

from __future__ import annotations

from kijabi.machinery import errors as E

from . import meta
from ._util import Ctx, Errs, Obj, Validator, d, immutable, lst, s, sem_equal

_MAX_PARAMETERS = 512
_MAX_PARAMETERS_SIZE = 256 * 1024


def _storage_class(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
    if old is not None:
        errs = meta.validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
        if not sem_equal(obj.get("parameters"), old.get("parameters")):
            errs.append(E.forbidden_field("parameters", "updates to parameters are forbidden."))
        if s(obj.get("provisioner")) != s(old.get("provisioner")):
            errs.append(E.forbidden_field("provisioner", "updates to provisioner are forbidden."))
        if s(obj.get("reclaimPolicy")) != s(old.get("reclaimPolicy")):
            errs.append(E.forbidden_field("reclaimPolicy", "updates to reclaimPolicy are forbidden."))
        immutable(obj.get("volumeBindingMode"), old.get("volumeBindingMode"), "volumeBindingMode", errs)
        return errs
    errs = meta.validate_object_meta(obj.get("metadata"), False, meta.name_is_dns_subdomain)
    provisioner = s(obj.get("provisioner"))
    if not provisioner:
        errs.append(E.required("provisioner"))
    else:
        errs.extend(
            E.invalid_value("provisioner", provisioner, m)
            for m in meta.is_qualified_name(provisioner.lower())
        )
    params = d(obj.get("parameters"))
    if len(params) > _MAX_PARAMETERS:
        errs.append(E.too_long("parameters", _MAX_PARAMETERS))
    else:
        total = 0
        for key, value in params.items():
            if not key:
                errs.append(E.invalid_value("parameters", key, "field can not be empty."))
            total += len(key) + len(s(value))
        if total > _MAX_PARAMETERS_SIZE:
            errs.append(E.too_long("parameters", _MAX_PARAMETERS_SIZE))
    policy = obj.get("reclaimPolicy")
    if policy is not None and policy not in ("Delete", "Retain"):
        errs.append(E.not_supported("reclaimPolicy", policy, ["Delete", "Retain"]))
    mode = obj.get("volumeBindingMode")
    if mode is None:
        errs.append(E.required("volumeBindingMode"))
    elif mode not in ("Immediate", "WaitForFirstConsumer"):
        errs.append(E.not_supported("volumeBindingMode", mode, ["Immediate", "WaitForFirstConsumer"]))
    for i, term in enumerate(lst(obj.get("allowedTopologies"))):
        exprs = lst(d(term).get("matchLabelExpressions"))
        p = f"allowedTopologies[{i}]"
        if not exprs:
            errs.append(E.required(p, "must contain at least one requirement"))
        keys: set[str] = set()
        for j, expr in enumerate(exprs):
            expr = d(expr)
            ep = f"{p}.matchLabelExpressions[{j}]"
            values = lst(expr.get("values"))
            if not values:
                errs.append(E.required(f"{ep}.values"))
            seen: set[str] = set()
            for k, value in enumerate(values):
                if value in seen:
                    errs.append(E.duplicate(f"{ep}.values[{k}]", value))
                seen.add(s(value))
            key = s(expr.get("key"))
            errs.extend(meta.validate_label_name(key, f"{ep}.key"))
            if key in keys:
                errs.append(E.duplicate(f"{ep}.key", key))
            keys.add(key)
    return errs


VALIDATORS: dict[str, Validator] = {"StorageClass": _storage_class}
