"""Defaults of `admissionregistration.k8s.io/v1` (upstream pkg/apis/admissionregistration/v1).

Webhooks: failurePolicy Fail, matchPolicy Equivalent, empty namespace and object selectors (match
everything), timeoutSeconds 10, and for mutating webhooks reinvocationPolicy Never; each rule's
scope is `*` and a service reference's port 443. `sideEffects` and `admissionReviewVersions` are
required in v1, not defaulted. ValidatingAdmissionPolicy and its bindings: failurePolicy Fail and
the same match defaults for their MatchResources.
"""

from __future__ import annotations

from ._walk import Defaulter, Obj, each, pointer, struct

GROUP = "admissionregistration.k8s.io"


def _rules(holder: Obj, key: str) -> None:
    for rule in each(holder, key):
        if rule.get("scope") is None:
            rule["scope"] = "*"


def _webhook(hook: Obj) -> None:
    if hook.get("failurePolicy") is None:
        hook["failurePolicy"] = "Fail"
    if hook.get("matchPolicy") is None:
        hook["matchPolicy"] = "Equivalent"
    if hook.get("namespaceSelector") is None:
        hook["namespaceSelector"] = {}
    if hook.get("objectSelector") is None:
        hook["objectSelector"] = {}
    if hook.get("timeoutSeconds") is None:
        hook["timeoutSeconds"] = 10
    _rules(hook, "rules")
    config = pointer(hook, "clientConfig")
    service = pointer(config, "service") if config is not None else None
    if service is not None and service.get("port") is None:
        service["port"] = 443


def validating_webhook_configuration(obj: Obj) -> None:
    for hook in each(obj, "webhooks"):
        _webhook(hook)


def mutating_webhook_configuration(obj: Obj) -> None:
    for hook in each(obj, "webhooks"):
        _webhook(hook)
        if hook.get("reinvocationPolicy") is None:
            hook["reinvocationPolicy"] = "Never"


def _match_resources(match: Obj | None) -> None:
    if match is None:
        return
    if match.get("matchPolicy") is None:
        match["matchPolicy"] = "Equivalent"
    if match.get("namespaceSelector") is None:
        match["namespaceSelector"] = {}
    if match.get("objectSelector") is None:
        match["objectSelector"] = {}
    _rules(match, "resourceRules")
    _rules(match, "excludeResourceRules")


def validating_admission_policy(obj: Obj) -> None:
    spec = struct(obj, "spec")
    if spec.get("failurePolicy") is None:
        spec["failurePolicy"] = "Fail"
    _match_resources(pointer(spec, "matchConstraints"))


def validating_admission_policy_binding(obj: Obj) -> None:
    spec = pointer(obj, "spec")
    if spec is not None:
        _match_resources(pointer(spec, "matchResources"))


DEFAULTERS: dict[tuple[str, str], Defaulter] = {
    ("v1", "ValidatingWebhookConfiguration"): validating_webhook_configuration,
    ("v1", "MutatingWebhookConfiguration"): mutating_webhook_configuration,
    ("v1", "ValidatingAdmissionPolicy"): validating_admission_policy,
    ("v1", "ValidatingAdmissionPolicyBinding"): validating_admission_policy_binding,
}
