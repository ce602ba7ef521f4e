"""The networking.k8s.io group: NetworkPolicy, Ingress, IngressClass
(upstream kubernetes `pkg/apis/networking/validation/validation.go`)."""

from __future__ import annotations

from kijabi.machinery import errors as E

from . import meta
from ._util import Ctx, Errs, Obj, Validator, d, immutable, is_valid_cidr, lst, num, parse_cidr, parse_ip, s

# --- NetworkPolicy --------------------------------------------------------------------------------


def _np_port(port: Obj, path: str) -> Errs:
    errs: Errs = []
    protocol = port.get("protocol")
    if protocol is not None and protocol not in ("TCP", "UDP", "SCTP"):
        errs.append(E.not_supported(f"{path}.protocol", protocol, ["TCP", "UDP", "SCTP"]))
    value, end = port.get("port"), port.get("endPort")
    if value is not None:
        if isinstance(value, int) and not isinstance(value, bool):
            errs.extend(E.invalid_value(f"{path}.port", value, m) for m in meta.is_valid_port_num(value))
            if end is not None:
                if num(end) < value:
                    errs.append(
                        E.invalid_value(f"{path}.endPort", end, "must be greater than or equal to `port`")
                    )
                errs.extend(
                    E.invalid_value(f"{path}.endPort", end, m) for m in meta.is_valid_port_num(num(end))
                )
        else:
            if end is not None:
                errs.append(
                    E.invalid_value(f"{path}.endPort", end, "may not be specified when `port` is non-numeric")
                )
            errs.extend(E.invalid_value(f"{path}.port", value, m) for m in meta.is_valid_port_name(s(value)))
    elif end is not None:
        errs.append(
            E.invalid_value(f"{path}.endPort", end, "may not be specified when `port` is not specified")
        )
    return errs


def _ip_block(block: Obj, path: str, existing: set[str]) -> Errs:
    cidr = s(block.get("cidr"))
    if not cidr:
        return [E.required(f"{path}.cidr")]
    errs = [] if cidr in existing else is_valid_cidr(f"{path}.cidr", cidr)
    network = parse_cidr(cidr)
    if network is None:
        return errs
    for i, text in enumerate(lst(block.get("except"))):
        p = f"{path}.except[{i}]"
        if s(text) not in existing:
            errs.extend(is_valid_cidr(p, s(text)))
        except_net = parse_cidr(s(text))
        if except_net is None:
            continue
        if except_net.network_address not in network or network.prefixlen >= except_net.prefixlen:
            errs.append(E.invalid_value(p, text, "must be a strict subset of `cidr`"))
    return errs


def _np_peer(peer: Obj, path: str, existing: set[str]) -> Errs:
    errs: Errs = []
    count = 0
    for key in ("podSelector", "namespaceSelector"):
        if peer.get(key) is not None:
            count += 1
            errs.extend(meta.validate_label_selector(peer[key], f"{path}.{key}"))
    if peer.get("ipBlock") is not None:
        count += 1
        errs.extend(_ip_block(d(peer["ipBlock"]), f"{path}.ipBlock", existing))
    if count == 0:
        errs.append(E.required(path, "must specify a peer"))
    elif count > 1 and peer.get("ipBlock") is not None:
        errs.append(E.forbidden_field(path, "may not specify both ipBlock and another peer"))
    return errs


def _existing_cidrs(old: Obj | None) -> set[str]:
    out: set[str] = set()
    if old is None:
        return out
    spec = d(old.get("spec"))
    for rules, peers in (("ingress", "from"), ("egress", "to")):
        for rule in lst(spec.get(rules)):
            for peer in lst(d(rule).get(peers)):
                block = d(peer).get("ipBlock")
                if isinstance(block, dict):
                    out.add(s(block.get("cidr")))
                    out.update(s(c) for c in lst(block.get("except")))
    return out


def _network_policy(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
    spec = d(obj.get("spec"))
    if old is None:
        errs = meta.validate_object_meta(obj.get("metadata"), True, meta.name_is_dns_subdomain)
    else:
        errs = meta.validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
    existing = _existing_cidrs(old)
    errs.extend(meta.validate_label_selector(d(spec.get("podSelector")), "spec.podSelector"))
    for rules, peers in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(lst(spec.get(rules))):
            rule = d(rule)
            rp = f"spec.{rules}[{i}]"
            for j, port in enumerate(lst(rule.get("ports"))):
                errs.extend(_np_port(d(port), f"{rp}.ports[{j}]"))
            for j, peer in enumerate(lst(rule.get(peers))):
                errs.extend(_np_peer(d(peer), f"{rp}.{peers}[{j}]", existing))
    types = lst(spec.get("policyTypes"))
    if len(types) > 2:
        errs.append(E.invalid_value("spec.policyTypes", types, "may not specify more than two policyTypes"))
        return errs
    for i, kind in enumerate(types):
        if kind not in ("Ingress", "Egress"):
            errs.append(E.not_supported(f"spec.policyTypes[{i}]", kind, ["Ingress", "Egress"]))
    return errs


# --- Ingress --------------------------------------------------------------------------------------

_PATH_TYPES = ["Exact", "ImplementationSpecific", "Prefix"]
_INVALID_SEQUENCES = ["//", "/./", "/../", "%2f", "%2F"]
_INVALID_SUFFIXES = ["/..", "/."]


def _typed_local_ref(ref: Obj, path: str, *, scoped: bool) -> Errs:
    errs: Errs = []
    group = ref.get("apiGroup")
    if group is not None:
        errs.extend(
            E.invalid_value(f"{path}.apiGroup", group, m) for m in meta.is_dns1123_subdomain(s(group))
        )
    for key in ("kind", "name"):
        value = s(ref.get(key))
        if not value:
            errs.append(E.required(f"{path}.{key}"))
        else:
            errs.extend(
                E.invalid_value(f"{path}.{key}", value, m) for m in meta.is_valid_path_segment_name(value)
            )
    if not scoped:
        return errs
    scope = ref.get("scope")
    if scope is None:
        errs.append(E.required(f"{path}.scope"))
        return errs
    if scope not in ("Cluster", "Namespace"):
        errs.append(E.not_supported(f"{path}.scope", scope, ["Cluster", "Namespace"]))
    elif scope == "Namespace":
        namespace = ref.get("namespace")
        if namespace is None:
            errs.append(E.required(f"{path}.namespace", "`parameters.scope` is set to 'Namespace'"))
        else:
            errs.extend(
                E.invalid_value(f"{path}.namespace", namespace, m)
                for m in meta.name_is_dns_label(s(namespace), False)
            )
    elif ref.get("namespace") is not None:
        errs.append(E.forbidden_field(f"{path}.namespace", "`parameters.scope` is set to 'Cluster'"))
    return errs


def _backend(backend: Obj, path: str) -> Errs:
    resource, service = backend.get("resource"), backend.get("service")
    if resource is not None and service is not None:
        return [E.invalid_value(path, "", "cannot set both resource and service backends")]
    if resource is not None:
        return _typed_local_ref(d(resource), f"{path}.resource", scoped=False)
    if service is None:
        return [E.invalid_value(path, "", "resource or service backend is required")]
    service = d(service)
    errs: Errs = []
    name = s(service.get("name"))
    if not name:
        errs.append(E.required(f"{path}.service.name"))
    else:
        errs.extend(
            E.invalid_value(f"{path}.service.name", name, m) for m in meta.name_is_dns1035_label(name, False)
        )
    port = d(service.get("port"))
    port_name, port_number = s(port.get("name")), num(port.get("number"))
    if port_name and port_number:
        errs.append(E.invalid_value(path, "", "cannot set both port name & port number"))
    elif port_name:
        errs.extend(
            E.invalid_value(f"{path}.service.port.name", port_name, m)
            for m in meta.is_valid_port_name(port_name)
        )
    elif port_number:
        errs.extend(
            E.invalid_value(f"{path}.service.port.number", port_number, m)
            for m in meta.is_valid_port_num(port_number)
        )
    else:
        errs.append(E.required(path, "port name or number is required"))
    return errs


def _http_path(item: Obj, path: str) -> Errs:
    kind = item.get("pathType")
    if kind is None:
        return [E.required(f"{path}.pathType", "pathType must be specified")]
    errs: Errs = []
    value = s(item.get("path"))
    if kind in ("Exact", "Prefix"):
        if not value.startswith("/"):
            errs.append(E.invalid_value(f"{path}.path", value, "must be an absolute path"))
        if value:
            errs.extend(
                E.invalid_value(f"{path}.path", value, f"must not contain '{seq}'")
                for seq in _INVALID_SEQUENCES
                if seq in value
            )
            errs.extend(
                E.invalid_value(f"{path}.path", value, f"cannot end with '{suf}'")
                for suf in _INVALID_SUFFIXES
                if value.endswith(suf)
            )
    elif kind == "ImplementationSpecific":
        if value and not value.startswith("/"):
            errs.append(E.invalid_value(f"{path}.path", value, "must be an absolute path"))
    else:
        errs.append(E.not_supported(f"{path}.pathType", kind, _PATH_TYPES))
    errs.extend(_backend(d(item.get("backend")), f"{path}.backend"))
    return errs


def _rule_value(rule: Obj, path: str) -> Errs:
    http = rule.get("http")
    if http is None:
        return []
    paths = lst(d(http).get("paths"))
    errs: Errs = [] if paths else [E.required(f"{path}.http.paths")]
    for i, item in enumerate(paths):
        errs.extend(_http_path(d(item), f"{path}.http.paths[{i}]"))
    return errs


def _host(host: str, path: str) -> tuple[Errs, bool]:
    errs: Errs = []
    if parse_ip(host) is not None:
        errs.append(E.invalid_value(path, host, "must be a DNS name, not an IP address"))
    if "*" in host:
        errs.extend(E.invalid_value(path, host, m) for m in meta.is_wildcard_dns1123_subdomain(host))
        return errs, True
    errs.extend(E.invalid_value(path, host, m) for m in meta.is_dns1123_subdomain(host))
    return errs, False


def _invalid_secret_names(old: Obj | None) -> bool:
    for tls in lst(d(d(old).get("spec")).get("tls")) if old else []:
        name = s(d(tls).get("secretName"))
        if name and meta.is_dns1123_subdomain(name):
            return True
    return False


def _ingress(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
    spec = d(obj.get("spec"))
    if old is None:
        errs = meta.validate_object_meta(obj.get("metadata"), True, meta.name_is_dns_subdomain)
    else:
        errs = meta.validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
        errs.extend(meta.validate_object_meta(obj.get("metadata"), True, meta.name_is_dns_subdomain))
    rules = lst(spec.get("rules"))
    allow_invalid_wildcard = old is not None and any(
        "*" in s(d(r).get("host")) and _rule_value(d(r), "") for r in lst(d(old.get("spec")).get("rules"))
    )
    if not rules and spec.get("defaultBackend") is None:
        errs.append(E.invalid_value("spec", rules, "either `defaultBackend` or `rules` must be specified"))
    if spec.get("defaultBackend") is not None:
        errs.extend(_backend(d(spec["defaultBackend"]), "spec.defaultBackend"))
    for i, rule in enumerate(rules):
        rule = d(rule)
        wildcard = False
        host = s(rule.get("host"))
        if host:
            host_errs, wildcard = _host(host, f"spec.rules[{i}].host")
            errs.extend(host_errs)
        if not wildcard or not allow_invalid_wildcard:
            errs.extend(_rule_value(rule, f"spec.rules[{i}]"))
    allow_invalid_secret = _invalid_secret_names(old)
    for i, tls in enumerate(lst(spec.get("tls"))):
        tls = d(tls)
        for j, host in enumerate(lst(tls.get("hosts"))):
            p = f"spec.tls[{i}].hosts[{j}]"
            checks = meta.is_wildcard_dns1123_subdomain if "*" in s(host) else meta.is_dns1123_subdomain
            errs.extend(E.invalid_value(p, host, m) for m in checks(s(host)))
        secret = s(tls.get("secretName"))
        if secret and not allow_invalid_secret:
            errs.extend(
                E.invalid_value(f"spec.tls[{i}].secretName", secret, m)
                for m in meta.is_dns1123_subdomain(secret)
            )
    class_name = spec.get("ingressClassName")
    if class_name is not None:
        errs.extend(
            E.invalid_value("spec.ingressClassName", class_name, m)
            for m in meta.is_dns1123_subdomain(s(class_name))
        )
    if old is None:
        annotation = d(d(obj.get("metadata")).get("annotations")).get("kubernetes.io/ingress.class")
        if annotation is not None and class_name is not None and annotation != class_name:
            errs.append(
                E.invalid_value(
                    "annotations.kubernetes.io/ingress.class",
                    annotation,
                    "must match `ingressClassName` when both are specified",
                )
            )
    return errs


def _ingress_class(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
    spec = d(obj.get("spec"))
    errs: Errs = []
    if old is not None:
        errs.extend(meta.validate_object_meta_update(obj.get("metadata"), old.get("metadata")))
        immutable(s(spec.get("controller")), s(d(old.get("spec")).get("controller")), "spec.controller", errs)
    errs.extend(meta.validate_object_meta(obj.get("metadata"), False, meta.name_is_dns_subdomain))
    controller = s(spec.get("controller"))
    if not controller:
        errs.append(E.required("spec.controller"))
    else:
        if len(controller) > 250:
            errs.append(E.too_long("spec.controller", 250))
        host, sep, rest = controller.partition("/")
        if not sep or not host or not rest:
            errs.append(
                E.invalid_value(
                    "spec.controller", controller, 'must be a domain-prefixed path (such as "acme.io/foo")'
                )
            )
        else:
            errs.extend(E.invalid_value("spec.controller", host, m) for m in meta.is_dns1123_subdomain(host))
    params = spec.get("parameters")
    if params is not None:
        errs.extend(_typed_local_ref(d(params), "spec.parameters", scoped=True))
    return errs


VALIDATORS: dict[str, Validator] = {
    "NetworkPolicy": _network_policy,
    "Ingress": _ingress,
    "IngressClass": _ingress_class,
}
