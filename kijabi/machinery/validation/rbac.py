"""The rbac.authorization.k8s.io group: Roles, ClusterRoles and their bindings
(upstream kubernetes `pkg/apis/rbac/validation/validation.go`). Names only need to be path segments."""

from __future__ import annotations

from kijabi.machinery import errors as E

from . import meta
from ._util import Ctx, Errs, Obj, Validator, d, lst, s

GROUP = "rbac.authorization.k8s.io"


def _policy_rule(rule: Obj, namespaced: bool, path: str) -> Errs:
    errs: Errs = []
    if not lst(rule.get("verbs")):
        errs.append(E.required(f"{path}.verbs", "verbs must contain at least one value"))
    urls = lst(rule.get("nonResourceURLs"))
    groups, resources, names = (
        lst(rule.get("apiGroups")),
        lst(rule.get("resources")),
        lst(rule.get("resourceNames")),
    )
    if urls:
        if namespaced:
            errs.append(
                E.invalid_value(
                    f"{path}.nonResourceURLs", urls, "namespaced rules cannot apply to non-resource URLs"
                )
            )
        if groups or resources or names:
            errs.append(
                E.invalid_value(
                    f"{path}.nonResourceURLs",
                    urls,
                    "rules cannot apply to both regular resources and non-resource URLs",
                )
            )
        return errs
    if not groups:
        errs.append(E.required(f"{path}.apiGroups", "resource rules must supply at least one api group"))
    if not resources:
        errs.append(E.required(f"{path}.resources", "resource rules must supply at least one resource"))
    if names and len(resources) > 1:
        errs.append(E.required(f"{path}.resourceNames", "resource names cannot apply to multiple resources"))
    return errs


def _role(namespaced: bool) -> Validator:
    def check(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
        errs = meta.validate_object_meta(obj.get("metadata"), namespaced, meta.name_is_path_segment)
        for i, rule in enumerate(lst(obj.get("rules"))):
            errs.extend(_policy_rule(d(rule), namespaced, f"rules[{i}]"))
        aggregation = obj.get("aggregationRule")
        if not namespaced and aggregation is not None:
            selectors = lst(d(aggregation).get("clusterRoleSelectors"))
            if not selectors:
                errs.append(
                    E.required(
                        "aggregationRule.clusterRoleSelectors",
                        "at least one clusterRoleSelector required if aggregationRule is non-nil",
                    )
                )
            for i, sel in enumerate(selectors):
                p = f"aggregationRule.clusterRoleSelectors[{i}]"
                errs.extend(meta.validate_label_selector(sel, p))
                if meta.selector_from(sel) is None:
                    errs.append(E.invalid_value(p, sel, "invalid label selector."))
        if old is not None:
            errs.extend(meta.validate_object_meta_update(obj.get("metadata"), old.get("metadata")))
        return errs

    return check


def _subject(subject: Obj, namespaced: bool, path: str) -> Errs:
    errs: Errs = []
    name, kind, group = s(subject.get("name")), s(subject.get("kind")), s(subject.get("apiGroup"))
    if not name:
        errs.append(E.required(f"{path}.name"))
    if kind == "ServiceAccount":
        if name:
            errs.extend(
                E.invalid_value(f"{path}.name", name, m) for m in meta.name_is_dns_subdomain(name, False)
            )
        if group:
            errs.append(E.not_supported(f"{path}.apiGroup", group, [""]))
        if not namespaced and not s(subject.get("namespace")):
            errs.append(E.required(f"{path}.namespace"))
    elif kind in ("User", "Group"):
        if not name:
            errs.append(E.invalid_value(f"{path}.name", name, f"{kind.lower()} name cannot be empty"))
        if group != GROUP:
            errs.append(E.not_supported(f"{path}.apiGroup", group, [GROUP]))
    else:
        errs.append(E.not_supported(f"{path}.kind", kind, ["ServiceAccount", "User", "Group"]))
    return errs


def _binding(namespaced: bool) -> Validator:
    kinds = ["Role", "ClusterRole"] if namespaced else ["ClusterRole"]

    def check(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
        errs = meta.validate_object_meta(obj.get("metadata"), namespaced, meta.name_is_path_segment)
        ref = d(obj.get("roleRef"))
        if s(ref.get("apiGroup")) != GROUP:
            errs.append(E.not_supported("roleRef.apiGroup", s(ref.get("apiGroup")), [GROUP]))
        if s(ref.get("kind")) not in kinds:
            errs.append(E.not_supported("roleRef.kind", s(ref.get("kind")), kinds))
        name = s(ref.get("name"))
        if not name:
            errs.append(E.required("roleRef.name"))
        else:
            errs.extend(
                E.invalid_value("roleRef.name", name, m) for m in meta.is_valid_path_segment_name(name)
            )
        for i, subject in enumerate(lst(obj.get("subjects"))):
            errs.extend(_subject(d(subject), namespaced, f"subjects[{i}]"))
        if old is not None:
            errs.extend(meta.validate_object_meta_update(obj.get("metadata"), old.get("metadata")))
            old_ref = d(old.get("roleRef"))
            if (s(ref.get("apiGroup")), s(ref.get("kind")), name) != (
                s(old_ref.get("apiGroup")),
                s(old_ref.get("kind")),
                s(old_ref.get("name")),
            ):
                errs.append(E.invalid_value("roleRef", ref, "cannot change roleRef"))
        return errs

    return check


VALIDATORS: dict[str, Validator] = {
    "Role": _role(True),
    "ClusterRole": _role(False),
    "RoleBinding": _binding(True),
    "ClusterRoleBinding": _binding(False),
}
