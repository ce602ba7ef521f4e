"""The admissionregistration.k8s.io group: validating and mutating webhook configurations
(upstream kubernetes `pkg/apis/admissionregistration/validation/validation.go`, v1 options:
side effects must be None or NoneOnDryRun, webhook names unique)."""

from __future__ import annotations

from typing import Any

from kijabi.machinery import errors as E

from . import _webhook, meta
from ._util import Ctx, Errs, Obj, Validator, d, lst, num, s

_OPERATIONS = ["*", "CONNECT", "CREATE", "DELETE", "UPDATE"]
_SCOPES = ["*", "Cluster", "Namespaced"]
_REVIEW_VERSIONS = ["v1", "v1beta1"]


def fully_qualified_name(name: str, path: str) -> Errs:
    if not name:
        return [E.required(path)]
    msgs = meta.is_dns1123_subdomain(name)
    if msgs:
        return [E.invalid_value(path, name, ",".join(msgs))]
    if len(name.split(".")) < 3:
        return [
            E.invalid_value(path, name, "should be a domain with at least three segments separated by dots")
        ]
    return []


def _resources(resources: list[Any], path: str) -> Errs:
    errs: Errs = [] if resources else [E.required(path)]
    wildcard_subs: set[str] = set()
    wildcard_res: set[str] = set()
    double = single = plain = False
    for i, item in enumerate(resources):
        text = s(item)
        if not text:
            errs.append(E.required(f"{path}[{i}]"))
            continue
        if text == "*/*":
            double = True
        if text == "*":
            single = True
        if "/" not in text:
            plain = text != "*"
            continue
        res, sub = text.split("/", 1)
        if res in wildcard_subs:
            errs.append(
                E.invalid_value(f"{path}[{i}]", text, f"if '{res}/*' is present, must not specify {text}")
            )
        if sub in wildcard_res:
            errs.append(
                E.invalid_value(f"{path}[{i}]", text, f"if '*/{sub}' is present, must not specify {text}")
            )
        if sub == "*":
            wildcard_subs.add(res)
        if res == "*":
            wildcard_res.add(sub)
    if len(resources) > 1 and double:
        errs.append(E.invalid_value(path, resources, "if '*/*' is present, must not specify other resources"))
    if single and plain:
        errs.append(
            E.invalid_value(
                path, resources, "if '*' is present, must not specify other resources without subresources"
            )
        )
    return errs


def _rule(rule: Obj, path: str) -> Errs:
    errs: Errs = []
    operations = lst(rule.get("operations"))
    if not operations:
        errs.append(E.required(f"{path}.operations"))
    if len(operations) > 1 and "*" in operations:
        errs.append(
            E.invalid_value(
                f"{path}.operations", operations, "if '*' is present, must not specify other operations"
            )
        )
    for i, op in enumerate(operations):
        if op not in _OPERATIONS:
            errs.append(E.not_supported(f"{path}.operations[{i}]", op, _OPERATIONS))
    groups, versions = lst(rule.get("apiGroups")), lst(rule.get("apiVersions"))
    if not groups:
        errs.append(E.required(f"{path}.apiGroups"))
    if len(groups) > 1 and "*" in groups:
        errs.append(
            E.invalid_value(
                f"{path}.apiGroups", groups, "if '*' is present, must not specify other API groups"
            )
        )
    if not versions:
        errs.append(E.required(f"{path}.apiVersions"))
    if len(versions) > 1 and "*" in versions:
        errs.append(
            E.invalid_value(
                f"{path}.apiVersions", versions, "if '*' is present, must not specify other API versions"
            )
        )
    errs.extend(E.required(f"{path}.apiVersions[{i}]") for i, v in enumerate(versions) if v == "")
    errs.extend(_resources(lst(rule.get("resources")), f"{path}.resources"))
    scope = rule.get("scope")
    if scope is not None and scope not in _SCOPES:
        errs.append(E.not_supported(f"{path}.scope", scope, _SCOPES))
    return errs


def _review_versions(versions: list[Any], path: str) -> Errs:
    if not versions:
        return [E.required(path, "must specify one of v1, v1beta1")]
    errs: Errs = []
    seen: set[str] = set()
    for i, version in enumerate(versions):
        if s(version) in seen:
            errs.append(E.invalid_value(f"{path}[{i}]", version, "duplicate version"))
            continue
        seen.add(s(version))
        errs.extend(E.invalid_value(f"{path}[{i}]", version, m) for m in meta.is_dns1035_label(s(version)))
    if not seen & set(_REVIEW_VERSIONS):
        errs.append(E.invalid_value(path, versions, "must include at least one of v1, v1beta1"))
    return errs


def _hook(hook: Obj, path: str, mutating: bool) -> Errs:
    errs = fully_qualified_name(s(hook.get("name")), f"{path}.name")
    for i, rule in enumerate(lst(hook.get("rules"))):
        errs.extend(_rule(d(rule), f"{path}.rules[{i}]"))
    failure = hook.get("failurePolicy")
    if failure is not None and failure not in ("Fail", "Ignore"):
        errs.append(E.not_supported(f"{path}.failurePolicy", failure, ["Fail", "Ignore"]))
    match = hook.get("matchPolicy")
    if match is not None and match not in ("Equivalent", "Exact"):
        errs.append(E.not_supported(f"{path}.matchPolicy", match, ["Equivalent", "Exact"]))
    side_effects = hook.get("sideEffects")
    if side_effects is None:
        errs.append(E.required(f"{path}.sideEffects", "must specify one of None, NoneOnDryRun"))
    elif side_effects not in ("None", "NoneOnDryRun"):
        errs.append(E.not_supported(f"{path}.sideEffects", side_effects, ["None", "NoneOnDryRun"]))
    timeout = hook.get("timeoutSeconds")
    if timeout is not None and not 1 <= num(timeout) <= 30:
        errs.append(
            E.invalid_value(
                f"{path}.timeoutSeconds", timeout, "the timeout value must be between 1 and 30 seconds"
            )
        )
    for key in ("namespaceSelector", "objectSelector"):
        if hook.get(key) is not None:
            errs.extend(meta.validate_label_selector(hook[key], f"{path}.{key}"))
    reinvocation = hook.get("reinvocationPolicy")
    if mutating and reinvocation is not None and reinvocation not in ("IfNeeded", "Never"):
        errs.append(E.not_supported(f"{path}.reinvocationPolicy", reinvocation, ["IfNeeded", "Never"]))
    errs.extend(_webhook.validate_client_config(hook.get("clientConfig"), f"{path}.clientConfig"))
    return errs


def _configuration(mutating: bool) -> Validator:
    def check(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
        errs = (
            [] if old is None else meta.validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
        )
        errs.extend(
            meta.validate_object_meta(
                obj.get("metadata"), False, meta.name_is_dns_subdomain, kube_finalizers=False
            )
        )
        names: set[str] = set()
        for i, hook in enumerate(lst(obj.get("webhooks"))):
            hook = d(hook)
            p = f"webhooks[{i}]"
            errs.extend(_hook(hook, p, mutating))
            errs.extend(
                _review_versions(lst(hook.get("admissionReviewVersions")), f"{p}.admissionReviewVersions")
            )
            name = s(hook.get("name"))
            if name:
                if name in names:
                    errs.append(E.duplicate(f"{p}.name", name))
                names.add(name)
        return errs

    return check


VALIDATORS: dict[str, Validator] = {
    "ValidatingWebhookConfiguration": _configuration(False),
    "MutatingWebhookConfiguration": _configuration(True),
}
