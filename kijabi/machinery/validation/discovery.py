"""The discovery.k8s.io group: EndpointSlice (upstream kubernetes `pkg/apis/discovery/validation`)."""

from __future__ import annotations

import ipaddress

from kijabi.machinery import errors as E

from . import meta
from ._util import Ctx, Errs, Obj, Validator, d, immutable, lst, parse_ip, s, validate_non_special_ip

_ADDRESS_TYPES = ["FQDN", "IPv4", "IPv6"]
_PROTOCOLS = ["SCTP", "TCP", "UDP"]


def _fqdn(value: str, path: str) -> Errs:
    if not value:
        return [E.required(path)]
    name = value.removesuffix(".")
    msgs = meta.is_dns1123_subdomain(name)
    if msgs:
        return [E.invalid_value(path, name, ",".join(msgs))]
    if len(name.split(".")) < 2:
        return [
            E.invalid_value(path, name, "should be a domain with at least two segments separated by dots")
        ]
    for label in name.split("."):
        msgs = meta.is_dns1123_label(label)
        if msgs:
            return [E.invalid_value(path, label, ",".join(msgs))]
    return []


def _endpoint_slice(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
    errs = meta.validate_object_meta(obj.get("metadata"), True, meta.name_is_dns_subdomain)
    address_type = s(obj.get("addressType"))
    allowed = _ADDRESS_TYPES if old is None else sorted([*_ADDRESS_TYPES, "IP"])
    if not address_type:
        errs.append(E.required("addressType"))
    elif address_type not in allowed:
        errs.append(E.not_supported("addressType", address_type, allowed))
    endpoints = lst(obj.get("endpoints"))
    if len(endpoints) > 1000:
        errs.append(E.too_many("endpoints", len(endpoints), 1000))
        endpoints = []
    for i, endpoint in enumerate(endpoints):
        endpoint = d(endpoint)
        p = f"endpoints[{i}]"
        addresses = lst(endpoint.get("addresses"))
        if not addresses:
            errs.append(E.required(f"{p}.addresses", "must contain at least 1 address"))
        elif len(addresses) > 100:
            errs.append(E.too_many(f"{p}.addresses", len(addresses), 100))
        for j, address in enumerate(addresses):
            ap = f"{p}.addresses[{j}]"
            text = s(address)
            if address_type == "IPv4":
                if not isinstance(parse_ip(text), ipaddress.IPv4Address):
                    errs.append(E.invalid_value(ap, text, "must be a valid IPv4 address"))
                errs.extend(validate_non_special_ip(text, ap))
            elif address_type == "IPv6":
                ip = parse_ip(text)
                if not isinstance(ip, ipaddress.IPv6Address) or ip.ipv4_mapped is not None:
                    errs.append(E.invalid_value(ap, text, "must be a valid IPv6 address"))
                errs.extend(validate_non_special_ip(text, ap))
            elif address_type == "FQDN":
                errs.extend(_fqdn(text, ap))
            elif address_type == "IP" and parse_ip(text) is None:
                errs.append(
                    E.invalid_value(ap, text, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")
                )
        topology = d(endpoint.get("deprecatedTopology"))
        if len(topology) > 16:
            errs.append(E.too_many(f"{p}.topology", len(topology), 16))
        errs.extend(meta.validate_labels(topology, f"{p}.topology"))
        hostname = endpoint.get("hostname")
        if hostname is not None:
            errs.extend(
                E.invalid_value(f"{p}.hostname", hostname, m) for m in meta.is_dns1123_label(s(hostname))
            )
    ports = lst(obj.get("ports"))
    if len(ports) > 100:
        errs.append(E.too_many("ports", len(ports), 100))
        ports = []
    names: set[str] = set()
    for i, port in enumerate(ports):
        port = d(port)
        p = f"ports[{i}]"
        name = s(port.get("name"))
        if name:
            errs.extend(E.invalid_value(f"{p}.name", name, m) for m in meta.is_dns1123_label(name))
        if name in names:
            errs.append(E.duplicate(f"{p}.name", name))
        names.add(name)
        protocol = port.get("protocol")
        if protocol is None:
            errs.append(E.required(f"{p}.protocol"))
        elif protocol not in _PROTOCOLS:
            errs.append(E.not_supported(f"{p}.protocol", protocol, _PROTOCOLS))
        app_protocol = port.get("appProtocol")
        if app_protocol is not None:
            errs.extend(
                E.invalid_value(f"{p}.appProtocol", app_protocol, m)
                for m in meta.is_qualified_name(s(app_protocol))
            )
    if old is not None:
        immutable(address_type, s(old.get("addressType")), "addressType", errs)
    return errs


VALIDATORS: dict[str, Validator] = {"EndpointSlice": _endpoint_slice}
