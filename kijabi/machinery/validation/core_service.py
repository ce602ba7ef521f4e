"""Services (upstream kubernetes `pkg/apis/core/validation/validation.go`: ValidateService,
ValidateServiceUpdate and the clusterIP / ipFamily / traffic policy helpers).

Validation sees a Service after IP and port allocation, as upstream does: a LoadBalancer with
`externalTrafficPolicy: Local` must already carry its healthCheckNodePort.
"""

from __future__ import annotations

from kijabi.machinery import errors as E

from . import core_container, meta
from ._util import (
    Ctx,
    Errs,
    Obj,
    d,
    is_ipv6_string,
    is_valid_cidr,
    is_valid_ip,
    lst,
    num,
    s,
    validate_non_special_ip,
)

_SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
_KUBELET_PORT = 10250
_MAX_AFFINITY_TIMEOUT = 86400


def _is_headless(spec: Obj) -> bool:
    ips = lst(spec.get("clusterIPs"))
    return len(ips) == 1 and ips[0] == "None"


def _externally_accessible(spec: Obj) -> bool:
    kind = spec.get("type")
    return kind in ("LoadBalancer", "NodePort") or (
        kind == "ClusterIP" and bool(lst(spec.get("externalIPs")))
    )


def _needs_health_check(spec: Obj) -> bool:
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


def _service_port(port: Obj, require_name: bool, names: set[str], path: str) -> Errs:
    errs: Errs = []
    name = s(port.get("name"))
    if require_name and not name:
        errs.append(E.required(f"{path}.name"))
    elif name:
        errs.extend(E.invalid_value(f"{path}.name", name, m) for m in meta.is_dns1123_label(name))
        if name in names:
            errs.append(E.duplicate(f"{path}.name", name))
        else:
            names.add(name)
    number = num(port.get("port"))
    errs.extend(E.invalid_value(f"{path}.port", number, m) for m in meta.is_valid_port_num(number))
    protocol = s(port.get("protocol"))
    if not protocol:
        errs.append(E.required(f"{path}.protocol"))
    elif protocol not in core_container.PROTOCOLS:
        errs.append(E.not_supported(f"{path}.protocol", protocol, core_container.PROTOCOLS))
    errs.extend(core_container.validate_port_num_or_name(port.get("targetPort"), f"{path}.targetPort"))
    app_protocol = port.get("appProtocol")
    if app_protocol is not None:
        errs.extend(
            E.invalid_value(f"{path}.appProtocol", app_protocol, m)
            for m in meta.is_qualified_name(s(app_protocol))
        )
    return errs


def _cluster_ips(spec: Obj) -> Errs:
    if spec.get("type") == "ExternalName":
        return []
    errs: Errs = []
    cluster_ip, cluster_ips = s(spec.get("clusterIP")), lst(spec.get("clusterIPs"))
    if cluster_ip:
        if not cluster_ips:
            errs.append(E.required("spec.clusterIPs"))
        elif cluster_ips[0] != cluster_ip:
            errs.append(E.invalid_value("spec.clusterIPs", cluster_ips, "first value must match `clusterIP`"))
    elif cluster_ips:
        errs.append(
            E.invalid_value("spec.clusterIPs", cluster_ips, "must be empty when `clusterIP` is not specified")
        )
    families = lst(spec.get("ipFamilies"))
    seen: set[str] = set()
    for i, family in enumerate(families):
        if family not in ("IPv4", "IPv6"):
            errs.append(E.not_supported(f"spec.ipFamilies[{i}]", family, ["IPv4", "IPv6"]))
        if s(family) in seen:
            errs.append(E.duplicate(f"spec.ipFamilies[{i}]", family))
        seen.add(s(family))
    policy = spec.get("ipFamilyPolicy")
    policies = ["PreferDualStack", "RequireDualStack", "SingleStack"]
    if policy is not None and policy not in policies:
        errs.append(E.not_supported("spec.ipFamilyPolicy", policy, policies))
    invalid_ips = False
    for i, ip in enumerate(cluster_ips):
        if i == 0 and ip == "None":
            if len(cluster_ips) > 1:
                invalid_ips = True
                errs.append(
                    E.invalid_value("spec.clusterIPs", cluster_ips, "'None' must be the first and only value")
                )
            continue
        ip_errs = is_valid_ip(f"spec.clusterIPs[{i}]", s(ip))
        invalid_ips = invalid_ips or bool(ip_errs)
        errs.extend(ip_errs)
    if len(cluster_ips) > 2:
        errs.append(E.invalid_value("spec.clusterIPs", cluster_ips, "may only hold up to 2 values"))
    if invalid_ips:
        return errs
    if len(cluster_ips) > 1:
        v6 = [is_ipv6_string(s(ip)) for ip in cluster_ips]
        if not (any(v6) and not all(v6)):
            errs.append(
                E.invalid_value(
                    "spec.clusterIPs", cluster_ips, "may specify no more than one IP for each IP family"
                )
            )
    if not _is_headless(spec) and cluster_ips and families:
        for i, ip in enumerate(cluster_ips[: len(families)]):
            if families[i] == "IPv4" and is_ipv6_string(s(ip)):
                errs.append(
                    E.invalid_value(
                        f"spec.clusterIPs[{i}]",
                        ip,
                        f"expected an IPv4 value as indicated by `ipFamilies[{i}]`",
                    )
                )
            if families[i] == "IPv6" and not is_ipv6_string(s(ip)):
                errs.append(
                    E.invalid_value(
                        f"spec.clusterIPs[{i}]",
                        ip,
                        f"expected an IPv6 value as indicated by `ipFamilies[{i}]`",
                    )
                )
    return errs


def _load_balancer_class(spec: Obj, old_spec: Obj | None) -> Errs:
    errs: Errs = []
    lb = spec.get("type") == "LoadBalancer"
    cls = spec.get("loadBalancerClass")
    if (
        old_spec is not None
        and lb
        and old_spec.get("type") == "LoadBalancer"
        and old_spec.get("loadBalancerClass") != cls
    ):
        errs.append(E.invalid_value("spec.loadBalancerClass", cls, "may not change once set"))
    if lb:
        if cls is not None:
            errs.extend(
                E.invalid_value("spec.loadBalancerClass", cls, m) for m in meta.is_qualified_name(s(cls))
            )
    elif cls is not None:
        errs.append(
            E.forbidden_field("spec.loadBalancerClass", "may only be used when `type` is 'LoadBalancer'")
        )
    return errs


def validate_service_spec(obj: Obj) -> Errs:
    """Service create-time rules (also re-run on every update)."""
    md, spec = d(obj.get("metadata")), d(obj.get("spec"))
    errs: Errs = []
    annotations = d(md.get("annotations"))
    hints = annotations.get("service.kubernetes.io/topology-aware-hints")
    mode = annotations.get("service.kubernetes.io/topology-mode")
    if hints is not None and mode is not None and hints != mode:
        errs.append(
            E.invalid_value(
                "metadata.annotations[service.kubernetes.io/topology-mode]",
                mode,
                "must match annotations[service.kubernetes.io/topology-aware-hints] when both are specified",
            )
        )
    kind = s(spec.get("type"))
    ports = [d(p) for p in lst(spec.get("ports"))]
    headless = _is_headless(spec)
    if not ports and not headless and kind != "ExternalName":
        errs.append(E.required("spec.ports"))
    if kind == "LoadBalancer":
        for i, port in enumerate(ports):
            if num(port.get("port")) == _KUBELET_PORT:
                errs.append(
                    E.invalid_value(
                        f"spec.ports[{i}]",
                        _KUBELET_PORT,
                        f"may not expose port {_KUBELET_PORT} externally since it is used by kubelet",
                    )
                )
        if headless:
            errs.append(
                E.invalid_value(
                    "spec.clusterIPs[0]", "None", "may not be set to 'None' for LoadBalancer services"
                )
            )
    elif kind == "NodePort":
        if headless:
            errs.append(
                E.invalid_value(
                    "spec.clusterIPs[0]", "None", "may not be set to 'None' for NodePort services"
                )
            )
    elif kind == "ExternalName":
        if lst(spec.get("clusterIPs")):
            errs.append(E.forbidden_field("spec.clusterIPs", "may not be set for ExternalName services"))
        if lst(spec.get("ipFamilies")):
            errs.append(E.forbidden_field("spec.ipFamilies", "may not be set for ExternalName services"))
        if spec.get("ipFamilyPolicy") is not None:
            errs.append(E.forbidden_field("spec.ipFamilyPolicy", "may not be set for ExternalName services"))
        cname = s(spec.get("externalName")).removesuffix(".")
        if cname:
            errs.extend(
                E.invalid_value("spec.externalName", cname, m) for m in meta.is_dns1123_subdomain(cname)
            )
        else:
            errs.append(E.required("spec.externalName"))
    names: set[str] = set()
    for i, port in enumerate(ports):
        errs.extend(_service_port(port, len(ports) > 1, names, f"spec.ports[{i}]"))
    if spec.get("selector") is not None:
        errs.extend(meta.validate_labels(spec["selector"], "spec.selector"))
    affinity = s(spec.get("sessionAffinity"))
    if not affinity:
        errs.append(E.required("spec.sessionAffinity"))
    elif affinity not in ("ClientIP", "None"):
        errs.append(E.not_supported("spec.sessionAffinity", affinity, ["ClientIP", "None"]))
    config = spec.get("sessionAffinityConfig")
    if affinity == "ClientIP":
        p = "spec.sessionAffinityConfig"
        if config is None:
            errs.append(E.required(p, "when session affinity type is ClientIP"))
        elif d(config).get("clientIP") is None:
            errs.append(E.required(f"{p}.clientIP", "when session affinity type is ClientIP"))
        elif d(d(config)["clientIP"]).get("timeoutSeconds") is None:
            errs.append(E.required(f"{p}.clientIP.timeoutSeconds", "when session affinity type is ClientIP"))
        else:
            timeout = num(d(d(config)["clientIP"]).get("timeoutSeconds"))
            if timeout <= 0 or timeout > _MAX_AFFINITY_TIMEOUT:
                errs.append(
                    E.invalid_value(
                        f"{p}.clientIP.timeoutSeconds",
                        timeout,
                        f"must be greater than 0 and less than {_MAX_AFFINITY_TIMEOUT}",
                    )
                )
    elif affinity == "None" and config is not None:
        errs.append(
            E.forbidden_field("spec.sessionAffinityConfig", "must not be set when session affinity is None")
        )
    errs.extend(_cluster_ips(spec))
    for i, ip in enumerate(lst(spec.get("externalIPs"))):
        p = f"spec.externalIPs[{i}]"
        ip_errs = is_valid_ip(p, s(ip))
        errs.extend(ip_errs if ip_errs else validate_non_special_ip(s(ip), p))
    if not kind:
        errs.append(E.required("spec.type"))
    elif kind not in _SERVICE_TYPES:
        errs.append(E.not_supported("spec.type", kind, _SERVICE_TYPES))
    if kind == "ClusterIP":
        for i, port in enumerate(ports):
            if num(port.get("nodePort")):
                errs.append(
                    E.forbidden_field(
                        f"spec.ports[{i}].nodePort", "may not be used when `type` is 'ClusterIP'"
                    )
                )
    node_ports: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        node_port = num(port.get("nodePort"))
        if not node_port:
            continue
        key = (s(port.get("protocol")), node_port)
        if key in node_ports:
            errs.append(E.duplicate(f"spec.ports[{i}].nodePort", node_port))
        node_ports.add(key)
    seen_ports: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        key = (s(port.get("protocol")), num(port.get("port")))
        if key in seen_ports:
            errs.append(E.duplicate(f"spec.ports[{i}]", {"port": key[1], "protocol": key[0]}))
        seen_ports.add(key)
    ranges = lst(spec.get("loadBalancerSourceRanges"))
    source_ranges_annotation = "service.beta.kubernetes.io/load-balancer-source-ranges"
    if ranges:
        if kind != "LoadBalancer":
            errs.append(
                E.forbidden_field(
                    "spec.LoadBalancerSourceRanges", "may only be used when `type` is 'LoadBalancer'"
                )
            )
        for i, value in enumerate(ranges):
            errs.extend(is_valid_cidr(f"spec.LoadBalancerSourceRanges[{i}]", s(value).strip()))
    elif source_ranges_annotation in annotations:
        p = f"metadata.annotations[{source_ranges_annotation}]"
        if kind != "LoadBalancer":
            errs.append(E.forbidden_field(p, "may only be used when `type` is 'LoadBalancer'"))
        value = s(annotations[source_ranges_annotation]).strip()
        if value:
            for cidr in value.split(","):
                errs.extend(is_valid_cidr(p, cidr.strip()))
    if spec.get("allocateLoadBalancerNodePorts") is not None and kind != "LoadBalancer":
        errs.append(
            E.forbidden_field(
                "spec.allocateLoadBalancerNodePorts", "may only be used when `type` is 'LoadBalancer'"
            )
        )
    if kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        errs.append(E.required("allocateLoadBalancerNodePorts"))
    errs.extend(_load_balancer_class(spec, None))
    etp = s(spec.get("externalTrafficPolicy"))
    if not _externally_accessible(spec):
        if etp:
            errs.append(
                E.invalid_value(
                    "spec.externalTrafficPolicy", etp, "may only be set for externally-accessible services"
                )
            )
    elif not etp:
        errs.append(E.required("spec.externalTrafficPolicy"))
    elif etp not in ("Cluster", "Local"):
        errs.append(E.not_supported("spec.externalTrafficPolicy", etp, ["Cluster", "Local"]))
    hc_port = num(spec.get("healthCheckNodePort"))
    if not _needs_health_check(spec):
        if hc_port:
            errs.append(
                E.invalid_value(
                    "spec.healthCheckNodePort",
                    hc_port,
                    "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
                )
            )
    elif not hc_port:
        errs.append(E.required("spec.healthCheckNodePort"))
    else:
        errs.extend(
            E.invalid_value("spec.healthCheckNodePort", hc_port, m) for m in meta.is_valid_port_num(hc_port)
        )
    itp = spec.get("internalTrafficPolicy")
    if itp is None:
        if kind in ("ClusterIP", "NodePort", "LoadBalancer"):
            errs.append(E.required("spec.internalTrafficPolicy"))
    elif itp not in ("Cluster", "Local"):
        errs.append(E.not_supported("spec.internalTrafficPolicy", itp, ["Cluster", "Local"]))
    distribution = spec.get("trafficDistribution")
    if distribution is not None and distribution != "PreferClose":
        errs.append(E.not_supported("spec.trafficDistribution", distribution, ["PreferClose"]))
    return errs


def _service_update(spec: Obj, old_spec: Obj) -> Errs:
    errs: Errs = []
    external_name = "ExternalName" in (spec.get("type"), old_spec.get("type"))
    new_headless, old_headless = _is_headless(spec), _is_headless(old_spec)
    ips, old_ips = lst(spec.get("clusterIPs")), lst(old_spec.get("clusterIPs"))
    if not external_name and not (new_headless and old_headless):
        if len(old_ips) == len(ips):
            for i, ip in enumerate(old_ips):
                if ip != ips[i]:
                    errs.append(E.invalid_value(f"spec.clusterIPs[{i}]", ips, "may not change once set"))
        elif len(old_ips) > len(ips):
            if not ips:
                errs.append(E.invalid_value("spec.clusterIPs[0]", ips, "primary clusterIP can not be unset"))
            if old_ips and ips and ips[0] != old_ips[0]:
                errs.append(E.invalid_value("spec.clusterIPs[0]", ips, "may not change once set"))
            if len(ips) == 1 and spec.get("ipFamilyPolicy") != "SingleStack":
                errs.append(
                    E.invalid_value(
                        "spec.ipFamilyPolicy",
                        spec.get("ipFamilyPolicy"),
                        "must be set to 'SingleStack' when releasing the secondary clusterIP",
                    )
                )
        elif old_ips and ips[0] != old_ips[0]:
            errs.append(E.invalid_value("spec.clusterIPs[0]", ips, "may not change once set"))
    families, old_families = lst(spec.get("ipFamilies")), lst(old_spec.get("ipFamilies"))
    if not external_name and new_headless == old_headless and not new_headless:
        if len(old_families) == len(families):
            for i, family in enumerate(old_families):
                if family != families[i]:
                    errs.append(E.invalid_value("spec.ipFamilies[0]", families, "may not change once set"))
        elif len(old_families) > len(families):
            if not ips:
                errs.append(
                    E.invalid_value("spec.ipFamilies[0]", families, "primary ipFamily can not be unset")
                )
            if families and families[0] != old_families[0]:
                errs.append(E.invalid_value("spec.ipFamilies[0]", ips, "may not change once set"))
            if len(families) == 1 and spec.get("ipFamilyPolicy") != "SingleStack":
                errs.append(
                    E.invalid_value(
                        "spec.ipFamilyPolicy",
                        spec.get("ipFamilyPolicy"),
                        "must be set to 'SingleStack' when releasing the secondary ipFamily",
                    )
                )
        elif old_families and families and families[0] != old_families[0]:
            errs.append(E.invalid_value("spec.ipFamilies[0]", ips, "may not change once set"))
    errs.extend(_load_balancer_class(spec, old_spec))
    if (
        _needs_health_check(old_spec)
        and _needs_health_check(spec)
        and num(spec.get("healthCheckNodePort")) != num(old_spec.get("healthCheckNodePort"))
    ):
        errs.append(E.forbidden_field("spec.healthCheckNodePort", "field is immutable"))
    return errs


def validate_service(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
    if old is None:
        errs = meta.validate_object_meta(obj.get("metadata"), True, meta.name_is_dns1035_label)
    else:
        errs = meta.validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
        errs.extend(_service_update(d(obj.get("spec")), d(old.get("spec"))))
        errs.extend(meta.validate_object_meta(obj.get("metadata"), True, meta.name_is_dns1035_label))
    errs.extend(validate_service_spec(obj))
    return errs
