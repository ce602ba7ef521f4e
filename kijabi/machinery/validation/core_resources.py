"""Compute resources: resource names, quantity values, and a container's requests and limits
(upstream kubernetes `pkg/apis/core/validation/validation.go`: ValidateResourceRequirements,
validateContainerResourceName, ValidateResourceQuantityValue and the core helper predicates)."""

from __future__ import annotations

from typing import Any

from kijabi.machinery import errors as E
from kijabi.machinery.errors import FieldError

from . import _quantity, meta
from ._util import Errs, d, lst, quantity, s

# --- resources ------------------------------------------------------------------------------------

_STANDARD_RESOURCES = frozenset(
    {
        "cpu",
        "memory",
        "ephemeral-storage",
        "requests.cpu",
        "requests.memory",
        "requests.ephemeral-storage",
        "limits.cpu",
        "limits.memory",
        "limits.ephemeral-storage",
        "pods",
        "resourcequotas",
        "services",
        "replicationcontrollers",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
        "storage",
        "requests.storage",
        "services.nodeports",
        "services.loadbalancers",
    }
)
_INTEGER_RESOURCES = frozenset(
    {
        "pods",
        "resourcequotas",
        "services",
        "replicationcontrollers",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
        "services.nodeports",
        "services.loadbalancers",
    }
)


def _is_native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def _is_hugepages(name: str) -> bool:
    return name.startswith("hugepages-")


def _is_extended(name: str) -> bool:
    if _is_native(name) or name.startswith("requests."):
        return False
    return not meta.is_qualified_name("requests." + name)


def _overcommit_allowed(name: str) -> bool:
    return _is_native(name) and not _is_hugepages(name)


def validate_resource_name(name: str, path: str) -> Errs:
    errs = [E.invalid_value(path, name, m) for m in meta.is_qualified_name(name)]
    if errs:
        return errs
    if (
        "/" not in name
        and name not in _STANDARD_RESOURCES
        and not name.startswith(("hugepages-", "requests.hugepages-"))
    ):
        errs.append(E.invalid_value(path, name, "must be a standard resource type or fully qualified"))
    return errs


def validate_container_resource_name(name: str, path: str) -> Errs:
    errs = validate_resource_name(name, path)
    if "/" not in name:
        if name not in ("cpu", "memory", "ephemeral-storage") and not _is_hugepages(name):
            errs.append(E.invalid_value(path, name, "must be a standard resource for containers"))
    elif not _is_native(name) and not _is_extended(name):
        errs.append(E.invalid_value(path, name, "doesn't follow extended resource name standard"))
    return errs


def validate_resource_quantity_value(name: str, q: _quantity.Quantity, path: str) -> Errs:
    errs: Errs = []
    if q.sign() < 0:
        errs.append(E.invalid_value(path, str(q), "must be greater than or equal to 0"))
    if (name in _INTEGER_RESOURCES or _is_extended(name)) and q.milli_value() % 1000 != 0:
        errs.append(E.invalid_value(path, str(q), "must be an integer"))
    return errs


def _hugepage_error(name: str, q: _quantity.Quantity) -> str:
    try:
        page = _quantity.parse(name[len("hugepages-") :])
    except ValueError:
        page = None
    if (
        page is not None
        and page.sign() > 0
        and page.milli_value() % 1000 == 0
        and q.int_value() % page.int_value() == 0
    ):
        return ""
    return f"{q} is not positive integer multiple of {name}"


_PLAIN_RESOURCES = frozenset({"cpu", "memory", "ephemeral-storage"})


def _plain_resources(req: dict[str, Any]) -> bool:
    """True when only cpu/memory/ephemeral-storage appear, all non-negative, requests <= limits:
    the common case, which then produces no errors."""
    limits, requests = req.get("limits") or {}, req.get("requests") or {}
    try:
        for name, raw in limits.items():
            if name not in _PLAIN_RESOURCES or _quantity.parse(raw).nanos < 0:
                return False
        for name, raw in requests.items():
            if name not in _PLAIN_RESOURCES:
                return False
            nanos = _quantity.parse(raw).nanos
            if nanos < 0 or (name in limits and nanos > _quantity.parse(limits[name]).nanos):
                return False
    except (ValueError, AttributeError):
        return False
    return True


def validate_resource_requirements(req: Any, claim_names: set[str], path: str) -> Errs:
    """Quantities valid and non-negative, requests <= limits (== for hugepages and extended resources)."""
    req = d(req)
    if not req.get("claims") and _plain_resources(req):
        return []
    errs: Errs = []
    lim_path, req_path = f"{path}.limits", f"{path}.requests"
    limits: dict[str, _quantity.Quantity] = {}
    lim_cpu_mem = req_cpu_mem = lim_huge = req_huge = False
    for name, raw in d(req.get("limits")).items():
        p = f"{lim_path}[{name}]"
        errs.extend(validate_container_resource_name(name, p))
        q = quantity(raw, p, errs)
        if q is None:
            continue
        limits[name] = q
        errs.extend(validate_resource_quantity_value(name, q, p))
        if _is_hugepages(name):
            lim_huge = True
            msg = _hugepage_error(name, q)
            if msg:
                errs.append(E.invalid_value(p, str(q), msg))
        if name in ("cpu", "memory"):
            lim_cpu_mem = True
    for name, raw in d(req.get("requests")).items():
        p = f"{req_path}[{name}]"
        errs.extend(validate_container_resource_name(name, p))
        q = quantity(raw, p, errs)
        if q is None:
            continue
        errs.extend(validate_resource_quantity_value(name, q, p))
        limit = limits.get(name)
        if limit is not None:
            if q.nanos != limit.nanos and not _overcommit_allowed(name):
                errs.append(E.invalid_value(req_path, str(q), f"must be equal to {name} limit of {limit}"))
            elif q.nanos > limit.nanos:
                errs.append(
                    E.invalid_value(
                        req_path, str(q), f"must be less than or equal to {name} limit of {limit}"
                    )
                )
        elif not _overcommit_allowed(name):
            errs.append(E.required(lim_path, "Limit must be set for non overcommitable resources"))
        if _is_hugepages(name):
            req_huge = True
            msg = _hugepage_error(name, q)
            if msg:
                errs.append(E.invalid_value(p, str(q), msg))
        if name in ("cpu", "memory"):
            req_cpu_mem = True
    if not lim_cpu_mem and not req_cpu_mem and (req_huge or lim_huge):
        errs.append(E.forbidden_field(path, "HugePages require cpu or memory"))
    names: set[str] = set()
    for i, claim in enumerate(lst(req.get("claims"))):
        claim = d(claim)
        name = s(claim.get("name"))
        p = f"{path}.claims[{i}]"
        if not name:
            errs.append(E.required(p))
            continue
        key = name
        request = s(claim.get("request"))
        if request:
            errs.extend(E.invalid_value(f"{p}.request", request, m) for m in meta.is_dns1123_label(request))
            key = f"{name}/{request}"
        if key in names or name in names:
            errs.append(E.duplicate(p, key))
        names.add(key)
        if name not in claim_names:
            detail = "must be one of the names in pod.spec.resourceClaims"
            detail += " which is empty" if not claim_names else ": " + ", ".join(sorted(claim_names))
            errs.append(FieldError("FieldValueNotFound", p, detail, name))
    return errs
