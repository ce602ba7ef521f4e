"""Pods: the pod spec, pod-level annotations, pods (create and update rules), pod templates and
replication controllers; container-level rules are in `core_container`. Upstream: kubernetes
`pkg/apis/core/validation/validation.go`, v1.32 semantics with the v1.32 default feature gates.

Checks run in upstream's order and keep upstream's field-path quirks (for example
`spec.template.labels` rather than `spec.template.metadata.labels`), so the 422 messages match.
"""

from __future__ import annotations

import json
import re
from typing import Any

from kijabi.machinery import errors as E

from . import _quantity, core_scheduling, core_volumes, meta
from ._util import Errs, d, diff, is_valid_ip, lst, nonnegative, num, s, sem_equal
from .core_container import (
    check_id,
    image_whitespace_errors,
    validate_apparmor_profile_field,
    validate_containers,
    validate_ephemeral_containers,
    validate_init_containers,
    validate_seccomp_profile_field,
)
from .core_resources import validate_resource_requirements

# --- the pod spec ---------------------------------------------------------------------------------

_SYSCTL_PATTERN = r"^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$"
_SYSCTL_RE = re.compile(_SYSCTL_PATTERN)
_IPC_SYSCTL_PREFIXES = ("kernel.shm", "kernel.msg", "kernel.sem", "fs.mqueue.")


def _sysctls(spec: dict[str, Any], sysctls: list[Any], path: str, allow_host_namespaced: bool) -> Errs:
    errs: Errs = []
    names: set[str] = set()
    for i, sysctl in enumerate(sysctls):
        name = s(d(sysctl).get("name"))
        p = f"{path}[{i}].name"
        if not name:
            errs.append(E.required(p))
        elif len(name) > 253 or not _SYSCTL_RE.fullmatch(name):
            errs.append(
                E.invalid_value(
                    p, name, f"must have at most 253 characters and match regex {_SYSCTL_PATTERN}"
                )
            )
        elif name in names:
            errs.append(E.duplicate(p, name))
        if not allow_host_namespaced:
            dotted = name.replace("/", ".")
            if spec.get("hostNetwork") and dotted.startswith("net."):
                errs.append(E.invalid_value(p, name, "may not be specified when 'hostNetwork' is true"))
            elif spec.get("hostIPC") and dotted.startswith(_IPC_SYSCTL_PREFIXES):
                errs.append(E.invalid_value(p, name, "may not be specified when 'hostIPC' is true"))
        names.add(name)
    return errs


def _pod_security_context(spec: dict[str, Any], path: str, allow_host_namespaced_sysctls: bool) -> Errs:
    sc = spec.get("securityContext")
    if sc is None:
        return []
    sc = d(sc)
    errs: Errs = []
    check_id(sc.get("fsGroup"), f"{path}.fsGroup", errs)
    check_id(sc.get("runAsUser"), f"{path}.runAsUser", errs)
    check_id(sc.get("runAsGroup"), f"{path}.runAsGroup", errs)
    for i, gid in enumerate(lst(sc.get("supplementalGroups"))):
        check_id(gid, f"{path}.supplementalGroups[{i}]", errs)
    if spec.get("shareProcessNamespace") is True and spec.get("hostPID"):
        errs.append(
            E.invalid_value(
                f"{path}.shareProcessNamespace",
                True,
                "ShareProcessNamespace and HostPID cannot both be enabled",
            )
        )
    if sc.get("sysctls"):
        errs.extend(_sysctls(spec, lst(sc["sysctls"]), f"{path}.sysctls", allow_host_namespaced_sysctls))
    policy = sc.get("fsGroupChangePolicy")
    if policy is not None and policy not in ("Always", "OnRootMismatch"):
        errs.append(E.not_supported(f"{path}.fsGroupChangePolicy", policy, ["Always", "OnRootMismatch"]))
    errs.extend(validate_seccomp_profile_field(sc.get("seccompProfile"), f"{path}.seccompProfile"))
    errs.extend(validate_apparmor_profile_field(sc.get("appArmorProfile"), f"{path}.appArmorProfile"))
    groups_policy = sc.get("supplementalGroupsPolicy")
    if groups_policy is not None and groups_policy not in ("Merge", "Strict"):
        errs.append(E.not_supported(f"{path}.supplementalGroupsPolicy", groups_policy, ["Merge", "Strict"]))
    return errs


def _dns_config(spec: dict[str, Any], path: str) -> Errs:
    config = spec.get("dnsConfig")
    if spec.get("dnsPolicy") == "None":
        if config is None:
            return [E.required(path, "must provide `dnsConfig` when `dnsPolicy` is None")]
        if not lst(d(config).get("nameservers")):
            return [
                E.required(
                    f"{path}.nameservers", "must provide at least one DNS nameserver when `dnsPolicy` is None"
                )
            ]
    if config is None:
        return []
    config = d(config)
    errs: Errs = []
    nameservers = lst(config.get("nameservers"))
    if len(nameservers) > 3:
        errs.append(
            E.invalid_value(f"{path}.nameservers", nameservers, "must not have more than 3 nameservers")
        )
    for i, ns in enumerate(nameservers):
        errs.extend(is_valid_ip(f"{path}.nameservers[{i}]", s(ns)))
    searches = lst(config.get("searches"))
    if len(searches) > 32:
        errs.append(E.invalid_value(f"{path}.searches", searches, "must not have more than 32 search paths"))
    if len(" ".join(map(str, searches))) > 2048:
        errs.append(
            E.invalid_value(
                f"{path}.searches",
                searches,
                "must not have more than 2048 characters (including spaces) in the search list",
            )
        )
    for i, search in enumerate(searches):
        trimmed = s(search).removesuffix(".")
        errs.extend(
            E.invalid_value(f"{path}.searches[{i}]", trimmed, m) for m in meta.is_dns1123_subdomain(trimmed)
        )
    for i, option in enumerate(lst(config.get("options"))):
        if not s(d(option).get("name")):
            errs.append(E.required(f"{path}.options[{i}]", "must not be empty"))
    return errs


def _pod_resource_claims(claims: list[Any], path: str) -> Errs:
    errs: Errs = []
    names: set[str] = set()
    for i, claim in enumerate(claims):
        claim = d(claim)
        p = f"{path}[{i}]"
        name = s(claim.get("name"))
        if not name:
            errs.append(E.required(f"{p}.name"))
        elif name in names:
            errs.append(E.duplicate(f"{p}.name", name))
        else:
            errs.extend(E.invalid_value(f"{p}.name", name, m) for m in meta.is_dns1123_label(name))
            names.add(name)
        by_name, by_template = claim.get("resourceClaimName"), claim.get("resourceClaimTemplateName")
        if by_name is not None and by_template is not None:
            errs.append(
                E.invalid_value(
                    p,
                    claim,
                    "at most one of `resourceClaimName` or `resourceClaimTemplateName` may be specified",
                )
            )
        if by_name is None and by_template is None:
            errs.append(
                E.invalid_value(
                    p, claim, "must specify one of: `resourceClaimName`, `resourceClaimTemplateName`"
                )
            )
        for key, value in (("resourceClaimName", by_name), ("resourceClaimTemplateName", by_template)):
            if value is not None:
                errs.extend(
                    E.invalid_value(f"{p}.{key}", value, m) for m in meta.is_dns1123_subdomain(s(value))
                )
    return errs


RESTART_POLICIES = ["Always", "OnFailure", "Never"]
DNS_POLICIES = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]


def validate_pod_spec(
    spec: Any, pod_name: str, path: str, *, resource_is_pod: bool, allow_host_namespaced_sysctls: bool = False
) -> Errs:
    """A PodSpec, in pods and in every template. `pod_name` is '' for templates."""
    spec = d(spec)
    errs: Errs = []
    grace = spec.get("terminationGracePeriodSeconds")
    if grace is None:
        errs.append(E.required(f"{path}.terminationGracePeriodSeconds"))
    host_users = spec.get("hostUsers") is not False
    volumes, vol_errs = core_volumes.validate_volumes(spec.get("volumes"), pod_name, f"{path}.volumes")
    errs.extend(vol_errs)
    resource_claims = lst(spec.get("resourceClaims"))
    claim_names = {s(d(c).get("name")) for c in resource_claims if s(d(c).get("name"))}
    if resource_claims:
        errs.extend(_pod_resource_claims(resource_claims, f"{path}.resourceClaims"))
    containers = lst(spec.get("containers"))
    init_containers = lst(spec.get("initContainers"))
    errs.extend(
        validate_containers(containers, volumes, claim_names, grace, f"{path}.containers", host_users)
    )
    if init_containers:
        errs.extend(
            validate_init_containers(
                init_containers, containers, volumes, claim_names, grace, f"{path}.initContainers", host_users
            )
        )
    errs.extend(
        validate_ephemeral_containers(spec, volumes, claim_names, f"{path}.ephemeralContainers", host_users)
    )
    if spec.get("hostNetwork"):
        for i, ctr in enumerate(containers):
            for j, port in enumerate(lst(d(ctr).get("ports"))):
                hp, cp = num(d(port).get("hostPort")), num(d(port).get("containerPort"))
                if (resource_is_pod or hp != 0) and hp != cp:
                    errs.append(
                        E.invalid_value(
                            f"{path}.containers[{i}].ports[{j}].hostPort",
                            hp,
                            "must match `containerPort` when `hostNetwork` is true",
                        )
                    )
    restart = s(spec.get("restartPolicy"))
    if not restart:
        errs.append(E.required(f"{path}.restartPolicy"))
    elif restart not in RESTART_POLICIES:
        errs.append(E.not_supported(f"{path}.restartPolicy", restart, RESTART_POLICIES))
    dns_policy = s(spec.get("dnsPolicy"))
    if not dns_policy:
        errs.append(E.required(f"{path}.dnsPolicy"))
    elif dns_policy not in DNS_POLICIES:
        errs.append(E.not_supported(f"{path}.dnsPolicy", dns_policy, DNS_POLICIES))
    if spec.get("nodeSelector"):
        errs.extend(meta.validate_labels(spec["nodeSelector"], f"{path}.nodeSelector"))
    errs.extend(_pod_security_context(spec, f"{path}.securityContext", allow_host_namespaced_sysctls))
    for i, ref in enumerate(lst(spec.get("imagePullSecrets"))):
        if set(d(ref)) - {"name"}:
            errs.append(E.invalid_value(f"{path}.imagePullSecrets[{i}]", ref, "only name may be set"))
    if spec.get("affinity") is not None:
        errs.extend(core_scheduling.validate_affinity(spec["affinity"], f"{path}.affinity"))
    errs.extend(_dns_config(spec, f"{path}.dnsConfig"))
    for i, gate in enumerate(lst(spec.get("readinessGates"))):
        condition = s(d(gate).get("conditionType"))
        p = f"{path}.readinessGates[{i}].conditionType"
        errs.extend(E.invalid_value(p, condition, m) for m in meta.is_qualified_name(condition))
    seen_gates: set[str] = set()
    for i, gate in enumerate(lst(spec.get("schedulingGates"))):
        name = s(d(gate).get("name"))
        errs.extend(
            E.invalid_value(f"{path}.schedulingGates[{i}]", name, m) for m in meta.is_qualified_name(name)
        )
        if name in seen_gates:
            errs.append(E.duplicate(f"{path}.schedulingGates[{i}]", name))
        seen_gates.add(name)
    if spec.get("topologySpreadConstraints"):
        errs.extend(
            core_scheduling.validate_topology_spread_constraints(
                spec["topologySpreadConstraints"], f"{path}.topologySpreadConstraints"
            )
        )
    if not host_users:
        # Upstream spells two of these paths with a capital H.
        for key, shown in (("hostNetwork", "hostNetwork"), ("hostPID", "HostPID"), ("hostIPC", "HostIPC")):
            if spec.get(key):
                errs.append(E.forbidden_field(f"{path}.{shown}", "when `pod.Spec.HostUsers` is false"))
    for key, fn in (
        ("serviceAccountName", meta.name_is_dns_subdomain),
        ("nodeName", meta.name_is_dns_subdomain),
    ):
        value = s(spec.get(key))
        if value:
            errs.extend(E.invalid_value(f"{path}.{key}", value, m) for m in fn(value, False))
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and not 1 <= num(deadline) <= 2147483647:
        errs.append(
            E.invalid_value(
                f"{path}.activeDeadlineSeconds", deadline, meta.inclusive_range_error(1, 2147483647)
            )
        )
    for key in ("hostname", "subdomain"):
        value = s(spec.get(key))
        if value:
            errs.extend(E.invalid_value(f"{path}.{key}", value, m) for m in meta.is_dns1123_label(value))
    if spec.get("tolerations"):
        errs.extend(core_scheduling.validate_tolerations(spec["tolerations"], f"{path}.tolerations"))
    for i, alias in enumerate(lst(spec.get("hostAliases"))):
        alias = d(alias)
        errs.extend(is_valid_ip(f"{path}.hostAliases[{i}].ip", s(alias.get("ip"))))
        for j, hostname in enumerate(lst(alias.get("hostnames"))):
            p = f"{path}.hostAliases[{i}].hostnames[{j}]"
            errs.extend(E.invalid_value(p, hostname, m) for m in meta.is_dns1123_subdomain(s(hostname)))
    priority_class = s(spec.get("priorityClassName"))
    if priority_class:
        errs.extend(
            E.invalid_value(f"{path}.priorityClassName", priority_class, m)
            for m in meta.is_dns1123_subdomain(priority_class)
        )
    runtime_class = spec.get("runtimeClassName")
    if runtime_class is not None:
        errs.extend(
            E.invalid_value(f"{path}.runtimeClassName", runtime_class, m)
            for m in meta.is_dns1123_subdomain(s(runtime_class))
        )
    preemption = spec.get("preemptionPolicy")
    if preemption is not None:
        if not preemption:
            errs.append(E.required(f"{path}.preemptionPolicy"))
        elif preemption not in ("PreemptLowerPriority", "Never"):
            errs.append(
                E.not_supported(f"{path}.preemptionPolicy", preemption, ["PreemptLowerPriority", "Never"])
            )
    if spec.get("overhead") is not None:
        errs.extend(validate_resource_requirements({"limits": spec["overhead"]}, set(), f"{path}.overhead"))
    os_spec = spec.get("os")
    if os_spec is not None:
        os_name = s(d(os_spec).get("name"))
        if not os_name:
            errs.append(E.required(f"{path}.os.name"))
        elif os_name not in ("linux", "windows"):
            errs.append(E.not_supported(f"{path}.os.name", os_name, ["linux", "windows"]))
    return errs


# --- pod-level annotations ------------------------------------------------------------------------

_MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
_SECCOMP_POD = "seccomp.security.alpha.kubernetes.io/pod"
_SECCOMP_CONTAINER = "container.seccomp.security.alpha.kubernetes.io/"
_APPARMOR_CONTAINER = "container.apparmor.security.beta.kubernetes.io/"


def _seccomp_annotation(profile: str, path: str) -> Errs:
    if profile in ("runtime/default", "docker/default", "unconfined"):
        return []
    if profile.startswith("localhost/"):
        return core_volumes.validate_local_descending_path(profile[len("localhost/") :], path)
    return [E.invalid_value(path, profile, "must be a valid seccomp profile")]


def _all_container_names(spec: dict[str, Any]) -> set[str]:
    return {
        s(d(c).get("name"))
        for key in ("containers", "initContainers", "ephemeralContainers")
        for c in lst(spec.get(key))
    }


def validate_pod_annotations(annotations: Any, spec: dict[str, Any], path: str) -> Errs:
    """Annotations with meaning for pods: mirror pods, deletion cost, seccomp and AppArmor."""
    annotations = d(annotations)
    if not annotations:
        return []
    errs: Errs = []
    if _MIRROR_ANNOTATION in annotations and not s(spec.get("nodeName")):
        errs.append(
            E.invalid_value(
                f"{path}[{_MIRROR_ANNOTATION}]",
                annotations[_MIRROR_ANNOTATION],
                "must set spec.nodeName if mirror pod annotation is set",
            )
        )
    if _DELETION_COST in annotations:
        cost = s(annotations[_DELETION_COST])
        try:
            ok = -(2**31) <= int(cost, 10) < 2**31 and cost.strip() == cost and "_" not in cost
        except ValueError:
            ok = False
        if not ok:
            errs.append(E.invalid_value(f"{path}[{_DELETION_COST}]", cost, "must be a 32bit integer"))
    if _SECCOMP_POD in annotations:
        errs.extend(_seccomp_annotation(s(annotations[_SECCOMP_POD]), f"{path}.{_SECCOMP_POD}"))
    for key, value in annotations.items():
        if key.startswith(_SECCOMP_CONTAINER):
            errs.extend(_seccomp_annotation(s(value), f"{path}.{key}"))
    for key, value in annotations.items():
        if not key.startswith(_APPARMOR_CONTAINER):
            continue
        container = key[len(_APPARMOR_CONTAINER) :]
        if container not in _all_container_names(spec):
            errs.append(E.invalid_value(f"{path}[{key}]", container, "container not found"))
        profile = s(value)
        if profile not in ("", "runtime/default", "unconfined") and not profile.startswith("localhost/"):
            errs.append(
                E.invalid_value(
                    f"{path}[{key}]", profile, f"invalid AppArmor profile name: {json.dumps(profile)}"
                )
            )
    return errs


def _seccomp_match(annotation: str, field: dict[str, Any], path: str) -> Errs:
    kind = s(field.get("type"))
    if kind == "Unconfined" and annotation != "unconfined":
        return [E.forbidden_field(f"{path}.type", "seccomp type in annotation and field must match")]
    if kind == "RuntimeDefault" and annotation not in ("runtime/default", "docker/default"):
        return [E.forbidden_field(f"{path}.type", "seccomp type in annotation and field must match")]
    if kind == "Localhost":
        if not annotation.startswith("localhost/"):
            return [E.forbidden_field(f"{path}.type", "seccomp type in annotation and field must match")]
        if annotation[len("localhost/") :] != field.get("localhostProfile"):
            return [
                E.forbidden_field(
                    f"{path}.localhostProfile", "seccomp profile in annotation and field must match"
                )
            ]
    return []


def _containers_with_paths(spec: dict[str, Any], path: str) -> list[tuple[dict[str, Any], str]]:
    out = []
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for i, ctr in enumerate(lst(spec.get(key))):
            out.append((d(ctr), f"{path}.{key}[{i}]"))
    return out


def validate_security_annotations_match(annotations: Any, spec: dict[str, Any], path: str) -> Errs:
    """Where both a seccomp/AppArmor annotation and the matching field are set, they must agree."""
    annotations = d(annotations)
    if not annotations:
        return []
    errs: Errs = []
    pod_sc = d(spec.get("securityContext"))
    if isinstance(pod_sc.get("seccompProfile"), dict) and _SECCOMP_POD in annotations:
        errs.extend(
            _seccomp_match(
                s(annotations[_SECCOMP_POD]),
                pod_sc["seccompProfile"],
                f"{path}.securityContext.seccompProfile",
            )
        )
    for ctr, cpath in _containers_with_paths(spec, path):
        profile = d(ctr.get("securityContext")).get("seccompProfile")
        key = _SECCOMP_CONTAINER + s(ctr.get("name"))
        if isinstance(profile, dict) and key in annotations:
            errs.extend(
                _seccomp_match(s(annotations[key]), profile, f"{cpath}.securityContext.seccompProfile")
            )
    if s(d(spec.get("os")).get("name")) == "windows":
        return errs
    for ctr, cpath in _containers_with_paths(spec, path):
        profile = d(ctr.get("securityContext")).get("appArmorProfile") or pod_sc.get("appArmorProfile")
        key = _APPARMOR_CONTAINER + s(ctr.get("name"))
        if not isinstance(profile, dict) or key not in annotations:
            continue
        annotation = s(annotations[key])
        ap = f"{cpath}.securityContext.appArmorProfile"
        kind = s(profile.get("type"))
        if (kind == "Unconfined" and annotation != "unconfined") or (
            kind == "RuntimeDefault" and annotation != "runtime/default"
        ):
            errs.append(E.forbidden_field(f"{ap}.type", "apparmor type in annotation and field must match"))
        elif kind == "Localhost":
            if not annotation.startswith("localhost/"):
                errs.append(
                    E.forbidden_field(f"{ap}.type", "apparmor type in annotation and field must match")
                )
            elif annotation[len("localhost/") :] != profile.get("localhostProfile"):
                errs.append(
                    E.forbidden_field(
                        f"{ap}.localhostProfile", "apparmor profile in annotation and field must match"
                    )
                )
    return errs


# --- pods -----------------------------------------------------------------------------------------


def _pod_metadata_and_spec(pod: dict[str, Any], *, allow_host_namespaced_sysctls: bool = False) -> Errs:
    md, spec = d(pod.get("metadata")), d(pod.get("spec"))
    errs = meta.validate_object_meta(md, True, meta.name_is_dns_subdomain)
    errs.extend(validate_pod_annotations(md.get("annotations"), spec, "metadata.annotations"))
    errs.extend(
        validate_pod_spec(
            spec,
            s(md.get("name")),
            "spec",
            resource_is_pod=True,
            allow_host_namespaced_sysctls=allow_host_namespaced_sysctls,
        )
    )
    if not s(spec.get("serviceAccountName")):
        for vi, vol in enumerate(lst(spec.get("volumes"))):
            projected = d(vol).get("projected")
            if projected is None:
                continue
            for si, source in enumerate(lst(d(projected).get("sources"))):
                if d(source).get("serviceAccountToken") is not None:
                    errs.append(
                        E.forbidden_field(
                            f"spec.volumes[{vi}].projected.sources[{si}].serviceAccountToken",
                            "must not be specified when serviceAccountName is not set",
                        )
                    )
    for key in ("containers", "initContainers"):
        for i, ctr in enumerate(lst(spec.get(key))):
            errs.extend(image_whitespace_errors(d(ctr), f"spec.{key}[{i}]"))
    return errs


def validate_pod_create(pod: dict[str, Any]) -> Errs:
    errs = _pod_metadata_and_spec(pod)
    spec = d(pod.get("spec"))
    if lst(spec.get("ephemeralContainers")):
        errs.append(E.forbidden_field("spec.ephemeralContainers", "cannot be set on create"))
    if s(spec.get("nodeName")) and lst(spec.get("schedulingGates")):
        errs.append(
            E.forbidden_field("spec.nodeName", "cannot be set until all schedulingGates have been cleared")
        )
    errs.extend(validate_security_annotations_match(d(pod.get("metadata")).get("annotations"), spec, "spec"))
    return errs


def _same_resources(spec: dict[str, Any], old_spec: dict[str, Any]) -> bool:
    def resources(s: dict[str, Any]) -> list[Any]:
        return [d(c).get("resources") for key in ("containers", "initContainers") for c in lst(s.get(key))]

    return sem_equal(resources(spec), resources(old_spec))


def compute_qos(spec: dict[str, Any]) -> str:
    """BestEffort, Guaranteed or Burstable, from the containers' cpu and memory requests and limits."""
    requests: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    guaranteed = True
    for ctr in lst(spec.get("containers")) + lst(spec.get("initContainers")):
        resources = d(d(ctr).get("resources"))
        for name, raw in d(resources.get("requests")).items():
            if name in ("cpu", "memory"):
                try:
                    q = _quantity.parse(raw).nanos
                except ValueError:
                    continue
                if q > 0:
                    requests[name] = requests.get(name, 0) + q
        found = set()
        for name, raw in d(resources.get("limits")).items():
            if name in ("cpu", "memory"):
                try:
                    q = _quantity.parse(raw).nanos
                except ValueError:
                    continue
                if q > 0:
                    found.add(name)
                    limits[name] = limits.get(name, 0) + q
        if found != {"cpu", "memory"}:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if (
        guaranteed
        and all(name in limits and limits[name] == value for name, value in requests.items())
        and len(requests) == len(limits)
    ):
        return "Guaranteed"
    return "Burstable"


_UPDATABLE = ",".join(
    [
        "`spec.containers[*].image`",
        "`spec.initContainers[*].image`",
        "`spec.activeDeadlineSeconds`",
        "`spec.tolerations` (only additions to existing tolerations)",
        "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
    ]
)


def _container_updates(new: list[Any], old: list[Any], path: str) -> tuple[Errs, bool]:
    if len(new) != len(old):
        return [E.forbidden_field(path, "pod updates may not add or remove containers")], True
    errs: Errs = []
    for i, ctr in enumerate(new):
        image = s(d(ctr).get("image"))
        if not image:
            errs.append(E.required(f"{path}[{i}].image"))
        if image.strip() != image:
            errs.append(
                E.invalid_value(f"{path}[{i}].image", image, "must not have leading or trailing whitespace")
            )
    return errs, False


def validate_pod_update(pod: dict[str, Any], old: dict[str, Any]) -> Errs:
    """Pod updates: metadata rules, the full pod validation, then the narrow set of mutable spec fields."""
    md, old_md = d(pod.get("metadata")), d(old.get("metadata"))
    spec, old_spec = d(pod.get("spec")), d(old.get("spec"))
    errs = meta.validate_object_meta_update(md, old_md)
    old_sysctls = lst(d(old_spec.get("securityContext")).get("sysctls"))
    errs.extend(_pod_metadata_and_spec(pod, allow_host_namespaced_sysctls=bool(old_sysctls)))
    ann, old_ann = d(md.get("annotations")), d(old_md.get("annotations"))
    for key, old_value in old_ann.items():
        if ann.get(key) == old_value and key in ann:
            continue
        if key.startswith(_APPARMOR_CONTAINER):
            errs.append(
                E.forbidden_field(
                    f"metadata.annotations[{key}]", "may not remove or update AppArmor annotations"
                )
            )
        if key == _MIRROR_ANNOTATION:
            errs.append(
                E.forbidden_field(
                    f"metadata.annotations[{key}]", "may not remove or update mirror pod annotation"
                )
            )
    for key in ann:
        if key in old_ann:
            continue
        if key.startswith(_APPARMOR_CONTAINER):
            errs.append(E.forbidden_field(f"metadata.annotations[{key}]", "may not add AppArmor annotations"))
        if key == _MIRROR_ANNOTATION:
            errs.append(
                E.forbidden_field(f"metadata.annotations[{key}]", "may not add mirror pod annotation")
            )
    for key in ("containers", "initContainers"):
        container_errs, stop = _container_updates(lst(spec.get(key)), lst(old_spec.get(key)), f"spec.{key}")
        errs.extend(container_errs)
        if stop:
            return errs
    deadline, old_deadline = spec.get("activeDeadlineSeconds"), old_spec.get("activeDeadlineSeconds")
    if deadline is not None:
        if not 0 <= num(deadline) <= 2147483647:
            errs.append(
                E.invalid_value(
                    "spec.activeDeadlineSeconds", deadline, meta.inclusive_range_error(0, 2147483647)
                )
            )
            return errs
        if old_deadline is not None and num(old_deadline) < num(deadline):
            errs.append(
                E.invalid_value(
                    "spec.activeDeadlineSeconds", deadline, "must be less than or equal to previous value"
                )
            )
            return errs
    elif old_deadline is not None:
        errs.append(
            E.invalid_value(
                "spec.activeDeadlineSeconds", None, "must not update from a positive integer to nil value"
            )
        )
    errs.extend(
        core_scheduling.validate_only_added_tolerations(
            spec.get("tolerations"), old_spec.get("tolerations"), "spec.tolerations"
        )
    )
    new_gates = lst(spec.get("schedulingGates"))
    if new_gates:
        old_names = {s(d(g).get("name")) for g in lst(old_spec.get("schedulingGates"))}
        for i, gate in enumerate(new_gates):
            name = s(d(gate).get("name"))
            if name not in old_names:
                errs.append(
                    E.forbidden_field(
                        f"spec.schedulingGates[{i}].name",
                        f"only deletion is allowed, but found new scheduling gate '{name}'",
                    )
                )
    if sem_equal(spec, old_spec):
        return errs
    if not _same_resources(spec, old_spec) and (
        s(d(old.get("status")).get("qosClass")) or compute_qos(old_spec)
    ) != compute_qos(spec):
        errs.append(
            E.invalid_value("metadata", s(d(pod.get("status")).get("qosClass")), "Pod QoS is immutable")
        )
    munged = dict(spec)
    for key in ("containers", "initContainers"):
        if key in munged or key in old_spec:
            munged[key] = [
                {**d(ctr), "image": d(old_ctr).get("image")}
                for ctr, old_ctr in zip(lst(spec.get(key)), lst(old_spec.get(key)), strict=False)
            ]
    for key in ("activeDeadlineSeconds", "schedulingGates", "tolerations"):
        munged.pop(key, None)
        if key in old_spec:
            munged[key] = old_spec[key]
    old_grace = old_spec.get("terminationGracePeriodSeconds")
    if isinstance(old_grace, int) and old_grace < 0 and munged.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = old_grace
    if lst(old_spec.get("schedulingGates")):
        if not sem_equal(munged.get("nodeSelector"), old_spec.get("nodeSelector")):
            errs.extend(
                core_scheduling.validate_node_selector_mutation(
                    "spec.nodeSelector", munged.get("nodeSelector"), old_spec.get("nodeSelector")
                )
            )
            munged["nodeSelector"] = old_spec.get("nodeSelector")
        old_na = d(old_spec.get("affinity")).get("nodeAffinity")
        new_na = d(munged.get("affinity")).get("nodeAffinity")
        if not sem_equal(old_na, new_na):
            errs.extend(
                core_scheduling.validate_node_affinity_mutation("spec.affinity.nodeAffinity", new_na, old_na)
            )
            munged["affinity"] = {**d(munged.get("affinity")), "nodeAffinity": old_na}
    if not sem_equal(munged, old_spec):
        changes = diff(old_spec, munged, "spec")
        errs.append(
            E.forbidden_field("spec", f"pod updates may not change fields other than {_UPDATABLE}\n{changes}")
        )
    return errs


# --- templates and replication controllers --------------------------------------------------------


def validate_pod_template_spec(template: Any, path: str) -> Errs:
    """A PodTemplateSpec inside a workload (labels and annotations sit on `<path>.labels`, as upstream)."""
    template = d(template)
    md, spec = d(template.get("metadata")), d(template.get("spec"))
    errs = meta.validate_template_labels_annotations(md, path)
    errs.extend(validate_pod_annotations(md.get("annotations"), spec, f"{path}.annotations"))
    errs.extend(validate_pod_spec(spec, "", f"{path}.spec", resource_is_pod=False))
    errs.extend(validate_security_annotations_match(md.get("annotations"), spec, f"{path}.spec"))
    if lst(spec.get("ephemeralContainers")):
        errs.append(
            E.forbidden_field(
                f"{path}.spec.ephemeralContainers", "ephemeral containers not allowed in pod template"
            )
        )
    return errs


def validate_pod_template(obj: dict[str, Any], old: dict[str, Any] | None) -> Errs:
    md = d(obj.get("metadata"))
    if old is None:
        errs = meta.validate_object_meta(md, True, meta.name_is_dns_subdomain)
    else:
        errs = meta.validate_object_meta_update(md, d(old.get("metadata")))
    errs.extend(validate_pod_template_spec(obj.get("template"), "template"))
    return errs


def validate_replication_controller(obj: dict[str, Any], old: dict[str, Any] | None) -> Errs:
    md, spec = d(obj.get("metadata")), d(obj.get("spec"))
    if old is None:
        errs = meta.validate_object_meta(md, True, meta.name_is_dns_subdomain)
    else:
        errs = meta.validate_object_meta_update(md, d(old.get("metadata")))
    nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds", errs)
    selector = d(spec.get("selector"))
    if not selector:
        errs.append(E.required("spec.selector"))
    nonnegative(spec.get("replicas"), "spec.replicas", errs)
    template = spec.get("template")
    if template is None:
        errs.append(E.required("spec.template"))
    else:
        labels = d(d(d(template).get("metadata")).get("labels"))
        if selector and any(labels.get(k) != v for k, v in selector.items()):
            errs.append(
                E.invalid_value(
                    "spec.template.metadata.labels", labels, "`selector` does not match template `labels`"
                )
            )
        errs.extend(validate_pod_template_spec(template, "spec.template"))
        tspec = d(d(template).get("spec"))
        if tspec.get("restartPolicy") != "Always":
            errs.append(
                E.not_supported("spec.template.spec.restartPolicy", s(tspec.get("restartPolicy")), ["Always"])
            )
        if tspec.get("activeDeadlineSeconds") is not None:
            errs.append(
                E.forbidden_field(
                    "spec.template.spec.activeDeadlineSeconds",
                    "activeDeadlineSeconds in ReplicationController is not Supported",
                )
            )
    return errs
