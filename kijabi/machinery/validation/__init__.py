"""Upstream validation of built-in types: what kube-apiserver answers with 422 Invalid.

`validate()` runs, for one write, the checks the upstream API server runs in its strategy and
in the generic registry (staging apiserver `pkg/registry/rest/{create,update}.go`):

    create: the kind's rules (ObjectMeta with the kind's name rule, then spec rules); if those
            pass, the generic ObjectMeta check with the path-segment name rule.
    update: the generic ObjectMeta checks (path-segment name, immutable identity fields), then
            the kind's update rules (re-validation plus immutable fields).

Kinds without rules here (custom resources, and built-ins not listed) get ObjectMeta rules only,
with the DNS-subdomain name rule custom resources use. Errors come back in upstream's order,
exact duplicates removed; `kijabi.machinery.errors.invalid()` turns them into the 422 Status.

Inputs are JSON dicts already decoded and defaulted, and prepared the way upstream strategies
prepare them before validating: on update `obj` carries the resourceVersion the write is based on
(fill it from the stored object for unconditional PUTs); Services carry their allocated
clusterIPs and node ports; a new CRD's `status.storedVersions` holds its storage version. The
functions are pure and never mutate their arguments.

Layout: `meta` (names, labels, selectors, ObjectMeta), one module per API group (`apps`,
`batch`, `networking`, ...), the core group split by concept (`core` for the small kinds,
`core_pod`, `core_container`, `core_resources`, `core_volumes`, `core_scheduling`,
`core_service`, `core_storage`), and private helpers (`_util`, `_quantity`, `_webhook`).
"""

from __future__ import annotations

from typing import Any

from kijabi.machinery.errors import FieldError

from . import (
    admissionregistration,
    apiextensions,
    apps,
    autoscaling,
    batch,
    coordination,
    core,
    discovery,
    events,
    meta,
    networking,
    node,
    policy,
    rbac,
    scheduling,
    storage,
)
from ._util import Ctx, Errs, Validator, d
from .meta import (
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_qualified_name,
    is_valid_label_value,
)

__all__ = [
    "REGISTRY",
    "is_dns1035_label",
    "is_dns1123_label",
    "is_dns1123_subdomain",
    "is_qualified_name",
    "is_valid_label_value",
    "validate",
    "validate_label_selector",
]

REGISTRY: dict[tuple[str, str], Validator] = {}
"""(group, kind) -> the kind's rules. Versions of a group share rules unless a rule asks `ctx.version`."""

for _group, _module in (
    ("", core),
    ("apps", apps),
    ("batch", batch),
    ("networking.k8s.io", networking),
    ("rbac.authorization.k8s.io", rbac),
    ("policy", policy),
    ("scheduling.k8s.io", scheduling),
    ("storage.k8s.io", storage),
    ("coordination.k8s.io", coordination),
    ("discovery.k8s.io", discovery),
    ("events.k8s.io", events),
    ("autoscaling", autoscaling),
    ("node.k8s.io", node),
    ("admissionregistration.k8s.io", admissionregistration),
    ("apiextensions.k8s.io", apiextensions),
):
    for _kind, _validator in _module.VALIDATORS.items():
        REGISTRY[(_group, _kind)] = _validator


# Kinds whose upstream rules leave ObjectMeta to the generic registry check.
_OBJECT_META_UNCHECKED = frozenset({("", "Event"), ("policy", "PodDisruptionBudget")})


def validate_label_selector(sel: dict[str, Any], path: str) -> list[FieldError]:
    """A metav1.LabelSelector at `path` (for example `spec.selector`)."""
    return meta.validate_label_selector(sel, path)


def _dedupe(errs: Errs) -> Errs:
    if len(errs) < 2:
        return errs
    seen: set[str] = set()
    out: Errs = []
    for e in errs:
        key = str(e)
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


def validate(
    group: str, version: str, kind: str, obj: dict[str, Any], old: dict[str, Any] | None, *, namespaced: bool
) -> list[FieldError]:
    """The field errors upstream reports for writing `obj` (a create when `old` is None).

    An empty list means the write is valid. Never raises for malformed input: an unexpected
    shape is reported as an InternalError field error rather than an exception.
    """
    rules = REGISTRY.get((group, kind))
    ctx = Ctx(version, namespaced)
    md = d(obj.get("metadata"))
    try:
        if old is None:
            if rules is not None:
                errs = rules(obj, None, ctx)
            else:
                errs = meta.validate_object_meta(
                    md, namespaced, meta.name_is_dns_subdomain, kube_finalizers=False
                )
            if not errs and (rules is None or (group, kind) in _OBJECT_META_UNCHECKED):
                # Kinds whose rules passed ObjectMeta with a DNS-style or path-segment name rule
                # cannot fail this generic check; only the others need it.
                errs = meta.validate_object_meta(
                    md, namespaced, meta.name_is_path_segment, kube_finalizers=False
                )
            return _dedupe(errs)
        old_md = d(old.get("metadata"))
        errs = meta.validate_object_meta(md, namespaced, meta.name_is_path_segment, kube_finalizers=False)
        errs.extend(meta.validate_object_meta_update(md, old_md, kube_finalizers=False))
        if rules is not None:
            errs.extend(rules(obj, old, ctx))
        return _dedupe(errs)
    except (
        AttributeError,
        IndexError,
        KeyError,
        TypeError,
        ValueError,
    ) as exc:  # pragma: no cover - defensive
        return [FieldError("InternalError", "", f"validation failed on an unexpected object shape: {exc!r}")]
