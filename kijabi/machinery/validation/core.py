"""The core ("") API group: one validator per kind (pods and volumes live in their own modules).

Upstream: kubernetes `pkg/apis/core/validation/{validation,events}.go`.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from kijabi.machinery import errors as E

from . import (
    core_container,
    core_pod,
    core_resources,
    core_scheduling,
    core_service,
    core_storage,
    meta,
)
from ._util import (
    Ctx,
    Errs,
    Obj,
    Validator,
    d,
    immutable,
    is_valid_cidr,
    is_valid_ip,
    lst,
    num,
    parse_cidr,
    quantity,
    s,
    sem_equal,
    validate_non_special_ip,
)

# --- helpers --------------------------------------------------------------------------------------


def _meta(obj: Obj, old: Obj | None, namespaced: bool, name_fn: meta.NameFn) -> Errs:
    """Create: ObjectMeta with the type's name rule. Update: the ObjectMeta update rules."""
    md = d(obj.get("metadata"))
    if old is None:
        return meta.validate_object_meta(md, namespaced, name_fn)
    return meta.validate_object_meta_update(md, d(old.get("metadata")))


def _pod(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
    return core_pod.validate_pod_create(obj) if old is None else core_pod.validate_pod_update(obj, old)


def _pod_template(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
    return core_pod.validate_pod_template(obj, old)


def _replication_controller(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
    return core_pod.validate_replication_controller(obj, old)


# --- ConfigMap and Secret -------------------------------------------------------------------------

MAX_DATA_SIZE = 1024 * 1024


def _b64_len(value: Any) -> int:
    text = s(value)
    try:
        return len(base64.b64decode(text, validate=False))
    except (binascii.Error, ValueError):
        return len(text) * 3 // 4


def _config_map(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
    errs = _meta(obj, old, True, meta.name_is_dns_subdomain)
    if old is not None:
        if old.get("immutable") is True:
            if obj.get("immutable") is not True:
                errs.append(E.forbidden_field("immutable", "field is immutable when `immutable` is set"))
            if not sem_equal(obj.get("data"), old.get("data")):
                errs.append(E.forbidden_field("data", "field is immutable when `immutable` is set"))
            if not sem_equal(obj.get("binaryData"), old.get("binaryData")):
                errs.append(E.forbidden_field("binaryData", "field is immutable when `immutable` is set"))
        errs.extend(meta.validate_object_meta(obj.get("metadata"), True, meta.name_is_dns_subdomain))
    data, binary = d(obj.get("data")), d(obj.get("binaryData"))
    total = 0
    for key, value in data.items():
        errs.extend(E.invalid_value(f"data[{key}]", key, m) for m in meta.is_config_map_key(key))
        if key in binary:
            errs.append(E.invalid_value(f"data[{key}]", key, "duplicate of key present in binaryData"))
        text = s(value)
        total += len(text) if text.isascii() else len(text.encode())
    for key, value in binary.items():
        errs.extend(E.invalid_value(f"binaryData[{key}]", key, m) for m in meta.is_config_map_key(key))
        total += _b64_len(value)
    if total > MAX_DATA_SIZE:
        errs.append(E.too_long("", MAX_DATA_SIZE))
    return errs


def _go_json_error(raw: bytes) -> str:
    """An approximation of Go's json.Unmarshal error into map[string]interface{}."""
    if not raw.strip():
        return "unexpected end of JSON input"
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        pos = getattr(exc, "pos", 0) or 0
        ch = raw[pos : pos + 1].decode("latin-1") or " "
        return f"invalid character '{ch}' looking for beginning of value"
    if not isinstance(value, dict):
        kinds = {
            list: "array",
            str: "string",
            bool: "bool",
            int: "number",
            float: "number",
            type(None): "null",
        }
        return f"json: cannot unmarshal {kinds.get(type(value), 'value')} into Go value of type map[string]interface {{}}"
    return ""


def _secret_data(obj: Obj) -> dict[str, bytes | None]:
    """The secret's data as the API server sees it: `data` (base64) overlaid with `stringData`."""
    out: dict[str, bytes | None] = {}
    for key, value in d(obj.get("data")).items():
        try:
            out[key] = base64.b64decode(s(value), validate=False)
        except (binascii.Error, ValueError):
            out[key] = None
    for key, value in d(obj.get("stringData")).items():
        out[key] = s(value).encode()
    return out


def _secret(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
    errs = _meta(obj, old, True, meta.name_is_dns_subdomain)
    if old is not None:
        immutable(s(obj.get("type")), s(old.get("type")), "type", errs)
        if old.get("immutable") is True:
            if obj.get("immutable") is not True:
                errs.append(E.forbidden_field("immutable", "field is immutable when `immutable` is set"))
            if _secret_data(obj) != _secret_data(old):
                errs.append(E.forbidden_field("data", "field is immutable when `immutable` is set"))
        errs.extend(meta.validate_object_meta(obj.get("metadata"), True, meta.name_is_dns_subdomain))
    data = _secret_data(obj)
    total = 0
    for key, value in data.items():
        errs.extend(E.invalid_value(f"data[{key}]", key, m) for m in meta.is_config_map_key(key))
        total += len(value or b"")
    if total > MAX_DATA_SIZE:
        errs.append(E.too_long("data", MAX_DATA_SIZE))
    kind = s(obj.get("type"))
    if kind == "kubernetes.io/service-account-token":
        if not s(d(d(obj.get("metadata")).get("annotations")).get("kubernetes.io/service-account.name")):
            errs.append(E.required("metadata.annotations[kubernetes.io/service-account.name]"))
    elif kind in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
        key = ".dockercfg" if kind == "kubernetes.io/dockercfg" else ".dockerconfigjson"
        if key not in data:
            errs.append(E.required(f"data[{key}]"))
        else:
            problem = _go_json_error(data[key] or b"")
            if problem:
                errs.append(E.invalid_value(f"data[{key}]", "<secret contents redacted>", problem))
    elif kind == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            errs.append(E.required("data[username]"))
            errs.append(E.required("data[password]"))
    elif kind == "kubernetes.io/ssh-auth":
        if not data.get("ssh-privatekey"):
            errs.append(E.required("data[ssh-privatekey]"))
    elif kind == "kubernetes.io/tls":
        for key in ("tls.crt", "tls.key"):
            if key not in data:
                errs.append(E.required(f"data[{key}]"))
    return errs


# --- Namespace, ServiceAccount, Node --------------------------------------------------------------


def _namespace(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
    if old is not None:
        return meta.validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
    errs = meta.validate_object_meta(obj.get("metadata"), False, meta.name_is_dns_label)
    for f in lst(d(obj.get("spec")).get("finalizers")):
        name = s(f)
        errs.extend(E.invalid_value("spec.finalizers", name, m) for m in meta.is_qualified_name(name))
        if "/" not in name and name not in ("kubernetes", "orphan", "foregroundDeletion"):
            errs.append(
                E.invalid_value(
                    "spec.finalizers",
                    name,
                    "name is neither a standard finalizer name nor is it fully qualified",
                )
            )
    return errs


def _service_account(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
    errs = [] if old is None else meta.validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
    errs.extend(meta.validate_object_meta(obj.get("metadata"), True, meta.name_is_dns_subdomain))
    return errs


def _node_resources(obj: Obj) -> Errs:
    errs: Errs = []
    status = d(obj.get("status"))
    for section in ("capacity", "allocatable"):
        for name, raw in d(status.get(section)).items():
            p = f"status.{section}.{name}"
            q = quantity(raw, p, errs)
            if q is not None:
                errs.extend(core_resources.validate_resource_quantity_value(name, q, p))
    return errs


def _node(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
    spec = d(obj.get("spec"))
    taints = lst(spec.get("taints"))
    if old is None:
        errs = meta.validate_object_meta(obj.get("metadata"), False, meta.name_is_dns_subdomain)
        if taints:
            errs.extend(core_scheduling.validate_node_taints(taints, "metadata.taints"))
        errs.extend(_node_resources(obj))
        cidrs = lst(spec.get("podCIDRs"))
        for i, cidr in enumerate(cidrs):
            errs.extend(is_valid_cidr(f"spec.podCIDRs[{i}]", s(cidr)))
        if len(cidrs) > 1:
            parsed = [parse_cidr(s(c)) for c in cidrs]
            versions = {n.version for n in parsed if n is not None}
            if versions != {4, 6} or len(cidrs) > 2:
                errs.append(
                    E.invalid_value(
                        "spec.podCIDRs", cidrs, "may specify no more than one CIDR for each IP family"
                    )
                )
            seen: set[str] = set()
            for i, cidr in enumerate(cidrs):
                if cidr in seen:
                    errs.append(E.duplicate(f"spec.podCIDRs[{i}]", cidr))
                seen.add(s(cidr))
        return errs
    old_spec = d(old.get("spec"))
    errs = meta.validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
    errs.extend(_node_resources(obj))
    seen_addresses: list[Any] = []
    for i, address in enumerate(lst(d(obj.get("status")).get("addresses"))):
        if address in seen_addresses:
            errs.append(E.duplicate(f"status.addresses[{i}]", address))
        seen_addresses.append(address)
    old_cidrs, cidrs = lst(old_spec.get("podCIDRs")), lst(spec.get("podCIDRs"))
    if old_cidrs:
        message = 'node updates may not change podCIDR except from "" to valid'
        if len(old_cidrs) != len(cidrs):
            errs.append(E.forbidden_field("spec.podCIDRs", message))
        else:
            errs.extend(
                E.forbidden_field("spec.podCIDRs", message)
                for a, b in zip(old_cidrs, cidrs, strict=True)
                if a != b
            )
    old_provider = s(old_spec.get("providerID"))
    if old_provider and old_provider != s(spec.get("providerID")):
        errs.append(
            E.forbidden_field(
                "spec.providerID", 'node updates may not change providerID except from "" to valid'
            )
        )
    if taints:
        errs.extend(core_scheduling.validate_node_taints(taints, "metadata.taints"))
    if s(spec.get("externalID")) != s(old_spec.get("externalID")):
        errs.append(E.forbidden_field("spec.externalID", "may not be updated"))
    return errs


# --- Endpoints ------------------------------------------------------------------------------------


def _endpoint_address(address: Obj, path: str) -> Errs:
    ip = s(address.get("ip"))
    errs = is_valid_ip(f"{path}.ip", ip)
    hostname = s(address.get("hostname"))
    if hostname:
        errs.extend(E.invalid_value(f"{path}.hostname", hostname, m) for m in meta.is_dns1123_label(hostname))
    node_name = address.get("nodeName")
    if node_name is not None:
        errs.extend(
            E.invalid_value(f"{path}.nodeName", node_name, m)
            for m in meta.name_is_dns_subdomain(s(node_name), False)
        )
    errs.extend(validate_non_special_ip(ip, f"{path}.ip"))
    return errs


def _endpoints(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
    errs = [] if old is None else meta.validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
    errs.extend(meta.validate_object_meta(obj.get("metadata"), True, meta.name_is_dns_subdomain))
    for i, subset in enumerate(lst(obj.get("subsets"))):
        subset = d(subset)
        p = f"subsets[{i}]"
        addresses, not_ready = lst(subset.get("addresses")), lst(subset.get("notReadyAddresses"))
        if not addresses and not not_ready:
            errs.append(E.required(p, "must specify `addresses` or `notReadyAddresses`"))
        for j, address in enumerate(addresses):
            errs.extend(_endpoint_address(d(address), f"{p}.addresses[{j}]"))
        for j, address in enumerate(not_ready):
            errs.extend(_endpoint_address(d(address), f"{p}.notReadyAddresses[{j}]"))
        ports = lst(subset.get("ports"))
        for j, port in enumerate(ports):
            port = d(port)
            pp = f"{p}.ports[{j}]"
            name = s(port.get("name"))
            if len(ports) > 1 and not name:
                errs.append(E.required(f"{pp}.name"))
            elif name:
                errs.extend(E.invalid_value(f"{pp}.name", name, m) for m in meta.is_dns1123_label(name))
            number = num(port.get("port"))
            errs.extend(E.invalid_value(f"{pp}.port", number, m) for m in meta.is_valid_port_num(number))
            protocol = s(port.get("protocol"))
            if not protocol:
                errs.append(E.required(f"{pp}.protocol"))
            elif protocol not in core_container.PROTOCOLS:
                errs.append(E.not_supported(f"{pp}.protocol", protocol, core_container.PROTOCOLS))
            app_protocol = port.get("appProtocol")
            if app_protocol is not None:
                errs.extend(
                    E.invalid_value(f"{pp}.appProtocol", app_protocol, m)
                    for m in meta.is_qualified_name(s(app_protocol))
                )
    return errs


# --- Event ----------------------------------------------------------------------------------------


def legacy_event_rules(event: Obj, *, reporting_field: str, names: dict[str, str]) -> Errs:
    """The rules every Event write gets (upstream legacyValidateEvent). `names` maps the internal field
    names (involvedObject, message, reportingController) to the request version's JSON names."""
    errs: Errs = []
    md = d(event.get("metadata"))
    namespace = s(md.get("namespace"))
    involved = d(event.get(names["involvedObject"]))
    involved_ns = s(involved.get("namespace"))
    if not event.get("eventTime"):
        if not involved_ns:
            if namespace not in ("", "default"):
                errs.append(
                    E.invalid_value("involvedObject.namespace", involved_ns, "does not match event.namespace")
                )
        elif namespace != involved_ns:
            errs.append(
                E.invalid_value("involvedObject.namespace", involved_ns, "does not match event.namespace")
            )
    else:
        if not involved_ns and namespace not in ("default", "kube-system"):
            errs.append(
                E.invalid_value("involvedObject.namespace", involved_ns, "does not match event.namespace")
            )
        controller = s(event.get(names["reportingController"]))
        if not controller:
            errs.append(E.required(reporting_field))
        errs.extend(
            E.invalid_value(reporting_field, controller, m) for m in meta.is_qualified_name(controller)
        )
        for field, limit in (("reportingInstance", 128), ("action", 128), ("reason", 128)):
            value = s(event.get(field))
            if not value:
                errs.append(E.required(field))
            if len(value) > limit:
                errs.append(E.invalid_value(field, "", f"can have at most {limit} characters"))
        if len(s(event.get(names["message"]))) > 1024:
            errs.append(E.invalid_value("message", "", "can have at most 1024 characters"))
    errs.extend(E.invalid_value("namespace", namespace, m) for m in meta.is_dns1123_subdomain(namespace))
    return errs


_CORE_EVENT_NAMES = {
    "involvedObject": "involvedObject",
    "message": "message",
    "reportingController": "reportingComponent",
}


def _event(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
    # core/v1 Events only get the legacy rules; their name is checked by the generic path-segment rule.
    return legacy_event_rules(obj, reporting_field="reportingComponent", names=_CORE_EVENT_NAMES)


# --- LimitRange and ResourceQuota (names only, plus quota scopes immutability) --------------------


def _named(namespaced: bool) -> Validator:
    def check(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
        return _meta(obj, old, namespaced, meta.name_is_dns_subdomain)

    return check


VALIDATORS: dict[str, Validator] = {
    "Pod": _pod,
    "PodTemplate": _pod_template,
    "ReplicationController": _replication_controller,
    "Service": core_service.validate_service,
    "ConfigMap": _config_map,
    "Secret": _secret,
    "Namespace": _namespace,
    "ServiceAccount": _service_account,
    "Node": _node,
    "Endpoints": _endpoints,
    "Event": _event,
    "PersistentVolume": core_storage.validate_persistent_volume,
    "PersistentVolumeClaim": core_storage.validate_persistent_volume_claim,
    "LimitRange": _named(True),
    "ResourceQuota": _named(True),
}
