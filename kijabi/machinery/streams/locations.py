"""Where streaming and proxy requests go, and what their options mean (upstream pkg/registry/core/pod,
pkg/registry/core/node, apimachinery's GenericHttpResponseChecker). Pure: the API server does the I/O.

- `validate_container`: the container a pods/log|exec|attach request means, with upstream's messages.
- `log_params`: PodLogOptions from a query, validated (422 PodLogOptions) and re-encoded for the kubelet.
- `kubelet_endpoint`: a Node's kubelet address (preferred address types) and port.
- `backend_error`: a kubelet's non-2xx answer as the Status upstream returns for it.
- `split_scheme_name_port`, `global_unicast`: proxy subresource names and allowed pod addresses.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
from collections.abc import Callable, Sequence
from typing import Any

from kijabi.machinery import errors

DEFAULT_KUBELET_PORT = 10250
# k3s's --kubelet-preferred-address-types (upstream's default puts Hostname first).
PREFERRED_ADDRESS_TYPES = ("InternalIP", "ExternalIP", "Hostname", "InternalDNS", "ExternalDNS")
MAX_ERROR_BODY = 1 << 20

_GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_GO_FALSE = ("0", "f", "F", "FALSE", "false", "False")

Query = Callable[[str], str | None]


def go_bool(value: str | None) -> bool:
    """A boolean query parameter as Go's strconv.ParseBool reads it (absent or empty: false)."""
    if value is None or value == "":
        return False
    if value in _GO_TRUE:
        return True
    if value in _GO_FALSE:
        return False
    raise errors.bad_request(f'strconv.ParseBool: parsing "{value}": invalid syntax')


def go_int(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise errors.bad_request(f'strconv.ParseInt: parsing "{value}": invalid syntax') from None


def container_names(pod: dict[str, Any]) -> list[str]:
    """Every container of a pod in upstream's VisitContainers order: init, regular, ephemeral."""
    spec = pod.get("spec") or {}
    return [str(c.get("name", "")) for key in ("initContainers", "containers", "ephemeralContainers")
            for c in spec.get(key) or []]


def validate_container(pod: dict[str, Any], container: str) -> str:
    """The container a request means: the named one (which must exist), else the pod's only container."""
    name = pod["metadata"]["name"]
    if not container:
        regular = (pod.get("spec") or {}).get("containers") or []
        if len(regular) == 1:
            return str(regular[0].get("name", ""))
        if not regular:
            raise errors.bad_request(f"a container name must be specified for pod {name}")
        raise errors.bad_request(
            f"a container name must be specified for pod {name}, choose one of: [{' '.join(container_names(pod))}]")
    if container not in container_names(pod):
        raise errors.bad_request(f"container {container} is not valid for pod {name}")
    return container


def _parse_rfc3339(text: str) -> None:
    try:
        dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise errors.bad_request(f'parsing time "{text}" as "2006-01-02T15:04:05Z07:00": cannot parse') from None


def log_params(get: Query, name: str) -> list[tuple[str, str]]:
    """PodLogOptions of a pods/log request, validated as upstream does (422 on PodLogOptions), as the
    query the kubelet's /containerLogs gets (upstream LogLocation: flags as "true", numbers as given)."""
    params: list[tuple[str, str]] = []
    for flag in ("follow", "previous", "timestamps"):
        if go_bool(get(flag)):
            params.append((flag, "true"))
    since_seconds = go_int(get("sinceSeconds"), "sinceSeconds")
    tail = go_int(get("tailLines"), "tailLines")
    limit = go_int(get("limitBytes"), "limitBytes")
    since_time = get("sinceTime") or None
    if since_time is not None:
        _parse_rfc3339(since_time)
    problems: list[errors.FieldError] = []
    if tail is not None and tail < 0:
        problems.append(errors.invalid_value("tailLines", tail, "must be greater than or equal to 0"))
    if limit is not None and limit < 1:
        problems.append(errors.invalid_value("limitBytes", limit, "must be greater than 0"))
    if since_seconds is not None and since_time is not None:
        problems.append(errors.forbidden_field("", "at most one of `sinceTime` or `sinceSeconds` may be specified"))
    elif since_seconds is not None and since_seconds < 1:
        problems.append(errors.invalid_value("sinceSeconds", since_seconds, "must be greater than 0"))
    if problems:
        raise errors.invalid("PodLogOptions", "", name, problems)
    for key, value in (("sinceSeconds", since_seconds), ("sinceTime", since_time), ("tailLines", tail),
                       ("limitBytes", limit)):
        if value is not None:
            params.append((key, str(value)))
    return params


def kubelet_endpoint(node: dict[str, Any], preferred: Sequence[str] = PREFERRED_ADDRESS_TYPES) -> tuple[str, int]:
    """The kubelet's host (first address of the first preferred type) and port of a Node."""
    status = node.get("status") or {}
    addresses = status.get("addresses") or []
    for kind in preferred:
        for a in addresses:
            if a.get("type") == kind and a.get("address"):
                port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
                return str(a["address"]), int(port or DEFAULT_KUBELET_PORT)
    known = " ".join(f"{{{a.get('type', '')} {a.get('address', '')}}}" for a in addresses)
    raise errors.internal(f"no preferred addresses found; known addresses: [{known}]")


_GENERIC = {
    404: ("NotFound", "the server could not find the requested resource"),
    401: ("Unauthorized", "the server has asked for the client to provide credentials"),
    405: ("MethodNotAllowed", "the server does not allow this method on the requested resource"),
    409: ("Conflict", "the server reported a conflict"),
    422: ("Invalid", "the server rejected our request due to an error in our request"),
    429: ("TooManyRequests", "the server has received too many requests and has asked us to try again later"),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
    504: ("Timeout", "the server was unable to return a response in the time allotted, but may still be processing the request"),
}


def backend_error(code: int, body: bytes, resource: str, name: str) -> errors.StatusError:
    """A backend's non-2xx answer as upstream's GenericHttpResponseChecker turns it into a Status:
    500 -> InternalError and 400 -> BadRequest with the body as message; any other code the generic
    message of that code followed by `( <resource> <name>)`."""
    text = body[:MAX_ERROR_BODY].decode("utf-8", "replace")
    if code == 500:
        return errors.internal(text)
    if code == 400:
        return errors.bad_request(text)
    if code == 403:
        reason, message = "Forbidden", text
    elif code in _GENERIC:
        reason, message = _GENERIC[code]
    elif code >= 500:
        reason = "InternalError"
        message = f"an error on the server ({json.dumps(text)}) has prevented the request from succeeding"
    else:
        reason = "Unknown"
        message = f"the server responded with the status code {code} but did not return more information"
    return errors.StatusError(code, reason, f"{message} ( {resource} {name})", details={"name": name, "kind": resource})


def split_scheme_name_port(text: str) -> tuple[str, str, str]:
    """`name`, `name:port` or `scheme:name:port` (upstream SplitSchemeNamePort); scheme "" if absent."""
    parts = text.split(":")
    if len(parts) == 1:
        scheme, name, port = "", parts[0], ""
    elif len(parts) == 2:
        scheme, name, port = "", parts[0], parts[1]
    elif len(parts) == 3 and parts[0] in ("http", "https"):
        scheme, name, port = parts
    else:
        raise errors.bad_request(f"invalid request {text!r}")
    if not name:
        raise errors.bad_request(f"invalid request {text!r}")
    return scheme, name, port


def global_unicast(ip: str) -> bool:
    """Go's IP.IsGlobalUnicast: any address but loopback, link-local, multicast, unspecified, broadcast."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    broadcast = addr.version == 4 and int(addr) == 0xFFFFFFFF
    return not (addr.is_loopback or addr.is_link_local or addr.is_multicast or addr.is_unspecified or broadcast)


def pod_ip(pod: dict[str, Any]) -> str:
    status = pod.get("status") or {}
    ips = status.get("podIPs") or []
    return str((ips[0].get("ip") if ips else "") or status.get("podIP") or "")


def first_container_port(pod: dict[str, Any]) -> str:
    for c in (pod.get("spec") or {}).get("containers") or []:
        if c.get("ports"):
            return str(c["ports"][0].get("containerPort", ""))
    return ""
