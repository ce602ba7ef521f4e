"""Scheduling constraints of the core API: node selectors and affinity, tolerations and taints,
topology spread (upstream kubernetes `pkg/apis/core/validation/validation.go`)."""

from __future__ import annotations

from typing import Any

from kijabi.machinery import errors as E
from kijabi.machinery.errors import FieldError

from . import meta
from ._util import Errs, d, lst, num, s, sem_equal

_TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"]


def validate_node_selector_requirement(rq: Any, path: str) -> Errs:
    rq = d(rq)
    errs: Errs = []
    op = s(rq.get("operator"))
    values = lst(rq.get("values"))
    if op in ("In", "NotIn"):
        if not values:
            errs.append(E.required(f"{path}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
    elif op in ("Exists", "DoesNotExist"):
        if values:
            errs.append(
                E.forbidden_field(
                    f"{path}.values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
                )
            )
    elif op in ("Gt", "Lt"):
        if len(values) != 1:
            errs.append(
                E.required(f"{path}.values", "must be specified single value when `operator` is 'Lt' or 'Gt'")
            )
    else:
        errs.append(E.invalid_value(f"{path}.operator", op, "not a valid selector operator"))
    errs.extend(meta.validate_label_name(s(rq.get("key")), f"{path}.key"))
    return errs


def validate_node_field_selector_requirement(rq: Any, path: str) -> Errs:
    rq = d(rq)
    errs: Errs = []
    op = s(rq.get("operator"))
    values = lst(rq.get("values"))
    if op in ("In", "NotIn"):
        if len(values) != 1:
            errs.append(
                E.required(
                    f"{path}.values",
                    "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
                )
            )
    else:
        errs.append(E.invalid_value(f"{path}.operator", op, "not a valid selector operator"))
    key = s(rq.get("key"))
    if key != "metadata.name":
        errs.append(E.invalid_value(f"{path}.key", key, "not a valid field selector key"))
    else:
        for i, v in enumerate(values):
            errs.extend(
                E.invalid_value(f"{path}.values[{i}]", v, m) for m in meta.name_is_dns_subdomain(s(v), False)
            )
    return errs


def validate_node_selector_term(term: Any, path: str) -> Errs:
    term = d(term)
    errs: Errs = []
    for j, rq in enumerate(lst(term.get("matchExpressions"))):
        errs.extend(validate_node_selector_requirement(rq, f"{path}.matchExpressions[{j}]"))
    for j, rq in enumerate(lst(term.get("matchFields"))):
        errs.extend(validate_node_field_selector_requirement(rq, f"{path}.matchFields[{j}]"))
    return errs


def validate_node_selector(selector: Any, path: str) -> Errs:
    terms = lst(d(selector).get("nodeSelectorTerms"))
    if not terms:
        return [E.required(f"{path}.nodeSelectorTerms", "must have at least one node selector term")]
    errs: Errs = []
    for i, term in enumerate(terms):
        errs.extend(validate_node_selector_term(term, f"{path}.nodeSelectorTerms[{i}]"))
    return errs


def _weight(weight: Any, path: str, errs: Errs) -> None:
    w = num(weight)
    if w <= 0 or w > 100:
        errs.append(E.invalid_value(path, w, "must be in the range 1-100"))


def _label_keys(path: str, keys: list[Any], selector: Any) -> Errs:
    if not keys:
        return []
    if selector is None:
        return [E.forbidden_field(path, "must not be specified when labelSelector is not set")]
    errs: Errs = []
    for i, key in enumerate(keys):
        errs.extend(meta.validate_label_name(s(key), f"{path}[{i}]"))
    return errs


def _pod_affinity_term(term: Any, path: str) -> Errs:
    term = d(term)
    errs: Errs = []
    selector = term.get("labelSelector")
    errs.extend(meta.validate_label_selector(selector, f"{path}.labelSelector"))
    errs.extend(meta.validate_label_selector(term.get("namespaceSelector"), f"{path}.namespaceSelector"))
    for name in lst(term.get("namespaces")):
        errs.extend(
            E.invalid_value(f"{path}.namespace", name, m) for m in meta.name_is_dns_label(s(name), False)
        )
    match_keys = lst(term.get("matchLabelKeys"))
    mismatch_keys = lst(term.get("mismatchLabelKeys"))
    errs.extend(_label_keys(f"{path}.matchLabelKeys", match_keys, selector))
    errs.extend(_label_keys(f"{path}.mismatchLabelKeys", mismatch_keys, selector))
    if isinstance(selector, dict):
        index = {k: i for i, k in enumerate(match_keys)}
        seen = set(d(selector.get("matchLabels")))
        for expr in lst(selector.get("matchExpressions")):
            key = s(d(expr).get("key"))
            if key in index and key in seen:
                errs.append(
                    E.invalid_value(
                        f"{path}[{index[key]}]", key, "exists in both matchLabelKeys and labelSelector"
                    )
                )
            seen.add(key)
    mismatch = set(map(str, mismatch_keys))
    for i, key in enumerate(match_keys):
        if key in mismatch:
            errs.append(
                E.invalid_value(
                    f"{path}.matchLabelKeys[{i}]", key, "exists in both matchLabelKeys and mismatchLabelKeys"
                )
            )
    topology_key = s(term.get("topologyKey"))
    if not topology_key:
        errs.append(E.required(f"{path}.topologyKey", "can not be empty"))
    errs.extend(meta.validate_label_name(topology_key, f"{path}.topologyKey"))
    return errs


def _pod_affinity(affinity: Any, path: str) -> Errs:
    affinity = d(affinity)
    errs: Errs = []
    req = "requiredDuringSchedulingIgnoredDuringExecution"
    pref = "preferredDuringSchedulingIgnoredDuringExecution"
    for i, term in enumerate(lst(affinity.get(req))):
        errs.extend(_pod_affinity_term(term, f"{path}.{req}[{i}]"))
    for i, weighted in enumerate(lst(affinity.get(pref))):
        weighted = d(weighted)
        _weight(weighted.get("weight"), f"{path}.{pref}[{i}].weight", errs)
        errs.extend(
            _pod_affinity_term(weighted.get("podAffinityTerm"), f"{path}.{pref}[{i}].podAffinityTerm")
        )
    return errs


def validate_affinity(affinity: Any, path: str) -> Errs:
    affinity = d(affinity)
    errs: Errs = []
    node = affinity.get("nodeAffinity")
    if isinstance(node, dict):
        req = node.get("requiredDuringSchedulingIgnoredDuringExecution")
        if req is not None:
            errs.extend(
                validate_node_selector(
                    req, f"{path}.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
                )
            )
        pref_path = f"{path}.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution"
        for i, term in enumerate(lst(node.get("preferredDuringSchedulingIgnoredDuringExecution"))):
            term = d(term)
            _weight(term.get("weight"), f"{pref_path}[{i}].weight", errs)
            errs.extend(validate_node_selector_term(term.get("preference"), f"{pref_path}[{i}].preference"))
    if isinstance(affinity.get("podAffinity"), dict):
        errs.extend(_pod_affinity(affinity["podAffinity"], f"{path}.podAffinity"))
    if isinstance(affinity.get("podAntiAffinity"), dict):
        errs.extend(_pod_affinity(affinity["podAntiAffinity"], f"{path}.podAntiAffinity"))
    return errs


def validate_taint_effect(effect: str, allow_empty: bool, path: str) -> Errs:
    if not allow_empty and not effect:
        return [E.required(path)]
    if effect not in _TAINT_EFFECTS:
        return [E.not_supported(path, effect, _TAINT_EFFECTS)]
    return []


def _plain_toleration(tol: dict[str, Any]) -> bool:
    """The common, valid shapes: `key` Exists, or `key` Equal to a plain value, with a known effect."""
    key, op, value, effect = (
        tol.get("key"),
        tol.get("operator"),
        tol.get("value") or "",
        tol.get("effect") or "",
    )
    if type(key) is not str or not key or meta.is_qualified_name(key):
        return False
    if op == "Exists":
        if value:
            return False
    elif op not in ("Equal", None, "") or type(value) is not str or meta.is_valid_label_value(value):
        return False
    if effect and effect not in _TAINT_EFFECTS:
        return False
    return tol.get("tolerationSeconds") is None or effect == "NoExecute"


def validate_tolerations(tolerations: Any, path: str) -> Errs:
    errs: Errs = []
    for i, tol in enumerate(lst(tolerations)):
        tol = d(tol)
        if _plain_toleration(tol):
            continue
        p = f"{path}[{i}]"
        key, op, value, effect = (
            s(tol.get("key")),
            s(tol.get("operator")),
            s(tol.get("value")),
            s(tol.get("effect")),
        )
        if key:
            errs.extend(meta.validate_label_name(key, f"{p}.key"))
        if not key and op != "Exists":
            errs.append(
                E.invalid_value(
                    f"{p}.operator",
                    op,
                    'operator must be Exists when `key` is empty, which means "match all values and all keys"',
                )
            )
        if tol.get("tolerationSeconds") is not None and effect != "NoExecute":
            errs.append(
                E.invalid_value(
                    f"{p}.effect", effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"
                )
            )
        if op in ("Equal", ""):
            msgs = meta.is_valid_label_value(value)
            if msgs:
                errs.append(E.invalid_value(f"{p}.operator", value, ";".join(msgs)))
        elif op == "Exists":
            if value:
                errs.append(
                    E.invalid_value(f"{p}.operator", tol, "value must be empty when `operator` is 'Exists'")
                )
        else:
            errs.append(E.not_supported(f"{p}.operator", op, ["Equal", "Exists"]))
        if effect:
            errs.extend(validate_taint_effect(effect, True, f"{p}.effect"))
    return errs


def validate_only_added_tolerations(new: Any, old: Any, path: str) -> Errs:
    """Pod updates may add tolerations and change tolerationSeconds, nothing else."""
    new_list = lst(new)
    for old_tol in lst(old):
        base = {k: v for k, v in d(old_tol).items() if k != "tolerationSeconds"}
        if not any(
            sem_equal(base, {k: v for k, v in d(t).items() if k != "tolerationSeconds"}) for t in new_list
        ):
            return [
                E.forbidden_field(
                    path, "existing toleration can not be modified except its tolerationSeconds"
                )
            ]
    return validate_tolerations(new_list, path)


def validate_node_taints(taints: Any, path: str) -> Errs:
    errs: Errs = []
    seen: dict[str, set[str]] = {}
    for i, taint in enumerate(lst(taints)):
        taint = d(taint)
        p = f"{path}[{i}]"
        key, value, effect = s(taint.get("key")), s(taint.get("value")), s(taint.get("effect"))
        errs.extend(meta.validate_label_name(key, f"{p}.key"))
        msgs = meta.is_valid_label_value(value)
        if msgs:
            errs.append(E.invalid_value(f"{p}.value", value, ";".join(msgs)))
        errs.extend(validate_taint_effect(effect, False, f"{p}.effect"))
        if key in seen.get(effect, ()):
            errs.append(
                FieldError("FieldValueDuplicate", p, "taints must be unique by key and effect pair", taint)
            )
            continue
        seen.setdefault(effect, set()).add(key)
    return errs


def validate_topology_spread_constraints(constraints: Any, path: str) -> Errs:
    errs: Errs = []
    items = [d(c) for c in lst(constraints)]
    for i, c in enumerate(items):
        p = f"{path}[{i}]"
        max_skew = num(c.get("maxSkew"))
        if max_skew <= 0:
            errs.append(E.invalid_value(f"{p}.maxSkew", max_skew, "must be greater than zero"))
        topology_key = s(c.get("topologyKey"))
        if not topology_key:
            errs.append(E.required(f"{p}.topologyKey", "can not be empty"))
        action = s(c.get("whenUnsatisfiable"))
        if action not in ("DoNotSchedule", "ScheduleAnyway"):
            errs.append(
                E.not_supported(f"{p}.whenUnsatisfiable", action, ["DoNotSchedule", "ScheduleAnyway"])
            )
        for other in items[i + 1 :]:
            if s(other.get("topologyKey")) == topology_key and s(other.get("whenUnsatisfiable")) == action:
                errs.append(
                    E.duplicate(f"{p}.{{topologyKey, whenUnsatisfiable}}", f"{{{topology_key}, {action}}}")
                )
                break
        min_domains = c.get("minDomains")
        if min_domains is not None:
            if num(min_domains) <= 0:
                errs.append(E.invalid_value(f"{p}.minDomains", min_domains, "must be greater than zero"))
            if action != "DoNotSchedule":
                errs.append(
                    E.invalid_value(
                        f"{p}.minDomains",
                        min_domains,
                        f"can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {action}",
                    )
                )
        for policy in ("nodeAffinityPolicy", "nodeTaintsPolicy"):
            value = c.get(policy)
            if value is not None and value not in ("Honor", "Ignore"):
                errs.append(E.not_supported(f"{p}.{policy}", value, ["Honor", "Ignore"]))
        selector = c.get("labelSelector")
        match_keys = lst(c.get("matchLabelKeys"))
        if match_keys:
            keys: set[str] = set()
            if isinstance(selector, dict):
                keys.update(d(selector.get("matchLabels")))
                keys.update(s(d(e).get("key")) for e in lst(selector.get("matchExpressions")))
            else:
                errs.append(
                    E.forbidden_field(
                        f"{p}.matchLabelKeys", "must not be specified when labelSelector is not set"
                    )
                )
            for j, key in enumerate(match_keys):
                errs.extend(meta.validate_label_name(s(key), f"{p}.matchLabelKeys[{j}]"))
                if key in keys:
                    errs.append(
                        E.invalid_value(
                            f"{p}.matchLabelKeys[{j}]", key, "exists in both matchLabelKeys and labelSelector"
                        )
                    )
        errs.extend(meta.validate_label_selector(selector, f"{p}.labelSelector"))
    return errs


def validate_node_selector_mutation(path: str, new: Any, old: Any) -> Errs:
    """While a pod is scheduling-gated, nodeSelector may only gain entries."""
    new_map = d(new)
    for key, value in d(old).items():
        if new_map.get(key) != value:
            return [
                E.invalid_value(
                    path,
                    new_map,
                    "only additions to spec.nodeSelector are allowed (no mutations or deletions)",
                )
            ]
    return []


def _term_has_only_additions(new: Any, old: Any) -> bool:
    new, old = d(new), d(old)
    old_exprs, old_fields = lst(old.get("matchExpressions")), lst(old.get("matchFields"))
    new_exprs, new_fields = lst(new.get("matchExpressions")), lst(new.get("matchFields"))
    if not old_exprs and not old_fields and (new_exprs or new_fields):
        return False
    if old_exprs and (
        len(new_exprs) < len(old_exprs) or not sem_equal(new_exprs[: len(old_exprs)], old_exprs)
    ):
        return False
    return not (
        old_fields
        and (len(new_fields) < len(old_fields) or not sem_equal(new_fields[: len(old_fields)], old_fields))
    )


def validate_node_affinity_mutation(path: str, new: Any, old: Any) -> Errs:
    """While a pod is scheduling-gated, required node affinity terms may only gain expressions."""
    old_req = d(old).get("requiredDuringSchedulingIgnoredDuringExecution")
    if old_req is None:
        return []
    old_terms = lst(d(old_req).get("nodeSelectorTerms"))
    new_terms = lst(d(d(new).get("requiredDuringSchedulingIgnoredDuringExecution")).get("nodeSelectorTerms"))
    terms_path = f"{path}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"
    if old_terms and len(old_terms) != len(new_terms):
        return [
            E.invalid_value(
                terms_path,
                new_terms,
                "no additions/deletions to non-empty NodeSelectorTerms list are allowed",
            )
        ]
    errs: Errs = []
    for i, old_term in enumerate(old_terms):
        if not _term_has_only_additions(new_terms[i], old_term):
            errs.append(
                E.invalid_value(
                    f"{terms_path}[{i}]",
                    new_terms[i],
                    "only additions are allowed (no mutations or deletions)",
                )
            )
    return errs
